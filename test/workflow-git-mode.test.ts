// Git mode on the time-skipping server, with rotor's activities over the memory cluster and a real
// smart-HTTP Git server: production's Deployment, applied by a Flux Kustomization, gets the new Secret
// reference through one commit to the repository (staging, not managed, is switched live), and only once
// the controller (a stand-in that applies the branch's head to the cluster, as Flux would) has applied it
// does the rotation go on. A failed check rolls back with a revert of rotor's commit. A plan rotor
// cannot carry out in Git (no access, a secretGenerator) fails in PLANNING with nothing changed.
// pushMode branch: the status says where rotor's commit went and to merge it; unmerged, the wait times
// out and the rollback withdraws rotor's branch; merged, the rotation goes on, and its rollback is a
// branch to merge (a leftover, named, while nobody merges it).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MemoryCluster } from '../activities/memory';
import { GitChanges } from '../activities/git/changes';
import { commitElsewhere, logOf, mergeElsewhere } from '../sandbox/git-server';
import { statusQuery } from '../contract/api';
import { ENV_FROM } from './helpers/doubles';
import { branchesOf, fileAt, FLUX_LABELS, fluxStandIn, productionManifest, useGitServer } from './helpers/git-mode';
import { twoStagePlan } from './helpers/plans';
import { timeSkippingRotations } from './helpers/rotations';

const OLD = 'auth-api-secrets-20250101000000';
const { run } = timeSkippingRotations('git-mode');
const manifest = productionManifest;

const gitServer = useGitServer();
let seq = 0;

/** A world where staging runs auth-api live and production's is applied by Flux from `repo`. */
async function world(
  files: Record<string, string> = { 'apps/production/auth.yaml': manifest(OLD), 'apps/production/kustomization.yaml': 'resources: [auth.yaml]\n' },
) {
  const name = `platform-${++seq}`;
  const url = await gitServer().createRepository(name, files);
  const cluster = new MemoryCluster({ secrets: [], workloads: [] });
  for (const namespace of ['staging', 'production']) {
    cluster.world.secrets.push({ namespace, name: OLD, data: { api_token: 'rotor-leak-canary-old-token-value' }, immutable: true });
    cluster.world.workloads.push({ kind: 'Deployment', namespace, name: 'auth-api', replicas: 4, refs: { [ENV_FROM]: OLD } });
  }
  cluster.world.workloads.find((w) => w.namespace === 'production')!.labels = { ...FLUX_LABELS };
  return { name, url, cluster };
}

const gitPlan = (url: string, top: object = {}) =>
  twoStagePlan({
    production: { strategy: 'rolling', gitops: { path: 'apps/production' } },
    top: { gitops: { repo: url, author: { name: 'rotor', email: 'rotor@example.test' } }, ...top },
  });
const access = () => new GitChanges({ token: gitServer().token, cacheDir: mkdtempSync(join(tmpdir(), 'rotor-clones-')) });

