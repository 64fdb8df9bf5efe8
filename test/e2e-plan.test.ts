// `rotor plan` on the demo's world (staging and production running auth-api on the first version, the
// demo's plan, judged by the Datadog emulator) against the sandbox's real kube-apiserver, with no
// Temporal server: it prints the holders and the rollback commands; then the real switch activity
// switches staging and takes production's canary to 100%, and the printed kubectl commands, run by a
// shell as a person would, restore every workload's spec exactly (and remove the canary copy).
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import * as k8s from '@kubernetes/client-node';
import { stringify } from 'yaml';
import { createActivities } from '../activities';
import { KubernetesCluster } from '../activities/kubernetes';
import type { WorkloadUse } from '../contract/activities';
import { startSandbox, type Sandbox } from '../sandbox';
import { createAuthService } from '../sandbox/auth-service';
import { DEMO_DURATIONS, FIRST_VERSION, plan as demoPlan } from '../sandbox/demo-acts';
import type { PlanReport } from '../client/plan-dry-run/report';
import { rotor } from './helpers/cli';

const NEW = 'auth-api-secrets-20260101120000';
let sandbox: Sandbox;
let dir: string;
let apps: k8s.AppsV1Api;
let core: k8s.CoreV1Api;
let env: NodeJS.ProcessEnv;

/** The demo's plan, its value generated (no issuer needed for a dry run's verdict). */
function planFile(name: string, change: (p: Record<string, unknown>) => void = () => undefined): string {
  const body = demoPlan(DEMO_DURATIONS);
  body.value = { generate: { keys: ['API_TOKEN'] } };
  // Staging judged by Datadog too (its emulator runs here; Prometheus is not built on every machine).
  const [staging, production] = body.stages as { analysis: { query: string } }[];
  staging.analysis = { ...production.analysis, query: production.analysis.query.replace(/production/g, 'staging') };
  change(body);
  const file = join(dir, `${name}.yaml`);
  writeFileSync(file, stringify(body));
  return file;
}

const deployments = async (ns: string) => (await apps.listNamespacedDeployment({ namespace: ns })).items;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'rotor-e2e-plan-'));
  sandbox = await startSandbox({ readyDelayMs: 300, traffic: { datadog: { ingestDelayMs: 0 }, ratePerPod: 1 } });
  const kc = new k8s.KubeConfig();
  kc.loadFromFile(sandbox.plane.kubeconfig);
  apps = kc.makeApiClient(k8s.AppsV1Api);
  core = kc.makeApiClient(k8s.CoreV1Api);
  for (const [ns, replicas] of [
    ['staging', 2],
    ['production', 4],
  ] as const)
    await createAuthService(kc, ns, { secretName: FIRST_VERSION, token: 'demo-token-first', replicas, deployment: 'auth-api' });
  // Another holder in production that reads the Secret every other way: envFrom, a volume, a projected volume.
  await apps.createNamespacedDeployment({
    namespace: 'production',
    body: {
      metadata: { name: 'reports' },
      spec: {
        replicas: 1,
        selector: { matchLabels: { app: 'reports' } },
        template: {
          metadata: { labels: { app: 'reports' } },
          spec: {
            containers: [{ name: 'r', image: 'example/reports:1', envFrom: [{ secretRef: { name: FIRST_VERSION } }] }],
            volumes: [
              { name: 'token', secret: { secretName: FIRST_VERSION } },
              { name: 'all', projected: { sources: [{ secret: { name: FIRST_VERSION } }, { configMap: { name: 'other' } }] } },
            ],
          },
        },
      },
    },
  });
  const traffic = sandbox.traffic!;
  // No Temporal server anywhere: the dry run must not need one.
  env = { TEMPORAL_ADDRESS: '127.0.0.1:1', KUBECONFIG: sandbox.plane.kubeconfig, ...traffic.datadog!.workerEnv };
});

after(async () => {
  await sandbox?.stop();
});

