// What the memory backend's apiserver must honour, checked against kube-apiserver itself: the same
// requests through the same generated clients, the same answers (status codes, the order and paging of
// lists, what a precondition or a failed JSON-patch test does, which writes are refused). The Kubernetes
// adapter's rules run unchanged over both (test/cluster-contract.test.ts runs its whole contract on
// both); this suite pins the API underneath, so a difference shows up here first, by its request.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import * as k8s from '@kubernetes/client-node';
import { startControlPlane, type ControlPlane } from '../sandbox/control-plane';
import { MemoryApiServer } from '../activities/memory/apiserver';
import { httpLibraryOf, memoryKubeConfig } from '../activities/memory/connection';
import { resilient } from '../activities/kubernetes/transport';
import { jsonPatch, namespaceNotFound, statusCode } from '../activities/kubernetes/kinds';
import type { MemoryWorld } from '../activities/memory';

let plane: ControlPlane | undefined;
let seq = 0;

interface Server {
  name: string;
  core: k8s.CoreV1Api;
  apps: k8s.AppsV1Api;
  leases: k8s.CoordinationV1Api;
  namespace(name: string): Promise<void>;
  /** Compact history past every continue token given so far. */
  compact(): Promise<void>;
}

function clients(kc: k8s.KubeConfig) {
  return { core: kc.makeApiClient(k8s.CoreV1Api), apps: kc.makeApiClient(k8s.AppsV1Api), leases: kc.makeApiClient(k8s.CoordinationV1Api) };
}

function memoryServer(): Server {
  const world: MemoryWorld = { secrets: [], workloads: [], namespaces: [] };
  const api = new MemoryApiServer(world);
  const kc = resilient(memoryKubeConfig(), 5_000, httpLibraryOf(api));
  return { name: 'memory', ...clients(kc), namespace: async (name) => void world.namespaces!.push(name), compact: async () => api.compact() };
}

function kubeServer(): Server {
  const kc = new k8s.KubeConfig();
  kc.loadFromFile(plane!.kubeconfig);
  const c = clients(kc);
  const etcd = (path: string, body: object) =>
    fetch(`${plane!.etcdUrl}${path}`, { method: 'POST', body: JSON.stringify(body) }).then((r) => r.json() as Promise<{ header: { revision: string } }>);
  return {
    name: 'kubernetes',
    ...c,
    namespace: async (name) => void (await c.core.createNamespace({ body: { metadata: { name } } })),
    compact: async () => {
      const revision = Number((await etcd('/v3/kv/range', { key: Buffer.from('/').toString('base64') })).header.revision);
      await etcd('/v3/kv/compaction', { revision, physical: true });
    },
  };
}

before(async () => {
  // Lists served from etcd, as a paged list is, so that compacting etcd expires a continue token for real.
  plane = await startControlPlane({ apiserverArgs: ['--watch-cache=false'] });
});

after(async () => {
  await plane?.stop();
});

/** The status code a call fails with (0: it did not fail), and the error. */
async function failing(call: Promise<unknown>): Promise<{ code: number; err: unknown }> {
  try {
    await call;
    return { code: 0, err: null };
  } catch (err) {
    return { code: statusCode(err) ?? -1, err };
  }
}

const secret = (name: string, extra: Partial<k8s.V1Secret> = {}): k8s.V1Secret => ({
  metadata: { name, labels: { team: 'payments' } },
  type: 'Opaque',
  data: { api_token: Buffer.from(`value of ${name}`).toString('base64') },
  ...extra,
});

const deployment = (name: string): k8s.V1Deployment => ({
  metadata: { name },
  spec: {
    replicas: 2,
    selector: { matchLabels: { 'app.kubernetes.io/name': name } },
    template: {
      metadata: { labels: { 'app.kubernetes.io/name': name } },
      spec: { containers: [{ name: 'app', image: 'registry.example/app:1', envFrom: [{ secretRef: { name: `${name}-secrets` } }] }] },
    },
  },
});

