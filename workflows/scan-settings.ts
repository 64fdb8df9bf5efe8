// What a reference scan is told besides the Secret: the plan's scan.ignore, when it has one.
import type { Plan } from '../domain/plan';

export function scanSettings(plan: Plan): { ignore?: string[] } {
  const ignore = plan.scan?.ignore;
  return ignore?.length ? { ignore } : {};
}
