// A rotated Secret keeps its type, on the real time-skipping server with activity doubles over the
// memory cluster: a docker config and a TLS certificate rotate through both stages with their types
// kept; previous versions of different types, a value source that cannot make the type, and a value
// that is no good for it end FAILED in PLANNING or in CREATING before anything is written, with the
// type, the key and the fix, never the value.
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import { MemoryCluster, type MemorySecret } from '../activities/memory';
import { KubernetesSecretStore } from '../activities/store-kubernetes';
import type { SecretStores } from '../activities/ports';
import type { RotationStatus } from '../contract/api';
import { timeSkippingRotations } from './helpers/rotations';
import { twoStagePlan } from './helpers/plans';
import { dockerConfig, HeldValueStore, selfSigned } from './helpers/secret-types';
import { recordValues } from './helpers/leak';

const { run } = timeSkippingRotations('types');
const OLD = 'auth-api-secrets-20250101000000';
const NAMESPACES = ['staging', 'production'];
const DOCKER = 'kubernetes.io/dockerconfigjson';
const TLS = 'kubernetes.io/tls';
const PULL = 'imagePullSecrets[].name';
const MOUNT = 'volumes[tls].secret.secretName';

/** The previous version in each namespace, of the type given there, used by Deployment auth-api at `field`. */
function world(types: Record<string, string | undefined>, data: Record<string, string>, field: string): MemoryCluster {
  const secrets: MemorySecret[] = Object.entries(types).map(([namespace, type]) => ({
    namespace,
    name: OLD,
    data: { ...data },
    immutable: true,
    ...(type ? { type } : {}),
  }));
  const workloads = Object.keys(types).map((namespace) => ({
    kind: 'Deployment' as const,
    namespace,
    name: 'auth-api',
    replicas: 4,
    refs: { [field]: OLD },
  }));
  return new MemoryCluster({ secrets, workloads });
}

const everywhere = (type: string | undefined) => Object.fromEntries(NAMESPACES.map((ns) => [ns, type]));
/** The world is the test's own: the doubles seed nothing. */
const own = { previous: { staging: null, production: null } };

let dir: string;
let oldDocker: string;
let tls: { crt: string; key: string };
let oldTls: { crt: string; key: string };
let other: { crt: string; key: string };

before(() => {
  dir = mkdtempSync(join(tmpdir(), 'rotor-types-wf-'));
  oldDocker = dockerConfig('old-pull-s3cret-Jk20');
  tls = selfSigned('new-api');
  oldTls = selfSigned('old-api');
  other = selfSigned('other-api');
});

/** A KEY=value file in the worker's value directory, and the worker's stores reading it. */
function valueFile(name: string, text: string, values: string[]): SecretStores {
  writeFileSync(join(dir, name), text);
  recordValues(values);
  return { kubernetes: new KubernetesSecretStore({ valueDir: dir }) };
}

function assertNothingCreated(cluster: MemoryCluster): void {
  assert.deepEqual(
    cluster.world.secrets.map((s) => `${s.namespace}/${s.name}`),
    NAMESPACES.map((ns) => `${ns}/${OLD}`),
    'no version was created',
  );
  for (const w of cluster.world.workloads) assert.deepEqual(Object.values(w.refs), [OLD], `${w.namespace}/${w.name} untouched`);
}

function assertNoValue(status: RotationStatus, values: string[]): void {
  const said = JSON.stringify(status);
  for (const v of values) assert.ok(!said.includes(v), 'no value in the status');
}

const phases = (s: RotationStatus) => [...new Set(s.events.map((e) => e.phase))];

