// examples/plan-sandbox.yaml on the sandbox of `npm run sandbox`, as a user runs it: the same sandbox
// options and worker settings, the example world applied with the sandbox's kubectl, rotor rbac's output for the plan, a real
// `rotor worker` and the CLI. The plan file is used as it is in the repository, unchanged.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import { parse } from 'yaml';
import { RotorClient } from '../client/rotor-client';
import { TERMINAL_PHASES, type RotationStatus } from '../contract/api';
import { SANDBOX_OPTIONS, sandboxWorkerEnv, startSandbox, workerKubeconfig, type Sandbox } from '../sandbox';
import { pollStatus, pollUntil, rotor, rotorStatus, startWorker } from './helpers/cli';
import { startDevServer, type DevServer } from './helpers/dev-server';
import { recordClusterSecrets, recordValues } from './helpers/leak';
import { repoRoot } from './helpers/tools';

const EXAMPLE_TOKEN = 'sandbox-example-token'; // examples/sandbox-world.yaml's first version

let sandbox: Sandbox;
let server: DevServer;
let worker: Awaited<ReturnType<typeof startWorker>>;
let env: NodeJS.ProcessEnv;
let workerConfig: string;

before(async () => {
  sandbox = await startSandbox(SANDBOX_OPTIONS);
  await promisify(execFile)(sandbox.plane.binaries.kubectl, [
    '--kubeconfig',
    sandbox.plane.kubeconfig,
    'apply',
    '-f',
    join(repoRoot, 'examples', 'sandbox-world.yaml'),
  ]);
  // What the sandbox tells a user to run: rotor rbac for the plan, applied as admin; then the worker
  // with the sandbox's worker.kubeconfig (its ServiceAccount) and the worker.env it writes.
  workerConfig = await workerKubeconfig(sandbox.plane, sandbox.plane.dir);
  const rbac = await rotor(['rbac', '-f', join(repoRoot, 'examples', 'plan-sandbox.yaml'), '--admission'], {});
  assert.equal(rbac.code, 0, rbac.stderr);
  const apply = promisify(execFile)(sandbox.plane.binaries.kubectl, ['--kubeconfig', sandbox.plane.kubeconfig, 'apply', '-f', '-']);
  apply.child.stdin!.end(rbac.stdout);
  await apply;
  server = await startDevServer();
  env = { TEMPORAL_ADDRESS: server.address, ROTOR_BACKEND: 'kubernetes', KUBECONFIG: workerConfig, ...sandboxWorkerEnv(sandbox.traffic!) };
  worker = await startWorker(env);
});

after(async () => {
  recordValues([EXAMPLE_TOKEN]);
  if (sandbox) await recordClusterSecrets(sandbox.plane.kubeconfig);
  await worker?.stop();
  await server?.stop();
  await sandbox?.stop();
});

/** Polled in-process: a CLI process every few hundred ms would load the 2-core machine for nothing. */
async function until(id: string, pred: (s: RotationStatus) => boolean, timeoutMs: number): Promise<RotationStatus> {
  const client = await RotorClient.connect({ address: server.address });
  try {
    return await pollStatus(id, () => client.status(id), pred, timeoutMs, 500);
  } finally {
    await client.close();
  }
}

