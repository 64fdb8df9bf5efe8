// store external-secrets in Git mode, on the time-skipping server, with rotor's activities over the
// memory cluster (which plays External Secrets Operator) and a real smart-HTTP Git server: production's
// Deployment and its versions' ExternalSecrets are applied by Flux from the repository (a stand-in
// applies what rotor commits, as the controller would), staging's are live. The new version's
// ExternalSecret is committed beside production's workload before any switch; cleanup removes the old
// one's file before the guarded delete, and puts it back when that delete finds the version in use
// after all (someone deployed a workload naming it meanwhile), then removes it once nothing does.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { logOf } from '../sandbox/git-server';
import { statusQuery } from '../contract/api';
import { ENV_FROM } from './helpers/doubles';
import { fileAt, fluxStandIn, useGitServer } from './helpers/git-mode';
import { esoGitPlan, esoWorld, OLD, SECRET, StandInGit } from './helpers/git-external-secrets';
import { timeSkippingRotations } from './helpers/rotations';

const { run } = timeSkippingRotations('git-eso');
const gitServer = useGitServer();
let seq = 0;

describe('store external-secrets in Git mode', () => {
  it("commits the new version's ExternalSecret beside production's workload, switches through Git, and removes the old one's file before the delete", async () => {
    const { name, url, cluster, store } = await esoWorld(gitServer(), `eso-platform-${++seq}`);
    const { d, status } = await run(
      {
        cluster,
        stores: { 'external-secrets': store },
        previous: { staging: null, production: null },
        git: new StandInGit(gitServer(), cluster),
        gitController: fluxStandIn(gitServer()),
      },
      esoGitPlan(url),
    );
    assert.equal(status.phase, 'COMPLETED', `${status.outcome} ${status.leftovers.join('; ')}`);
    const version = status.newVersion!;
    const log = (await logOf(gitServer().root, name, 'main')).map((l) => l.slice(41));
    assert.deepEqual(log.slice(0, 3), [
      `rotor: ${SECRET}: remove ExternalSecret ${OLD}`,
      `rotor: ${SECRET} in production (production): ${OLD} -> ${version}`,
      `rotor: ${SECRET}: ExternalSecret ${version} for production`,
    ]);
    assert.equal(fileAt(gitServer(), name, 'apps/production/kustomization.yaml'), `resources:\n  - auth.yaml\n  - ${version}.external-secret.yaml\n`);
    // Staging's version was created live; production's only through Git.
    assert.deepEqual(
      d.called('createVersion')[0].throughGit.map((g: { namespace: string }) => g.namespace),
      ['production'],
    );
    const order = d.calls.map((c) => c.name).filter((n) => n === 'removeFromGit' || n === 'deleteVersion');
    assert.deepEqual(order, ['removeFromGit', 'deleteVersion'], "the file leaves Git before the cluster's copy goes");
    assert.ok(status.events.some((e) => e.message.endsWith(`main: apps/production/${version}.external-secret.yaml (the ExternalSecret of ${version})`)));
    assert.ok(status.events.some((e) => e.message.endsWith(`main: removed apps/production/${OLD}.external-secret.yaml`)));
    for (const ns of ['staging', 'production']) {
      assert.deepEqual(
        (cluster.world.externalSecrets ?? []).filter((e) => e.namespace === ns).map((e) => e.name),
        [version],
        `${ns}: only the new version's ExternalSecret`,
      );
      assert.equal(d.workload(ns, 'auth-api')!.refs[ENV_FROM], version);
    }
  });

  it('puts the removed file back when the guarded delete finds the version in use after all, and removes it once nothing uses it', async () => {
    const { name, url, cluster, store } = await esoWorld(gitServer(), `eso-platform-${++seq}`);
    // Someone deploys a job naming the old version just after rotor's first removal; it goes an hour later.
    const rounds: number[] = [];
    const git = new StandInGit(gitServer(), cluster, (round) => {
      if (!rounds.length)
        cluster.world.workloads.push({ kind: 'Deployment', namespace: 'production', name: 'late-report', replicas: 1, refs: { [ENV_FROM]: OLD } });
      rounds.push(round);
    });
    let restored = '';
    const { status } = await run(
      { cluster, stores: { 'external-secrets': store }, previous: { staging: null, production: null }, git, gitController: fluxStandIn(gitServer()) },
      esoGitPlan(url, { retention: '1s', cleanupRecheck: '1h' }),
      async (handle, env) => {
        for (let i = 0; i < 500; i++) {
          const s = await handle.query(statusQuery);
          if (s.holders.some((h) => h.name === 'late-report')) {
            restored = fileAt(gitServer(), name, 'apps/production/kustomization.yaml');
            cluster.world.workloads = cluster.world.workloads.filter((w) => w.name !== 'late-report');
            break;
          }
          await env.sleep('1m');
        }
      },
    );
    assert.match(
      restored,
      new RegExp(`  - ${OLD}\\.external-secret\\.yaml\\n`),
      `the file is back while the version is in use: ${status.phase} ${JSON.stringify(status.events.map((e) => e.message))}`,
    );
    assert.equal(status.phase, 'COMPLETED', `${status.outcome} ${status.leftovers.join('; ')}`);
    const log = (await logOf(gitServer().root, name, 'main')).map((l) => l.slice(41));
    assert.deepEqual(log.slice(0, 3), [
      `rotor: ${SECRET}: remove ExternalSecret ${OLD}`,
      `rotor: ${SECRET}: restore ExternalSecret ${OLD}`,
      `rotor: ${SECRET}: remove ExternalSecret ${OLD}`,
    ]);
    assert.ok(!fileAt(gitServer(), name, 'apps/production/kustomization.yaml').includes(OLD), 'removed in the end');
    assert.equal(new Set(rounds).size, 2, `a removal in each of two cleanup rounds (${rounds.join(', ')})`);
    assert.ok(!cluster.world.secrets.some((x) => x.namespace === 'production' && x.name === OLD), 'deleted once nothing used it');
  });
});
