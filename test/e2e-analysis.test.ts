// Error-rate analysis end to end, for real reasons: the sandbox's auth-service pods call the auth API
// emulator with the token their Secret held when they started; a real Prometheus scrapes the
// emulator's counts; a real `rotor worker` measures them. A bad token switched into staging fails
// its requests, the error rate crosses the threshold and rotor rolls back by itself, production
// untouched; a good token passes every check; a query without data never passes.
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import * as k8s from '@kubernetes/client-node';
import type { RotationStatus } from '../contract/api';
import { TERMINAL_PHASES } from '../contract/api';
import { startSandbox, workerKubeconfig, type Sandbox } from '../sandbox';
import { createAuthService, datadogErrorRatio, prometheusErrorRatio } from '../sandbox/auth-service';
import { freePort } from '../sandbox/control-plane';
import { pollStatus, pollUntil, rotor, startWorker } from './helpers/cli';
import { writePlan } from './helpers/e2e-objects';
import { RotorClient } from '../client/rotor-client';
import { startDevServer, type DevServer } from './helpers/dev-server';
import { recordClusterSecrets, recordValues } from './helpers/leak';

const OLD = 'auth-token-20250101000000';
const OLD_TOKEN = 'e2e-analysis-old-token-Zq81';
const GOOD_TOKEN = 'e2e-analysis-good-token-Pm47';
const BAD_TOKEN = 'e2e-analysis-wrong-scope-Kd22';

let sandbox: Sandbox;
let server: DevServer;
let worker: Awaited<ReturnType<typeof startWorker>>;
let brokenWorker: Awaited<ReturnType<typeof startWorker>>;
let brokenEnv: NodeJS.ProcessEnv;
const WRONG_APP_KEY = 'e2e-wrong-application-key-Vb93';
let env: NodeJS.ProcessEnv;
let dir: string;
let kc: k8s.KubeConfig;
let apps: k8s.AppsV1Api;

/** The error ratio of a namespace over the last 10 s, as docs/metrics.md's Prometheus example writes it. */
const errorRatio = (ns: string) => prometheusErrorRatio(ns);

async function prometheus(query: string): Promise<number | null> {
  const res = await fetch(`${sandbox.traffic!.prometheus!.url}/api/v1/query?query=${encodeURIComponent(query)}`);
  const body = (await res.json()) as { data: { result: { value: [number, string] }[] } };
  const v = body.data.result[0]?.value[1];
  return v === undefined ? null : Number(v);
}

function eventually<T>(what: string, probe: () => Promise<T>, ok: (v: T) => boolean, timeoutMs = 60_000): Promise<T> {
  return pollUntil(probe, ok, { timeoutMs, intervalMs: 250, describe: (v) => `${what}: still ${JSON.stringify(v)} after ${timeoutMs / 1000} s` });
}

/** Two namespaces of the auth-service on the old token, its traffic flowing and measured. */
async function service(prefix: string): Promise<{ staging: string; production: string }> {
  const names = { staging: `${prefix}-staging`, production: `${prefix}-production` };
  for (const ns of Object.values(names)) await createAuthService(kc, ns, { secretName: OLD, token: OLD_TOKEN });
  await eventually(
    `traffic measured in ${names.staging}`,
    () => prometheus(errorRatio(names.staging)),
    (v) => v === 0,
  );
  return names;
}

function plan(
  name: string,
  ns: { staging: string; production: string },
  valueFile: string,
  stages: { staging?: object; production?: object } = {},
): Promise<string> {
  const analysis = (n: string) => ({ provider: 'prometheus', query: errorRatio(n), threshold: 0.05, interval: '10s', failureLimit: 1 });
  const body = {
    secret: 'auth-token',
    value: { fromFile: valueFile },
    stages: [
      { name: 'staging', namespace: ns.staging, workloads: ['Deployment/auth'], analysis: analysis(ns.staging), soak: '0s', ...stages.staging },
      { name: 'production', namespace: ns.production, workloads: ['Deployment/auth'], analysis: analysis(ns.production), watch: '0s', ...stages.production },
    ],
    retention: '0s',
  };
  return writePlan(sandbox.plane, dir, name, body);
}

async function start(planFile: string, runEnv: NodeJS.ProcessEnv): Promise<string> {
  const r = await rotor(['start', '-f', planFile], runEnv);
  assert.equal(r.code, 0, r.stderr);
  const id = /rotate-[\w.-]+/.exec(r.stdout)?.[0];
  assert.ok(id, `no workflow id in: ${r.stdout}`);
  return id;
}

