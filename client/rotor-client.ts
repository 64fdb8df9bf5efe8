// A small typed client for rotations: start, status, approve, abort, rollback, list.
import { Client, Connection, WorkflowExecutionAlreadyStartedError, WorkflowNotFoundError, type WorkflowHandle } from '@temporalio/client';
import {
  abortSignal,
  approveSignal,
  rollbackUpdate,
  SA_PHASE,
  SA_SECRET,
  SA_STAGE,
  statusQuery,
  WORKFLOW_TYPE,
  type Phase,
  type RotationStatus,
} from '../contract/api';
import { formatDuration } from '../domain/duration';
import { rotationWorkflowId, type Plan, type Stage } from '../domain/plan';
import type { RotationInput } from '../contract/api';
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
      throw err;
    }
  }

  /** The live status; for a finished rotation whose worker is gone, the status it ended with. */
  async status(workflowId: string): Promise<RotationStatus> {
    return this.guard(workflowId, async () => {
      const handle = this.handle(workflowId);
      const desc = await handle.describe();
      if (desc.status.name !== 'RUNNING') {
        try {
          return (await handle.result()) as RotationStatus;
        } catch (err) {
          const details = (err as { cause?: { details?: unknown[] } }).cause?.details?.[0];
          if (details && typeof details === 'object' && 'phase' in details) return details as RotationStatus;
          if (desc.status.name !== 'CONTINUED_AS_NEW') throw new RotorClientError(`rotation ${workflowId} ended ${desc.status.name}: ${rootMessage(err)}`);
        }
      }
      try {
        return await handle.query(statusQuery);
      } catch (err) {
        throw new RotorClientError(
          `rotation ${workflowId} is running but no worker answered (${rootMessage(err)}); is \`rotor worker\` running on task queue ${this.taskQueue}?`,
        );
      }
    });
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

  /** Rotations newest first; `phases` filters by the RotorPhase search attribute (what the Web UI's filter uses too). */
  async list(limit = 50, phases?: Phase[]): Promise<RotationSummary[]> {
    const out: RotationSummary[] = [];
    const byPhase = phases?.length ? ` AND ${SA_PHASE.name} IN (${phases.map((p) => `'${p}'`).join(', ')})` : '';
    for await (const wf of this.client.workflow.list({ query: `WorkflowType = '${WORKFLOW_TYPE}'${byPhase}` })) {
      out.push({
        workflowId: wf.workflowId,
        secret: String(wf.typedSearchAttributes.get(SA_SECRET) ?? '-'),
        phase: String(wf.typedSearchAttributes.get(SA_PHASE) ?? '-'),
        status: wf.status.name,
        startedAt: wf.startTime.toISOString(),
      });
      if (out.length >= limit) break;
    }
    return out;
  }
}
