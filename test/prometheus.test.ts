// The Prometheus provider against a real Prometheus server (built by the bootstrap), which scrapes
// itself: values, no data, several series, bad queries, timeouts and credentials; and a whole
// analysis window measured through rotor's activity.
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { MockActivityEnvironment } from '@temporalio/testing';
import { createActivities, type CheckResult } from '../activities';
import { MemoryCluster } from '../activities/memory';
import { PrometheusProvider } from '../activities/metrics/prometheus';
import { KubernetesSecretStore } from '../activities/store-kubernetes';
import type { Analysis } from '../domain/plan';
import { startPrometheus, type PrometheusServer } from '../sandbox/prometheus';
import { freePort } from '../sandbox/control-plane';
import { workerConfig } from '../worker/config';

let prometheus: PrometheusServer;
let provider: PrometheusProvider;

before(async () => {
  prometheus = await startPrometheus({ scrapeIntervalMs: 1000 });
  provider = new PrometheusProvider({ url: prometheus.url, timeoutMs: 5000 });
  // Wait for the first scrape of itself, so series queries have data.
  for (let i = 0; i < 100 && (await provider.measure('sum(up)')) === null; i++) await new Promise((r) => setTimeout(r, 200));
});

after(async () => {
  await prometheus?.stop();
});

/** A local HTTP server that answers like the given function, to see what rotor sends. */
async function stub(handler: Parameters<typeof createServer>[1]): Promise<{ url: string; server: Server }> {
  const port = await freePort();
  const server = createServer(handler);
  await new Promise<void>((r) => server.listen(port, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${port}`, server };
}

describe('Prometheus provider on a real Prometheus', () => {
  it('takes a scalar or a one-series vector as the value', async () => {
    assert.equal(await provider.measure('scalar(vector(0.25))'), 0.25);
    assert.equal(await provider.measure('vector(0.5)'), 0.5);
    assert.ok(((await provider.measure('sum(up{job="prometheus"})')) ?? 0) >= 1, 'it scrapes itself');
  });

  it('calls an empty result, NaN and ±Inf no data, never a value', async () => {
    assert.equal(await provider.measure('vector(1) > 2'), null);
    assert.equal(await provider.measure('vector(0) / 0'), null);
    assert.equal(await provider.measure('vector(1) / 0'), null);
    assert.equal(await provider.measure('scalar(vector(-1) / 0)'), null);
  });

  it('refuses several series, saying to aggregate, and a range or a bad query, saying why', async () => {
    await assert.rejects(
      provider.measure('label_replace(vector(1), "pod", "a", "", "") or label_replace(vector(2), "pod", "b", "", "")'),
      /returned 2 series; aggregate it to one value, e\.g\. sum\(\.\.\.\)/,
    );
    await assert.rejects(provider.measure('up[1m]'), /returned a matrix; write an instant query/);
    await assert.rejects(provider.measure('sum(up'), /rejected the query \(bad_data\): .*parse error/);
  });

  it('says when Prometheus cannot be reached or does not answer in time', async () => {
    const closed = await freePort();
    await assert.rejects(
      new PrometheusProvider({ url: `http://127.0.0.1:${closed}`, timeoutMs: 1000 }).measure('vector(1)'),
      /cannot reach prometheus at http:\/\/127\.0\.0\.1:\d+ \(ECONNREFUSED\)/,
    );
    const silent = await stub(() => undefined); // accepts, never answers
    try {
      await assert.rejects(new PrometheusProvider({ url: silent.url, timeoutMs: 300 }).measure('vector(1)'), /did not answer within 0\.3 s/);
    } finally {
      silent.server.closeAllConnections();
      silent.server.close();
    }
  });

  it('sends a bearer token or basic auth, and names neither when they are refused', async () => {
    const seen: string[] = [];
    const guard = await stub((req, res) => {
      seen.push(req.headers.authorization ?? '');
      res.writeHead(401, { 'Content-Type': 'text/plain' }).end('unauthorized');
    });
    try {
      const token = 'tok-7b1d2c3e-not-for-logs';
      const err = await new PrometheusProvider({ url: guard.url, timeoutMs: 2000, bearerToken: token }).measure('vector(1)').catch((e: Error) => e);
      assert.match(String((err as Error).message), /refused rotor's credentials \(HTTP 401\); check ROTOR_PROMETHEUS_TOKEN/);
      assert.ok(!String((err as Error).message).includes(token));
      await new PrometheusProvider({ url: guard.url, timeoutMs: 2000, basicAuth: { username: 'rotor', password: 'pw-secret' } })
        .measure('vector(1)')
        .catch(() => undefined);
      assert.deepEqual(seen, [`Bearer ${token}`, `Basic ${Buffer.from('rotor:pw-secret').toString('base64')}`]);
    } finally {
      guard.server.close();
    }
  });

  it('measures a whole analysis window through rotor: passed below the threshold, failed above, inconclusive without data', async () => {
    const acts = createActivities({
      cluster: new MemoryCluster({ secrets: [], workloads: [] }),
      stores: { kubernetes: new KubernetesSecretStore() },
      metrics: { prometheus: provider },
    });
    const analysis = (query: string, inconclusiveLimit: number): Analysis => ({
      provider: 'prometheus',
      query,
      threshold: 0.01,
      intervalMs: 50,
      failureLimit: 2,
      inconclusiveLimit,
      verifyMs: 200,
    });
    const run = (query: string, inconclusiveLimit = 100): Promise<CheckResult> =>
      new MockActivityEnvironment().run(acts.monitorAnalysis as (i: unknown) => Promise<CheckResult>, {
        stage: 'staging',
        check: 'verify' as const,
        analysis: analysis(query, inconclusiveLimit),
        durationMs: 200,
      });
    const passed = await run('vector(0.001)');
    assert.equal(passed.verdict, 'passed', passed.reason);
    assert.equal(passed.lastValue, 0.001);
    const failed = await run('vector(0.2)');
    assert.equal(failed.verdict, 'failed');
    assert.match(failed.reason, /above the threshold 0\.01/);
    const empty = await run('vector(1) > 2');
    assert.equal(empty.verdict, 'inconclusive', `a window without data never passes: ${empty.reason} ${JSON.stringify(empty.recent)}`);
    const silent = await run('vector(1) > 2', 2);
    assert.equal(silent.verdict, 'failed', 'and fails once inconclusiveLimit measurements in a row had none');
    assert.match(silent.reason, /without data|no data/);
  });
});

