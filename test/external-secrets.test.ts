// External Secrets Operator's real CRDs (v0.16.2's deploy/crds/bundle.yaml) on the sandbox's real
// kube-apiserver, with the STAND-IN for its controller (sandbox/external-secrets.ts, not the
// operator) backed by a map; the cluster's own garbage collector deletes what it owns.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import * as k8s from '@kubernetes/client-node';
import { startSandbox, type Sandbox } from '../sandbox';
import {
  ESO_GROUP,
  ESO_VERSION,
  ExternalSecretsStandIn,
  installExternalSecretsCrds,
  ProviderSecretNotFound,
  type RemoteRef,
} from '../sandbox/external-secrets';

const NAME = 'auth-api-secrets-20261130120000';
const KEY = '/production/auth-api/token';
const VERSION_ID = 'a6f1c3e2-7b4d-4c1e-9f0a-2d5e8b7c6a10';
// AWS Secrets Manager's provider reads `version: uuid/<VersionId>` as that exact version (VersionId),
// any other `version` as a staging label (VersionStage), e.g. AWSCURRENT.
const VERSION = `uuid/${VERSION_ID}`;
const VALUE = 'rotor-eso-canary-token-3Kp9';
const FAILING_KEY = '/production/billing/token';
const NAMESPACE = 'default';
const SESSION_KEY = '/production/session/signing-key';
/** The provider's secrets the resolver answers from, by `<key>@<version>`; a test may change or delete one. */
const provider = new Map<string, string>([
  [`${KEY}@${VERSION}`, VALUE],
  [`${SESSION_KEY}@${VERSION}`, 'rotor-eso-canary-session-v1-8Jw2'],
]);

let sandbox: Sandbox;
let standIn: ExternalSecretsStandIn;
let custom: k8s.CustomObjectsApi;
let core: k8s.CoreV1Api;
const lines: string[] = [];
const asked: RemoteRef[] = [];

async function resolver(ref: RemoteRef): Promise<Record<string, string> | string> {
  asked.push(ref);
  if (ref.key === FAILING_KEY) throw new Error(`AccessDeniedException: rotor-test is not authorized to perform secretsmanager:GetSecretValue on ${ref.key}`);
  const value = ref.store === 'aws' && ref.kind === 'ClusterSecretStore' ? provider.get(`${ref.key}@${ref.version}`) : undefined;
  if (value !== undefined) return value;
  throw new ProviderSecretNotFound(ref.key);
}

function externalSecret(name: string, key: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    apiVersion: `${ESO_GROUP}/${ESO_VERSION}`,
    kind: 'ExternalSecret',
    metadata: { name, namespace: NAMESPACE },
    spec: {
      refreshInterval: '1h',
      secretStoreRef: { name: 'aws', kind: 'ClusterSecretStore' },
      target: { name, immutable: true, creationPolicy: 'Owner' },
      data: [{ secretKey: 'api_token', remoteRef: { key, version: VERSION } }],
      ...extra,
    },
  };
}

const esApi = { group: ESO_GROUP, version: ESO_VERSION, namespace: NAMESPACE, plural: 'externalsecrets' };

interface Status {
  conditions?: { type: string; status: string; reason?: string; message?: string }[];
  refreshTime?: string;
  syncedResourceVersion?: string;
  binding?: { name?: string };
}

async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe().catch(() => undefined);
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}\n${lines.slice(-20).join('\n')}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

async function readyOf(name: string): Promise<Status | undefined> {
  const es = (await custom.getNamespacedCustomObject({ ...esApi, name })) as { status?: Status };
  return es.status?.conditions?.some((c) => c.type === 'Ready') ? es.status : undefined;
}

