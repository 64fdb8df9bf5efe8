// One contract, two adapters: the memory cluster (the workflow tests' world) and the Kubernetes adapter
// on a real apiserver must agree on every rule that keeps a rotation safe. Each case names the defect
// it pins (issue 10's numbering where it has one).
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import * as k8s from '@kubernetes/client-node';
import { createActivities } from '../activities';
import { RotorError } from '../activities/errors';
import { greenName, type KubernetesCluster } from '../activities/kubernetes';
import { KubernetesSecretStore } from '../activities/store-kubernetes';
import type { SwitchInput, SwitchRecord, WorkloadUse } from '../contract/activities';
import { mkdtempSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { CLUSTER_SCOPED } from '../activities/kubernetes/object-refs';
import { workerKubeconfig, type Sandbox } from '../sandbox';
import {
  ENV,
  ENV_FROM,
  KubeWorld,
  MemoryWorld,
  VOLUME,
  installedCrds,
  startWorldSandbox,
  type CrdDef,
  type Kind,
  type World,
  type WorkloadOptions,
} from './helpers/worlds';
import { selfSigned } from './helpers/secret-types';
import { CHECK_IMAGE } from '../activities/memory/programs';
import { preflightJobManifest } from '../activities/kubernetes/jobs';

const BASE = 'auth-api-secrets';
const OLD = `${BASE}-20250101000000`;
const NEW = `${BASE}-20251130100000`;
const DOCKER = 'kubernetes.io/dockerconfigjson';
const TLS = 'kubernetes.io/tls';

let sandbox: Sandbox | undefined;
let kc: k8s.KubeConfig;
let worker: string;
let seq = 0;

before(async () => {
  ({ sandbox, kc } = await startWorldSandbox());
  // The worker as rotor rbac --scope cluster --admission grants it (scenarios make their own namespaces).
  worker = await workerKubeconfig(sandbox.plane, mkdtempSync(join(tmpdir(), 'rotor-contract-')), [], 'cluster');
});

after(async () => {
  await sandbox?.stop();
});

const worlds: [string, () => World][] = [
  ['memory', () => new MemoryWorld()],
  ['kubernetes', () => new KubeWorld(kc, { workerKubeconfig: worker })],
];

// Custom resources as operators define them: a workflow engine's, an autoscaler's authentication, a
// Gateway, an External Secrets-like object whose secretStoreRef names a store, a cluster-scoped one,
// and one in a group rotor rbac's scan ClusterRole does not let the worker list.
const WORKFLOW: CrdDef = { group: 'argo.example.com', kind: 'Workflow', plural: 'workflows', namespaced: true };
const TRIGGER_AUTH: CrdDef = { group: 'keda.example.com', kind: 'TriggerAuthentication', plural: 'triggerauthentications', namespaced: true };
const GATEWAY: CrdDef = { group: 'gateway.example.com', kind: 'Gateway', plural: 'gateways', namespaced: true };
const STORE_BACKED: CrdDef = { group: 'eso.example.com', kind: 'ExternalSecret', plural: 'externalsecrets', namespaced: true };
const CLUSTER_WIDGET: CrdDef = { group: 'example.com', kind: 'ClusterWidget', plural: 'clusterwidgets', namespaced: false };
const UNLISTED: CrdDef = { group: 'unlisted.example.com', kind: 'Widget', plural: 'widgets', namespaced: true };
/** A version of another Secret, one per holder in a test. */
const version = (i: number) => `ledger-key-2025020100000${i}`;

/** A fresh namespace with both versions of the Secret. */
async function setup(make: () => World): Promise<{ w: World; ns: string }> {
  const w = make();
  const ns = `contract-${++seq}`;
  await w.namespace(ns);
  await w.secret(ns, OLD);
  await w.secret(ns, NEW);
  return { w, ns };
}

async function users(w: World, ns: string, secret = BASE): Promise<WorkloadUse[]> {
  return (await w.cluster.findCurrentUse(ns, secret)).workloads;
}

const ROTOR_REASONS = new Set(['SecretVersionSwitched', 'CanaryStep', 'RolledBack', 'SecretVersionDeleted', 'CleanupWaiting', 'CredentialRevoked']);

/** The Events of rotor's reasons in `ns` (the apiserver's controllers post their own beside them). */
async function rotorEvents(w: World, ns: string) {
  return (await w.events(ns)).filter((e) => ROTOR_REASONS.has(e.reason));
}

function switchInput(ns: string, workloads: WorkloadUse[], over: Partial<SwitchInput> = {}): SwitchInput {
  return { stage: 's', namespace: ns, workloads, from: OLD, to: NEW, strategy: 'rolling', ...over };
}

async function canary(
  w: World,
  ns: string,
  use: WorkloadUse,
  weightPercent: number,
  previousWeightPercent: number,
  to = NEW,
  from = OLD,
): Promise<SwitchRecord[]> {
  return w.cluster.switchWorkloads({ stage: 's', namespace: ns, workloads: [use], from, to, strategy: 'canary', weightPercent, previousWeightPercent });
}

for (const [label, make] of worlds) {
  describe(`ClusterPort contract: ${label}`, () => {
    it('runs a pre-flight Job whose pod reads the version (envFrom or a volume), decided by the value, then deletes it', async () => {
      const { w, ns } = await setup(make);
      const good = `${BASE}-20261207100000`;
      const bad = `${BASE}-20261207110000`;
      await w.secret(ns, good, { API_TOKEN: 'good-7f3a9c1d' });
      await w.secret(ns, bad, { API_TOKEN: 'bad-7f3a9c1d' });
      const job = (version: string, n: number, secretAs: { envFrom: true } | { volume: string }) => ({
        namespace: ns,
        name: `rotor-preflight-${String(n).padStart(12, '0')}`,
        version,
        rotationId: `default/rotate-${ns}/run-${n}`,
        job: {
          image: `${CHECK_IMAGE}:1`,
          args: ['expect-prefix', ...('volume' in secretAs ? ['--file', '/etc/auth/API_TOKEN'] : ['--env', 'API_TOKEN']), '--prefix', 'good-'],
          timeoutMs: 60_000,
          secretAs,
        },
      });
      const passed = await w.cluster.runPreflightJob(job(good, 1, { envFrom: true }));
      assert.equal(passed.passed, true, passed.message);
      assert.match(passed.message, /^Job rotor-preflight-000000000001 succeeded/);
      const failed = await w.cluster.runPreflightJob(job(bad, 2, { volume: '/etc/auth' }));
      assert.equal(failed.passed, false);
      assert.match(failed.message, /^Job rotor-preflight-000000000002 failed: its container exited 1 \(Error\)$/);
      assert.deepEqual(failed.logs, ['expect-prefix: /etc/auth/API_TOKEN does not start with "good-"'], 'the last lines, as the pod printed them');
      const missing = await w.cluster.runPreflightJob(job(`${BASE}-20261207120000`, 3, { envFrom: true }));
      assert.equal(missing.passed, false);
      assert.match(
        missing.message,
        /^Job rotor-preflight-000000000003 cannot start: CreateContainerConfigError: secret "auth-api-secrets-20261207120000" not found$/,
      );
      const hung = await w.cluster.runPreflightJob({
        ...job(good, 4, { envFrom: true }),
        job: { image: `${CHECK_IMAGE}:1`, args: ['sleep', '--seconds', '60'], timeoutMs: 3000, secretAs: { envFrom: true } },
      });
      assert.equal(hung.passed, false);
      assert.equal(hung.message, 'Job rotor-preflight-000000000004 failed: DeadlineExceeded: Job was active longer than specified deadline');
      if (label === 'kubernetes') {
        const jobs = await kc.makeApiClient(k8s.BatchV1Api).listNamespacedJob({ namespace: ns });
        assert.deepEqual(
          jobs.items.filter((j) => !j.metadata?.deletionTimestamp).map((j) => j.metadata!.name),
          [],
          'every pre-flight Job deleted',
        );
        // A retry that finds an earlier attempt's Job on its way out (held by a finalizer here) waits
        // for another attempt: a retryable error, never a verdict on the version.
        const batch = kc.makeApiClient(k8s.BatchV1Api);
        const leaving = job(good, 5, { envFrom: true });
        const manifest = preflightJobManifest(leaving);
        await batch.createNamespacedJob({ namespace: ns, body: { ...manifest, metadata: { ...manifest.metadata, finalizers: ['rotor.dev/test-hold'] } } });
        await batch.deleteNamespacedJob({ name: leaving.name, namespace: ns, propagationPolicy: 'Background' });
        try {
          await assert.rejects(
            w.cluster.runPreflightJob(leaving),
            (err: RotorError) => err.type === 'Unavailable' && err.retryable && /from an earlier attempt is being deleted/.test(err.message),
          );
        } finally {
          await batch.patchNamespacedJob(
            { name: leaving.name, namespace: ns, body: [{ op: 'remove', path: '/metadata/finalizers' }] },
            k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.JsonPatch),
          );
        }
      }
    });

    it('posts Kubernetes Events on the workloads it switches and reverts, once each however often a step is retried', async () => {
      const { w, ns } = await setup(make);
      await w.workload('Deployment', ns, 'web', OLD);
      await w.workload('StatefulSet', ns, 'ledger', OLD, { replicas: 1, fields: [ENV] });
      await w.bystander(ns, 'bystander', 1);
      const activities = createActivities({ cluster: w.cluster, stores: {}, metrics: {} });
      const uses = await users(w, ns);
      const records = await activities.switchWorkloads(switchInput(ns, uses));
      await activities.switchWorkloads(switchInput(ns, uses)); // a retried attempt
      const reason = 'check error-rate failed: 0.2 > 0.01 (2 measurements in a row)';
      const revert = { stage: 's', namespace: ns, workloads: uses, from: NEW, to: OLD, records, markReverted: true, reason };
      await activities.revertWorkloads(revert);
      await activities.revertWorkloads(revert); // a retried attempt reports what the first reverted
      const events = await rotorEvents(w, ns);
      assert.deepEqual(events.map((e) => `${e.reason} ${e.type} ${e.action} ${e.regarding.kind}/${e.regarding.name}`).sort(), [
        'RolledBack Warning Revert Deployment/web',
        'RolledBack Warning Revert StatefulSet/ledger',
        'SecretVersionSwitched Normal Switch Deployment/web',
        'SecretVersionSwitched Normal Switch StatefulSet/ledger',
      ]);
      const position = (reason: string, name: string) => events.findIndex((e) => e.reason === reason && e.regarding.name === name);
      assert.ok(position('SecretVersionSwitched', 'web') < position('RolledBack', 'web'), 'switched, then rolled back');
      const reader = w.cluster as KubernetesCluster;
      for (const e of events) {
        assert.equal(e.reportingController, 'rotor.dev/worker');
        assert.equal(e.reportingInstance, hostname());
        const kind = e.regarding.kind as 'Deployment' | 'StatefulSet';
        assert.equal(e.regarding.apiVersion, 'apps/v1');
        assert.equal(e.regarding.namespace, ns);
        assert.equal(e.regarding.uid, (await reader.readWorkload(kind, ns, e.regarding.name))?.metadata?.uid, 'the uid kubectl describe finds it by');
        assert.match(e.name, new RegExp(`^${e.regarding.name}\\.[0-9a-f]{20}$`));
      }
      const note = (reason: string, name: string) => events[position(reason, name)].note;
      assert.equal(note('SecretVersionSwitched', 'ledger'), `switched from ${OLD} to ${NEW} in stage s (rolling): ${ENV}`);
      assert.equal(note('RolledBack', 'ledger'), `rolled back from ${NEW} to ${OLD} in stage s (1 reference(s) set back): ${reason}`);
    });

    it('posts CanaryStep Events at each weight, and SecretVersionSwitched when the workload itself moves at 100%', async () => {
      const { w, ns } = await setup(make);
      await w.workload('Deployment', ns, 'web', OLD, { replicas: 4 });
      const activities = createActivities({ cluster: w.cluster, stores: {}, metrics: {} });
      const [use] = await users(w, ns);
      const step = (weightPercent: number, previousWeightPercent: number) =>
        activities.switchWorkloads(switchInput(ns, [use], { strategy: 'canary', weightPercent, previousWeightPercent }));
      await step(25, 0);
      await step(25, 0); // a retried attempt
      await step(100, 25);
      const events = (await rotorEvents(w, ns)).filter((e) => e.regarding.name === 'web');
      assert.deepEqual(events.map((e) => `${e.reason} ${e.type}`).sort(), ['CanaryStep Normal', 'CanaryStep Normal', 'SecretVersionSwitched Normal']);
      const notes = events.filter((e) => e.reason === 'CanaryStep').map((e) => e.note);
      assert.ok(
        notes.some((n) => n.startsWith(`canary at 25% on ${NEW} in stage s: 1 replica(s) on ${NEW}`)),
        notes.join('\n'),
      );
      assert.ok(
        notes.some((n) => n.startsWith(`canary at 100% on ${NEW}`)),
        notes.join('\n'),
      );
    });

    it('posts Events of cleanup: SecretVersionDeleted on the deleted version, CleanupWaiting naming what still holds it, once', async () => {
      const { w, ns } = await setup(make);
      const held = `${BASE}-20250201000000`;
      await w.secret(ns, held);
      await w.workload('Deployment', ns, 'legacy', held, { fields: [ENV] });
      const logged: string[] = [];
      const activities = createActivities({
        cluster: w.cluster,
        stores: { kubernetes: new KubernetesSecretStore() },
        metrics: {},
        log: (message, fields) => logged.push(`${message} ${JSON.stringify(fields)}`),
      });
      const deletion = (version: string) => ({ secret: BASE, version, namespaces: [ns], store: 'kubernetes' as const });
      assert.equal((await activities.deleteVersion(deletion(OLD))).deleted, true);
      const waiting = await activities.deleteVersion(deletion(held));
      assert.equal(waiting.deleted, false);
      await activities.scanReferences({ secretName: held, namespaces: [ns], cleanup: true }); // the next round: the same holder, no second Event
      await activities.scanReferences({ secretName: NEW, namespaces: [ns], cleanup: true }); // nothing holds it: nothing to say
      const events = await rotorEvents(w, ns);
      assert.deepEqual(
        events.map((e) => `${e.reason} ${e.type} ${e.regarding.kind}/${e.regarding.name}`),
        [`SecretVersionDeleted Normal Secret/${OLD}`, `CleanupWaiting Warning Secret/${held}`],
      );
      // The real cluster has the Deployment's ReplicaSet and Pods too: counted, not named.
      assert.match(
        events[1].note,
        new RegExp(
          `^${held} is kept: Deployment/legacy in ${ns} still refers to it \\(${ENV.replace(/[[\].]/g, '\\$&')}\\)(; \\d+ Pod\\(s\\) or ReplicaSet\\(s\\))?; rotor deletes it once nothing refers to it$`,
        ),
      );
      assert.ok(events[1].regarding.uid, 'the Secret still there is regarded by its uid');
      assert.deepEqual(
        logged.filter((l) => l.includes('event not posted')),
        [],
      );
    });

    it('finds the users of the current version by meaning, and refuses what it cannot roll out honestly', async () => {
      const { w, ns } = await setup(make);
      await w.workload('Deployment', ns, 'web', OLD);
      await w.workload('CronJob', ns, 'report', OLD, { fields: [VOLUME] });
      await w.workload('StatefulSet', ns, 'ledger', OLD, { onDelete: true, replicas: 1 });
      const { version, workloads } = await w.cluster.findCurrentUse(ns, BASE);
      assert.equal(version, OLD);
      const byName = Object.fromEntries(workloads.map((u) => [u.name, u]));
      assert.deepEqual(Object.keys(byName).sort(), ['ledger', 'report', 'web']);
      assert.deepEqual([...byName.web.fields].sort(), [ENV, ENV_FROM, VOLUME].sort());
      assert.deepEqual(byName.report.fields, [VOLUME]);
      assert.ok(!byName.web.refusal, 'a plain Deployment is switched');
      assert.match(byName.ledger.refusal ?? '', /OnDelete/, 'OnDelete is refused, not pretended');
      await assert.rejects(w.cluster.switchWorkloads(switchInput(ns, [byName.ledger])), (err: RotorError) => err.type === 'RotorInputError');
      assert.equal((await w.refs('StatefulSet', ns, 'ledger'))[ENV], OLD);
    });

    it('switches exactly the referring fields; a retry after the effect changes nothing more (rolling)', async () => {
      const { w, ns } = await setup(make);
      await w.workload('Deployment', ns, 'web', OLD);
      await w.workload('Deployment', ns, 'other', 'unrelated-secret');
      const uses = await users(w, ns);
      const first = await w.cluster.switchWorkloads(switchInput(ns, uses));
      const again = await w.cluster.switchWorkloads(switchInput(ns, uses));
      assert.deepEqual(
        again.map((r) => [...r.fields].sort()),
        first.map((r) => [...r.fields].sort()),
      );
      assert.deepEqual(await w.refs('Deployment', ns, 'web'), { [ENV]: NEW, [ENV_FROM]: NEW, [VOLUME]: NEW });
      assert.deepEqual(await w.refs('Deployment', ns, 'other'), { [ENV]: 'unrelated-secret', [ENV_FROM]: 'unrelated-secret', [VOLUME]: 'unrelated-secret' });
    });

    it('reverts by meaning: an env var inserted above the switched one moves nothing', async () => {
      const { w, ns } = await setup(make);
      await w.workload('Deployment', ns, 'web', OLD);
      const uses = await users(w, ns);
      const records = await w.cluster.switchWorkloads(switchInput(ns, uses));
      await w.insertEnvAbove('Deployment', ns, 'web', 'INSERTED');
      await w.cluster.revertWorkloads({ stage: 's', namespace: ns, workloads: uses, from: NEW, to: OLD, records });
      assert.deepEqual(await w.refs('Deployment', ns, 'web'), { [ENV]: OLD, [ENV_FROM]: OLD, [VOLUME]: OLD });
    });

    it('reverts only what it switched and keeps what others changed since', async () => {
      const { w, ns } = await setup(make);
      await w.workload('Deployment', ns, 'web', OLD, { fields: [ENV, ENV_FROM] });
      const uses = await users(w, ns);
      const records = await w.cluster.switchWorkloads(switchInput(ns, uses));
      await w.setField('Deployment', ns, 'web', ENV_FROM, 'manual-override'); // someone moved a switched field elsewhere
      await w.setField('Deployment', ns, 'web', VOLUME, NEW); // someone adopted the new version on purpose
      const reverted = await w.cluster.revertWorkloads({ stage: 's', namespace: ns, workloads: uses, from: NEW, to: OLD, records });
      assert.deepEqual(
        reverted.map((r) => r.fields),
        [[ENV]],
      );
      assert.deepEqual(await w.refs('Deployment', ns, 'web'), { [ENV]: OLD, [ENV_FROM]: 'manual-override', [VOLUME]: NEW });
      assert.deepEqual(
        await w.cluster.revertWorkloads({ stage: 's', namespace: ns, workloads: uses, from: NEW, to: OLD, records }),
        [],
        'a second revert has nothing left to do',
      );
    });

    it('reverts a switch that failed half-way although the workflow got no record of it', async () => {
      const { w, ns } = await setup(make);
      await w.workload('Deployment', ns, 'a', OLD);
      await w.workload('Deployment', ns, 'b', OLD);
      const uses = await users(w, ns);
      const ghost = { kind: 'Deployment' as const, namespace: ns, name: 'deleted-meanwhile', fields: [ENV] };
      // `a` switches, then the apiserver refuses the next one: the activity fails and returns nothing.
      await assert.rejects(w.cluster.switchWorkloads(switchInput(ns, [uses.find((u) => u.name === 'a')!, ghost, uses.find((u) => u.name === 'b')!])));
      assert.equal((await w.refs('Deployment', ns, 'a'))[ENV], NEW);
      const reverted = await w.cluster.revertWorkloads({ stage: 's', namespace: ns, workloads: uses, from: NEW, to: OLD, records: [] });
      assert.deepEqual(
        reverted.map((r) => r.name),
        ['a'],
      );
      for (const name of ['a', 'b']) assert.deepEqual(await w.refs('Deployment', ns, name), { [ENV]: OLD, [ENV_FROM]: OLD, [VOLUME]: OLD }, name);
    });

    it('canaries by replica weight, never below the original capacity, and a retried step converges', async () => {
      const { w, ns } = await setup(make);
      await w.workload('Deployment', ns, 'web', OLD, { replicas: 4 });
      const [use] = await users(w, ns);
      const green = greenName('web', NEW);
      const sizes: [number | null, number | null][] = [];
      let previous = 0;
      for (const weight of [25, 50, 100]) {
        await canary(w, ns, use, weight, previous);
        await canary(w, ns, use, weight, previous); // the same step again, as a retry after its effect
        const blue = await w.replicas(ns, 'web');
        const g = await w.replicas(ns, green);
        sizes.push([blue, g]);
        assert.ok((blue ?? 0) + (g ?? 0) >= 4, `capacity at ${weight}%`);
        previous = weight;
      }
      assert.deepEqual(sizes, [
        [4, 1],
        [3, 2],
        [4, 2],
      ]);
      assert.deepEqual(await w.refs('Deployment', ns, green), { [ENV]: NEW, [ENV_FROM]: NEW, [VOLUME]: NEW });
      assert.deepEqual(await w.refs('Deployment', ns, 'web'), { [ENV]: NEW, [ENV_FROM]: NEW, [VOLUME]: NEW });
      await w.cluster.completeCanary(
        ns,
        [
          {
            namespace: ns,
            kind: 'Deployment',
            name: 'web',
            from: OLD,
            to: NEW,
            fields: [],
            canary: { green, weightPercent: 100, blueReplicas: 4, greenReplicas: 2, originalReplicas: 4 },
          },
        ],
        NEW,
      );
      assert.deepEqual(await w.deployments(ns), ['web']);
    });

    it('a rolling rollback leaves an unrelated `<name>-canary` and the replica count alone', async () => {
      const { w, ns } = await setup(make);
      await w.workload('Deployment', ns, 'web', OLD, { replicas: 3 });
      await w.bystander(ns, 'web-canary', 2);
      const uses = await users(w, ns);
      assert.deepEqual(
        uses.map((u) => u.name),
        ['web'],
      );
      const records = await w.cluster.switchWorkloads(switchInput(ns, uses));
      await w.cluster.revertWorkloads({ stage: 's', namespace: ns, workloads: uses, from: NEW, to: OLD, records });
      assert.equal(await w.replicas(ns, 'web'), 3);
      assert.equal(await w.replicas(ns, 'web-canary'), 2);
      assert.deepEqual(await w.deployments(ns), ['web', 'web-canary']);
    });

    it('refuses to scale or delete a stranger under its green name', async () => {
      const { w, ns } = await setup(make);
      await w.workload('Deployment', ns, 'web', OLD, { replicas: 2 });
      await w.bystander(ns, greenName('web', NEW), 5);
      const [use] = await users(w, ns);
      await assert.rejects(
        canary(w, ns, use, 50, 0),
        (err: RotorError) => err.type === 'OwnershipConflict' && /will not scale, switch or delete it/.test(err.message),
      );
      await assert.rejects(
        w.cluster.revertWorkloads({ stage: 's', namespace: ns, workloads: [use], from: NEW, to: OLD, records: [] }),
        (err: RotorError) => err.type === 'OwnershipConflict',
      );
      assert.equal(await w.replicas(ns, greenName('web', NEW)), 5);
      assert.equal(await w.replicas(ns, 'web'), 2);
    });

    it('hands replicas back as an HPA or operator left them', async () => {
      const { w, ns } = await setup(make);
      await w.workload('Deployment', ns, 'web', OLD, { replicas: 4 });
      await w.workload('Deployment', ns, 'api', OLD, { replicas: 4 });
      const uses = await users(w, ns);
      for (const use of uses) {
        await canary(w, ns, use, 25, 0);
        await canary(w, ns, use, 50, 25);
      }
      assert.equal(await w.replicas(ns, 'web'), 3);
      await w.scale(ns, 'web', 8); // an HPA scales blue during the canary
      await w.cluster.revertWorkloads({ stage: 's', namespace: ns, workloads: uses, from: NEW, to: OLD, records: [] });
      assert.equal(await w.replicas(ns, 'web'), 8, 'what others set is kept');
      assert.equal(await w.replicas(ns, 'api'), 4, 'what rotor set goes back');
      assert.deepEqual(await w.deployments(ns), ['api', 'web'], 'both green copies removed');
      assert.deepEqual(await w.refs('Deployment', ns, 'web'), { [ENV]: OLD, [ENV_FROM]: OLD, [VOLUME]: OLD });
    });

    it("gives each rotation its own green copy; one rotation never adopts, scales or deletes the other's", async () => {
      const { w, ns } = await setup(make);
      const OTHER_OLD = 'billing-key-20250101000000';
      const OTHER_NEW = 'billing-key-20251130100000';
      await w.secret(ns, OTHER_OLD);
      await w.secret(ns, OTHER_NEW);
      await w.workload('Deployment', ns, 'web', OLD, { replicas: 4, fields: [ENV, ENV_FROM] });
      await w.setField('Deployment', ns, 'web', VOLUME, OTHER_OLD);
      const [a] = await users(w, ns);
      await canary(w, ns, a, 25, 0);
      const [b] = await users(w, ns, 'billing-key');
      assert.deepEqual(b.fields, [VOLUME]);
      assert.deepEqual(
        (await users(w, ns, 'billing-key')).map((u) => u.name),
        ['web'],
        "the other rotation's green copy is never a workload to switch",
      );
      await canary(w, ns, b, 25, 0, OTHER_NEW, OTHER_OLD);
      const greenA = greenName('web', NEW);
      const greenB = greenName('web', OTHER_NEW);
      assert.notEqual(greenA, greenB);
      assert.deepEqual((await w.refs('Deployment', ns, greenB))[VOLUME], OTHER_NEW, 'the second canary runs its own new value');
      await canary(w, ns, a, 50, 25);
      await canary(w, ns, b, 50, 25, OTHER_NEW, OTHER_OLD);
      assert.equal(await w.replicas(ns, 'web'), 3, 'blue gave up one replica, once: replicas have one owner at a time');
      assert.deepEqual([await w.replicas(ns, greenA), await w.replicas(ns, greenB)], [2, 2]);
      await w.cluster.revertWorkloads({ stage: 's', namespace: ns, workloads: [b], from: OTHER_NEW, to: OTHER_OLD, records: [] });
      assert.deepEqual(await w.deployments(ns), ['web', greenA].sort(), "the first rotation's canary survives the second one's rollback");
      assert.equal(await w.replicas(ns, greenA), 2);
      assert.equal(await w.replicas(ns, 'web'), 3, "the first rotation's replicas stay as it set them");
      await w.cluster.revertWorkloads({ stage: 's', namespace: ns, workloads: [a], from: NEW, to: OLD, records: [] });
      assert.equal(await w.replicas(ns, 'web'), 4);
      assert.deepEqual(await w.deployments(ns), ['web']);
      // The first rotation's green copy still holds the other Secret's previous version: never deleted under it.
      assert.equal((await w.cluster.deleteUnreferenced(ns, OTHER_OLD)).deleted, false);
    });

    it('never deletes a Secret a Job that has no pod yet still needs', async () => {
      const { w, ns } = await setup(make);
      await w.workload('CronJob', ns, 'nightly', OLD, { fields: [ENV] });
      await w.setField('CronJob', ns, 'nightly', ENV, 'cron-own');
      await w.job(ns, 'nightly-28000000', 'waiting-secret', { suspend: true, ownerCronJob: 'nightly' });
      await w.job(ns, 'suspended', 'suspended-secret', { suspend: true });
      await w.secret(ns, 'waiting-secret');
      await w.secret(ns, 'suspended-secret');
      for (const name of ['waiting-secret', 'suspended-secret']) {
        const outcome = await w.cluster.deleteUnreferenced(ns, name);
        assert.equal(outcome.deleted, false, name);
        assert.equal(outcome.holders[0]?.kind, 'Job');
        assert.ok(await w.secretExists(ns, name));
      }
      assert.equal((await w.cluster.deleteUnreferenced(ns, OLD)).deleted, true, 'a Secret nothing names goes');
      assert.equal(await w.secretExists(ns, OLD), false);
    });

    it('finds a version wherever the cluster names it (ServiceAccounts, Ingress TLS, custom resources, a Gateway elsewhere), never a near-miss, and never deletes it under them', async () => {
      const { w, ns } = await setup(make);
      const infra = `${ns}-infra`;
      await w.namespace(infra);
      for (const crd of [WORKFLOW, TRIGGER_AUTH, GATEWAY, STORE_BACKED]) await w.crd(crd);
      for (let i = 1; i <= 7; i++) await w.secret(ns, version(i));
      const near = version(7);
      await w.object({
        apiVersion: 'v1',
        kind: 'ServiceAccount',
        metadata: { name: 'builder', namespace: ns, annotations: { 'example.com/pull-secret': near } },
        imagePullSecrets: [{ name: version(1) }],
      });
      await w.object({ apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'legacy', namespace: ns }, secrets: [{ name: version(2) }] });
      await w.object({
        apiVersion: 'networking.k8s.io/v1',
        kind: 'Ingress',
        metadata: { name: 'web', namespace: ns },
        spec: {
          tls: [
            { hosts: ['old.example.com'], secretName: `${near}-old` },
            { hosts: ['web.example.com'], secretName: version(3) },
          ],
          rules: [
            { host: 'web.example.com', http: { paths: [{ path: '/', pathType: 'Prefix', backend: { service: { name: 'web', port: { number: 80 } } } }] } },
          ],
        },
      });
      await w.object({
        apiVersion: 'argo.example.com/v1',
        kind: 'Workflow',
        metadata: { name: 'nightly', namespace: ns },
        spec: {
          templates: [
            { name: 'main', container: { image: 'x', env: [{ name: 'TOKEN', valueFrom: { secretKeyRef: { name: version(4), key: 'api_token' } } }] } },
          ],
        },
      });
      await w.object({
        apiVersion: 'keda.example.com/v1',
        kind: 'TriggerAuthentication',
        metadata: { name: 'queue-auth', namespace: ns },
        spec: { secretTargetRef: [{ parameter: 'password', name: version(5), key: 'api_token' }] },
      });
      await w.object({
        apiVersion: 'gateway.example.com/v1',
        kind: 'Gateway',
        metadata: { name: 'edge', namespace: infra },
        spec: { listeners: [{ name: 'https', tls: { certificateRefs: [{ kind: 'Secret', group: '', name: version(6), namespace: ns }] } }] },
      });
      await w.object({
        apiVersion: 'eso.example.com/v1',
        kind: 'ExternalSecret',
        metadata: { name: 'from-store', namespace: ns },
        spec: { secretStoreRef: { name: near, kind: 'SecretStore' }, target: { name: 'elsewhere' } },
      });
      const expected: [string, string, string, string, string[]][] = [
        ['ServiceAccount', 'v1', 'builder', ns, ['imagePullSecrets[0].name']],
        ['ServiceAccount', 'v1', 'legacy', ns, ['secrets[0].name']],
        ['Ingress', 'networking.k8s.io/v1', 'web', ns, ['spec.tls[1].secretName']],
        ['Workflow', 'argo.example.com/v1', 'nightly', ns, ['spec.templates[0].container.env[0].valueFrom.secretKeyRef.name']],
        ['TriggerAuthentication', 'keda.example.com/v1', 'queue-auth', ns, ['spec.secretTargetRef[0].name']],
        ['Gateway', 'gateway.example.com/v1', 'edge', infra, ['spec.listeners[0].tls.certificateRefs[0].name']],
      ];
      for (const [i, holder] of expected.entries()) {
        const found = await w.cluster.findReferences([ns], version(i + 1));
        assert.deepEqual(
          found.map((h) => [h.kind, h.apiVersion, h.name, h.namespace, h.fields]),
          [holder],
          version(i + 1),
        );
        const outcome = await w.cluster.deleteUnreferenced(ns, version(i + 1));
        assert.equal(outcome.deleted, false, `${holder[0]}/${holder[2]} keeps ${version(i + 1)}`);
        assert.ok(await w.secretExists(ns, version(i + 1)));
      }
      assert.deepEqual(await w.cluster.findReferences([ns], near), [], 'a longer name, a secretStoreRef and an annotation name no Secret');
      assert.equal((await w.cluster.deleteUnreferenced(ns, near)).deleted, true);
      // The Gateway names the Secret in ns; one of the same name in its own namespace is free to go.
      await w.secret(infra, version(6));
      assert.deepEqual(await w.cluster.findReferences([infra], version(6)), []);
      // Once the holder lets go, the version goes.
      await w.deleteObject({ apiVersion: 'keda.example.com/v1', kind: 'TriggerAuthentication', metadata: { name: 'queue-auth', namespace: ns } });
      assert.equal((await w.cluster.deleteUnreferenced(ns, version(5))).deleted, true);
      assert.equal(await w.secretExists(ns, version(5)), false);
    });

    it("counts a cluster-scoped object's reference without a namespace in every namespace, one with a namespace only there", async () => {
      const { w, ns } = await setup(make);
      await w.crd(CLUSTER_WIDGET);
      await w.secret(ns, version(1));
      await w.secret(ns, version(2));
      await w.object({ apiVersion: 'example.com/v1', kind: 'ClusterWidget', metadata: { name: `${ns}-any` }, spec: { secretRef: { name: version(1) } } });
      await w.object({
        apiVersion: 'example.com/v1',
        kind: 'ClusterWidget',
        metadata: { name: `${ns}-pinned` },
        spec: { secretRef: { name: version(2), namespace: `${ns}-elsewhere` } },
      });
      assert.deepEqual(
        (await w.cluster.findReferences([ns], version(1))).map((h) => [h.kind, h.name, h.namespace, h.fields]),
        [['ClusterWidget', `${ns}-any`, CLUSTER_SCOPED, ['spec.secretRef.name']]],
      );
      assert.equal((await w.cluster.deleteUnreferenced(ns, version(1))).deleted, false);
      assert.equal((await w.cluster.deleteUnreferenced(ns, version(2))).deleted, true);
      await w.deleteObject({ apiVersion: 'example.com/v1', kind: 'ClusterWidget', metadata: { name: `${ns}-any` } });
      await w.deleteObject({ apiVersion: 'example.com/v1', kind: 'ClusterWidget', metadata: { name: `${ns}-pinned` } });
    });

    it('a resource the worker may not list holds every version, named with the fix, until the plan ignores it', async () => {
      const { w, ns } = await setup(make);
      await w.crd(UNLISTED);
      await w.object({ apiVersion: 'unlisted.example.com/v1', kind: 'Widget', metadata: { name: 'opaque', namespace: ns }, spec: { size: 1 } });
      await w.secret(ns, version(1));
      const weak = await w.withoutListing('widgets.unlisted.example.com');
      const holders = await weak.findReferences([ns], version(1));
      const unknown = holders.find((h) => h.kind === 'widgets.unlisted.example.com');
      assert.ok(unknown, JSON.stringify(holders));
      assert.equal(unknown.name, '*');
      assert.match(unknown.unreadable ?? '', /widgets\.unlisted\.example\.com could not be read.*forbidden.*scan\.ignore/i);
      // Nothing else is unreadable: rotor rbac's scan ClusterRole lets the worker list every resource Kubernetes serves.
      assert.deepEqual(
        holders.filter((h) => !installedCrds.has(h.kind)),
        [],
      );
      const refused = await weak.deleteUnreferenced(ns, version(1));
      assert.equal(refused.deleted, false);
      assert.ok(refused.holders.some((h) => h.kind === 'widgets.unlisted.example.com'));
      assert.ok(await w.secretExists(ns, version(1)));
      const ignored = await weak.deleteUnreferenced(ns, version(1), { ignore: [...installedCrds] });
      assert.deepEqual(ignored, { deleted: true, holders: [] });
      assert.equal(await w.secretExists(ns, version(1)), false);
    });

    it("keeps a version's type: read without its data, created with it, and the same content of another type is a mismatch", async () => {
      const w = make();
      const ns = `contract-${++seq}`;
      await w.namespace(ns);
      const docker = { '.dockerconfigjson': JSON.stringify({ auths: { 'registry.example.test': { auth: 'cm9ib3Q6cHVsbA==' } } }) };
      await w.secret(ns, OLD, docker, DOCKER);
      await w.secret(ns, 'untyped', { api_token: 'x' });
      assert.equal(await w.cluster.readVersionType(ns, OLD), DOCKER);
      assert.equal(await w.cluster.readVersionType(ns, 'untyped'), 'Opaque', 'no type given is Opaque');
      assert.equal(await w.cluster.readVersionType(ns, 'no-such-secret'), null);

      const spec = { namespace: ns, name: NEW, base: BASE, rotationId: 'rotate-types/run', data: docker, type: DOCKER };
      assert.equal(await w.cluster.createVersion(spec), 'created');
      assert.equal(await w.cluster.readVersionType(ns, NEW), DOCKER);
      assert.deepEqual((await w.cluster.readVersion(ns, NEW))?.data, docker);
      assert.equal(await w.cluster.createVersion(spec), 'exists', 'the same version again');
      for (const type of [undefined, 'Opaque', 'example.com/registry']) {
        await assert.rejects(w.cluster.createVersion({ ...spec, ...(type ? { type } : { type: undefined }) }), (err: RotorError) => {
          assert.equal(err.type, 'VersionContentMismatch');
          assert.ok(err.message.includes(`exists as type ${DOCKER}, not ${type ?? 'Opaque'}`), err.message);
          assert.ok(!err.message.includes('cm9ib3Q6cHVsbA=='), 'never the value');
          return true;
        });
      }
      const tls = selfSigned('contract');
      const tlsSpec = { ...spec, name: `${BASE}-20251130100001`, data: { 'tls.crt': tls.crt, 'tls.key': tls.key }, type: TLS };
      assert.equal(await w.cluster.createVersion(tlsSpec), 'created');
      assert.equal(await w.cluster.readVersionType(ns, tlsSpec.name), TLS);
      const plain = { ...spec, name: `${BASE}-20251130100002`, data: { api_token: 'x' }, type: undefined };
      assert.equal(await w.cluster.createVersion(plain), 'created');
      assert.equal(await w.cluster.readVersionType(ns, plain.name), 'Opaque', 'no type is Opaque, as before types were kept');
    });

    it('refuses to claim a namespace that does not exist, naming it and the fix, and claims nothing there', async () => {
      const { w, ns } = await setup(make);
      const missing = `${ns}-missing`;
      await assert.rejects(w.cluster.claimRotation(missing, BASE, 'default/rotate-qa-auth'), (err: unknown) => {
        assert.ok(err instanceof RotorError, String(err));
        assert.equal(err.type, 'NotFound');
        assert.equal(err.retryable, false, 'a retry cannot create the namespace');
        assert.match(
          err.message,
          new RegExp(`^namespace ${missing} does not exist in this cluster: correct the stage's namespace in the plan, or create the namespace`),
        );
        return true;
      });
      assert.equal(
        (await w.cluster.claimRotation(ns, BASE, 'default/rotate-qa-auth')).holder,
        'default/rotate-qa-auth',
        'an existing namespace is claimed as before',
      );
      // What PLANNING asks before it claims: whether the namespace is there at all.
      assert.equal(await w.cluster.namespaceExists(ns), true);
      assert.equal(await w.cluster.namespaceExists(missing), false);
    });

    it('lets one rotation of a Secret hold a namespace at a time; of many racing, exactly one wins', async () => {
      const { w, ns } = await setup(make);
      const a = 'default/rotate-staging-auth';
      const b = 'default/rotate-dev-auth';
      assert.equal((await w.cluster.claimRotation(ns, BASE, a)).holder, a);
      assert.equal((await w.cluster.claimRotation(ns, BASE, a)).holder, a, 'claiming again is idempotent');
      const refused = await w.cluster.claimRotation(ns, BASE, b);
      assert.equal(refused.holder, a, 'a second rotation of the same Secret is refused, and told who holds it');
      assert.match(refused.since ?? '', /^\d{4}-\d\d-\d\dT/);
      assert.equal((await w.cluster.claimRotation(ns, 'other-secret', b)).holder, b, 'another Secret in the same namespace is free');
      assert.equal((await w.cluster.claimRotation(ns, BASE, b, 'default/someone-else')).holder, a, 'a takeover names the holder it replaces');
      await w.cluster.releaseRotation(ns, BASE, b);
      assert.equal((await w.cluster.claimRotation(ns, BASE, b)).holder, a, "a rotation cannot release another's claim");
      assert.equal((await w.cluster.claimRotation(ns, BASE, b, a)).holder, b, 'a holder that no longer runs is replaced');
      await w.cluster.releaseRotation(ns, BASE, b);
      await w.cluster.releaseRotation(ns, BASE, b);
      const racers = Array.from({ length: 6 }, (_, i) => `default/rotate-racer-${i}`);
      const outcomes = await Promise.all(racers.map((r) => w.cluster.claimRotation(ns, BASE, r)));
      const winners = new Set(outcomes.map((o) => o.holder));
      assert.equal(winners.size, 1, `every racer sees the same holder: ${[...winners].join(', ')}`);
      assert.ok(racers.includes([...winners][0]));
      // Racing takeovers of a stale claim: again one winner.
      const stale = [...winners][0];
      const takers = Array.from({ length: 6 }, (_, i) => `default/rotate-taker-${i}`);
      const taken = await Promise.all(takers.map((t) => w.cluster.claimRotation(ns, BASE, t, stale)));
      const takenBy = new Set(taken.map((o) => o.holder));
      assert.equal(takenBy.size, 1, `every taker sees the same holder: ${[...takenBy].join(', ')}`);
      assert.ok(takers.includes([...takenBy][0]));
    });
  });
}