describe('examples on the sandbox', () => {
  it('the worker starts with two lines: what it serves, and where; no webpack report, no credential', async () => {
    const lines = () => worker.output().trimEnd().split('\n');
    // Both lines are written at once; the second may arrive a moment after the first.
    await pollUntil(
      async () => lines(),
      (l) => l.length >= 2,
      { timeoutMs: 5000, intervalMs: 50, describe: (l) => l.join('\n') },
    );
    const [serves, where, ...rest] = lines();
    assert.deepEqual(rest, [], `nothing else before a rotation starts:\n${worker.output()}`);
    const { prometheus, datadog } = sandbox.traffic!;
    assert.equal(
      serves,
      `[rotor] worker ready: Temporal namespace default, task queue rotor, backend kubernetes; stores kubernetes; ` +
        `metrics prometheus ${prometheus!.url}, datadog ${datadog!.emulator.url}; issuer ${env.ROTOR_ISSUER_URL}; git none (gitops refused); value.fromFile refused (no ROTOR_VALUE_DIR)`,
    );
    assert.match(where, /^\[rotor\] Temporal at 127\.0\.0\.1:\d+; Kubernetes https:\/\/127\.0\.0\.1:\d+ \(context \S+, KUBECONFIG (\S+)\); codec off/);
    assert.equal(/KUBECONFIG (\S+)\)/.exec(where)![1], workerConfig);
    // The sandbox's Prometheus scrapes the worker where the second line says it serves.
    assert.ok(where.endsWith(`; metrics at http://${sandbox.traffic!.workerMetricsAddr}/metrics`), where);
    for (const secret of [datadog!.apiKey, datadog!.appKey, env.ROTOR_ISSUER_TOKEN!])
      assert.ok(!worker.output().includes(secret), 'no credential in the banner');
  });

  it('examples/plan-sandbox.yaml completes as is, every check passing on measured traffic', async () => {
    // As a user would: the example world's pods serve, and Prometheus has measured them, before the
    // rotation starts (the plan's own staging query answers with a value), so no check meets a
    // namespace whose traffic Prometheus has not seen yet.
    const plan = parse(readFileSync(join(repoRoot, 'examples', 'plan-sandbox.yaml'), 'utf8')) as { stages: { analysis: { query: string } }[] };
    const query = `${sandbox.traffic!.prometheus!.url}/api/v1/query?query=${encodeURIComponent(plan.stages[0].analysis.query)}`;
    await pollUntil(
      async () => ((await (await fetch(query)).json()) as { data: { result: { value: [number, string] }[] } }).data.result,
      (result) => result.length === 1 && Number.isFinite(Number(result[0].value[1])),
      { timeoutMs: 90_000, intervalMs: 1000, describe: (result) => `staging's query answers ${JSON.stringify(result)}` },
    );
    const started = await rotor(['start', '-f', join('examples', 'plan-sandbox.yaml')], env);
    assert.equal(started.code, 0, started.stderr);
    const id = /rotate-[\w.-]+/.exec(started.stdout)![0];
    const waiting = await until(id, (s) => s.phase === 'AWAITING_APPROVAL' || TERMINAL_PHASES.includes(s.phase), 120_000);
    assert.equal(waiting.phase, 'AWAITING_APPROVAL', waiting.events.map((e) => e.message).join('\n'));
    const approved = await rotor(['approve', id], env);
    assert.equal(approved.code, 0, approved.stderr);
    await until(id, (s) => TERMINAL_PHASES.includes(s.phase), 240_000);
    const s = await rotorStatus(id, env);
    assert.equal(s.phase, 'COMPLETED', `${s.outcome}\n${s.events.map((e) => e.message).join('\n')}`);
    // Each check measured real traffic (a value every time, never no data) and passed.
    const checks = s.checks.map((c) => `${c.stage} ${c.check}`);
    assert.deepEqual(checks, ['staging verify', 'staging soak', 'production canary', 'production canary', 'production watch']);
    for (const c of s.checks) {
      assert.equal(c.verdict, 'passed', JSON.stringify(c));
      assert.ok(c.recent.length > 0 && c.recent.every((m) => m.phase === 'successful' && m.value === 0), JSON.stringify(c));
    }
    assert.deepEqual(s.cleaned.sort(), ['production', 'staging'], 'the first version was deleted from both namespaces');
    // The pods on the new version sent requests, and none failed.
    for (const ns of ['staging', 'production']) {
      const counted = sandbox.traffic!.api.counters.sum(0, Date.now() + 1000, (l) => l.namespace === ns && l.version === s.newVersion);
      assert.ok(counted.requests > 0 && counted.errors === 0, `${ns}: ${JSON.stringify(counted)}`);
    }
  });
});
