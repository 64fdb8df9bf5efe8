// Git mode: in a stage with gitops settings, the workloads a GitOps controller applies (Flux, Argo CD)
// are switched by a commit to the repository it applies, never patched live; rotor then waits until the
// controller has applied it (the live references name the new version) before the rollout wait. A
// rollback reverts rotor's commit and waits the same way; cleanup keeps a version the branch still names.
// Rotations started before Git mode replay as they ran: every path here is behind one patch. pushMode
// branch (rotor's commit on a branch of its own for a person to merge) is the activities' work; here it
// changes only what the status says, from fields of their answers that direct mode never has.
import { CancellationScope, patched } from '@temporalio/workflow';
import type { CreateVersionInput, GitTarget, Holder, SwitchRecord, WorkloadUse } from '../contract/activities';
import type { Stage } from '../domain/plan';
import { formatDuration } from '../domain/duration';
import { gitTargetOf } from '../domain/planning';
import { RollbackRequired } from './forward-errors';
import { acts, describeError, quick, scanning } from './options';
import type { Rotation, Undo } from './state';

const PATCH = 'gitops-commit-mode';
/** Cleanup's removal of a version's ExternalSecret file (store external-secrets in Git mode). */
const REMOVE_PATCH = 'gitops-external-secret-files';

/** Whether this rotation runs Git mode: a stage has gitops settings, in a history made with it. */
export function gitMode(r: Rotation): boolean {
  return r.plan.stages.some((s) => s.gitops) && patched(PATCH);
}

/** The Git target of a stage. */
function targetOf(stage: Stage): GitTarget {
  return gitTargetOf(stage.gitops!);
}

/** The stage's workloads that go through Git: those a GitOps controller applies, in a stage with gitops. */
export function throughGit(r: Rotation, stage: Stage, workloads: WorkloadUse[]): WorkloadUse[] {
  return stage.gitops && gitMode(r) ? workloads.filter((w) => w.managedBy) : [];
}

const short = (commit: string) => commit.slice(0, 7);

/**
 * PLANNING: each stage's Git change tried on the branch's head (access, branch, the manifests, what
 * rotor may edit), before anything is created.
 */
export async function planGit(r: Rotation): Promise<void> {
  const stages = r.plan.stages
    .map((stage, i) => ({ stage, workloads: throughGit(r, stage, r.discovered[i].workloads), from: r.discovered[i].previousVersion }))
    .filter((s) => s.workloads.length && s.from);
  if (!stages.length) return;
  let refusals: string[];
  try {
    refusals = await acts.planGitChanges.executeWithOptions({ ...scanning, summary: `try the Git changes of ${stages.map((s) => s.stage.name).join(', ')}` }, [
      {
        stages: stages.map((s) => ({
          stage: s.stage.name,
          namespace: s.stage.namespace,
          target: targetOf(s.stage),
          workloads: s.workloads,
          from: s.from!,
          ...(r.plan.store === 'external-secrets' ? { versionFile: true } : {}),
        })),
      },
    ]);
  } catch (err) {
    r.fail(`could not read the GitOps repository (nothing was changed): ${describeError(err)}`);
  }
  if (refusals.length) r.fail(`the Git change cannot be made (nothing was changed): ${refusals.join('; ')}`);
  for (const s of stages)
    r.record(
      `${s.stage.namespace}: ${s.workloads.map((w) => `${w.kind}/${w.name}`).join(', ')} switched through ${s.stage.gitops!.repo} ${s.stage.gitops!.branch} (${s.stage.gitops!.path})${s.stage.gitops!.pushMode === 'branch' ? ", by a branch of rotor's for a person to merge" : ''}`,
    );
}

/** Waits until the controller applied `commit` (pushMode branch: once `pushedTo` is merged): the workloads name `version` at each reference. */
async function waitApplied(r: Rotation, stage: Stage, workloads: WorkloadUse[], commit: string, version: string, pushedTo?: string) {
  const timeoutMs = stage.gitops!.syncTimeoutMs;
  r.noteWaitEnds(timeoutMs);
  return acts.waitForGitSync.executeWithOptions(
    {
      ...quick,
      startToCloseTimeout: timeoutMs + 60_000,
      retry: { ...quick.retry, maximumAttempts: 3 },
      summary: `wait for the GitOps controller to apply ${short(commit)}${pushedTo ? ` once ${pushedTo} is merged` : ''} in ${stage.namespace} (up to ${formatDuration(timeoutMs)})`,
    },
    [{ stage: stage.name, namespace: stage.namespace, workloads, version, commit, timeoutMs, ...(pushedTo ? { pushedTo } : {}) }],
  );
}

