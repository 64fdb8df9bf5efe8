// A rotation's phase changes, posted to Datadog's event stream (announce); a worker without Datadog
// has nowhere to post, and says so.
import type { RotorActivities } from '../contract/activities';
import type { ActivityKit } from './kit';

export function announcingActivities({ deps, guarded }: ActivityKit): Pick<RotorActivities, 'announce'> {
  return {
    announce: (input) =>
      guarded(`post ${input.phase} of ${input.workflowId}`, async () => {
        const datadog = deps.metrics.datadog;
        // A worker without Datadog has nowhere to post: the status and the Web UI still tell the story.
        if (!datadog?.postEvent) return { posted: false };
        const alertType = ANNOUNCE_ALERT[input.phase] ?? 'info';
        const tags = [`rotor_secret:${input.secret}`, `rotor_phase:${input.phase.toLowerCase()}`, `rotor_workflow:${input.workflowId}`];
        if (input.stage) tags.push(`rotor_stage:${input.stage}`);
        if (input.namespace) tags.push(`env:${input.namespace}`, `kube_namespace:${input.namespace}`);
        if (input.newVersion) tags.push(`version:${input.newVersion}`);
        await datadog.postEvent({
          title: `rotor: ${input.secret} ${input.phase}${input.stage ? ` (${input.stage})` : ''}`,
          text: `${input.message}\n\nrotation ${input.workflowId}${input.newVersion ? `, new version ${input.newVersion}` : ''}`,
          tags,
          alertType,
        });
        return { posted: true };
      }),
  };
}

/** How a phase shows in Datadog's event stream: a rollback or failure stands out. */
const ANNOUNCE_ALERT: Record<string, 'info' | 'success' | 'warning' | 'error'> = {
  COMPLETED: 'success',
  ROLLING_BACK: 'warning',
  ROLLED_BACK: 'warning',
  FAILED: 'error',
};
