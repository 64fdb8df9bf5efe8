// What a reference scan is told besides the Secret: the plan's scan.ignore. Only a plan that has it
// sends it, behind a patch marker, so the histories of rotations before it replay as they ran.
import { patched } from '@temporalio/workflow';
import type { Plan } from '../domain/plan';

export function scanSettings(plan: Plan): { ignore?: string[] } {
  const ignore = plan.scan?.ignore;
  return ignore?.length && patched('scan-ignore') ? { ignore } : {};
}