/** pushMode branch: where rotor's commit went and what a person must do. */
const toMerge = (commit: string, result: { repo: string; branch: string; pushedTo?: string }) =>
  `pushed ${short(commit)} to branch ${result.pushedTo} of ${result.repo}: merge it into ${result.branch}`;

/** The switch of `workloads` through Git: one commit, then the wait for the controller; a refusal or timeout rolls back. */
export async function switchThroughGit(r: Rotation, undo: Undo, workloads: WorkloadUse[]): Promise<void> {
  const { status } = r;
  const { stage } = undo;
  const from = status.previousVersions[stage.namespace]!;
  const to = status.newVersion!;
  // Registered before the commit: a rollback looks for the switch by its trailer if its answer is lost.
  undo.git = { commit: '', workloads };
  const result = await CancellationScope.nonCancellable(() =>
    acts.commitToGit.executeWithOptions({ ...quick, summary: `commit ${stage.name}'s switch to ${stage.gitops!.repo}` }, [
      { target: targetOf(stage), rotationId: r.rotationId, secret: r.plan.secret, stage: stage.name, namespace: stage.namespace, workloads, from, to },
    ]),
  );
  if ('refusal' in result) throw new RollbackRequired(`the Git change in ${stage.name} cannot be made: ${result.refusal}`, 'gitops');
  undo.git = { commit: result.commit, workloads };
  const changed = `${workloads.map((w) => `${w.kind}/${w.name}`).join(', ')} to ${to}${result.edits.length ? ` (${result.edits.join('; ')})` : ''}`;
  const { pushedTo } = result;
  if (pushedTo) {
    r.record(`committed ${short(result.commit)} on the head of ${result.repo} ${result.branch}, for branch ${pushedTo}: ${changed}`);
    r.enter('DEPLOYING', stage.name, `${toMerge(result.commit, result)}; waiting for the GitOps controller to apply it in ${stage.namespace}`);
  } else {
    r.record(`committed ${short(result.commit)} to ${result.repo} ${result.branch}: ${changed}`);
    r.enter('DEPLOYING', stage.name, `waiting for the GitOps controller to apply commit ${short(result.commit)} in ${stage.namespace}`);
  }
  const applied = await waitApplied(r, stage, workloads, result.commit, to, pushedTo);
  if (!applied.synced && pushedTo)
    throw new RollbackRequired(
      `${short(result.commit)} on branch ${pushedTo} was not merged into ${result.branch} and applied in ${stage.namespace} within ${formatDuration(stage.gitops!.syncTimeoutMs)}: ${applied.message}`,
      'gitops',
    );
  if (!applied.synced)
    throw new RollbackRequired(`the GitOps controller did not apply ${short(result.commit)} in ${stage.namespace}: ${applied.message}`, 'gitops');
  r.record(`${applied.message} in ${stage.namespace}`);
  // Checked from now on like any switch: a reference set back (by hand, or by another commit) is drift.
  const records: SwitchRecord[] = workloads.map((w) => ({ namespace: w.namespace, kind: w.kind, name: w.name, from, to, fields: w.fields }));
  status.switched = [...status.switched, ...records];
}

