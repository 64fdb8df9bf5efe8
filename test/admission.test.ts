// `rotor rbac` on a real apiserver. Its RBAC, applied for the example plans: what the apiserver then
// lets the worker do, namespace by namespace (kubectl auth can-i). Its admission policy
// (`--admission`): the worker's ServiceAccount, granted far more by RBAC than it needs, is refused by
// the apiserver everything the policy forbids, each with the policy's message naming rotor and the
// rule; and everything rotor itself does (create a version, switch workloads, a canary's green copy
// and replicas, a revert, claims, cleanup) passes.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as k8s from '@kubernetes/client-node';
import { admissionManifests } from '../client/admission';
import { rbacManifests } from '../client/rbac';
import { loadPlanFile } from '../client/plan-file';
import { repoRoot } from '../sandbox/tools';
import { KubernetesCluster } from '../activities/kubernetes';
import { LABEL_SECRET, LABEL_VERSION } from '../activities/kubernetes/ownership';
import { jsonPatch } from '../activities/kubernetes/kinds';
import { workerKubeconfig, type Sandbox } from '../sandbox';
import { ENV, ENV_FROM, KubeWorld, VOLUME, startWorldSandbox } from './helpers/worlds';
import type { WorkloadUse } from '../contract/activities';

const BASE = 'auth-api-secrets';
const OLD = `${BASE}-20250101000000`;
const NEW = `${BASE}-20261207000000`;
const NS = 'confined';

let sandbox: Sandbox | undefined;
let admin: k8s.KubeConfig;
let world: KubeWorld;
let worker: k8s.KubeConfig;
let core: k8s.CoreV1Api;
let apps: k8s.AppsV1Api;
let leases: k8s.CoordinationV1Api;
let cluster: KubernetesCluster;

/** RBAC broader than rotor needs: every write on what the policy covers, everywhere. */
const BROAD = {
  apiVersion: 'rbac.authorization.k8s.io/v1',
  kind: 'ClusterRole',
  metadata: { name: 'rotor-worker-broad' },
  rules: [
    { apiGroups: [''], resources: ['secrets'], verbs: ['get', 'list', 'create', 'update', 'patch', 'delete'] },
    { apiGroups: ['apps'], resources: ['deployments', 'statefulsets', 'daemonsets'], verbs: ['get', 'list', 'create', 'update', 'patch', 'delete'] },
    { apiGroups: ['batch'], resources: ['cronjobs', 'jobs'], verbs: ['get', 'list', 'create', 'update', 'patch', 'delete'] },
    { apiGroups: ['coordination.k8s.io'], resources: ['leases'], verbs: ['get', 'list', 'create', 'update', 'patch', 'delete'] },
    { apiGroups: ['events.k8s.io'], resources: ['events'], verbs: ['get', 'list', 'create', 'update', 'patch', 'delete'] },
  ],
};

/** An Event as `reportingController` would post it on the Deployment `web`. */
const eventBy = (name: string, reportingController: string): k8s.EventsV1Event => ({
  metadata: { name },
  eventTime: new Date().toISOString().replace(/Z$/, '000Z') as unknown as Date,
  reportingController,
  reportingInstance: 'somewhere',
  action: 'Switch',
  reason: 'SecretVersionSwitched',
  type: 'Normal',
  note: 'made up',
  regarding: { apiVersion: 'apps/v1', kind: 'Deployment', namespace: NS, name: 'web' },
});

function kubectl(args: string[], input?: string): string {
  return execFileSync(sandbox!.plane.binaries.kubectl, ['--kubeconfig', sandbox!.plane.kubeconfig, ...args], { input, encoding: 'utf8' });
}

/** The apiserver's refusal of `call`, or null when it let it through. */
async function refusal(call: Promise<unknown>): Promise<{ code: number; message: string } | null> {
  try {
    await call;
    return null;
  } catch (err) {
    const e = err as { code?: number; body?: string };
    const message = (() => {
      try {
        return (JSON.parse(e.body ?? '{}') as { message?: string }).message ?? '';
      } catch {
        return String(e.body);
      }
    })();
    return { code: e.code ?? -1, message };
  }
}