describe('kubectl-exact rollouts on the real apiserver', () => {
  it('judges a partitioned StatefulSet as kubectl does, and says which pods keep the previous version', async () => {
    const w = new KubeWorld(kc);
    const ns = `contract-${++seq}`;
    await w.namespace(ns);
    await w.secret(ns, OLD);
    await w.secret(ns, NEW);
    await w.workload('StatefulSet', ns, 'ledger', OLD, { replicas: 2, partition: 1 });
    const uses = await users(w, ns);
    const until = async (what: string) => {
      for (let i = 0; i < 240; i++) {
        const state = await w.cluster.rolloutState(ns, uses);
        if (state.ready) return state;
        assert.equal(state.failed, false, state.message);
        await new Promise((r) => setTimeout(r, 250));
      }
      assert.fail(`timed out waiting for ${what}`);
    };
    await until('the StatefulSet on the previous version');
    await w.cluster.switchWorkloads(switchInput(ns, uses));
    const state = await until('the partitioned roll out');
    assert.match(state.message, /partitioned roll out complete: 1 new pods have been updated; pods below ordinal 1 keep the previous version/);
  });
});

describe('rotor versions on the real apiserver', () => {
  it('shows with each version what names it, workloads and any other object alike, with how it refers', async () => {
    const w = new KubeWorld(kc);
    const ns = `contract-${++seq}`;
    await w.namespace(ns);
    const base = 'portal-key';
    const [v1, v2] = [`${base}-20250101000000`, `${base}-20250201000000`];
    for (const name of [v1, v2]) await w.cluster.createVersion({ namespace: ns, name, base, rotationId: 'test/versions', data: { k: 'v' } });
    await w.object({ apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'builder', namespace: ns }, imagePullSecrets: [{ name: v1 }] });
    await w.workload('Deployment', ns, 'portal', v2, { replicas: 0, fields: [ENV_FROM] });
    const versions = await w.cluster.listVersions(ns, base);
    assert.deepEqual(
      versions.map((v) => [v.name, v.usedBy.map((u) => [u.kind, u.name, u.fields])]),
      [
        [v2, [['Deployment', 'portal', [ENV_FROM]]]],
        [v1, [['ServiceAccount', 'builder', ['imagePullSecrets[0].name']]]],
      ],
    );
  });
});
// References that Git owns (issue 21): a workload a GitOps controller applies is never switched live,
// on either world, with nothing changed; a switched reference someone set back is found, named, and
// the rollback restores what rotor switched and keeps the set-back one as it is.
for (const [label, make] of worlds) {
  describe(`references that Git owns: ${label}`, () => {
    const FIX =
      /give the stage gitops settings \(the repository and path the controller applies\) so rotor changes the reference there by a commit \(docs\/gitops.md\)/;

    /** PLANNING's refusal, and nothing changed: no switch, no record, no new version. */
    async function assertRefused(w: World, ns: string, kind: Kind, name: string, controller: RegExp): Promise<void> {
      // What rotor might write; Kubernetes' deployment controller annotates the revision when it gets to it.
      const state = async () => ({
        refs: await w.refs(kind, ns, name),
        annotations: Object.fromEntries(Object.entries(await w.annotations(kind, ns, name)).filter(([k]) => !k.startsWith('deployment.kubernetes.io/'))),
      });
      const before = await state();
      const use = (await users(w, ns)).find((u) => u.name === name)!;
      assert.match(use.refusal ?? '', new RegExp(`^${kind}/${name} is managed by `));
      assert.match(use.refusal ?? '', controller);
      assert.match(use.refusal ?? '', FIX);
      const activities = createActivities({ cluster: w.cluster, stores: {}, metrics: {} });
      await assert.rejects(
        activities.discover({ secret: BASE, stages: [{ name: 's', namespace: ns, workloads: 'auto' }] }),
        (err: Error) => err.message.includes(`${ns}: ${kind}/${name} is managed by `) && FIX.test(err.message),
      );
      await assert.rejects(w.cluster.switchWorkloads(switchInput(ns, [{ ...use, refusal: null }])), (err: RotorError) => err.type === 'RotorInputError');
      assert.deepEqual(await state(), before, 'nothing changed');
      assert.ok(!(await w.secretExists(ns, `${BASE}-20261206000000`)));
    }

    const refused: [string, Kind, WorkloadOptions, RegExp][] = [
      ['an Argo CD instance label', 'Deployment', { labels: { 'argocd.argoproj.io/instance': 'shop' } }, /Argo CD Application shop \(label /],
      [
        'an Argo CD tracking annotation only',
        'Deployment',
        { annotations: { 'argocd.argoproj.io/tracking-id': 'shop:apps/Deployment:NS/web' } },
        /Argo CD Application shop \(annotation argocd\.argoproj\.io\/tracking-id/,
      ],
      [
        'Flux Kustomization labels',
        'StatefulSet',
        { labels: { 'kustomize.toolkit.fluxcd.io/name': 'apps', 'kustomize.toolkit.fluxcd.io/namespace': 'flux-system' } },
        /Flux Kustomization flux-system\/apps/,
      ],
      [
        'Flux HelmRelease labels',
        'CronJob',
        { labels: { 'helm.toolkit.fluxcd.io/name': 'web', 'helm.toolkit.fluxcd.io/namespace': 'apps' } },
        /Flux HelmRelease apps\/web/,
      ],
      [
        'a managedFields manager only (it owns the references)',
        'Deployment',
        { manager: 'kustomize-controller' },
        new RegExp(`Flux Kustomization \\(field manager kustomize-controller owns its Secret references .*${ENV.replace(/[[\].]/g, '\\$&')}`),
      ],
      ['an Argo CD manager only', 'DaemonSet', { manager: 'argocd-controller' }, /Argo CD Application \(field manager argocd-controller owns/],
    ];
    for (const [what, kind, opts, controller] of refused) {
      it(`refuses in PLANNING a ${kind} with ${what}, naming it, the controller and the fix; nothing changes`, async () => {
        const { w, ns } = await setup(make);
        const name = 'web';
        const annotations = opts.annotations && Object.fromEntries(Object.entries(opts.annotations).map(([k, v]) => [k, v.replace('NS', ns)]));
        await w.workload(kind, ns, name, OLD, { ...opts, ...(annotations ? { annotations } : {}) });
        await assertRefused(w, ns, kind, name, controller);
      });
    }

    it('switches a near miss: Helm labels, an Argo CD sync annotation, a tracking id copied from another object, another manager', async () => {
      const { w, ns } = await setup(make);
      await w.workload('Deployment', ns, 'web', OLD, {
        labels: { 'app.kubernetes.io/instance': 'shop', 'app.kubernetes.io/managed-by': 'Helm', 'toolkit.fluxcd.io/tenant': 'a' },
        annotations: { 'argocd.argoproj.io/sync-wave': '1', 'argocd.argoproj.io/tracking-id': `shop:apps/Deployment:${ns}/api` },
        manager: 'kubectl-client-side-apply',
      });
      const uses = await users(w, ns);
      assert.equal(uses[0].refusal ?? null, null);
      await w.cluster.switchWorkloads(switchInput(ns, uses));
      assert.deepEqual(await w.refs('Deployment', ns, 'web'), { [ENV]: NEW, [ENV_FROM]: NEW, [VOLUME]: NEW });
    });

    it('refuses the switch of a workload a controller adopted after PLANNING, changing nothing', async () => {
      const { w, ns } = await setup(make);
      await w.workload('Deployment', ns, 'web', OLD);
      const uses = await users(w, ns);
      assert.equal(uses[0].refusal ?? null, null);
      await w.label('Deployment', ns, 'web', { 'argocd.argoproj.io/instance': 'shop' });
      await assert.rejects(
        w.cluster.switchWorkloads(switchInput(ns, uses)),
        (err: RotorError) => err.type === 'RotorInputError' && /Argo CD/.test(err.message),
      );
      assert.deepEqual(await w.refs('Deployment', ns, 'web'), { [ENV]: OLD, [ENV_FROM]: OLD, [VOLUME]: OLD });
    });

    it('finds a switched reference set back by someone else, fails the rollout on it, and the rollback keeps it as set', async () => {
      const { w, ns } = await setup(make);
      await w.workload('Deployment', ns, 'web', OLD);
      await w.workload('Deployment', ns, 'api', OLD, { fields: [ENV] });
      const uses = await users(w, ns);
      const records = await w.cluster.switchWorkloads(switchInput(ns, uses));
      assert.deepEqual(await w.cluster.driftedReferences(records, NEW), [], 'nothing set back yet');
      await w.setField('Deployment', ns, 'web', ENV_FROM, OLD); // a self-heal from Git
      const drift = await w.cluster.driftedReferences(records, NEW);
      assert.deepEqual(
        drift.map((d) => [d.kind, d.name, d.field, d.now]),
        [['Deployment', 'web', ENV_FROM, [OLD]]],
      );
      assert.equal(drift[0].message, `Deployment ${ns}/web: ${ENV_FROM} names ${OLD} (the previous version) now, not ${NEW}`);
      // From rotor's own record on the object, without the workflow's records.
      const web = records.find((r) => r.name === 'web')!;
      assert.deepEqual((await w.cluster.driftedReferences([{ ...web, fields: [] }], NEW)).length, 1);
      const state = await w.cluster.rolloutState(ns, uses, NEW);
      assert.equal(state.failed, true);
      assert.match(state.message, new RegExp(`set back by someone else.*Deployment ${ns}/web: ${ENV_FROM.replace(/[[\].]/g, '\\$&')} names ${OLD}`));
      // The rollback's wait (no version) judges the rollout only.
      assert.doesNotMatch((await w.cluster.rolloutState(ns, uses)).message, /set back/);
      await w.cluster.revertWorkloads({ stage: 's', namespace: ns, workloads: uses, from: NEW, to: OLD, records });
      assert.deepEqual(await w.refs('Deployment', ns, 'web'), { [ENV]: OLD, [ENV_FROM]: OLD, [VOLUME]: OLD });
      assert.deepEqual(await w.refs('Deployment', ns, 'api'), { [ENV]: OLD });
      // After the revert every field names the previous version: each one "drifted" from NEW, none is left on it.
      assert.ok((await w.cluster.driftedReferences(records, NEW)).every((d) => d.now.includes(OLD)));
    });
  });
}

// The memory backend is the Kubernetes adapter over an in-memory apiserver: what it refuses, and how it
// says so, must read exactly as on a real cluster, word for word, for every kind of refusal.
describe('refusals read the same on the memory backend as on a real cluster', () => {
  it('says the same words for OnDelete, GitOps labels, annotations and managers, and a listed Job', async () => {
    const said: string[][] = [];
    for (const [, make] of worlds) {
      const { w, ns } = await setup(make);
      await w.workload('StatefulSet', ns, 'ledger', OLD, { onDelete: true });
      await w.workload('DaemonSet', ns, 'agent', OLD, { onDelete: true });
      await w.workload('Deployment', ns, 'shop', OLD, { labels: { 'argocd.argoproj.io/instance': 'shop' } });
      await w.workload('CronJob', ns, 'report', OLD, { labels: { 'helm.toolkit.fluxcd.io/name': 'web', 'helm.toolkit.fluxcd.io/namespace': 'apps' } });
      await w.workload('Deployment', ns, 'api', OLD, { manager: 'kustomize-controller' });
      await w.job(ns, 'migrate', OLD, {});
      const refusals = (await users(w, ns)).map((u) => `${u.kind}/${u.name}: ${u.refusal}`).sort();
      const activities = createActivities({ cluster: w.cluster, stores: {}, metrics: {} });
      const listed = await activities.discover({ secret: BASE, stages: [{ name: 's', namespace: ns, workloads: [{ kind: 'Job', name: 'migrate' }] }] }).then(
        () => 'no refusal',
        (err: Error) => err.message,
      );
      said.push([...refusals, listed].map((line) => line.replaceAll(ns, 'NS')));
    }
    assert.equal(said[0].length, 6);
    assert.ok(
      said[0].every((line) => !line.endsWith(': null') && line !== 'no refusal'),
      said[0].join('\n'),
    );
    assert.deepEqual(said[0], said[1]);
  });
});
