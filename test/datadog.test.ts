// The Datadog provider, built on the official client, against the sandbox's Datadog emulator fed with
// known traffic: v2 scalar formulas and v1 series, scopes, arithmetic, rates, no data, several series,
// refused keys (never echoed), bad queries, rate limits and retries, an outage, monitors and events;
// the query splitter on its own; and the worker's Datadog settings.
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { DatadogProvider, splitDatadogQuery, type DatadogSettings } from '../activities/metrics/datadog';
import { RotorError } from '../activities/errors';
import { freePort } from '../sandbox/control-plane';
import { startDatadogEmulator, type DatadogEmulator } from '../sandbox/datadog/server';
import { TrafficCounters, type TrafficLabels } from '../sandbox/traffic-counters';
import { workerConfig } from '../worker/config';

const API_KEY = 'ddapi-5f1c9e2a7b-not-for-logs';
const APP_KEY = 'ddapp-8b3d7c41e0-not-for-logs';
const WINDOW = { windowMs: 5 * 60_000 };
const v1 = (aggregator: 'avg' | 'sum' | 'last' = 'avg') => ({ ...WINDOW, datadog: { api: 'v1' as const, aggregator } });
const v2 = (aggregator: 'avg' | 'sum' | 'min' | 'max' | 'last' = 'avg') => ({ ...WINDOW, datadog: { api: 'v2' as const, aggregator } });

const RATIO = 'sum:auth.requests.errors{env:staging}.as_count() / sum:auth.requests{env:staging}.as_count()';

let counters: TrafficCounters;
let dd: DatadogEmulator;
let delayed: DatadogEmulator;
const logs: string[] = [];
const emulatorLogs: string[] = [];

function provider(overrides: Partial<DatadogSettings> = {}): DatadogProvider {
  return new DatadogProvider({ apiKey: API_KEY, appKey: APP_KEY, url: dd.url, timeoutMs: 5000, ...overrides }, (message, fields) =>
    logs.push(`${message} ${JSON.stringify(fields ?? {})}`),
  );
}

/** `requests` requests of which `errors` failed, all in the bucket at `atMs`. */
function traffic(labels: TrafficLabels, requests: number, errors: number, atMs: number): void {
  for (let i = 0; i < requests; i++) counters.record(labels, i >= errors, atMs);
}

/** The provider's error: a ProviderError whose message matches, and never holds a key. */
async function providerError(promise: Promise<unknown>, pattern: RegExp): Promise<RotorError> {
  const err = await promise.then(
    () => assert.fail('expected an error'),
    (e: unknown) => e,
  );
  assert.ok(err instanceof RotorError, `a RotorError, not ${String(err)}`);
  assert.equal(err.type, 'ProviderError');
  assert.match(err.message, pattern);
  for (const key of [API_KEY, APP_KEY]) assert.ok(!`${err.message} ${err.object ?? ''} ${err.stack ?? ''}`.includes(key), 'no key in the error');
  return err;
}