describe('Git mode', () => {
  it('switches a Flux-applied workload by one commit, waits for the controller, and completes; staging is switched live', async () => {
    const { name, url, cluster } = await world();
    const { d, status } = await run(
      { cluster, previous: { staging: null, production: null }, git: access(), gitController: fluxStandIn(gitServer()) },
      gitPlan(url),
    );
    assert.equal(status.phase, 'COMPLETED', status.outcome ?? '');
    const version = status.newVersion!;
    assert.deepEqual(
      d.called('switchWorkloads').map((i) => i.namespace),
      ['staging'],
      'production is never patched live',
    );
    const commits = d.called('commitToGit');
    assert.equal(commits.length, 1);
    assert.equal(commits[0].namespace, 'production');
    const log = await logOf(gitServer().root, name, 'main');
    assert.equal(log.length, 2);
    assert.match(log[0], new RegExp(`^[0-9a-f]{40} rotor: auth-api-secrets in production \\(production\\): ${OLD} -> ${version}$`));
    const head = fileAt(gitServer(), name, 'apps/production/auth.yaml');
    assert.equal(head, manifest(version), 'only the name changed, the comments kept');
    assert.equal(d.workload('production', 'auth-api')!.refs[ENV_FROM], version);
    assert.equal(d.workload('staging', 'auth-api')!.refs[ENV_FROM], version);
    assert.ok(status.events.some((e) => /^committed [0-9a-f]{7} to .* main: Deployment\/auth-api to /.test(e.message)));
    assert.ok(status.events.some((e) => /Flux Kustomization flux-system\/apps applied [0-9a-f]{7} in production/.test(e.message)));
    assert.ok(d.called('namedInGit').length >= 1, 'cleanup asked Git before deleting');
    assert.ok(!d.secretNames('production').includes(OLD), 'the old version deleted once neither the cluster nor Git names it');
  });

  it('rolls back a failed check with a revert of its commit, applied by the controller', async () => {
    const { name, url, cluster } = await world();
    const { d, status } = await run(
      {
        cluster,
        previous: { staging: null, production: null },
        git: access(),
        gitController: fluxStandIn(gitServer()),
        check: (input) => (input.stage === 'production' ? 'failed' : 'passed'),
      },
      gitPlan(url),
    );
    assert.equal(status.phase, 'ROLLED_BACK', status.outcome ?? '');
    const log = await logOf(gitServer().root, name, 'main');
    assert.equal(log.length, 3);
    assert.match(log[0], /rotor: roll back auth-api-secrets in production \(production\) to auth-api-secrets-20250101000000$/);
    assert.equal(d.called('revertInGit').length, 1);
    const head = fileAt(gitServer(), name, 'apps/production/auth.yaml');
    assert.equal(head, manifest(OLD), 'the manifest as it was');
    for (const ns of ['staging', 'production']) assert.equal(d.workload(ns, 'auth-api')!.refs[ENV_FROM], OLD, ns);
  });

  it('keeps the previous version while a file on the branch still names it, though nothing in the cluster does; deletes it once none does', async () => {
    const { name, url, cluster } = await world({
      'apps/production/auth.yaml': manifest(OLD),
      'apps/production/kustomization.yaml': 'resources: [auth.yaml]\n',
      // A weekly job Flux no longer applies, still naming the previous version in Git.
      'apps/archive/report.yaml': `kind: CronJob\nmetadata: { name: weekly-report, namespace: production }\nspec:\n  jobTemplate: { spec: { template: { spec: { volumes: [{ name: s, secret: { secretName: ${OLD} } }] } } } }\n`,
    });
    let heldBy: string[] = [];
    const { d, status } = await run(
      { cluster, previous: { staging: null, production: null }, git: access(), gitController: fluxStandIn(gitServer()) },
      gitPlan(url, { retention: '1h', cleanupRecheck: '1h' }),
      async (handle, env) => {
        for (let i = 0; i < 500; i++) {
          const s = await handle.query(statusQuery);
          if (s.holders.length) {
            heldBy = s.holders.map((h) => `${h.kind} ${h.name}`);
            break;
          }
          await env.sleep('10m');
        }
        await commitElsewhere(gitServer().root, name, 'main', 'retire the weekly report', (dir) => rmSync(join(dir, 'apps/archive/report.yaml')));
      },
    );
    assert.deepEqual(heldBy, [`Git ${url} main:apps/archive/report.yaml:4`]);
    assert.equal(status.phase, 'COMPLETED', status.outcome ?? '');
    assert.ok(!d.secretNames('production').includes(OLD), 'deleted once Git names it no more');
  });

  it('runs a canary of a Flux-applied Deployment: a green copy beside blue at full size, then blue by a commit at 100%', async () => {
    const { name, url, cluster } = await world();
    const plan = gitPlan(url);
    plan.stages[1].strategy = { canary: { steps: [25, 100], pause: '10m' } };
    const { d, status } = await run({ cluster, previous: { staging: null, production: null }, git: access(), gitController: fluxStandIn(gitServer()) }, plan);
    assert.equal(status.phase, 'COMPLETED', status.outcome ?? '');
    const version = status.newVersion!;
    const production = d.called('switchWorkloads').filter((i) => i.namespace === 'production');
    assert.deepEqual(
      production.map((i) => [i.weightPercent, i.throughGit, i.workloads.map((w: { name: string }) => w.name)]),
      [[25, true, ['auth-api']]],
      'production: only the green copy at 25%, switched live; blue never',
    );
    assert.equal(d.called('commitToGit').length, 1, 'blue at 100% by a commit');
    const blue = d.workload('production', 'auth-api')!;
    assert.equal(blue.refs[ENV_FROM], version);
    assert.equal(blue.replicas, 4, "blue's replicas are Git's: never changed");
    assert.deepEqual(
      Object.keys(blue.annotations ?? {}).filter((k) => k.startsWith('rotor.dev/')),
      [],
      'nothing of rotor on blue: Git changed it',
    );
    assert.deepEqual(
      cluster.world.workloads.filter((w) => w.namespace === 'production').map((w) => w.name),
      ['auth-api'],
      'the green copy removed',
    );
    assert.equal((await logOf(gitServer().root, name, 'main')).length, 2);
  });

  it('rolls back a failed canary step: the green copy goes, blue and Git were never touched', async () => {
    const { name, url, cluster } = await world();
    const plan = gitPlan(url);
    plan.stages[1].strategy = { canary: { steps: [25, 100], pause: '10m' } };
    let greenLabels: Record<string, string> | undefined;
    const { d, status } = await run(
      {
        cluster,
        previous: { staging: null, production: null },
        git: access(),
        gitController: fluxStandIn(gitServer()),
        check: (input) => {
          if (input.stage !== 'production') return 'passed';
          greenLabels = cluster.world.workloads.find((w) => w.namespace === 'production' && w.name !== 'auth-api')?.labels;
          return 'failed';
        },
      },
      plan,
    );
    assert.equal(status.phase, 'ROLLED_BACK', status.outcome ?? '');
    assert.ok(greenLabels, 'a green copy ran during the canary');
    assert.deepEqual(
      Object.keys(greenLabels!).filter((k) => k.includes('fluxcd.io')),
      [],
      'the green copy carries no Flux label (Flux would prune it)',
    );
    assert.equal(d.called('commitToGit').length, 0);
    assert.equal(d.called('revertInGit').length, 0);
    assert.equal((await logOf(gitServer().root, name, 'main')).length, 1, 'Git untouched');
    assert.deepEqual(
      cluster.world.workloads.filter((w) => w.namespace === 'production').map((w) => [w.name, w.replicas, w.refs[ENV_FROM]]),
      [['auth-api', 4, OLD]],
    );
  });

  it('fails in PLANNING, nothing changed, when the worker has no Git access or the manifest comes from a secretGenerator', async () => {
    const { name, url, cluster } = await world();
    const noAccess = await run({ cluster, previous: { staging: null, production: null } }, gitPlan(url));
    assert.equal(noAccess.status.phase, 'FAILED');
    assert.match(noAccess.status.outcome!, /the Git change cannot be made \(nothing was changed\): this worker has no Git access .*ROTOR_GIT_TOKEN_FILE/);
    assert.equal(noAccess.d.called('createVersion').length, 0);

    const generated = await world({
      'apps/production/kustomization.yaml': 'resources: [auth.yaml]\nsecretGenerator:\n  - name: auth-api-secrets\n    envs: [token.env]\n',
      'apps/production/auth.yaml': manifest('auth-api-secrets'),
    });
    const refused = await run({ cluster: generated.cluster, previous: { staging: null, production: null }, git: access() }, gitPlan(generated.url));
    assert.equal(refused.status.phase, 'FAILED');
    assert.match(
      refused.status.outcome!,
      /production: .* main: apps\/production\/kustomization\.yaml:3: Deployment production\/auth-api reads auth-api-secrets-20250101000000, which kustomize's secretGenerator auth-api-secrets makes/,
    );
    assert.equal(refused.d.called('createVersion').length, 0);
    assert.equal((await logOf(gitServer().root, generated.name, 'main')).length, 1, 'nothing committed');
    assert.equal((await logOf(gitServer().root, name, 'main')).length, 1);
  });

  it('fails in PLANNING, nothing changed, when the live workload names the version where Git does not (a reference added by hand)', async () => {
    const { name, url, cluster } = await world();
    const live = cluster.world.workloads.find((w) => w.namespace === 'production')!;
    live.refs = { ...live.refs, 'containers[app].env[EXTRA].valueFrom.secretKeyRef.name': OLD };
    const { d, status } = await run({ cluster, previous: { staging: null, production: null }, git: access() }, gitPlan(url));
    assert.equal(status.phase, 'FAILED');
    assert.match(
      status.outcome!,
      /the Git change cannot be made \(nothing was changed\): production: .* main: Deployment production\/auth-api names auth-api-secrets-20250101000000 at 2 live place\(s\) .* but at 1 in the manifests under apps\/production \(apps\/production\/auth\.yaml:16\)/,
    );
    assert.equal(d.called('createVersion').length, 0);
    assert.equal((await logOf(gitServer().root, name, 'main')).length, 1, 'nothing committed');
  });

  describe('pushMode branch', () => {
    // The controller's wait is an activity that polls in real time: a short syncTimeout.
    const branchPlan = (url: string, top: object = {}) =>
      gitPlan(url, { gitops: { repo: url, author: { name: 'rotor', email: 'rotor@example.test' }, pushMode: 'branch', syncTimeout: '3s' }, ...top });
    const said = (status: { events: { message: string }[] }, pattern: RegExp) => status.events.find((e) => pattern.test(e.message))?.message;

    it("pushes to a branch of rotor's and says to merge it; never merged, the wait times out and the rollback withdraws the branch", async () => {
      const { name, url, cluster } = await world();
      const main = await logOf(gitServer().root, name, 'main');
      const { d, status } = await run(
        { cluster, previous: { staging: null, production: null }, git: access(), gitController: fluxStandIn(gitServer()) },
        branchPlan(url),
      );
      assert.equal(status.phase, 'ROLLED_BACK', status.outcome ?? '');
      const commit = d.called('commitToGit')[0];
      assert.equal(commit.target.pushMode, 'branch');
      assert.match(
        said(status, /^pushed .* merge it/) ?? '',
        new RegExp(
          `^pushed [0-9a-f]{7} to branch rotor/auth-api-secrets/production-[0-9a-f]{8} of ${url}: merge it into main; waiting for the GitOps controller to apply it in production$`,
        ),
      );
      assert.match(
        status.outcome ?? '',
        /[0-9a-f]{7} on branch rotor\/auth-api-secrets\/production-[0-9a-f]{8} was not merged into main and applied in production within 3s/,
      );
      assert.match(
        said(status, /^withdrew/) ?? '',
        new RegExp(`^withdrew branch rotor/auth-api-secrets/production-[0-9a-f]{8} of ${url} \\(never merged into main\\): nothing to wait for in production$`),
      );
      assert.equal(d.called('revertInGit').length, 1);
      assert.equal(d.called('waitForGitSync').length, 1, 'no wait after a withdrawal');
      assert.deepEqual(status.leftovers, []);
      assert.deepEqual(branchesOf(gitServer(), name), ['main'], "rotor's branch deleted");
      assert.deepEqual(await logOf(gitServer().root, name, 'main'), main, 'main never pushed to');
      for (const ns of ['staging', 'production']) assert.equal(d.workload(ns, 'auth-api')!.refs[ENV_FROM], OLD, ns);
    });

    it("goes on once a person merges rotor's branch; its rollback is a revert branch to merge, a leftover while nobody merges it", async () => {
      const { name, url, cluster } = await world();
      const flux = fluxStandIn(gitServer());
      const { status } = await run(
        {
          cluster,
          previous: { staging: null, production: null },
          git: access(),
          // A person merges the switch (not the rollback), then Flux applies main.
          gitController: async (doubles, input, result) => {
            if (!('refusal' in result) && result.pushedTo && !result.pushedTo.endsWith('-revert'))
              await mergeElsewhere(gitServer().root, name, result.pushedTo, 'main');
            flux(doubles, input);
          },
          check: (input) => (input.stage === 'production' ? 'failed' : 'passed'),
        },
        branchPlan(url),
      );
      // A rollback with something left to do by hand ends FAILED, naming it.
      assert.equal(status.phase, 'FAILED', status.outcome ?? '');
      assert.match(status.outcome ?? '', /^failed: rollback incomplete after: verify check in production failed/);
      assert.ok(
        said(status, /Flux Kustomization flux-system\/apps applied [0-9a-f]{7} from rotor\/auth-api-secrets\/production-[0-9a-f]{8} in production/),
        'applied once merged',
      );
      assert.match(
        said(status, /^rolls back/) ?? '',
        new RegExp(
          `^rolls back rotor's commit [0-9a-f]{7}: pushed [0-9a-f]{7} to branch rotor/auth-api-secrets/production-[0-9a-f]{8}-revert of ${url}: merge it into main; waiting`,
        ),
      );
      assert.equal(status.leftovers.length, 1, status.leftovers.join('; '));
      assert.match(
        status.leftovers[0],
        new RegExp(
          `^production: rotor's rollback [0-9a-f]{7} is on branch rotor/auth-api-secrets/production-[0-9a-f]{8}-revert of ${url} but not applied: merge it into main`,
        ),
      );
      const branches = branchesOf(gitServer(), name);
      assert.equal(branches.length, 3, branches.join(' '));
      const revert = branches.find((b) => b.endsWith('-revert'))!;
      assert.equal(fileAt(gitServer(), name, 'apps/production/auth.yaml', revert), manifest(OLD), 'the revert branch names the old version');
      assert.equal(fileAt(gitServer(), name, 'apps/production/auth.yaml'), manifest(status.newVersion!), 'main: only the person merged');
      assert.deepEqual(
        (await logOf(gitServer().root, name, 'main')).map((l) => l.slice(41)),
        [
          `Merge branch '${branches.find((b) => b !== 'main' && b !== revert)}'`,
          `rotor: auth-api-secrets in production (production): ${OLD} -> ${status.newVersion}`,
          "the platform team's manifests",
        ],
      );
    });
  });
});
