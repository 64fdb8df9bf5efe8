// The worker's secret settings from files (`<NAME>_FILE`, as containers mount Secrets): checked at
// start like the codec's keys file, and read again when the file changes, so a credential rotated on
// disk is used at the next call. Here against the Datadog emulator (the official client, real HTTP)
// and a local issuer that records the token it is sent.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { chmodSync, mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatadogProvider } from '../activities/metrics/datadog';
import { HttpCredentialIssuer } from '../activities/issuers/http';
import { startDatadogEmulator, type DatadogEmulator, type DatadogEmulatorOptions } from '../sandbox/datadog/server';
import { TrafficCounters } from '../sandbox/traffic-counters';
import { workerConfig, WorkerConfigError } from '../worker/config';

const dir = mkdtempSync(join(tmpdir(), 'rotor-credentials-'));
const QUERY = 'sum:auth.requests.errors{env:staging}.as_count() / sum:auth.requests{env:staging}.as_count()';

/** Write a credential file as kubelet updates a mounted Secret: a new file swapped in, private. */
function writeKey(name: string, value: string, mode = 0o600): string {
  const path = join(dir, name);
  writeFileSync(`${path}.new`, `${value}\n`, { mode });
  chmodSync(`${path}.new`, mode);
  renameSync(`${path}.new`, path);
  return path;
}

function problemsOf(env: NodeJS.ProcessEnv): string[] {
  try {
    workerConfig({ TEMPORAL_ADDRESS: '127.0.0.1:7233', ...env });
    return [];
  } catch (err) {
    if (err instanceof WorkerConfigError) return err.problems;
    throw err;
  }
}

let dd: DatadogEmulator;
let ddOptions: DatadogEmulatorOptions;

before(async () => {
  const counters = new TrafficCounters();
  const at = Math.floor(Date.now() / 10_000) * 10_000 - 120_000;
  for (let i = 0; i < 10; i++) counters.record({ namespace: 'staging', workload: 'auth-service', pod: 'a', version: 'v1' }, i > 0, at);
  ddOptions = { counters, apiKey: 'ddapi-first-not-for-logs', appKey: 'ddapp-first-not-for-logs' };
  dd = await startDatadogEmulator(ddOptions);
});

after(async () => {
  await dd?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('credentials from files', () => {
  it('uses DD_API_KEY_FILE rotated on disk at the next measurement, without a restart', async () => {
    const env = {
      DD_API_KEY_FILE: writeKey('dd-api', 'ddapi-first-not-for-logs'),
      DD_APP_KEY_FILE: writeKey('dd-app', 'ddapp-first-not-for-logs'),
      ROTOR_DATADOG_URL: dd.url,
    };
    const config = workerConfig({ TEMPORAL_ADDRESS: '127.0.0.1:7233', ...env });
    const provider = new DatadogProvider(config.datadog!);
    const options = { windowMs: 5 * 60_000, datadog: { api: 'v2' as const, aggregator: 'sum' as const } };
    assert.equal(await provider.measure(QUERY, options), 0.1);
    // The organization rotates its API key: the old one is refused from now on.
    ddOptions.apiKey = 'ddapi-second-not-for-logs';
    await assert.rejects(provider.measure(QUERY, options), /refused the API or application key \(HTTP 403\)/);
    writeKey('dd-api', 'ddapi-second-not-for-logs');
    assert.equal(await provider.measure(QUERY, options), 0.1, 'the rotated key is used at the next measurement');
  });

  it("sends the issuer's token from ROTOR_ISSUER_TOKEN_FILE as it is on disk at each call", async () => {
    const seen: string[] = [];
    const server: Server = createServer((req, res) => {
      seen.push(req.headers.authorization ?? '');
      res.writeHead(200, { 'Content-Type': 'application/json' }).end(JSON.stringify({ id: 'x', state: 'active', issuedAt: '2026-12-07T00:00:00Z' }));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      const config = workerConfig({ TEMPORAL_ADDRESS: '127.0.0.1:7233', ROTOR_ISSUER_URL: url, ROTOR_ISSUER_TOKEN_FILE: writeKey('issuer', 'issuer-one') });
      const issuer = new HttpCredentialIssuer(config.issuer!);
      await issuer.revoke('x').catch(() => undefined);
      writeKey('issuer', 'issuer-two');
      await issuer.revoke('x').catch(() => undefined);
      assert.deepEqual(seen, ['Bearer issuer-one', 'Bearer issuer-two']);
    } finally {
      server.close();
    }
  });

  it('refuses at start a file readable by every user, an empty or missing one, and a setting given both ways, naming each variable', () => {
    const open = writeKey('open', 'x', 0o644);
    const empty = writeKey('empty', ' ');
    const problems = problemsOf({
      DD_API_KEY_FILE: open,
      DD_APP_KEY_FILE: empty,
      ROTOR_ISSUER_URL: 'http://127.0.0.1:1',
      ROTOR_ISSUER_TOKEN: 't',
      ROTOR_ISSUER_TOKEN_FILE: writeKey('t', 't'),
      ROTOR_PROMETHEUS_URL: 'http://127.0.0.1:1',
      ROTOR_PROMETHEUS_TOKEN_FILE: join(dir, 'missing'),
    });
    assert.deepEqual(
      problems.map((p) => p.split(' ')[0]),
      [`ROTOR_PROMETHEUS_TOKEN_FILE=${join(dir, 'missing')}`, `DD_API_KEY_FILE=${open}`, `DD_APP_KEY_FILE=${empty}`, 'set'],
      problems.join('\n'),
    );
    assert.match(problems[0], /does not exist; point ROTOR_PROMETHEUS_TOKEN_FILE at a file/);
    assert.match(problems[1], /readable by every user \(mode 644\); make it private with chmod 600, or mount the Secret with defaultMode 0400/);
    assert.match(problems[2], /is empty/);
    assert.match(problems[3], /^set ROTOR_ISSUER_TOKEN or ROTOR_ISSUER_TOKEN_FILE, not both/);
    assert.ok(!problems.join('\n').includes('ddapi'), 'no value in a message');
  });

  it('fails the call that needs a credential whose file is gone, saying which and how to fix it', async () => {
    const path = writeKey('gone', 'ddapi-first-not-for-logs');
    const config = workerConfig({
      TEMPORAL_ADDRESS: '127.0.0.1:7233',
      DD_API_KEY_FILE: path,
      DD_APP_KEY: 'ddapp-first-not-for-logs',
      ROTOR_DATADOG_URL: dd.url,
    });
    rmSync(path);
    const provider = new DatadogProvider(config.datadog!);
    await assert.rejects(provider.measure(QUERY, { windowMs: 60_000, datadog: { api: 'v2', aggregator: 'sum' } }), /DD_API_KEY_FILE=.* does not exist/);
  });
});
