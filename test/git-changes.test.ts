// A rotation's steps in a GitOps repository (activities/git/changes.ts) on a real smart-HTTP Git
// server: two stages switched at once in one repository land as two commits (one operation on a clone
// at a time), each message naming the rotation, the stage and both versions, and no value; a rollback
// reverts only its stage's commit; cleanup's question sees the version while any file still names it.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { fileAt, useGitServer } from './helpers/git-mode';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GitChanges } from '../activities/git/changes';
import type { GitCommitResult, GitTarget } from '../contract/activities';
import { logOf } from '../sandbox/git-server';

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
