// What a reference scan is told besides the Secret: the plan's scan.ignore. Only a plan that has it
// sends it, behind a patch marker, so the histories of rotations before it replay as they ran.
import { deprecatePatch } from '@temporalio/workflow';
import type { Plan } from '../domain/plan';

export function scanSettings(plan: Plan): { ignore?: string[] } {
  const ignore = plan.scan?.ignore;
  if (!ignore?.length) return {};
  deprecatePatch('scan-ignore');
  return { ignore };
}
