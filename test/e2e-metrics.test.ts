// End to end: a real `rotor worker` with ROTOR_METRICS_ADDR against a real Temporal dev server (memory
// backend): its /metrics describes the rotations in flight as Temporal has them (right again at the
// first scrape after a restart), counts what ended and why, and carries the Temporal SDK's own metrics.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { memoryBackendEnv, OLD_STAMP, rotor, secretsWorld, startWorker, waitForStatus, writePlan } from './helpers/cli';
import { freePort, startDevServer, type DevServer } from './helpers/dev-server';
import { sampleValue, samples, scrape } from './helpers/exposition';

const SECRETS = ['auth-api-secrets', 'billing-secrets', 'cache-secrets'];
let server: DevServer;
let worker: Awaited<ReturnType<typeof startWorker>>;
let env: NodeJS.ProcessEnv;
let dir: string;
let url: string;

function plan(secret: string, query: string): string {
  const analysis = { provider: 'prometheus', query, threshold: 0.01, interval: '10s', failureLimit: 1, verify: '2s' };
  return writePlan(dir, secret, {
    stages: [
      { name: 'staging', namespace: 'staging', strategy: 'rolling', analysis, soak: '2s' },
      { name: 'production', namespace: 'production', strategy: 'rolling', approval: 'required', watch: '1s' },
    ],
    retention: '1s',
    cleanupRecheck: '1s',
  });
}

before(async () => {
  server = await startDevServer();
  ({ dir, env } = memoryBackendEnv(
    'rotor-e2e-metrics-',
    secretsWorld(SECRETS, ['staging', 'production'], { auth_errors: 0.001, billing_errors: 0.5, cache_errors: 0.002 }),
    server.address,
  ));
  const port = await freePort();
  env = { ...env, ROTOR_METRICS_ADDR: `127.0.0.1:${port}` };
  url = `http://127.0.0.1:${port}/metrics`;
  worker = await startWorker(env);
});

after(async () => {
  await worker?.stop();
  await server?.stop();
});

/** Scrapes until `ok` holds (the state is cached for a few seconds between scrapes). */
async function scrapeUntil(ok: (text: string) => boolean, what: string): Promise<string> {
  const deadline = Date.now() + 60_000;
  let text = '';
  while (Date.now() < deadline) {
    text = await scrape(url);
    if (ok(text)) return text;
    await new Promise((r) => setTimeout(r, 500));
  }
  throw new Error(
    `${what} never showed; last scrape:\n${text
      .split('\n')
      .filter((l) => l.startsWith('rotor_'))
      .join('\n')}`,
  );
}

