// Where a version's copies are, and whose they are: both adapters read a version's record (its
// credential, store version and copies) without its data, and find every namespace holding a Secret of
// that name: by one listing where the worker may list Secrets, one namespace at a time where it may
// only read them (rotor rbac --scope cluster), and not at all (null) where it may not read one of them.
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import * as k8s from '@kubernetes/client-node';
import { KubernetesCluster } from '../activities/kubernetes';
import { MemoryCluster } from '../activities/memory';
import type { ClusterPort } from '../activities/ports';
import { workerKubeconfig, type Sandbox } from '../sandbox';
import { startWorldSandbox } from './helpers/worlds';

const BASE = 'auth-api-secrets';
const X = `${BASE}-20261206120000`;

let sandbox: Sandbox | undefined;
let admin: k8s.KubeConfig;
let workerConfig: string;

before(async () => {
  ({ sandbox, kc: admin } = await startWorldSandbox());
  workerConfig = await workerKubeconfig(sandbox.plane, mkdtempSync(join(tmpdir(), 'rotor-copies-')), [], 'cluster');
});

after(async () => {
  await sandbox?.stop();
});

let seq = 0;

/** Namespaces a, b (copies of X made by one rotation, recorded) and c (a Secret of the same name by hand). */
async function seed(cluster: ClusterPort, namespace: (name: string) => Promise<void>): Promise<string[]> {
  const n = ++seq;
  const [a, b, c] = [`copies-${n}-a`, `copies-${n}-b`, `copies-${n}-c`];
  for (const ns of [a, b, c]) await namespace(ns);
  const identity = { credentialId: `${X}.0123456789ab`, storeVersionId: 'rotor-0123456789012345678901234567890123456789', copies: [a, b] };
  for (const ns of [a, b])
    await cluster.createVersion({ namespace: ns, name: X, base: BASE, rotationId: 'rotate-a/run-1', data: { api_token: 'v' }, identity });
  await cluster.createVersion({ namespace: c, name: X, base: BASE, rotationId: 'by-hand', data: { api_token: 'w' } });
  return [a, b, c];
}

function kubeNamespace(kc: k8s.KubeConfig) {
  const core = kc.makeApiClient(k8s.CoreV1Api);
  return async (name: string) => {
    await core.createNamespace({ body: { metadata: { name } } });
  };
}

describe('a version record and its copies', () => {
  const worlds: [string, () => { cluster: ClusterPort; namespace: (n: string) => Promise<void> }][] = [
    ['memory', () => ({ cluster: new MemoryCluster({ secrets: [], workloads: [] }), namespace: async () => undefined })],
    ['kubernetes (may list Secrets)', () => ({ cluster: new KubernetesCluster(admin), namespace: kubeNamespace(admin) })],
    [
      'kubernetes (rotor rbac --scope cluster: may read Secrets, not list them)',
      () => {
        const kc = new k8s.KubeConfig();
        kc.loadFromFile(workerConfig);
        return { cluster: new KubernetesCluster(kc), namespace: kubeNamespace(admin) };
      },
    ],
  ];
  for (const [label, make] of worlds) {
    it(`${label}: reads the record without the data, and finds every copy by name`, async () => {
      const { cluster, namespace } = make();
      const [a, b, c] = await seed(cluster, namespace);
      assert.deepEqual(await cluster.readVersionRecord(a, X), {
        rotationId: 'rotate-a/run-1',
        credentialId: `${X}.0123456789ab`,
        storeVersionId: 'rotor-0123456789012345678901234567890123456789',
        copies: [a, b],
      });
      assert.deepEqual(await cluster.readVersionRecord(c, X), { rotationId: 'by-hand', credentialId: null, storeVersionId: null, copies: null });
      assert.equal(await cluster.readVersionRecord(a, `${X}-not-there`), null);
      const copies = await cluster.findCopies(X);
      assert.ok(copies, 'where the copies are is known');
      assert.deepEqual(
        copies.filter((ns) => ns.startsWith(`copies-${seq}-`)),
        [a, b, c],
        'every namespace with a Secret of that name, whoever made it',
      );
      assert.deepEqual(await cluster.findCopies(`${X}-not-there`), []);
    });
  }

  it('memory: a namespace the worker may not read makes the copies unknown, and reading there is Forbidden as the apiserver says it', async () => {
    const cluster = new MemoryCluster({ secrets: [], workloads: [], unreadableNamespaces: ['secret-team'] });
    await cluster.createVersion({ namespace: 'staging', name: X, base: BASE, rotationId: 'r', data: { k: 'v' } });
    assert.equal(await cluster.findCopies(X), null);
    await assert.rejects(cluster.readVersionRecord('secret-team', X), (err: Error & { type?: string }) => {
      assert.equal(err.type, 'Forbidden');
      assert.match(err.message, /^read Secret secret-team\/.* \(metadata only\): HTTP 403 Forbidden: .*check the worker's RBAC/);
      return true;
    });
  });

  it('kubernetes: an identity that may not read Secrets in one namespace cannot say where the copies are (null), and is told Forbidden there', async () => {
    const core = admin.makeApiClient(k8s.CoreV1Api);
    const rbac = admin.makeApiClient(k8s.RbacAuthorizationV1Api);
    const [a, , c] = await seed(new KubernetesCluster(admin), kubeNamespace(admin));
    const sa = `narrow-${seq}`;
    await core.createNamespacedServiceAccount({ namespace: a, body: { metadata: { name: sa } } });
    // Namespaces may be listed; Secrets read only in a.
    await rbac.createClusterRole({ body: { metadata: { name: sa }, rules: [{ apiGroups: [''], resources: ['namespaces'], verbs: ['list'] }] } });
    await rbac.createClusterRoleBinding({
      body: {
        metadata: { name: sa },
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: sa },
        subjects: [{ kind: 'ServiceAccount', name: sa, namespace: a }],
      },
    });
    await rbac.createNamespacedRole({ namespace: a, body: { metadata: { name: sa }, rules: [{ apiGroups: [''], resources: ['secrets'], verbs: ['get'] }] } });
    await rbac.createNamespacedRoleBinding({
      namespace: a,
      body: {
        metadata: { name: sa },
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: sa },
        subjects: [{ kind: 'ServiceAccount', name: sa, namespace: a }],
      },
    });
    const token = (
      await core.createNamespacedServiceAccountToken({ namespace: a, name: sa, body: { spec: { audiences: ['https://kubernetes.default.svc'] } } })
    ).status!.token;
    const kc = new k8s.KubeConfig();
    kc.loadFromOptions({
      clusters: [
        { name: 'c', server: admin.getCurrentCluster()!.server, caData: admin.getCurrentCluster()!.caData, caFile: admin.getCurrentCluster()!.caFile },
      ],
      users: [{ name: sa, token }],
      contexts: [{ name: 'c', cluster: 'c', user: sa }],
      currentContext: 'c',
    });
    const narrow = new KubernetesCluster(kc);
    assert.deepEqual((await narrow.readVersionRecord(a, X))?.credentialId, `${X}.0123456789ab`);
    await assert.rejects(narrow.readVersionRecord(c, X), (err: Error & { type?: string }) => err.type === 'Forbidden' && /HTTP 403/.test(err.message));
    assert.equal(await narrow.findCopies(X), null, 'a namespace it cannot read may hold a copy');
  });
});
