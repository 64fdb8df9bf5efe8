// The worker's metrics registry (worker/metrics.ts) on its own: what each event does to the exposition,
// the bounds on its series, the endpoint, and ROTOR_METRICS_ADDR's parsing.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ApplicationFailure } from '@temporalio/common';
import { serveMetrics, WorkerMetrics, countActivityErrors, type RotationRow } from '../worker/metrics';
import { workerConfig, WorkerConfigError } from '../worker/config';
import { sampleValue, samples, scrape } from './helpers/exposition';

const row = (over: Partial<RotationRow> = {}): RotationRow => ({
  secret: 'auth-api-secrets',
  phase: 'SOAKING',
  stage: 'staging',
  namespace: 'staging',
  version: 'auth-api-secrets-20261207103000',
  ...over,
});

describe('the worker’s metrics registry', () => {
  it('describes the rotations in flight from its source, and says when the source cannot answer', async () => {
    const rows = [row(), row({ secret: 'billing', phase: 'RETAINING', stage: null, namespace: 'staging', version: 'billing-20261201000000' })];
    const m = new WorkerMetrics(async () => rows);
    const text = await m.registry.metrics();
    assert.equal(sampleValue(text, 'rotor_rotation_info', { secret: 'auth-api-secrets', stage: 'staging', phase: 'SOAKING' }), 1);
    assert.equal(sampleValue(text, 'rotor_rotation_info', { secret: 'billing', stage: '-', phase: 'RETAINING' }), 1);
    assert.equal(
      sampleValue(text, 'rotor_version_created_timestamp_seconds', { version: 'auth-api-secrets-20261207103000' }),
      Date.parse('2026-12-07T10:30:00Z') / 1000,
    );
    assert.equal(sampleValue(text, 'rotor_rotation_info_up', {}), 1);
    // A source that cannot answer empties the state and says so.
    const fresh = new WorkerMetrics(async () => {
      throw new Error('visibility unavailable');
    });
    const down = await fresh.registry.metrics();
    assert.equal(samples(down, 'rotor_rotation_info').length, 0);
    assert.equal(sampleValue(down, 'rotor_rotation_info_up', {}), 0);
  });

  it('keeps the last value of each analysis, and drops it on no data', async () => {
    const m = new WorkerMetrics(async () => []);
    const at = { version: 'auth-api-secrets-20261207103000', stage: 'staging', check: 'soak' };
    m.measured(at, { value: 0.02, phase: 'failed' });
    m.measured(at, { value: 0.004, phase: 'successful' });
    let text = await m.registry.metrics();
    assert.equal(sampleValue(text, 'rotor_analysis_measurement_value', { secret: 'auth-api-secrets', stage: 'staging', check: 'soak' }), 0.004);
    assert.equal(sampleValue(text, 'rotor_analysis_measurements_total', { phase: 'failed' }), 1);
    assert.equal(sampleValue(text, 'rotor_analysis_measurements_total', { phase: 'inconclusive' }), 0, 'every phase is exported from the start');
    m.measured(at, { value: null, phase: 'inconclusive' });
    text = await m.registry.metrics();
    assert.equal(sampleValue(text, 'rotor_analysis_measurement_value', { secret: 'auth-api-secrets' }), undefined);
  });

  it('replaces a version’s references at each scan, says "-" 0 when nothing holds it, and keeps at most 500 versions', async () => {
    const m = new WorkerMetrics(async () => []);
    const v = 'auth-api-secrets-20250101000000';
    m.referencesFound(v, [{ namespace: 'staging' }, { namespace: 'staging' }, { namespace: 'batch' }]);
    let text = await m.registry.metrics();
    assert.equal(sampleValue(text, 'rotor_version_references', { version: v, namespace: 'staging' }), 2);
    assert.equal(sampleValue(text, 'rotor_version_references', { version: v, namespace: 'batch' }), 1);
    m.referencesFound(v, []);
    text = await m.registry.metrics();
    assert.deepEqual(
      samples(text, 'rotor_version_references').map((s) => [s.labels.namespace, s.value]),
      [['-', 0]],
    );
    for (let i = 0; i < 600; i++) m.referencesFound(`s${i}-20250101000000`, [{ namespace: 'a' }]);
    text = await m.registry.metrics();
    const kept = samples(text, 'rotor_version_references');
    assert.equal(kept.length, 500);
    assert.ok(!kept.some((s) => s.labels.version === v), 'the oldest scanned went first');
    assert.ok(kept.some((s) => s.labels.version === 's599-20250101000000'));
  });

  it('counts failed activity attempts by type, at most 50 types (the rest as other)', async () => {
    const m = new WorkerMetrics(async () => []);
    const intercept = countActivityErrors(m)({ info: { activityType: 'switchWorkloads' } } as never);
    const execute = intercept.inbound!.execute!.bind(intercept.inbound);
    await assert.rejects(
      execute({ args: [], headers: {} }, async () => {
        throw ApplicationFailure.retryable('503', 'Unavailable');
      }),
    );
    assert.equal(await execute({ args: [], headers: {} }, async () => 'fine'), 'fine');
    for (let i = 0; i < 60; i++) m.activityFailed('scanReferences', `Kind${i}`);
    const text = await m.registry.metrics();
    assert.equal(sampleValue(text, 'rotor_activity_errors_total', { activity: 'switchWorkloads', type: 'Unavailable' }), 1);
    assert.equal(sampleValue(text, 'rotor_activity_errors_total', { activity: 'scanReferences', type: 'other' }), 11);
  });

  it('serves /metrics with the SDK’s text below, or a comment when the SDK does not answer; 404 elsewhere', async () => {
    const m = new WorkerMetrics(async () => [row()]);
    m.rolledBack('auth-api-secrets', 'check_failed');
    const endpoint = await serveMetrics(m, { host: '127.0.0.1', port: 0 }, 'http://127.0.0.1:9/metrics');
    try {
      const text = await scrape(endpoint.url);
      assert.equal(sampleValue(text, 'rotor_rollbacks_total', { reason: 'check_failed' }), 1);
      assert.match(text, /^# the Temporal SDK's metrics did not answer: /m);
      assert.equal((await fetch(endpoint.url.replace('/metrics', '/'))).status, 404);
    } finally {
      await endpoint.close();
    }
  });

  it('reads ROTOR_METRICS_ADDR as [host]:port, naming the variable and the fix when it is not', () => {
    const base = { ROTOR_BACKEND: 'memory', ROTOR_MEMORY_WORLD: '/dev/null' };
    assert.deepEqual(workerConfig({ ...base, ROTOR_METRICS_ADDR: ':9464' }).metricsAddr, { host: '0.0.0.0', port: 9464 });
    assert.deepEqual(workerConfig({ ...base, ROTOR_METRICS_ADDR: '[::1]:9464' }).metricsAddr, { host: '::1', port: 9464 });
    assert.equal(workerConfig(base).metricsAddr, null);
    for (const bad of ['9464', 'localhost:99999', 'http://x:1'])
      assert.throws(
        () => workerConfig({ ...base, ROTOR_METRICS_ADDR: bad }),
        (err: unknown) => err instanceof WorkerConfigError && /ROTOR_METRICS_ADDR=.* is not a listen address; set it like :9464/.test(err.message),
      );
  });
});