/**
 * Polls the status in-process until the rotation ends: six rotations polled through the CLI would
 * spawn a node process every few hundred ms each, on a 2-core machine. `rotor start` and one
 * `rotor status` per test still go through the CLI.
 */
async function done(id: string, runEnv: NodeJS.ProcessEnv): Promise<RotationStatus> {
  const client = await RotorClient.connect({ address: runEnv.TEMPORAL_ADDRESS, taskQueue: runEnv.ROTOR_TASK_QUEUE });
  try {
    return await pollStatus(
      id,
      () => client.status(id),
      (s) => TERMINAL_PHASES.includes(s.phase),
      240_000,
      500,
    );
  } finally {
    await client.close();
  }
}

const tokenRef = async (ns: string) =>
  (await apps.readNamespacedDeployment({ namespace: ns, name: 'auth' })).spec!.template.spec!.containers[0].env![0].valueFrom!.secretKeyRef!.name!;
const versionsRunning = (ns: string) => [
  ...new Set(
    sandbox
      .traffic!.model.running()
      .filter((p) => p.namespace === ns)
      .map((p) => p.version),
  ),
];

interface Run {
  ns: { staging: string; production: string };
  productionGeneration: number;
  status: RotationStatus;
}

type Stages = { staging?: object; production?: object };

/** A service and its rotation; all runs go at once (each its own namespaces), the tests judge them. */
async function run(name: string, valueFile: string, stages: Stages | ((ns: Run['ns']) => Stages), runEnv: NodeJS.ProcessEnv): Promise<Run> {
  const ns = await service(name);
  const productionGeneration = (await apps.readNamespacedDeployment({ namespace: ns.production, name: 'auth' })).metadata!.generation!;
  const id = await start(await plan(name, ns, valueFile, typeof stages === 'function' ? stages(ns) : stages), runEnv);
  return { ns, productionGeneration, status: await done(id, runEnv) };
}

const datadogAnalysis = (query: string, more: object = {}) => ({ provider: 'datadog', query, threshold: 0.05, interval: '10s', failureLimit: 1, ...more });

const runs: Record<string, Promise<Run>> = {};

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'rotor-e2e-analysis-'));
  writeFileSync(join(dir, 'good.env'), `API_TOKEN=${GOOD_TOKEN}\n`);
  writeFileSync(join(dir, 'bad.env'), `API_TOKEN=${BAD_TOKEN}\n`);
  sandbox = await startSandbox({ readyDelayMs: 300, traffic: { prometheus: true, scrapeIntervalMs: 1000, ratePerPod: 5, datadog: true } });
  const api = sandbox.traffic!.api;
  api.setToken(OLD_TOKEN, 'valid');
  api.setToken(GOOD_TOKEN, 'valid');
  api.setToken(BAD_TOKEN, 'bad-scope');
  kc = new k8s.KubeConfig();
  kc.loadFromFile(sandbox.plane.kubeconfig);
  apps = kc.makeApiClient(k8s.AppsV1Api);
  const kubeconfig = await workerKubeconfig(sandbox.plane, dir);
  server = await startDevServer();
  env = {
    TEMPORAL_ADDRESS: server.address,
    ROTOR_BACKEND: 'kubernetes',
    KUBECONFIG: kubeconfig,
    ROTOR_VALUE_DIR: dir,
    ROTOR_PROMETHEUS_URL: sandbox.traffic!.prometheus!.url,
    ...sandbox.traffic!.datadog!.workerEnv,
    ROTOR_OPERATOR: 'e2e',
  };
  // A second worker, on its own task queue, whose providers cannot answer: Prometheus is down (a
  // port nobody listens on) and its Datadog application key is wrong.
  brokenEnv = {
    ...env,
    ROTOR_TASK_QUEUE: 'rotor-broken-providers',
    ROTOR_PROMETHEUS_URL: `http://127.0.0.1:${await freePort()}`,
    DD_APP_KEY: WRONG_APP_KEY,
  };
  [worker, brokenWorker] = await Promise.all([startWorker(env), startWorker(brokenEnv)]);
  const launch = (name: string, valueFile: string, stages: Stages | ((ns: Run['ns']) => Stages), runEnv = env) => {
    runs[name] = run(name, valueFile, stages, runEnv);
    runs[name].catch(() => undefined); // judged by its test
  };
  launch('bad', 'bad.env', {});
  // Production by canary, judged by Datadog against the old version side by side.
  launch('good', 'good.env', (ns) => ({
    staging: { analysis: undefined },
    production: {
      strategy: { canary: { steps: [50, 100], pause: '10s' } },
      analysis: datadogAnalysis(datadogErrorRatio(ns.production, '{{version}}'), { baseline: { margin: 0.01 } }),
    },
  }));
  launch('quiet', 'good.env', {
    staging: {
      analysis: { provider: 'prometheus', query: errorRatio('no-such-namespace'), threshold: 0.05, interval: '10s', failureLimit: 1, inconclusiveLimit: 2 },
    },
  });
  launch('ddbad', 'bad.env', (ns) => ({ staging: { analysis: datadogAnalysis(datadogErrorRatio(ns.staging)) } }));
  launch(
    'promdown',
    'good.env',
    (ns) => ({ staging: { analysis: { ...datadogAnalysis(errorRatio(ns.staging)), provider: 'prometheus', consecutiveErrorLimit: 2 } } }),
    brokenEnv,
  );
  launch('ddkey', 'good.env', (ns) => ({ staging: { analysis: datadogAnalysis(datadogErrorRatio(ns.staging), { consecutiveErrorLimit: 2 }) } }), brokenEnv);
});

