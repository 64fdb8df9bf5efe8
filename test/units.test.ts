// Unit tests of the pure helpers (durations, version names, analysis) and the value helpers. No server,
// no cluster; the in-memory cluster is held to the Kubernetes adapter's contract in cluster-contract.test.ts.
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { RotorError, type RotorErrorType } from '../activities/errors';
import { MemoryMetrics } from '../activities/memory';
import { generateToken, parseEnvFile, resolveValue } from '../activities/values';
import { classify, concludeAnalysis, judge, measurementsToKeep, type AnalysisLimits, type Measurement, type MeasurementPhase } from '../domain/analysis';
import { formatDuration, parseDuration } from '../domain/duration';
import { parseVersionName, VERSION_SUFFIX_LENGTH, versionDate, versionName, versionTimestamp } from '../domain/naming';

const SECOND = 1_000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

/** Asserts that a promise rejects with a RotorError of the given type; returns it for more checks. */
async function rejectsWith(promise: Promise<unknown>, type: RotorErrorType): Promise<RotorError> {
  let caught: unknown;
  await assert.rejects(promise, (err: unknown) => {
    caught = err;
    return true;
  });
  assert.ok(caught instanceof RotorError, `expected a RotorError, got ${String(caught)}`);
  assert.equal(caught.type, type);
  return caught;
}

function throwsWith(fn: () => unknown, type: RotorErrorType): RotorError {
  let caught: unknown;
  assert.throws(fn, (err: unknown) => {
    caught = err;
    return true;
  });
  assert.ok(caught instanceof RotorError, `expected a RotorError, got ${String(caught)}`);
  assert.equal(caught.type, type);
  return caught;
}

describe('parseDuration', () => {
  const good: [string, number][] = [
    ['30s', 30 * SECOND],
    ['10m', 10 * MINUTE],
    ['24h', DAY],
    ['14d', 14 * DAY],
    ['1h30m', 90 * MINUTE],
    ['1d12h', 36 * HOUR],
    ['500ms', 500],
    ['1m30s250ms', 90_250],
    ['0s', 0],
    [' 10m ', 10 * MINUTE],
  ];
  for (const [text, ms] of good) {
    it(`parses ${JSON.stringify(text)} as ${ms} ms`, () => {
      assert.deepEqual(parseDuration(text), { ms });
    });
  }

  const bad: [unknown, RegExp][] = [
    ['10 minutes', /^cannot parse; write a duration such as 30s, 10m, 24h, 14d or 1h30m$/],
    ['5', /cannot parse/],
    ['1.5h', /cannot parse/],
    ['10M', /cannot parse/],
    ['h', /cannot parse/],
    ['1h 30m', /cannot parse/],
    [5, /^a bare number has no unit; write a duration such as/],
    [0, /bare number/],
    ['-5m', /^must not be negative; write a duration such as/],
    ['', /^expected a duration such as/],
    ['   ', /^expected a duration/],
    [undefined, /^expected a duration/],
    [null, /^expected a duration/],
    [{ minutes: 5 }, /^expected a duration/],
    ['99999999999999999999d', /too large/],
  ];
  for (const [input, message] of bad) {
    it(`rejects ${String(JSON.stringify(input))} saying ${message}`, () => {
      const result = parseDuration(input);
      assert.ok('error' in result, `expected an error, got ${JSON.stringify(result)}`);
      assert.match(result.error, message);
    });
  }
});

describe('formatDuration', () => {
  const cases: [number, string][] = [
    [30 * SECOND, '30s'],
    [10 * MINUTE, '10m'],
    [DAY, '1d'],
    [14 * DAY, '14d'],
    [90 * MINUTE, '1h30m'],
    [90 * SECOND, '1m30s'],
    [1_500, '1s500ms'],
    [0, '0s'],
    [DAY + 1, '1d1ms'],
  ];
  for (const [ms, text] of cases) {
    it(`renders ${ms} ms as ${text}`, () => {
      assert.equal(formatDuration(ms), text);
    });
  }

  it('round-trips through parseDuration', () => {
    for (const ms of [0, 1, 999, 1_000, 61_000, 3_599_999, DAY, 14 * DAY + 3 * HOUR + 7 * SECOND, 400 * DAY]) {
      assert.deepEqual(parseDuration(formatDuration(ms)), { ms }, `${ms}`);
    }
  });
});

