// A rotation's steps in a GitOps repository (activities/git/changes.ts) on a real smart-HTTP Git
// server: two stages switched at once in one repository land as two commits (one operation on a clone
// at a time), each message naming the rotation, the stage and both versions, and no value; a rollback
// reverts only its stage's commit; cleanup's question sees the version while any file still names it.
// pushMode branch: the switch goes to a branch of rotor's, the target branch untouched; its rollback
// withdraws that branch when it was never merged, and otherwise pushes the way back (a revert, or the
// edit back after a squash) to rotor's revert branch, never to the target branch.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { branchesOf, fileAt, useGitServer } from './helpers/git-mode';
import { execFileSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GitChanges } from '../activities/git/changes';
import type { GitCommitResult, GitTarget } from '../contract/activities';
import { logOf, mergeElsewhere } from '../sandbox/git-server';

const OLD = 'auth-api-secrets-20250101000000';
const NEW = 'auth-api-secrets-20261207100000';
const deployment = (ns: string, secret: string) =>
  `apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: auth-api\n  namespace: ${ns}\nspec:\n  template:\n    spec:\n      containers:\n        - name: app\n          envFrom: [{ secretRef: { name: ${secret} } }]\n`;

const gitServer = useGitServer();

const done = (r: GitCommitResult) => {
  assert.ok(!('refusal' in r), 'refusal' in r ? r.refusal : '');
  return r;
};

