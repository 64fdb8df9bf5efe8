// The activities of Git mode: for a stage with gitops settings, the workloads a GitOps controller
// applies (Flux, Argo CD) get their new Secret reference through a commit to the repository the
// controller applies, never a live patch; a rollback is a revert of that commit; the wait is for the
// controller to apply it. The repository work is activities/git/; the live side is the cluster port.
import type { GitCommitResult, GitSwitchInput, GitTarget, RotorActivities, SwitchRecord, WorkloadUse } from '../contract/activities';
import { RotorError } from './errors';
import type { GitChanges } from './git/changes';
import { describeController } from './kubernetes/gitops';
import type { ActivityKit } from './kit';
import type { RotorDeps } from './ports';
import { pace } from './liveness';
import { Context } from '@temporalio/activity';

type GitActivities = Pick<
  RotorActivities,
  'planGitChanges' | 'commitToGit' | 'revertInGit' | 'waitForGitSync' | 'namedInGit' | 'removeFromGit' | 'restoreInGit'
>;

const NO_ACCESS =
  "this worker has no Git access for the plan's gitops: give it a token (ROTOR_GIT_TOKEN_FILE, for HTTPS) or a key (ROTOR_GIT_SSH_KEY_FILE, for SSH) with write access to the repository";

const targetsOf = (workloads: WorkloadUse[]) => workloads.map((w) => ({ kind: w.kind, namespace: w.namespace, name: w.name }));
const short = (commit: string) => commit.slice(0, 7);

/** The controllers that apply `workloads`, in words, once each. */
function controllersOf(workloads: WorkloadUse[]): string {
  const names = workloads.map((w) => (w.managedBy ? describeController(w.managedBy) : 'its controller'));
  return [...new Set(names)].join(', ');
}

/** One commit per repository branch (or none), each in words. */
async function commitsOf(targets: GitTarget[], commit: (t: GitTarget) => Promise<GitCommitResult>, what: string): Promise<string[]> {
  const made: string[] = [];
  for (const t of targets) {
    const result = await commit(t);
    if ('refusal' in result) throw new RotorError('Conflict', result.refusal);
    if (result.commit) made.push(`${short(result.commit)} to ${result.repo} ${result.branch}: ${what} ${result.edits.join(', ') || 'its files'}`);
  }
  return made;
}

/** The worker's Git access; without one, a plan with gitops is the worker's to fix. */
export function gitOf(deps: RotorDeps): GitChanges {
  if (!deps.git) throw new RotorError('RotorInputError', NO_ACCESS);
  return deps.git;
}

export function gitopsActivities(kit: ActivityKit): GitActivities {
  const { deps, cluster, guarded } = kit;
  const git = () => gitOf(deps);
  const change = (input: GitSwitchInput) => ({
    rotationId: input.rotationId,
    secret: input.secret,
    stage: input.stage,
    namespace: input.namespace,
    workloads: targetsOf(input.workloads),
    from: input.from,
    to: input.to,
  });
  return {
    planGitChanges: (input) =>
      guarded(`try the Git changes of ${input.stages.length} stage(s)`, async () => {
        if (!deps.git) return [NO_ACCESS];
        const refusals: string[] = [];
        for (const s of input.stages) {
          // With the live references: Git naming the version at fewer places is refused before anything changes.
          const refusal = await deps.git.tryEdit(
            s.target,
            s.workloads.map((w) => ({ kind: w.kind, namespace: w.namespace, name: w.name, fields: w.fields })),
            s.from,
            s.versionFile,
          );
          if (refusal) refusals.push(`${s.stage}: ${refusal}`);
        }
        return refusals;
      }),

    commitToGit: (input) =>
      guarded(`commit ${input.stage}'s switch to ${input.target.repo}`, async (): Promise<GitCommitResult> => git().commitSwitch(input.target, change(input))),

    revertInGit: (input) =>
      guarded(`revert ${short(input.commit)} in ${input.target.repo}`, async (): Promise<GitCommitResult> =>
        git().revertSwitch(input.target, change(input), input.commit),
      ),

    waitForGitSync: (input) =>
      guarded(`wait for ${controllersOf(input.workloads)} to apply ${short(input.commit)}`, async () => {
        const ctx = Context.current();
        const startedAt = (ctx.info.heartbeatDetails as { startedAt?: number } | undefined)?.startedAt ?? Date.now();
        const records: SwitchRecord[] = input.workloads.map((w) => ({
          namespace: w.namespace,
          kind: w.kind,
          name: w.name,
          from: '',
          to: input.version,
          fields: w.fields,
        }));
        for (;;) {
          const drift = await cluster.driftedReferences(records, input.version);
          // pushMode branch: what the controller applies is the merge of rotor's branch (a merge, squash or rebase).
          const merged = input.pushedTo ? ` from ${input.pushedTo}` : '';
          if (!drift.length)
            return { synced: true, message: `${controllersOf(input.workloads)} applied ${short(input.commit)}${merged}`, elapsedMs: Date.now() - startedAt };
          const status = await cluster.gitopsStatus(input.workloads.find((w) => w.managedBy)?.managedBy);
          const message = `waiting for ${controllersOf(input.workloads)} to apply commit ${short(input.commit)}${input.pushedTo ? ` once ${input.pushedTo} is merged` : ''}${status ? ` (${status})` : ''}: ${drift.length} reference(s) still on the previous version`;
          if (Date.now() - startedAt >= input.timeoutMs)
            return { synced: false, message: `not applied after ${Math.round(input.timeoutMs / 1000)} s: ${message}` };
          await pace(Math.min(2_000, input.timeoutMs), { startedAt, message });
        }
      }),

    namedInGit: (input) =>
      guarded(`look for ${input.version} in ${input.targets.length} repository branch(es)`, async () => {
        const found: string[] = [];
        for (const t of input.targets) found.push(...(await git().namedIn(t, input.version)));
        return [...new Set(found)];
      }),

    removeFromGit: (input) =>
      guarded(`remove ${input.version}'s ExternalSecret from ${input.targets.length} repository branch(es)`, async () => {
        // Who applies each namespace's ExternalSecret, read while it is there.
        const eso = deps.externalSecrets;
        const controllers = eso
          ? (await Promise.all(input.namespaces.map((ns) => eso.externalVersionController(ns, input.version)))).filter((c) => c !== null)
          : [];
        const made = await commitsOf(input.targets, (t) => git().removeVersionFiles(t, input), 'removed');
        const startedAt = Date.now();
        for (const controller of controllers) {
          for (;;) {
            const status = (await cluster.gitopsStatus(controller)) ?? '';
            const applied = /\b[0-9a-f]{40}\b/.exec(status)?.[0];
            let without: boolean | null = null;
            for (const t of input.targets) if (applied && without === null) without = await git().withoutVersionFile(t, applied, input.version);
            if (without) break;
            const message = `waiting for ${describeController(controller)} to apply the removal of ${input.version}'s ExternalSecret (${status || 'no status'})`;
            if (Date.now() - startedAt >= input.timeoutMs)
              throw new RotorError('Unavailable', `not applied after ${Math.round(input.timeoutMs / 1000)} s: ${message}`);
            await pace(Math.min(2_000, input.timeoutMs), { message });
          }
        }
        return made;
      }),

    restoreInGit: (input) =>
      guarded(`restore ${input.version}'s ExternalSecret in ${input.targets.length} repository branch(es)`, () =>
        commitsOf(input.targets, (t) => git().restoreVersionFiles(t, input), 'restored'),
      ),
  };
}
