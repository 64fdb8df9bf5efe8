// No plan field is accepted and ignored: the walk of test/helpers/plan-fields.ts over the plan's own
// fields (every stage field is walked in plan-fields-stages.test.ts), with the checks that every field
// of the schema has a case and that one plan traces the same twice.
import { walkFields } from './helpers/plan-fields';

walkFields("every plan field acts: the plan's own", (field) => !field.startsWith('stages[]'), true);
