// Change windows (stages[].windows): a stage's switch, each canary step and each batch start only inside
// an allowed window; outside one the rotation waits, its timer's summary naming when the next opens in
// the window's local time. Only starting a change is gated: a soak or watch runs on past a window's end,
// and a rollback never waits for one. Whether a window is open is answered by a local activity (the
// time zones' rules live in the worker's runtime, so the answer is recorded, not recomputed on replay).
// Rotations started before windows replay as they ran: every path here is behind one patch.
import { patched, proxyLocalActivities, sleep } from '@temporalio/workflow';
import type { RotorActivities } from '../contract/activities';
import type { Stage } from '../domain/plan';
import { windowsRefusal } from '../domain/planning';
import { RollbackRequired } from './forward-errors';
import { quick } from './options';
import type { Rotation } from './state';

const PATCH = 'change-windows';

const windows = proxyLocalActivities<Pick<RotorActivities, 'changeWindow'>>({
  startToCloseTimeout: '10s',
  retry: { ...quick.retry, maximumAttempts: 3 },
});

const gated = (stage: Stage) => !!stage.windows?.length && patched(PATCH);

/** PLANNING: a stage whose windows never open (within a year) is refused before anything changes. */
export async function planWindows(r: Rotation): Promise<void> {
  for (const stage of r.plan.stages) {
    if (!gated(stage)) continue;
    const state = await windows.changeWindow({ windows: stage.windows!, atMs: Date.now() });
    const refusal = windowsRefusal(stage.name, state);
    if (refusal) r.fail(refusal);
    r.record(`${stage.name}: change windows ${state.open ? 'open now' : 'closed now'}: ${state.why}`);
  }
}

/** Before `what` in `stage` starts (a switch, a canary step, a batch): waits until a window allows it. */
export async function awaitWindow(r: Rotation, stage: Stage, what: string): Promise<void> {
  if (!gated(stage)) return;
  for (let waited = false; ; waited = true) {
    const now = Date.now();
    const state = await windows.changeWindow({ windows: stage.windows!, atMs: now });
    if (state.open) {
      if (waited) r.record(`change window open for ${what} in ${stage.name}: ${state.why}`);
      return;
    }
    if (state.opensAt === null) throw new RollbackRequired(`no change window of ${stage.name} opens for ${what}: ${state.why}`, 'window');
    r.enter('DEPLOYING', stage.name, `waiting for a change window before ${what} in ${stage.namespace}: ${state.why}`);
    r.noteWaitEnds(state.opensAt - now);
    await sleep(state.opensAt - now, { summary: `change window for ${what} in ${stage.name}: ${state.why}` });
  }
}
