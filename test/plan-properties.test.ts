// Plan validation over random plan documents (a few plans, each with up to five fields set to values
// right and wrong, or removed): validatePlan never throws, says where and what for every issue, gives
// a plan with issues its secret and stages as written, and never refuses what it accepts in the
// published plan.schema.json (an editor flags no plan rotor runs). With two cases that once differed:
// an empty analysis and an empty scan.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import Ajv2020 from 'ajv/dist/2020';
import fc from 'fast-check';
import { parsePlan, validatePlan } from '../domain/plan';
import { repoRoot } from '../sandbox/tools';
import { twoStagePlan } from './helpers/plans';

type Raw = any;

function fullPlan(): Raw {
  return {
    secret: 'auth-api-secrets',
    value: { awsSecretsManager: { secretId: '/prod/auth/source', versionStage: 'AWSCURRENT', region: 'eu-west-1' } },
    store: 'external-secrets',
    awsSecretsManager: { secretId: '/prod/auth/token', region: 'eu-west-1' },
    externalSecrets: { secretStoreRef: { name: 'aws', kind: 'ClusterSecretStore' } },
    stages: [
      {
        name: 'dev',
        namespace: 'dev',
        workloads: ['deployment/auth-api', 'CronJob/report'],
        strategy: 'in-place',
        approval: true,
        approvalTimeout: '2h',
        rolloutTimeout: '5m',
        soak: '1h',
      },
      {
        name: 'staging',
        namespace: 'staging',
        strategy: 'rolling',
        analysis: {
          provider: 'prometheus',
          query: 'sum(rate(errors{namespace="{{namespace}}"}[1m]))',
          threshold: 0.01,
          interval: '30s',
          failureLimit: 2,
          inconclusiveLimit: 5,
          consecutiveErrorLimit: 3,
          verify: '5m',
        },
      },
      {
        name: 'production',
        namespace: 'production',
        approval: 'required',
        strategy: { canary: { steps: [25, 50, 100], pause: '5m' } },
        analysis: {
          provider: 'datadog',
          query: 'sum:errors{version:{{version}}}.as_count()',
          threshold: 5,
          api: 'v2',
          aggregator: 'max',
          window: '5m',
          monitors: [123, 456],
          baseline: { margin: 0.5 },
        },
        watch: '2h',
      },
    ],
    retention: '7d',
    cleanupRecheck: '30m',
    scan: { ignore: ['widgets.example.com'] },
  };
}

const BASES: (() => Raw)[] = [
  () => twoStagePlan(),
  fullPlan,
  () => ({ secret: 'x', value: { generate: { keys: ['api_token'] } }, stages: [{ name: 'staging', namespace: 'staging' }] }),
  () => ({ ...twoStagePlan(), value: { issuer: { key: 'api_token', scope: 'auth:verify' } } }),
  () => ({ ...twoStagePlan(), value: { fromFile: 'token.env' }, store: 'aws-secrets-manager', awsSecretsManager: { secretId: 'x' } }),
];

const STAGE_FIELDS = [
  'name',
  'namespace',
  'workloads',
  'workloads[0]',
  'workloads[1]',
  'strategy',
  'strategy.canary',
  'strategy.canary.steps',
  'strategy.canary.steps[0]',
  'strategy.canary.pause',
  'strategy.extra',
  'strategy.canary.extra',
  'analysis',
  'analysis.provider',
  'analysis.query',
  'analysis.threshold',
  'analysis.interval',
  'analysis.failureLimit',
  'analysis.inconclusiveLimit',
  'analysis.consecutiveErrorLimit',
  'analysis.verify',
  'analysis.api',
  'analysis.aggregator',
  'analysis.window',
  'analysis.monitors',
  'analysis.monitors[0]',
  'analysis.baseline',
  'analysis.baseline.margin',
  'analysis.baseline.extra',
  'analysis.extra',
  'soak',
  'watch',
  'approval',
  'approvalTimeout',
  'rolloutTimeout',
  'extra',
];
const PATHS = [
  '',
  'secret',
  'value',
  'value.generate',
  'value.generate.keys',
  'value.generate.keys[0]',
  'value.generate.keys[1]',
  'value.generate.length',
  'value.generate.extra',
  'value.fromFile',
  'value.awsSecretsManager',
  'value.awsSecretsManager.secretId',
  'value.awsSecretsManager.versionStage',
  'value.awsSecretsManager.region',
  'value.awsSecretsManager.extra',
  'value.issuer',
  'value.issuer.key',
  'value.issuer.scope',
  'value.issuer.extra',
  'value.extra',
  'store',
  'awsSecretsManager',
  'awsSecretsManager.secretId',
  'awsSecretsManager.region',
  'awsSecretsManager.extra',
  'externalSecrets',
  'externalSecrets.secretStoreRef',
  'externalSecrets.secretStoreRef.name',
  'externalSecrets.secretStoreRef.kind',
  'externalSecrets.extra',
  'stages',
  ...[0, 1, 2, 3].flatMap((i) => [`stages[${i}]`, ...STAGE_FIELDS.map((f) => `stages[${i}].${f}`)]),
  'retention',
  'cleanupRecheck',
  'scan',
  'scan.ignore',
  'scan.ignore[0]',
  'scan.ignore[1]',
  'scan.extra',
  'extra',
];