describe('version names', () => {
  it('stamps versions in UTC as YYYYMMDDHHMMSS', () => {
    assert.equal(versionTimestamp(new Date(Date.UTC(2025, 6, 23, 11, 0, 0))), '20250723110000');
    // the same instant written with an offset: still UTC
    assert.equal(versionTimestamp(new Date('2025-07-23T13:00:00+02:00')), '20250723110000');
    assert.equal(versionTimestamp(new Date('2025-12-31T23:30:00-05:00')), '20260101043000');
  });

  it('reads back when a version was made, UTC, and nothing from a name that is no version', () => {
    const at = new Date('2026-12-07T21:05:31Z');
    assert.equal(versionDate(versionName('auth-api-secrets', at))?.toISOString(), at.toISOString());
    assert.equal(versionDate('auth-api-secrets-20251231234559')?.toISOString(), '2025-12-31T23:45:59.000Z');
    assert.equal(versionDate('auth-api-secrets'), null);
    assert.equal(versionDate('auth-api-secrets-2025123123455'), null);
  });

  it('pads every field with zeros', () => {
    assert.equal(versionTimestamp(new Date(Date.UTC(2025, 0, 2, 3, 4, 5))), '20250102030405');
    const early = new Date(0);
    early.setUTCFullYear(999, 0, 1);
    assert.equal(versionTimestamp(early), '09990101000000');
    assert.equal(versionTimestamp(new Date(Date.UTC(2025, 0, 2, 3, 4, 5))).length, VERSION_SUFFIX_LENGTH - 1);
  });

  it('ignores milliseconds', () => {
    assert.equal(versionName('auth-api-secrets', new Date('2025-07-23T11:00:00.999Z')), 'auth-api-secrets-20250723110000');
  });

  it('names a version <base>-<timestamp> and parses it back', () => {
    const name = versionName('auth-api-secrets', new Date(Date.UTC(2025, 6, 23, 11, 0, 0)));
    assert.equal(name, 'auth-api-secrets-20250723110000');
    assert.equal(name.length, 'auth-api-secrets'.length + VERSION_SUFFIX_LENGTH);
    assert.deepEqual(parseVersionName(name, 'auth-api-secrets'), { base: 'auth-api-secrets', timestamp: '20250723110000' });
  });

  it('matches the base exactly', () => {
    assert.deepEqual(parseVersionName('auth-api-secrets-20250723110000', 'auth-api-secrets'), { base: 'auth-api-secrets', timestamp: '20250723110000' });
    assert.equal(parseVersionName('auth-api-secrets-20250723110000', 'auth-api'), null);
    assert.equal(parseVersionName('auth-api-secrets-20250723110000', 'api-secrets'), null);
    assert.equal(parseVersionName('auth-api-secrets-20250723110000', 'auth-api-secrets-2025'), null);
    assert.equal(parseVersionName('my-auth-api-secrets-20250723110000', 'auth-api-secrets'), null);
  });

  it('does not take other suffixes for versions', () => {
    assert.equal(parseVersionName('auth-api-secrets-old', 'auth-api-secrets'), null);
    assert.equal(parseVersionName('auth-api-secrets', 'auth-api-secrets'), null);
    assert.equal(parseVersionName('auth-api-secrets-2025072311000', 'auth-api-secrets'), null, '13 digits');
    assert.equal(parseVersionName('auth-api-secrets-202507231100000', 'auth-api-secrets'), null, '15 digits');
    assert.equal(parseVersionName('auth-api-secrets20250723110000', 'auth-api-secrets'), null, 'no dash');
    assert.equal(parseVersionName('auth-api-secrets-20250723110000-old', 'auth-api-secrets'), null);
  });
});