describe('rotateSecret keeps the Secret type', () => {
  it('rotates a docker config as kubernetes.io/dockerconfigjson through both stages, the workloads pulling with it', async () => {
    const fresh = dockerConfig('new-pull-s3cret-Vb73');
    const cluster = world(everywhere(DOCKER), { '.dockerconfigjson': oldDocker }, PULL);
    const stores = valueFile('registry.env', `.dockerconfigjson=${fresh}\n`, [fresh]);
    const { d, status } = await run({ ...own, cluster, stores }, twoStagePlan({ top: { value: { fromFile: 'registry.env' } } }));
    assert.equal(status.phase, 'COMPLETED', status.outcome ?? '');
    const version = status.newVersion!;
    for (const ns of NAMESPACES) {
      const secret = cluster.world.secrets.find((s) => s.namespace === ns && s.name === version)!;
      assert.equal(secret.type, DOCKER, `${ns}: the new version keeps the type`);
      assert.deepEqual(secret.data, { '.dockerconfigjson': fresh });
      assert.equal(d.workload(ns, 'auth-api')!.refs[PULL], version);
    }
    assert.deepEqual(
      d.called('createVersion').map((c) => c.type),
      [DOCKER],
    );
    assert.ok(status.events.some((e) => e.message === `the new version keeps the Secret type ${DOCKER}`));
    assertNoValue(status, [fresh, oldDocker]);
  });

  it('rotates a TLS certificate as kubernetes.io/tls, from a store that holds it', async () => {
    const cluster = world(everywhere(TLS), { 'tls.crt': oldTls.crt, 'tls.key': oldTls.key }, MOUNT);
    const stores = { kubernetes: new HeldValueStore({ 'tls.crt': tls.crt, 'tls.key': tls.key }) };
    const { status } = await run({ ...own, cluster, stores }, twoStagePlan({ top: { value: { fromFile: 'ignored-by-the-held-store.env' } } }));
    assert.equal(status.phase, 'COMPLETED', status.outcome ?? '');
    for (const ns of NAMESPACES) {
      const secret = cluster.world.secrets.find((s) => s.namespace === ns && s.name === status.newVersion)!;
      assert.equal(secret.type, TLS);
      assert.deepEqual(Object.keys(secret.data).sort(), ['tls.crt', 'tls.key']);
    }
    assertNoValue(status, [tls.key, oldTls.key]);
  });

  it('creates Opaque versions of Opaque Secrets, and of Secrets created without a type', async () => {
    const cluster = world({ staging: undefined, production: 'Opaque' }, { api_token: 'old-opaque-token-Hd81' }, PULL);
    const { status } = await run({ ...own, cluster }, twoStagePlan());
    assert.equal(status.phase, 'COMPLETED', status.outcome ?? '');
    for (const ns of NAMESPACES) assert.equal(cluster.world.secrets.find((s) => s.namespace === ns && s.name === status.newVersion)!.type, 'Opaque');
  });
});

