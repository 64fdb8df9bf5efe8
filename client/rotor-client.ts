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
  statusQuery,
  blankStatus,
  WORKFLOW_TYPE,
  type Phase,
  type RotationStatus,
  type StatusMemo,
} from '../contract/api';
import { formatDuration } from '../domain/duration';
import { rotationWorkflowId, type Plan, type Stage } from '../domain/plan';
import type { RotationInput } from '../contract/api';
import { ENCODING_ENCRYPTED } from '../temporal/codec';
import { dataConverter, temporalSettings, type TemporalSettings } from '../temporal/settings';

export class RotorClientError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RotorClientError';
  }
}

export interface ClientOptions {
  address?: string;
  namespace?: string;
  taskQueue?: string;
}

export interface RotationSummary {
  workflowId: string;
  secret: string;
  phase: string;
  status: string;
  startedAt: string;
}

/**
 * How long the status query may wait for a worker. A worker answers in milliseconds; without one the
 * server holds the query until its deadline.
 */
export const QUERY_DEADLINE_MS = 1200;
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
      connection = await Connection.connect({ address, connectTimeout: '5s' });
    } catch (err) {
      throw new RotorClientError(
        `cannot reach the Temporal server at ${address} (${rootMessage(err)}).\n` +
          `Start one with \`temporal server start-dev\` (the bootstrap puts it in ~/.cache/rotor), or set TEMPORAL_ADDRESS to yours.`,
      );
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
    const workflowId = rotationWorkflowId(plan);
    const input: RotationInput = { plan: document, requestedBy };
    try {
      await this.client.workflow.start(WORKFLOW_TYPE, {
        taskQueue: this.taskQueue,
        workflowId,
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
      });
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

  private async guard<T>(workflowId: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      if (err instanceof WorkflowNotFoundError || /not found/i.test(rootMessage(err))) {
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
        try {
          return { ...((await handle.result()) as RotationStatus), live: true };
        } catch (err) {
          const ended = endedStatusOf(err);
          if (ended) return { ...ended, live: true };
          if (desc.status.name !== 'CONTINUED_AS_NEW') throw new RotorClientError(`rotation ${workflowId} ended ${desc.status.name}: ${rootMessage(err)}`);
        }
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

  async approve(workflowId: string, by: string, comment?: string): Promise<void> {
    await this.guard(workflowId, () => this.handle(workflowId).signal(approveSignal, { by, comment }));
  }

  async abort(workflowId: string, reason: string, by: string): Promise<void> {
    await this.guard(workflowId, () => this.handle(workflowId).signal(abortSignal, { reason, by }));
  }

  async rollback(workflowId: string, reason: string, by: string): Promise<RotationStatus> {
    return this.guard(workflowId, async () => {
      try {
        return await this.handle(workflowId).executeUpdate(rollbackUpdate, { args: [{ reason, by }] });
      } catch (err) {
        const why = (err as { cause?: { message?: string } }).cause?.message;
        if (why) throw new RotorClientError(`rollback refused: ${why}`);
        throw err;
      }
    });
  }

  /**
   * Rotations newest first; `phases` filters by the RotorPhase search attribute (what the Web UI's filter
   * uses too). Read from visibility as the server stores it, search attributes only: neither a worker
   * nor the codec's keys are needed (the status memo, encrypted with them, is not decoded).
   */
  async list(limit = 50, phases?: Phase[]): Promise<RotationSummary[]> {
    const out: RotationSummary[] = [];
    const byPhase = phases?.length ? ` AND ${SA_PHASE.name} IN (${phases.map((p) => `'${p}'`).join(', ')})` : '';
    const query = `WorkflowType = '${WORKFLOW_TYPE}'${byPhase}`;
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
        out.push({
          workflowId: wf.execution?.workflowId ?? '-',
          secret: String(attrs.get(SA_SECRET) ?? '-'),
          phase: String(attrs.get(SA_PHASE) ?? '-'),
          status: statusName(wf.status),
          startedAt: optionalTsToDate(wf.startTime)?.toISOString() ?? '-',
        });
        if (out.length >= limit) return out;
      }
      nextPageToken = page.nextPageToken?.length ? page.nextPageToken : undefined;
    } while (nextPageToken);
    return out;
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

/** A workflow execution status as the SDK names it: RUNNING, COMPLETED, CONTINUED_AS_NEW, ... */
function statusName(code: temporal.api.enums.v1.WorkflowExecutionStatus | null | undefined): string {
  return (temporal.api.enums.v1.WorkflowExecutionStatus[code ?? 0] ?? 'UNSPECIFIED').replace('WORKFLOW_EXECUTION_STATUS_', '');
}

/** The status memo the workflow keeps, if this run writes one. */
function memoOf(desc: WorkflowExecutionDescription): StatusMemo | undefined {
  return desc.memo?.[STATUS_MEMO] as StatusMemo | undefined;
}
