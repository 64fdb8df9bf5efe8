// rotor's changes to a GitOps repository, through Git's CLI and a real smart-HTTP Git server
// (`git http-backend`, sandbox/git-server.ts): a reference changed in one commit whose message names
// the rotation and the versions, pushed to the branch; the same change retried finds its commit; a
// push that loses a race is made again on the new head; a race on the same line is refused naming the
// other commit; a rollback is a revert of rotor's commit; a wrong token is refused; the token appears
// on no command line and in no error.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { useGitServer } from './helpers/git-mode';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GitRepository, type Committed } from '../activities/git/repo';
import { editReferences } from '../activities/git/manifests';
import { commitElsewhere, logOf } from '../sandbox/git-server';
import { RotorError } from '../activities/errors';

const OLD = 'auth-api-secrets-20250101000000';
const NEW = 'auth-api-secrets-20261207100000';
const AUTHOR = { name: 'rotor', email: 'rotor@example.test' };
const manifest = (name: string) =>
  `# production's auth API\napiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: auth-api\n  namespace: production\nspec:\n  template:\n    spec:\n      containers:\n        - name: app\n          image: registry.example/auth:1.4 # pinned\n          envFrom:\n            - secretRef:\n                name: ${name}\n`;
const target = { kind: 'Deployment' as const, namespace: 'production', name: 'auth-api' };

const gitServer = useGitServer();
let seq = 0;

async function repository(): Promise<{ name: string; url: string; repo: GitRepository }> {
  const name = `apps-${++seq}`;
  const url = await gitServer().createRepository(name, {
    'apps/production/auth.yaml': manifest(OLD),
    'apps/production/kustomization.yaml': 'resources: [auth.yaml]\n',
  });
  return { name, url, repo: new GitRepository(url, { token: gitServer().token, cacheDir: mkdtempSync(join(tmpdir(), 'rotor-clones-')) }) };
}

const change = (key: string) => ({
  branch: 'main',
  key,
  message: `rotor: auth-api-secrets in production: ${OLD} -> ${NEW}`,
  author: AUTHOR,
  edit: (files: Parameters<typeof editReferences>[0]) => editReferences(files, 'apps/production', [target], OLD, NEW),
});

function committed(r: Committed | { refusal: string }): Committed {
  assert.ok(!('refusal' in r), 'refusal' in r ? r.refusal : '');
  return r;
}

describe('rotor commits to a GitOps repository', () => {
  it('changes the reference in one commit that names the rotation and versions, once however often it is asked', async () => {
    const { name, repo } = await repository();
    const first = committed(await repo.commitChange(change('rotate-x/run-1 switch production')));
    assert.equal(first.already, false);
    const log = await logOf(gitServer().root, name, 'main');
    assert.equal(log.length, 2);
    assert.equal(log[0], `${first.commit} rotor: auth-api-secrets in production: ${OLD} -> ${NEW}`);
    await repo.sync('main');
    assert.equal(readFileSync(join(repo.dir, 'apps/production/auth.yaml'), 'utf8'), manifest(NEW), 'only the name changed, the comments kept');
    const again = committed(await repo.commitChange(change('rotate-x/run-1 switch production')));
    assert.deepEqual([again.commit, again.already], [first.commit, true]);
    assert.equal((await logOf(gitServer().root, name, 'main')).length, 2, 'no second commit');
  });

  it('makes the change again on the new head when another commit lands between its fetch and its push', async () => {
    const { name, repo } = await repository();
    let raced = 0;
    gitServer().beforePush = async (r) => {
      if (r !== name || raced++) return;
      await commitElsewhere(gitServer().root, name, 'main', 'bump the image', (dir) => {
        const f = join(dir, 'apps/production/auth.yaml');
        writeFileSync(f, readFileSync(f, 'utf8').replace('auth:1.4', 'auth:1.5'));
      });
    };
    try {
      const done = committed(await repo.commitChange(change('rotate-y/run-1 switch production')));
      assert.equal(done.attempts, 2);
      const log = await logOf(gitServer().root, name, 'main');
      assert.deepEqual(
        log.map((l) => l.slice(41)),
        [`rotor: auth-api-secrets in production: ${OLD} -> ${NEW}`, 'bump the image', "the platform team's manifests"],
      );
      await repo.sync('main');
      assert.equal(readFileSync(join(repo.dir, 'apps/production/auth.yaml'), 'utf8'), manifest(NEW).replace('auth:1.4', 'auth:1.5'), 'both changes');
    } finally {
      gitServer().beforePush = null;
    }
  });

  it('refuses when the racing commit changed the same reference, naming that commit', async () => {
    const { name, repo } = await repository();
    let raced = 0;
    gitServer().beforePush = async (r) => {
      if (r !== name || raced++) return;
      await commitElsewhere(gitServer().root, name, 'main', 'pin another secret', (dir) =>
        writeFileSync(join(dir, 'apps/production/auth.yaml'), manifest('hand-picked-secret')),
      );
    };
    try {
      const r = await repo.commitChange(change('rotate-z/run-1 switch production'));
      assert.ok('refusal' in r);
      assert.match(
        r.refusal,
        /does not name .* at a Secret reference.*the branch main moved while rotor pushed, to [0-9a-f]{7} pin another secret: look at that commit/,
      );
    } finally {
      gitServer().beforePush = null;
    }
  });

  it('rolls back by reverting its own commit, once', async () => {
    const { name, repo } = await repository();
    const switched = committed(await repo.commitChange(change('rotate-r/run-1 switch production')));
    const revert = {
      branch: 'main',
      commit: switched.commit,
      key: 'rotate-r/run-1 revert production',
      message: `rotor: roll back auth-api-secrets in production to ${OLD}`,
      author: AUTHOR,
    };
    const reverted = committed(await repo.revertChange(revert));
    await repo.sync('main');
    assert.equal(readFileSync(join(repo.dir, 'apps/production/auth.yaml'), 'utf8'), manifest(OLD));
    assert.equal(committed(await repo.revertChange(revert)).commit, reverted.commit);
    const log = await logOf(gitServer().root, name, 'main');
    assert.equal(log.length, 3);
    assert.match(log[0], /rotor: roll back auth-api-secrets in production/);
  });

  it('is refused with a wrong token, and the token is in no error', async () => {
    const { url } = await repository();
    const wrong = new GitRepository(url, { token: 'not-the-token-4Fz9', cacheDir: mkdtempSync(join(tmpdir(), 'rotor-clones-')) });
    await assert.rejects(wrong.sync('main'), (err: RotorError) => {
      assert.equal(err.type, 'Forbidden');
      assert.ok(!err.message.includes('not-the-token-4Fz9') && !err.message.includes(gitServer().token));
      assert.match(err.message, /^git fetch http:\/\/127\.0\.0\.1:\d+\/apps-\d+\.git: /);
      return true;
    });
  });
});
