// A small typed client for rotations: start, status, approve, abort, rollback, list.
import {
  Client,
  Connection,
  isGrpcCancelledError,
  isGrpcDeadlineError,
  WorkflowExecutionAlreadyStartedError,
  WorkflowNotFoundError,
  type WorkflowExecutionDescription,
  type WorkflowHandle,
} from '@temporalio/client';
import { decodeTypedSearchAttributes } from '@temporalio/common/lib/converter/payload-search-attributes';
import { decodeMapFromPayloads } from '@temporalio/common/lib/internal-non-workflow/codec-helpers';
import { optionalTsToDate, optionalTsToMs } from '@temporalio/common/lib/time';
import { temporal } from '@temporalio/proto';
import {
  abortSignal,
  approveSignal,
  endedStatusOf,
  rollbackUpdate,
  SA_PHASE,
  SA_SECRET,
  SA_STAGE,
  STATUS_MEMO,
  TERMINAL_PHASES,
  statusQuery,
  blankStatus,
  WORKFLOW_TYPE,
  type Phase,
  type RotationStatus,
  type StatusMemo,
} from '../contract/api';
import { formatDuration } from '../domain/duration';
import type { Plan, Stage } from '../domain/plan';
import { rotationWorkflowId } from '../domain/naming';
import type { RotationInput } from '../contract/api';
import { ENCODING_ENCRYPTED } from '../temporal/codec';
import { dataConverter, TemporalUnreachableError, temporalSettings, type TemporalSettings } from '../temporal/settings';
import { RotorClientError } from './errors';

export { RotorClientError } from './errors';

export interface ClientOptions {
  address?: string;
  namespace?: string;
  taskQueue?: string;
  /** How long to wait for the server to answer the first time (default 5 s). */
  connectTimeoutMs?: number;
}

/** One rotation as `rotor list` shows it: its last run, read from the server's visibility store. */
export interface RotationSummary {
  workflowId: string;
  runId: string;
  secret: string;
  /** The RotorPhase search attribute (ROLLED_BACK for a rolled-back rotation); the execution's status when the run ended elsewhere (TERMINATED, TIMED_OUT). */
  phase: string;
  stage: string | null;
  /** The execution's status: RUNNING, COMPLETED, FAILED, ... */
  status: string;
  /** When the rotation started: its first run's start, across continue-as-new. */
  startedAt: string;
  closedAt: string | null;
  /** With `summaries`: an ended rotation's outcome, a running one's last event; null when not asked for or not readable. */
  summary?: string | null;
}

/** How a rotation ended: its last phase and when, with its final status when it could be read. */
export interface Ending {
  phase: string;
  closedAt: string;
  status: RotationStatus | null;
}

/** The workers polling a task queue, as the server remembers them (for a few minutes after their last poll). */
export interface Poller {
  identity: string;
  buildId: string | null;
  lastPolledAt: string | null;
}

/**
 * How long the status query may wait for a worker. A worker answers in milliseconds; without one the
 * server holds the query until its deadline.
 */
const QUERY_DEADLINE_MS = 1200;
/** However soon an answer is due, a worker gets this long to answer the query. */
const MIN_QUERY_MS = 500;
/** Kept after the query gives up, before an answer is due: the recorded status still has to be printed. */
const AFTER_QUERY_MS = 350;
/**
 * A worker that runs polls again at least this often (a poll waits up to a minute for a task): a last
 * poll older than this means no worker polls; a newer one may be a worker that is busy, or just stopped.
 */
export const POLL_WINDOW_MS = 90_000;
/** describeTaskQueue is asked only to say since when no worker polled; it must not hold the answer up. */
const POLLERS_DEADLINE_MS = 1000;

export interface StatusOptions {
  /**
   * When the answer is due (ms since the epoch), e.g. 2 s after the command was typed: the query
   * waits for a worker until shortly before, at most QUERY_DEADLINE_MS. Default: QUERY_DEADLINE_MS.
   */
  answerBy?: number;
}