for (const [label, make] of [
  ['memory', memoryServer],
  ['kubernetes', kubeServer],
] as const) {
  describe(`the apiserver the adapter relies on: ${label}`, () => {
    let s: Server;
    let ns: string;
    before(() => {
      s = make();
    });
    const fresh = async () => {
      ns = `api-${label}-${++seq}`;
      await s.namespace(ns);
    };

    it('creates once: a second create is 409 AlreadyExists, a create in a namespace that does not exist is 404 naming the namespace', async () => {
      await fresh();
      await s.core.createNamespacedSecret({ namespace: ns, body: secret('a') });
      const again = await failing(s.core.createNamespacedSecret({ namespace: ns, body: secret('a') }));
      assert.equal(again.code, 409);
      assert.match(String((again.err as { body?: string }).body), /AlreadyExists/);
      const nowhere = await failing(s.core.createNamespacedSecret({ namespace: `${ns}-missing`, body: secret('a') }));
      assert.equal(nowhere.code, 404);
      assert.equal(namespaceNotFound(nowhere.err), true);
      const missing = await failing(s.core.readNamespacedSecret({ namespace: ns, name: 'b' }));
      assert.equal(missing.code, 404);
      assert.equal(namespaceNotFound(missing.err), false, 'a missing object is not a missing namespace');
    });

    it('deletes only under a current resourceVersion precondition', async () => {
      await fresh();
      const created = await s.core.createNamespacedSecret({ namespace: ns, body: secret('a') });
      const rv = created.metadata!.resourceVersion!;
      await s.core.patchNamespacedSecret(
        { namespace: ns, name: 'a', body: [{ op: 'add', path: '/metadata/annotations', value: { touched: 'yes' } }] },
        jsonPatch,
      );
      const stale = await failing(s.core.deleteNamespacedSecret({ namespace: ns, name: 'a', body: { preconditions: { resourceVersion: rv } } }));
      assert.equal(stale.code, 409);
      const now = (await s.core.readNamespacedSecret({ namespace: ns, name: 'a' })).metadata!.resourceVersion!;
      assert.notEqual(now, rv, 'a write changes the resourceVersion');
      await s.core.deleteNamespacedSecret({ namespace: ns, name: 'a', body: { preconditions: { resourceVersion: now } } });
      assert.equal((await failing(s.core.readNamespacedSecret({ namespace: ns, name: 'a' }))).code, 404);
      assert.equal((await failing(s.core.deleteNamespacedSecret({ namespace: ns, name: 'a' }))).code, 404);
    });

    it('refuses to change an immutable Secret and any Secret type (422), and lets its metadata change', async () => {
      await fresh();
      await s.core.createNamespacedSecret({ namespace: ns, body: secret('a', { immutable: true }) });
      const data = await failing(
        s.core.patchNamespacedSecret({ namespace: ns, name: 'a', body: [{ op: 'replace', path: '/data/api_token', value: 'b3RoZXI=' }] }, jsonPatch),
      );
      assert.equal(data.code, 422);
      const type = await failing(
        s.core.patchNamespacedSecret({ namespace: ns, name: 'a', body: [{ op: 'replace', path: '/type', value: 'kubernetes.io/basic-auth' }] }, jsonPatch),
      );
      assert.equal(type.code, 422);
      const labelled = await s.core.patchNamespacedSecret(
        { namespace: ns, name: 'a', body: [{ op: 'add', path: '/metadata/labels/owner', value: 'rotor' }] },
        jsonPatch,
      );
      assert.equal(labelled.metadata?.labels?.owner, 'rotor');
      assert.equal(Buffer.from((await s.core.readNamespacedSecret({ namespace: ns, name: 'a' })).data!.api_token, 'base64').toString(), 'value of a');
    });

    it('applies a JSON patch whole or not at all: a failed test is 422 and changes nothing; generation follows the spec', async () => {
      await fresh();
      const created = await s.apps.createNamespacedDeployment({ namespace: ns, body: deployment('web') });
      const rv = created.metadata!.resourceVersion!;
      const generation = created.metadata!.generation!;
      const annotated = await s.apps.patchNamespacedDeployment(
        {
          namespace: ns,
          name: 'web',
          body: [
            { op: 'test', path: '/metadata/resourceVersion', value: rv },
            { op: 'add', path: '/metadata/labels', value: { team: 'payments' } },
          ],
        },
        jsonPatch,
      );
      assert.equal(annotated.metadata!.generation, generation, 'labels are not the spec');
      const noted = await s.apps.patchNamespacedDeployment(
        { namespace: ns, name: 'web', body: [{ op: 'add', path: '/metadata/annotations', value: { 'rotor.dev/x': '1' } }] },
        jsonPatch,
      );
      assert.equal(noted.metadata!.generation, generation + 1, "a Deployment's annotations count as its spec (they are copied to its ReplicaSets)");
      const stale = await failing(
        s.apps.patchNamespacedDeployment(
          {
            namespace: ns,
            name: 'web',
            body: [
              { op: 'test', path: '/metadata/resourceVersion', value: rv },
              { op: 'replace', path: '/spec/replicas', value: 5 },
            ],
          },
          jsonPatch,
        ),
      );
      assert.equal(stale.code, 422);
      assert.equal((await s.apps.readNamespacedDeployment({ namespace: ns, name: 'web' })).spec!.replicas, 2, 'nothing of a failed patch lands');
      const scaled = await s.apps.patchNamespacedDeployment(
        {
          namespace: ns,
          name: 'web',
          body: [
            { op: 'test', path: '/spec/replicas', value: 2 },
            { op: 'replace', path: '/spec/replicas', value: 5 },
            { op: 'replace', path: '/spec/template/spec/containers/0/envFrom/0/secretRef/name', value: 'web-secrets-2' },
          ],
        },
        jsonPatch,
      );
      assert.equal(scaled.metadata!.generation, generation + 2);
      assert.equal(scaled.spec!.replicas, 5);
      assert.equal(scaled.spec!.template.spec!.containers[0].envFrom![0].secretRef!.name, 'web-secrets-2');
      assert.equal((await failing(s.apps.patchNamespacedDeployment({ namespace: ns, name: 'ghost', body: [] }, jsonPatch))).code, 404);
    });

    it('replaces a Lease only at its current resourceVersion (409 otherwise)', async () => {
      await fresh();
      const lease = await s.leases.createNamespacedLease({
        namespace: ns,
        body: { metadata: { name: 'rotor-a', annotations: { 'rotor.dev/secret': 'a' } }, spec: { holderIdentity: 'one' } },
      });
      const taken = await s.leases.replaceNamespacedLease({ namespace: ns, name: 'rotor-a', body: { ...lease, spec: { holderIdentity: 'two' } } });
      assert.equal(taken.spec?.holderIdentity, 'two');
      const late = await failing(s.leases.replaceNamespacedLease({ namespace: ns, name: 'rotor-a', body: { ...lease, spec: { holderIdentity: 'three' } } }));
      assert.equal(late.code, 409);
      assert.equal((await s.leases.readNamespacedLease({ namespace: ns, name: 'rotor-a' })).spec?.holderIdentity, 'two');
    });

    it('pages a list in name order with limit and continue, and filters by label and field selectors', async () => {
      await fresh();
      const names = ['e', 'a', 'd', 'b', 'c'];
      for (const n of names)
        await s.core.createNamespacedSecret({ namespace: ns, body: secret(n, n === 'b' ? { metadata: { name: n, labels: { team: 'ledger' } } } : {}) });
      const pages: string[][] = [];
      let cont: string | undefined;
      do {
        const page = await s.core.listNamespacedSecret({ namespace: ns, limit: 2, _continue: cont });
        pages.push(page.items.map((i) => i.metadata!.name!).filter((n) => names.includes(n)));
        cont = page.metadata?._continue || undefined;
      } while (cont);
      assert.deepEqual(pages.flat(), [...names].sort());
      assert.ok(pages.length >= 3, 'more than one page');
      const payments = await s.core.listNamespacedSecret({ namespace: ns, labelSelector: 'team=payments' });
      assert.deepEqual(payments.items.map((i) => i.metadata!.name).sort(), ['a', 'c', 'd', 'e']);
      const notPayments = await s.core.listNamespacedSecret({ namespace: ns, labelSelector: 'team,team!=payments' });
      assert.deepEqual(
        notPayments.items.map((i) => i.metadata!.name),
        ['b'],
      );
      const byName = await s.core.listSecretForAllNamespaces({ fieldSelector: 'metadata.name=d' });
      assert.deepEqual(
        byName.items.filter((i) => i.metadata!.namespace === ns).map((i) => i.metadata!.name),
        ['d'],
      );
    });

    it('expires a continue token once history is compacted past it (410 Gone), and a new list starts over', async () => {
      await fresh();
      for (const n of ['a', 'b', 'c']) await s.core.createNamespacedSecret({ namespace: ns, body: secret(n) });
      const first = await s.core.listNamespacedSecret({ namespace: ns, limit: 1 });
      assert.ok(first.metadata?._continue);
      await s.core.createNamespacedSecret({ namespace: ns, body: secret('d') });
      await s.compact();
      const gone = await failing(s.core.listNamespacedSecret({ namespace: ns, limit: 1, _continue: first.metadata._continue }));
      assert.equal(gone.code, 410);
      const again = await s.core.listNamespacedSecret({ namespace: ns });
      assert.deepEqual(
        again.items.map((i) => i.metadata!.name),
        ['a', 'b', 'c', 'd'],
      );
    });

    it('answers with metadata only when asked, never the data', async () => {
      await fresh();
      await s.core.createNamespacedSecret({ namespace: ns, body: secret('a') });
      const meta = await s.core.readNamespacedSecret(
        { namespace: ns, name: 'a' },
        k8s.setHeaderOptions('Accept', 'application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1'),
      );
      assert.equal(meta.metadata?.name, 'a');
      assert.equal(meta.data, undefined);
      assert.ok(!JSON.stringify(meta).includes(Buffer.from('value of a').toString('base64')));
    });
  });
}
