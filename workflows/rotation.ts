// rotateSecret: one durable workflow per rotation, written to read like the runbook.
//
// PLANNING -> CREATING -> per stage (AWAITING_APPROVAL? -> DEPLOYING -> VERIFYING -> SOAKING)
//   -> WATCHING -> RETAINING -> CLEANING_UP -> COMPLETED; a failed check or an abort from DEPLOYING
//   to WATCHING -> ROLLING_BACK -> ROLLED_BACK; what rotor cannot repair -> FAILED.
//
// History stays bounded whatever the soak, watch and retention times are:
// - soak, watch, verification and canary pauses are each ONE heartbeating activity that measures
//   at the stage's interval (a 24h soak at 1m is three history events, not 1,440 timers + activities).
//   The activity paces itself on the wall clock, sees cancellation through its heartbeat, and resumes
//   its count from the heartbeat details after a worker crash, so nothing is lost by not looping here;
// - retention is one timer;
// - cleanup, the only loop that can last indefinitely (a weekly CronJob may hold the old version for
//   weeks), continues as new once a run's history reaches HISTORY_BUDGET, carrying its state.
import {
  ActivityCancellationType,
  ActivityFailure,
  ApplicationFailure,
  CancellationScope,
  ContinueAsNew,
  allHandlersFinished,
  condition,
  continueAsNew,
  isCancellation,
  patched,
  proxyActivities,
  setCurrentDetails,
  setHandler,
  sleep,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type { ActivityOptions } from '@temporalio/common';
import type { RotorActivities } from '../contract/activities';
import type { CheckKind, CheckResult, ClaimResult, DiscoveredStage, Holder, SwitchRecord, WorkloadUse } from '../contract/activities';
import {
  ROLLBACK_PHASES,
  SA_PHASE,
  SA_SECRET,
  SA_STAGE,
  TERMINAL_PHASES,
  abortSignal,
  approveSignal,
  rollbackUpdate,
  statusQuery,
  type Phase,
  type RotationStatus,
} from '../contract/api';
import { carriedStatus } from './carry';
import { formatDuration } from '../domain/duration';
import { versionName } from '../domain/naming';
import { plannedSteps, stepKey } from '../domain/progress';
import { validatePlan, type Stage } from '../domain/plan';

/** Events a run may reach before cleanup continues as new; the bound asked of a run is 300. */
export const HISTORY_BUDGET = 200;
/** Status keeps this many recent events; older ones are counted, not kept, so the state stays small. */
const EVENTS_KEPT = 60;
const CHECKS_KEPT = 40;
/** Attempts at a fresh version name when another rotation took the same second. */
const NAME_ATTEMPTS = 5;

export interface RotationInput {
  /** The plan as written (YAML parsed to JSON); validated again here. */
  plan: unknown;
  requestedBy?: string;
  /** State carried across continue-as-new; absent on the first run. */
  carry?: CarriedState;
  /** History events a cleanup run may reach before it continues as new (default HISTORY_BUDGET). */
  historyBudget?: number;
}

export interface CarriedState {
  status: RotationStatus;
  cleanupScans: number;
  /** An abort received by an earlier run (absent from runs carried by releases before it was added). */
  abort?: { reason: string; by: string } | null;
}

/** How long a rollback keeps trying before it reports what it could not revert: giving up is the worst outcome. */
const ROLLBACK_PERSISTENCE_MS = 24 * 60 * 60_000;
/** One block of server-side retries of a revert; the workflow records each failed block in status. */
const rollbackAttempts: ActivityOptions = {
  startToCloseTimeout: '2m',
  scheduleToCloseTimeout: '1h',
  retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '5m', nonRetryableErrorTypes: ['RotorInputError', 'Forbidden', 'OwnershipConflict'] },
};
/** Consecutive cleanup rounds that end in an error before the rotation reports FAILED with what is left. */
const CLEANUP_ERROR_ROUNDS = 3;

const quick: ActivityOptions = {
  startToCloseTimeout: '2m',
  retry: {
    initialInterval: '1s',
    backoffCoefficient: 2,
    maximumInterval: '1m',
    maximumAttempts: 8,
    nonRetryableErrorTypes: ['RotorInputError', 'VersionContentMismatch', 'Forbidden', 'NotFound', 'OwnershipConflict'],
  },
};

const acts = proxyActivities<RotorActivities>(quick);

