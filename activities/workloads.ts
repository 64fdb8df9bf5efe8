// The workloads' activities: which workloads use the Secret and which version (discover), switching
// them to a version and back, the canary's end, the wait for their rollout (measuring the analysis
// while it goes on), and what still refers to a version.
import { Context } from '@temporalio/activity';
import type { DiscoveredStage, DiscoverInput, RolloutInput, RotorActivities } from '../contract/activities';
import { analysisDuringRollout } from './analysis-loop';
import { RotorError } from './errors';
import { cleanupWaitingEvents, revertEvents, switchEvents } from './events';
import type { ActivityKit } from './kit';
import { pace } from './liveness';
import type { ClusterPort } from './ports';

type WorkloadActivities = Pick<
  RotorActivities,
  'discover' | 'switchWorkloads' | 'revertWorkloads' | 'completeCanary' | 'waitForRollout' | 'checkSwitched' | 'scanReferences'
>;

/**
 * PLANNING's discovery (the discover activity, and `rotor plan`): each stage's version in use and the
 * workloads rotor would switch, and each workload it refuses to switch, with why.
 */
export async function discoverStages(cluster: ClusterPort, input: DiscoverInput): Promise<{ stages: DiscoveredStage[]; refused: string[] }> {
  const result: DiscoveredStage[] = [];
  const refused: string[] = [];
  for (const stage of input.stages) {
    const { version: previousVersion, workloads: using } = await cluster.findCurrentUse(stage.namespace, input.secret, {
      throughGit: !!stage.throughGit,
    });
    const listed = stage.workloads;
    const workloads = listed === 'auto' ? using : using.filter((w) => listed.some((l) => l.kind === w.kind && l.name === w.name));
    const unmatched = listed === 'auto' ? [] : listed.filter((l) => !using.some((w) => w.kind === l.kind && w.name === l.name));
    // A listed Job, Pod or Deployment-owned ReplicaSet that does use the version is not "missing":
    // rotor cannot switch it, and says so.
    const holders = unmatched.length && previousVersion ? await cluster.findReferences([stage.namespace], previousVersion) : [];
    const missing: string[] = [];
    for (const l of unmatched) {
      if (holders.some((h) => h.kind === l.kind && h.name === l.name)) {
        refused.push(
          `${stage.namespace}: ${l.kind}/${l.name} uses ${previousVersion} but cannot be switched (${l.kind === 'ReplicaSet' ? 'its Deployment owns its template: list the Deployment' : 'its pod template is immutable'}); remove it from the stage's workloads — it keeps ${previousVersion} until it is gone, and cleanup waits for it`,
        );
      } else missing.push(`${l.kind}/${l.name}`);
    }
    refused.push(...workloads.filter((w) => w.refusal).map((w) => `${stage.namespace}: ${w.refusal}`));
    // What the previous version's Secret says of its credential, store version and copies.
    const record = previousVersion ? await cluster.readVersionRecord(stage.namespace, previousVersion) : null;
    const previousIdentity = record ? { credentialId: record.credentialId, storeVersionId: record.storeVersionId, copies: record.copies } : undefined;
    // The type the new version keeps (metadata and type only: the previous value is not read here).
    const previousType = previousVersion ? await cluster.readVersionType(stage.namespace, previousVersion) : null;
    // Nothing in use: say whether the namespace, or the Secret, is missing, so the plan can be corrected.
    const namespaceExists = previousVersion ? true : await cluster.namespaceExists(stage.namespace);
    const absence = previousVersion
      ? undefined
      : { namespaceExists, secretExists: namespaceExists !== false && (await cluster.readVersionType(stage.namespace, input.secret)) !== null };
    result.push({
      namespace: stage.namespace,
      previousVersion,
      workloads: workloads.map(({ refusal: _, ...w }) => w),
      missing,
      ...(previousIdentity ? { previousIdentity } : {}),
      ...(previousType ? { previousType } : {}),
      ...(absence ? { absence } : {}),
    });
  }
  return { stages: result, refused };
}

export function workloadActivities(kit: ActivityKit): WorkloadActivities {
  const { deps, cluster, guarded, events } = kit;
  return {
    discover: (input) =>
      guarded(`discover workloads using ${input.secret}`, async () => {
        const { stages, refused } = await discoverStages(cluster, input);
        // Refused in PLANNING, so nothing changes for a workload rotor could not honestly roll out.
        if (refused.length) throw new RotorError('RotorInputError', `rotor will not switch ${refused.length} workload(s): ${refused.join('; ')}`);
        return stages;
      }),

    switchWorkloads: (input) =>
      guarded(`switch workloads in ${input.namespace} to ${input.to}`, async () => {
        const records = await cluster.switchWorkloads(input);
        await events.post(switchEvents(input, records));
        return records;
      }),

    revertWorkloads: (input) =>
      guarded(`revert workloads in ${input.namespace} to ${input.to}`, async () => {
        const reverted = await cluster.revertWorkloads(input);
        await events.post(revertEvents(input, reverted));
        return reverted;
      }),

    completeCanary: (input) =>
      guarded(`complete the canary in ${input.namespace}`, () => cluster.completeCanary(input.namespace, input.records, input.version)),

    waitForRollout: (input: RolloutInput) =>
      guarded(`wait for rollout in ${input.namespace}`, async () => {
        const ctx = Context.current();
        const startedAt = (ctx.info.heartbeatDetails as { startedAt?: number } | undefined)?.startedAt ?? Date.now();
        const during = input.analysis ? analysisDuringRollout(deps, input, input.analysis, startedAt) : null;
        for (;;) {
          const state = await cluster.rolloutState(input.namespace, input.workloads, input.version);
          if (state.ready) return { ready: true, message: state.message, elapsedMs: Date.now() - startedAt };
          if (state.failed) return { ready: false, message: state.message };
          if (Date.now() - startedAt >= input.timeoutMs) {
            return { ready: false, message: `not ready after ${Math.round(input.timeoutMs / 1000)} s: ${state.message}` };
          }
          const check = await during?.measureIfDue();
          if (check) return { ready: false, message: `the analysis failed while the rollout went on (${state.message}): ${check.reason}`, check };
          await pace(Math.min(1_000, input.timeoutMs), { startedAt, message: state.message });
        }
      }),

    checkSwitched: (input) => guarded(`check the references switched to ${input.version}`, () => cluster.driftedReferences(input.records, input.version)),

    scanReferences: (input) =>
      guarded(`scan references to ${input.secretName}`, async () => {
        const holders = await cluster.findReferences(input.namespaces, input.secretName, { ignore: input.ignore });
        deps.telemetry?.referencesFound(input.secretName, holders);
        if (input.cleanup && holders.length) await events.post(cleanupWaitingEvents(input.secretName, input.namespaces, holders));
        return holders;
      }),
  };
}
