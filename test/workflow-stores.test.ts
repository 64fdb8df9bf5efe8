// Stores outside the cluster, on the real time-skipping server with activity doubles: PLANNING asks
// the plan's store before anything is created, so a plan for a store this worker does not serve, or
// one that does not answer, fails there with the reason and nothing changed.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { twoStagePlan } from './helpers/plans';
import { workload } from './helpers/doubles';
import { timeSkippingRotations } from './helpers/rotations';
import { CreateSecretCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { AwsSecretsManagerStore, ExternalSecretsStore } from '../activities/stores/aws-store';
import { AwsSecretsManager } from '../activities/stores/aws-secrets-manager';
import { MemoryCluster, type MemoryProvider } from '../activities/memory';
import { externalVersionMetadata } from '../activities/kubernetes/external-secrets';
import { startMoto, type MotoServer } from '../sandbox/moto';
import { freePort } from '../sandbox/control-plane';

// SDK 3.1164.0 warns once that its releases after early 2027 need Node 22 (it is pinned for Node 20).
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';
const OLD = 'auth-api-secrets-20250101000000';
const { run } = timeSkippingRotations('stores');

/**
 * The AWS VersionId a rotation gave its version, as every copy records it (`rotor.dev/store-version-id`):
 * the rotation's own, never the name-only id older releases derived.
 */
function madeId(cluster: MemoryCluster, version: string): string {
  const ids = new Set(cluster.world.secrets.filter((x) => x.name === version).map((x) => x.annotations?.['rotor.dev/store-version-id']));
  assert.equal(ids.size, 1, `one id on every copy of ${version}: ${[...ids].join(', ')}`);
  const [id] = ids;
  assert.ok(id && id !== new AwsSecretsManager().versionToken(version), `${version}'s id is its rotation's own: ${id}`);
  return id;
}

describe('rotateSecret with a store outside the cluster', () => {
  // One moto_server for the AWS and External Secrets cases; each case uses a secret of its own.
  let moto: MotoServer;
  let store: AwsSecretsManagerStore;
  let eso: ExternalSecretsStore;
  let sdk: SecretsManagerClient;
  const aws = () => store.client();

  before(async () => {
    moto = await startMoto();
    const settings = { region: 'us-east-1', endpoint: moto.url, credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' } };
    store = new AwsSecretsManagerStore(settings);
    eso = new ExternalSecretsStore(settings);
    sdk = new SecretsManagerClient(settings);
  });
  after(async () => {
    sdk?.destroy();
    await moto?.stop();
  });

  /** An AWS secret whose AWSCURRENT is the version an earlier rotation of rotor wrote for `OLD`. */
  async function secretWithOld(name: string): Promise<void> {
    await sdk.send(
      new CreateSecretCommand({ Name: name, SecretString: JSON.stringify({ api_token: 'old-token-value' }), ClientRequestToken: aws().versionToken(OLD) }),
    );
  }

  for (const store of ['aws-secrets-manager', 'external-secrets']) {
    it(`fails in PLANNING, before anything is created, when no worker serves ${store}`, async () => {
      const eso = store === 'external-secrets' ? { externalSecrets: { secretStoreRef: { name: 'aws', kind: 'ClusterSecretStore' } } } : {};
      const plan = twoStagePlan({ top: { store, awsSecretsManager: { secretId: '/production/auth-api/token' }, ...eso } });
      const { d, status } = await run({}, plan);
      assert.equal(status.phase, 'FAILED');
      assert.match(
        status.outcome!,
        new RegExp(
          `the ${store} store cannot be used \\(nothing was changed\\): check the ${store} store: the plan's store is ${store}, but this worker has no ${store} store \\(it has: kubernetes\\); run a worker configured for ${store}`,
        ),
      );
      assert.deepEqual(d.called('checkStore'), [
        {
          store,
          target: { awsSecretsManager: { secretId: '/production/auth-api/token' }, ...eso },
          ...(store === 'external-secrets' ? { namespaces: ['staging', 'production'] } : {}),
          value: { generate: { keys: ['api_token'], length: 48 } },
        },
      ]);
      assert.equal(d.called('createVersion').length, 0);
      assert.equal(d.called('switchWorkloads').length, 0);
      assert.equal(status.events.filter((e) => e.phase !== 'PLANNING' && e.phase !== 'FAILED').length, 0, 'nothing past PLANNING');
    });
  }

  describe('aws-secrets-manager, against moto_server', () => {
    const awsPlan = (secretId: string, top: object = {}) =>
      twoStagePlan({ top: { store: 'aws-secrets-manager', awsSecretsManager: { secretId, region: 'us-east-1' }, ...top } });

    it('completes a two-stage rotation with the labels where AWS leaves them, the old version retired with its Kubernetes deletion', async () => {
      const secretId = '/production/auth-api/token-completed';
      await secretWithOld(secretId);
      const { d, status } = await run({ stores: { 'aws-secrets-manager': store } }, awsPlan(secretId));
      assert.equal(status.phase, 'COMPLETED', status.outcome ?? '');
      const fresh = status.newVersion!;
      assert.ok(
        status.events.some((e) =>
          e.message.startsWith(`store: AWS Secrets Manager secret ${secretId} answers; AWSCURRENT is version ${aws().versionToken(OLD)}`),
        ),
      );
      // AWS: the promoted version carries AWSCURRENT alone; the retired one carries no label at all
      // (AWS then lists it nowhere, and deprecates it), and no version is left AWSPENDING.
      assert.deepEqual(await aws().labels(secretId), { [madeId(d.cluster, fresh)]: ['AWSCURRENT'] });
      // AWS: AWSCURRENT, read by stage, is the value the cluster's new version holds.
      const secret = d.cluster.world.secrets.find((s) => s.namespace === 'production' && s.name === fresh)!;
      assert.deepEqual(await aws().read({ secretId, versionStage: 'AWSCURRENT' }), secret.data);
      assert.deepEqual(d.callOrder(['finalizeVersion', 'deleteVersion']), [`finalizeVersion:${fresh}`, `deleteVersion:${OLD}`]);
    });

    it('rolls back with AWSCURRENT never moved and AWSPENDING taken off the failed version', async () => {
      const secretId = '/production/auth-api/token-rolled-back';
      await secretWithOld(secretId);
      const { status } = await run(
        { stores: { 'aws-secrets-manager': store }, check: (i) => (i.stage === 'production' ? 'failed' : 'passed') },
        awsPlan(secretId),
      );
      assert.equal(status.phase, 'ROLLED_BACK', status.outcome ?? '');
      // AWS: AWSCURRENT stays on the version it was on; the failed version keeps no label.
      assert.deepEqual(await aws().labels(secretId), { [aws().versionToken(OLD)]: ['AWSCURRENT'] });
      assert.deepEqual(await aws().read({ secretId, versionStage: 'AWSCURRENT' }), { api_token: 'old-token-value' });
    });

    it("fails in PLANNING, nothing staged, when another rotation's version of the secret is AWSPENDING", async () => {
      const secretId = '/production/auth-api/token-pending-elsewhere';
      await secretWithOld(secretId);
      // Another rotor rotation of the same AWS secret (another cluster, other namespaces) staged its version.
      const elsewhere = 'auth-api-secrets-20261130090000';
      await aws().stage({ secretId, version: elsewhere, data: { api_token: 'staged-elsewhere-value-9Qz' } });
      const { d, status } = await run({ stores: { 'aws-secrets-manager': store } }, awsPlan(secretId));
      assert.equal(status.phase, 'FAILED');
      assert.match(
        status.outcome!,
        /the aws-secrets-manager store cannot be used \(nothing was changed\): .* is AWSPENDING: another rotor rotation of this secret is in progress/,
      );
      assert.equal(d.called('checkStore').length, 1, 'refused at once: waiting would not free the label');
      assert.equal(d.called('createVersion').length, 0);
      // AWS: the other rotation's label is where it left it.
      assert.deepEqual(await aws().labels(secretId), { [aws().versionToken(OLD)]: ['AWSCURRENT'], [aws().versionToken(elsewhere)]: ['AWSPENDING'] });
    });

    it('fails in PLANNING when AWS Secrets Manager cannot be reached, saying where it tried', async () => {
      const down = new AwsSecretsManagerStore({
        region: 'us-east-1',
        endpoint: `http://127.0.0.1:${await freePort()}`,
        credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' },
        maxAttempts: 1,
      });
      const { d, status } = await run({ stores: { 'aws-secrets-manager': down } }, awsPlan('/production/auth-api/token'));
      assert.equal(status.phase, 'FAILED');
      assert.match(status.outcome!, /the aws-secrets-manager store cannot be used \(nothing was changed\): .*cannot reach AWS Secrets Manager/);
      assert.equal(d.called('createVersion').length, 0);
    });

    it('fails in PLANNING when the plan names a secret the store does not have, naming it', async () => {
      const { d, status } = await run({ stores: { 'aws-secrets-manager': store } }, awsPlan('/production/does-not-exist'));
      assert.equal(status.phase, 'FAILED');
      assert.match(
        status.outcome!,
        /the aws-secrets-manager store cannot be used \(nothing was changed\): .*no secret \/production\/does-not-exist in AWS Secrets Manager/,
      );
      assert.equal(d.called('createVersion').length, 0);
    });
  });

  describe('external-secrets, against moto_server, the operator played by the memory cluster', () => {
    /** The operator's AWS provider: GetSecretValue by the pinned VersionId. */
    const provider: MemoryProvider = (ref) => aws().read({ secretId: ref.key, versionId: ref.version.replace(/^uuid\//, '') });

    const esoPlan = (secretId: string) =>
      twoStagePlan({
        top: {
          store: 'external-secrets',
          awsSecretsManager: { secretId, region: 'us-east-1' },
          externalSecrets: { secretStoreRef: { name: 'aws', kind: 'ClusterSecretStore' } },
        },
      });

    /** AWS holds OLD (AWSCURRENT); the cluster has OLD's ExternalSecrets, as an earlier rotation in this mode left them. */
    async function world(secretId: string, ready = true, read: MemoryProvider = provider): Promise<MemoryCluster> {
      await secretWithOld(secretId);
      const cluster = new MemoryCluster(
        {
          secrets: [],
          workloads: [],
          secretStores: [
            {
              kind: 'ClusterSecretStore',
              name: 'aws',
              ready,
              message: 'InvalidProviderConfig',
              provider: { aws: { service: 'SecretsManager', region: 'us-east-1' } },
            },
          ],
        },
        read,
      );
      const remoteRef = eso.remoteRef({ version: OLD, target: { awsSecretsManager: { secretId } } });
      for (const namespace of ['staging', 'production']) {
        const metadata = externalVersionMetadata({ namespace, name: OLD, base: 'auth-api-secrets', rotationId: 'earlier' });
        cluster.world.externalSecrets = [
          ...(cluster.world.externalSecrets ?? []),
          { namespace, name: OLD, secretStoreRef: { name: 'aws', kind: 'ClusterSecretStore' }, remoteRef, ...metadata },
        ];
      }
      return cluster;
    }

    it('completes with an ExternalSecret per namespace pinned to the new AWS version, the old ones deleted with their Secrets', async () => {
      const secretId = '/production/auth-api/eso-completed';
      const cluster = await world(secretId);
      const { d, status } = await run({ stores: { 'external-secrets': eso }, cluster }, esoPlan(secretId));
      assert.equal(status.phase, 'COMPLETED', status.outcome ?? '');
      const fresh = status.newVersion!;
      assert.ok(status.events.some((e) => /^store: AWS Secrets Manager secret .* answers; .*; ClusterSecretStore aws is Ready$/.test(e.message)));
      // Pinned by VersionId (`uuid/`), never by a stage that moves under it.
      assert.deepEqual(
        cluster.world.externalSecrets!.map((e) => [e.namespace, e.name, e.remoteRef.version]),
        [
          ['staging', fresh, `uuid/${madeId(cluster, fresh)}`],
          ['production', fresh, `uuid/${madeId(cluster, fresh)}`],
        ],
      );
      // AWS: AWSCURRENT is the value the operator wrote into each namespace's Secret; the old version has no label.
      const current = await aws().read({ secretId, versionStage: 'AWSCURRENT' });
      for (const ns of ['staging', 'production']) {
        assert.deepEqual(cluster.world.secrets.find((s) => s.namespace === ns && s.name === fresh)?.data, current);
        assert.deepEqual(d.secretNames(ns), [fresh]);
        assert.equal(d.workload(ns, 'auth-api')!.refs[workload(ns, 'auth-api').fields[0]], fresh);
      }
      assert.deepEqual(await aws().labels(secretId), { [madeId(cluster, fresh)]: ['AWSCURRENT'] });
    });

    it('converges when CREATING is retried after its effect: one AWS version, one ExternalSecret per namespace', async () => {
      const secretId = '/production/auth-api/eso-retried';
      const cluster = await world(secretId);
      const { d, status } = await run({ stores: { 'external-secrets': eso }, cluster, createAnswersLost: 2 }, esoPlan(secretId));
      assert.equal(status.phase, 'COMPLETED', status.outcome ?? '');
      const fresh = status.newVersion!;
      assert.equal(d.called('createVersion').length, 3, 'two lost answers, then the one that arrived');
      assert.deepEqual(new Set(d.called('createVersion').map((c: { version: string }) => c.version)), new Set([fresh]), 'every attempt for the same version');
      assert.deepEqual(
        cluster.world.externalSecrets!.map((e) => `${e.namespace}/${e.name}`),
        [`staging/${fresh}`, `production/${fresh}`],
      );
      // AWS: the retries staged nothing more: the new version is AWSCURRENT, the old one retired, no version left AWSPENDING.
      assert.deepEqual(await aws().labels(secretId), { [madeId(cluster, fresh)]: ['AWSCURRENT'] });
      const current = await aws().read({ secretId, versionStage: 'AWSCURRENT' });
      for (const ns of ['staging', 'production']) assert.deepEqual(cluster.world.secrets.find((x) => x.namespace === ns && x.name === fresh)?.data, current);
    });

    it('rolls back with AWSCURRENT never moved; the workloads are back on the old version', async () => {
      const secretId = '/production/auth-api/eso-rolled-back';
      const cluster = await world(secretId);
      const { d, status } = await run(
        { stores: { 'external-secrets': eso }, cluster, check: (i) => (i.stage === 'production' ? 'failed' : 'passed') },
        esoPlan(secretId),
      );
      assert.equal(status.phase, 'ROLLED_BACK', status.outcome ?? '');
      assert.deepEqual(await aws().labels(secretId), { [aws().versionToken(OLD)]: ['AWSCURRENT'] });
      for (const ns of ['staging', 'production']) assert.equal(d.workload(ns, 'auth-api')!.refs[workload(ns, 'auth-api').fields[0]], OLD);
    });

    it('fails in PLANNING when the SecretStore is not Ready, naming it; nothing is created', async () => {
      const secretId = '/production/auth-api/eso-store-not-ready';
      const cluster = await world(secretId, false);
      const { d, status } = await run({ stores: { 'external-secrets': eso }, cluster }, esoPlan(secretId));
      assert.equal(status.phase, 'FAILED');
      assert.match(
        status.outcome!,
        /the external-secrets store cannot be used \(nothing was changed\): .*externalSecrets\.secretStoreRef: ClusterSecretStore aws is not Ready/,
      );
      assert.equal(d.called('createVersion').length, 0);
      assert.deepEqual(await aws().labels(secretId), { [aws().versionToken(OLD)]: ['AWSCURRENT'] });
    });

    it('fails in CREATING at the first attempt, naming why, when the operator cannot read the pinned version', async () => {
      const secretId = '/production/auth-api/eso-not-synced';
      const cluster = await world(secretId, true, async () => {
        throw new Error('ResourceNotFoundException');
      });
      const { d, status } = await run({ stores: { 'external-secrets': eso }, cluster, externalSecretReadyMs: 1_500 }, esoPlan(secretId));
      assert.equal(status.phase, 'FAILED');
      assert.match(
        status.outcome!,
        /could not create the new version \(no workload was switched\): create \S+: External Secrets Operator has not written .* after 1\.5 s: ExternalSecret staging\/.* is not Ready: SecretSyncedError: could not get secret data from provider/,
      );
      // The operator had judged it: no second wait of the same kind.
      assert.equal(d.called('createVersion').length, 1);
      assert.equal(d.called('switchWorkloads').length, 0);
      assert.deepEqual(await aws().labels(secretId), { [aws().versionToken(OLD)]: ['AWSCURRENT'] });
    });

    it('fails in CREATING, before any switch, when the operator writes another value than the one staged', async () => {
      const secretId = '/production/auth-api/eso-wrong-value';
      // A store reading another secret (wrong region, a typo in the store's key): the Secret is not the staged value.
      const cluster = await world(secretId, true, async () => ({ api_token: 'not-the-staged-value-3Jx' }));
      const { d, status } = await run({ stores: { 'external-secrets': eso }, cluster }, esoPlan(secretId));
      assert.equal(status.phase, 'FAILED');
      assert.match(status.outcome!, /could not create the new version \(no workload was switched\): .*does not hold the value rotor staged in the store/);
      assert.equal(d.called('switchWorkloads').length, 0);
      // AWS: the staged value does not stay AWSPENDING for a promotion that never comes.
      assert.ok(status.events.some((e) => /^store: .* marked failed/.test(e.message)));
      assert.deepEqual(await aws().labels(secretId), { [aws().versionToken(OLD)]: ['AWSCURRENT'] });
      assert.ok(status.leftovers.some((l) => /its ExternalSecret may remain in staging, production/.test(l)));
    });
  });

  it('asks nothing of the kubernetes store', async () => {
    const { d, status } = await run({ check: () => 'failed' }, twoStagePlan());
    assert.equal(status.phase, 'ROLLED_BACK');
    assert.equal(d.called('checkStore').length, 0);
  });
});