/** Thrown inside the forward path when a check or rollout says the new version must go. */
class RollbackRequired extends Error {
  constructor(readonly reason: string) {
    super(reason);
    this.name = 'RollbackRequired';
  }
}

/** An undo registered before the switch it undoes, so a switch that fails half-way is still reverted. */
interface Undo {
  stage: Stage;
  workloads: WorkloadUse[];
  records: SwitchRecord[];
}

function describeError(err: unknown): string {
  if (err instanceof ActivityFailure && err.cause) return describeError(err.cause);
  if (err instanceof Error) return err.message;
  return String(err);
}

export async function rotateSecret(input: RotationInput): Promise<RotationStatus> {
  const info = workflowInfo();
  const started = new Date().toISOString();
  // Limits added later must not fail a rotation that started before them (its history would not replay).
  const { plan, issues } = validatePlan(input.plan, { limits: patched('plan-limits') });

  const fresh: RotationStatus = {
    workflowId: info.workflowId,
    secret: plan.secret,
    phase: 'PLANNING',
    stage: null,
    stages: plan.stages.map((s) => s.name),
    newVersion: null,
    previousVersion: null,
    previousVersions: {},
    canaryPercent: null,
    progress: { step: 1, total: plannedSteps(plan).length, key: 'PLANNING' },
    checks: [],
    switched: [],
    approvals: [],
    holders: [],
    cleaned: [],
    waitingUntil: null,
    outcome: null,
    leftovers: [],
    planIssues: issues,
    events: [],
    eventCount: 0,
    startedAt: started,
    updatedAt: started,
  };
  // A run carried by an older release may lack fields added since: every field gets its default.
  const status: RotationStatus = input.carry ? carriedStatus(input.carry.status, fresh) : fresh;

  let abortRequest: { reason: string; by: string } | null = input.carry?.abort ?? null;
  let approvalFor: string | null = null;
  let approvalGiven = false;
  const undos: Undo[] = [];
  const forward = new CancellationScope();
  const rotationId = `${info.workflowId}/${info.firstExecutionRunId}`;
  let discovered: DiscoveredStage[] = [];

  function record(message: string): void {
    const now = new Date().toISOString();
    status.events.push({ at: now, phase: status.phase, stage: status.stage, message });
    status.eventCount += 1;
    if (status.events.length > EVENTS_KEPT) status.events.splice(0, status.events.length - EVENTS_KEPT);
    status.updatedAt = now;
  }

  function details(): void {
    const lines = [
      `**${status.secret}** — ${status.phase}${status.stage ? ` (stage ${status.stage})` : ''}`,
      `new: ${status.newVersion ?? '-'} · previous: ${status.previousVersion ?? '-'}`,
    ];
    if (status.canaryPercent !== null) lines.push(`canary: ${status.canaryPercent}%`);
    if (status.waitingUntil) lines.push(`waiting until ${status.waitingUntil}`);
    const last = status.events[status.events.length - 1];
    if (last) lines.push(`last: ${last.message}`);
    setCurrentDetails(lines.join('\n'));
  }

  const steps = plannedSteps(plan);
  function enter(phase: Phase, stage: string | null, message: string, canaryPercent: number | null = null): void {
    const stageChanged = stage !== status.stage;
    status.phase = phase;
    status.stage = stage;
    const key = stepKey(phase, stage, canaryPercent);
    const at = steps.indexOf(key);
    // Off the happy path (rolling back, failed) the step stays where it was.
    if (at >= 0) status.progress = { step: at + 1, total: steps.length, key };
    status.waitingUntil = null;
    record(message);
    const pairs = [{ key: SA_PHASE, value: phase }];
    upsertSearchAttributes(stageChanged ? [...pairs, { key: SA_STAGE, value: stage ?? '-' }] : pairs);
    details();
  }

  function waitUntil(ms: number): void {
    status.waitingUntil = new Date(Date.now() + ms).toISOString();
    details();
  }

  function addCheck(check: CheckResult): void {
    status.checks.push(check);
    if (status.checks.length > CHECKS_KEPT) status.checks.splice(0, status.checks.length - CHECKS_KEPT);
    record(`${check.check} check in ${check.stage}: ${check.verdict} — ${check.reason}`);
  }

  // --- handlers -------------------------------------------------------------------------------
  setHandler(statusQuery, () => status);

  setHandler(approveSignal, ({ by, comment }) => {
    if (status.phase !== 'AWAITING_APPROVAL' || !approvalFor) {
      record(`approval by ${by} ignored: nothing awaits approval in phase ${status.phase}`);
      return;
    }
    approvalGiven = true;
    status.approvals.push({ stage: approvalFor, by, comment: comment ?? '', at: new Date().toISOString() });
    record(`approved by ${by} for ${approvalFor}${comment ? `: ${comment}` : ''}`);
  });

  setHandler(abortSignal, ({ reason, by }) => {
    if (TERMINAL_PHASES.includes(status.phase) || status.phase === 'ROLLING_BACK' || abortRequest) {
      record(`abort by ${by ?? 'operator'} ignored in phase ${status.phase}: ${reason}`);
      return;
    }
    abortRequest = { reason, by: by ?? 'operator' };
    record(`abort requested by ${abortRequest.by}: ${reason}`);
    forward.cancel();
  });

  setHandler(
    rollbackUpdate,
    async ({ reason, by }) => {
      abortRequest = { reason: `rollback requested: ${reason}`, by: by ?? 'operator' };
      record(`rollback requested by ${abortRequest.by}: ${reason}`);
      forward.cancel();
      await condition(() => status.phase === 'ROLLED_BACK' || status.phase === 'FAILED');
      return status;
    },
    {
      validator: ({ reason }) => {
        if (typeof reason !== 'string' || reason.trim() === '') throw new Error('rollback needs a reason: rotor rollback <id> --reason "..."');
        if (!ROLLBACK_PHASES.includes(status.phase) || abortRequest) {
          const why = abortRequest
            ? 'a rollback or abort is already under way'
            : TERMINAL_PHASES.includes(status.phase) || status.phase === 'RETAINING' || status.phase === 'CLEANING_UP'
              ? 'the new version is already committed; start a new rotation to move on'
              : 'nothing has been switched yet; use `rotor abort` to stop the rotation';
          throw new Error(`rollback is possible from DEPLOYING to WATCHING, not in ${status.phase}: ${why}`);
        }
      },
    },
  );

  upsertSearchAttributes([
    { key: SA_SECRET, value: plan.secret || '-' },
    { key: SA_PHASE, value: status.phase },
    { key: SA_STAGE, value: status.stage ?? '-' },
  ]);

  // --- steps ---------------------------------------------------------------------------------
  async function monitor(stage: Stage, check: CheckKind, durationMs: number): Promise<void> {
    if (durationMs <= 0) return;
    waitUntil(durationMs);
    if (!stage.analysis) {
      // No metrics configured: the time still passes (a soak is a soak), only rollout health is checked.
      await sleep(durationMs);
      return;
    }
    const result = await acts.monitorAnalysis.executeWithOptions(
      {
        ...quick,
        startToCloseTimeout: durationMs + 10 * 60_000,
        heartbeatTimeout: '1m',
        retry: { ...quick.retry, maximumAttempts: 5 },
        // An abort waits for the measuring to stop, so no analysis outlives the phase it judged.
        cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
        summary: `${check} ${stage.name}: ${stage.analysis.provider} every ${formatDuration(stage.analysis.intervalMs)} for ${formatDuration(durationMs)}`,
      },
      [{ stage: stage.name, check, analysis: stage.analysis, durationMs }],
    );
    addCheck(result);
    if (result.verdict !== 'passed') throw new RollbackRequired(`${check} check in ${stage.name} ${result.verdict}: ${result.reason}`);
  }

  async function waitForRollout(stage: Stage, workloads: WorkloadUse[]): Promise<void> {
    const result = await acts.waitForRollout.executeWithOptions(
      {
        ...quick,
        startToCloseTimeout: stage.rolloutTimeoutMs + 60_000,
        heartbeatTimeout: '30s',
        retry: { ...quick.retry, maximumAttempts: 3 },
        cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
        summary: `wait for rollout of ${workloads.length} workload(s) in ${stage.namespace}`,
      },
      [{ stage: stage.name, namespace: stage.namespace, workloads, timeoutMs: stage.rolloutTimeoutMs, version: status.newVersion ?? undefined }],
    );
    if (!result.ready) throw new RollbackRequired(`rollout in ${stage.namespace} did not become ready: ${result.message}`);
    record(`rollout ready in ${stage.namespace}: ${result.message}`);
  }

  /** Switching changes the world, so it is never cancelled half-way: an abort waits for it, then reverts it. */
  async function switchStage(stage: Stage, undo: Undo, weightPercent?: number, previousWeightPercent?: number): Promise<void> {
    const previous = status.previousVersions[stage.namespace]!;
    const records = await CancellationScope.nonCancellable(() =>
      acts.switchWorkloads.executeWithOptions(
        {
          ...quick,
          summary:
            weightPercent === undefined
              ? `switch ${undo.workloads.length} workload(s) in ${stage.namespace} to ${status.newVersion}`
              : `canary ${weightPercent}% in ${stage.namespace} on ${status.newVersion}`,
        },
        [
          {
            stage: stage.name,
            namespace: stage.namespace,
            workloads: undo.workloads,
            from: previous,
            to: status.newVersion!,
            strategy: stage.strategy.type,
            weightPercent,
            previousWeightPercent,
            rotationId,
          },
        ],
      ),
    );
    undo.records = records;
    status.switched = [...status.switched.filter((r) => r.namespace !== stage.namespace), ...records];
    const fields = records.reduce((n, r) => n + r.fields.length, 0);
    record(
      weightPercent === undefined
        ? `switched ${records.length} workload(s), ${fields} reference(s), in ${stage.namespace} to ${status.newVersion}`
        : `canary at ${weightPercent}% in ${stage.namespace}`,
    );
  }

  async function deployStage(stage: Stage, workloads: WorkloadUse[]): Promise<void> {
    const undo: Undo = { stage, workloads, records: [] };
    undos.push(undo);
    if (stage.strategy.type === 'canary') {
      for (const [i, step] of stage.strategy.steps.entries()) {
        status.canaryPercent = step;
        enter('DEPLOYING', stage.name, `canary step ${step}% in ${stage.namespace}`, step);
        await switchStage(stage, undo, step, i === 0 ? 0 : stage.strategy.steps[i - 1]);
        await waitForRollout(stage, workloads);
        enter('VERIFYING', stage.name, `analysing canary at ${step}% for ${formatDuration(stage.strategy.pauseMs)}`, step);
        await monitor(stage, 'canary', stage.strategy.pauseMs);
      }
      // Blue runs the new version at full size now; the green copies go. (Patched: histories recorded
      // before this step replay without it.)
      if (patched('complete-canary')) {
        await CancellationScope.nonCancellable(() =>
          acts.completeCanary.executeWithOptions({ ...quick, summary: `remove canary copies in ${stage.namespace}` }, [
            { namespace: stage.namespace, records: undo.records, version: status.newVersion ?? undefined },
          ]),
        );
        record(`canary complete in ${stage.namespace}: every replica on ${status.newVersion}`);
      }
      status.canaryPercent = null;
      return;
    }
    enter('DEPLOYING', stage.name, `switching ${workloads.length} workload(s) in ${stage.namespace} (${stage.strategy.type})`);
    await switchStage(stage, undo);
    await waitForRollout(stage, workloads);
    if (stage.analysis) {
      enter('VERIFYING', stage.name, `verifying for ${formatDuration(stage.analysis.verifyMs)}`);
      await monitor(stage, 'verify', stage.analysis.verifyMs);
    }
  }

  async function awaitApproval(stage: Stage): Promise<void> {
    approvalFor = stage.name;
    approvalGiven = false;
    enter(
      'AWAITING_APPROVAL',
      stage.name,
      `waiting for \`rotor approve ${info.workflowId}\` before ${stage.name} (up to ${formatDuration(stage.approvalTimeoutMs)})`,
    );
    waitUntil(stage.approvalTimeoutMs);
    const approved = await condition(() => approvalGiven, stage.approvalTimeoutMs);
    approvalFor = null;
    if (!approved) {
      // Documented choice: an approval that never comes rolls back, rather than leaving staging on a
      // version production never got, for an unbounded time.
      throw new RollbackRequired(`no approval for ${stage.name} within ${formatDuration(stage.approvalTimeoutMs)}`);
    }
  }

  async function forwardPath(): Promise<void> {
    for (const [index, stage] of plan.stages.entries()) {
      if (stage.approval === 'required') await awaitApproval(stage);
      const found = discovered[index];
      await deployStage(stage, found.workloads);
      if (index < plan.stages.length - 1 && stage.soakMs > 0) {
        enter('SOAKING', stage.name, `soaking ${stage.name} for ${formatDuration(stage.soakMs)}`);
        await monitor(stage, 'soak', stage.soakMs);
      }
    }
    const last = plan.stages[plan.stages.length - 1];
    if (last.watchMs > 0) {
      enter('WATCHING', last.name, `watching ${last.name} for ${formatDuration(last.watchMs)}`);
      await monitor(last, 'watch', last.watchMs);
    }
  }

  /** Tell the store the new version's outcome; on commit, what rotor switched comes off its records. */
  function finalize(outcome: 'committed' | 'failed'): Promise<void> {
    const summary = outcome === 'committed' ? `make ${status.newVersion} current` : `mark ${status.newVersion} failed`;
    return acts.finalizeVersion.executeWithOptions({ ...quick, summary }, [
      {
        secret: plan.secret,
        version: status.newVersion!,
        previousVersion: status.previousVersion,
        store: plan.store,
        namespaces: plan.stages.map((s) => s.namespace),
        outcome,
        ...(outcome === 'committed' ? { switched: status.switched } : {}),
      },
    ]);
  }

  /** One stage's revert; with the patch, it keeps trying for ROLLBACK_PERSISTENCE_MS, each failed hour in status. */
  async function revertStage(undo: Undo, previous: string): Promise<SwitchRecord[]> {
    const { stage } = undo;
    const summary = `revert ${stage.namespace} to ${previous}`;
    const args: Parameters<RotorActivities['revertWorkloads']> = [
      { stage: stage.name, namespace: stage.namespace, workloads: undo.workloads, from: status.newVersion!, to: previous, records: undo.records },
    ];
    if (!patched('rollback-persists')) return acts.revertWorkloads.executeWithOptions({ ...quick, summary }, args);
    const deadline = Date.now() + ROLLBACK_PERSISTENCE_MS;
    for (let block = 1; ; block++) {
      try {
        return await acts.revertWorkloads.executeWithOptions({ ...rollbackAttempts, summary }, args);
      } catch (err) {
        const type = err instanceof ActivityFailure && err.cause instanceof ApplicationFailure ? err.cause.type : null;
        if (type === 'RotorInputError' || type === 'OwnershipConflict' || Date.now() >= deadline) throw err;
        const pause = Math.min(5 * 60_000 * 2 ** (block - 1), 60 * 60_000);
        record(
          `revert in ${stage.namespace} failed (${describeError(err)}); rotor keeps trying until ${new Date(deadline).toISOString()}, next in ${formatDuration(pause)}`,
        );
        waitUntil(pause);
        await sleep(pause);
      }
    }
  }

  function describeRevert(namespace: string, previous: string, reverted: SwitchRecord[]): string {
    const parts = reverted.map((r) => {
      const bits = [r.fields.length ? `${r.fields.length} field(s)` : null];
      if (r.replicas && 'restored' in r.replicas) bits.push(`replicas back to ${r.replicas.restored}`);
      if (r.replicas && 'left' in r.replicas) bits.push(`replicas left at ${r.replicas.left} (changed by someone else after rotor set ${r.replicas.wrote})`);
      if (r.canary) bits.push(`canary ${r.canary.green} removed`);
      return `${r.kind}/${r.name}: ${bits.filter(Boolean).join(', ')}`;
    });
    return reverted.length ? `reverted in ${namespace} to ${previous}: ${parts.join('; ')}` : `nothing of this rotation was left to revert in ${namespace}`;
  }

  /** Undo exactly what was switched, newest first; an abort cannot interrupt it. */
  async function rollBack(reason: string): Promise<RotationStatus> {
    enter('ROLLING_BACK', status.stage, `rolling back: ${reason}`);
    status.canaryPercent = null;
    await CancellationScope.nonCancellable(async () => {
      for (const undo of [...undos].reverse()) {
        const { stage } = undo;
        const previous = status.previousVersions[stage.namespace]!;
        try {
          const reverted = await revertStage(undo, previous);
          status.switched = status.switched.filter((r) => r.namespace !== stage.namespace);
          record(describeRevert(stage.namespace, previous, reverted));
          const rollout = await acts.waitForRollout.executeWithOptions(
            { ...quick, startToCloseTimeout: stage.rolloutTimeoutMs + 60_000, heartbeatTimeout: '30s', summary: `wait for rollback in ${stage.namespace}` },
            [{ stage: stage.name, namespace: stage.namespace, workloads: undo.workloads, timeoutMs: stage.rolloutTimeoutMs }],
          );
          if (!rollout.ready)
            status.leftovers.push(
              `${stage.namespace}: reverted to ${previous} but the rollout is not ready (${rollout.message}); check \`kubectl -n ${stage.namespace} rollout status\``,
            );
        } catch (err) {
          status.leftovers.push(
            `${stage.namespace}: could not revert to ${previous} (${describeError(err)}); what rotor switched may still point at ${status.newVersion}: ${
              undo.records.map((r) => `${r.kind}/${r.name}`).join(', ') || undo.workloads.map((w) => `${w.kind}/${w.name}`).join(', ')
            } — set their Secret references back to ${previous} by hand (rotor's record of each change is in the annotation rotor.dev/switch-* on the object)`,
          );
        }
      }
      try {
        await finalize('failed');
      } catch (err) {
        status.leftovers.push(`store: could not mark ${status.newVersion} failed (${describeError(err)}); the previous version is still current`);
      }
    });
    if (status.leftovers.length) return fail(`rollback incomplete after: ${reason}`);
    status.outcome = `rolled back: ${reason}`;
    enter('ROLLED_BACK', status.stage, `rolled back; what rotor switched is on its previous version again, and what others changed was kept`);
    return status;
  }

  function fail(reason: string): never {
    status.outcome = `failed: ${reason}`;
    enter('FAILED', status.stage, `${reason}${status.leftovers.length ? ` — left: ${status.leftovers.join('; ')}` : ''}`);
    throw ApplicationFailure.nonRetryable(`rotation of ${plan.secret} FAILED: ${reason}`, 'RotationFailed', status);
  }

  async function cleanUp(cleanupScans: number): Promise<RotationStatus> {
    // Each namespace retires the version it used before (usually the same name everywhere).
    const pending = new Map<string, string[]>();
    for (const { namespace } of plan.stages) {
      const version = status.previousVersions[namespace];
      if (version && !status.cleaned.includes(namespace)) pending.set(version, [...(pending.get(version) ?? []), namespace]);
    }
    const retired = () => [...new Set(plan.stages.map((s) => status.previousVersions[s.namespace]).filter((v): v is string => !!v))].join(', ');
    let failedRounds = 0;
    for (let scans = cleanupScans; ; scans++) {
      if (abortRequest) break;
      enter('CLEANING_UP', null, `scanning every namespace for workloads that still use ${[...pending.keys()].join(', ')}`);
      const holders: Holder[] = [];
      try {
        for (const [version, namespaces] of pending) {
          let found: Holder[] = await acts.scanReferences.executeWithOptions({ ...quick, summary: `scan for references to ${version}` }, [
            { secretName: version, namespaces },
          ]);
          if (found.length === 0) {
            const deletion = await acts.deleteVersion.executeWithOptions({ ...quick, summary: `delete ${version} (guarded)` }, [
              { secret: plan.secret, version, namespaces, store: plan.store },
            ]);
            if (deletion.deleted) {
              status.cleaned.push(...deletion.namespaces);
              pending.delete(version);
              record(`deleted ${version} from ${deletion.namespaces.join(', ')}`);
              continue;
            }
            found = deletion.holders;
          }
          holders.push(...found);
        }
        failedRounds = 0;
      } catch (err) {
        // An error that outlasts its retries is reported, retried at the next round, and after a few
        // rounds ends the rotation in FAILED with what was left, never as a bare workflow failure.
        if (isCancellation(err) || !patched('cleanup-errors-reported')) throw err;
        failedRounds += 1;
        const left = [...pending].map(
          ([version, namespaces]) =>
            `${version} is still in ${namespaces.join(', ')}; delete it by hand once nothing refers to it (\`rotor versions ${plan.secret} -n <namespace>\` shows who does)`,
        );
        if (failedRounds >= CLEANUP_ERROR_ROUNDS) {
          status.leftovers.push(...left);
          return fail(`cleanup failed ${failedRounds} rounds in a row (${describeError(err)}); ${status.newVersion} is current everywhere`);
        }
        record(`cleanup round failed (${describeError(err)}); trying again in ${formatDuration(plan.cleanupRecheckMs)}`);
      }
      if (pending.size === 0) {
        status.holders = [];
        status.outcome = `completed: ${status.newVersion} is current; ${retired()} deleted from ${status.cleaned.join(', ')}`;
        enter('COMPLETED', null, `${status.newVersion} is current; ${retired()} deleted`);
        return status;
      }
      if (failedRounds === 0) {
        status.holders = holders;
        record(
          `${[...pending.keys()].join(', ')} still used by ${holders.map((h) => `${h.kind}/${h.name} in ${h.namespace}`).join(', ')}; scanning again in ${formatDuration(plan.cleanupRecheckMs)}`,
        );
      }
      waitUntil(plan.cleanupRecheckMs);
      await condition(() => abortRequest !== null, plan.cleanupRecheckMs);
      if (abortRequest) break;
      if (workflowInfo().historyLength >= (input.historyBudget ?? HISTORY_BUDGET) || workflowInfo().continueAsNewSuggested) {
        await condition(allHandlersFinished);
        if (abortRequest) break;
        record(`continuing as new after ${workflowInfo().historyLength} history events`);
        // The abort travels with the state, so an abort that raced the hand-over is honoured by the next run.
        await continueAsNew<typeof rotateSecret>({ ...input, carry: { status, cleanupScans: scans + 1, abort: abortRequest } });
      }
    }
    const kept = [...pending.keys()].join(', ');
    status.outcome = `completed: ${status.newVersion} is current; ${kept} kept (cleanup stopped by abort: ${(abortRequest as { reason: string } | null)?.reason})`;
    enter('COMPLETED', null, `cleanup stopped by abort; ${kept} kept`);
    return status;
  }

  // --- the runbook -----------------------------------------------------------------------------
  // One rotation of a Secret per namespace: the claim is taken before anything is read or changed,
  // kept across continue-as-new (the holder is the workflow id), and given up however the rotation
  // ends. Patched: runs recorded before claims existed replay without them.
  const holder = `${info.namespace}/${info.workflowId}`;
  const claim = { secret: plan.secret, namespaces: [...new Set(plan.stages.map((s) => s.namespace))], holder };

  async function release(): Promise<void> {
    try {
      await CancellationScope.nonCancellable(() =>
        acts.releaseRotation.executeWithOptions({ ...quick, summary: `release the rotation of ${plan.secret}` }, [claim]),
      );
    } catch (err) {
      // Harmless if it stays: the next rotation takes over a claim whose workflow no longer runs.
      record(`could not release the claim on ${plan.secret} (${describeError(err)}); the next rotation takes it over`);
    }
  }

  async function runbook(): Promise<RotationStatus> {
    if (input.carry) {
      record(`resumed cleanup in a new run (${input.carry.cleanupScans} scan(s) so far)`);
      return cleanUp(input.carry.cleanupScans);
    }

    // PLANNING: resolve the current version and every workload that uses it; nothing changes yet.
    try {
      discovered = await acts.discover.executeWithOptions({ ...quick, summary: `discover workloads using ${plan.secret}` }, [
        { secret: plan.secret, stages: plan.stages.map((s) => ({ name: s.name, namespace: s.namespace, workloads: s.workloads })) },
      ]);
    } catch (err) {
      return fail(`could not discover workloads (nothing was changed): ${describeError(err)}`);
    }
    const problems: string[] = [];
    plan.stages.forEach((stage, i) => {
      const found = discovered[i];
      status.previousVersions[stage.namespace] = found.previousVersion;
      if (!found.previousVersion) problems.push(`no version of ${plan.secret} is in use in namespace ${stage.namespace}`);
      else if (found.workloads.length === 0) problems.push(`no workload in ${stage.namespace} uses ${found.previousVersion}`);
      if (found.missing.length) problems.push(`listed workload(s) ${found.missing.join(', ')} in ${stage.namespace} do not use ${found.previousVersion}`);
      record(
        `${stage.namespace}: ${found.workloads.length} workload(s) use ${found.previousVersion ?? 'nothing'}: ${found.workloads.map((w) => `${w.kind}/${w.name}`).join(', ')}`,
      );
    });
    status.previousVersion = discovered[0]?.previousVersion ?? null;
    if (problems.length) return fail(`nothing to rotate (nothing was changed): ${problems.join('; ')}`);
    if (abortRequest) {
      status.outcome = `aborted before anything changed: ${(abortRequest as { reason: string }).reason}`;
      enter('ROLLED_BACK', null, 'aborted during planning; nothing was changed');
      return status;
    }

    // CREATING: the value is generated or read inside the activity; only its name passes through here.
    enter('CREATING', null, `creating the new version of ${plan.secret}`);
    try {
      for (let attempt = 1; ; attempt++) {
        const candidate = versionName(plan.secret, new Date());
        const created = await CancellationScope.nonCancellable(() =>
          acts.createVersion.executeWithOptions({ ...quick, summary: `create ${candidate} in ${plan.stages.map((s) => s.namespace).join(', ')}` }, [
            {
              secret: plan.secret,
              version: candidate,
              rotationId,
              value: plan.value,
              store: plan.store,
              namespaces: plan.stages.map((s) => s.namespace),
            },
          ]),
        );
        if (created.outcome !== 'conflict') {
          status.newVersion = candidate;
          record(
            `${created.outcome === 'created' ? 'created' : 'found already created'} ${candidate} (keys: ${created.keys.join(', ')}) in ${created.namespaces.join(', ')}`,
          );
          break;
        }
        record(`${candidate} already belongs to ${created.owner}; taking the next second`);
        if (attempt >= NAME_ATTEMPTS) throw new Error(`no free version name after ${NAME_ATTEMPTS} attempts`);
        await sleep(1_000);
      }
    } catch (err) {
      if (isCancellation(err)) throw err;
      return fail(`could not create the new version (no workload was switched): ${describeError(err)}`);
    }
    if (abortRequest) return rollBack((abortRequest as { reason: string }).reason);

    // DEPLOYING ... WATCHING, cancellable by abort or the rollback update.
    try {
      await forward.run(forwardPath);
    } catch (err) {
      const reason = abortRequest
        ? (abortRequest as { reason: string }).reason
        : err instanceof RollbackRequired
          ? err.reason
          : `error in ${status.phase}${status.stage ? ` (${status.stage})` : ''}: ${describeError(err)}`;
      // Cancelling the workflow from the Web UI is an abort too: it must not leave workloads half-switched.
      return rollBack(!abortRequest && isCancellation(err) ? 'workflow cancellation requested' : reason);
    }

    // The new version is proven everywhere: make it current in the store, keep the old one for a while.
    try {
      await finalize('committed');
    } catch (err) {
      if (isCancellation(err)) throw err;
      status.leftovers.push(
        `${status.newVersion} runs in ${plan.stages.map((s) => s.namespace).join(', ')} but the store was not told it is current; the previous version is kept`,
      );
      return fail(`could not commit ${status.newVersion}: ${describeError(err)}`);
    }
    enter('RETAINING', null, `keeping ${status.previousVersion} for ${formatDuration(plan.retentionMs)}`);
    waitUntil(plan.retentionMs);
    await condition(() => abortRequest !== null, plan.retentionMs);
    return cleanUp(0);
  }

  if (!input.carry) {
    record(`rotation of ${plan.secret} requested by ${input.requestedBy ?? 'unknown'}`);
    details();
    if (issues.length) return fail(`the plan is invalid: ${issues.map((i) => `${i.path}: ${i.message}`).join('; ')}`);
  }
  if (!patched('rotation-claims')) return runbook();
  if (!input.carry) {
    let refused: ClaimResult['refused'];
    try {
      ({ refused } = await acts.claimRotation.executeWithOptions(
        { ...quick, summary: `claim the rotation of ${plan.secret} in ${claim.namespaces.join(', ')}` },
        [claim],
      ));
    } catch (err) {
      await release(); // whatever the failed attempt claimed
      return fail(`could not claim the rotation of ${plan.secret} (nothing was changed): ${describeError(err)}`);
    }
    if (refused.length) {
      const who = refused.map((r) => `${r.namespace} (${r.holder.slice(r.holder.indexOf('/') + 1)}${r.since ? `, since ${r.since}` : ''})`).join(', ');
      return fail(
        `another rotation of ${plan.secret} is in progress in ${who}; nothing was changed — wait for it to end or stop it with \`rotor abort <id> --reason ...\`, then start again`,
      );
    }
    record(`claimed the rotation of ${plan.secret} in ${claim.namespaces.join(', ')}`);
  }
  try {
    const result = await runbook();
    await release();
    return result;
  } catch (err) {
    // A run that continues as new keeps the claim for the next run.
    if (!(err instanceof ContinueAsNew)) await release();
    throw err;
  }
}