describe('rotor plan on a real apiserver', () => {
  it('prints the holders, the canary, and rollback commands that restore every switched workload exactly', async () => {
    const file = planFile('demo');
    const text = await rotor(['plan', '-f', file], env, 120_000);
    assert.equal(text.code, 0, `${text.stdout}\n${text.stderr}`);
    assert.match(text.stdout, /stage production \(namespace production, canary 10\/25\/50\/100%\): uses auth-api-secrets-20250101000000/);
    assert.match(text.stdout, /Deployment\/reports: envFrom, volume, projected volume/);
    assert.match(text.stdout, /kubectl -n production patch deployment auth-api --type=json -p '\[/);
    assert.match(text.stderr, /discovering the workloads/);

    const json = await rotor(['plan', '-f', file, '-o', 'json'], env, 120_000);
    assert.equal(json.code, 0, json.stderr);
    const report = JSON.parse(json.stdout) as PlanReport;
    assert.equal(report.verdict, 'would run');
    const production = report.stages.find((s) => s.name === 'production')!;
    assert.deepEqual(production.switches.map((w) => `${w.kind}/${w.name}`).sort(), ['Deployment/auth-api', 'Deployment/reports']);
    assert.ok(production.holders.some((h) => h.kind === 'Deployment' && h.name === 'auth-api' && h.refersBy.includes('env')));
    assert.deepEqual(production.canary!.find((c) => c.workload === 'Deployment/auth-api')!.steps, [
      { weightPercent: 10, blue: 4, green: 1 },
      { weightPercent: 25, blue: 3, green: 1 },
      { weightPercent: 50, blue: 3, green: 2 },
      { weightPercent: 100, blue: 4, green: 2 },
    ]);
    assert.match(production.analysis!.query, /production/);
    assert.ok(!json.stdout.includes('demo-token-first'), 'no Secret value in the output');

    // Before: every workload's spec. Then the rotation's switches, by the real switch activity.
    const before = Object.fromEntries(
      (await Promise.all(['staging', 'production'].map(deployments))).flat().map((d) => [`${d.metadata!.namespace}/${d.metadata!.name}`, d.spec]),
    );
    for (const ns of ['staging', 'production'])
      await core.createNamespacedSecret({ namespace: ns, body: { metadata: { name: NEW }, stringData: { API_TOKEN: 'demo-token-new' } } });
    const acts = createActivities({ cluster: new KubernetesCluster(loadAdmin()), stores: {}, metrics: {} });
    const workloadsOf = (ns: string): WorkloadUse[] =>
      report.stages
        .find((s) => s.namespace === ns)!
        .switches.map((w) => ({ kind: w.kind as WorkloadUse['kind'], name: w.name, namespace: ns, fields: w.fields }));
    await acts.switchWorkloads({
      stage: 'staging',
      namespace: 'staging',
      workloads: workloadsOf('staging'),
      from: FIRST_VERSION,
      to: NEW,
      strategy: 'rolling',
    });
    let previous = 0;
    for (const step of [10, 25, 50, 100]) {
      await acts.switchWorkloads({
        stage: 'production',
        namespace: 'production',
        workloads: workloadsOf('production'),
        from: FIRST_VERSION,
        to: NEW,
        strategy: 'canary',
        weightPercent: step,
        previousWeightPercent: previous,
        rotationId: 'e2e-plan/1',
      });
      previous = step;
    }
    const switched = await apps.readNamespacedDeployment({ namespace: 'production', name: 'auth-api' });
    assert.equal(switched.spec!.template.spec!.containers[0].env![0].valueFrom!.secretKeyRef!.name, NEW);
    assert.equal((await deployments('production')).length, 4, 'a canary copy runs beside each blue');

    // The printed procedure, run by a shell as a person would: NEW set to the version created.
    const script = report.rollback.commands.map((c) => (c.startsWith('NEW=') ? `NEW=${NEW}` : c)).join('\n');
    const kubectlDir = dirname(sandbox.plane.binaries.kubectl);
    const ran = await promisify(execFile)('sh', ['-e', '-c', script], {
      env: { ...process.env, PATH: `${kubectlDir}:${process.env.PATH}`, KUBECONFIG: sandbox.plane.kubeconfig },
    });
    assert.doesNotMatch(ran.stderr, /error/i, ran.stderr);

    const after = (await Promise.all(['staging', 'production'].map(deployments))).flat();
    assert.deepEqual(after.map((d) => `${d.metadata!.namespace}/${d.metadata!.name}`).sort(), Object.keys(before).sort(), 'the canary copies are gone');
    for (const d of after) {
      const key = `${d.metadata!.namespace}/${d.metadata!.name}`;
      assert.deepEqual(d.spec!.template, before[key]!.template, `${key}: pod template`);
      assert.equal(d.spec!.replicas, before[key]!.replicas, `${key}: replicas`);
      assert.deepEqual(
        Object.keys(d.metadata!.annotations ?? {}).filter((k) => k.startsWith('rotor.dev/')),
        [],
        `${key}: rotor's record of the switch is removed`,
      );
    }
  });

  it('exits 2 naming each refusal, and 1 when the cluster does not answer', async () => {
    const refused = planFile('refused', (p) => {
      (p.stages as Record<string, unknown>[])[0].workloads = ['deployment/auth-api', 'deployment/nowhere'];
    });
    const r = await rotor(['plan', '-f', refused, '--json'], env, 120_000);
    assert.equal(r.code, 2, r.stderr);
    assert.equal(r.stderr.includes('rotor:'), false, r.stderr);
    const report = JSON.parse(r.stdout) as PlanReport;
    assert.equal(report.verdict, 'refused');
    assert.ok(
      report.refusals.some((x) => x.includes('listed workload(s) Deployment/nowhere in staging do not use')),
      report.refusals.join('\n'),
    );

    // Another rotation's claim: whether it still runs, only Temporal can say, and rotor plan asks none.
    const leases = loadAdmin().makeApiClient(k8s.CoordinationV1Api);
    const claim = {
      metadata: { name: 'rotor-auth-api-secrets', namespace: 'production' },
      spec: { holderIdentity: 'temporal://c1/default/rotate-staging-auth-api-secrets' },
    };
    await leases.createNamespacedLease({ namespace: 'production', body: claim });
    try {
      const c = await rotor(['plan', '-f', planFile('claimed'), '--json'], env, 120_000);
      assert.equal(c.code, 1, c.stderr);
      const claimed = JSON.parse(c.stdout) as PlanReport;
      assert.ok(
        claimed.unknowns.some((x) => x.startsWith('the rotation of auth-api-secrets in production is claimed by rotate-staging-auth-api-secrets')),
        claimed.unknowns.join('\n'),
      );
    } finally {
      await leases.deleteNamespacedLease({ namespace: 'production', name: 'rotor-auth-api-secrets' });
    }

    const down = join(dir, 'down.kubeconfig');
    writeFileSync(down, readFileSync(sandbox.plane.kubeconfig, 'utf8').replace(/server: https:\/\/127\.0\.0\.1:\d+/, 'server: https://127.0.0.1:1'));
    const d = await rotor(['plan', '-f', planFile('down'), '--kubeconfig', down], env, 120_000);
    assert.equal(d.code, 1, d.stderr);
    assert.match(d.stderr, /ECONNREFUSED/);
  });
});

function loadAdmin(): k8s.KubeConfig {
  const kc = new k8s.KubeConfig();
  kc.loadFromFile(sandbox.plane.kubeconfig);
  return kc;
}
