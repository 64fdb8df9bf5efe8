// store external-secrets, the cluster's half: versions as ExternalSecrets pinned to an exact AWS
// version, written into Secrets by the REAL External Secrets Operator (v0.16.2, built by the
// bootstrap) on the sandbox's real apiserver, reading moto_server through its own AWS provider. The
// memory cluster (the workflow tests' double) plays the operator's part and must agree: one contract.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import * as k8s from '@kubernetes/client-node';
import { CreateSecretCommand, PutSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { RotorError } from '../activities/errors';
import { ExternalSecretsStore } from '../activities/stores/aws-store';
import type { ExternalSecretsPort, ExternalVersionSpec, ExternalVersionState } from '../activities/ports';
import type { ExternalSecretStoreRef } from '../domain/plan';
import { startSandbox, type Sandbox } from '../sandbox';
import { createAwsSecretStore, startEsoOperator, type EsoOperator } from '../sandbox/eso-operator';
import { startMoto, type MotoServer } from '../sandbox/moto';
import fc from 'fast-check';
import { ENV, ENV_FROM, KubeWorld, MemoryWorld, VOLUME, type Kind, type World } from './helpers/worlds';
import { recordValues } from './helpers/leak';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';
const BASE = 'billing-api-secrets';
const REGION = 'us-east-1';
const CLUSTER_STORE: ExternalSecretStoreRef = { name: 'aws', kind: 'ClusterSecretStore' };

let sandbox: Sandbox | undefined;
let moto: MotoServer | undefined;
let operator: EsoOperator | undefined;
let kc: k8s.KubeConfig;
let sdk: SecretsManagerClient;
let store: ExternalSecretsStore;
let seq = 0;

before(async () => {
  [sandbox, moto] = await Promise.all([startSandbox({ readyDelayMs: 200 }), startMoto()]);
  kc = new k8s.KubeConfig();
  kc.loadFromFile(sandbox.plane.kubeconfig);
  operator = await startEsoOperator(sandbox.plane, { awsEndpoint: moto.url });
  await createAwsSecretStore(sandbox.plane.kubeconfig, { ...CLUSTER_STORE, kind: 'ClusterSecretStore', namespace: 'default', region: REGION });
  const settings = { region: REGION, endpoint: moto.url, credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' } };
  sdk = new SecretsManagerClient(settings);
  store = new ExternalSecretsStore(settings);
});

after(async () => {
  sdk?.destroy();
  await operator?.stop();
  await moto?.stop();
  await sandbox?.stop();
});

function memoryWorld(): World {
  const w = new MemoryWorld();
  w.memory.world.secretStores = [{ kind: 'ClusterSecretStore', name: 'aws', ready: true, provider: { aws: { service: 'SecretsManager', region: REGION } } }];
  // The operator's AWS provider: GetSecretValue by the pinned VersionId, the JSON's keys as the Secret's.
  w.memory.provider = (ref) => store.client().read({ secretId: ref.key, versionId: ref.version.replace(/^uuid\//, '') });
  return w;
}

const worlds: [string, () => World][] = [
  ['memory', memoryWorld],
  ['kubernetes', () => new KubeWorld(kc)],
];

/** A fresh namespace, and an AWS secret holding `versions` (each a rotor version's value, by its VersionId). */
async function setup(make: () => World, versions: Record<string, Record<string, string>>): Promise<{ w: World; ns: string; secretId: string }> {
  const w = make();
  const ns = `eso-${++seq}`;
  await w.namespace(ns);
  const secretId = `/${ns}/${w.name}/billing-api`;
  let first = true;
  for (const [version, data] of Object.entries(versions)) {
    recordValues(Object.values(data));
    const token = store.client().versionToken(version);
    if (first) await sdk.send(new CreateSecretCommand({ Name: secretId, SecretString: JSON.stringify(data), ClientRequestToken: token }));
    else await sdk.send(new PutSecretValueCommand({ SecretId: secretId, SecretString: JSON.stringify(data), ClientRequestToken: token }));
    first = false;
  }
  return { w, ns, secretId };
}

function spec(ns: string, secretId: string, version: string, over: Partial<ExternalVersionSpec> = {}): ExternalVersionSpec {
  return {
    namespace: ns,
    name: version,
    base: BASE,
    rotationId: 'rot-1',
    store: { kind: 'external-secrets', secretId, region: REGION },
    secretStoreRef: CLUSTER_STORE,
    remoteRef: store.remoteRef({ version, target: { awsSecretsManager: { secretId, region: REGION } } }),
    ...over,
  };
}

/** The operator's state of a version, polled until Ready or `ms` have passed. */
async function settle(eso: ExternalSecretsPort, ns: string, name: string, ms = 30_000): Promise<ExternalVersionState> {
  const deadline = Date.now() + ms;
  for (;;) {
    const state = await eso.externalVersionState(ns, name);
    if (state.ready || Date.now() > deadline) return state;
    await new Promise((r) => setTimeout(r, 200));
  }
}

for (const [label, make] of worlds) {
  describe(`External Secrets mode (${label})`, () => {
    it('writes the pinned version into an immutable Secret of the version name, with rotor labels; again is a no-op', async () => {
      const OLD = `${BASE}-20260101000000`;
      const NEW = `${BASE}-20261130120000`;
      const values: Record<string, Record<string, string>> = {
        [OLD]: { api_token: 'eso-old-7Qv2LkP9xWm3' },
        [NEW]: { api_token: 'eso-new-R8cJ4nT1yZb6', region: 'eu' },
      };
      const { w, ns, secretId } = await setup(make, values);
      // AWSCURRENT moves to NEW on the put above; a stage-following ExternalSecret would take whatever
      // is current. Pinned by VersionId, OLD stays OLD.
      assert.equal(await w.externalSecrets.createExternalVersion(spec(ns, secretId, OLD)), 'created');
      assert.equal(await w.externalSecrets.createExternalVersion(spec(ns, secretId, NEW)), 'created');
      for (const version of [OLD, NEW]) {
        const state = await settle(w.externalSecrets, ns, version);
        assert.ok(state.ready, state.message);
        const read = await w.cluster.readVersion(ns, version);
        assert.deepEqual(read?.data, values[version]);
        assert.equal(read?.rotationId, 'rot-1', 'the template carries rotor annotations onto the Secret');
      }
      assert.equal(await w.externalSecrets.createExternalVersion(spec(ns, secretId, NEW)), 'exists');
      if (w instanceof KubeWorld) {
        const secret = await w.core.readNamespacedSecret({ namespace: ns, name: NEW });
        assert.equal(secret.immutable, true);
        assert.equal(secret.metadata?.labels?.['rotor.dev/secret'], BASE);
        assert.equal(secret.metadata?.annotations?.['rotor.dev/store'], 'external-secrets');
        assert.deepEqual(
          secret.metadata?.ownerReferences?.map((o) => `${o.kind}/${o.name}`),
          [`ExternalSecret/${NEW}`],
          'owned by its ExternalSecret: the garbage collector takes it with it',
        );
        const listed = await w.cluster.listVersions(ns, BASE);
        assert.deepEqual(
          listed.map((v) => [v.name, v.store?.kind]),
          [
            [NEW, 'external-secrets'],
            [OLD, 'external-secrets'],
          ],
        );
      }
    });

    it("writes the Secret of the version's type (the template's); the same ExternalSecret of another type is a mismatch", async () => {
      const VERSION = `${BASE}-20261130120100`;
      const DOCKER = 'kubernetes.io/dockerconfigjson';
      const config = { '.dockerconfigjson': JSON.stringify({ auths: { 'registry.example.test': { auth: 'cm9ib3Q6ZXNvLXB1bGwtOEtxMg==' } } }) };
      const { w, ns, secretId } = await setup(make, { [VERSION]: config });
      assert.equal(await w.externalSecrets.createExternalVersion(spec(ns, secretId, VERSION, { type: DOCKER })), 'created');
      const state = await settle(w.externalSecrets, ns, VERSION);
      assert.ok(state.ready, state.message);
      assert.equal(await w.cluster.readVersionType(ns, VERSION), DOCKER, 'the operator wrote the type the template says');
      assert.deepEqual((await w.cluster.readVersion(ns, VERSION))?.data, config);
      assert.equal(await w.externalSecrets.createExternalVersion(spec(ns, secretId, VERSION, { type: DOCKER })), 'exists');
      await assert.rejects(w.externalSecrets.createExternalVersion(spec(ns, secretId, VERSION)), (err: RotorError) => {
        assert.equal(err.type, 'VersionContentMismatch');
        assert.ok(err.message.includes(`ExternalSecret ${ns}/${VERSION} exists as type ${DOCKER}, not Opaque`), err.message);
        return true;
      });
    });

    it("refuses another rotation's ExternalSecret of the same name, and one pinned to another version", async () => {
      const V = `${BASE}-20261130120001`;
      const OTHER = `${BASE}-20261130120002`;
      const { w, ns, secretId } = await setup(make, { [V]: { api_token: 'eso-conflict-Hs5Qw2Vn8' }, [OTHER]: { api_token: 'eso-other-Lp3Xr7Mc1' } });
      await w.externalSecrets.createExternalVersion(spec(ns, secretId, V));
      await assert.rejects(w.externalSecrets.createExternalVersion(spec(ns, secretId, V, { rotationId: 'rot-2' })), (err: RotorError) => {
        assert.equal(err.type, 'VersionConflict');
        assert.equal(err.object, 'rot-1');
        return true;
      });
      const elsewhere = store.remoteRef({ version: OTHER, target: { awsSecretsManager: { secretId } } });
      await assert.rejects(w.externalSecrets.createExternalVersion(spec(ns, secretId, V, { remoteRef: elsewhere })), (err: RotorError) => {
        assert.equal(err.type, 'VersionContentMismatch');
        return true;
      });
    });

    it('is not Ready, and says why, for a version the store does not have', async () => {
      const V = `${BASE}-20261130120003`;
      const { w, ns, secretId } = await setup(make, { [`${BASE}-20260101000000`]: { api_token: 'eso-present-Zt4Yb8Kd2' } });
      await w.externalSecrets.createExternalVersion(spec(ns, secretId, V));
      const state = await settle(w.externalSecrets, ns, V, 5_000);
      assert.equal(state.ready, false);
      assert.match(state.message, new RegExp(`ExternalSecret ${ns}/${V} is not Ready: .*SecretSyncedError`));
      assert.equal(state.judged, true, 'the operator said why: CREATING fails at once instead of waiting again');
      assert.equal(await w.secretExists(ns, V), false);
    });

    it('deletes a version only when nothing refers to it: its ExternalSecret first, then the Secret, which stays gone', async () => {
      const V = `${BASE}-20261130120004`;
      const { w, ns, secretId } = await setup(make, { [V]: { api_token: 'eso-delete-Wq9Ej2Ru6' } });
      await w.externalSecrets.createExternalVersion(spec(ns, secretId, V));
      assert.ok((await settle(w.externalSecrets, ns, V)).ready);
      // A CronJob: a holder without pods, so re-pointing it lets go at once.
      await w.workload('CronJob', ns, 'billing-report', V, { fields: [ENV] });
      const held = await w.cluster.deleteUnreferenced(ns, V, { externalSecret: true });
      assert.equal(held.deleted, false);
      assert.deepEqual(
        held.holders.map((h) => `${h.kind}/${h.name}`),
        ['CronJob/billing-report'],
      );
      assert.ok((await w.externalSecrets.externalVersionState(ns, V)).ready, 'the ExternalSecret is untouched while held');
      assert.equal(await w.secretExists(ns, V), true);
      await w.setField('CronJob', ns, 'billing-report', ENV, `${BASE}-elsewhere`);
      const gone = await w.cluster.deleteUnreferenced(ns, V, { externalSecret: true });
      assert.equal(gone.deleted, true);
      assert.match((await w.externalSecrets.externalVersionState(ns, V)).message, /does not exist/);
      // Had the Secret gone first, the operator would have written it again within a reconcile.
      await new Promise((r) => setTimeout(r, w instanceof KubeWorld ? 2_000 : 0));
      assert.equal(await w.secretExists(ns, V), false);
    });

    it("checks the store in PLANNING: missing, not in a stage's namespace, or there", async () => {
      const { w, ns } = await setup(make, {});
      assert.match(await w.externalSecrets.checkExternalSecretStore([ns], CLUSTER_STORE), /ClusterSecretStore aws is Ready/);
      await assert.rejects(w.externalSecrets.checkExternalSecretStore([ns], { name: 'vault', kind: 'ClusterSecretStore' }), (err: RotorError) => {
        assert.equal(err.type, 'RotorInputError');
        assert.match(err.message, /externalSecrets\.secretStoreRef: there is no ClusterSecretStore vault/);
        return true;
      });
      await assert.rejects(w.externalSecrets.checkExternalSecretStore([ns], { name: 'aws', kind: 'SecretStore' }), (err: RotorError) => {
        assert.match(err.message, new RegExp(`there is no SecretStore ${ns}/aws`));
        return true;
      });
      // The store reads the region rotor writes to; another region would never see rotor's versions.
      assert.match(await w.externalSecrets.checkExternalSecretStore([ns], CLUSTER_STORE, { service: 'SecretsManager', region: REGION }), /is Ready/);
      await assert.rejects(
        w.externalSecrets.checkExternalSecretStore([ns], CLUSTER_STORE, { service: 'SecretsManager', region: 'eu-west-1' }),
        (err: RotorError) => {
          assert.equal(err.type, 'RotorInputError');
          assert.match(
            err.message,
            /ClusterSecretStore aws reads region us-east-1, but rotor writes awsSecretsManager\.secretId in eu-west-1; set awsSecretsManager\.region: us-east-1 or name a store for eu-west-1/,
          );
          return true;
        },
      );
    });
  });
}

// Seeded, randomized: workloads of others point their references at random versions (or elsewhere)
// while cleanup deletes random versions. A version is deleted only when nothing refers to it, its
// ExternalSecret and Secret go together, and the other versions are never touched. ROTOR_SEED replays.
const SEED = process.env.ROTOR_SEED ? Number(process.env.ROTOR_SEED) : Date.now() % 2_147_483_647;
const RUNS = { memory: 15, kubernetes: 3 } as const;
const VERSIONS = [0, 1, 2].map((i) => `${BASE}-2026113013000${i}`);
const FIELDS = [ENV, ENV_FROM, VOLUME];

interface DeleteScenario {
  workloads: { kind: Kind; fields: string[]; at: number }[];
  ops: ({ type: 'point'; w: number; field: number; to: number } | { type: 'delete'; v: number })[];
}

const deleteScenarioArb: fc.Arbitrary<DeleteScenario> = fc.record({
  workloads: fc.array(
    fc.record({ kind: fc.constantFrom<Kind>('Deployment', 'CronJob', 'CronJob'), fields: fc.subarray(FIELDS, { minLength: 1 }), at: fc.nat({ max: 3 }) }),
    { minLength: 1, maxLength: 3 },
  ),
  ops: fc.array(
    fc.oneof(
      fc.record({ type: fc.constant('point' as const), w: fc.nat(), field: fc.nat(), to: fc.nat({ max: 3 }) }),
      fc.record({ type: fc.constant('delete' as const), v: fc.nat({ max: 2 }) }),
    ),
    { minLength: 3, maxLength: 8 },
  ),
});

async function runDeleteScenario(make: () => World, sc: DeleteScenario): Promise<void> {
  const values = Object.fromEntries(VERSIONS.map((v, i) => [v, { api_token: `eso-random-${i}-${SEED}-${seq}` }]));
  const { w, ns, secretId } = await setup(make, values);
  for (const v of VERSIONS) await w.externalSecrets.createExternalVersion(spec(ns, secretId, v));
  for (const v of VERSIONS) assert.ok((await settle(w.externalSecrets, ns, v)).ready, v);
  // `at` 3: a workload on a name that is no version (a Secret of someone else's).
  const target = (i: number) => VERSIONS[i] ?? `${BASE}-elsewhere`;
  const names = sc.workloads.map((x, i) => `${x.kind.toLowerCase()}-${i}`);
  for (const [i, x] of sc.workloads.entries()) await w.workload(x.kind, ns, names[i], target(x.at), { fields: x.fields });
  const deleted = new Set<string>();
  for (const op of sc.ops) {
    if (op.type === 'point') {
      const x = sc.workloads[op.w % sc.workloads.length];
      const to = target(op.to);
      if (deleted.has(to)) continue; // nobody points at a Secret that is gone
      await w.setField(x.kind, ns, names[op.w % sc.workloads.length], x.fields[op.field % x.fields.length], to);
      continue;
    }
    const v = VERSIONS[op.v];
    if (deleted.has(v)) continue;
    const outcome = await w.cluster.deleteUnreferenced(ns, v, { externalSecret: true });
    const holders = await w.cluster.findReferences([ns], v);
    if (outcome.deleted) {
      deleted.add(v);
      assert.deepEqual(holders, [], `${v} was deleted while ${holders.map((h) => `${h.kind}/${h.name}`).join(', ')} referred to it`);
      assert.match((await w.externalSecrets.externalVersionState(ns, v)).message, /does not exist/, `${v}'s ExternalSecret went with it`);
    } else {
      assert.ok(outcome.holders.length > 0, `${v} kept without a holder named`);
      assert.equal(await w.secretExists(ns, v), true, `${v} refused but its Secret is gone`);
      assert.ok((await w.externalSecrets.externalVersionState(ns, v)).ready, `${v} refused but its ExternalSecret changed`);
    }
    for (const other of VERSIONS.filter((x) => !deleted.has(x))) {
      assert.deepEqual((await w.cluster.readVersion(ns, other))?.data, values[other], `${other} untouched`);
    }
  }
  // Had a Secret gone before its ExternalSecret, the operator would write it again: give it the time to.
  if (w instanceof KubeWorld && deleted.size) await new Promise((r) => setTimeout(r, 1_500));
  for (const v of deleted) assert.equal(await w.secretExists(ns, v), false, `${v} came back`);
}

describe(`External Secrets mode, randomized guarded deletes (seed ${SEED}; ROTOR_SEED replays)`, () => {
  for (const [label, make] of worlds) {
    const runs = RUNS[label as keyof typeof RUNS];
    it(`${runs} scenarios on ${label}`, async () => {
      try {
        await fc.assert(
          fc.asyncProperty(deleteScenarioArb, (sc) => runDeleteScenario(make, sc)),
          { seed: SEED, numRuns: runs, endOnFailure: true },
        );
      } catch (err) {
        const cause = (err as { cause?: unknown }).cause;
        throw new Error(`${(err as Error).message}\nbroken: ${cause instanceof Error ? cause.message : String(cause)}`);
      }
    });
  }
});

describe('External Secrets mode on the real operator only', () => {
  it("the apiserver validates ExternalSecrets against the operator's real CRDs: defaults applied, invalid ones refused", async () => {
    const crd = await kc.makeApiClient(k8s.ApiextensionsV1Api).readCustomResourceDefinition({ name: 'externalsecrets.external-secrets.io' });
    assert.deepEqual(
      crd.spec.versions.map((v) => [v.name, v.served, v.storage]),
      [
        ['v1', true, true],
        ['v1beta1', true, false],
      ],
    );
    const ns = `eso-${++seq}`;
    await new KubeWorld(kc).namespace(ns);
    const custom = kc.makeApiClient(k8s.CustomObjectsApi);
    const api = { group: 'external-secrets.io', version: 'v1', namespace: ns, plural: 'externalsecrets' };
    const es = (name: string, spec: Record<string, unknown> = {}) => ({
      apiVersion: 'external-secrets.io/v1',
      kind: 'ExternalSecret',
      metadata: { name },
      spec: {
        secretStoreRef: CLUSTER_STORE,
        target: { name, immutable: true, creationPolicy: 'Owner' },
        data: [{ secretKey: 'api_token', remoteRef: { key: '/x', version: 'uuid/0f' } }],
        ...spec,
      },
    });
    const created = (await custom.createNamespacedCustomObject({ ...api, body: es('valid') })) as {
      spec: { target: { deletionPolicy: string }; data: { remoteRef: { conversionStrategy: string } }[] };
    };
    // The schema's defaults, applied by the apiserver: the operator's schema is in force.
    assert.equal(created.spec.target.deletionPolicy, 'Retain');
    assert.equal(created.spec.data[0].remoteRef.conversionStrategy, 'Default');
    for (const [what, bad] of [
      ['creationPolicy outside its enum', es('invalid-policy', { target: { creationPolicy: 'Sometimes' } })],
      ['a store kind outside its enum', es('invalid-store', { secretStoreRef: { name: 'aws', kind: 'Vault' } })],
      ['remoteRef without key', es('invalid-ref', { data: [{ secretKey: 'api_token', remoteRef: { version: 'uuid/0f' } }] })],
    ] as const) {
      await assert.rejects(
        custom.createNamespacedCustomObject({ ...api, body: bad }),
        (err: { code?: number; body?: string }) => {
          assert.equal(err.code, 422, `${what}: ${err.body}`);
          assert.match(String(err.body), /Invalid|Unsupported value|Required value/);
          return true;
        },
        what,
      );
    }
  });

  it('refuses to delete an ExternalSecret rotor did not create', async () => {
    const w = new KubeWorld(kc);
    const ns = `eso-${++seq}`;
    await w.namespace(ns);
    const custom = kc.makeApiClient(k8s.CustomObjectsApi);
    const name = `${BASE}-20261130120009`;
    await custom.createNamespacedCustomObject({
      group: 'external-secrets.io',
      version: 'v1',
      namespace: ns,
      plural: 'externalsecrets',
      body: {
        apiVersion: 'external-secrets.io/v1',
        kind: 'ExternalSecret',
        metadata: { name },
        spec: { secretStoreRef: CLUSTER_STORE, target: { name }, dataFrom: [{ extract: { key: '/someone/else' } }] },
      },
    });
    await assert.rejects(w.cluster.deleteUnreferenced(ns, name, { externalSecret: true }), (err: RotorError) => {
      assert.equal(err.type, 'OwnershipConflict');
      assert.match(err.message, /was not created by rotor/);
      return true;
    });
  });

  it('names a SecretStore that the operator found not Ready', async () => {
    const ns = `eso-${++seq}`;
    await new KubeWorld(kc).namespace(ns);
    const custom = kc.makeApiClient(k8s.CustomObjectsApi);
    // A region with no credentials Secret: the operator marks it not Ready (InvalidProviderConfig).
    await custom.createNamespacedCustomObject({
      group: 'external-secrets.io',
      version: 'v1',
      namespace: ns,
      plural: 'secretstores',
      body: {
        apiVersion: 'external-secrets.io/v1',
        kind: 'SecretStore',
        metadata: { name: 'aws' },
        spec: {
          provider: {
            aws: {
              service: 'SecretsManager',
              region: REGION,
              auth: { secretRef: { accessKeyIDSecretRef: { name: 'missing', key: 'id' }, secretAccessKeySecretRef: { name: 'missing', key: 'key' } } },
            },
          },
        },
      },
    });
    const eso = new KubeWorld(kc).externalSecrets;
    const deadline = Date.now() + 30_000;
    let message = '';
    while (Date.now() < deadline) {
      try {
        await eso.checkExternalSecretStore([ns], { name: 'aws', kind: 'SecretStore' });
        message = 'passed';
      } catch (err) {
        message = (err as Error).message;
        if (/is not Ready \(\w+/.test(message)) break; // the operator has judged it
      }
      await new Promise((r) => setTimeout(r, 300));
    }
    assert.match(message, new RegExp(`externalSecrets\\.secretStoreRef: SecretStore ${ns}/aws is not Ready \\(\\w+`));
  });
});
