// One rotation's state inside the workflow: the validated plan, the status the query returns (and its
// bookkeeping: events, phases, progress, search attributes, the Web UI's current details), what an
// operator asked for (approve, abort, rollback) and the undo of every switch.
import {
  ApplicationFailure,
  CancellationScope,
  condition,
  proxyLocalActivities,
  setCurrentDetails,
  setHandler,
  upsertMemo,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type { CheckResult, DiscoveredStage, SwitchRecord, WorkloadUse } from '../contract/activities';
import {
  ROLLBACK_PHASES,
  SA_PHASE,
  ENDING_FAILURES,
  SA_SECRET,
  SA_STAGE,
  STATUS_MEMO,
  TERMINAL_PHASES,
  abortSignal,
  blankStatus,
  approveSignal,
  rollbackUpdate,
  statusQuery,
  type Phase,
  type AbortRequest,
  type RotationInput,
  type RotationStatus,
  type StatusMemo,
} from '../contract/api';
import { validatePlan, type Plan, type PlanIssue, type Stage } from '../domain/plan';
import { plannedSteps, stepKey } from '../domain/progress';
import { carriedStatus } from './carry';
import { notifyPhase } from './notify';
import type { RotorActivities } from '../contract/activities';

/** Posting a phase change: short, a few tries, then dropped (the status is the record). */
const announcer = proxyLocalActivities<Pick<RotorActivities, 'announce'>>({
  // A local activity holds its workflow task while it runs: at most about 11 s, even with Datadog down.
  startToCloseTimeout: '5s',
  retry: { initialInterval: '1s', maximumAttempts: 2 },
});

/** Status keeps this many recent events; older ones are counted, not kept, so the state stays small. */
const EVENTS_KEPT = 60;
const CHECKS_KEPT = 40;
/** The memo keeps the last event's message up to this length: enough to read, small to store. */
const MEMO_MESSAGE_CHARS = 300;

export type { AbortRequest, RotationInput };

/** An undo registered before the switch it undoes, so a switch that fails half-way is still reverted. */
export interface Undo {
  stage: Stage;
  workloads: WorkloadUse[];
  records: SwitchRecord[];
  /** Git mode: rotor's commit switching the stage's workloads a GitOps controller applies, reverted on rollback. */
  git?: { commit: string; workloads: WorkloadUse[] };
}

export class Rotation {
  readonly info = workflowInfo();
  readonly plan: Plan;
  readonly issues: PlanIssue[];
  readonly status: RotationStatus;
  /** `<workflow id>/<first run id>`: who created a version, written on it. */
  readonly rotationId: string;
  /** The forward path (DEPLOYING to WATCHING); an abort or the rollback update cancels it. */
  readonly forward = new CancellationScope();
  readonly undos: Undo[] = [];
  discovered: DiscoveredStage[] = [];
  /** Phase changes being posted to Datadog; the workflow waits for them before it ends. */
  readonly announcements: Promise<unknown>[] = [];
  /** Notification deliveries being started (workflows/notify.ts); the workflow waits for the starts, however it ends. */
  readonly deliveries: Promise<unknown>[] = [];
  /** The memo last written, so an unchanged one costs no history event. */
  private memoed = '';
  abortRequest: AbortRequest | null;
  approvalFor: string | null = null;
  approvalGiven = false;
  private readonly steps: string[];

  constructor(readonly input: RotationInput) {
    const started = new Date().toISOString();
    const { plan, issues } = validatePlan(input.plan);
    this.plan = plan;
    this.issues = issues;
    this.steps = plannedSteps(plan);
    const fresh = blankStatus({
      workflowId: this.info.workflowId,
      secret: plan.secret,
      phase: 'PLANNING',
      stage: null,
      stages: plan.stages.map((s) => s.name),
      progress: { step: 1, total: this.steps.length, key: 'PLANNING' },
      planIssues: issues,
      startedAt: started,
    });
    // A run carried by an older release may lack fields added since: every field gets its default.
    this.status = input.carry ? carriedStatus(input.carry.status, fresh) : fresh;
    this.abortRequest = input.carry?.abort ?? null;
    this.rotationId = `${this.info.workflowId}/${this.info.firstExecutionRunId}`;
    this.handleOperators();
    upsertSearchAttributes([
      { key: SA_SECRET, value: plan.secret || '-' },
      { key: SA_PHASE, value: this.status.phase },
      { key: SA_STAGE, value: this.status.stage ?? '-' },
    ]);
  }

  /** The abort or rollback the operator asked for, if any (a call, so checks after an await see it fresh). */
  aborted(): AbortRequest | null {
    return this.abortRequest;
  }

  record(message: string): void {
    const { status } = this;
    const now = new Date().toISOString();
    status.events.push({ at: now, phase: status.phase, stage: status.stage, message });
    status.eventCount += 1;
    if (status.events.length > EVENTS_KEPT) status.events.splice(0, status.events.length - EVENTS_KEPT);
    status.updatedAt = now;
  }

  /** The Web UI's current details: the phase, versions, canary, what it waits for and the last event. */
  details(): void {
    const { status } = this;
    const lines = [
      `**${status.secret}** — ${status.phase}${status.stage ? ` (stage ${status.stage})` : ''}`,
      `new: ${status.newVersion ?? '-'} · previous: ${status.previousVersion ?? '-'}`,
    ];
    if (status.canaryPercent !== null) lines.push(`canary: ${status.canaryPercent}%`);
    if (status.batch) lines.push(`batch: ${status.batch.n} of ${status.batch.of}`);
    const waiting = waitingFor(status, this.info.workflowId);
    if (waiting) lines.push(`waiting for ${waiting}${status.waitingUntil ? ` until ${status.waitingUntil}` : ''}`);
    const last = status.events[status.events.length - 1];
    if (last) lines.push(`last: ${last.message}`);
    setCurrentDetails(lines.join('\n'));
    this.remember();
  }

  /**
   * Keeps a summary of the status in the memo (STATUS_MEMO), which the server serves without a
   * worker: while no worker can answer the status query, `rotor status` shows it instead of hanging.
   * Each upsert is a history event (about one per phase step), so only a changed memo is written.
   */
  private remember(): void {
    const memo = statusMemo(this.status);
    const text = JSON.stringify(memo);
    if (text === this.memoed) return;
    this.memoed = text;
    upsertMemo({ [STATUS_MEMO]: memo });
  }

  enter(phase: Phase, stage: string | null, message: string, canaryPercent: number | null = null): void {
    const { status } = this;
    const stageChanged = stage !== status.stage;
    const phaseChanged = phase !== status.phase;
    status.phase = phase;
    status.stage = stage;
    const key = stepKey(phase, stage, canaryPercent);
    const at = this.steps.indexOf(key);
    // Off the happy path (rolling back, failed) the step stays where it was.
    if (at >= 0) status.progress = { step: at + 1, total: this.steps.length, key };
    status.waitingUntil = null;
    this.record(message);
    const pairs = [{ key: SA_PHASE, value: phase }];
    upsertSearchAttributes(stageChanged ? [...pairs, { key: SA_STAGE, value: stage ?? '-' }] : pairs);
    this.details();
    if (phaseChanged || stageChanged) this.announce(phase, stage, message);
    if (phaseChanged) notifyPhase(this, phase);
  }

  /**
   * Posts the phase change as a Datadog event, so dashboards show the rotation beside its metrics.
   * Never in the way: not awaited here, not cancelled by an abort, and a failure to post is dropped
   * (the event stream is a view; the status is the record).
   */
  private announce(phase: Phase, stage: string | null, message: string): void {
    if (!this.plan.stages.some((s) => s.analysis?.provider === 'datadog')) return;
    const namespace = this.plan.stages.find((s) => s.name === stage)?.namespace ?? null;
    const input = { workflowId: this.info.workflowId, secret: this.plan.secret, phase, stage, namespace, message, newVersion: this.status.newVersion };
    // A local activity: one marker in the history per phase change, not a scheduled task's five events.
    const posted = CancellationScope.nonCancellable(() => announcer.announce(input)).catch(() => undefined);
    this.announcements.push(posted);
  }

  /** Says in the status and the current details when the wait about to begin ends; the caller does the waiting. */
  noteWaitEnds(ms: number): void {
    this.status.waitingUntil = new Date(Date.now() + ms).toISOString();
    this.details();
  }

  addCheck(check: CheckResult): void {
    const { status } = this;
    status.checks.push(check);
    if (status.checks.length > CHECKS_KEPT) status.checks.splice(0, status.checks.length - CHECKS_KEPT);
    this.record(`${check.check} check in ${check.stage}: ${check.verdict} — ${check.reason}`);
  }

  /** End in FAILED, saying why and what was left where. */
  fail(reason: string): never {
    const { status } = this;
    status.outcome = `failed: ${reason}`;
    this.enter('FAILED', status.stage, `${reason}${status.leftovers.length ? ` — left: ${status.leftovers.join('; ')}` : ''}`);
    throw ApplicationFailure.nonRetryable(`rotation of ${this.plan.secret} FAILED: ${reason}`, ENDING_FAILURES.FAILED, status);
  }

  /** The status query, and the operator's approve and abort signals and rollback update. */
  private handleOperators(): void {
    const { status } = this;
    setHandler(statusQuery, () => status);

    setHandler(approveSignal, ({ by, comment }) => {
      if (status.phase !== 'AWAITING_APPROVAL' || !this.approvalFor) {
        this.record(`approval by ${by} ignored: nothing awaits approval in phase ${status.phase}`);
        return;
      }
      this.approvalGiven = true;
      status.approvals.push({ stage: this.approvalFor, by, comment: comment ?? '', at: new Date().toISOString() });
      this.record(`approved by ${by} for ${this.approvalFor}${comment ? `: ${comment}` : ''}`);
    });

    setHandler(abortSignal, ({ reason, by }) => {
      if (TERMINAL_PHASES.includes(status.phase) || status.phase === 'ROLLING_BACK' || this.abortRequest) {
        this.record(`abort by ${by ?? 'operator'} ignored in phase ${status.phase}: ${reason}`);
        return;
      }
      this.abortRequest = { reason, by: by ?? 'operator' };
      this.record(`abort requested by ${this.abortRequest.by}: ${reason}`);
      this.forward.cancel();
    });

    setHandler(
      rollbackUpdate,
      async ({ reason, by }) => {
        this.abortRequest = { reason: `rollback requested: ${reason}`, by: by ?? 'operator' };
        this.record(`rollback requested by ${this.abortRequest.by}: ${reason}`);
        this.forward.cancel();
        await condition(() => status.phase === 'ROLLED_BACK' || status.phase === 'FAILED');
        return status;
      },
      {
        validator: ({ reason }) => {
          if (typeof reason !== 'string' || reason.trim() === '') throw new Error('rollback needs a reason: rotor rollback <id> --reason "..."');
          if (!ROLLBACK_PHASES.includes(status.phase) || this.abortRequest) {
            const why = this.abortRequest
              ? 'a rollback or abort is already under way'
              : TERMINAL_PHASES.includes(status.phase) || status.phase === 'RETAINING' || status.phase === 'CLEANING_UP'
                ? 'the new version is already committed; start a new rotation to move on'
                : 'nothing has been switched yet; use `rotor abort` to stop the rotation';
            throw new Error(`rollback is possible from DEPLOYING to WATCHING, not in ${status.phase}: ${why}`);
          }
        },
      },
    );
  }
}

/** The memo's summary of a status: where the rotation stands and its last event, no lists, no values. */
function statusMemo(status: RotationStatus): StatusMemo {
  const last = status.events[status.events.length - 1];
  return {
    phase: status.phase,
    stage: status.stage,
    newVersion: status.newVersion,
    previousVersion: status.previousVersion,
    canaryPercent: status.canaryPercent,
    waitingUntil: status.waitingUntil,
    progress: status.progress,
    last: last ? { at: last.at, message: last.message.slice(0, MEMO_MESSAGE_CHARS) } : null,
    eventCount: status.eventCount,
    updatedAt: status.updatedAt,
  };
}

/** What a rotation in this phase waits for, in the operator's words (the Web UI's current details); null when it waits for nothing. */
function waitingFor(status: RotationStatus, workflowId: string): string | null {
  const stage = status.stage ?? '';
  switch (status.phase) {
    case 'AWAITING_APPROVAL':
      return `approval of ${stage} (rotor approve ${workflowId}; without it, a rollback)`;
    case 'DEPLOYING':
      return `the rollout in ${stage}`;
    case 'VERIFYING':
      return `the analysis of ${stage}${status.canaryPercent !== null ? ` at ${status.canaryPercent}%` : ''}`;
    case 'SOAKING':
      return `the soak of ${stage} to end (measuring)`;
    case 'WATCHING':
      return `the watch of ${stage} to end (measuring; rotor rollback ${workflowId} until then)`;
    case 'RETAINING':
      return `the retention of ${status.previousVersion ?? 'the previous version'} to end`;
    case 'CLEANING_UP':
      return status.waitingUntil ? `the next scan for what still refers to ${status.previousVersion ?? 'the previous version'}` : null;
    case 'ROLLING_BACK':
      return status.waitingUntil ? 'the next attempt to revert' : null;
    default:
      return null;
  }
}