describe('the worker reads the Prometheus settings at start', () => {
  it('takes the URL, a timeout and one kind of credentials, and names every bad one at once', () => {
    const ok = workerConfig({ ROTOR_PROMETHEUS_URL: 'http://prometheus.monitoring:9090', ROTOR_PROMETHEUS_TIMEOUT: '5s', ROTOR_PROMETHEUS_TOKEN: 't' });
    assert.deepEqual(ok.prometheus, { url: 'http://prometheus.monitoring:9090', timeoutMs: 5000, bearerToken: 't' });
    assert.equal(workerConfig({}).prometheus, null);
    assert.throws(
      () =>
        workerConfig({
          ROTOR_PROMETHEUS_URL: 'http://admin:hunter2@prom:9090',
          ROTOR_PROMETHEUS_TIMEOUT: 'soon',
          ROTOR_PROMETHEUS_TOKEN: 't',
          ROTOR_PROMETHEUS_USERNAME: 'u',
        }),
      (err: Error) => {
        assert.match(err.message, /ROTOR_PROMETHEUS_URL is not an http\(s\) URL without credentials/);
        assert.match(err.message, /ROTOR_PROMETHEUS_TIMEOUT=soon is not a duration/);
        assert.match(err.message, /set ROTOR_PROMETHEUS_TOKEN or ROTOR_PROMETHEUS_USERNAME\/PASSWORD, not both/);
        assert.match(err.message, /ROTOR_PROMETHEUS_USERNAME and ROTOR_PROMETHEUS_PASSWORD go together/);
        assert.ok(!err.message.includes('hunter2'), 'a credential in the URL is not echoed');
        return true;
      },
    );
    assert.throws(() => workerConfig({ ROTOR_PROMETHEUS_TOKEN: 't' }), /ROTOR_PROMETHEUS_TOKEN set without ROTOR_PROMETHEUS_URL/);
  });
});
