// rotor's changes to GitOps repositories, as the rotation's steps make them: a stage's switch (one
// commit changing the Secret name at every reference of the stage's workloads that a GitOps
// controller applies), its rollback (a revert of that commit), and cleanup's question (does the
// branch still name the version anywhere?). One clone per repository per worker process, and one
// operation on a clone at a time (two activities of the worker may reach the same repository).
import { editReferences, namesInRepository, type WorkloadTarget } from './manifests';
import { GitRepository, type GitAccess } from './repo';
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

/** The trailer of a stage's switch commit: the rotation, the stage, both versions. */
const switchKey = (change: GitSwitch) => `${change.rotationId} switch ${change.stage} ${change.from} -> ${change.to}`;

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

  /** The switch of `change` in `target`: the references changed in one commit, pushed to the branch. */
  commitSwitch(target: GitTarget, change: GitSwitch): Promise<GitCommitResult> {
    const names = change.workloads.map((w) => `${w.kind}/${w.name}`).join(', ');
    let edits: string[] = [];
    return this.withRepo(target.repo, async (repo) => {
      const result = await repo.commitChange({
        branch: target.branch,
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
      return { ...result, repo: target.repo, branch: target.branch, edits: result.already ? [] : edits };
    });
  }

  /**
   * The rollback of a switch committed as `commit`: a revert of it, pushed to the branch. Without the
   * commit (the switch's answer was lost), the switch is found on the branch by its trailer; when it
   * is not there, nothing of rotor's is in Git to revert (`commit` empty).
   */
  revertSwitch(target: GitTarget, change: GitSwitch, known: string): Promise<GitCommitResult> {
    return this.withRepo(target.repo, async (repo) => {
      let commit = known;
      if (!commit) {
        await repo.sync(target.branch);
        commit = (await repo.findChange(target.branch, switchKey(change))) ?? '';
        if (!commit) return { commit: '', repo: target.repo, branch: target.branch, edits: [], already: true, attempts: 1 };
      }
      const result = await repo.revertChange({
        branch: target.branch,
        commit,
        key: `${change.rotationId} revert ${change.stage} ${commit}`,
        author: target.author,
        message: `rotor: roll back ${change.secret} in ${change.stage} (${change.namespace}) to ${change.from}\n\nRotation ${change.rotationId} rolls back its switch to ${change.to}.`,
      });
      if ('refusal' in result) return { refusal: `${target.repo} ${target.branch}: ${result.refusal}` };
      return { ...result, repo: target.repo, branch: target.branch, edits: [] };
    });
  }

  /** PLANNING: the switch of `workloads` from `from` tried on the branch's head, nothing committed; why it cannot be made, or null. */
  tryEdit(target: GitTarget, workloads: WorkloadTarget[], from: string): Promise<string | null> {
    return this.withRepo(target.repo, async (repo) => {
      await repo.sync(target.branch);
      const r = editReferences(repo.read(), target.path, workloads, from, from);
      return 'refusal' in r ? `${target.repo} ${target.branch}: ${r.refusal}` : null;
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