describe('analysis', () => {
  const limits = (over: Partial<AnalysisLimits> = {}): AnalysisLimits => ({ threshold: 0.01, failureLimit: 2, inconclusiveLimit: 3, ...over });
  const VALUE: Record<MeasurementPhase, number | null> = { successful: 0.001, failed: 0.5, inconclusive: null, error: null };
  const ms = (...phases: MeasurementPhase[]): Measurement[] =>
    phases.map((phase, i) => ({
      at: new Date(Date.UTC(2025, 6, 23, 11, i)).toISOString(),
      value: VALUE[phase],
      phase,
      message: phase === 'error' ? 'prometheus: 503 Service Unavailable' : phase === 'inconclusive' ? 'the query returned no data' : undefined,
    }));

  describe('classify', () => {
    it('passes at or below the threshold and fails above it', () => {
      assert.equal(classify(0.001, 0.01), 'successful');
      assert.equal(classify(0.01, 0.01), 'successful');
      assert.equal(classify(0.0100001, 0.01), 'failed');
      assert.equal(classify(-1, 0), 'successful');
      assert.equal(classify(Number.POSITIVE_INFINITY, 10), 'failed');
      assert.equal(classify(0, 0), 'successful');
    });

    it('calls a missing value inconclusive, never successful', () => {
      assert.equal(classify(null, 0.01), 'inconclusive');
      assert.equal(classify(undefined, 0.01), 'inconclusive');
      assert.equal(classify(Number.NaN, 0.01), 'inconclusive');
    });
  });

  describe('judge', () => {
    it('is running with no measurement', () => {
      const j = judge([], limits());
      assert.equal(j.verdict, 'running');
      assert.deepEqual([j.consecutiveFailed, j.consecutiveInconclusive, j.consecutiveErrors], [0, 0, 0]);
    });

    it('fails once failureLimit consecutive measurements are above the threshold', () => {
      assert.equal(judge(ms('failed'), limits()).verdict, 'running');
      const j = judge(ms('successful', 'failed', 'failed'), limits());
      assert.equal(j.verdict, 'failed');
      assert.equal(j.consecutiveFailed, 2);
      assert.match(j.reason, /2 consecutive measurement\(s\) above the threshold 0\.01 \(last 0\.5\)/);
    });

    it('fails at the first failure with failureLimit 1', () => {
      const j = judge(ms('successful', 'successful', 'failed'), limits({ failureLimit: 1 }));
      assert.equal(j.verdict, 'failed');
      assert.equal(j.consecutiveFailed, 1);
    });

    it('resets the failure count on a success', () => {
      const j = judge(ms('failed', 'successful', 'failed', 'successful', 'failed'), limits());
      assert.equal(j.verdict, 'running');
      assert.equal(j.consecutiveFailed, 1);
      assert.equal(judge(ms('failed', 'successful', 'failed', 'failed'), limits()).verdict, 'failed');
    });

    it('stays failed once a limit was reached, whatever follows', () => {
      const j = judge(ms('failed', 'failed', 'successful', 'successful'), limits());
      assert.equal(j.verdict, 'failed');
      assert.equal(j.consecutiveFailed, 2);
    });

    it('fails after inconclusiveLimit consecutive measurements without data', () => {
      assert.equal(judge(ms('inconclusive', 'inconclusive'), limits()).verdict, 'running');
      const j = judge(ms('inconclusive', 'inconclusive', 'inconclusive'), limits());
      assert.equal(j.verdict, 'failed');
      assert.equal(j.consecutiveInconclusive, 3);
      assert.match(j.reason, /3 consecutive measurement\(s\) without data \(the query returned no data\); no data is not a pass/);
      assert.equal(judge(ms('inconclusive', 'inconclusive', 'successful', 'inconclusive'), limits()).verdict, 'running');
    });

    it('fails after consecutive provider errors: errorLimit, or inconclusiveLimit when not given', () => {
      assert.equal(judge(ms('error', 'error'), limits()).verdict, 'running');
      const j = judge(ms('error', 'error', 'error'), limits());
      assert.equal(j.verdict, 'failed');
      assert.equal(j.consecutiveErrors, 3);
      assert.match(j.reason, /3 consecutive metrics error\(s\): prometheus: 503 Service Unavailable/);
      assert.equal(judge(ms('error'), limits({ errorLimit: 1 })).verdict, 'failed');
      assert.equal(judge(ms('error', 'successful', 'error'), limits({ errorLimit: 2 })).verdict, 'running');
    });

    it('counts each kind separately: mixed bad measurements reach no limit', () => {
      const j = judge(ms('failed', 'inconclusive', 'error', 'failed', 'inconclusive', 'error'), limits());
      assert.equal(j.verdict, 'running');
      assert.deepEqual([j.consecutiveFailed, j.consecutiveInconclusive, j.consecutiveErrors], [0, 0, 1]);
    });
  });

  describe('concludeAnalysis', () => {
    it('passes with successful measurements and no limit reached', () => {
      const j = concludeAnalysis(ms('successful', 'failed', 'successful'), limits());
      assert.equal(j.verdict, 'passed');
      assert.match(j.reason, /2\/3 measurement\(s\) at or below 0\.01 \(last 0\.001\)/);
    });

    it('keeps a failure', () => {
      assert.equal(concludeAnalysis(ms('successful', 'failed', 'failed'), limits()).verdict, 'failed');
      assert.equal(concludeAnalysis(ms('failed'), limits({ failureLimit: 1 })).verdict, 'failed');
    });

    it('never passes without data', () => {
      const none = concludeAnalysis([], limits());
      assert.equal(none.verdict, 'inconclusive');
      assert.match(none.reason, /no successful measurement in 0 taken; no data is not a pass/);
      assert.equal(concludeAnalysis(ms('inconclusive', 'inconclusive'), limits()).verdict, 'inconclusive');
      assert.equal(concludeAnalysis(ms('error'), limits()).verdict, 'inconclusive');
      assert.equal(concludeAnalysis(ms('failed'), limits()).verdict, 'inconclusive', 'one failure below the limit is not a pass either');
    });

    it('counts the whole window from totals when given only its tail', () => {
      const passed = concludeAnalysis(ms('successful', 'inconclusive'), limits(), { taken: 50, successful: 40 });
      assert.equal(passed.verdict, 'passed');
      assert.match(passed.reason, /^40\/50 measurement\(s\)/);
      const none = concludeAnalysis(ms('inconclusive'), limits(), { taken: 50, successful: 0 });
      assert.equal(none.verdict, 'inconclusive');
      assert.match(none.reason, /in 50 taken/);
    });
  });

  it('measurementsToKeep keeps enough for every limit and at least 10', () => {
    assert.equal(measurementsToKeep(limits()), 10);
    assert.equal(measurementsToKeep(limits({ failureLimit: 20 })), 20);
    assert.equal(measurementsToKeep(limits({ inconclusiveLimit: 30 })), 30);
    assert.equal(measurementsToKeep(limits({ errorLimit: 40 })), 40);
  });
});

