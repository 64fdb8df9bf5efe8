// Rotation schedules on Temporal Schedules (the Web UI's Schedules page shows them): create, list,
// pause, unpause, delete and trigger, with errors in an operator's words.
import { ScheduleAlreadyRunning, ScheduleNotFoundError, type ScheduleDescription, type ScheduleHandle } from '@temporalio/client';
import { WORKFLOW_TYPE } from '../contract/api';
import { rotationStartOptions, RotorClientError, type RotorClient } from './rotor-client';
import { describeWhen, rotationSchedule, rotationScheduleId, SCHEDULE_MEMO, scheduledRequester, type CreateRequest, type ScheduleMemo } from './schedule-spec';

/** One schedule as `rotor schedule list` shows it. */
export interface ScheduleRow {
  scheduleId: string;
  secret: string;
  /** When it starts a rotation, in words: `every 90d`, `Mon at 03:00 (cron "0 3 * * 1", Europe/Berlin)`. */
  spec: string;
  paused: boolean;
  note: string | null;
  /** The next times it will start one (none while paused). */
  nextRuns: string[];
  /** The rotation it started last: its workflow id, when, and how it ended (RUNNING while it runs). */
  lastRun: { workflowId: string; startedAt: string; result: string } | null;
  /** How many rotations it has started, and how many it skipped because one still ran. */
  runs: number;
  skipped: number;
}

const iso = (d: Date) => d.toISOString().replace(/\.000Z$/, 'Z');
/** How long `trigger` waits to see the rotation it started. */
const TRIGGER_SEEN_MS = 5000;

export class RotorSchedules {
  constructor(private readonly rotor: RotorClient) {}

  /** The schedule of `request.plan`; refused when its id is taken. Returns its id and first runs. */
  async create(document: Record<string, unknown>, request: CreateRequest): Promise<{ scheduleId: string; nextRuns: string[] }> {
    const { plan } = request;
    const start = rotationStartOptions(document, plan, scheduledRequester(plan, request.createdBy), this.rotor.taskQueue);
    const scheduleId = rotationScheduleId(plan);
    let handle: ScheduleHandle;
    try {
      handle = await this.rotor.client.schedule.create(rotationSchedule(start, request, WORKFLOW_TYPE));
    } catch (err) {
      if (err instanceof ScheduleAlreadyRunning)
        throw new RotorClientError(
          `a schedule ${scheduleId} already exists for ${plan.secret} in ${plan.stages[0].namespace} (\`rotor schedule list\` shows it); ` +
            `to change it, delete it with \`rotor schedule delete ${scheduleId}\` and create it again`,
        );
      throw err;
    }
    return { scheduleId, nextRuns: (await handle.describe()).info.nextActionTimes.map(iso) };
  }

  /** rotor's schedules (those that start rotations), by id. */
  async list(): Promise<ScheduleRow[]> {
    const rows: ScheduleRow[] = [];
    for await (const summary of this.rotor.client.schedule.list()) {
      if (summary.action?.workflowType !== WORKFLOW_TYPE) continue;
      // Described one by one: the list is read from visibility, a little behind; a description is current.
      const desc = await this.describe(summary.scheduleId).catch(() => null);
      if (desc) rows.push(await this.row(desc));
    }
    return rows.sort((a, b) => a.scheduleId.localeCompare(b.scheduleId));
  }

  async pause(scheduleId: string, note: string): Promise<void> {
    await this.guard(scheduleId, (h) => h.pause(note));
  }

  async unpause(scheduleId: string, note: string): Promise<void> {
    await this.guard(scheduleId, (h) => h.unpause(note));
  }

  async delete(scheduleId: string): Promise<void> {
    await this.guard(scheduleId, (h) => h.delete());
  }

  /**
   * Starts a rotation now, paused or not; refused while one it started still runs (overlap SKIP would
   * start none). Returns the new rotation's workflow id, or null when it was not seen within 5 s.
   */
  async trigger(scheduleId: string): Promise<string | null> {
    const before = await this.describe(scheduleId);
    const running = before.info.runningActions.map((a) => a.workflow.workflowId);
    if (running.length)
      throw new RotorClientError(
        `a rotation ${scheduleId} started is still running (${running.join(', ')}); one runs at a time: follow it with \`rotor status ${running[0]}\``,
      );
    await this.guard(scheduleId, (h) => h.trigger('SKIP'));
    const deadline = Date.now() + TRIGGER_SEEN_MS;
    while (Date.now() < deadline) {
      const desc = await this.describe(scheduleId);
      if (desc.info.numActionsTaken > before.info.numActionsTaken) return desc.info.recentActions.at(-1)?.action.workflow.workflowId ?? null;
      await new Promise((r) => setTimeout(r, 200));
    }
    return null;
  }

  private describe(scheduleId: string): Promise<ScheduleDescription> {
    return this.guard(scheduleId, (h) => h.describe());
  }

  private async guard<T>(scheduleId: string, fn: (handle: ScheduleHandle) => Promise<T>): Promise<T> {
    try {
      return await fn(this.rotor.client.schedule.getHandle(scheduleId));
    } catch (err) {
      if (err instanceof ScheduleNotFoundError)
        throw new RotorClientError(`no schedule with id ${scheduleId}; \`rotor schedule list\` shows the schedules on ${this.rotor.address}`);
      throw err;
    }
  }

  private async row(desc: ScheduleDescription): Promise<ScheduleRow> {
    const memo = desc.memo?.[SCHEDULE_MEMO] as ScheduleMemo | undefined;
    const last = desc.info.recentActions.at(-1);
    const lastRun = last
      ? { workflowId: last.action.workflow.workflowId, startedAt: iso(last.takenAt), result: await this.resultOf(last.action.workflow.workflowId) }
      : null;
    return {
      scheduleId: desc.scheduleId,
      secret: memo?.secret ?? '-',
      spec: memo ? describeWhen(memo.when) : '-',
      paused: desc.state.paused,
      note: desc.state.note ?? null,
      // Temporal still computes them while paused; none will be taken.
      nextRuns: desc.state.paused ? [] : desc.info.nextActionTimes.map(iso),
      lastRun,
      runs: desc.info.numActionsTaken,
      skipped: desc.info.numActionsSkippedOverlap,
    };
  }

  /** How a rotation ended (its phase: COMPLETED, ROLLED_BACK, ...), RUNNING while it runs, `unknown` when it cannot be read. */
  private async resultOf(workflowId: string): Promise<string> {
    try {
      return (await this.rotor.ending(workflowId))?.phase ?? 'RUNNING';
    } catch {
      return 'unknown';
    }
  }
}
