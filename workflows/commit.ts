// Telling the store the new version's outcome: current (and what rotor switched comes off its
// records), or failed.
import { isCancellation } from '@temporalio/workflow';
import { acts, describeError, quick } from './options';
import type { Rotation } from './state';
import type { SwitchRecord } from '../contract/activities';

/** `reverted`: on failure, what the rollback reverted, whose records of it come off the workloads. */
export function finalize(r: Rotation, outcome: 'committed' | 'failed', reverted: SwitchRecord[] = []): Promise<void> {
  const { plan, status } = r;
  const summary = outcome === 'committed' ? `make ${status.newVersion} current` : `mark ${status.newVersion} failed`;
  return acts.finalizeVersion.executeWithOptions({ ...quick, summary }, [
    {
      secret: plan.secret,
      version: status.newVersion!,
      previousVersion: status.previousVersion,
      store: plan.store,
      ...(plan.target ? { target: plan.target } : {}),
      namespaces: plan.stages.map((s) => s.namespace),
      outcome,
      ...(outcome === 'committed' ? { switched: status.switched } : reverted.length ? { switched: reverted } : {}),
      madeBy: r.rotationId,
    },
  ]);
}

/** The new version is proven everywhere: make it current; a commit that fails ends FAILED, saying what runs where. */
export async function commit(r: Rotation): Promise<void> {
  const { plan, status } = r;
  try {
    await finalize(r, 'committed');
  } catch (err) {
    if (isCancellation(err)) throw err;
    status.leftovers.push(
      `${status.newVersion} runs in ${plan.stages.map((s) => s.namespace).join(', ')} but the store was not told it is current; the previous version is kept`,
    );
    r.fail(`could not commit ${status.newVersion}: ${describeError(err)}`);
  }
}
