// rotor's changes to GitOps repositories, as the rotation's steps make them: a stage's switch (one
// commit changing the Secret name at every reference of the stage's workloads that a GitOps
// controller applies), its rollback (a revert of that commit), and cleanup's question (does the
// branch still name the version anywhere?). One clone per repository per worker process, and one
// operation on a clone at a time (two activities of the worker may reach the same repository).
//
// pushMode branch: rotor never pushes to the branch the controller applies. The switch is made on its
// head and pushed to a branch of rotor's own (`rotor/<secret>/<stage>-<rotation>`) for a person to
// merge. Its rollback depends on what became of it: never merged, the branch is deleted (withdrawn);
// merged (rotor's commit on the branch), a revert of it; squash-merged or rebased (not on the branch,
// but the branch names the new version at the workloads), the edit back; either pushed to
// `<rotor's branch>-revert` for a person to merge.
import { createHash } from 'node:crypto';
import { editReferences, namesInRepository, type RepoFile, type WorkloadTarget } from './manifests';
import { addVersionFile, removeVersionFiles, versionFile } from './version-files';
import { GitRepository, type Committed, type GitAccess } from './repo';
import { posix } from 'node:path';
import type { GitCommitResult, GitTarget } from '../../contract/activities';

/** A stage's switch as rotor commits it. */
export interface GitSwitch {
  /** `<workflowId>/<runId>`: unique to the rotation; it names the commit's trailer. */
  rotationId: string;
  secret: string;
  stage: string;
  namespace: string;
  workloads: WorkloadTarget[];
  from: string;
  to: string;
}

/** The trailer of a cleanup round's removal of a version's ExternalSecret files. */
const removalKey = (change: { rotationId: string; version: string; round: number }) => `${change.rotationId} remove ${change.version} round ${change.round}`;

/** The trailer of a stage's switch commit: the rotation, the stage, both versions. */
const switchKey = (change: GitSwitch) => `${change.rotationId} switch ${change.stage} ${change.from} -> ${change.to}`;
/** The trailer of its rollback. */
const revertKey = (change: GitSwitch, commit: string) => `${change.rotationId} revert ${change.stage} ${commit}`;

/**
 * pushMode branch: the branch of rotor's a stage's switch is pushed to, the same at every attempt:
 * `rotor/<secret>/<stage>-<8 hex of the rotation id>`, a valid ref name (a Secret and a stage are
 * Kubernetes names; only a component ending in `.lock` is not).
 */
const switchBranch = (change: GitSwitch) =>
  `rotor/${change.secret.replace(/\.lock$/, '-lock')}/${change.stage}-${createHash('sha256').update(change.rotationId).digest('hex').slice(0, 8)}`;

const rollbackMessage = (change: GitSwitch) =>
  `rotor: roll back ${change.secret} in ${change.stage} (${change.namespace}) to ${change.from}\n\nRotation ${change.rotationId} rolls back its switch to ${change.to}.`;

export class GitChanges {
  private readonly repos = new Map<string, GitRepository>();
  private readonly queues = new Map<string, Promise<unknown>>();

  constructor(private readonly access: GitAccess) {}

  /** `work` on the repository's clone, after every earlier operation on it. */
  private withRepo<T>(url: string, work: (repo: GitRepository) => Promise<T>): Promise<T> {
    let repo = this.repos.get(url);
    if (!repo) this.repos.set(url, (repo = new GitRepository(url, this.access)));
    const r = repo;
    const next = (this.queues.get(url) ?? Promise.resolve()).catch(() => undefined).then(() => work(r));
    this.queues.set(url, next);
    return next;
  }

  /** The switch of `change` in `target`: the references changed in one commit, pushed to the branch (pushMode branch: to rotor's own). */
  commitSwitch(target: GitTarget, change: GitSwitch): Promise<GitCommitResult> {
    const names = change.workloads.map((w) => `${w.kind}/${w.name}`).join(', ');
    const pushTo = target.pushMode === 'branch' ? switchBranch(change) : undefined;
    let edits: string[] = [];
    return this.withRepo(target.repo, async (repo) => {
      const result = await repo.commitChange({
        branch: target.branch,
        ...(pushTo ? { pushTo } : {}),
        key: switchKey(change),
        author: target.author,
        message:
          `rotor: ${change.secret} in ${change.stage} (${change.namespace}): ${change.from} -> ${change.to}\n\n` +
          `Rotation ${change.rotationId} switches ${names} to the new version of ${change.secret}.`,
        edit: (files) => {
          const r = editReferences(files, target.path, change.workloads, change.from, change.to);
          if (!('refusal' in r)) edits = r.edits.map((e) => `${e.file}:${e.line} ${e.field}`);
          return r;
        },
      });
      if ('refusal' in result) return { refusal: `${target.repo} ${target.branch}: ${result.refusal}` };
      return { ...result, repo: target.repo, branch: target.branch, edits: result.already ? [] : edits, ...(pushTo ? { pushedTo: pushTo } : {}) };
    });
  }

