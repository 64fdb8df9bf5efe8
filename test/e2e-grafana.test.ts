// The Grafana dashboard (deploy/grafana/rotor.json) against a real Prometheus scraping a real `rotor
// worker` (memory backend, real dev server): while a rotation waits for approval, after one completed,
// one rolled back and one failed, every query of every panel, with the dashboard's variables filled in
// as Grafana would, returns data.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promInstant } from '../sandbox/prom-query';
import { startPrometheus, type PrometheusServer } from '../sandbox/prometheus';
import { memoryBackendEnv, pollUntil, rotor, secretsWorld, startWorker, waitForStatus, writePlan } from './helpers/cli';
import { freePort, startDevServer, type DevServer } from './helpers/dev-server';
import { repoRoot } from './helpers/tools';

interface Panel {
  title: string;
  targets: { expr: string }[];
}

const dashboard = JSON.parse(readFileSync(join(repoRoot, 'deploy', 'grafana', 'rotor.json'), 'utf8')) as {
  panels: Panel[];
  templating: { list: { name: string }[] };
};

let server: DevServer;
let prometheus: PrometheusServer;
let worker: Awaited<ReturnType<typeof startWorker>>;
let env: NodeJS.ProcessEnv;
let dir: string;

/** Grafana's variables as a dashboard viewer's defaults fill them: every secret, a 5m rate window, an hour's range. */
function filled(expr: string): string {
  return expr.replaceAll('$__rate_interval', '5m').replaceAll('$__range', '1h').replaceAll('$secret', '.*');
}

async function query(expr: string): Promise<unknown[]> {
  const { error, result } = await promInstant(prometheus.url, expr);
  assert.equal(error, null, `${expr}: ${error}`);
  return result;
}

before(async () => {
  server = await startDevServer();
  const port = await freePort();
  prometheus = await startPrometheus({ workers: [`127.0.0.1:${port}`], scrapeIntervalMs: 1000 });
  const world = secretsWorld(['auth-api-secrets', 'billing-secrets', 'cache-secrets', 'ledger-secrets'], ['staging', 'production'], {
    auth_errors: 0.001,
    billing_errors: 0.5,
    cache_errors: 0.002,
  });
  ({ dir, env } = memoryBackendEnv('rotor-e2e-grafana-', world, server.address));
  env = { ...env, ROTOR_METRICS_ADDR: `127.0.0.1:${port}` };
  worker = await startWorker(env);
});

after(async () => {
  await worker?.stop();
  await prometheus?.stop();
  await server?.stop();
});

function plan(secret: string, query: string, production: object = {}): string {
  const analysis = { provider: 'prometheus', query, threshold: 0.01, interval: '10s', failureLimit: 1, verify: '2s' };
  return writePlan(dir, secret, {
    stages: [
      { name: 'staging', namespace: 'staging', strategy: 'rolling', analysis, soak: '2s' },
      { name: 'production', namespace: 'production', strategy: 'rolling', watch: '1s', ...production },
    ],
    retention: '1s',
    cleanupRecheck: '1s',
  });
}

describe('the Grafana dashboard', () => {
  it('has panels whose every query returns data from the sandbox’s Prometheus while a rotation runs', async () => {
    const started = async (file: string) => {
      const r = await rotor(['start', '-f', file], env);
      assert.equal(r.code, 0, r.stderr);
    };
    await started(plan('auth-api-secrets', 'auth_errors'));
    await started(plan('billing-secrets', 'billing_errors'));
    // A value file the worker's value directory lacks: an activity error, and the rotation FAILED.
    await started(
      writePlan(dir, 'ledger-secrets', { value: { fromFile: './missing.env' }, stages: [{ name: 'staging', namespace: 'staging', strategy: 'rolling' }] }),
    );
    await waitForStatus('rotate-staging-auth-api-secrets', env, (s) => s.phase === 'COMPLETED');
    await waitForStatus('rotate-staging-billing-secrets', env, (s) => s.phase === 'ROLLED_BACK');
    await waitForStatus('rotate-staging-ledger-secrets', env, (s) => s.phase === 'FAILED');
    // And one in flight while the panels are read: it waits for an approval.
    const inFlight = 'rotate-staging-cache-secrets';
    await started(plan('cache-secrets', 'cache_errors', { approval: 'required' }));
    await waitForStatus(inFlight, env, (s) => s.phase === 'AWAITING_APPROVAL');
    // Prometheus has scraped what the worker says now.
    await pollUntil(
      () => query('rotor_rotation_info{phase="AWAITING_APPROVAL"}'),
      (r) => r.length === 1,
      { timeoutMs: 30_000, intervalMs: 500, describe: (r) => `rotor_rotation_info: ${JSON.stringify(r)}` },
    );

    const variables = dashboard.templating.list.map((v) => v.name);
    assert.deepEqual(variables, ['datasource', 'secret']);
    const targets = dashboard.panels.flatMap((p) => p.targets.map((t) => ({ panel: p.title, expr: t.expr })));
    assert.ok(targets.length >= 15, `${targets.length} queries`);
    const empty: string[] = [];
    for (const t of targets) {
      const expr = filled(t.expr);
      assert.doesNotMatch(expr, /\$/, `${t.panel}: every variable filled in`);
      const result = await query(expr);
      if (!result.length) empty.push(`${t.panel}: ${expr}`);
    }
    assert.deepEqual(empty, [], 'panels without data');
    const r = await rotor(['abort', inFlight, '--reason', 'dashboard test done'], env);
    assert.equal(r.code, 0, r.stderr);
  });
});