/** The status query's deadline: QUERY_DEADLINE_MS from now, sooner to answer by `answerBy`, never under MIN_QUERY_MS. */
function queryDeadline(now: number, answerBy = Infinity): number {
  return Math.max(now + MIN_QUERY_MS, Math.min(now + QUERY_DEADLINE_MS, answerBy - AFTER_QUERY_MS));
}

/** Whether a worker answered: and if none did, why, since when, and when the status shown was recorded. */
export interface Liveness {
  /** true: a worker answered the status query just now, or the rotation has ended and this is its final status. */
  live: boolean;
  /** Not live: why no worker answered (the query's deadline passed, or how the query failed). */
  reason?: string;
  /** Not live: the task queue the rotation's workers poll. */
  taskQueue?: string;
  /**
   * Not live: the last time a worker polled that task queue; null when the server has seen none (it
   * forgets pollers after a few minutes), absent when the server could not be asked.
   */
  workerSeen?: string | null;
  /** Not live: when the workflow recorded what is shown; null when only its search attributes were there. */
  recordedAt?: string | null;
}

/** A rotation's status as `rotor status` shows it: the workflow's own, or what the server recorded of it. */
export type ObservedStatus = RotationStatus & Liveness;

function rootMessage(err: unknown): string {
  let e = err as { message?: string; cause?: unknown } | undefined;
  while (e?.cause) e = e.cause as typeof e;
  return e?.message ?? String(err);
}

/** One stage as the Web UI's details list it: where, how, and what it waits for. */
function describeStage(s: Stage): string {
  const how = s.strategy.type === 'canary' ? `canary ${s.strategy.steps.join(' → ')}% (${formatDuration(s.strategy.pauseMs)} each)` : s.strategy.type;
  const bits = [s.namespace, how];
  if (s.approval === 'required') bits.push(`approval required (up to ${formatDuration(s.approvalTimeoutMs)})`);
  if (s.soakMs > 0) bits.push(`soak ${formatDuration(s.soakMs)}`);
  if (s.watchMs > 0) bits.push(`watch ${formatDuration(s.watchMs)}`);
  if (s.analysis) bits.push(`analysis ${s.analysis.provider}, threshold ${s.analysis.threshold}`);
  return bits.join(', ');
}

/**
 * What starting a rotation of `plan` asks of Temporal: the workflow id, task queue, input, the Web
 * UI's summary and details, and the search attributes. `rotor start` starts it once; a schedule's
 * action starts it at each run (Temporal then appends the run's time to the workflow id).
 */
export function rotationStartOptions(document: Record<string, unknown>, plan: Plan, requestedBy: string, taskQueue: string) {
  const input: RotationInput = { plan: document, requestedBy };
  return {
    taskQueue,
    workflowId: rotationWorkflowId(plan),
    args: [input],
    // The Web UI's one-line summary; the details below say where and how each stage runs.
    staticSummary: `rotate ${plan.secret}: ${plan.stages.map((s) => s.name).join(' → ')}`,
    staticDetails: [
      `**secret** ${plan.secret} · **store** ${plan.store} · **retention** ${formatDuration(plan.retentionMs)}`,
      ...plan.stages.map((s) => `- ${s.name}: ${describeStage(s)}`),
      `requested by ${requestedBy}`,
    ].join('\n'),
    typedSearchAttributes: [
      { key: SA_SECRET, value: plan.secret },
      { key: SA_PHASE, value: 'PLANNING' },
      { key: SA_STAGE, value: '-' },
    ],
  };
}

export class RotorClient {
  private constructor(
    readonly client: Client,
    readonly connection: Connection,
    readonly address: string,
    readonly taskQueue: string,
  ) {}

  static async connect(options: ClientOptions = {}): Promise<RotorClient> {
    let settings: TemporalSettings;
    const converter = dataConverter(); // unusable codec keys are refused before anything is contacted
    try {
      settings = temporalSettings(process.env, options);
    } catch (err) {
      throw new RotorClientError((err as Error).message);
    }
    const { address, namespace, taskQueue } = settings;
    let connection: Connection;
    try {
      connection = await Connection.connect({ address, connectTimeout: options.connectTimeoutMs ?? 5000 });
    } catch (err) {
      throw new TemporalUnreachableError(address, err);
    }
    return new RotorClient(new Client({ connection, namespace, dataConverter: converter }), connection, address, taskQueue);
  }