describe('External Secrets Operator CRDs and the controller stand-in', { timeout: 120_000 }, () => {
  before(async () => {
    sandbox = await startSandbox({ readyDelayMs: 300, log: (l) => lines.push(l) });
    // Fetches the pinned bundle into the tools cache first when it is not there.
    const installed = await installExternalSecretsCrds(sandbox.plane, { log: (l) => lines.push(l) });
    lines.push(`CRDs in ${installed.installedInMs} ms, served ${installed.servedVersions.join(',')}`);
    const kc = new k8s.KubeConfig();
    kc.loadFromFile(sandbox.plane.kubeconfig);
    custom = kc.makeApiClient(k8s.CustomObjectsApi);
    core = kc.makeApiClient(k8s.CoreV1Api);
    standIn = new ExternalSecretsStandIn({
      kubeconfig: sandbox.plane.kubeconfig,
      stores: [{ kind: 'ClusterSecretStore', name: 'aws' }],
      resolver,
      pollMs: 200,
      log: (l) => lines.push(l),
    });
    await standIn.start();
  });

  after(async () => {
    await standIn?.stop();
    await sandbox?.stop();
    if (process.env.ROTOR_TEST_VERBOSE) console.error(lines.join('\n'));
  });

  it('the apiserver validates against the real CRDs: accepts the ExternalSecret, refuses an invalid one', async () => {
    const ext = new k8s.KubeConfig();
    ext.loadFromFile(sandbox.plane.kubeconfig);
    const crd = await ext.makeApiClient(k8s.ApiextensionsV1Api).readCustomResourceDefinition({ name: 'externalsecrets.external-secrets.io' });
    assert.deepEqual(
      crd.spec.versions.map((v) => [v.name, v.served, v.storage]),
      [
        ['v1', true, true],
        ['v1beta1', true, false],
      ],
    );
    // The store exists as the operator's own kind too (the stand-in does not read it).
    await custom.createClusterCustomObject({
      group: ESO_GROUP,
      version: ESO_VERSION,
      plural: 'clustersecretstores',
      body: {
        apiVersion: `${ESO_GROUP}/${ESO_VERSION}`,
        kind: 'ClusterSecretStore',
        metadata: { name: 'aws' },
        spec: { provider: { aws: { service: 'SecretsManager', region: 'us-east-1' } } },
      },
    });

    const created = (await custom.createNamespacedCustomObject({ ...esApi, body: externalSecret(NAME, KEY) })) as {
      spec: { target: { deletionPolicy: string }; data: { remoteRef: { version: string; conversionStrategy: string } }[] };
    };
    // The schema's defaults, applied by the apiserver: proof the operator's schema is in force.
    assert.equal(created.spec.target.deletionPolicy, 'Retain');
    assert.equal(created.spec.data[0].remoteRef.conversionStrategy, 'Default');
    assert.equal(created.spec.data[0].remoteRef.version, VERSION);

    for (const [what, bad] of [
      ['creationPolicy outside its enum', externalSecret('invalid-policy', KEY, { target: { creationPolicy: 'Sometimes' } })],
      ['a store kind outside its enum', externalSecret('invalid-store', KEY, { secretStoreRef: { name: 'aws', kind: 'Vault' } })],
      ['remoteRef without key', externalSecret('invalid-ref', KEY, { data: [{ secretKey: 'api_token', remoteRef: { version: VERSION } }] })],
    ] as const) {
      await assert.rejects(
        custom.createNamespacedCustomObject({ ...esApi, body: bad }),
        (err: { code?: number; body?: string }) => {
          assert.equal(err.code, 422, `${what}: ${err.body}`);
          assert.match(String(err.body), /Invalid|Unsupported value|Required value/);
          return true;
        },
        what,
      );
    }
  });

  it('the stand-in creates the immutable target Secret, owned by the ExternalSecret, and sets Ready True', async () => {
    const secret = await until('the target Secret', () => core.readNamespacedSecret({ name: NAME, namespace: NAMESPACE }));
    const es = (await custom.getNamespacedCustomObject({ ...esApi, name: NAME })) as { metadata: k8s.V1ObjectMeta };
    assert.equal(secret.immutable, true);
    assert.equal(Buffer.from(secret.data!.api_token, 'base64').toString('utf8'), VALUE);
    assert.deepEqual(JSON.parse(JSON.stringify(secret.metadata!.ownerReferences)), [
      { apiVersion: 'external-secrets.io/v1', kind: 'ExternalSecret', name: NAME, uid: es.metadata.uid, controller: true, blockOwnerDeletion: true },
    ]);
    assert.ok(asked.some((r) => r.key === KEY && r.version === VERSION && r.store === 'aws' && r.kind === 'ClusterSecretStore'));

    const status = await until('Ready on the ExternalSecret', () => readyOf(NAME));
    const ready = status.conditions!.find((c) => c.type === 'Ready')!;
    assert.equal(ready.status, 'True');
    assert.equal(ready.reason, 'SecretSynced');
    assert.match(status.syncedResourceVersion ?? '', /^1-[0-9a-f]+$/);
    assert.equal(status.binding?.name, NAME);
    assert.ok(Date.parse(status.refreshTime!) > Date.now() - 60_000);
    // The apiserver itself refuses to change an immutable Secret's data.
    await assert.rejects(
      core.replaceNamespacedSecret({ name: NAME, namespace: NAMESPACE, body: { ...secret, data: { api_token: Buffer.from('other').toString('base64') } } }),
      (err: { code?: number }) => err.code === 422,
    );
  });

  it("deleting the ExternalSecret lets the cluster's garbage collector delete the target Secret", async () => {
    const started = Date.now();
    await custom.deleteNamespacedCustomObject({ ...esApi, name: NAME });
    await until(
      'the garbage collector to delete the Secret',
      async () => {
        try {
          await core.readNamespacedSecret({ name: NAME, namespace: NAMESPACE });
          return undefined;
        } catch (err) {
          return (err as { code?: number }).code === 404 ? true : undefined;
        }
      },
      45_000,
    );
    lines.push(`garbage-collected in ${Date.now() - started} ms`);
  });

  it('a resolver error gives Ready False, SecretSyncedError, with the message and no Secret', async () => {
    const name = 'billing-secrets-20261130120000';
    await custom.createNamespacedCustomObject({ ...esApi, body: externalSecret(name, FAILING_KEY) });
    const status = await until('Ready False', () => readyOf(name));
    const ready = status.conditions!.find((c) => c.type === 'Ready')!;
    assert.equal(ready.status, 'False');
    assert.equal(ready.reason, 'SecretSyncedError');
    assert.match(ready.message!, /could not get secret data from provider/);
    assert.match(ready.message!, /AccessDeniedException: rotor-test is not authorized/);
    assert.equal(status.syncedResourceVersion, undefined);
    await assert.rejects(core.readNamespacedSecret({ name, namespace: NAMESPACE }), (err: { code?: number }) => err.code === 404);
    const events = await core.listNamespacedEvent({ namespace: NAMESPACE, fieldSelector: `involvedObject.name=${name}` });
    assert.ok(events.items.some((e) => e.type === 'Warning' && e.reason === 'UpdateFailed' && /AccessDeniedException/.test(e.message ?? '')));
    assert.ok(!lines.join('\n').includes(VALUE), 'no secret value in any log line');
  });

  it('an immutable target keeps its data when the provider changes; deletionPolicy Delete deletes it when the provider secret is gone', async () => {
    const name = 'session-secrets-20261130120000';
    const spec = externalSecret(name, SESSION_KEY).spec as { target: Record<string, unknown> };
    await custom.createNamespacedCustomObject({
      ...esApi,
      body: externalSecret(name, SESSION_KEY, { target: { ...spec.target, deletionPolicy: 'Delete' } }),
    });
    const first = await until('the session Secret', () => core.readNamespacedSecret({ name, namespace: NAMESPACE }));
    // A new value in the provider; a label change on the ExternalSecret makes the stand-in sync again (as the operator does).
    provider.set(`${SESSION_KEY}@${VERSION}`, 'rotor-eso-canary-session-v2-Qz7m');
    await custom.patchNamespacedCustomObject(
      { ...esApi, name, body: [{ op: 'add', path: '/metadata/labels', value: { resync: '1' } }] },
      k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.JsonPatch),
    );
    const failed = await until('Ready False for the immutable target', async () => {
      const status = await readyOf(name);
      return status?.conditions?.find((c) => c.type === 'Ready' && c.status === 'False') ? status : undefined;
    });
    assert.match(failed.conditions!.find((c) => c.type === 'Ready')!.message!, /could not update secret, target is immutable/);
    const kept = await core.readNamespacedSecret({ name, namespace: NAMESPACE });
    assert.deepEqual(kept.data, first.data);

    // The secret is deleted in the provider: deletionPolicy Delete deletes the target Secret.
    provider.delete(`${SESSION_KEY}@${VERSION}`);
    const deleted = await until('Ready True, SecretDeleted', async () => {
      const status = await readyOf(name);
      return status?.conditions?.find((c) => c.type === 'Ready' && c.reason === 'SecretDeleted') ? status : undefined;
    });
    assert.equal(deleted.conditions!.find((c) => c.type === 'Ready')!.status, 'True');
    await assert.rejects(core.readNamespacedSecret({ name, namespace: NAMESPACE }), (err: { code?: number }) => err.code === 404);
    // The ExternalSecret itself stays: deletionPolicy is about the provider's secret, not about it.
    await custom.getNamespacedCustomObject({ ...esApi, name });
  });
});