function assertDenied(got: { code: number; message: string } | null, rule: string): void {
  assert.ok(got, `the apiserver let it through (rule ${rule})`);
  assert.equal(got.code, 403, got.message);
  assert.match(got.message, /ValidatingAdmissionPolicy 'rotor-worker-confinement'/);
  assert.match(got.message, new RegExp(`rotor's worker .*\\(rule ${rule}\\)`));
}

/** Cleanup as the worker runs it, retried while old pods still name the version; then it is gone. */
async function retire(ns: string, name: string): Promise<void> {
  for (let i = 0; ; i++) {
    const done = await cluster.deleteUnreferenced(ns, name);
    if (done.deleted) break;
    if (i > 120) assert.fail(`still held: ${JSON.stringify(done.holders)}`);
    await new Promise((r) => setTimeout(r, 500));
  }
  assert.equal((await refusal(core.readNamespacedSecret({ namespace: ns, name })))?.code, 404);
}

const versionSecret = (name: string, extra: Partial<k8s.V1Secret> = {}): k8s.V1Secret => ({
  metadata: { name, labels: { [LABEL_SECRET]: BASE, [LABEL_VERSION]: name.slice(BASE.length + 1) } },
  immutable: true,
  stringData: { api_token: 'x' },
  ...extra,
});

before(async () => {
  ({ sandbox, kc: admin } = await startWorldSandbox());
  const file = await workerKubeconfig(sandbox.plane, mkdtempSync(join(tmpdir(), 'rotor-admission-')));
  kubectl(['apply', '-f', '-'], JSON.stringify(BROAD));
  kubectl(['create', 'clusterrolebinding', 'rotor-worker-broad', '--clusterrole=rotor-worker-broad', '--serviceaccount=rotor-system:rotor-worker']);
  // The plans' namespaces: where the worker may adopt a Secret made by hand.
  kubectl(
    ['apply', '-f', '-'],
    JSON.stringify({
      apiVersion: 'v1',
      kind: 'List',
      items: admissionManifests({ namespace: 'rotor-system', name: 'rotor-worker' }, [NS, `${NS}-rotor`, `${NS}-adopt`]),
    }),
  );
  worker = new k8s.KubeConfig();
  worker.loadFromFile(file);
  core = worker.makeApiClient(k8s.CoreV1Api);
  apps = worker.makeApiClient(k8s.AppsV1Api);
  leases = worker.makeApiClient(k8s.CoordinationV1Api);
  cluster = new KubernetesCluster(worker);
  world = new KubeWorld(admin);
  await world.namespace(NS);
  // The policy takes effect once the apiserver has loaded it: until a forbidden update is refused by it.
  await admin.makeApiClient(k8s.CoreV1Api).createNamespacedSecret({ namespace: NS, body: { metadata: { name: 'probe' }, stringData: { a: 'b' } } });
  for (let i = 0; ; i++) {
    const got = await refusal(
      core.patchNamespacedSecret({ namespace: NS, name: 'probe', body: [{ op: 'add', path: '/metadata/labels', value: { x: 'y' } }] }, jsonPatch),
    );
    if (got?.message.includes('rule secret-update')) break;
    if (i > 100) throw new Error(`the policy never took effect: ${JSON.stringify(got)}`);
    await new Promise((r) => setTimeout(r, 200));
  }
});

after(async () => {
  await sandbox?.stop();
});