/** A local HTTP server that answers like the given function. */
async function stub(handler: Parameters<typeof createServer>[1]): Promise<{ url: string; server: Server }> {
  const port = await freePort();
  const server = createServer(handler);
  await new Promise<void>((r) => server.listen(port, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${port}`, server };
}

// Known traffic, two minutes ago (inside the five-minute window, older than the delayed emulator's minute):
//   staging   auth-a (v1): 10 requests / 1 error at base, 10 / 3 at base+30s
//             auth-b (v2): 10 / 0 at base, 5 / 1 at base+30s        -> 5 errors in 35 requests
//   production auth-p (v1): 100 / 50 at base+10s
//   delayed   auth-d (v1): 4 / 0 at base, and 10 / 0 five seconds ago (not ingested yet by `delayed`)
const staging = (pod: string, version: string): TrafficLabels => ({ namespace: 'staging', workload: 'auth-service', pod, version });
before(async () => {
  counters = new TrafficCounters();
  const base = Math.floor(Date.now() / 10_000) * 10_000 - 120_000;
  traffic(staging('auth-a', 'api-token-v1'), 10, 1, base);
  traffic(staging('auth-b', 'api-token-v2'), 10, 0, base);
  traffic(staging('auth-a', 'api-token-v1'), 10, 3, base + 30_000);
  traffic(staging('auth-b', 'api-token-v2'), 5, 1, base + 30_000);
  traffic({ namespace: 'production', workload: 'auth-service', pod: 'auth-p', version: 'api-token-v1' }, 100, 50, base + 10_000);
  const d: TrafficLabels = { namespace: 'delayed', workload: 'auth-service', pod: 'auth-d', version: 'api-token-v1' };
  traffic(d, 4, 0, base);
  traffic(d, 10, 0, Date.now() - 5_000);
  dd = await startDatadogEmulator({ counters, apiKey: API_KEY, appKey: APP_KEY, log: (l) => emulatorLogs.push(l) });
  delayed = await startDatadogEmulator({ counters, apiKey: API_KEY, appKey: APP_KEY, ingestDelayMs: 60_000, log: (l) => emulatorLogs.push(l) });
});

after(async () => {
  await dd?.stop();
  await delayed?.stop();
  for (const line of [...logs, ...emulatorLogs]) {
    for (const key of [API_KEY, APP_KEY]) assert.ok(!line.includes(key), `no key in the log line: ${line}`);
  }
});

describe('splitting a Datadog query into named metric terms and a formula', () => {
  it('names each term a, b, c ... and keeps the arithmetic around them', () => {
    assert.deepEqual(splitDatadogQuery(RATIO), {
      queries: [
        { name: 'a', query: 'sum:auth.requests.errors{env:staging}.as_count()' },
        { name: 'b', query: 'sum:auth.requests{env:staging}.as_count()' },
      ],
      formula: 'a / b',
    });
    assert.deepEqual(splitDatadogQuery('100 * sum:x.y{*}.as_count()'), { queries: [{ name: 'a', query: 'sum:x.y{*}.as_count()' }], formula: '100 * a' });
    assert.deepEqual(splitDatadogQuery('avg:x{env:a,!version:v1}'), { queries: [{ name: 'a', query: 'avg:x{env:a,!version:v1}' }], formula: 'a' });
  });

  it('gives a term written twice one name, and keeps by {...} and chained modifiers with their term', () => {
    assert.deepEqual(splitDatadogQuery('sum:e{env:a}.as_count() / (sum:e{env:a}.as_count() + sum:r{env:a}.rollup(sum, 60).as_rate())'), {
      queries: [
        { name: 'a', query: 'sum:e{env:a}.as_count()' },
        { name: 'b', query: 'sum:r{env:a}.rollup(sum, 60).as_rate()' },
      ],
      formula: 'a / (a + b)',
    });
    assert.deepEqual(splitDatadogQuery('max:r{env:a} by {pod_name,version}.as_rate()'), {
      queries: [{ name: 'a', query: 'max:r{env:a} by {pod_name,version}.as_rate()' }],
      formula: 'a',
    });
    assert.deepEqual(splitDatadogQuery('abs(avg:x{*}) - 1').formula, 'abs(a) - 1');
  });

  it('refuses a query without a metric term', () => {
    assert.throws(() => splitDatadogQuery('42'), /has no metric term; write it like sum:<metric>\{<scope>\}/);
  });
});

describe('Datadog provider on the emulator, through the official client', () => {
  it('v2: reduces a ratio of two terms to the exact error ratio over the window', async () => {
    assert.equal(await provider().measure(RATIO, v2('avg')), 5 / 35);
    assert.equal(await provider().measure(RATIO, v2('sum')), 5 / 35);
    assert.equal(await provider().measure(RATIO), 5 / 35, 'v2 with avg is the default');
    assert.equal(await provider().measure('sum:auth.requests.errors{env:staging}.as_count()', v2('sum')), 5);
    assert.equal(await provider().measure('sum:auth.requests.errors{env:staging}.as_count()', v2('max')), 4);
    assert.equal(await provider().measure('sum:auth.requests.errors{env:staging}.as_count()', v2('last')), 4);
  });

  it('v1: takes the last point of the one series', async () => {
    assert.equal(await provider().measure('sum:auth.requests.errors{env:staging}.as_count()', v1()), 4);
    assert.equal(await provider().measure(RATIO, v1()), 4 / 15);
    assert.equal(await provider().measure('max:auth.requests{env:staging}.as_count()', v1()), 10);
  });

  it('matches !tag:value and * scopes', async () => {
    assert.equal(await provider().measure('sum:auth.requests{env:staging,!pod_name:auth-b}.as_count()', v2('sum')), 20);
    assert.equal(await provider().measure('sum:auth.requests{env:staging,!pod_name:auth-b}.as_count()', v1()), 10);
    assert.equal(await provider().measure('sum:auth.requests{kube_namespace:staging,!version:api-token-v1}.as_count()', v2('sum')), 15);
    assert.equal(await provider().measure('sum:auth.requests{*}.as_count()', v2('sum')), 35 + 100 + 14);
  });

  it('computes arithmetic with numbers and parentheses', async () => {
    assert.equal(await provider().measure(`100 * ${RATIO}`, v2()), (100 * 5) / 35);
    assert.equal(await provider().measure('(sum:auth.requests{env:production}.as_count() - 50) / 2', v2('sum')), 25);
    assert.equal(await provider().measure('(sum:auth.requests{env:production}.as_count() - 50) / 2', v1()), 25);
  });

  it('takes .as_rate() as the count per second of the rollup interval', async () => {
    assert.equal(await provider().measure('sum:auth.requests{env:production}.rollup(sum, 60).as_rate()', v1()), 100 / 60);
    assert.equal(await provider().measure('sum:auth.requests{env:production}.as_rate()', v1()), 100, 'one-second intervals');
  });

  it('calls no data, and a division by zero, null: never a value', async () => {
    assert.equal(await provider().measure('sum:auth.requests{env:nowhere}.as_count()', v2()), null);
    assert.equal(await provider().measure('sum:auth.requests{env:nowhere}.as_count()', v1()), null);
    assert.equal(await provider().measure('sum:auth.requests.errors{env:staging}.as_count() / sum:auth.requests{env:nowhere}.as_count()', v2()), null);
    assert.equal(await provider().measure('sum:no.such.metric{*}.as_count()', v2()), null);
    assert.equal(
      await provider().measure(
        'sum:auth.requests.errors{env:staging}.as_count() / (sum:auth.requests{env:staging}.as_count() - sum:auth.requests{env:staging}.as_count())',
        v2(),
      ),
      null,
    );
  });

  it('refuses several series, saying to aggregate', async () => {
    const grouped = 'sum:auth.requests{env:staging} by {pod_name}.as_count()';
    await providerError(
      provider().measure(grouped, v1()),
      /returned 2 series; aggregate it to one, e\.g\. remove "by \{\.\.\.\}" \(first: env:staging,pod_name:auth-a\)/,
    );
    await providerError(provider().measure(grouped, v2()), /returned 2 values \(one per group\); aggregate it to one, e\.g\. remove "by \{\.\.\.\}"/);
  });

  it('says Datadog refused the keys, and names neither key', async () => {
    for (const settings of [{ apiKey: 'wrong-api-key' }, { appKey: 'wrong-app-key' }]) {
      for (const options of [v1(), v2()]) {
        const err = await providerError(
          provider(settings).measure(RATIO, options),
          /^Datadog refused the API or application key \(HTTP 403\); check DD_API_KEY and DD_APP_KEY on the worker$/,
        );
        assert.equal(err.status, 403);
        assert.ok(!err.message.includes('wrong-'), 'not even the wrong key');
      }
      await providerError(provider(settings).monitorStates([1]), /refused the API or application key \(HTTP 403\)/);
    }
    await providerError(provider({ apiKey: 'wrong-api-key' }).postEvent({ title: 't', text: 'x', tags: [], alertType: 'info' }), /HTTP 403/);
  });

  it("surfaces Datadog's own text for a query it does not understand (HTTP 400)", async () => {
    await providerError(
      provider().measure('abs(sum:auth.requests{*}.as_count())', v2()),
      /rejected the query \(HTTP 400\): Error parsing formula: the function 'abs\(\)' is not understood/,
    );
    await providerError(
      provider().measure('sum:auth.requests{env:staging}.fill(zero)', v1()),
      /rejected the query \(HTTP 400\): Error parsing query: the function '\.fill\(\)' is not understood/,
    );
    await providerError(
      provider().measure('sum:auth.requests{env:staging OR env:production}', v2()),
      /HTTP 400\): .*the scope item 'env:staging OR env:production' is not understood/,
    );
    await providerError(provider().measure('p95:auth.requests{*}', v1()), /HTTP 400\): .*the space aggregator 'p95' is not understood/);
    await providerError(provider().measure('auth.requests{*}', v1()), /HTTP 400\): .*has no space aggregator; write sum:auth\.requests/);
  });

  it('retries a 429 after x-ratelimit-reset with the client, and succeeds', async () => {
    const before = dd.requests().length;
    dd.throttle(2, 1);
    assert.equal(await provider().measure(RATIO, v2()), 5 / 35);
    assert.deepEqual(
      dd
        .requests()
        .slice(before)
        .map((r) => `${r.path} ${r.status}`),
      ['/api/v2/query/scalar 429', '/api/v2/query/scalar 429', '/api/v2/query/scalar 200'],
    );
    assert.equal(logs.filter((l) => l.startsWith('Datadog rate limited a request')).length >= 2, true, logs.join('\n'));
  });

  it('caps the wait a reset asks for, and says when the limit resets once retries are spent', async () => {
    const before = dd.requestCount('/api/v1/query');
    dd.throttle(1, 3600); // an hour: the provider waits its cap (1 s here) instead
    assert.equal(await provider({ maxRateLimitWaitSeconds: 1 }).measure('sum:auth.requests.errors{env:staging}.as_count()', v1()), 4);
    assert.equal(dd.requestCount('/api/v1/query') - before, 2);
    dd.throttle(5, 1);
    try {
      await providerError(
        provider({ maxRetries: 1 }).measure(RATIO, v2()),
        /^Datadog rate limited the query \(limit query_scalar: 1000 requests per 60 s\) and still did after 1 retries; the limit resets in 1 s/,
      );
    } finally {
      dd.throttle(0, 0);
    }
  });

  it('says when Datadog is down, cannot be reached or does not answer in time', async () => {
    dd.down(true);
    const before = dd.requestCount('/api/v2/query/scalar');
    try {
      await providerError(
        provider({ maxRetries: 1 }).measure(RATIO, v2()),
        /^Datadog at http:\/\/127\.0\.0\.1:\d+ is unavailable \(HTTP 503\) after 2 attempts at the query/,
      );
      assert.equal(dd.requestCount('/api/v2/query/scalar') - before, 2, 'the client retried the 503 once');
    } finally {
      dd.down(false);
    }
    const closed = await freePort();
    await providerError(
      provider({ url: `http://127.0.0.1:${closed}` }).measure(RATIO, v2()),
      /^cannot reach Datadog at http:\/\/127\.0\.0\.1:\d+ for the query \(ECONNREFUSED\)/,
    );
    const silent = await stub(() => undefined); // accepts, never answers
    try {
      await providerError(
        provider({ url: silent.url, timeoutMs: 300 }).measure(RATIO, v1()),
        /^Datadog at http:\/\/127\.0\.0\.1:\d+ did not answer the query within 0\.3 s/,
      );
    } finally {
      silent.server.closeAllConnections();
      silent.server.close();
    }
  });

  it("reads monitors' overall states, and names an unknown monitor", async () => {
    dd.setMonitor(101, { name: 'auth-api errors (staging)', query: 'sum(last_5m):sum:auth.requests.errors{env:staging}.as_count() > 10', overall_state: 'OK' });
    dd.setMonitor(102, {
      name: 'auth-api errors (production)',
      query: 'sum(last_5m):sum:auth.requests.errors{env:production}.as_count() > 10',
      overall_state: 'Alert',
    });
    assert.deepEqual(await provider().monitorStates([101, 102]), [
      { id: 101, name: 'auth-api errors (staging)', state: 'OK' },
      { id: 102, name: 'auth-api errors (production)', state: 'Alert' },
    ]);
    dd.setMonitor(101, { name: 'auth-api errors (staging)', query: 'q', overall_state: 'No Data' });
    assert.deepEqual(await provider().monitorStates([101]), [{ id: 101, name: 'auth-api errors (staging)', state: 'No Data' }]);
    const err = await providerError(provider().monitorStates([101, 999]), /^Datadog has no monitor 999 \(HTTP 404\); check the monitor ids/);
    assert.equal(err.status, 404);
    const listed = (await (
      await fetch(`${dd.url}/api/v1/monitor?monitor_ids=101,102,999`, { headers: { 'DD-API-KEY': API_KEY, 'DD-APPLICATION-KEY': APP_KEY } })
    ).json()) as { id: number; overall_state: string }[];
    assert.deepEqual(
      listed.map((m) => [m.id, m.overall_state]),
      [
        [101, 'No Data'],
        [102, 'Alert'],
      ],
    );
  });

  it('posts an event with its tags, with the API key alone', async () => {
    await provider({ appKey: 'not-needed-for-events' }).postEvent({
      title: 'rotor: staging switched to api-token-20261130120000',
      text: 'auth-service moved to the new version',
      tags: ['rotation:rotate-staging-api-token', 'stage:staging'],
      alertType: 'success',
    });
    const [event] = dd.events().slice(-1);
    assert.equal(event.title, 'rotor: staging switched to api-token-20261130120000');
    assert.equal(event.text, 'auth-service moved to the new version');
    assert.deepEqual(event.tags, ['rotation:rotate-staging-api-token', 'stage:staging']);
    assert.equal(event.alertType, 'success');
  });

  it('hides points younger than the ingestion delay', async () => {
    const query = 'sum:auth.requests{env:delayed}.as_count()';
    assert.equal(await provider().measure(query, v2('sum')), 14, 'without a delay both buckets count');
    assert.equal(await provider({ url: delayed.url }).measure(query, v2('sum')), 4, 'the bucket of five seconds ago is not ingested yet');
    assert.equal(await provider({ url: delayed.url }).measure(query, v1()), 4);
  });

  it('answers validate and every API answer with the rate-limit headers, and refuses a wrong key with Forbidden', async () => {
    const ok = await fetch(`${dd.url}/api/v1/validate`, { headers: { 'DD-API-KEY': API_KEY } });
    assert.equal(ok.status, 200);
    assert.deepEqual(await ok.json(), { valid: true });
    for (const h of ['x-ratelimit-limit', 'x-ratelimit-period', 'x-ratelimit-remaining', 'x-ratelimit-reset', 'x-ratelimit-name']) {
      assert.ok(ok.headers.get(h), `${h} on the answer`);
    }
    const refused = await fetch(`${dd.url}/api/v1/validate`, { headers: { 'DD-API-KEY': 'nope' } });
    assert.equal(refused.status, 403);
    assert.deepEqual(await refused.json(), { errors: ['Forbidden'] });
    const noAppKey = await fetch(`${dd.url}/api/v1/query?from=1&to=2&query=sum:auth.requests{*}`, { headers: { 'DD-API-KEY': API_KEY } });
    assert.equal(noAppKey.status, 403, 'queries need the application key too');
  });
});