/** The rollback of a stage's Git switch: a revert of rotor's commit, then the wait; what fails goes to leftovers. */
export async function revertThroughGit(r: Rotation, undo: Undo): Promise<void> {
  const { status } = r;
  const { stage } = undo;
  if (!undo.git) return;
  const previous = status.previousVersions[stage.namespace]!;
  const { commit, workloads } = undo.git;
  const what = commit ? `rotor's commit ${short(commit)}` : `rotor's switch commit (its answer was lost; found by its Rotor-Change trailer)`;
  try {
    const result = await acts.revertInGit.executeWithOptions({ ...quick, summary: `revert ${what} in ${stage.gitops!.repo}` }, [
      {
        target: targetOf(stage),
        rotationId: r.rotationId,
        secret: r.plan.secret,
        stage: stage.name,
        namespace: stage.namespace,
        workloads,
        from: previous,
        to: status.newVersion!,
        commit,
      },
    ]);
    if ('refusal' in result) throw new Error(result.refusal);
    if (result.withdrawn) {
      r.record(`withdrew branch ${result.pushedTo} of ${result.repo} (never merged into ${result.branch}): nothing to wait for in ${stage.namespace}`);
      return;
    }
    if (!result.commit) {
      r.record(`nothing of rotor's to revert in ${result.repo} ${result.branch} for ${stage.namespace}`);
      return;
    }
    const { pushedTo } = result;
    if (pushedTo) r.record(`rolls back ${what}: ${toMerge(result.commit, result)}; waiting for the GitOps controller to apply it in ${stage.namespace}`);
    else r.record(`reverted ${what} with ${short(result.commit)} in ${result.repo} ${result.branch}`);
    const applied = await waitApplied(r, stage, workloads, result.commit, previous, pushedTo);
    if (applied.synced) r.record(`${applied.message} in ${stage.namespace}`);
    else if (pushedTo)
      status.leftovers.push(
        `${stage.namespace}: rotor's rollback ${short(result.commit)} is on branch ${pushedTo} of ${result.repo} but not applied: merge it into ${result.branch} (${applied.message})`,
      );
    else status.leftovers.push(`${stage.namespace}: rotor's revert ${short(result.commit)} is in Git but not applied: ${applied.message}`);
  } catch (err) {
    status.leftovers.push(
      `${stage.namespace}: could not revert ${what} in ${stage.gitops!.repo} ${stage.gitops!.branch} (${describeError(err)}); revert it by hand (git revert <that commit>), and the controller applies ${previous} again`,
    );
  }
}

/**
 * store external-secrets in Git mode: the stages whose version is an ExternalSecret committed beside
 * their workloads (those a GitOps controller applies), for CREATING.
 */
export function externalSecretsThroughGit(r: Rotation): NonNullable<CreateVersionInput['throughGit']> {
  if (r.plan.store !== 'external-secrets' || !gitMode(r)) return [];
  return r.plan.stages.flatMap((stage, i) =>
    throughGit(r, stage, r.discovered[i].workloads).length
      ? [{ namespace: stage.namespace, stage: stage.name, target: targetOf(stage), syncTimeoutMs: stage.gitops!.syncTimeoutMs }]
      : [],
  );
}

/** Each repository branch the stages' gitops settings name, once. */
const gitTargets = (r: Rotation) => [
  ...new Map(r.plan.stages.filter((s) => s.gitops).map((s) => [`${s.gitops!.repo} ${s.gitops!.branch}`, targetOf(s)])).values(),
];

/** Cleanup: where the stages' branches still name `version`, as holders; Git still using it keeps it. */
export async function gitHolders(r: Rotation, version: string): Promise<Holder[]> {
  if (!gitMode(r)) return [];
  const targets = gitTargets(r);
  const named = await acts.namedInGit.executeWithOptions({ ...scanning, summary: `look for ${version} in Git` }, [{ targets, version }]);
  return named.map((at) => ({ kind: 'Git', namespace: '*', name: at, fields: [] }));
}

/**
 * Cleanup, store external-secrets, before the guarded delete of `version`: rotor's ExternalSecret files
 * of it removed from the branches, and the controller's applying that awaited (else it would apply them
 * again after the delete). Whether it ran; an error fails the cleanup round, tried again at the next.
 */
export async function removeVersionFromGit(r: Rotation, version: string, namespaces: string[], round: number): Promise<boolean> {
  if (r.plan.store !== 'external-secrets' || !gitMode(r) || !patched(REMOVE_PATCH)) return false;
  const timeoutMs = Math.max(...r.plan.stages.filter((s) => s.gitops).map((s) => s.gitops!.syncTimeoutMs));
  const made = await acts.removeFromGit.executeWithOptions(
    {
      ...scanning,
      startToCloseTimeout: timeoutMs + 5 * 60_000,
      summary: `remove ${version}'s ExternalSecret from Git, and wait for the controller to apply that`,
    },
    [{ ...removal(r, version, round), namespaces, timeoutMs }],
  );
  for (const m of made) r.record(`committed ${m}`);
  return true;
}

/** The guarded delete found `version` in use after its files left Git: they come back (a revert of the removal). */
export async function restoreVersionInGit(r: Rotation, version: string, round: number): Promise<void> {
  const made = await acts.restoreInGit.executeWithOptions({ ...quick, summary: `restore ${version}'s ExternalSecret in Git (still in use)` }, [
    removal(r, version, round),
  ]);
  for (const m of made) r.record(`committed ${m}: ${version} is still in use`);
}

const removal = (r: Rotation, version: string, round: number) => ({ targets: gitTargets(r), rotationId: r.rotationId, secret: r.plan.secret, version, round });