  async close(): Promise<void> {
    await this.connection.close();
  }

  handle(workflowId: string): WorkflowHandle {
    return this.client.workflow.getHandle(workflowId);
  }

  async start(document: Record<string, unknown>, plan: Plan, requestedBy: string): Promise<string> {
    const options = rotationStartOptions(document, plan, requestedBy, this.taskQueue);
    const { workflowId } = options;
    try {
      await this.client.workflow.start(WORKFLOW_TYPE, options);
    } catch (err) {
      if (err instanceof WorkflowExecutionAlreadyStartedError) {
        throw new RotorClientError(
          `a rotation of ${plan.secret} in ${plan.stages[0].namespace} is already running (${workflowId}); only one runs at a time.\n` +
            `Follow it with \`rotor status ${workflowId} --watch\`, or stop it with \`rotor abort ${workflowId} --reason "..."\`.`,
        );
      }
      throw err;
    }
    return workflowId;
  }

  /**
   * `fn` on the rotation, its errors in an operator's words. `nothingTo` names what the command does
   * (approve, abort, roll back): the server answers "not found" to a signal or update sent to a
   * rotation that has ended, which is then said as such.
   */
  private async guard<T>(workflowId: string, fn: () => Promise<T>, nothingTo?: string): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      if (err instanceof WorkflowNotFoundError || /not found|already completed/i.test(rootMessage(err))) {
        const ending = nothingTo ? await this.ending(workflowId).catch(() => null) : null;
        if (ending) throw endedError(workflowId, ending, nothingTo!);
        throw new RotorClientError(`no rotation with id ${workflowId}; \`rotor list\` shows the rotations on ${this.address}`);
      }
      // Without the worker's keys the status (its memo included) cannot be read: say so, not "Unknown encoding".
      if (rootMessage(err).includes(`Unknown encoding: ${ENCODING_ENCRYPTED}`)) {
        throw new RotorClientError(
          `the payloads of ${workflowId} are encrypted; set ROTOR_CODEC_KEYS_FILE or ROTOR_CODEC_KEY to the worker's keys to read its status`,
        );
      }
      throw err;
    }
  }

  /**
   * The live status; for a finished rotation whose worker is gone, the status it ended with. While no
   * worker answers, what the server keeps (the memo the workflow writes at each phase change, its
   * search attributes), marked not live, with since when no worker has polled its task queue.
   */
  async status(workflowId: string, options: StatusOptions = {}): Promise<ObservedStatus> {
    return this.guard(workflowId, async () => {
      const handle = this.handle(workflowId);
      const desc = await handle.describe();
      if (desc.status.name !== 'RUNNING') {
        const ended = await finalStatus(handle);
        if ('status' in ended) return { ...ended.status, live: true };
        if (desc.status.name !== 'CONTINUED_AS_NEW')
          throw new RotorClientError(`rotation ${workflowId} ended ${desc.status.name}: ${rootMessage(ended.error)}`);
      }
      // Asked beside the query (it never fails), so that an answer without a worker waits for one call only.
      const seen = this.workerSeen(desc.taskQueue);
      const asked = Date.now();
      const deadline = queryDeadline(asked, options.answerBy);
      try {
        const live = await this.connection.withDeadline(deadline, () => handle.query(statusQuery));
        return { ...live, live: true };
      } catch (err) {
        // The deadline shows as DEADLINE_EXCEEDED, or as CANCELLED when the server gives up first.
        const reason =
          isGrpcDeadlineError(err) || isGrpcCancelledError(err)
            ? `no worker answered within ${((deadline - asked) / 1000).toFixed(1)} s`
            : `the status query failed (${rootMessage(err)})`;
        const workerSeen = await seen;
        return { ...recordedStatus(desc), live: false, reason, taskQueue: desc.taskQueue, workerSeen, recordedAt: memoOf(desc)?.updatedAt ?? null };
      }
    });
  }

  /**
   * The last time a worker polled `taskQueue` for workflow tasks (the ones that answer queries), as
   * the server remembers its pollers: null when it remembers none, undefined when it cannot be asked.
   */
  async workerSeen(taskQueue = this.taskQueue): Promise<string | null | undefined> {
    try {
      const { pollers } = await this.connection.withDeadline(Date.now() + POLLERS_DEADLINE_MS, () =>
        this.client.workflowService.describeTaskQueue({
          namespace: this.client.options.namespace,
          taskQueue: { name: taskQueue, kind: temporal.api.enums.v1.TaskQueueKind.TASK_QUEUE_KIND_NORMAL },
          taskQueueType: temporal.api.enums.v1.TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW,
        }),
      );
      const seen = (pollers ?? []).map((p) => optionalTsToMs(p.lastAccessTime) ?? 0).filter((ms) => ms > 0);
      return seen.length ? new Date(Math.max(...seen)).toISOString() : null;
    } catch {
      return undefined;
    }
  }

  /**
   * How the rotation ended, or null while it runs (a run that continued as new runs on). The phase
   * is its final status's (a result, or the status a RotationFailed or RotationRolledBack failure
   * carries), else its RotorPhase search attribute, else the execution's status.
   */
  async ending(workflowId: string, runId?: string): Promise<Ending | null> {
    const handle = this.client.workflow.getHandle(workflowId, runId);
    const desc = await handle.describe();
    if (desc.status.name === 'RUNNING' || desc.status.name === 'CONTINUED_AS_NEW') return null;
    const ended = await finalStatus(handle);
    const status = 'status' in ended ? ended.status : null;
    const recorded = desc.typedSearchAttributes.get(SA_PHASE);
    const phase = status?.phase ?? (recorded && TERMINAL_PHASES.includes(recorded as Phase) ? recorded : desc.status.name);
    return { phase, closedAt: desc.closeTime?.toISOString() ?? '(unknown)', status };
  }

  async approve(workflowId: string, by: string, comment?: string): Promise<void> {
    await this.guard(workflowId, () => this.handle(workflowId).signal(approveSignal, { by, comment }), 'approve');
  }

  async abort(workflowId: string, reason: string, by: string): Promise<void> {
    await this.guard(workflowId, () => this.handle(workflowId).signal(abortSignal, { reason, by }), 'abort');
  }

  /**
   * The rollback update; its answer is the rolled-back status. A rotation that ends while the update
   * waits (rolled back, it ends) answers with its final status instead, however it ended. `started`
   * is called once the rotation is known to run, before the update is sent.
   */
  async rollback(workflowId: string, reason: string, by: string, started: () => void = () => undefined): Promise<RotationStatus> {
    const nothingTo = 'roll back';
    return this.guard(
      workflowId,
      async () => {
        const before = await this.ending(workflowId);
        if (before) throw endedError(workflowId, before, nothingTo);
        // Only now, the rotation running: an ended one's refusal comes without a "rolling back" before it.
        started();
        try {
          return await this.handle(workflowId).executeUpdate(rollbackUpdate, { args: [{ reason, by }] });
        } catch (err) {
          const after = await this.ending(workflowId).catch(() => null);
          if (after?.status?.phase === 'ROLLED_BACK') return after.status;
          if (after) throw endedError(workflowId, after, nothingTo);
          const why = (err as { cause?: { message?: string } }).cause?.message;
          if (why) throw new RotorClientError(`rollback refused: ${why}`);
          throw err;
        }
      },
      nothingTo,
    );
  }

  /**
   * Rotations newest first (by when each started), a rotation's last run only; `phases` filters by the
   * RotorPhase search attribute (what the Web UI's filter uses too). Read from visibility, search
   * attributes only: neither a worker nor the codec's keys are needed (the status memo, encrypted with
   * them, is not decoded) unless `summaries` asks for each rotation's outcome or last event.
   */
  async list(limit = 50, phases?: Phase[], options: { summaries?: boolean } = {}): Promise<RotationSummary[]> {
    const runs: { summary: RotationSummary; firstRunId: string; memo: temporal.api.common.v1.IMemo | null | undefined }[] = [];
    const byPhase = phases?.length ? ` AND ${SA_PHASE.name} IN (${phases.map((p) => `'${p}'`).join(', ')})` : '';
    // A run that continued as new is the same rotation as the run after it.
    const query = `WorkflowType = '${WORKFLOW_TYPE}' AND ExecutionStatus != 'ContinuedAsNew'${byPhase}`;
    let nextPageToken: Uint8Array | undefined;
    do {
      const page = await this.client.workflowService.listWorkflowExecutions({
        namespace: this.client.options.namespace,
        query,
        pageSize: limit,
        nextPageToken,
      });
      for (const wf of page.executions ?? []) {
        const attrs = decodeTypedSearchAttributes(wf.searchAttributes?.indexedFields);
        const status = statusName(wf.status);
        const recorded = (key: typeof SA_PHASE) => {
          const v = attrs.get(key);
          return v && v !== '-' ? String(v) : null;
        };
        const phase = recorded(SA_PHASE);
        const runId = wf.execution?.runId ?? '';
        runs.push({
          summary: {
            workflowId: wf.execution?.workflowId ?? '-',
            runId,
            secret: recorded(SA_SECRET) ?? '-',
            // A run ended by someone else (terminated, timed out) stopped in the phase it was in: say how it ended.
            phase: phase && (status === 'RUNNING' || TERMINAL_PHASES.includes(phase as Phase)) ? phase : status,
            stage: recorded(SA_STAGE),
            status,
            startedAt: optionalTsToDate(wf.startTime)?.toISOString() ?? '-',
            closedAt: optionalTsToDate(wf.closeTime)?.toISOString() ?? null,
          },
          firstRunId: wf.firstRunId || runId,
          memo: wf.memo,
        });
      }
      nextPageToken = page.nextPageToken?.length && runs.length < limit ? page.nextPageToken : undefined;
    } while (nextPageToken);
    const rows = await Promise.all(
      runs.slice(0, limit).map(async ({ summary, firstRunId, memo }) => {
        // A rotation that continued as new started with its first run.
        if (firstRunId !== summary.runId) summary.startedAt = (await this.startOf(summary.workflowId, firstRunId)) ?? summary.startedAt;
        if (options.summaries) summary.summary = await this.summaryOf(summary, memo);
        return summary;
      }),
    );
    return rows.sort((a, b) => b.startedAt.localeCompare(a.startedAt));
  }

  private async startOf(workflowId: string, runId: string): Promise<string | null> {
    try {
      return (await this.client.workflow.getHandle(workflowId, runId).describe()).startTime.toISOString();
    } catch {
      return null;
    }
  }

  /** An ended rotation's outcome, a running one's last event (from its memo); null when it cannot be read (e.g. encrypted, no keys). */
  private async summaryOf(row: RotationSummary, memo: temporal.api.common.v1.IMemo | null | undefined): Promise<string | null> {
    try {
      if (row.status !== 'RUNNING') {
        const ended = await finalStatus(this.client.workflow.getHandle(row.workflowId, row.runId));
        if ('status' in ended) return ended.status.outcome;
      }
      const fields = await decodeMapFromPayloads(this.client.options.loadedDataConverter, memo?.fields);
      return (fields?.[STATUS_MEMO] as StatusMemo | undefined)?.last?.message ?? null;
    } catch {
      return null;
    }
  }

  /** The server's version (GetSystemInfo), asked with a deadline. */
  async serverVersion(deadlineMs: number): Promise<string> {
    const info = await this.connection.withDeadline(Date.now() + deadlineMs, () => this.client.workflowService.getSystemInfo({}));
    return info.serverVersion || '(not said)';
  }

  /** The workers that polled the task queue lately, workflow and activity pollers alike, by identity. */
  async pollers(deadlineMs: number, taskQueue = this.taskQueue): Promise<Poller[]> {
    const { TaskQueueType, TaskQueueKind } = temporal.api.enums.v1;
    const types = [TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW, TaskQueueType.TASK_QUEUE_TYPE_ACTIVITY];
    const answers = await this.connection.withDeadline(Date.now() + deadlineMs, () =>
      Promise.all(
        types.map((taskQueueType) =>
          this.client.workflowService.describeTaskQueue({
            namespace: this.client.options.namespace,
            taskQueue: { name: taskQueue, kind: TaskQueueKind.TASK_QUEUE_KIND_NORMAL },
            taskQueueType,
          }),
        ),
      ),
    );
    const byIdentity = new Map<string, Poller>();
    for (const p of answers.flatMap((a) => a.pollers ?? [])) {
      const identity = p.identity || '(unnamed)';
      const lastPolledAt = optionalTsToDate(p.lastAccessTime)?.toISOString() ?? null;
      const seen = byIdentity.get(identity);
      if (seen && (seen.lastPolledAt ?? '') >= (lastPolledAt ?? '')) continue;
      byIdentity.set(identity, { identity, buildId: p.workerVersionCapabilities?.buildId || null, lastPolledAt });
    }
    return [...byIdentity.values()].sort((a, b) => a.identity.localeCompare(b.identity));
  }
}