describe('generateToken', () => {
  it('has the requested length over [A-Za-z0-9]', () => {
    for (const length of [1, 16, 48, 1000]) {
      const token = generateToken(length);
      assert.equal(token.length, length);
      assert.match(token, /^[A-Za-z0-9]+$/);
    }
    assert.equal(generateToken(0), '');
  });

  it('differs every time', () => {
    const tokens = new Set(Array.from({ length: 50 }, () => generateToken(32)));
    assert.equal(tokens.size, 50);
  });

  it('uses the whole alphabet, roughly evenly', () => {
    const sample = generateToken(62 * 4000);
    const counts = new Map<string, number>();
    for (const ch of sample) counts.set(ch, (counts.get(ch) ?? 0) + 1);
    assert.equal(counts.size, 62);
    // 4000 each expected (standard deviation about 63); byte % 62 without rejection would give the
    // first 8 characters about 4844 and the others about 3875
    for (const [ch, n] of counts) assert.ok(n > 3600 && n < 4400, `${ch}: ${n}`);
  });
});

describe('parseEnvFile', () => {
  it('reads KEY=value lines, skipping comments and blank lines', () => {
    const text = '# the auth token\n\napi_token=abc123\r\n  # indented comment\nother.key-1=x=y==\n   \nEMPTY=\n';
    assert.deepEqual(parseEnvFile(text, 'token.env'), { api_token: 'abc123', 'other.key-1': 'x=y==', EMPTY: '' });
  });

  it('trims the key', () => {
    assert.deepEqual(parseEnvFile('  api_token  =abc', 'token.env'), { api_token: 'abc' });
  });

  it('names the file and line of a bad line, never its value', () => {
    const text = 'api_token=fine\n# comment\nthis-is-the-secret-s3cr3t-value\n';
    const err = throwsWith(() => parseEnvFile(text, './token.env'), 'RotorInputError');
    assert.match(err.message, /^\.\/token\.env:3: expected KEY=value/);
    assert.ok(!err.message.includes('s3cr3t'), err.message);
    assert.ok(!err.message.includes('fine'), err.message);
  });

  it('rejects a line without a key, never showing its value', () => {
    const err = throwsWith(() => parseEnvFile('\n=hunter2-secret', 'token.env'), 'RotorInputError');
    assert.match(err.message, /^token\.env:2: /);
    assert.ok(!err.message.includes('hunter2'), err.message);
  });

  it('rejects a key with a space, never showing the line', () => {
    const err = throwsWith(() => parseEnvFile('api token=hunter2', 'token.env'), 'RotorInputError');
    assert.match(err.message, /^token\.env:1: .*letters, digits/);
    assert.ok(!err.message.includes('hunter2'), err.message);
    assert.ok(!err.message.includes('api token'), err.message);
  });

  it('rejects a file with no KEY=value line', () => {
    const err = throwsWith(() => parseEnvFile('# only a comment\n\n', 'empty.env'), 'RotorInputError');
    assert.match(err.message, /^empty\.env: no KEY=value line found$/);
  });
});

