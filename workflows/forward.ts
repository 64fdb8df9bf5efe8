// The forward path, stage by stage: approval, deploy (rolling or canary steps), verify, soak; then
// watch. A failed check, a rollout that never becomes ready or a missing approval throws
// RollbackRequired; an abort cancels the scope this runs in. Every step that relies on a switch first
// checks that what rotor switched still names the new version (someone may have set it back).
import { ActivityCancellationType, CancellationScope, condition, patched, proxyLocalActivities, sleep } from '@temporalio/workflow';
import type { CheckKind, RotorActivities, SwitchRecord, WorkloadUse } from '../contract/activities';
import { splitBatches } from '../domain/batches';
import { formatDuration } from '../domain/duration';
import type { Stage } from '../domain/plan';
import { acts, quick } from './options';
import { RollbackRequired } from './forward-errors';
import { gitMode, switchThroughGit, throughGit } from './gitops';
import { awaitWindow } from './windows';
import { preflight } from './preflight';
import { notify } from './notify';
import type { Rotation, Undo } from './state';

/** Batches within a stage (stage.batch): rotations started before them replay as they ran. */
const BATCHES = 'stage-batches';

/**
 * Reading the switched references back: a local activity (one marker in history, not six events), a
 * few quick tries; one that cannot read fails the stage like any other step, and the rollback follows.
 */
const readBack = proxyLocalActivities<Pick<RotorActivities, 'checkSwitched'>>({
  startToCloseTimeout: '30s',
  scheduleToCloseTimeout: '2m',
  retry: { ...quick.retry, maximumInterval: '10s' },
});

/**
 * Before a step that relies on the switch (an analysis, the canary's next step, the commit): every
 * reference rotor switched, in every stage so far, still names the new version. One set back by someone
 * else (a GitOps self-heal, a hand edit) fails the stage, named, before anything is judged or committed.
 */
async function ensureSwitched(r: Rotation, before: string): Promise<void> {
  const { status } = r;
  const records = status.switched.filter((x) => x.fields.length > 0);
  if (!records.length || !status.newVersion) return;
  const drift = await readBack.checkSwitched({ records, version: status.newVersion });
  if (!drift.length) return;
  throw new RollbackRequired(
    `${drift.length} reference(s) rotor switched to ${status.newVersion} were set back by someone else before ${before} (a GitOps sync or self-heal, or a hand edit): ${drift
      .map((d) => d.message)
      .join('; ')}`,
    'check_failed',
  );
}

/** For each stage: pre-flight checks, approval, deploy, verify, soak; then watch the last one. */
export async function rollOut(r: Rotation): Promise<void> {
  const { plan } = r;
  for (const [index, stage] of plan.stages.entries()) {
    await preflight(r, stage);
    if (stage.approval === 'required') await awaitApproval(r, stage);
    await deploy(r, stage, r.discovered[index].workloads);
    if (index < plan.stages.length - 1 && stage.soakMs > 0) {
      r.enter('SOAKING', stage.name, `soaking ${stage.name} for ${formatDuration(stage.soakMs)}`);
      await monitor(r, stage, 'soak', stage.soakMs);
    }
    if (index < plan.stages.length - 1) stagePassed(r, stage);
  }
  const last = plan.stages[plan.stages.length - 1];
  if (last.watchMs > 0) {
    r.enter('WATCHING', last.name, `watching ${last.name} for ${formatDuration(last.watchMs)}`);
    await monitor(r, last, 'watch', last.watchMs);
  }
  await ensureSwitched(r, 'the commit');
  stagePassed(r, last);
}

/** A stage deployed, verified and soaked (the last one: watched): an event, and a notification. */
function stagePassed(r: Rotation, stage: Stage): void {
  if (!r.status.notify?.routes.length) return;
  r.record(`stage ${stage.name} passed: ${r.status.newVersion} in ${stage.namespace}`);
  notify(r, 'stage_passed');
}

