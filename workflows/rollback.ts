// ROLLING_BACK: undo exactly what was switched, newest stage first, in a scope an abort cannot
// interrupt; keep trying through an outage for a day; then tell the store the new version failed.
import { CancellationScope, sleep } from '@temporalio/workflow';
import type { RotorActivities, SwitchRecord } from '../contract/activities';
import type { RotationStatus } from '../contract/api';
import { formatDuration } from '../domain/duration';
import { finalize } from './commit';
import { revokeRolledBack, usesIssuer } from './issuer';
import { acts, describeError, failureType, quick, rollbackAttempts } from './options';
import { revertThroughGit } from './gitops';
import type { Rotation, Undo } from './state';

/** How long a rollback keeps trying before it reports what it could not revert: giving up is the worst outcome. */
const ROLLBACK_PERSISTENCE_MS = 24 * 60 * 60_000;

export async function rollBack(r: Rotation, reason: string): Promise<RotationStatus> {
  const { status } = r;
  r.enter('ROLLING_BACK', status.stage, `rolling back: ${reason}`);
  status.canaryPercent = null;
  // Each revert leaves its record on the objects, so a retry after a killed attempt reports what that
  // attempt reverted too; the records come off once the store is told.
  const allReverted: SwitchRecord[] = [];
  await CancellationScope.nonCancellable(async () => {
    for (const undo of [...r.undos].reverse()) {
      const { stage } = undo;
      const previous = status.previousVersions[stage.namespace]!;
      // Git mode: rotor's commit reverted and applied by the controller, whatever the live revert does.
      await revertThroughGit(r, undo);
      try {
        const reverted = await revertStage(r, undo, previous, reason);
        allReverted.push(...reverted);
        status.switched = status.switched.filter((x) => x.namespace !== stage.namespace);
        r.record(describeRevert(stage.namespace, previous, reverted));
        const rollout = await acts.waitForRollout.executeWithOptions(
          { ...quick, startToCloseTimeout: stage.rolloutTimeoutMs + 60_000, summary: `wait for rollback in ${stage.namespace}` },
          [
            {
              stage: stage.name,
              namespace: stage.namespace,
              workloads: [...undo.workloads, ...(undo.git?.workloads ?? [])],
              timeoutMs: stage.rolloutTimeoutMs,
            },
          ],
        );
        if (!rollout.ready)
          status.leftovers.push(
            `${stage.namespace}: reverted to ${previous} but the rollout is not ready (${rollout.message}); check \`kubectl -n ${stage.namespace} rollout status\``,
          );
      } catch (err) {
        status.leftovers.push(
          `${stage.namespace}: could not revert to ${previous} (${describeError(err)}); what rotor switched may still point at ${status.newVersion}: ${
            undo.records.map((x) => `${x.kind}/${x.name}`).join(', ') || undo.workloads.map((w) => `${w.kind}/${w.name}`).join(', ')
          } — set their Secret references back to ${previous} by hand (rotor's record of each change is in the annotation rotor.dev/switch-* on the object)`,
        );
      }
    }
    try {
      await finalize(r, 'failed', allReverted);
    } catch (err) {
      status.leftovers.push(`store: could not mark ${status.newVersion} failed (${describeError(err)}); the previous version is still current`);
    }
    // The rolled-back credential goes at its issuer too, once nothing refers to it.
    if (usesIssuer(r)) await revokeRolledBack(r);
  });
  if (status.leftovers.length) return r.fail(`rollback incomplete after: ${reason}`);
  status.outcome = `rolled back: ${reason}`;
  r.enter('ROLLED_BACK', status.stage, `rolled back; what rotor switched is on its previous version again, and what others changed was kept`);
  return status;
}

/** One stage's revert; with the patch, it keeps trying for ROLLBACK_PERSISTENCE_MS, each failed block in status. `reason` goes on the RolledBack Events. */
async function revertStage(r: Rotation, undo: Undo, previous: string, reason: string): Promise<SwitchRecord[]> {
  const { stage } = undo;
  const summary = `revert ${stage.namespace} to ${previous}`;
  const args: Parameters<RotorActivities['revertWorkloads']> = [
    {
      stage: stage.name,
      namespace: stage.namespace,
      workloads: undo.workloads,
      from: r.status.newVersion!,
      to: previous,
      records: undo.records,
      markReverted: true,
      reason,
    },
  ];
  const deadline = Date.now() + ROLLBACK_PERSISTENCE_MS;
  for (let block = 1; ; block++) {
    try {
      return await acts.revertWorkloads.executeWithOptions({ ...rollbackAttempts, summary }, args);
    } catch (err) {
      const type = failureType(err);
      if (type === 'RotorInputError' || type === 'OwnershipConflict' || Date.now() >= deadline) throw err;
      const pause = Math.min(5 * 60_000 * 2 ** (block - 1), 60 * 60_000);
      r.record(
        `revert in ${stage.namespace} failed (${describeError(err)}); rotor keeps trying until ${new Date(deadline).toISOString()}, next in ${formatDuration(pause)}`,
      );
      r.noteWaitEnds(pause);
      await sleep(pause, { summary: `retry the revert in ${stage.namespace} in ${formatDuration(pause)}` });
    }
  }
}

function describeRevert(namespace: string, previous: string, reverted: SwitchRecord[]): string {
  const parts = reverted.map((x) => {
    const bits = [x.fields.length ? `${x.fields.length} field(s)` : null];
    if (x.replicas && 'restored' in x.replicas) bits.push(`replicas back to ${x.replicas.restored}`);
    if (x.replicas && 'left' in x.replicas) bits.push(`replicas left at ${x.replicas.left} (changed by someone else after rotor set ${x.replicas.wrote})`);
    if (x.canary) bits.push(`canary ${x.canary.green} removed`);
    return `${x.kind}/${x.name}: ${bits.filter(Boolean).join(', ')}`;
  });
  return reverted.length ? `reverted in ${namespace} to ${previous}: ${parts.join('; ')}` : `nothing of this rotation was left to revert in ${namespace}`;
}
