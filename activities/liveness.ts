// Every activity proves its worker alive while it runs, whatever it awaits: a heartbeat each second
// (the worker sends them to the server at most every maxHeartbeatThrottleInterval), so a worker that
// dies mid-step is noticed within the step's heartbeat timeout, not its start-to-close limit. The
// details sent are the step's last progress (or what an earlier attempt left), so a retry that
// resumes from them never sees them wiped by a liveness beat.
import { asyncLocalStorage, Context } from '@temporalio/activity';

/** How often a running activity heartbeats (the worker throttles what reaches the server). */
export const BEAT_MS = 1_000;

const progressOf = new WeakMap<Context, { details: unknown }>();

/** The running activity's context, or null outside one (an adapter called directly by a test). */
export function activityContext(): Context | null {
  return asyncLocalStorage.getStore() ?? null;
}

/** Record the step's progress (what a retry resumes from) and heartbeat it now. */
export function reportProgress(details: unknown): void {
  const ctx = activityContext();
  if (!ctx) return;
  const slot = progressOf.get(ctx);
  if (slot) slot.details = details;
  if (!ctx.info.isLocal) ctx.heartbeat(details);
}

/** Sleep up to `ms` with `progress` as what a retry resumes from; throws if the workflow cancelled the activity. */
export async function pace(ms: number, progress: unknown): Promise<void> {
  reportProgress(progress);
  if (ms > 0) await Context.current().sleep(ms);
}

export interface StepLog {
  (message: string, fields?: Record<string, unknown>): void;
}

/**
 * Runs one activity with a liveness heartbeat and the worker's log of it: which step, for which
 * workflow, which attempt, started and ended (and how), never its input or values.
 */
export async function liveStep<T>(log: StepLog, doing: string, fn: () => Promise<T>): Promise<T> {
  const ctx = activityContext();
  if (!ctx) return fn();
  const slot = { details: ctx.info.heartbeatDetails as unknown };
  progressOf.set(ctx, slot);
  const { activityType, attempt, workflowExecution } = ctx.info;
  const step = { step: activityType, workflowId: workflowExecution?.workflowId ?? null, attempt };
  const started = Date.now();
  log('step started', step);
  // A local activity runs inside its workflow task and has no heartbeat (the SDK warns at each one).
  const beat = ctx.info.isLocal ? () => undefined : () => ctx.heartbeat(slot.details);
  beat();
  const timer = setInterval(beat, BEAT_MS);
  try {
    const result = await fn();
    log('step ended', { ...step, ms: Date.now() - started });
    return result;
  } catch (err) {
    log(`step failed: ${doing}`, { ...step, ms: Date.now() - started, error: err instanceof Error ? err.message : String(err) });
    throw err;
  } finally {
    clearInterval(timer);
  }
}