async function awaitApproval(r: Rotation, stage: Stage): Promise<void> {
  r.approvalFor = stage.name;
  r.approvalGiven = false;
  r.enter(
    'AWAITING_APPROVAL',
    stage.name,
    `waiting for \`rotor approve ${r.info.workflowId}\` before ${stage.name} (up to ${formatDuration(stage.approvalTimeoutMs)})`,
  );
  r.noteWaitEnds(stage.approvalTimeoutMs);
  const approved = await condition(() => r.approvalGiven, stage.approvalTimeoutMs, {
    summary: `approval for ${stage.name}: up to ${formatDuration(stage.approvalTimeoutMs)}`,
  });
  r.approvalFor = null;
  if (!approved) {
    // Documented choice: an approval that never comes rolls back, rather than leaving staging on a
    // version production never got, for an unbounded time.
    throw new RollbackRequired(`no approval for ${stage.name} within ${formatDuration(stage.approvalTimeoutMs)}`, 'approval_timeout');
  }
}

/** Deploy and verify one stage: rolling (or in-place) at once, or canary step by step. */
async function deploy(r: Rotation, stage: Stage, workloads: WorkloadUse[]): Promise<void> {
  const { status } = r;
  // Git mode: what a GitOps controller applies changes through a commit; the rest live, as always.
  const viaGit = throughGit(r, stage, workloads);
  const live = viaGit.length ? workloads.filter((w) => !viaGit.includes(w)) : workloads;
  // Registered before the first switch, so a switch that fails half-way is reverted too.
  const undo: Undo = { stage, workloads: live, records: [] };
  r.undos.push(undo);
  if (stage.strategy.type === 'canary') {
    for (const [i, step] of stage.strategy.steps.entries()) {
      status.canaryPercent = step;
      r.enter('DEPLOYING', stage.name, `canary step ${step}% in ${stage.namespace}`, step);
      if (i > 0) await ensureSwitched(r, `canary step ${step}% in ${stage.namespace}`);
      await awaitWindow(r, stage, `canary step ${step}%`);
      const before = i === 0 ? 0 : stage.strategy.steps[i - 1];
      if (live.length || !viaGit.length) await switchStage(r, undo, step, before);
      // Git mode: below 100% a green copy beside blue at full size; at 100% blue's reference by a commit.
      if (viaGit.length && step < 100) await switchStage(r, undo, step, before, viaGit);
      else if (viaGit.length) await switchThroughGit(r, undo, viaGit);
      const rolloutMs = await waitForRollout(r, stage, workloads);
      r.enter('VERIFYING', stage.name, `analysing canary at ${step}% for ${formatDuration(stage.strategy.pauseMs)}`, step);
      // While the old version still runs beside the new, a baseline measures both side by side.
      const oldVersion = step < 100 ? (status.previousVersions[stage.namespace] ?? undefined) : undefined;
      await monitor(r, stage, 'canary', stage.strategy.pauseMs, oldVersion, firstAfter(stage, rolloutMs));
    }
    // Blue runs the new version at full size now; the green copies go.
    await ensureSwitched(r, `removing the canary copies in ${stage.namespace}`);
    await CancellationScope.nonCancellable(() =>
      acts.completeCanary.executeWithOptions({ ...quick, summary: `remove canary copies in ${stage.namespace}` }, [
        { namespace: stage.namespace, records: undo.records, version: status.newVersion ?? undefined },
      ]),
    );
    r.record(`canary complete in ${stage.namespace}: every replica on ${status.newVersion}`);
    status.canaryPercent = null;
    return;
  }
  const batches = stage.batch && live.length > 1 && patched(BATCHES) ? splitBatches(live, stage.batch) : [];
  if (batches.length > 1) return deployInBatches(r, stage, undo, batches);
  await awaitWindow(r, stage, 'the switch');
  r.enter('DEPLOYING', stage.name, `switching ${workloads.length} workload(s) in ${stage.namespace} (${stage.strategy.type})`);
  if (live.length || !viaGit.length) await switchStage(r, undo);
  if (viaGit.length) await switchThroughGit(r, undo, viaGit);
  await rollOutAndVerify(r, stage, workloads);
}

