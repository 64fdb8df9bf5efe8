// rotateSecret: one durable workflow per rotation. It opens with the runbook; each step lives in a
// module of its own:
//   state.ts     the plan, the status and its bookkeeping, the operator's signals and update
//   prepare.ts   the claim, PLANNING, CREATING
//   forward.ts   per stage: AWAITING_APPROVAL? -> DEPLOYING -> VERIFYING -> SOAKING; then WATCHING
//   rollback.ts  ROLLING_BACK -> ROLLED_BACK
//   commit.ts    the store told the outcome
//   cleanup.ts   RETAINING -> CLEANING_UP -> COMPLETED, continuing as new while it waits
// What rotor cannot repair ends FAILED (Rotation.fail), with what was left where.
//
// History stays bounded whatever the soak, watch and retention times are:
// - soak, watch, verification and canary pauses are each ONE heartbeating activity that measures
//   at the stage's interval (a 24h soak at 1m is three history events, not 1,440 timers + activities).
//   The activity paces itself on the wall clock, sees cancellation through its heartbeat, and resumes
//   its count from the heartbeat details after a worker crash, so nothing is lost by not looping here;
// - retention is one timer;
// - cleanup, the only loop that can last indefinitely (a weekly CronJob may hold the old version for
//   weeks), continues as new once a run's history reaches HISTORY_BUDGET, carrying its state.
import { ApplicationFailure, ContinueAsNew, isCancellation, proxySinks } from '@temporalio/workflow';
import { ENDING_FAILURES, type RotationInput, type RotationStatus } from '../contract/api';
import type { RollbackReason, RotationResult, RotorSinks } from '../contract/sinks';
import { cleanUp, retain } from './cleanup';
import { commit } from './commit';
import { rollOut } from './forward';
import { RollbackRequired } from './forward-errors';
import { describeError } from './options';
import { claim, create, discover, precheck, release } from './prepare';
import { rollBack } from './rollback';
import { Rotation } from './state';
import { handleNotificationReports, resolveNotify } from './notify';

export type { RotationInput } from '../contract/api';

/** The runbook: plan, create, for each stage (approval, deploy, verify, soak), watch, commit, retain, clean up. */
async function runbook(r: Rotation): Promise<RotationStatus> {
  if (r.input.carry) {
    r.record(`resumed cleanup in a new run (${r.input.carry.cleanupScans} scan(s) so far)`);
    return cleanUp(r, r.input.carry.cleanupScans);
  }
  await discover(r);
  const inPlanning = r.aborted();
  if (inPlanning) return abortedInPlanning(r, inPlanning.reason);
  await create(r);
  const inCreating = r.aborted();
  if (inCreating) return rollingBack(r, { reason: inCreating.reason, kind: 'abort' });
  try {
    // DEPLOYING ... WATCHING, cancellable by abort or the rollback update.
    await r.forward.run(() => rollOut(r));
  } catch (err) {
    return rollingBack(r, rollbackReason(r, err));
  }
  await commit(r);
  await retain(r);
  return cleanUp(r, 0);
}

export async function rotateSecret(input: RotationInput): Promise<RotationStatus> {
  const r = new Rotation(input);
  handleNotificationReports(r);
  try {
    return await rotate(r, input);
  } finally {
    // A delivery started at the end (completed, failed, rolled back) must be started before the run closes.
    await Promise.all(r.deliveries);
  }
}

async function rotate(r: Rotation, input: RotationInput): Promise<RotationStatus> {
  if (!input.carry) {
    r.record(`rotation of ${r.plan.secret} requested by ${input.requestedBy ?? 'unknown'}`);
    r.details();
    if (r.issues.length) r.fail(`the plan is invalid: ${r.issues.map((i) => `${i.path}: ${i.message}`).join('; ')}`);
  }
  // One rotation of a Secret per namespace: claimed before anything is changed, kept across
  // continue-as-new, given up however the rotation ends.
  if (!input.carry) {
    // A plan naming a sink the worker lacks fails first; with the sinks known, every later end is told.
    await resolveNotify(r);
    // A plan naming a namespace or Secret the cluster lacks fails before it claims anything.
    await precheck(r);
    await claim(r);
  }
  let result: RotationStatus;
  try {
    result = await runbook(r);
    await release(r);
  } catch (err) {
    // A run that continues as new keeps the claim for the next run.
    if (!(err instanceof ContinueAsNew)) await release(r);
    throw err;
  } finally {
    // The last phase change reaches the event stream before the run ends.
    await Promise.all(r.announcements);
    const ending = RESULTS[r.status.phase];
    if (ending) rotorMetrics.rotationEnded(r.plan.secret, ending, Math.max(0, (Date.now() - Date.parse(r.status.startedAt)) / 1000));
  }
  return ended(result);
}

const { rotorMetrics } = proxySinks<RotorSinks>();

/** The phases a rotation ends in, as the worker's metrics count them (a run continuing as new has none of them). */
const RESULTS: Partial<Record<RotationStatus['phase'], RotationResult>> = { COMPLETED: 'completed', ROLLED_BACK: 'rolled_back', FAILED: 'failed' };

function rollingBack(r: Rotation, why: { reason: string; kind: RollbackReason }): Promise<RotationStatus> {
  rotorMetrics.rolledBack(r.plan.secret, why.kind);
  return rollBack(r, why.reason);
}

/**
 * A rotation that rolled back ends its workflow failed (type RotationRolledBack, the status as its
 * details), as one that FAILED does, so no list shows it as a success. Runs recorded before the
 * 'outcome-failure' patch complete with the status as before.
 */
function ended(result: RotationStatus): RotationStatus {
  if (result.phase !== 'ROLLED_BACK') return result;
  const why = result.outcome?.replace(/^rolled back: /, '') ?? 'no reason recorded';
  throw ApplicationFailure.nonRetryable(`rotation of ${result.secret} ROLLED_BACK: ${why}`, ENDING_FAILURES.ROLLED_BACK, result);
}

function abortedInPlanning(r: Rotation, reason: string): RotationStatus {
  r.status.outcome = `aborted before anything changed: ${reason}`;
  r.enter('ROLLED_BACK', null, 'aborted during planning; nothing was changed');
  return r.status;
}

/** Why the forward path stopped: the operator's reason, the failed check, a cancellation or an error. */
function rollbackReason(r: Rotation, err: unknown): { reason: string; kind: RollbackReason } {
  const abort = r.aborted();
  if (abort) return { reason: abort.reason, kind: 'abort' };
  if (err instanceof RollbackRequired) return { reason: err.reason, kind: err.kind };
  // Cancelling the workflow from the Web UI is an abort too: it must not leave workloads half-switched.
  if (isCancellation(err)) return { reason: 'workflow cancellation requested', kind: 'abort' };
  return { reason: `error in ${r.status.phase}${r.status.stage ? ` (${r.status.stage})` : ''}: ${describeError(err)}`, kind: 'error' };
}