const steps11 = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 100];
const VALUES: unknown[] = [
  // durations
  '10m',
  '0s',
  '0ms',
  '1m',
  '5s',
  '9s999ms',
  '10s',
  '366d',
  '365d',
  '365d1h',
  '-5m',
  '1 hour',
  '14D',
  '',
  '   ',
  ' 10m ',
  '99999999999999d',
  // numbers
  0,
  1,
  1.5,
  -1,
  2,
  8,
  16,
  48,
  100,
  101,
  4096,
  5000,
  Number.NaN,
  0.01,
  // strings
  'x',
  'auth-api-secrets',
  'Auth',
  'a'.repeat(64),
  'a'.repeat(239),
  'staging',
  'production',
  'prod',
  'prod-eu',
  'products',
  'dev',
  'rolling',
  'in-place',
  'blue-green',
  'auto',
  'all',
  'prometheus',
  'datadog',
  'newrelic',
  'v1',
  'v2',
  'v3',
  'avg',
  'max',
  'required',
  'none',
  'maybe',
  'kubernetes',
  'aws-secrets-manager',
  'external-secrets',
  'vault',
  'deployment/auth-api',
  'Deployment/auth-api',
  'deploy',
  'Foo/bar',
  'widgets.example.com',
  'deployments.apps',
  'configmaps',
  'Widget',
  'AWSPENDING',
  'AWSPREVIOUS',
  'eu-west-1',
  'Europe',
  'ClusterSecretStore',
  'SecretStore',
  'aws',
  'AWS Store',
  '/prod/x',
  'token.env',
  'api_token',
  'api token',
  'sum(errors{version="{{version}}"})',
  'up{pod="{{pod}}"}',
  '{{ namespace }} {{stage}} {{x}} {{version}}',
  // other kinds
  null,
  true,
  false,
  [],
  {},
  [1, 2],
  ['a', 'a'],
  ['a', 7],
  [10, 25, 50, 100],
  [50, 10],
  [100],
  [0, 50, 100],
  [12.5, 100],
  ['10%', '100%'],
  steps11,
  [123, 'abc'],
  ['deployment/auth-api', 'Deployment/auth-api'],
  ['widgets.example.com', 'widgets.example.com'],
  { margin: 0.01 },
  { margin: -1 },
  { canary: {} },
  { canary: 25 },
  { canary: { steps: [50, 100], pause: '0s' } },
  { canary: { steps: [50, 10], pause: '0s' }, extra: 1 },
  { canary: { steps: ['x'], pause: 5 } },
  { secretId: 'x' },
  { secretId: 'x', region: 'Europe' },
  { secretId: '', extra: 1 },
  { secretStoreRef: { name: 'aws' } },
  { secretStoreRef: { name: 'AWS Store', kind: 'Vault' } },
  { keys: ['a'] },
  { keys: [7], length: '48', charset: 'hex' },
  { ignore: [] },
  { ignore: ['widgets.example.com'] },
  { generate: { keys: ['a'] }, fromFile: 'x.env' },
  { generat: { keys: ['a'] } },
  { provider: 'prometheus', query: 'up', threshold: 1 },
  { provider: 'datadog', query: 'q', threshold: 1, api: 'v1', aggregator: 'max', window: '0s', monitors: [] },
  { provider: 'newrelic', query: '  ', threshold: '1', window: 'x', baseline: { margin: 1 } },
  { name: 'qa', namespace: 'qa' },
  { name: 'production', namespace: 'prod', strategy: 'in-place' },
  Array.from({ length: 101 }, (_, i) => `key_${i}`),
  Array.from({ length: 11 }, (_, i) => ({ name: `s${i}`, namespace: `s${i}` })),
  Array.from({ length: 21 }, (_, i) => i + 1),
  Array.from({ length: 101 }, (_, i) => `r${i}.example.com`),
  { keys: ['a', 'b', 'a'] },
];