describe('the admission policy confines the worker', () => {
  it("refuses what rotor never does, each with the policy's rule, though RBAC allows it", async () => {
    const adminCore = admin.makeApiClient(k8s.CoreV1Api);
    await adminCore.createNamespacedSecret({ namespace: NS, body: { metadata: { name: 'hand-made' }, stringData: { a: 'b' } } });
    await adminCore.createNamespacedSecret({ namespace: 'kube-system', body: { metadata: { name: 'cluster-key' }, stringData: { a: 'b' } } });
    await adminCore.createNamespacedSecret({ namespace: NS, body: versionSecret(OLD) });
    await world.workload('Deployment', NS, 'web', OLD, { replicas: 2 });

    assertDenied(await refusal(core.deleteNamespacedSecret({ namespace: NS, name: 'hand-made' })), 'secret-delete');
    assertDenied(await refusal(core.deleteNamespacedSecret({ namespace: 'kube-system', name: 'cluster-key' })), 'secret-delete');
    assertDenied(await refusal(core.createNamespacedSecret({ namespace: NS, body: versionSecret(NEW, { immutable: false }) })), 'secret-create');
    assertDenied(await refusal(core.createNamespacedSecret({ namespace: NS, body: versionSecret(`${BASE}-latest`) })), 'secret-create');
    assertDenied(await refusal(core.createNamespacedSecret({ namespace: NS, body: { metadata: { name: 'loot' }, stringData: { a: 'b' } } })), 'secret-create');
    assertDenied(
      await refusal(
        core.patchNamespacedSecret({ namespace: NS, name: OLD, body: [{ op: 'add', path: '/metadata/annotations', value: { x: 'y' } }] }, jsonPatch),
      ),
      'secret-update',
    );
    const patch = (ops: object[]) => refusal(apps.patchNamespacedDeployment({ namespace: NS, name: 'web', body: ops }, jsonPatch));
    assertDenied(await patch([{ op: 'replace', path: '/spec/template/spec/containers/0/image', value: 'registry.example/miner:1' }]), 'workload-template');
    assertDenied(await patch([{ op: 'add', path: '/spec/template/spec/containers/0/command', value: ['sh', '-c', 'cat /etc/*'] }]), 'workload-template');
    assertDenied(await patch([{ op: 'add', path: '/spec/template/spec/containers/0/env/-', value: { name: 'DEBUG', value: '1' } }]), 'workload-template');
    assertDenied(await patch([{ op: 'add', path: '/spec/template/spec/containers/0/resources', value: { limits: { cpu: '64' } } }]), 'workload-template');
    assertDenied(await patch([{ op: 'replace', path: '/spec/replicas', value: 0 }]), 'workload-replicas');
    assertDenied(await patch([{ op: 'add', path: '/metadata/labels', value: { owner: 'rotor' } }]), 'workload-metadata');
    assertDenied(await patch([{ op: 'add', path: '/metadata/annotations', value: { 'example.com/x': 'y' } }]), 'workload-metadata');
    const copy = (await apps.readNamespacedDeployment({ namespace: NS, name: 'web' })) as k8s.V1Deployment;
    const other = { metadata: { name: 'web-2', labels: copy.metadata?.labels }, spec: { ...copy.spec!, selector: copy.spec!.selector } } as k8s.V1Deployment;
    assertDenied(await refusal(apps.createNamespacedDeployment({ namespace: NS, body: other })), 'workload-create');
    assertDenied(await refusal(apps.deleteNamespacedDeployment({ namespace: NS, name: 'web' })), 'workload-delete');
    assertDenied(
      await refusal(leases.createNamespacedLease({ namespace: NS, body: { metadata: { name: 'kube-scheduler' }, spec: { holderIdentity: 'me' } } })),
      'lease-name',
    );
    // Jobs: only rotor's pre-flight Jobs, their pods without a ServiceAccount token.
    const batch = worker.makeApiClient(k8s.BatchV1Api);
    const job = (name: string, automount: boolean): k8s.V1Job => ({
      metadata: { name, labels: { 'app.kubernetes.io/component': 'preflight' } },
      spec: {
        template: { spec: { restartPolicy: 'Never', automountServiceAccountToken: automount, containers: [{ name: 'c', image: 'registry.example/miner:1' }] } },
      },
    });
    assertDenied(await refusal(batch.createNamespacedJob({ namespace: NS, body: job('miner', false) })), 'preflight-job');
    assertDenied(await refusal(batch.createNamespacedJob({ namespace: NS, body: job('rotor-preflight-0123456789ab', true) })), 'preflight-job');
    assert.equal(
      await refusal(batch.createNamespacedJob({ namespace: NS, body: job('rotor-preflight-0123456789ab', false) })),
      null,
      "rotor's own is let through",
    );
    await admin.makeApiClient(k8s.BatchV1Api).createNamespacedJob({ namespace: NS, body: job('nightly', false) });
    assertDenied(await refusal(batch.deleteNamespacedJob({ namespace: NS, name: 'nightly' })), 'preflight-job');
    assertDenied(
      await refusal(
        batch.patchNamespacedJob({ namespace: NS, name: 'rotor-preflight-0123456789ab', body: [{ op: 'add', path: '/spec/suspend', value: true }] }, jsonPatch),
      ),
      'preflight-job',
    );
    assert.equal(await refusal(batch.deleteNamespacedJob({ namespace: NS, name: 'rotor-preflight-0123456789ab', propagationPolicy: 'Background' })), null);
    // Events: only created, and only as rotor's own.
    const events = worker.makeApiClient(k8s.EventsV1Api);
    assertDenied(await refusal(events.createNamespacedEvent({ namespace: NS, body: eventBy('web.forged', 'deployment-controller') })), 'event-create');
    assert.equal(await refusal(events.createNamespacedEvent({ namespace: NS, body: eventBy('web.rotors', 'rotor.dev/worker') })), null, "rotor's own");
    assertDenied(await refusal(events.deleteNamespacedEvent({ namespace: NS, name: 'web.rotors' })), 'event-create');
    assertDenied(
      await refusal(
        events.patchNamespacedEvent({ namespace: NS, name: 'web.rotors', body: [{ op: 'add', path: '/metadata/labels', value: { x: 'y' } }] }, jsonPatch),
      ),
      'event-create',
    );
  });

  it('lets rotor do all it does: a version, a switch, a canary and its revert, claims and cleanup', async () => {
    const ns = `${NS}-rotor`;
    await world.namespace(ns);
    await admin.makeApiClient(k8s.CoreV1Api).createNamespacedSecret({ namespace: ns, body: versionSecret(OLD) });
    await world.workload('Deployment', ns, 'api', OLD, { replicas: 4 });
    await world.workload('StatefulSet', ns, 'ledger', OLD, { replicas: 1, fields: [ENV] });
    await world.workload('CronJob', ns, 'report', OLD, { fields: [ENV_FROM] });
    // A DaemonSet: its registry bumps an annotation of its own on rotor's switch, before admission.
    await world.workload('DaemonSet', ns, 'agent', OLD, { fields: [VOLUME] });
    const claim = await cluster.claimRotation(ns, BASE, 'temporal://a/default/rotate-x');
    assert.equal(claim.holder, 'temporal://a/default/rotate-x');
    assert.equal(await cluster.createVersion({ namespace: ns, name: NEW, base: BASE, rotationId: 'rotate-x/run', data: { api_token: 'new' } }), 'created');
    const { workloads } = await cluster.findCurrentUse(ns, BASE);
    const byKind = (kinds: string[]): WorkloadUse[] => workloads.filter((w) => kinds.includes(w.kind));
    // Rolling: the StatefulSet, the CronJob and the DaemonSet switched in place.
    const rolling = { stage: 's', namespace: ns, workloads: byKind(['StatefulSet', 'CronJob', 'DaemonSet']), from: OLD, to: NEW, strategy: 'rolling' as const };
    const rolled = await cluster.switchWorkloads(rolling);
    assert.equal(rolled.length, 3);
    // Canary: the green copy created and scaled, blue scaled down, then reverted and the copy deleted.
    const canary = {
      stage: 's',
      namespace: ns,
      workloads: byKind(['Deployment']),
      from: OLD,
      to: NEW,
      strategy: 'canary' as const,
      rotationId: 'rotate-x/run',
    };
    const step = await cluster.switchWorkloads({ ...canary, weightPercent: 25 });
    assert.equal(step[0].canary?.greenReplicas, 1);
    const half = await cluster.switchWorkloads({ ...canary, weightPercent: 50, previousWeightPercent: 25 });
    assert.equal(half[0].canary?.greenReplicas, 2);
    const records = [...rolled, ...half];
    const reverted = await cluster.revertWorkloads({ stage: 's', namespace: ns, workloads, from: NEW, to: OLD, records, markReverted: true });
    assert.equal(reverted.length, 4);
    assert.deepEqual(
      (await apps.listNamespacedDeployment({ namespace: ns })).items.map((d) => d.metadata!.name),
      ['api'],
      'the green copy is gone',
    );
    // Then all the way: 100% ends the canary and gives blue its replicas back; the copy is removed.
    await cluster.switchWorkloads({ ...canary, weightPercent: 50 });
    const full = await cluster.switchWorkloads({ ...canary, weightPercent: 100, previousWeightPercent: 50 });
    await cluster.completeCanary(ns, full, NEW);
    assert.equal((await apps.readNamespacedDeployment({ namespace: ns, name: 'api' })).spec?.replicas, 4);
    await cluster.switchWorkloads(rolling);
    // Cleanup: the old version, labelled as rotor's, deleted once nothing names it; the claim released.
    // Old pods hold it until the rollouts replace them.
    await retire(ns, OLD);
    // Its Events, posted as the activities post them; a retry's second post is AlreadyExists.
    const switched = { namespace: ns, regarding: { apiVersion: 'apps/v1', kind: 'Deployment', name: 'api' }, reportingInstance: 'worker-0' };
    const event = {
      ...switched,
      name: 'api.0123456789abcdef0123',
      reason: 'SecretVersionSwitched' as const,
      action: 'Switch',
      type: 'Normal' as const,
      note: 'x',
    };
    assert.equal(await cluster.postEvent(event), 'created');
    assert.equal(await cluster.postEvent(event), 'exists');
    await cluster.releaseRotation(ns, BASE, 'temporal://a/default/rotate-x');
    assert.equal((await refusal(leases.readNamespacedLease({ namespace: ns, name: `rotor-${BASE}` })))?.code, 404);
  });
});

