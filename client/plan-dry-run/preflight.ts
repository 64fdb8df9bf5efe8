// PRE-FLIGHT CHECKS GO HERE (issue 27 item 1): the stages' `preflight` field is being added beside
// this command. When it lands, this returns one line per check of `stage` (an HTTP call's method and
// URL, a Job's image and command; never a `{{secret.<key>}}` value), and `rotor plan` prints them.
import type { Stage } from '../../domain/plan';

/** The pre-flight checks of `stage`, one line each, as `rotor plan` prints them; none until the field exists. */
export function preflightLines(stage: Stage): string[] {
  void stage;
  return [];
}