function parsePath(path: string): (string | number)[] {
  return [...path.matchAll(/([^.[\]]+)|\[(\d+)\]/g)].map((m) => (m[2] !== undefined ? Number(m[2]) : m[1]));
}

function isContainer(v: unknown): v is Record<string | number, unknown> {
  return typeof v === 'object' && v !== null;
}

/** Whether `container` holds entries keyed as `key` is (a list by index, a mapping by name). */
function fits(container: unknown, key: string | number): boolean {
  return isContainer(container) && Array.isArray(container) === (typeof key === 'number');
}

/** Sets (or with `del`, deletes) the value at `path`, making (or remaking) the containers on the way. */
function apply(doc: Raw, path: string, value: unknown, del: boolean): Raw {
  const keys = parsePath(path);
  if (keys.length === 0) return del ? undefined : value;
  const root = fits(doc, keys[0]) ? doc : typeof keys[0] === 'number' ? [] : {};
  let cur: any = root;
  for (let i = 0; i < keys.length; i++) {
    let k = keys[i];
    // YAML has no holes in its lists: a new entry goes at the end.
    if (Array.isArray(cur) && typeof k === 'number' && k > cur.length) k = cur.length;
    if (i === keys.length - 1) {
      if (!del) cur[k] = value;
      else if (Array.isArray(cur)) cur.splice(k as number, 1);
      else delete cur[k];
      break;
    }
    if (!fits(cur[k], keys[i + 1])) cur[k] = typeof keys[i + 1] === 'number' ? [] : {};
    cur = cur[k];
  }
  return root;
}

const mutation = fc.record({
  path: fc.constantFrom(...PATHS),
  value: fc.oneof({ weight: 8, arbitrary: fc.constantFrom(...VALUES) }, { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 2 }) }),
  del: fc.boolean(),
});

/** A plan document as a user might write it, right or wrong: one of a few plans with up to five fields set, changed or removed. */
const rawPlan = fc
  .tuple(fc.nat(BASES.length - 1), fc.array(mutation, { minLength: 0, maxLength: 5 }))
  .map(([base, mutations]) => mutations.reduce((doc, m) => apply(doc, m.path, structuredClone(m.value), m.del && m.path !== ''), BASES[base]()));

const validate = new Ajv2020({ allErrors: true, strict: false }).compile(JSON.parse(readFileSync(join(repoRoot, 'plan.schema.json'), 'utf8')));
const RUNS = Number(process.env.ROTOR_PLAN_PROPERTY_RUNS ?? 1000);
const SEED = process.env.ROTOR_SEED ? Number(process.env.ROTOR_SEED) : Date.now() % 2_147_483_647;

describe('plan validation over random plan documents', () => {
  it(`holds for ${RUNS} of them`, () => {
    console.log(`[plan-properties] seed ${SEED} (ROTOR_SEED=${SEED} replays it)`);
    fc.assert(
      fc.property(rawPlan, (raw) => {
        const { plan, issues } = validatePlan(raw);
        // A path is empty only for a field named "" (YAML allows it).
        for (const issue of issues) assert.ok(typeof issue.path === 'string' && issue.value && issue.message, JSON.stringify(issue));
        if (!issues.length) assert.ok(validate(raw), `accepted by validatePlan, refused by plan.schema.json: ${JSON.stringify(validate.errors)}`);
        const doc = typeof raw === 'object' && raw !== null && !Array.isArray(raw) ? raw : {};
        if (typeof doc.secret === 'string') assert.equal(plan.secret, doc.secret);
        const stages = Array.isArray(doc.stages) ? doc.stages.filter((s: unknown) => typeof s === 'object' && s !== null && !Array.isArray(s)) : [];
        assert.deepEqual(
          plan.stages.map((s) => s.name),
          stages.map((s: Raw) => (typeof s.name === 'string' ? s.name : '')),
        );
      }),
      { numRuns: RUNS, seed: SEED },
    );
  });

  it('takes an empty analysis (null in YAML) as none, as plan.schema.json does', () => {
    const plan = twoStagePlan({ staging: { analysis: null } });
    assert.deepEqual(validatePlan(plan).issues, []);
    assert.ok(validate(plan), JSON.stringify(validate.errors));
    const without = twoStagePlan();
    delete without.stages[0].analysis;
    assert.deepEqual(parsePlan(plan), parsePlan(without));
  });

  it('takes an empty scan as no scan settings, as plan.schema.json does', () => {
    const plan = twoStagePlan({ top: { scan: {} } });
    assert.deepEqual(validatePlan(plan).issues, []);
    assert.ok(validate(plan), JSON.stringify(validate.errors));
    assert.deepEqual(parsePlan(plan), parsePlan(twoStagePlan()));
  });
});