/**
 * The status as the server holds it without a worker: the memo the workflow keeps (workflows/state.ts),
 * or for runs without one, the phase and stage of its search attributes. Lists the workflow keeps in
 * its state (checks, switched workloads, events beyond the last) are a worker's to tell.
 */
function recordedStatus(desc: WorkflowExecutionDescription): RotationStatus {
  const memo = memoOf(desc);
  const attr = (key: typeof SA_PHASE) => {
    const v = desc.typedSearchAttributes.get(key);
    return v && v !== '-' ? String(v) : null;
  };
  const phase = memo?.phase ?? ((attr(SA_PHASE) ?? 'PLANNING') as Phase);
  const stage = memo ? memo.stage : attr(SA_STAGE);
  const startedAt = desc.startTime.toISOString();
  const blank = blankStatus({
    workflowId: desc.workflowId,
    secret: attr(SA_SECRET) ?? '-',
    phase,
    stage,
    stages: [],
    // total 0: where on the happy path is unknown (a run from before the memo).
    progress: memo?.progress ?? { step: 0, total: 0, key: phase },
    planIssues: [],
    startedAt,
  });
  return {
    ...blank,
    newVersion: memo?.newVersion ?? null,
    previousVersion: memo?.previousVersion ?? null,
    canaryPercent: memo?.canaryPercent ?? null,
    waitingUntil: memo?.waitingUntil ?? null,
    events: memo?.last ? [{ at: memo.last.at, phase, stage, message: memo.last.message }] : [],
    eventCount: memo?.eventCount ?? 0,
    updatedAt: memo?.updatedAt ?? startedAt,
  };
}

