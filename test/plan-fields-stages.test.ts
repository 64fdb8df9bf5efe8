// No stage field is accepted and ignored: the walk of test/helpers/plan-fields.ts over `stages[]`'s
// fields (the plan's own are walked in plan-fields.test.ts).
import { walkFields } from './helpers/plan-fields';

walkFields('every plan field acts: the stages', (field) => field.startsWith('stages[]'));
