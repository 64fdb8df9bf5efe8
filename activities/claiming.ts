// The claim on a rotation: one rotation of a Secret per namespace at a time, all of its namespaces or
// none. A claim whose holder no longer runs is taken over; whether it runs is asked of this worker's
// Temporal server, for holders of this worker's own deployment and namespace (askTemporal).
import { Context } from '@temporalio/activity';
import type { ClaimResult, RotorActivities } from '../contract/activities';
import { parseHolder, qualifiedHolder } from '../domain/naming';
import { RotorError } from './errors';
import type { ActivityKit } from './kit';

/** Said by a worker whose Temporal server does not tell its cluster id (the time-skipping test server) and that has no ROTOR_DEPLOYMENT_ID. */
const UNIDENTIFIED_DEPLOYMENT = 'unidentified';

/** This worker's Temporal deployment, when the worker is not told it (ROTOR_DEPLOYMENT_ID): the server's cluster id. */
async function askDeployment(): Promise<string> {
  try {
    const { clusterId } = await Context.current().client.connection.workflowService.getClusterInfo({});
    if (clusterId) return clusterId;
  } catch (err) {
    // Only a server that has no GetClusterInfo (gRPC UNIMPLEMENTED) is unidentified; any other error is retried.
    if ((err as { code?: number })?.code !== 12)
      throw new RotorError('Unavailable', `ask the Temporal server its cluster id: ${(err as Error)?.message ?? err}`);
  }
  return UNIDENTIFIED_DEPLOYMENT;
}

/**
 * Whether the rotation that holds a claim still runs. Only a holder of this worker's own deployment and
 * Temporal namespace can be asked; any other (another rotor deployment, another namespace) counts as
 * running, and so does a question that cannot be answered. A holder written by an older release names no
 * deployment: it is taken as this deployment's only when this server has that workflow closed and the
 * claim was made while it ran (so a live claim of another deployment whose workflow id this server
 * once used is never taken over).
 */
function askTemporal(deployment: () => Promise<string>) {
  return async (holder: string, since: string | null): Promise<boolean> => {
    const ctx = Context.current();
    const parsed = parseHolder(holder);
    if (!parsed || parsed.namespace !== ctx.info.workflowNamespace) return true;
    if (parsed.deployment !== null && parsed.deployment !== (await deployment())) return true;
    let described;
    try {
      described = await ctx.client.workflow.getHandle(parsed.workflowId).describe();
    } catch (err) {
      return parsed.deployment === null || (err as Error)?.name !== 'WorkflowNotFoundError';
    }
    if (described.status.name === 'RUNNING') return true;
    if (parsed.deployment !== null) return false;
    const claimedAt = since ? Date.parse(since) : NaN;
    const ran = described.startTime.getTime() <= claimedAt && claimedAt <= (described.closeTime?.getTime() ?? -Infinity);
    return !ran;
  };
}

export function claimingActivities({ deps, cluster, log, guarded }: ActivityKit): Pick<RotorActivities, 'claimRotation' | 'releaseRotation'> {
  let knownDeployment: Promise<string> | undefined;
  // Asked once per worker; an answer that failed is asked again next time.
  const deployment = () =>
    (knownDeployment ??= (deps.deploymentId ?? askDeployment)().catch((err) => {
      knownDeployment = undefined;
      throw err;
    }));
  const running = deps.rotationRunning ?? askTemporal(deployment);
  return {
    claimRotation: (input) =>
      guarded(`claim the rotation of ${input.secret}`, async () => {
        const holder = input.qualify ? qualifiedHolder(await deployment(), input.holder) : input.holder;
        const claimed: string[] = [];
        const refused: ClaimResult['refused'] = [];
        // In one order for every rotation, so two racing for the same namespaces meet at the first.
        const releaseClaimed = async () => {
          for (const namespace of claimed) await cluster.releaseRotation(namespace, input.secret, holder);
        };
        try {
          for (const namespace of [...new Set(input.namespaces)].sort()) {
            let claim = await cluster.claimRotation(namespace, input.secret, holder);
            if (claim.holder !== holder && !(await running(claim.holder, claim.since))) {
              log('taking over the claim of a rotation that no longer runs', { namespace, secret: input.secret, holder: claim.holder });
              claim = await cluster.claimRotation(namespace, input.secret, holder, claim.holder);
            }
            if (claim.holder === holder) claimed.push(namespace);
            else refused.push({ namespace, holder: claim.holder, since: claim.since });
          }
        } catch (err) {
          // A namespace that cannot be claimed (missing, forbidden) leaves none held: the workflow
          // never learns the holder of a failed claim, so it could not give these up itself.
          await releaseClaimed();
          throw err;
        }
        // All or nothing: a rotation refused anywhere holds nothing.
        if (refused.length) await releaseClaimed();
        return { refused, holder };
      }),

    releaseRotation: (input) =>
      guarded(`release the rotation of ${input.secret}`, async () => {
        for (const namespace of input.namespaces) await cluster.releaseRotation(namespace, input.secret, input.holder);
      }),
  };
}