describe('rotateSecret refuses what cannot keep the type, before anything is written', () => {
  it('fails in PLANNING when the previous versions differ in type, naming each namespace and type', async () => {
    const cluster = world({ staging: DOCKER, production: undefined }, { '.dockerconfigjson': oldDocker }, PULL);
    const { d, status } = await run({ ...own, cluster }, twoStagePlan({ top: { value: { fromFile: 'registry.env' } } }));
    assert.equal(status.phase, 'FAILED');
    assert.match(
      status.outcome!,
      /the Secret's type cannot be kept \(nothing was changed\): the previous versions differ in Secret type \(staging: kubernetes\.io\/dockerconfigjson, production: Opaque\)/,
    );
    assert.deepEqual(phases(status), ['PLANNING', 'FAILED']);
    assert.equal(d.called('createVersion').length, 0);
    assertNothingCreated(cluster);
  });

  for (const [type, data, field] of [
    [TLS, () => ({ 'tls.crt': oldTls.crt, 'tls.key': oldTls.key }), MOUNT],
    [DOCKER, () => ({ '.dockerconfigjson': oldDocker }), PULL],
    ['kubernetes.io/ssh-auth', () => ({ 'ssh-privatekey': oldTls.key }), MOUNT],
  ] as const) {
    it(`fails in PLANNING when value.generate would have to make a ${type} Secret`, async () => {
      const cluster = world(everywhere(type), data(), field);
      const { d, status } = await run({ ...own, cluster }, twoStagePlan());
      assert.equal(status.phase, 'FAILED');
      assert.ok(
        status.outcome!.includes(
          `the plan's value cannot make a ${type} Secret (nothing was changed): the Secret type ${type} (kept from the previous version) needs`,
        ),
        status.outcome!,
      );
      assert.match(status.outcome!, /value\.generate makes random strings, never that; take the value from fromFile or awsSecretsManager/);
      assert.equal(d.called('createVersion').length, 0);
      assertNothingCreated(cluster);
    });
  }

  it('fails in PLANNING for basic-auth generated without a username or password key, and rotates it with one', async () => {
    const type = 'kubernetes.io/basic-auth';
    const refused = await run({ ...own, cluster: world(everywhere(type), { password: 'old-basic-pass-Yt62' }, MOUNT) }, twoStagePlan());
    assert.equal(refused.status.phase, 'FAILED');
    assert.match(refused.status.outcome!, /value\.generate\.keys makes api_token: none of the keys username, password is there/);
    assertNothingCreated(refused.d.cluster);

    const cluster = world(everywhere(type), { password: 'old-basic-pass-Yt62' }, MOUNT);
    const { status } = await run({ ...own, cluster }, twoStagePlan({ top: { value: { generate: { keys: ['password'], length: 32 } } } }));
    assert.equal(status.phase, 'COMPLETED', status.outcome ?? '');
    assert.equal(cluster.world.secrets.find((s) => s.namespace === 'production' && s.name === status.newVersion)!.type, type);
  });

  it("fails in PLANNING for an issuer whose key does not fit the type, and for a type that is not rotor's to rotate", async () => {
    const issued = await run(
      { ...own, cluster: world(everywhere('kubernetes.io/basic-auth'), { password: 'old-basic-pass-Yt62' }, MOUNT) },
      twoStagePlan({ top: { value: { issuer: { key: 'api_token' } } } }),
    );
    assert.equal(issued.status.phase, 'FAILED');
    assert.match(issued.status.outcome!, /value\.issuer puts its one credential in key api_token: none of the keys username, password is there/);
    assert.equal(issued.d.called('createVersion').length, 0);
    assert.deepEqual(issued.d.issuer!.issued(), [], 'nothing issued');

    const sa = await run({ ...own, cluster: world(everywhere('kubernetes.io/service-account-token'), { token: 'old-sa-token-Qw09' }, MOUNT) }, twoStagePlan());
    assert.equal(sa.status.phase, 'FAILED');
    assert.match(sa.status.outcome!, /is not rotor's to rotate: its token is issued and rotated by Kubernetes/);
    assertNothingCreated(sa.d.cluster);
  });

  it('fails in CREATING, with nothing written, when the file holds no docker config with auths', async () => {
    const bad = JSON.stringify({ 'registry.example.test': { auth: Buffer.from('robot:bad-pull-s3cret-Pp4').toString('base64') } });
    const cluster = world(everywhere(DOCKER), { '.dockerconfigjson': oldDocker }, PULL);
    const stores = valueFile('no-auths.env', `.dockerconfigjson=${bad}\n`, [bad, 'bad-pull-s3cret-Pp4']);
    const { d, status } = await run({ ...own, cluster, stores }, twoStagePlan({ top: { value: { fromFile: 'no-auths.env' } } }));
    assert.equal(status.phase, 'FAILED');
    assert.match(
      status.outcome!,
      /could not create the new version \(no workload was switched\): .*the Secret type kubernetes\.io\/dockerconfigjson \(kept from the previous version\) needs a Docker config JSON with an auths object .*: key \.dockerconfigjson has no auths object \(the value has key \.dockerconfigjson\); put a Docker config JSON/,
    );
    assert.equal(d.called('createVersion').length, 1, 'refused at once: a value no good for the type is not retried');
    assertNothingCreated(cluster);
    assertNoValue(status, [bad, 'bad-pull-s3cret-Pp4']);
  });

  it('fails in CREATING, with nothing written, when the key is not the certificate’s', async () => {
    const cluster = world(everywhere(TLS), { 'tls.crt': oldTls.crt, 'tls.key': oldTls.key }, MOUNT);
    const stores = { kubernetes: new HeldValueStore({ 'tls.crt': tls.crt, 'tls.key': other.key }) };
    const { status } = await run({ ...own, cluster, stores }, twoStagePlan({ top: { value: { fromFile: 'ignored-by-the-held-store.env' } } }));
    assert.equal(status.phase, 'FAILED');
    assert.match(status.outcome!, /the private key in tls\.key does not match the certificate in tls\.crt/);
    assertNothingCreated(cluster);
    assertNoValue(status, [other.key, tls.key]);
  });
});