function endedError(workflowId: string, ending: Ending, nothingTo: string): RotorClientError {
  return new RotorClientError(`rotation ${workflowId} has ended ${ending.phase} at ${ending.closedAt}; nothing to ${nothingTo}`);
}

/**
 * The status a rotation ended with, read the same whether it completed (its result) or failed
 * carrying its status (RotationFailed, RotationRolledBack: the failure's details); else the error.
 */
export async function finalStatus(handle: Pick<WorkflowHandle, 'result'>): Promise<{ status: RotationStatus } | { error: unknown }> {
  try {
    return { status: (await handle.result()) as RotationStatus };
  } catch (err) {
    const status = endedStatusOf(err);
    return status ? { status } : { error: err };
  }
}

/** A workflow execution status as the SDK names it: RUNNING, COMPLETED, CONTINUED_AS_NEW, ... */
function statusName(code: temporal.api.enums.v1.WorkflowExecutionStatus | null | undefined): string {
  return (temporal.api.enums.v1.WorkflowExecutionStatus[code ?? 0] ?? 'UNSPECIFIED').replace('WORKFLOW_EXECUTION_STATUS_', '');
}

/** The status memo the workflow keeps, if this run writes one. */
function memoOf(desc: WorkflowExecutionDescription): StatusMemo | undefined {
  return desc.memo?.[STATUS_MEMO] as StatusMemo | undefined;
}