after(async () => {
  recordValues([OLD_TOKEN, GOOD_TOKEN]);
  if (sandbox) await recordClusterSecrets(sandbox.plane.kubeconfig);
  await brokenWorker?.stop();
  await worker?.stop();
  await server?.stop();
  await sandbox?.stop();
});

describe('error-rate analysis on the sandbox with a real Prometheus and the Datadog emulator', () => {
  it('rolls a bad token back from staging because its measured error rate crossed the threshold; production untouched', async () => {
    const { ns, productionGeneration, status: s } = await runs.bad;
    assert.equal(s.phase, 'ROLLED_BACK', s.events.map((e) => e.message).join('\n'));
    const failed = s.checks.find((c) => c.verdict === 'failed');
    assert.ok(failed, `a failed check in status: ${JSON.stringify(s.checks)}`);
    assert.equal(failed.stage, 'staging');
    const measured = failed.recent.filter((m) => m.phase === 'failed');
    assert.ok(measured.length > 0 && measured.every((m) => m.value! > 0.05), `the figures in status: ${JSON.stringify(failed.recent)}`);
    // The error rate rotor measured is the one the pods caused: most of staging's requests on the new version failed.
    const newVersion = s.newVersion!;
    const caused = sandbox.traffic!.api.counters.sum(0, Date.now() + 1000, (l) => l.namespace === ns.staging && l.version === newVersion);
    assert.ok(caused.requests > 0 && caused.errors === caused.requests, `the bad token's requests: ${JSON.stringify(caused)}`);
    // Production was never switched: same reference, same generation, no request on the new version.
    const productionAfter = await apps.readNamespacedDeployment({ namespace: ns.production, name: 'auth' });
    assert.equal(await tokenRef(ns.production), OLD);
    assert.equal(productionAfter.metadata!.generation, productionGeneration);
    assert.equal(sandbox.traffic!.api.counters.sum(0, Date.now() + 1000, (l) => l.namespace === ns.production && l.version === newVersion).requests, 0);
    // Staging runs the old token again, and its error rate falls back to zero.
    assert.equal(await tokenRef(ns.staging), OLD);
    await eventually(
      'staging pods back on the old token',
      async () => versionsRunning(ns.staging),
      (v) => v.length === 1 && v[0] === OLD,
    );
    await eventually(
      'staging error rate back to 0',
      () => prometheus(errorRatio(ns.staging)),
      (v) => v === 0,
    );
  });

  it('passes a good token through every check and completes, each check with measured values', async () => {
    const { ns, status: s } = await runs.good;
    assert.equal(s.phase, 'COMPLETED', s.events.map((e) => e.message).join('\n'));
    assert.ok(s.checks.length >= 1, 'production was checked');
    for (const c of s.checks) {
      assert.equal(c.verdict, 'passed', JSON.stringify(c));
      assert.ok(c.recent.length > 0 && c.recent.every((m) => m.phase === 'successful' && m.value === 0), JSON.stringify(c.recent));
    }
    const canary = s.checks.filter((c) => c.stage === 'production' && c.check === 'canary');
    assert.equal(canary.length, 2, 'one canary check per step');
    assert.ok(
      canary[0].recent.every((m) => m.baseline === 0),
      `at 50% the old version was measured beside the new: ${JSON.stringify(canary[0].recent)}`,
    );
    assert.ok(
      canary[1].recent.every((m) => m.baseline === undefined),
      'at 100% nothing runs the old version: the threshold alone judges',
    );
    // The CLI shows each measurement beside the old version's.
    const human = await rotor(['status', s.workflowId], env);
    assert.match(human.stdout, /PASSED\s+canary production: .*\n\s+\d\d:\d\d:\d\d 0 \(old 0\) successful/);
    assert.deepEqual(versionsRunning(ns.production), [s.newVersion]);
    const onNew = sandbox.traffic!.api.counters.sum(0, Date.now() + 1000, (l) => l.namespace === ns.production && l.version === s.newVersion);
    assert.ok(onNew.requests > 0 && onNew.errors === 0, JSON.stringify(onNew));
  });

  it('never passes a query without data: the check fails as inconclusive and rotor rolls back', async () => {
    const { ns, status: s } = await runs.quiet;
    assert.equal(s.phase, 'ROLLED_BACK');
    const check = s.checks.find((c) => c.stage === 'staging')!;
    assert.notEqual(check.verdict, 'passed');
    assert.ok(check.recent.length >= 2 && check.recent.every((m) => m.phase === 'inconclusive' && m.value === null), JSON.stringify(check.recent));
    assert.equal(await tokenRef(ns.production), OLD, 'production untouched');
  });

  it('rolls a bad token back from staging through the Datadog provider (v2 scalar, official client) too', async () => {
    const { ns, status: s } = await runs.ddbad;
    assert.equal(s.phase, 'ROLLED_BACK', s.events.map((e) => e.message).join('\n'));
    const failed = s.checks.find((c) => c.verdict === 'failed' && c.stage === 'staging');
    assert.ok(failed && failed.recent.some((m) => m.phase === 'failed' && m.value! > 0.05), JSON.stringify(s.checks));
    assert.equal(await tokenRef(ns.production), OLD, 'production untouched');
    assert.ok(sandbox.traffic!.datadog!.emulator.requestCount('/api/v2/query/scalar') > 0, 'measured through the v2 scalar API');
    // Its phase changes are in Datadog's event stream, the rollback standing out.
    const events = sandbox.traffic!.datadog!.emulator.events().filter((e) => e.tags.includes(`rotor_workflow:${s.workflowId}`));
    const phases = events.map((e) => e.tags.find((t) => t.startsWith('rotor_phase:')));
    assert.ok(phases.includes('rotor_phase:rolling_back') && phases.includes('rotor_phase:rolled_back'), JSON.stringify(phases));
    assert.equal(events.find((e) => e.tags.includes('rotor_phase:rolling_back'))!.alertType, 'warning');
  });

  it('fails a check whose provider is down as an error after its limit, saying what is wrong; never a pass', async () => {
    const { ns, status: s } = await runs.promdown;
    assert.equal(s.phase, 'ROLLED_BACK');
    const check = s.checks.find((c) => c.stage === 'staging')!;
    assert.equal(check.verdict, 'failed');
    assert.match(check.reason, /2 consecutive metrics error\(s\): cannot reach prometheus at http:\/\/127\.0\.0\.1:\d+ \(ECONNREFUSED\)/);
    assert.ok(check.recent.every((m) => m.phase === 'error'));
    assert.equal(await tokenRef(ns.production), OLD, 'production untouched');
  });

  it('makes a wrong Datadog key a clear error that names the setting, never the key', async () => {
    const { ns, status: s } = await runs.ddkey;
    assert.equal(s.phase, 'ROLLED_BACK');
    const check = s.checks.find((c) => c.stage === 'staging')!;
    assert.match(check.reason, /Datadog refused the API or application key \(HTTP 403\); check DD_API_KEY and DD_APP_KEY on the worker/);
    const everything = JSON.stringify(s) + brokenWorker.output() + worker.output();
    for (const key of [WRONG_APP_KEY, sandbox.traffic!.datadog!.apiKey, sandbox.traffic!.datadog!.appKey]) {
      assert.ok(!everything.includes(key), 'no Datadog key in the status or the worker logs');
    }
    assert.equal(await tokenRef(ns.production), OLD, 'production untouched');
  });
});