/** After a switch of `workloads`: the rollout, then (with an analysis) the verify window; `what`: the batch, in words. */
async function rollOutAndVerify(r: Rotation, stage: Stage, workloads: WorkloadUse[], what?: string): Promise<void> {
  const rolloutMs = await waitForRollout(r, stage, workloads);
  if (!stage.analysis) return;
  r.enter('VERIFYING', stage.name, `verifying${what ? ` ${what}` : ''} for ${formatDuration(stage.analysis.verifyMs)}`);
  await monitor(r, stage, 'verify', stage.analysis.verifyMs, undefined, firstAfter(stage, rolloutMs));
}

/**
 * A rolling (or in-place) stage a batch at a time: each batch switched, its rollout waited for and its
 * analysis passed before the next, with the stage's pause between batches. What a rollback reverts
 * grows with each batch switched (registered before its switch); later batches are never touched.
 */
async function deployInBatches(r: Rotation, stage: Stage, undo: Undo, batches: WorkloadUse[][]): Promise<void> {
  const { status } = r;
  undo.workloads = [];
  for (const [i, batch] of batches.entries()) {
    const n = `batch ${i + 1} of ${batches.length}`;
    status.batch = { n: i + 1, of: batches.length };
    if (i > 0) await ensureSwitched(r, `${n} in ${stage.namespace}`);
    await awaitWindow(r, stage, n);
    r.enter('DEPLOYING', stage.name, `switching ${n}: ${batch.map((w) => `${w.kind}/${w.name}`).join(', ')} in ${stage.namespace} (${stage.strategy.type})`);
    undo.workloads = batches.slice(0, i + 1).flat();
    await switchStage(r, undo, undefined, undefined, undefined, batch);
    await rollOutAndVerify(r, stage, batch, n);
    if (i < batches.length - 1 && stage.batch!.pauseMs > 0) {
      r.noteWaitEnds(stage.batch!.pauseMs);
      await sleep(stage.batch!.pauseMs, { summary: `pause after ${n} in ${stage.namespace}: ${formatDuration(stage.batch!.pauseMs)}` });
    }
  }
  status.batch = null;
}

/**
 * Switching changes the world, so it is never cancelled half-way: an abort waits for it, then reverts it.
 * `throughGit`: the canary's green copies of these workloads, which Git applies (blue untouched).
 */
async function switchStage(
  r: Rotation,
  undo: Undo,
  weightPercent?: number,
  previousWeightPercent?: number,
  throughGit?: WorkloadUse[],
  batch?: WorkloadUse[],
): Promise<void> {
  const { status } = r;
  const { stage } = undo;
  const workloads = throughGit ?? batch ?? undo.workloads;
  const records = await CancellationScope.nonCancellable(() =>
    acts.switchWorkloads.executeWithOptions(
      {
        ...quick,
        summary:
          weightPercent === undefined
            ? `switch ${workloads.length} workload(s) in ${stage.namespace} to ${status.newVersion}`
            : `canary ${weightPercent}% in ${stage.namespace} on ${status.newVersion}${throughGit ? ' (green copies of what Git applies)' : ''}`,
      },
      [
        {
          stage: stage.name,
          namespace: stage.namespace,
          workloads,
          from: status.previousVersions[stage.namespace]!,
          to: status.newVersion!,
          strategy: stage.strategy.type,
          weightPercent,
          previousWeightPercent,
          rotationId: r.rotationId,
          ...(throughGit ? { throughGit: true } : {}),
        },
      ],
    ),
  );
  if (gitMode(r) || batch) {
    // Two switches a step (live, and Git's green copies), or one a batch: each replaces the records of its own objects.
    const mine = (x: SwitchRecord) => records.some((y) => y.kind === x.kind && y.name === x.name);
    undo.records = [...undo.records.filter((x) => !mine(x)), ...records];
    status.switched = [...status.switched.filter((x) => x.namespace !== stage.namespace || !mine(x)), ...records];
  } else {
    undo.records = records;
    status.switched = [...status.switched.filter((x) => x.namespace !== stage.namespace), ...records];
  }
  const fields = records.reduce((n, x) => n + x.fields.length, 0);
  r.record(
    weightPercent === undefined
      ? `switched ${records.length} workload(s), ${fields} reference(s), in ${stage.namespace} to ${status.newVersion}`
      : `canary at ${weightPercent}% in ${stage.namespace}`,
  );
}

