// Notifications: which of a rotation's moments go to which of the worker's sinks. The plan names
// sinks and event kinds only; what a sink is (its URL, its signing key) lives on the worker.
// Pure: the plan's routes, or the worker's default ones, checked against the sinks the worker has.

export const NOTIFY_EVENTS = ['started', 'awaiting_approval', 'stage_passed', 'rolled_back', 'failed', 'completed', 'cleanup_blocked'] as const;
export type NotifyEvent = (typeof NOTIFY_EVENTS)[number];

/** One sink and the event kinds it gets. */
export interface NotifyRoute {
  sink: string;
  events: NotifyEvent[];
}

/** A sink's name as plans and the worker write it: a DNS label, so it reads the same everywhere. */
export const SINK_NAME = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;

/**
 * The routes a rotation notifies: the plan's (`notify: []` is none), or the worker's defaults when the
 * plan says nothing. A sink the worker lacks is a problem naming the sink and the fix.
 */
export function resolveRoutes(
  planned: NotifyRoute[] | null,
  worker: { sinks: string[]; defaults: NotifyRoute[] },
): { routes: NotifyRoute[] } | { problems: string[] } {
  if (planned === null) return { routes: worker.defaults };
  const problems = planned
    .filter((r) => !worker.sinks.includes(r.sink))
    .map(
      (r) =>
        `notify names sink ${r.sink}, which this worker does not have (${worker.sinks.length ? `it has ${worker.sinks.join(', ')}` : 'it has none'}); define it in the worker's ROTOR_NOTIFY_SINKS or ROTOR_NOTIFY_FILE, or remove it from the plan`,
    );
  return problems.length ? { problems } : { routes: planned };
}

/** Routes in a line: `ops-slack (awaiting_approval, rolled_back), ops-webhook (every event)`. */
export function describeRoutes(routes: NotifyRoute[]): string {
  return routes.map((r) => `${r.sink} (${r.events.length === NOTIFY_EVENTS.length ? 'every event' : r.events.join(', ')})`).join(', ');
}