describe('adoption of a version made by hand', () => {
  it("retires a hand-made previous version under the policy: labelled as rotor's, then deleted", async () => {
    const ns = `${NS}-adopt`;
    await world.namespace(ns);
    // The Secret as a team made it before rotor: the base name, no labels.
    await admin
      .makeApiClient(k8s.CoreV1Api)
      .createNamespacedSecret({ namespace: ns, body: { metadata: { name: BASE }, stringData: { api_token: 'by-hand' } } });
    await world.workload('Deployment', ns, 'api', BASE, { replicas: 1, fields: [ENV_FROM] });
    assert.equal(await cluster.createVersion({ namespace: ns, name: NEW, base: BASE, rotationId: 'rotate-y/run', data: { api_token: 'new' } }), 'created');
    const { version, workloads } = await cluster.findCurrentUse(ns, BASE);
    assert.equal(version, BASE);
    await cluster.switchWorkloads({ stage: 's', namespace: ns, workloads, from: BASE, to: NEW, strategy: 'rolling' });
    await retire(ns, BASE);
  });

  it("refuses any other update: a label naming another base, another change beside it, or outside the plans' namespaces", async () => {
    const adminCore = admin.makeApiClient(k8s.CoreV1Api);
    await adminCore.createNamespacedSecret({ namespace: NS, body: { metadata: { name: 'db-password' }, stringData: { a: 'b' } } });
    await adminCore.createNamespacedSecret({ namespace: 'kube-system', body: { metadata: { name: 'signing-key' }, stringData: { a: 'b' } } });
    const label = (namespace: string, name: string, base: string, more: object[] = []) =>
      refusal(
        core.patchNamespacedSecret({ namespace, name, body: [{ op: 'add', path: '/metadata/labels', value: { [LABEL_SECRET]: base } }, ...more] }, jsonPatch),
      );
    assertDenied(await label(NS, 'db-password', 'auth-api-secrets'), 'secret-update');
    assertDenied(await label(NS, 'db-password', 'db-password', [{ op: 'add', path: '/metadata/annotations', value: { x: 'y' } }]), 'secret-update');
    assertDenied(await label(NS, 'db-password', 'db-password', [{ op: 'replace', path: '/data/a', value: 'Yw==' }]), 'secret-update');
    assertDenied(await label('kube-system', 'signing-key', 'signing-key'), 'secret-update');
    assertDenied(await refusal(core.deleteNamespacedSecret({ namespace: 'kube-system', name: 'signing-key' })), 'secret-delete');
  });
});