/** Waits for the rollout; returns how long it took, when the activity says (releases before it did not). */
async function waitForRollout(r: Rotation, stage: Stage, workloads: WorkloadUse[]): Promise<number | undefined> {
  const result = await acts.waitForRollout.executeWithOptions(
    {
      ...quick,
      startToCloseTimeout: stage.rolloutTimeoutMs + 60_000,
      retry: { ...quick.retry, maximumAttempts: 3 },
      cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
      summary: `wait for rollout of ${workloads.length} workload(s) in ${stage.namespace}`,
    },
    [
      {
        stage: stage.name,
        namespace: stage.namespace,
        workloads,
        timeoutMs: stage.rolloutTimeoutMs,
        version: r.status.newVersion ?? undefined,
        // Measured while pods are replaced, so a bad version is caught before the rollout ends.
        ...(stage.analysis ? { analysis: stage.analysis } : {}),
      },
    ],
  );
  if (result.check) {
    r.addCheck(result.check);
    throw new RollbackRequired(`rollout check in ${stage.name} failed: ${result.check.reason}`, 'check_failed');
  }
  if (!result.ready) throw new RollbackRequired(`rollout in ${stage.namespace} did not become ready: ${result.message}`, 'rollout_timeout');
  r.record(`rollout ready in ${stage.namespace}: ${result.message}`);
  return result.elapsedMs;
}

/** The first measurement after a rollout: one interval after the switch, not after the rollout's end. */
function firstAfter(stage: Stage, rolloutMs: number | undefined): number | undefined {
  return stage.analysis && rolloutMs !== undefined ? Math.max(0, stage.analysis.intervalMs - rolloutMs) : undefined;
}

/** Measure for `durationMs` at the stage's interval: one heartbeating activity, whatever the duration. */
async function monitor(r: Rotation, stage: Stage, check: CheckKind, durationMs: number, oldVersion?: string, firstMeasurementAfterMs?: number): Promise<void> {
  if (durationMs <= 0) return;
  await ensureSwitched(r, `the ${check} ${check === 'canary' ? 'analysis' : 'check'} in ${stage.name}`);
  r.noteWaitEnds(durationMs);
  if (!stage.analysis) {
    // No metrics configured: the time still passes (a soak is a soak), only rollout health is checked.
    await sleep(durationMs, { summary: `${check} ${stage.name} for ${formatDuration(durationMs)} (no analysis: rollout health only)` });
    return;
  }
  const result = await acts.monitorAnalysis.executeWithOptions(
    {
      ...quick,
      startToCloseTimeout: durationMs + 10 * 60_000,
      retry: { ...quick.retry, maximumAttempts: 5 },
      // An abort waits for the measuring to stop, so no analysis outlives the phase it judged.
      cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
      summary: `${check} ${stage.name}: ${stage.analysis.provider} every ${formatDuration(stage.analysis.intervalMs)} for ${formatDuration(durationMs)}`,
    },
    [
      {
        stage: stage.name,
        check,
        analysis: stage.analysis,
        durationMs,
        namespace: stage.namespace,
        version: r.status.newVersion ?? undefined,
        ...(stage.analysis.baseline && oldVersion ? { baselineVersion: oldVersion } : {}),
        ...(firstMeasurementAfterMs !== undefined ? { firstMeasurementAfterMs } : {}),
      },
    ],
  );
  r.addCheck(result);
  if (result.verdict !== 'passed') throw new RollbackRequired(`${check} check in ${stage.name} ${result.verdict}: ${result.reason}`, 'check_failed');
}