describe("a rotation's changes in Git", () => {
  it('switches two stages of one repository at once as two commits, reverts one, and answers cleanup from the head', async () => {
    const url = await gitServer().createRepository('platform', {
      'apps/staging/auth.yaml': deployment('staging', OLD),
      'apps/production/auth.yaml': deployment('production', OLD),
    });
    const git = new GitChanges({ token: gitServer().token, cacheDir: mkdtempSync(join(tmpdir(), 'rotor-clones-')) });
    const target = (path: string): GitTarget => ({ repo: url, branch: 'main', path, author: { name: 'rotor', email: 'rotor@example.test' } });
    const change = (stage: string) => ({
      rotationId: 'rotate-staging-auth-api-secrets/run-1',
      secret: 'auth-api-secrets',
      stage,
      namespace: stage,
      workloads: [{ kind: 'Deployment' as const, namespace: stage, name: 'auth-api' }],
      from: OLD,
      to: NEW,
    });
    const [staging, production] = await Promise.all([
      git.commitSwitch(target('apps/staging'), change('staging')),
      git.commitSwitch(target('apps/production'), change('production')),
    ]).then((rs) => rs.map(done));
    assert.deepEqual(staging.edits, ['apps/staging/auth.yaml:11 spec.template.spec.containers[0].envFrom[0].secretRef.name']);
    assert.deepEqual(production.edits, ['apps/production/auth.yaml:11 spec.template.spec.containers[0].envFrom[0].secretRef.name']);
    const log = await logOf(gitServer().root, 'platform', 'main');
    assert.equal(log.length, 3);
    for (const stage of ['staging', 'production'])
      assert.ok(
        log.some((l) => l.endsWith(`rotor: auth-api-secrets in ${stage} (${stage}): ${OLD} -> ${NEW}`)),
        stage,
      );

    assert.deepEqual((await git.namedIn(target('.'), OLD)).length, 0, 'no file names the old version once both switched');
    const reverted = done(await git.revertSwitch(target('apps/production'), change('production'), production.commit));
    assert.equal(done(await git.revertSwitch(target('apps/production'), change('production'), production.commit)).commit, reverted.commit, 'once');
    assert.deepEqual(await git.namedIn(target('.'), NEW), [`${url} main:apps/staging/auth.yaml:11`], "staging's switch stays");
    // A switch whose answer was lost (no commit id known): found by its trailer, and reverted; none made: nothing to revert.
    const found = done(await git.revertSwitch(target('apps/staging'), change('staging'), ''));
    assert.match(found.commit, /^[0-9a-f]{40}$/);
    assert.equal(done(await git.revertSwitch(target('apps/qa'), change('qa'), '')).commit, '', 'no switch of qa: nothing to revert');
    assert.deepEqual(await git.namedIn(target('.'), OLD), [`${url} main:apps/production/auth.yaml:11`, `${url} main:apps/staging/auth.yaml:11`]);
    assert.deepEqual(await git.namedIn(target('.'), NEW), [], 'both reverted');
    assert.equal((await logOf(gitServer().root, 'platform', 'main')).length, 5, 'two switches, two reverts, nothing for qa');
  });

  it('refuses a stage whose path defines none of its workloads, naming the repository and the fix', async () => {
    const url = await gitServer().createRepository('elsewhere', { 'apps/staging/auth.yaml': deployment('staging', OLD) });
    const git = new GitChanges({ token: gitServer().token, cacheDir: mkdtempSync(join(tmpdir(), 'rotor-clones-')) });
    const r = await git.commitSwitch(
      { repo: url, branch: 'main', path: 'apps/production', author: { name: 'rotor', email: 'rotor@example.test' } },
      {
        rotationId: 'r/1',
        secret: 'auth-api-secrets',
        stage: 'production',
        namespace: 'production',
        workloads: [{ kind: 'Deployment', namespace: 'production', name: 'auth-api' }],
        from: OLD,
        to: NEW,
      },
    );
    assert.ok('refusal' in r);
    assert.equal(
      r.refusal,
      `${url} main: no manifest under apps/production defines Deployment production/auth-api: set the plan's gitops.path to the directory (or kustomization) the controller applies it from`,
    );
    assert.equal((await logOf(gitServer().root, 'elsewhere', 'main')).length, 1, 'nothing committed');
  });

  it("commits a version's ExternalSecret once beside the workloads, and removes it (and its entry) once, at cleanup", async () => {
    const url = await gitServer().createRepository('external', {
      'apps/production/auth.yaml': deployment('production', OLD),
      'apps/production/kustomization.yaml': '# Flux applies this\nresources:\n  - auth.yaml\n',
    });
    const git = new GitChanges({ token: gitServer().token, cacheDir: mkdtempSync(join(tmpdir(), 'rotor-clones-')) });
    const target: GitTarget = { repo: url, branch: 'main', path: 'apps/production', author: { name: 'rotor', email: 'rotor@example.test' } };
    const manifest = `kind: ExternalSecret\nmetadata:\n  name: ${NEW}\n  labels: { rotor.dev/secret: auth-api-secrets, app.kubernetes.io/managed-by: rotor }\n`;
    const change = { rotationId: 'rotate-staging-auth-api-secrets/run-2', secret: 'auth-api-secrets', stage: 'production', version: NEW, manifest };
    const added = done(await git.commitVersionFile(target, change));
    assert.deepEqual(added.edits, [`apps/production/${NEW}.external-secret.yaml`]);
    const again = done(await git.commitVersionFile(target, change));
    assert.deepEqual([again.commit, again.already], [added.commit, true], 'a retry finds its commit');
    const log = await logOf(gitServer().root, 'external', 'main');
    assert.equal(log.length, 2);
    assert.match(log[0], new RegExp(`rotor: auth-api-secrets: ExternalSecret ${NEW} for production$`));
    assert.deepEqual(await git.namedIn(target, NEW), [], "rotor's own file holds nothing");
    assert.deepEqual(await git.tryEdit(target, [{ kind: 'Deployment', namespace: 'production', name: 'auth-api' }], OLD, true), null);
    assert.match(
      (await git.tryEdit({ ...target, pushMode: 'branch' }, [{ kind: 'Deployment', namespace: 'production', name: 'auth-api' }], OLD, true)) ?? '',
      /store external-secrets with pushMode branch is not supported .*: use pushMode direct for this stage$/,
    );

    const removal = { rotationId: 'rotate-staging-auth-api-secrets/run-9', secret: 'auth-api-secrets', version: NEW, round: 1 };
    const removed = done(await git.removeVersionFiles(target, removal));
    assert.deepEqual(removed.edits, [`apps/production/${NEW}.external-secret.yaml`]);
    assert.equal(done(await git.removeVersionFiles(target, removal)).commit, removed.commit, 'once');
    assert.equal(done(await git.removeVersionFiles(target, { ...removal, rotationId: 'other/run' })).commit, '', 'nothing left: no commit');
    const head = await logOf(gitServer().root, 'external', 'main');
    assert.equal(head.length, 3);
    assert.match(head[0], new RegExp(`rotor: auth-api-secrets: remove ExternalSecret ${NEW}$`));
    assert.equal(
      fileAt(gitServer(), 'external', 'apps/production/kustomization.yaml'),
      '# Flux applies this\nresources:\n  - auth.yaml\n',
      'the kustomization as it was',
    );
  });
});