  /**
   * The rollback of a switch committed as `commit`: a revert of it, pushed to the branch. Without the
   * commit (the switch's answer was lost), the switch is found on the branch by its trailer; when it
   * is not there, nothing of rotor's is in Git to revert (`commit` empty).
   */
  revertSwitch(target: GitTarget, change: GitSwitch, known: string): Promise<GitCommitResult> {
    if (target.pushMode === 'branch') return this.revertBranch(target, change, known);
    return this.revertOwn(target, known, switchKey(change), (commit) => ({ key: revertKey(change, commit), message: rollbackMessage(change) }));
  }

  /**
   * A revert of rotor's commit `known`, or (not known) of the one on the branch whose trailer is
   * `findKey`, pushed to the branch; none there: nothing to revert (`commit` empty).
   */
  private revertOwn(target: GitTarget, known: string, findKey: string, revert: (commit: string) => { key: string; message: string }): Promise<GitCommitResult> {
    return this.withRepo(target.repo, async (repo) => {
      let commit = known;
      if (!commit) {
        await repo.sync(target.branch);
        commit = (await repo.findChange(target.branch, findKey)) ?? '';
        if (!commit) return { commit: '', repo: target.repo, branch: target.branch, edits: [], already: true, attempts: 1 };
      }
      const result = await repo.revertChange({ branch: target.branch, commit, author: target.author, ...revert(commit) });
      if ('refusal' in result) return { refusal: `${target.repo} ${target.branch}: ${result.refusal}` };
      return { ...result, repo: target.repo, branch: target.branch, edits: [] };
    });
  }

  /**
   * pushMode branch: the rollback of a switch pushed to rotor's branch, never pushed to the branch
   * itself. Merged (rotor's commit on the branch): a revert of it; squash-merged or rebased (the
   * branch names the new version at the workloads): the edit back; either on rotor's revert branch,
   * made on the branch's head. Never merged (the branch still names the previous version): rotor's
   * branch deleted, then looked at again, for a merge in between.
   */
  private revertBranch(target: GitTarget, change: GitSwitch, known: string): Promise<GitCommitResult> {
    const pushed = switchBranch(change);
    const pushTo = `${pushed}-revert`;
    const at = { repo: target.repo, branch: target.branch, edits: [] };
    return this.withRepo(target.repo, async (repo) => {
      await repo.sync(target.branch);
      const commit =
        known ||
        (await repo.findChange(target.branch, switchKey(change))) ||
        ((await repo.fetchBranch(pushed)) ? await repo.findChange(pushed, switchKey(change)) : null);
      if (!commit) return { commit: '', ...at, already: true, attempts: 1 };
      const revert = { branch: target.branch, pushTo, key: revertKey(change, commit), author: target.author, message: rollbackMessage(change) };
      const made = await repo.found(target.branch, pushTo, revert.key);
      if (typeof made === 'string') return { commit: made, ...at, already: true, attempts: 1, pushedTo: pushTo };
      const back = (files: RepoFile[]) => editReferences(files, target.path, change.workloads, change.to, change.from);
      let deleted = false;
      for (let look = 1; ; look++) {
        if (look > 1) await repo.sync(target.branch);
        let result: Committed | { refusal: string };
        if (await repo.onBranch(commit, target.branch)) result = await repo.revertChange({ ...revert, commit });
        else if (!('refusal' in back(repo.read())))
          result = await repo.commitChange({
            ...revert,
            message: `${revert.message}\n\nIts commit ${commit} came to ${target.branch} by a squash or rebase: this edits the references back.`,
            edit: back,
          });
        else {
          const unmerged = editReferences(repo.read(), target.path, change.workloads, change.from, change.from);
          if ('refusal' in unmerged)
            return {
              refusal: `${target.repo} ${target.branch}: rotor's ${commit.slice(0, 7)} (branch ${pushed}) is not on the branch, and the manifests name neither version where rotor edits (${unmerged.refusal}): set the references back to ${change.from} by hand`,
            };
          if (look > 1) return { commit: '', ...at, already: !deleted, attempts: 1, pushedTo: pushed, withdrawn: true };
          deleted = await repo.deleteBranch(pushed);
          continue;
        }
        if ('refusal' in result) return { refusal: `${target.repo} ${target.branch}: ${result.refusal}` };
        return { ...result, ...at, pushedTo: pushTo };
      }
    });
  }

