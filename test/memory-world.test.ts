// A memory world as a user writes it: fields located as rotor locates references (or as paths with
// indexes, as earlier worlds were written), anything else refused when the world is loaded, naming the
// workload and the field; and the example world read by the adapter as a cluster would be.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadMemoryWorld, MemoryCluster, type MemoryWorld } from '../activities/memory';

const OLD = 'auth-api-secrets-20250101000000';

function worldFile(world: object): string {
  const file = join(mkdtempSync(join(tmpdir(), 'rotor-world-')), 'world.json');
  writeFileSync(file, JSON.stringify(world));
  return file;
}

describe('memory worlds', () => {
  it('refuses a field that is not where a pod spec names a Secret, naming the workload, the field and the form', () => {
    const file = worldFile({
      secrets: [],
      workloads: [
        { kind: 'Deployment', namespace: 'staging', name: 'web', refs: { 'containers[app].envFrom[].secretRef.name': OLD } },
        { kind: 'CronJob', namespace: 'staging', name: 'report', refs: { 'containers[app].envFrom[].secretRef.name': OLD, token: OLD } },
      ],
    });
    assert.throws(
      () => loadMemoryWorld(file),
      (err: Error) => {
        assert.match(err.message, /workloads\[1\]: CronJob staging\/report: refs field "token" is not where a pod spec names a Secret/);
        assert.match(err.message, /containers\[app\]\.envFrom\[\]\.secretRef\.name/);
        return true;
      },
    );
  });

  it('reads a path with indexes as the reference it locates, and reports it as rotor locates it', async () => {
    const world: MemoryWorld = {
      secrets: [{ namespace: 'staging', name: OLD, data: { api_token: 'x' } }],
      workloads: [
        { kind: 'Deployment', namespace: 'staging', name: 'web', refs: { 'spec.template.spec.containers[0].env[1].valueFrom.secretKeyRef.name': OLD } },
        { kind: 'CronJob', namespace: 'staging', name: 'report', refs: { 'spec.jobTemplate.spec.template.spec.imagePullSecrets[0].name': OLD } },
      ],
    };
    const use = await new MemoryCluster(world).findCurrentUse('staging', 'auth-api-secrets');
    assert.equal(use.version, OLD);
    assert.deepEqual(
      use.workloads.map((w) => [w.kind, w.name, w.fields]),
      [
        ['Deployment', 'web', ['containers[containers-0].env[env-1].valueFrom.secretKeyRef.name']],
        ['CronJob', 'report', ['imagePullSecrets[].name']],
      ],
    );
  });

  it('serves examples/world.json as a cluster: the users of the current version, and a rollout that is done', async () => {
    const world = loadMemoryWorld(join(__dirname, '..', '..', 'examples', 'world.json'));
    const cluster = new MemoryCluster(world);
    const use = await cluster.findCurrentUse('production', 'auth-api-secrets');
    assert.equal(use.version, OLD);
    assert.deepEqual(use.workloads.map((w) => `${w.kind}/${w.name}`).sort(), ['CronJob/token-audit', 'Deployment/auth-api']);
    const rollout = await cluster.rolloutState('production', use.workloads);
    assert.equal(rollout.ready, true, rollout.message);
    assert.match(rollout.message, /deployment "auth-api" successfully rolled out/);
  });
});

describe("the operator's part in the memory world", () => {
  it('writes a missing Secret once, however many reads of its ExternalSecret come at once', async () => {
    const world: MemoryWorld = {
      secrets: [],
      workloads: [],
      secretStores: [{ kind: 'ClusterSecretStore', name: 'aws', ready: true, provider: { aws: { service: 'SecretsManager', region: 'us-east-1' } } }],
    };
    let reads = 0;
    const cluster = new MemoryCluster(world, async () => {
      reads += 1;
      await new Promise((r) => setTimeout(r, 20)); // the provider answers slowly: the reads overlap
      return { api_token: 'from-aws' };
    });
    const spec = {
      namespace: 'staging',
      name: 'auth-api-secrets-20261207000000',
      base: 'auth-api-secrets',
      rotationId: 'r',
      secretStoreRef: { name: 'aws', kind: 'ClusterSecretStore' as const },
      remoteRef: { key: '/auth', version: 'uuid/1' },
    };
    assert.equal(await cluster.externalSecrets.createExternalVersion(spec), 'created');
    const states = await Promise.all(Array.from({ length: 5 }, () => cluster.externalSecrets.externalVersionState('staging', spec.name)));
    assert.ok(
      states.every((s) => s.ready),
      JSON.stringify(states),
    );
    assert.equal(world.secrets.filter((s) => s.name === spec.name).length, 1);
    assert.equal(reads, 1);
  });
});