describe('the worker reads the Datadog settings at start', () => {
  it('takes both keys with a site or a URL and a timeout', () => {
    const keys = { DD_API_KEY: API_KEY, DD_APP_KEY: APP_KEY };
    assert.deepEqual(workerConfig({ ...keys, DD_SITE: 'datadoghq.eu', ROTOR_DATADOG_TIMEOUT: '5s' }).datadog, {
      apiKey: API_KEY,
      appKey: APP_KEY,
      site: 'datadoghq.eu',
      timeoutMs: 5000,
    });
    assert.deepEqual(workerConfig(keys).datadog, { apiKey: API_KEY, appKey: APP_KEY, site: 'datadoghq.com', timeoutMs: 10_000 });
    assert.deepEqual(workerConfig({ ...keys, ROTOR_DATADOG_URL: 'http://127.0.0.1:8126' }).datadog, {
      apiKey: API_KEY,
      appKey: APP_KEY,
      url: 'http://127.0.0.1:8126',
      timeoutMs: 10_000,
    });
    assert.equal(workerConfig({}).datadog, null);
    assert.equal(workerConfig({ DD_SITE: 'datadoghq.eu' }).datadog, null, 'DD_SITE alone (set for the Datadog agent) is no provider and no error');
  });

  it('names every bad setting at once, and never a key', () => {
    assert.throws(
      () => workerConfig({ DD_API_KEY: API_KEY, DD_SITE: 'datadoghq.org', ROTOR_DATADOG_URL: 'http://user:hunter2@proxy:8443', ROTOR_DATADOG_TIMEOUT: 'soon' }),
      (err: Error) => {
        assert.match(err.message, /DD_API_KEY is set without DD_APP_KEY; Datadog needs both/);
        assert.match(err.message, /set DD_SITE or ROTOR_DATADOG_URL, not both/);
        assert.match(
          err.message,
          /DD_SITE=datadoghq\.org is not a Datadog site; set it to one of datadoghq\.com, us3\.datadoghq\.com, us5\.datadoghq\.com, datadoghq\.eu, ap1\.datadoghq\.com/,
        );
        assert.match(err.message, /ROTOR_DATADOG_URL is not an http\(s\) URL without credentials/);
        assert.match(err.message, /ROTOR_DATADOG_TIMEOUT=soon is not a duration above zero/);
        assert.ok(!err.message.includes(API_KEY), 'the key is not echoed');
        assert.ok(!err.message.includes('hunter2'), 'a credential in the URL is not echoed');
        return true;
      },
    );
    assert.throws(
      () => workerConfig({ DD_APP_KEY: APP_KEY }),
      (err: Error) => /DD_APP_KEY is set without DD_API_KEY/.test(err.message) && !err.message.includes(APP_KEY),
    );
    assert.throws(
      () => workerConfig({ ROTOR_DATADOG_URL: 'http://proxy:8443', ROTOR_DATADOG_TIMEOUT: '5s' }),
      /ROTOR_DATADOG_URL, ROTOR_DATADOG_TIMEOUT set without DD_API_KEY and DD_APP_KEY/,
    );
  });
});
