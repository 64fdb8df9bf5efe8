// Notifications: a plan's sinks checked against the worker's (PLANNING), and one delivery attempt to a
// sink (a delivery child workflow retries it). A worker without sinks has no defaults and refuses a
// plan that names one.
import type { NotifyActivities } from '../contract/notify';
import { resolveRoutes } from '../domain/notify';
import type { ActivityKit } from './kit';

export function notifyingActivities({ deps, guarded }: ActivityKit): NotifyActivities {
  return {
    notifyRoutes: async ({ planned }) => {
      const notifier = deps.notifier;
      return resolveRoutes(planned, { sinks: notifier?.sinkNames ?? [], defaults: notifier?.defaults ?? [] });
    },
    sendNotification: ({ sink, notification, attempt }) =>
      guarded(`notify ${sink} of ${notification.kind} (attempt ${attempt})`, async () => {
        if (!deps.notifier) throw new Error(`this worker has no notification sinks; define ${sink} in ROTOR_NOTIFY_SINKS or ROTOR_NOTIFY_FILE`);
        // The CloudEvent's source: this rotor deployment and the rotation's Temporal namespace.
        const deployment = deps.deploymentId ? await deps.deploymentId().catch(() => 'rotor') : 'rotor';
        return { status: await deps.notifier.send(sink, notification, `rotor://${deployment}/${notification.namespace}`) };
      }),
  };
}