describe('rotor rbac on the apiserver', () => {
  it('grants the example plans exactly their namespaces, a canary where one runs, and never a Secret list', async () => {
    const sa = 'rotor-system:rotor-planned';
    kubectl(['create', 'serviceaccount', 'rotor-planned', '-n', 'rotor-system']);
    for (const ns of ['staging', 'production']) kubectl(['apply', '-f', '-'], JSON.stringify({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } }));
    const file = join(repoRoot, 'examples', 'plan.yaml');
    kubectl(
      ['apply', '-f', '-'],
      JSON.stringify({
        apiVersion: 'v1',
        kind: 'List',
        items: rbacManifests([loadPlanFile(file).plan], { serviceAccount: { namespace: 'rotor-system', name: 'rotor-planned' } }),
      }),
    );
    /** What `kubectl auth can-i` answers (it exits 1 for no). */
    const can = (verb: string, resource: string, ns: string | null) => {
      const where = ns ? ['-n', ns] : ['--all-namespaces'];
      const args = ['--kubeconfig', sandbox!.plane.kubeconfig, 'auth', 'can-i', verb, resource, ...where, `--as=system:serviceaccount:${sa}`];
      const answer = spawnSync(sandbox!.plane.binaries.kubectl, args, { encoding: 'utf8' }).stdout.trim();
      assert.ok(answer === 'yes' || answer === 'no', `kubectl auth can-i answered ${answer}`);
      return answer === 'yes';
    };
    const canNot = (verb: string, resource: string, ns: string | null) => !can(verb, resource, ns);
    for (const ns of ['staging', 'production']) {
      assert.ok(
        can('create', 'secrets', ns) && can('delete', 'secrets', ns) && can('patch', 'deployments.apps', ns) && can('create', 'leases.coordination.k8s.io', ns),
        ns,
      );
      assert.ok(canNot('list', 'secrets', ns) && canNot('update', 'secrets', ns), `no list or update of Secrets in ${ns}`);
      assert.ok(can('create', 'events.events.k8s.io', ns), `Events on what rotor changes in ${ns}`);
      assert.ok(
        ['get', 'list', 'patch', 'update', 'delete'].every((verb) => canNot(verb, 'events.events.k8s.io', ns)),
        `Events only created in ${ns}`,
      );
    }
    assert.ok(can('create', 'deployments.apps', 'production'), "production's canary makes a green copy");
    assert.ok(canNot('create', 'deployments.apps', 'staging'), 'staging rolls: no Deployment create');
    for (const ns of ['default', 'kube-system']) {
      assert.ok(
        canNot('get', 'secrets', ns) &&
          canNot('create', 'secrets', ns) &&
          canNot('patch', 'deployments.apps', ns) &&
          canNot('create', 'events.events.k8s.io', ns),
        `nothing changes in ${ns}`,
      );
    }
    assert.ok(can('list', 'deployments.apps', null) && can('list', 'serviceaccounts', null), 'the reference scan lists everywhere');
    assert.ok(canNot('list', 'secrets', null), 'never Secrets');
    assert.ok(canNot('get', 'externalsecrets.external-secrets.io', 'production'), 'no External Secrets rule without that store');
  });
});