describe('the worker’s Prometheus metrics', () => {
  it('describe a rotation in flight from Temporal and count it once it completed', async () => {
    const started = await rotor(['start', '-f', plan('auth-api-secrets', 'auth_errors')], env);
    assert.equal(started.code, 0, started.stderr);
    const id = 'rotate-staging-auth-api-secrets';
    const waiting = await waitForStatus(id, env, (s) => s.phase === 'AWAITING_APPROVAL');
    const info = { secret: 'auth-api-secrets', namespace: 'production', stage: 'production', phase: 'AWAITING_APPROVAL', version: waiting.newVersion! };
    const text = await scrapeUntil((t) => sampleValue(t, 'rotor_rotation_info', info) === 1, 'rotor_rotation_info of the rotation awaiting approval');
    assert.equal(samples(text, 'rotor_rotation_info').length, 1, 'one series per rotation in flight');
    // The version's name says when it was made (UTC).
    const created = sampleValue(text, 'rotor_version_created_timestamp_seconds', { secret: 'auth-api-secrets', version: waiting.newVersion! });
    const stamp = /-(\d{14})$/.exec(waiting.newVersion!)![1];
    const iso = `${stamp.slice(0, 4)}-${stamp.slice(4, 6)}-${stamp.slice(6, 8)}T${stamp.slice(8, 10)}:${stamp.slice(10, 12)}:${stamp.slice(12, 14)}Z`;
    assert.equal(created, Date.parse(iso) / 1000);
    // Staging's soak measured 0.001 against 0.01.
    assert.equal(sampleValue(text, 'rotor_analysis_measurement_value', { secret: 'auth-api-secrets', stage: 'staging', check: 'soak' }), 0.001);
    assert.ok((sampleValue(text, 'rotor_analysis_measurements_total', { phase: 'successful' }) ?? 0) >= 1);
    assert.equal(sampleValue(text, 'rotor_rotation_info_up', {}), 1);
    // The SDK's own worker metrics, on the same endpoint.
    assert.match(text, /^temporal_\w+/m, 'the Temporal SDK metrics follow rotor’s');

    const approved = await rotor(['approve', id], env);
    assert.equal(approved.code, 0, approved.stderr);
    await waitForStatus(id, env, (s) => s.phase === 'COMPLETED');
    const done = await scrapeUntil((t) => samples(t, 'rotor_rotation_info').length === 0, 'no rotation in flight');
    assert.equal(sampleValue(done, 'rotor_rotations_total', { secret: 'auth-api-secrets', result: 'completed' }), 1);
    assert.equal(sampleValue(done, 'rotor_rotation_duration_seconds_count', { result: 'completed' }), 1);
    // Cleanup's scan found nothing referring to the old version in either namespace.
    assert.equal(sampleValue(done, 'rotor_version_references', { secret: 'auth-api-secrets', version: `auth-api-secrets-${OLD_STAMP}` }), 0);
  });

  it('count a rollback by its reason and the rotation by its result', async () => {
    const started = await rotor(['start', '-f', plan('billing-secrets', 'billing_errors')], env);
    assert.equal(started.code, 0, started.stderr);
    await waitForStatus('rotate-staging-billing-secrets', env, (s) => s.phase === 'ROLLED_BACK');
    const text = await scrapeUntil(
      (t) => sampleValue(t, 'rotor_rotations_total', { secret: 'billing-secrets', result: 'rolled_back' }) === 1,
      'the rolled-back rotation',
    );
    assert.equal(sampleValue(text, 'rotor_rollbacks_total', { secret: 'billing-secrets', reason: 'check_failed' }), 1);
    assert.equal(samples(text, 'rotor_rollbacks_total').length, 1, 'no other rollback counted');
    assert.equal(sampleValue(text, 'rotor_analysis_measurement_value', { secret: 'billing-secrets', stage: 'staging', check: 'verify' }), 0.5);
    assert.ok((sampleValue(text, 'rotor_analysis_measurements_total', { phase: 'failed' }) ?? 0) >= 1);
    // Label values are names, never a value the rotation generated or read.
    assert.doesNotMatch(text, /old-token-value/);
  });

  it('are right again at the first scrape after a worker restart', async () => {
    const started = await rotor(['start', '-f', plan('cache-secrets', 'cache_errors')], env);
    assert.equal(started.code, 0, started.stderr);
    const id = 'rotate-staging-cache-secrets';
    const waiting = await waitForStatus(id, env, (s) => s.phase === 'AWAITING_APPROVAL');
    const info = { secret: 'cache-secrets', namespace: 'production', stage: 'production', phase: 'AWAITING_APPROVAL', version: waiting.newVersion! };
    await scrapeUntil((t) => sampleValue(t, 'rotor_rotation_info', info) === 1, 'rotor_rotation_info of the rotation awaiting approval');
    // A new process knows nothing in memory: its first scrape reads the same state from Temporal.
    await worker.stop();
    worker = await startWorker(env);
    const again = await scrape(url);
    assert.equal(sampleValue(again, 'rotor_rotation_info', info), 1, 'right at the first scrape after the restart');
    assert.equal(samples(again, 'rotor_rotation_info').length, 1);
    // What this process has not measured itself is not claimed.
    assert.equal(sampleValue(again, 'rotor_analysis_measurement_value', { secret: 'cache-secrets', stage: 'staging', check: 'soak' }), undefined);
    const aborted = await rotor(['abort', id, '--reason', 'metrics test'], env);
    assert.equal(aborted.code, 0, aborted.stderr);
    await waitForStatus(id, env, (s) => ['ROLLED_BACK', 'FAILED'].includes(s.phase));
    const after = await scrapeUntil((t) => samples(t, 'rotor_rotation_info').length === 0, 'no rotation in flight');
    assert.equal(sampleValue(after, 'rotor_rollbacks_total', { secret: 'cache-secrets', reason: 'abort' }), 1);
  });
});
