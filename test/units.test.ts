// Unit tests of the pure helpers (durations, version names, analysis), the value helpers and the
// in-memory cluster as a ClusterPort. No server, no cluster.
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { RotorError, type RotorErrorType } from '../activities/errors';
import { MemoryCluster, MemoryMetrics, ROTATION_ANNOTATION, type MemoryWorld } from '../activities/memory';
import type { ClusterPort, VersionSpec } from '../activities/ports';
import type { WorkloadUse } from '../activities/types';
import { generateToken, parseEnvFile, resolveValue } from '../activities/values';
import { classify, concludeAnalysis, judge, measurementsToKeep, type AnalysisLimits, type Measurement, type MeasurementPhase } from '../workflows/analysis';
import { DURATION_HELP, formatDuration, parseDuration } from '../workflows/duration';
import { parseVersionName, VERSION_SUFFIX_LENGTH, versionName, versionTimestamp } from '../workflows/naming';

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

  it('names valid forms in its help text', () => {
    for (const example of ['30s', '10m', '24h', '14d', '1h30m']) assert.ok(DURATION_HELP.includes(example), example);
  });
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

  it('reads a KEY=value file, and says which file it cannot read without any value', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'rotor-units-'));
    try {
      const path = join(dir, 'token.env');
      await writeFile(path, '# new token\napi_token=s3cr3t\n');
      assert.deepEqual(await resolveValue({ fromFile: path }), { api_token: 's3cr3t' });
      const err = await rejectsWith(resolveValue({ fromFile: join(dir, 'missing.env') }), 'RotorInputError');
      assert.match(err.message, /cannot read .*missing\.env on the worker \(ENOENT\)/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('leaves AWS references to the AWS store', async () => {
    await rejectsWith(resolveValue({ awsSecretsManager: { secretId: 'x' } }), 'RotorInputError');
  });
});