  /**
   * store external-secrets: the version's ExternalSecret committed in the stage's path (`manifest`, the
   * whole file), beside the workloads the controller applies from there; found, not made again, on a retry.
   */
  commitVersionFile(
    target: GitTarget,
    change: { rotationId: string; secret: string; stage: string; version: string; manifest: string },
  ): Promise<GitCommitResult> {
    const file = versionFile(target.path, change.version);
    return this.withRepo(target.repo, async (repo) => {
      const result = await repo.commitChange({
        branch: target.branch,
        key: `${change.rotationId} external-secret ${change.stage} ${change.version}`,
        author: target.author,
        message: `rotor: ${change.secret}: ExternalSecret ${change.version} for ${change.stage}\n\nRotation ${change.rotationId} adds the new version; it reads its value from the secret store, and nothing uses it until the stage's switch.`,
        edit: (files) => addVersionFile(files, target.path, change.version, change.manifest),
      });
      if ('refusal' in result) return { refusal: `${target.repo} ${target.branch}: ${result.refusal}` };
      return { ...result, repo: target.repo, branch: target.branch, edits: [file] };
    });
  }

  /**
   * Cleanup, once nothing uses `version`: rotor's ExternalSecret files of it removed (none there:
   * `commit` empty). `round`: the cleanup round, so a removal restored since is made again.
   */
  removeVersionFiles(target: GitTarget, change: { rotationId: string; secret: string; version: string; round: number }): Promise<GitCommitResult> {
    let removed: string[] = [];
    return this.withRepo(target.repo, async (repo) => {
      const result = await repo.commitChange({
        branch: target.branch,
        key: removalKey(change),
        author: target.author,
        message: `rotor: ${change.secret}: remove ExternalSecret ${change.version}\n\nRotation ${change.rotationId} retires the version: nothing in the cluster or in Git uses it.`,
        edit: (files) => {
          const r = removeVersionFiles(files, change.secret, change.version);
          if (!('refusal' in r)) removed = r.removed ?? [];
          return r;
        },
      });
      if ('refusal' in result) return { refusal: `${target.repo} ${target.branch}: ${result.refusal}` };
      return { ...result, repo: target.repo, branch: target.branch, edits: result.already ? [] : removed };
    });
  }

  /** A removal undone (its version turned out to be used after all): a revert of the removal commit; none made: `commit` empty. */
  restoreVersionFiles(target: GitTarget, change: { rotationId: string; secret: string; version: string; round: number }): Promise<GitCommitResult> {
    return this.revertOwn(target, '', removalKey(change), () => ({
      key: `${removalKey(change)} restored`,
      message: `rotor: ${change.secret}: restore ExternalSecret ${change.version}\n\nRotation ${change.rotationId} found the version in use after all.`,
    }));
  }

  /** Whether `commit` of the repository (once fetched) has no file of rotor's for `version`; null when the clone lacks the commit. */
  withoutVersionFile(target: GitTarget, commit: string, version: string): Promise<boolean | null> {
    return this.withRepo(target.repo, async (repo) => {
      await repo.sync(target.branch);
      const paths = await repo.pathsAt(commit);
      return paths && !paths.some((p) => posix.basename(p) === posix.basename(versionFile('.', version)));
    });
  }

  /**
   * PLANNING: the switch of `workloads` from `from` tried on the branch's head, and with `versionFile`
   * the ExternalSecret's file too, nothing committed; why it cannot be made, or null.
   */
  tryEdit(target: GitTarget, workloads: WorkloadTarget[], from: string, versionFile?: boolean): Promise<string | null> {
    if (versionFile && target.pushMode === 'branch')
      return Promise.resolve(
        `${target.repo}: store external-secrets with pushMode branch is not supported (the new version's ExternalSecret would wait for a person to merge it before any stage): use pushMode direct for this stage`,
      );
    return this.withRepo(target.repo, async (repo) => {
      await repo.sync(target.branch);
      const files = repo.read();
      const r = editReferences(files, target.path, workloads, from, from);
      const added = versionFile && !('refusal' in r) ? addVersionFile(files, target.path, from, '') : r;
      const refused = 'refusal' in r ? r : 'refusal' in added ? added : null;
      return refused ? `${target.repo} ${target.branch}: ${refused.refusal}` : null;
    });
  }

  /** Where the branch's head still names `version` (`<repo> <branch>:<file>:<line>`): Git still uses it. */
  namedIn(target: GitTarget, version: string): Promise<string[]> {
    return this.withRepo(target.repo, async (repo) => {
      await repo.sync(target.branch);
      return namesInRepository(repo.read(), version).map((at) => `${target.repo} ${target.branch}:${at.file}:${at.line}`);
    });
  }
}
