// Notifications, on the rotation's side: PLANNING resolves the sinks (the plan's, or the worker's
// defaults), and each moment worth telling starts one delivery child workflow per sink.
//
// Why a child workflow per delivery, abandoned when the rotation closes (ParentClosePolicy ABANDON):
// delivery is retried for up to an hour and must never hold up or fail the rotation, yet `completed`,
// `failed` and `rolled_back` come as the workflow ends, and an activity cannot outlive its workflow.
// Awaiting pending deliveries at the end would keep a finished rotation open for that hour (and its
// status would say it is running). A child that is started (the rotation waits only for that, a
// moment, beside its Datadog announcements) runs on by itself, across continue-as-new too, and tells
// the rotation through a signal when its sink keeps failing, gives up, or recovers.
import { CancellationScope, ParentClosePolicy, patched, proxyLocalActivities, setHandler, startChild } from '@temporalio/workflow';
import type { Notification, NotifyActivities } from '../contract/notify';
import { notificationReportSignal } from '../contract/notify';
import type { Phase } from '../contract/api';
import { describeRoutes, type NotifyEvent } from '../domain/notify';
import { deliverNotification } from './delivery';
import { describeError } from './options';
import type { Rotation } from './state';

/** Rotations started before notifications replay as they ran. */
const PATCH = 'notify';

const planning = proxyLocalActivities<Pick<NotifyActivities, 'notifyRoutes'>>({
  startToCloseTimeout: '10s',
  retry: { initialInterval: '1s', maximumAttempts: 3 },
});

/** The phases whose entry is an event kind. */
const ON_ENTER: Partial<Record<Phase, NotifyEvent>> = {
  CREATING: 'started',
  AWAITING_APPROVAL: 'awaiting_approval',
  ROLLED_BACK: 'rolled_back',
  FAILED: 'failed',
  COMPLETED: 'completed',
};

const ENDINGS: NotifyEvent[] = ['rolled_back', 'failed', 'completed'];

/** The delivery's reports (a sink failing, given up on, recovered) become events in the status. */
export function handleNotificationReports(r: Rotation): void {
  setHandler(notificationReportSignal, ({ rotationId, message }) => {
    // The same workflow id may belong to a later rotation of the secret: its deliveries are not ours.
    if (rotationId === r.rotationId) r.record(message);
  });
}

/** PLANNING: the sinks to notify, or FAILED (nothing changed) when the plan names one the worker lacks. */
export async function resolveNotify(r: Rotation): Promise<void> {
  if (!patched(PATCH)) return;
  let result: Awaited<ReturnType<NotifyActivities['notifyRoutes']>>;
  try {
    result = await planning.notifyRoutes({ planned: r.plan.notify ?? null });
  } catch (err) {
    r.fail(`could not check the plan's notification sinks (nothing was changed): ${describeError(err)}`);
  }
  if ('problems' in result) r.fail(`${result.problems.join('; ')} (nothing was changed)`);
  const { routes } = result;
  r.status.notify = { routes };
  if (routes.length) r.record(`notifying ${describeRoutes(routes)}${r.plan.notify ? '' : ", the worker's defaults"}`);
}

/** On entering a phase that is an event kind. */
export function notifyPhase(r: Rotation, phase: Phase): void {
  const kind = ON_ENTER[phase];
  if (!kind) return;
  notify(r, kind, kind === 'awaiting_approval' ? { approveCommand: `rotor approve ${r.info.workflowId}` } : {});
}

/** Cleanup found holders: told once per set of holders, not at every scan. */
export function notifyCleanupBlocked(r: Rotation, holders: string[]): void {
  const key = [...holders].sort().join(', ');
  if (!r.status.notify || r.status.notify.blockedBy === key) return;
  r.status.notify.blockedBy = key;
  notify(r, 'cleanup_blocked', { holders });
}

/**
 * Starts one delivery per sink that gets `kind`, about the status's last event. Not awaited here;
 * the start is not cancelled by an abort, and the rotation waits for the starts before it ends.
 */
export function notify(r: Rotation, kind: NotifyEvent, extra: Pick<Notification, 'approveCommand' | 'holders'> = {}): void {
  const sinks = (r.status.notify?.routes ?? []).filter((x) => x.events.includes(kind)).map((x) => x.sink);
  if (!sinks.length || !patched(PATCH)) return;
  const { status, info } = r;
  const notification: Notification = {
    // The event count is unique within the rotation (carried across continue-as-new), so the id is too.
    id: `${r.rotationId}/${kind}/${status.eventCount}`,
    kind,
    rotationId: r.rotationId,
    workflowId: info.workflowId,
    namespace: info.namespace,
    secret: r.plan.secret,
    phase: status.phase,
    stage: status.stage,
    // How it ended says why (the check that failed, what was left); otherwise what just happened.
    message: (ENDINGS.includes(kind) && status.outcome) || (status.events[status.events.length - 1]?.message ?? ''),
    newVersion: status.newVersion,
    previousVersion: status.previousVersion,
    time: new Date().toISOString(),
    ...extra,
  };
  for (const sink of sinks) {
    const started = CancellationScope.nonCancellable(() =>
      startChild(deliverNotification, {
        workflowId: `${notification.id}/${sink}`,
        args: [{ sink, notification, parentWorkflowId: info.workflowId }],
        parentClosePolicy: ParentClosePolicy.ABANDON,
        staticSummary: `notify ${sink}: ${kind} of ${r.plan.secret}`,
      }),
    );
    r.deliveries.push(started.catch((err) => r.record(`could not start notifying ${sink} of ${kind}: ${describeError(err)}`)));
  }
}
