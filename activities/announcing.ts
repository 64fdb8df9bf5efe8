// A rotation's phase changes, posted to the worker's event sink (announce): Datadog's event stream. A
// worker without one has nowhere to post, and says so.
import type { RotorActivities } from '../contract/activities';
import type { ActivityKit } from './kit';
import type { RotorEvent } from './ports';

export function announcingActivities({ deps, guarded }: ActivityKit): Pick<RotorActivities, 'announce'> {
  return {
    announce: (input) =>
      guarded(`post ${input.phase} of ${input.workflowId}`, async () => {
        const sink = deps.events;
        // A worker without Datadog has nowhere to post: the status and the Web UI still tell the story.
        if (!sink) return { posted: false };
        const alertType = ANNOUNCE_ALERT[input.phase] ?? 'info';
        const tags = [`rotor_secret:${input.secret}`, `rotor_phase:${input.phase.toLowerCase()}`, `rotor_workflow:${input.workflowId}`];
        if (input.stage) tags.push(`rotor_stage:${input.stage}`);
        if (input.namespace) tags.push(`env:${input.namespace}`, `kube_namespace:${input.namespace}`);
        if (input.newVersion) tags.push(`version:${input.newVersion}`);
        await sink.postEvent({
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
const ANNOUNCE_ALERT: Record<string, RotorEvent['alertType']> = {
  COMPLETED: 'success',
  ROLLING_BACK: 'warning',
  ROLLED_BACK: 'warning',
  FAILED: 'error',
};
