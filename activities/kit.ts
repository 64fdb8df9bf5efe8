// What every activity module (activities/*.ts, wired in index.ts) is built from: the worker's deps,
// its log, and `guarded`, which runs an activity alive to the server, logged by step, its errors
// typed for the workflow.
import { toActivityFailure } from './errors';
import { EventRecorder } from './events';
import { activityContext, liveStep, type StepLog } from './liveness';
import type { ClusterPort, RotorDeps } from './ports';

export interface ActivityKit {
  deps: RotorDeps;
  cluster: ClusterPort;
  /** Where logs go; never given a secret value. */
  log: StepLog;
  guarded<T>(doing: string, fn: () => Promise<T>): Promise<T>;
  /** Kubernetes Events on what a step changed: best-effort, never failing or holding up the step. */
  events: EventRecorder;
}

export function activityKit(deps: RotorDeps): ActivityKit {
  const log = deps.log ?? (() => undefined);
  /** Every activity: alive to the server while it runs, logged by step, its errors typed for the workflow. */
  async function guarded<T>(doing: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await liveStep(log, doing, fn);
    } catch (err) {
      if (!activityContext()) log(`failed: ${doing}`, { error: err instanceof Error ? err.message : String(err) });
      throw toActivityFailure(err, doing);
    }
  }
  return { deps, cluster: deps.cluster, log, guarded, events: new EventRecorder(deps.cluster, log) };
}
