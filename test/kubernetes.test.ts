// The Kubernetes adapter and the sandbox against a real kube-apiserver, etcd and controller-manager
// (built by the bootstrap), with the pod simulator playing the kubelets.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import * as k8s from '@kubernetes/client-node';
import { KubernetesCluster, POD_SPEC_SECRET_FIELDS, greenName } from '../activities/kubernetes';
import { RotorError } from '../activities/errors';
import type { WorkloadUse } from '../contract/activities';
import { startControlPlane, startSandbox, type Sandbox } from '../sandbox';

const OLD = 'auth-api-secrets-20250101000000';
const NEW = 'auth-api-secrets-20251129120000';

let sandbox: Sandbox;
let kc: k8s.KubeConfig;
let core: k8s.CoreV1Api;
let apps: k8s.AppsV1Api;
let batch: k8s.BatchV1Api;
let cluster: KubernetesCluster;

/** kubectl as a user runs it (asynchronously: the pod simulator shares this process's event loop). */
async function kubectl(args: string[]): Promise<string> {
  try {
    return (
      await promisify(execFile)(sandbox.plane.binaries.kubectl, ['--kubeconfig', sandbox.plane.kubeconfig, ...args], {
        encoding: 'utf8',
        timeout: 90_000,
        maxBuffer: 64 * 1024 * 1024,
      })
    ).stdout;
  } catch (err) {
    // `kubectl auth can-i` answers "no" with exit code 1.
    const e = err as { code?: number; stdout?: string };
    if (args[0] === 'auth' && e.code === 1) return e.stdout ?? '';
    throw err;
  }
}

async function secret(namespace: string, name: string, data: Record<string, string>): Promise<void> {
  await core.createNamespacedSecret({ namespace, body: { metadata: { name }, stringData: data } });
}

function deployment(name: string, secretName: string, opts: { replicas?: number; key?: string } = {}): k8s.V1Deployment {
  return {
    metadata: { name },
    spec: {
      replicas: opts.replicas ?? 2,
      selector: { matchLabels: { app: name } },
      template: {
        metadata: { labels: { app: name } },
        spec: {
          containers: [
            {
              name: 'app',
              image: 'example/auth:1',
              envFrom: [{ secretRef: { name: secretName } }],
              env: [
                { name: 'TOKEN', valueFrom: { secretKeyRef: { name: secretName, key: opts.key ?? 'api_token' } } },
                { name: 'UNRELATED', valueFrom: { secretKeyRef: { name: 'tls-certs', key: 'crt' } } },
              ],
            },
          ],
          volumes: [{ name: 'projected', projected: { sources: [{ secret: { name: secretName } }] } }],
        },
      },
    },
  };
}

/** The workloads rotor would switch in a namespace (the users of its current version). */
async function users(ns: string) {
  return (await cluster.findCurrentUse(ns, 'auth-api-secrets')).workloads;
}

