// Change windows: whether a stage may start a change at an instant, and when it next may (the
// workflow asks through a local activity, so the answer, which depends on the runtime's time-zone
// rules, is recorded in its history). Pure; domain/windows.ts does the work.
import type { RotorActivities } from '../contract/activities';
import { windowState } from '../domain/windows';

export function windowActivities(): Pick<RotorActivities, 'changeWindow'> {
  return { changeWindow: async (input) => windowState(input.windows, input.atMs) };
}