describe('MemoryCluster as a ClusterPort', () => {
  const BASE = 'auth-api-secrets';
  const OLD = 'auth-api-secrets-20250101000000';
  const CURRENT = 'auth-api-secrets-20250601000000';
  const NEW = 'auth-api-secrets-20250723110000';
  const ENV_FROM = 'spec.template.spec.containers[0].envFrom[0].secretRef.name';
  const VOLUME = 'spec.template.spec.volumes[0].secret.secretName';
  const PULL = 'spec.template.spec.imagePullSecrets[0].name';
  const ENV = 'spec.jobTemplate.spec.template.spec.containers[0].env[0].valueFrom.secretKeyRef.name';

  function world(): MemoryWorld {
    return {
      secrets: [
        { namespace: 'staging', name: BASE, data: { api_token: 'v0' } },
        { namespace: 'staging', name: OLD, data: { api_token: 'v1' }, immutable: true },
        { namespace: 'staging', name: CURRENT, data: { api_token: 'v2' }, immutable: true },
        { namespace: 'staging', name: 'registry', data: { '.dockerconfigjson': '{}' } },
        { namespace: 'staging', name: 'auth-api-secrets-old', data: { api_token: 'legacy' } },
        { namespace: 'staging', name: 'auth-api-secrets-extra-20991231000000', data: { x: 'y' } },
        { namespace: 'production', name: BASE, data: { api_token: 'p0' } },
      ],
      workloads: [
        { kind: 'Deployment', namespace: 'staging', name: 'auth-api', replicas: 4, refs: { [ENV_FROM]: CURRENT, [VOLUME]: CURRENT, [PULL]: 'registry' } },
        { kind: 'CronJob', namespace: 'staging', name: 'reporter', refs: { [ENV]: OLD } },
        { kind: 'Deployment', namespace: 'staging', name: 'legacy', refs: { [ENV_FROM]: 'auth-api-secrets-old' } },
        { kind: 'Deployment', namespace: 'staging', name: 'extra', refs: { [ENV_FROM]: 'auth-api-secrets-extra-20991231000000' } },
        { kind: 'Deployment', namespace: 'production', name: 'auth-api', replicas: 2, refs: { [ENV_FROM]: BASE } },
      ],
    };
  }

  function setup(): { memory: MemoryCluster; cluster: ClusterPort } {
    const memory = new MemoryCluster(world());
    return { memory, cluster: memory };
  }

  const spec = (over: Partial<VersionSpec> = {}): VersionSpec => ({
    namespace: 'staging',
    name: NEW,
    base: BASE,
    rotationId: 'rotation-1',
    data: { api_token: 'v3', signing_key: 'k3' },
    ...over,
  });

  const use = (memory: MemoryCluster, namespace: string, name: string): WorkloadUse => {
    const w = memory.world.workloads.find((x) => x.namespace === namespace && x.name === name)!;
    return { kind: w.kind, namespace, name, fields: Object.keys(w.refs) };
  };

  const refs = (memory: MemoryCluster, namespace: string, name: string): Record<string, string> =>
    memory.world.workloads.find((x) => x.namespace === namespace && x.name === name)!.refs;

  describe('findCurrentVersion', () => {
    it('picks the newest version in use, ignoring other bases and non-versions', async () => {
      const { cluster } = setup();
      assert.equal(await cluster.findCurrentVersion('staging', BASE), CURRENT);
    });

    it('returns the base name before the first rotation', async () => {
      const { cluster } = setup();
      assert.equal(await cluster.findCurrentVersion('production', BASE), BASE);
    });

    it('prefers any version over the base name', async () => {
      const { memory, cluster } = setup();
      memory.world.workloads.push({ kind: 'Job', namespace: 'production', name: 'migrate', refs: { [ENV]: 'auth-api-secrets-20240101000000' } });
      assert.equal(await cluster.findCurrentVersion('production', BASE), 'auth-api-secrets-20240101000000');
    });

    it('returns null when nothing in the namespace uses the secret', async () => {
      const { cluster } = setup();
      assert.equal(await cluster.findCurrentVersion('dev', BASE), null);
      assert.equal(await cluster.findCurrentVersion('staging', 'auth-api'), null, 'auth-api-secrets-* are not versions of auth-api');
    });

    it('looks only at the namespace asked for', async () => {
      const { memory, cluster } = setup();
      memory.world.workloads.push({ kind: 'Deployment', namespace: 'other', name: 'x', refs: { [ENV_FROM]: 'auth-api-secrets-20991231000000' } });
      assert.equal(await cluster.findCurrentVersion('staging', BASE), CURRENT);
    });
  });

  describe('findWorkloads and findReferences', () => {
    it('lists the workloads that refer to a name, with the referring fields', async () => {
      const { cluster } = setup();
      assert.deepEqual(await cluster.findWorkloads('staging', CURRENT), [{ kind: 'Deployment', namespace: 'staging', name: 'auth-api', fields: [ENV_FROM, VOLUME] }]);
      assert.deepEqual(await cluster.findWorkloads('staging', NEW), []);
    });

    it('finds references across the namespaces asked for only', async () => {
      const { cluster } = setup();
      assert.deepEqual(
        (await cluster.findReferences(['staging', 'production'], BASE)).map((h) => `${h.namespace}/${h.kind}/${h.name}`),
        ['production/Deployment/auth-api'],
      );
      assert.deepEqual(await cluster.findReferences(['staging'], BASE), []);
    });
  });

  describe('createVersion', () => {
    it('creates an immutable, labelled, annotated Secret', async () => {
      const { memory, cluster } = setup();
      const s = spec();
      assert.equal(await cluster.createVersion(s), 'created');
      s.data.api_token = 'mutated-after-create';
      const created = memory.world.secrets.find((x) => x.namespace === 'staging' && x.name === NEW);
      assert.deepEqual(created, {
        namespace: 'staging',
        name: NEW,
        immutable: true,
        labels: { 'rotor.dev/secret': BASE, 'rotor.dev/version': '20250723110000' },
        annotations: { [ROTATION_ANNOTATION]: 'rotation-1' },
        data: { api_token: 'v3', signing_key: 'k3' },
      });
      assert.deepEqual(await cluster.readVersion('staging', NEW), { data: { api_token: 'v3', signing_key: 'k3' }, rotationId: 'rotation-1' });
    });

    it('is idempotent with the same content, whatever the key order', async () => {
      const { memory, cluster } = setup();
      assert.equal(await cluster.createVersion(spec()), 'created');
      assert.equal(await cluster.createVersion(spec()), 'exists');
      assert.equal(await cluster.createVersion(spec({ data: { signing_key: 'k3', api_token: 'v3' } })), 'exists');
      assert.equal(memory.world.secrets.filter((x) => x.name === NEW).length, 1);
    });

    it('creates the same name in another namespace separately', async () => {
      const { cluster } = setup();
      assert.equal(await cluster.createVersion(spec()), 'created');
      assert.equal(await cluster.createVersion(spec({ namespace: 'production' })), 'created');
    });

    it('throws VersionContentMismatch on different content, without the values in the message', async () => {
      const { memory, cluster } = setup();
      await cluster.createVersion(spec());
      const err = await rejectsWith(cluster.createVersion(spec({ data: { api_token: 'zz-other-value' } })), 'VersionContentMismatch');
      assert.equal(err.retryable, false);
      assert.ok(!err.message.includes('zz-other-value') && !err.message.includes('v3'), err.message);
      assert.equal(memory.world.secrets.find((x) => x.name === NEW)?.data.api_token, 'v3', 'the first content stays');
      await rejectsWith(cluster.createVersion(spec({ data: { api_token: 'v3' } })), 'VersionContentMismatch');
    });

    it('throws VersionConflict for another rotation id, naming the owner', async () => {
      const { cluster } = setup();
      await cluster.createVersion(spec());
      const err = await rejectsWith(cluster.createVersion(spec({ rotationId: 'rotation-2' })), 'VersionConflict');
      assert.equal(err.object, 'rotation-1');
      assert.equal(err.status, 409);
    });

    it('throws VersionConflict for a Secret of that name that rotor did not create', async () => {
      const { cluster } = setup();
      const err = await rejectsWith(cluster.createVersion(spec({ name: CURRENT, data: { api_token: 'v2' } })), 'VersionConflict');
      assert.equal(err.object, 'unknown');
    });
  });

  describe('switchWorkloads', () => {
    it('switches and records exactly the fields that referred to the old name', async () => {
      const { memory, cluster } = setup();
      await cluster.createVersion(spec());
      const records = await cluster.switchWorkloads({
        stage: 'staging',
        namespace: 'staging',
        workloads: [use(memory, 'staging', 'auth-api'), use(memory, 'staging', 'reporter')],
        from: CURRENT,
        to: NEW,
        strategy: 'rolling',
      });
      assert.deepEqual(records, [
        { namespace: 'staging', kind: 'Deployment', name: 'auth-api', from: CURRENT, to: NEW, fields: [ENV_FROM, VOLUME], canary: undefined },
        { namespace: 'staging', kind: 'CronJob', name: 'reporter', from: CURRENT, to: NEW, fields: [], canary: undefined },
      ]);
      assert.deepEqual(refs(memory, 'staging', 'auth-api'), { [ENV_FROM]: NEW, [VOLUME]: NEW, [PULL]: 'registry' });
      assert.deepEqual(refs(memory, 'staging', 'reporter'), { [ENV]: OLD }, 'a workload on another version is not touched');
      assert.deepEqual(refs(memory, 'production', 'auth-api'), { [ENV_FROM]: BASE });
    });

    it('is idempotent: a retry records the same fields and changes nothing more', async () => {
      const { memory, cluster } = setup();
      const request = { stage: 'staging', namespace: 'staging', workloads: [use(memory, 'staging', 'auth-api')], from: CURRENT, to: NEW, strategy: 'rolling' as const };
      const first = await cluster.switchWorkloads(request);
      const again = await cluster.switchWorkloads(request);
      assert.deepEqual(again, first);
      assert.deepEqual(refs(memory, 'staging', 'auth-api'), { [ENV_FROM]: NEW, [VOLUME]: NEW, [PULL]: 'registry' });
    });

    it('records a canary step below 100% without applying it', async () => {
      const { memory, cluster } = setup();
      const [record] = await cluster.switchWorkloads({
        stage: 'staging',
        namespace: 'staging',
        workloads: [use(memory, 'staging', 'auth-api')],
        from: CURRENT,
        to: NEW,
        strategy: 'canary',
        weightPercent: 25,
      });
      assert.deepEqual(record.fields, []);
      assert.deepEqual(record.canary, { green: 'auth-api-20250723110000', weightPercent: 25, blueReplicas: 3, greenReplicas: 1, originalReplicas: 4 });
      assert.equal(refs(memory, 'staging', 'auth-api')[ENV_FROM], CURRENT);
    });

    it('applies the last canary step', async () => {
      const { memory, cluster } = setup();
      const [record] = await cluster.switchWorkloads({
        stage: 'staging',
        namespace: 'staging',
        workloads: [use(memory, 'staging', 'auth-api')],
        from: CURRENT,
        to: NEW,
        strategy: 'canary',
        weightPercent: 100,
      });
      assert.deepEqual(record.fields, [ENV_FROM, VOLUME]);
      assert.deepEqual(record.canary, { green: 'auth-api-20250723110000', weightPercent: 100, blueReplicas: 0, greenReplicas: 4, originalReplicas: 4 });
    });

    it('throws NotFound for a workload that does not exist', async () => {
      const { cluster } = setup();
      await rejectsWith(
        cluster.switchWorkloads({ stage: 's', namespace: 'staging', workloads: [{ kind: 'Deployment', namespace: 'staging', name: 'ghost', fields: [] }], from: CURRENT, to: NEW, strategy: 'rolling' }),
        'NotFound',
      );
    });
  });

  describe('revertWorkloads', () => {
    async function switched() {
      const { memory, cluster } = setup();
      await cluster.createVersion(spec());
      const workloads = [use(memory, 'staging', 'auth-api')];
      const records = await cluster.switchWorkloads({ stage: 'staging', namespace: 'staging', workloads, from: CURRENT, to: NEW, strategy: 'rolling' });
      return { memory, cluster, workloads, records };
    }

    it('reverts every recorded field', async () => {
      const { memory, cluster, workloads, records } = await switched();
      const reverted = await cluster.revertWorkloads({ stage: 'staging', namespace: 'staging', workloads, from: NEW, to: CURRENT, records });
      assert.deepEqual(reverted, [{ namespace: 'staging', kind: 'Deployment', name: 'auth-api', from: NEW, to: CURRENT, fields: [ENV_FROM, VOLUME] }]);
      assert.deepEqual(refs(memory, 'staging', 'auth-api'), { [ENV_FROM]: CURRENT, [VOLUME]: CURRENT, [PULL]: 'registry' });
    });

    it('reverts only recorded fields and leaves fields someone else changed meanwhile', async () => {
      const { memory, cluster, workloads, records } = await switched();
      const live = refs(memory, 'staging', 'auth-api');
      live[VOLUME] = 'manual-override'; // someone moved a recorded field elsewhere
      const SIDECAR = 'spec.template.spec.containers[1].envFrom[0].secretRef.name';
      live[SIDECAR] = NEW; // someone pointed a new field at the new version on purpose
      const reverted = await cluster.revertWorkloads({ stage: 'staging', namespace: 'staging', workloads, from: NEW, to: CURRENT, records });
      assert.deepEqual(reverted.map((r) => r.fields), [[ENV_FROM]]);
      assert.deepEqual(refs(memory, 'staging', 'auth-api'), { [ENV_FROM]: CURRENT, [VOLUME]: 'manual-override', [PULL]: 'registry', [SIDECAR]: NEW });
    });

    it('does not touch workloads that were not switched, and is idempotent', async () => {
      const { memory, cluster, records } = await switched();
      const workloads = [use(memory, 'staging', 'auth-api'), use(memory, 'staging', 'reporter')];
      const request = { stage: 'staging', namespace: 'staging', workloads, from: NEW, to: CURRENT, records };
      assert.equal((await cluster.revertWorkloads(request)).length, 1);
      assert.deepEqual(await cluster.revertWorkloads(request), [], 'nothing left to revert');
      assert.deepEqual(refs(memory, 'staging', 'reporter'), { [ENV]: OLD });
    });

    it('without a record (a switch that failed half-way), reverts what points at the new version', async () => {
      const { memory, cluster, workloads } = await switched();
      const reverted = await cluster.revertWorkloads({ stage: 'staging', namespace: 'staging', workloads, from: NEW, to: CURRENT, records: [] });
      assert.deepEqual(reverted.map((r) => r.fields), [[ENV_FROM, VOLUME]]);
      assert.deepEqual(refs(memory, 'staging', 'auth-api'), { [ENV_FROM]: CURRENT, [VOLUME]: CURRENT, [PULL]: 'registry' });
    });
  });

  describe('rolloutState', () => {
    it('is ready when every referenced Secret exists', async () => {
      const { memory, cluster } = setup();
      const state = await cluster.rolloutState('staging', [use(memory, 'staging', 'auth-api'), use(memory, 'staging', 'reporter')]);
      assert.deepEqual(state, { ready: true, failed: false, message: '2 workload(s) ready' });
    });

    it('fails with CreateContainerConfigError when a referenced Secret is missing', async () => {
      const { memory, cluster } = setup();
      // switched to a version that was never created
      await cluster.switchWorkloads({ stage: 'staging', namespace: 'staging', workloads: [use(memory, 'staging', 'auth-api')], from: CURRENT, to: NEW, strategy: 'rolling' });
      const state = await cluster.rolloutState('staging', [use(memory, 'staging', 'auth-api')]);
      assert.equal(state.ready, false);
      assert.equal(state.failed, true);
      assert.match(state.message, /Deployment\/auth-api: CreateContainerConfigError, secret "auth-api-secrets-20250723110000" not found/);
      await cluster.createVersion(spec());
      assert.equal((await cluster.rolloutState('staging', [use(memory, 'staging', 'auth-api')])).ready, true);
    });

    it('fails for a Secret missing in the workload namespace even if it exists elsewhere', async () => {
      const { memory, cluster } = setup();
      refs(memory, 'production', 'auth-api')[ENV_FROM] = CURRENT; // CURRENT exists in staging only
      const state = await cluster.rolloutState('production', [use(memory, 'production', 'auth-api')]);
      assert.equal(state.failed, true);
      assert.match(state.message, /CreateContainerConfigError/);
    });
  });

  describe('deleteUnreferenced', () => {
    it('refuses while referenced, and names the holders', async () => {
      const { cluster } = setup();
      const outcome = await cluster.deleteUnreferenced('staging', OLD);
      assert.deepEqual(outcome, { deleted: false, holders: [{ kind: 'CronJob', namespace: 'staging', name: 'reporter', fields: [ENV] }] });
      assert.ok(await cluster.readVersion('staging', OLD), 'still there');
    });

    it('deletes once nothing refers to it, and only in that namespace', async () => {
      const { memory, cluster } = setup();
      refs(memory, 'staging', 'reporter')[ENV] = CURRENT;
      assert.deepEqual(await cluster.deleteUnreferenced('staging', OLD), { deleted: true, holders: [] });
      assert.equal(await cluster.readVersion('staging', OLD), null);
      assert.ok(await cluster.readVersion('staging', CURRENT));
      assert.ok(await cluster.readVersion('production', BASE));
    });

    it('refuses in the namespace where the holder is, even if another namespace is free', async () => {
      const { cluster } = setup();
      assert.equal((await cluster.deleteUnreferenced('staging', BASE)).deleted, true, 'no staging workload uses the bare base name');
      assert.equal((await cluster.deleteUnreferenced('production', BASE)).deleted, false);
      assert.ok(await cluster.readVersion('production', BASE));
    });
  });

  it('labelVersion merges labels', async () => {
    const { memory, cluster } = setup();
    await cluster.createVersion(spec());
    await cluster.labelVersion('staging', NEW, { 'rotor.dev/state': 'failed' });
    assert.deepEqual(memory.world.secrets.find((x) => x.name === NEW)?.labels, {
      'rotor.dev/secret': BASE,
      'rotor.dev/version': '20250723110000',
      'rotor.dev/state': 'failed',
    });
  });
});

describe('MemoryMetrics', () => {
  it('plays constants, sequences (the last value repeats) and no data', async () => {
    const metrics = new MemoryMetrics({ secrets: [], workloads: [], metrics: { constant: 0.5, seq: [0.1, null, 0.9], none: null } });
    assert.equal(await metrics.measure('prometheus', 'constant'), 0.5);
    assert.equal(await metrics.measure('prometheus', 'constant'), 0.5);
    const seq: (number | null)[] = [];
    for (let i = 0; i < 5; i++) seq.push(await metrics.measure('prometheus', 'seq'));
    assert.deepEqual(seq, [0.1, null, 0.9, 0.9, 0.9]);
    assert.equal(await metrics.measure('datadog', 'none'), null);
    assert.equal(await metrics.measure('datadog', 'unknown query'), null);
  });
});