describe('resolveValue', () => {
  it('generates one token per key, of the requested length', async () => {
    const data = await resolveValue({ generate: { keys: ['api_token', 'signing_key'], length: 48 } });
    assert.deepEqual(Object.keys(data), ['api_token', 'signing_key']);
    for (const value of Object.values(data)) assert.match(value, /^[A-Za-z0-9]{48}$/);
    assert.notEqual(data.api_token, data.signing_key);
  });

  it('reads a KEY=value file in the value directory, and says which file it cannot read without any value', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'rotor-units-'));
    try {
      await writeFile(join(dir, 'token.env'), '# new token\napi_token=s3cr3t\n');
      assert.deepEqual(await resolveValue({ fromFile: 'token.env' }, { valueDir: dir }), { api_token: 's3cr3t' });
      const err = await rejectsWith(resolveValue({ fromFile: 'missing.env' }, { valueDir: dir }), 'RotorInputError');
      assert.match(err.message, /cannot read missing\.env in ROTOR_VALUE_DIR=.* on the worker \(ENOENT\)/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('leaves AWS references to the AWS store', async () => {
    await rejectsWith(resolveValue({ awsSecretsManager: { secretId: 'x' } }), 'RotorInputError');
  });
});

describe('MemoryMetrics', () => {
  it('plays constants, sequences (the last value repeats) and no data', async () => {
    const { prometheus, datadog } = new MemoryMetrics({
      secrets: [],
      workloads: [],
      metrics: { constant: 0.5, seq: [0.1, null, 0.9], none: null },
    }).providers();
    assert.equal(await prometheus!.measure('constant'), 0.5);
    assert.equal(await prometheus!.measure('constant'), 0.5);
    const seq: (number | null)[] = [];
    // One sequence per query, whichever provider asks: the world has one set of metrics.
    for (let i = 0; i < 5; i++) seq.push(await (i % 2 ? datadog! : prometheus!).measure('seq'));
    assert.deepEqual(seq, [0.1, null, 0.9, 0.9, 0.9]);
    assert.equal(await datadog!.measure('none'), null);
    assert.equal(await datadog!.measure('unknown query'), null);
  });
});