describe('pushMode branch: rotor never pushes to the target branch', () => {
  let seq = 0;
  const ROTATION = 'rotate-staging-auth-api-secrets/run-7';
  /** A repository of production's manifest, a branch-mode target on it, and rotor's access (one clone cache per call, as another worker would have). */
  async function branchWorld() {
    const name = `reviewed-${++seq}`;
    const url = await gitServer().createRepository(name, { 'apps/production/auth.yaml': deployment('production', OLD) });
    const access = () => new GitChanges({ token: gitServer().token, cacheDir: mkdtempSync(join(tmpdir(), 'rotor-clones-')) });
    const target: GitTarget = {
      repo: url,
      branch: 'main',
      path: 'apps/production',
      author: { name: 'rotor', email: 'rotor@example.test' },
      pushMode: 'branch',
    };
    const change = {
      rotationId: ROTATION,
      secret: 'auth-api-secrets',
      stage: 'production',
      namespace: 'production',
      workloads: [{ kind: 'Deployment' as const, namespace: 'production', name: 'auth-api' }],
      from: OLD,
      to: NEW,
    };
    const main = await logOf(gitServer().root, name, 'main');
    return { name, url, target, change, git: access(), access, main };
  }
  const BRANCH = /^rotor\/auth-api-secrets\/production-[0-9a-f]{8}$/;

  it("pushes the switch to a branch of rotor's made on main's head, main unchanged; a retry finds the same commit", async () => {
    const { name, target, change, git, access, main } = await branchWorld();
    const pushed = done(await git.commitSwitch(target, change));
    assert.match(pushed.pushedTo!, BRANCH);
    assert.equal(pushed.branch, 'main');
    assert.equal(pushed.already, false);
    assert.deepEqual(pushed.edits, ['apps/production/auth.yaml:11 spec.template.spec.containers[0].envFrom[0].secretRef.name']);
    execFileSync('git', ['check-ref-format', `refs/heads/${pushed.pushedTo}`]);
    assert.deepEqual(await logOf(gitServer().root, name, 'main'), main, 'main untouched');
    assert.deepEqual(branchesOf(gitServer(), name), ['main', pushed.pushedTo].sort());
    const onBranch = await logOf(gitServer().root, name, pushed.pushedTo!);
    assert.deepEqual(
      onBranch.map((l) => l.slice(41)),
      [`rotor: auth-api-secrets in production (production): ${OLD} -> ${NEW}`, "the platform team's manifests"],
      "one commit on main's head",
    );
    assert.equal(onBranch[0].slice(0, 40), pushed.commit);
    assert.equal(fileAt(gitServer(), name, 'apps/production/auth.yaml', pushed.pushedTo), deployment('production', NEW));

    for (const again of [git, access()]) {
      const retried = done(await again.commitSwitch(target, change));
      assert.deepEqual([retried.commit, retried.already, retried.pushedTo], [pushed.commit, true, pushed.pushedTo], 'the same commit, found by its trailer');
    }
    assert.equal((await logOf(gitServer().root, name, pushed.pushedTo!)).length, 2, 'no second commit');
    assert.deepEqual(await logOf(gitServer().root, name, 'main'), main);
  });

  it('withdraws the branch when it was never merged: deleted, main unchanged, nothing to wait for; again, the same', async () => {
    const { name, target, change, git, main } = await branchWorld();
    const pushed = done(await git.commitSwitch(target, change));
    const withdrawn = done(await git.revertSwitch(target, change, pushed.commit));
    assert.deepEqual(
      [withdrawn.withdrawn, withdrawn.commit, withdrawn.pushedTo, withdrawn.already],
      [true, '', pushed.pushedTo, false],
      'withdrawn: the branch deleted now',
    );
    assert.deepEqual(branchesOf(gitServer(), name), ['main']);
    assert.deepEqual(await logOf(gitServer().root, name, 'main'), main, 'main untouched');
    const again = done(await git.revertSwitch(target, change, pushed.commit));
    assert.deepEqual([again.withdrawn, again.already], [true, true], 'the branch was already gone');
    assert.deepEqual(branchesOf(gitServer(), name), ['main']);
  });

  it("finds a lost switch on rotor's branch by its trailer, and withdraws it", async () => {
    const { name, target, change, access } = await branchWorld();
    done(await access().commitSwitch(target, change));
    const withdrawn = done(await access().revertSwitch(target, change, ''));
    assert.equal(withdrawn.withdrawn, true);
    assert.deepEqual(branchesOf(gitServer(), name), ['main']);
    const none = done(await access().revertSwitch(target, { ...change, stage: 'qa' }, ''));
    assert.deepEqual([none.commit, none.withdrawn], ['', undefined], 'no switch of qa: nothing of rotor to revert or withdraw');
  });

  it('once merged, rolls back with a revert of its commit on a revert branch made on main, main unchanged; once', async () => {
    const { name, target, change, git } = await branchWorld();
    const pushed = done(await git.commitSwitch(target, change));
    const merge = await mergeElsewhere(gitServer().root, name, pushed.pushedTo!, 'main');
    const mainMerged = await logOf(gitServer().root, name, 'main');
    const reverted = done(await git.revertSwitch(target, change, pushed.commit));
    assert.equal(reverted.pushedTo, `${pushed.pushedTo}-revert`);
    assert.notEqual(reverted.withdrawn, true);
    assert.deepEqual(await logOf(gitServer().root, name, 'main'), mainMerged, 'main untouched');
    const revertLog = await logOf(gitServer().root, name, reverted.pushedTo!);
    assert.equal(revertLog[0].slice(0, 40), reverted.commit);
    assert.equal(revertLog[1].slice(0, 40), merge, "made on main's head");
    assert.match(revertLog[0], /rotor: roll back auth-api-secrets in production \(production\) to auth-api-secrets-20250101000000$/);
    const diff = execFileSync('git', ['diff', 'main', reverted.pushedTo!], { cwd: join(gitServer().root, `${name}.git`), encoding: 'utf8' });
    assert.match(diff, new RegExp(`^-.*name: ${NEW}`, 'm'));
    assert.match(diff, new RegExp(`^\\+.*name: ${OLD}`, 'm'));
    assert.equal(diff.split('\n').filter((l) => /^[-+][^-+]/.test(l)).length, 2, 'one line changed back');
    const message = execFileSync('git', ['log', '-1', '--format=%B', reverted.pushedTo!], { cwd: join(gitServer().root, `${name}.git`), encoding: 'utf8' });
    assert.match(message, new RegExp(`This reverts commit ${pushed.commit}\\.`));
    const again = done(await git.revertSwitch(target, change, pushed.commit));
    assert.deepEqual([again.commit, again.already], [reverted.commit, true], 'the same revert');
    assert.equal((await logOf(gitServer().root, name, reverted.pushedTo!)).length, revertLog.length);
  });

  it('once squash-merged (its commit not on main), rolls back by editing the references back on the revert branch', async () => {
    const { name, target, change, git } = await branchWorld();
    const pushed = done(await git.commitSwitch(target, change));
    const squash = await mergeElsewhere(gitServer().root, name, pushed.pushedTo!, 'main', 'squash');
    const reverted = done(await git.revertSwitch(target, change, pushed.commit));
    assert.equal(reverted.pushedTo, `${pushed.pushedTo}-revert`);
    assert.equal(fileAt(gitServer(), name, 'apps/production/auth.yaml', reverted.pushedTo), deployment('production', OLD), 'the old name back, nothing else');
    assert.equal(fileAt(gitServer(), name, 'apps/production/auth.yaml'), deployment('production', NEW), 'main untouched');
    const revertLog = await logOf(gitServer().root, name, reverted.pushedTo!);
    assert.deepEqual([revertLog[0].slice(0, 40), revertLog[1].slice(0, 40)], [reverted.commit, squash]);
    const message = execFileSync('git', ['log', '-1', '--format=%B', reverted.pushedTo!], { cwd: join(gitServer().root, `${name}.git`), encoding: 'utf8' });
    assert.match(message, /by a squash or rebase: this edits the references back/);
    assert.ok(branchesOf(gitServer(), name).includes(pushed.pushedTo!), 'the merged branch is not withdrawn');
  });

  it("converges when another attempt pushes the same switch to rotor's branch first: one commit, found by its trailer", async () => {
    const { name, target, change, git, access, main } = await branchWorld();
    let raced = 0;
    let other: GitCommitResult | undefined;
    gitServer().beforePush = async (r) => {
      if (r !== name || raced++) return;
      // Another attempt of the same step (another worker, its own clone) pushes first.
      other = await access().commitSwitch(target, change);
    };
    try {
      const pushed = done(await git.commitSwitch(target, change));
      const first = done(other!);
      assert.deepEqual([pushed.commit, pushed.already, pushed.attempts], [first.commit, true, 2], "the other attempt's commit, found after the lost race");
      assert.equal((await logOf(gitServer().root, name, pushed.pushedTo!)).length, 2, 'one commit on the branch');
      assert.deepEqual(await logOf(gitServer().root, name, 'main'), main);
    } finally {
      gitServer().beforePush = null;
    }
  });

  it("refuses a branch of rotor's name that holds someone else's commit, rather than overwrite it", async () => {
    const { name, target, change, git } = await branchWorld();
    const pushed = done(await git.commitSwitch(target, change));
    await gitServer().resetRepository(name, pushed.pushedTo);
    const r = await git.commitSwitch(target, change);
    assert.ok('refusal' in r);
    assert.match(
      r.refusal,
      /the branch rotor\/auth-api-secrets\/production-[0-9a-f]{8} is there without rotor's commit for this change .*: rotor pushes only to a branch it made; delete it/,
    );
  });
});
