// State carried across continue-as-new must survive a release that adds fields: the next run starts
// from its own defaults and takes every field the earlier run carried (unknown ones kept, too).
import type { RotationStatus } from '../contract/api';

export function carriedStatus(carried: Partial<RotationStatus> | undefined, fresh: RotationStatus): RotationStatus {
  const out: Record<string, unknown> = { ...fresh };
  for (const [key, value] of Object.entries(carried ?? {})) if (value !== undefined && value !== null) out[key] = value;
  // Fields that may legitimately be null are taken as carried.
  for (const key of ['stage', 'newVersion', 'previousVersion', 'canaryPercent', 'waitingUntil', 'outcome'] as const) {
    if (carried && key in carried) out[key] = carried[key] ?? null;
  }
  return out as unknown as RotationStatus;
}