async function namespace(name: string): Promise<void> {
  await core.createNamespace({ body: { metadata: { name } } });
  // The serviceaccount controller creates `default`; pods wait for it.
  for (let i = 0; i < 100; i++) {
    if ((await core.listNamespacedServiceAccount({ namespace: name })).items.some((s) => s.metadata?.name === 'default')) return;
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function waitReady(ns: string, names: { kind: 'Deployment'; name: string }[], timeoutMs = 60_000, version?: string) {
  const uses = names.map((n) => ({ ...n, namespace: ns, fields: [] }));
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    // With the new version, the rotation's green copies are waited for too, as the workflow does.
    const state = await cluster.rolloutState(ns, uses, version);
    if (state.ready || state.failed) return state;
    if (Date.now() > deadline) return state;
    await new Promise((r) => setTimeout(r, 250));
  }
}

before(async () => {
  sandbox = await startSandbox({ readyDelayMs: 300, jobDurationMs: 300 });
  kc = new k8s.KubeConfig();
  kc.loadFromFile(sandbox.plane.kubeconfig);
  core = kc.makeApiClient(k8s.CoreV1Api);
  apps = kc.makeApiClient(k8s.AppsV1Api);
  batch = kc.makeApiClient(k8s.BatchV1Api);
  cluster = new KubernetesCluster(kc, 2); // tiny pages, so every scan crosses page boundaries
  for (const ns of ['staging', 'production']) {
    await namespace(ns);
    await secret(ns, OLD, { api_token: 'old-token-value' });
    await secret(ns, `${OLD}-old`, { api_token: 'decoy' });
    await secret(ns, 'tls-certs', { crt: 'x' });
  }
});

after(async () => {
  await sandbox?.stop();
});

describe('sandbox control plane', () => {
  it('answers kubectl unchanged: get, auth can-i, rollout status', async () => {
    assert.match(await kubectl(['version', '-o', 'json']), /"gitVersion": "v1\.37\.2"/);
    assert.match(await kubectl(['get', 'secrets', '-n', 'staging']), new RegExp(OLD));
    assert.equal((await kubectl(['auth', 'can-i', 'delete', 'secrets', '-n', 'staging'])).trim(), 'yes');
    assert.equal(
      (await kubectl(['auth', 'can-i', 'list', 'secrets', '-n', 'staging', '--as', 'system:serviceaccount:staging:default'])).trim().split('\n')[0],
      'no',
    );
    await apps.createNamespacedDeployment({ namespace: 'staging', body: deployment('kubectl-check', OLD) });
    assert.match(await kubectl(['rollout', 'status', 'deployment/kubectl-check', '-n', 'staging', '--timeout', '60s']), /successfully rolled out/);
    const nodes = await core.listNode();
    assert.ok(nodes.items.every((n) => n.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True')));
  });

  it('keeps a pod whose Secret key is missing in CreateContainerConfigError, as a kubelet does', async () => {
    await apps.createNamespacedDeployment({ namespace: 'staging', body: deployment('missing-key', OLD, { key: 'no_such_key', replicas: 1 }) });
    const state = await waitReady('staging', [{ kind: 'Deployment', name: 'missing-key' }]);
    assert.equal(state.failed, true);
    assert.match(state.message, /CreateContainerConfigError: couldn't find key no_such_key in Secret staging\/auth-api-secrets-20250101000000/);
    await apps.deleteNamespacedDeployment({ namespace: 'staging', name: 'missing-key' });
  });
});

describe('the reference scan is complete by construction', () => {
  it("covers every field of the apiserver's PodSpec schema that names a Secret", async () => {
    const doc = JSON.parse(await kubectl(['get', '--raw', '/openapi/v3/api/v1'])) as { components: { schemas: Record<string, any> } };
    const schemas = doc.components.schemas;
    const refOf = (s: any): string | undefined => (s?.$ref ?? s?.allOf?.[0]?.$ref)?.split('/').pop();
    const found = new Set<string>();
    // Every string leaf named like a Secret (secretName) or `name` under a property named like one (secretRef.name).
    const walk = (type: string, path: string[], parentName: string, seen: Set<string>) => {
      const schema = schemas[type];
      for (const [prop, raw] of Object.entries<any>(schema?.properties ?? {})) {
        const isArray = raw.type === 'array';
        const item = isArray ? raw.items : raw;
        const segment = isArray ? `${prop}[]` : prop;
        const child = refOf(item);
        if (child) {
          if (!seen.has(child)) walk(child, [...path, segment], prop, new Set([...seen, child]));
          continue;
        }
        if (item?.type !== 'string') continue;
        if (/secretname/i.test(prop) || (prop === 'name' && /secret/i.test(parentName))) found.add([...path, segment].join('.'));
      }
    };
    walk('io.k8s.api.core.v1.PodSpec', [], '', new Set(['io.k8s.api.core.v1.PodSpec']));
    assert.ok(found.size >= 10, `found ${[...found].join(', ')}`);
    assert.deepEqual([...found].sort(), [...POD_SPEC_SECRET_FIELDS].sort());
  });
});

describe('KubernetesCluster', () => {
  it('creates an immutable, labelled version idempotently and refuses other content loudly', async () => {
    const spec = {
      namespace: 'staging',
      name: NEW,
      base: 'auth-api-secrets',
      rotationId: 'rotate-staging-auth-api-secrets/run-1',
      data: { api_token: 'new-token-value' },
    };
    assert.equal(await cluster.createVersion(spec), 'created');
    assert.equal(await cluster.createVersion(spec), 'exists');
    const stored = await core.readNamespacedSecret({ namespace: 'staging', name: NEW });
    assert.equal(stored.immutable, true);
    assert.equal(stored.metadata?.labels?.['rotor.dev/secret'], 'auth-api-secrets');
    assert.equal(stored.metadata?.labels?.['rotor.dev/version'], '20251129120000');
    assert.equal(stored.metadata?.annotations?.['rotor.dev/rotation-id'], spec.rotationId);
    await assert.rejects(cluster.createVersion({ ...spec, data: { api_token: 'other-value' } }), (err: RotorError) => {
      assert.equal(err.type, 'VersionContentMismatch');
      assert.ok(!err.message.includes('other-value') && !err.message.includes('new-token-value'), err.message);
      return true;
    });
    await assert.rejects(cluster.createVersion({ ...spec, rotationId: 'someone-else' }), (err: RotorError) => err.type === 'VersionConflict');
    assert.deepEqual(await cluster.readVersion('staging', NEW), { data: { api_token: 'new-token-value' }, rotationId: spec.rotationId });
  });

  it('finds every kind of reference, exact names only, across pages and namespaces', async () => {
    await apps.createNamespacedDeployment({ namespace: 'staging', body: deployment('auth-api', OLD) });
    await apps.createNamespacedDeployment({ namespace: 'staging', body: deployment('decoy', `${OLD}-old`) });
    await apps.createNamespacedDeployment({ namespace: 'production', body: deployment('auth-api', OLD) });
    await apps.createNamespacedStatefulSet({
      namespace: 'staging',
      body: {
        metadata: { name: 'ledger' },
        spec: {
          serviceName: 'ledger',
          replicas: 1,
          selector: { matchLabels: { app: 'ledger' } },
          template: {
            metadata: { labels: { app: 'ledger' } },
            spec: { initContainers: [{ name: 'init', image: 'x', envFrom: [{ secretRef: { name: OLD } }] }], containers: [{ name: 'c', image: 'x' }] },
          },
        },
      },
    });
    await batch.createNamespacedCronJob({
      namespace: 'staging',
      body: {
        metadata: { name: 'weekly-report' },
        spec: {
          schedule: '0 3 * * 1',
          jobTemplate: {
            spec: {
              template: {
                spec: {
                  restartPolicy: 'Never',
                  imagePullSecrets: [{ name: OLD }],
                  containers: [{ name: 'c', image: 'x' }],
                  volumes: [{ name: 's', secret: { secretName: OLD } }],
                },
              },
            },
          },
        },
      },
    });
    await core.createNamespacedPod({
      namespace: 'staging',
      body: {
        metadata: { name: 'debug-shell' },
        spec: { containers: [{ name: 'c', image: 'x', env: [{ name: 'T', valueFrom: { secretKeyRef: { name: OLD, key: 'api_token' } } }] }] },
      },
    });

    assert.equal((await cluster.findCurrentUse('staging', 'auth-api-secrets')).version, OLD);
    const uses = await users('staging');
    assert.deepEqual(uses.map((u) => `${u.kind}/${u.name}`).sort(), [
      'CronJob/weekly-report',
      'Deployment/auth-api',
      'Deployment/kubectl-check',
      'StatefulSet/ledger',
    ]);
    const auth = uses.find((u) => u.name === 'auth-api')!;
    assert.deepEqual(
      auth.fields.sort(),
      [
        'containers[app].env[TOKEN].valueFrom.secretKeyRef.name',
        'containers[app].envFrom[].secretRef.name',
        'volumes[projected].projected.sources[].secret.name',
      ].sort(),
    );
    const cron = uses.find((u) => u.name === 'weekly-report')!;
    assert.deepEqual(cron.fields.sort(), ['imagePullSecrets[].name', 'volumes[s].secret.secretName']);
    const holders = await cluster.findReferences(['staging'], OLD);
    const names = holders.map((h) => `${h.kind}/${h.name}`);
    assert.ok(names.includes('Pod/debug-shell'), 'a bare Pod holds it');
    assert.ok(!names.includes('Deployment/decoy'), 'the -old Secret is another name');
    assert.ok(
      holders.every((h) => h.namespace === 'staging'),
      "references count only in the Secret's namespace",
    );
    assert.ok(!names.some((n) => n.startsWith('ReplicaSet/')), 'ReplicaSets of Deployments are not counted on their own');
  });

  it('switches exactly the referring fields, waits for the rollout, and reverts only those', async () => {
    await secret('production', NEW, { api_token: 'new-token-value' });
    await waitReady('production', [{ kind: 'Deployment', name: 'auth-api' }]);
    const [use] = await users('production');
    const records = await cluster.switchWorkloads({ stage: 'production', namespace: 'production', workloads: [use], from: OLD, to: NEW, strategy: 'rolling' });
    assert.equal(records[0].fields.length, 3);
    // A retry of the same switch finds the fields already on the new version and records them again.
    const again = await cluster.switchWorkloads({ stage: 'production', namespace: 'production', workloads: [use], from: OLD, to: NEW, strategy: 'rolling' });
    assert.deepEqual(again[0].fields.sort(), records[0].fields.sort());
    const state = await waitReady('production', [{ kind: 'Deployment', name: 'auth-api' }]);
    assert.equal(state.ready, true, state.message);
    // Someone else edits another field meanwhile; the revert leaves their change alone.
    await apps.patchNamespacedDeployment(
      { namespace: 'production', name: 'auth-api', body: [{ op: 'replace', path: '/spec/template/spec/containers/0/image', value: 'example/auth:2' }] },
      k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.JsonPatch),
    );
    const reverted = await cluster.revertWorkloads({ stage: 'production', namespace: 'production', workloads: [use], from: NEW, to: OLD, records });
    assert.deepEqual(reverted[0].fields.sort(), records[0].fields.sort());
    const after = await apps.readNamespacedDeployment({ namespace: 'production', name: 'auth-api' });
    const c = after.spec!.template.spec!.containers[0];
    assert.equal(c.image, 'example/auth:2');
    assert.equal(c.envFrom![0].secretRef!.name, OLD);
    assert.equal(c.env![1].valueFrom!.secretKeyRef!.name, 'tls-certs');
    assert.equal((await waitReady('production', [{ kind: 'Deployment', name: 'auth-api' }])).ready, true);
  });

  it('fails a rollout whose new Secret lacks a key instead of hanging', async () => {
    await secret('production', 'auth-api-secrets-20251129130000', { wrong_key: 'x' });
    const [use] = await users('production');
    const records = await cluster.switchWorkloads({
      stage: 'production',
      namespace: 'production',
      workloads: [use],
      from: OLD,
      to: 'auth-api-secrets-20251129130000',
      strategy: 'rolling',
    });
    const state = await waitReady('production', [{ kind: 'Deployment', name: 'auth-api' }]);
    assert.equal(state.failed, true, state.message);
    assert.match(state.message, /CreateContainerConfigError: couldn't find key api_token/);
    await cluster.revertWorkloads({
      stage: 'production',
      namespace: 'production',
      workloads: [use],
      from: 'auth-api-secrets-20251129130000',
      to: OLD,
      records,
    });
    assert.equal((await waitReady('production', [{ kind: 'Deployment', name: 'auth-api' }])).ready, true);
  });

  it('never deletes a Secret that a workload refers to; deletes it once free', async () => {
    const blocked = await cluster.deleteUnreferenced('staging', OLD);
    assert.equal(blocked.deleted, false);
    assert.ok(blocked.holders.length >= 4);
    await core.readNamespacedSecret({ namespace: 'staging', name: OLD });
    await core.createNamespacedSecret({ namespace: 'staging', body: { metadata: { name: 'unused-version' }, stringData: { a: 'b' } } });
    assert.deepEqual(await cluster.deleteUnreferenced('staging', 'unused-version'), { deleted: true, holders: [] });
    await assert.rejects(core.readNamespacedSecret({ namespace: 'staging', name: 'unused-version' }), (err: { code?: number }) => err.code === 404);
    assert.deepEqual(await cluster.deleteUnreferenced('staging', 'unused-version'), { deleted: true, holders: [] }, 'idempotent');
  });

  it('canaries by replica weight with a green copy, never below the original capacity, then promotes', async () => {
    await namespace('canary');
    await secret('canary', OLD, { api_token: 'old-token-value' });
    await secret('canary', NEW, { api_token: 'new-token-value' });
    await secret('canary', 'tls-certs', { crt: 'x' });
    await apps.createNamespacedDeployment({ namespace: 'canary', body: deployment('auth-api', OLD, { replicas: 4 }) });
    assert.equal((await waitReady('canary', [{ kind: 'Deployment', name: 'auth-api' }])).ready, true);
    const [use] = await users('canary');
    const sizes: [number, number][] = [];
    let records: Awaited<ReturnType<typeof cluster.switchWorkloads>> = [];
    for (const weight of [25, 50, 100]) {
      records = await cluster.switchWorkloads({
        stage: 'canary',
        namespace: 'canary',
        workloads: [use],
        from: OLD,
        to: NEW,
        strategy: 'canary',
        weightPercent: weight,
      });
      const state = await waitReady('canary', [{ kind: 'Deployment', name: 'auth-api' }], 60_000, NEW);
      assert.equal(state.ready, true, state.message);
      const blue = await apps.readNamespacedDeployment({ namespace: 'canary', name: 'auth-api' });
      const green = await apps.readNamespacedDeployment({ namespace: 'canary', name: greenName('auth-api', NEW) });
      sizes.push([blue.spec!.replicas!, green.spec!.replicas!]);
      assert.ok((blue.status!.availableReplicas ?? 0) + (green.status!.availableReplicas ?? 0) >= 4, `capacity at ${weight}%`);
      assert.equal(green.spec!.template.spec!.containers[0].envFrom![0].secretRef!.name, NEW);
      assert.equal(records[0].canary!.weightPercent, weight);
    }
    assert.deepEqual(sizes, [
      [4, 1],
      [3, 2],
      [4, 2],
    ]);
    const promoted = await apps.readNamespacedDeployment({ namespace: 'canary', name: 'auth-api' });
    assert.equal(promoted.spec!.template.spec!.containers[0].envFrom![0].secretRef!.name, NEW);
    assert.equal(records[0].fields.length, 3);
    await cluster.completeCanary('canary', records, NEW);
    await assert.rejects(
      apps.readNamespacedDeployment({ namespace: 'canary', name: greenName('auth-api', NEW) }),
      (err: { code?: number }) => err.code === 404,
    );
    assert.equal((await waitReady('canary', [{ kind: 'Deployment', name: 'auth-api' }])).ready, true);
  });

  it('reverts a canary half-way: blue back to full size on the old version, the green copy gone', async () => {
    await apps.createNamespacedDeployment({ namespace: 'canary', body: deployment('billing', OLD, { replicas: 3 }) });
    assert.equal((await waitReady('canary', [{ kind: 'Deployment', name: 'billing' }])).ready, true);
    const use = (await cluster.findReferences(['canary'], OLD)).find((w) => w.kind === 'Deployment' && w.name === 'billing') as WorkloadUse;
    const records = await cluster.switchWorkloads({
      stage: 'canary',
      namespace: 'canary',
      workloads: [use],
      from: OLD,
      to: NEW,
      strategy: 'canary',
      weightPercent: 50,
    });
    assert.deepEqual([records[0].canary!.blueReplicas, records[0].canary!.greenReplicas], [3, 2]);
    await waitReady('canary', [{ kind: 'Deployment', name: 'billing' }]);
    await cluster.revertWorkloads({ stage: 'canary', namespace: 'canary', workloads: [use], from: NEW, to: OLD, records });
    const blue = await apps.readNamespacedDeployment({ namespace: 'canary', name: 'billing' });
    assert.equal(blue.spec!.replicas, 3);
    assert.equal(blue.spec!.template.spec!.containers[0].envFrom![0].secretRef!.name, OLD);
    await assert.rejects(apps.readNamespacedDeployment({ namespace: 'canary', name: greenName('billing', NEW) }), (err: { code?: number }) => err.code === 404);
  });

  it('switches and rolls out StatefulSets and DaemonSets, and Jobs run to completion', async () => {
    await namespace('kinds');
    await secret('kinds', OLD, { api_token: 'old-token-value' });
    await secret('kinds', NEW, { api_token: 'new-token-value' });
    const template = (app: string) => ({
      metadata: { labels: { app } },
      spec: { containers: [{ name: 'c', image: 'x', envFrom: [{ secretRef: { name: OLD } }] }] },
    });
    await apps.createNamespacedStatefulSet({
      namespace: 'kinds',
      body: {
        metadata: { name: 'ledger' },
        spec: { serviceName: 'ledger', replicas: 2, selector: { matchLabels: { app: 'ledger' } }, template: template('ledger') },
      },
    });
    await apps.createNamespacedDaemonSet({
      namespace: 'kinds',
      body: { metadata: { name: 'agent' }, spec: { selector: { matchLabels: { app: 'agent' } }, template: template('agent') } },
    });
    await batch.createNamespacedJob({
      namespace: 'kinds',
      body: { metadata: { name: 'migrate' }, spec: { template: { spec: { restartPolicy: 'Never', containers: [{ name: 'c', image: 'x' }] } } } },
    });
    const uses = await users('kinds');
    assert.deepEqual(uses.map((u) => `${u.kind}/${u.name}`).sort(), ['DaemonSet/agent', 'StatefulSet/ledger']);
    const until = async (pred: () => Promise<boolean>, what: string) => {
      for (let i = 0; i < 240; i++) {
        if (await pred()) return;
        await new Promise((r) => setTimeout(r, 250));
      }
      assert.fail(`timed out waiting for ${what}`);
    };
    const ready = async () => (await cluster.rolloutState('kinds', uses)).ready;
    await until(
      async () => (await apps.readNamespacedDaemonSet({ namespace: 'kinds', name: 'agent' })).status?.numberReady === 2,
      'one DaemonSet pod ready per simulated node',
    );
    await until(ready, 'StatefulSet and DaemonSet ready on the old version');
    await cluster.switchWorkloads({ stage: 'kinds', namespace: 'kinds', workloads: uses, from: OLD, to: NEW, strategy: 'rolling' });
    assert.equal((await cluster.rolloutState('kinds', uses)).ready, false, 'a switch starts a rollout');
    await until(ready, 'StatefulSet and DaemonSet rolled out on the new version');
    await until(async () => ((await batch.readNamespacedJob({ namespace: 'kinds', name: 'migrate' })).status?.succeeded ?? 0) === 1, 'the Job to succeed');
  });

  it('restarts a paginated scan whose continue token expired (410 Gone from a compacted etcd)', async () => {
    // Lists served from etcd (no watch cache), so compacting etcd expires a continue token for real.
    const plane = await startControlPlane({ apiserverArgs: ['--watch-cache=false'] });
    try {
      const kc2 = new k8s.KubeConfig();
      kc2.loadFromFile(plane.kubeconfig);
      const apps2 = kc2.makeApiClient(k8s.AppsV1Api);
      const core2 = kc2.makeApiClient(k8s.CoreV1Api);
      for (const name of ['a', 'b', 'c']) await apps2.createNamespacedDeployment({ namespace: 'default', body: deployment(name, OLD, { replicas: 0 }) });
      const paged = new KubernetesCluster(kc2, 1);
      const kinds = (paged as unknown as { kinds: Record<string, { list: (ns: string | null, cont?: string) => Promise<any> }> }).kinds;
      const original = kinds.Deployment.list;
      const calls: (string | undefined)[] = [];
      let compacted = false;
      let gone = 0;
      kinds.Deployment.list = async (ns, cont) => {
        calls.push(cont);
        try {
          const page = await original(ns, cont);
          if (!compacted && page.metadata?._continue) {
            // After the first page: write, then compact etcd past the token's revision.
            compacted = true;
            await core2.createNamespacedConfigMap({ namespace: 'default', body: { metadata: { generateName: 'bump-' } } });
            const post = (path: string, body: object) =>
              fetch(`${plane.etcdUrl}${path}`, { method: 'POST', body: JSON.stringify(body) }).then((r) => r.json() as Promise<any>);
            const revision = Number((await post('/v3/kv/range', { key: Buffer.from('/').toString('base64') })).header.revision);
            await post('/v3/kv/compaction', { revision, physical: true });
          }
          return page;
        } catch (err) {
          if ((err as { code?: number }).code === 410) gone++;
          throw err;
        }
      };
      // A namespace's scan goes through the typed clients (the whole-cluster one reads raw pages: reference-scan.test.ts).
      const current = await paged.findCurrentUse('default', 'auth-api-secrets');
      assert.equal(gone, 1, 'the real apiserver answered 410 Gone once');
      assert.equal(calls.filter((c) => c === undefined).length, 2, 'the listing restarted from the first page');
      assert.equal(current.version, OLD);
      assert.deepEqual(current.workloads.map((w) => w.name).sort(), ['a', 'b', 'c'], 'and still found every holder');
    } finally {
      await plane.stop();
    }
  });

  it('maps API errors to rotor errors with status and a hint, never a body', async () => {
    const token = (
      await core.createNamespacedServiceAccountToken({
        namespace: 'staging',
        name: 'default',
        body: { spec: { audiences: ['https://kubernetes.default.svc'] } },
      })
    ).status!.token;
    const restricted = new k8s.KubeConfig();
    restricted.loadFromOptions({
      clusters: [{ name: 'c', server: sandbox.plane.server, caFile: sandbox.plane.caFile }],
      users: [{ name: 'u', token }],
      contexts: [{ name: 'x', cluster: 'c', user: 'u' }],
      currentContext: 'x',
    });
    const weak = new KubernetesCluster(restricted);
    await assert.rejects(weak.findCurrentUse('staging', 'auth-api-secrets'), (err: RotorError) => {
      assert.equal(err.type, 'Forbidden');
      assert.equal(err.status, 403);
      assert.match(err.message, /^list Deployments in staging: HTTP 403 Forbidden: .*cannot list resource "deployments"/);
      assert.match(err.message, /deploy\/rbac\.yaml/);
      return true;
    });
    await assert.rejects(weak.readVersion('staging', OLD), (err: RotorError) => err.type === 'Forbidden' && !err.message.includes('old-token-value'));
  });
});
