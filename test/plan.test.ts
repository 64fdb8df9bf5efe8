// Plan validation: defaults, every kind of bad plan (exact path, what was found, what would be valid),
// and reporting every problem at once. Pure functions, no server.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parse as parseYaml } from 'yaml';
import { parsePlan, PlanValidationError, rotationWorkflowId, validatePlan, type PlanIssue } from '../domain/plan';

type Raw = any;

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

/** An example plan (docs/plan.md has every field) with examples/plan.yaml's stages and queries and production durations, parsed into plain objects. */
function basePlan(): Raw {
  return {
    secret: 'auth-api-secrets',
    value: { generate: { keys: ['api_token'], length: 48 } },
    store: 'kubernetes',
    stages: [
      {
        name: 'staging',
        namespace: 'staging',
        workloads: 'auto',
        strategy: 'rolling',
        analysis: {
          provider: 'prometheus',
          query: 'sum(rate(http_requests_total{app="auth-service",code=~"5.."}[1m])) / sum(rate(http_requests_total{app="auth-service"}[1m]))',
          threshold: 0.01,
          interval: '1m',
          failureLimit: 2,
        },
        soak: '24h',
      },
      {
        name: 'production',
        namespace: 'production',
        approval: 'required',
        strategy: { canary: { steps: [10, 25, 50, 100], pause: '10m' } },
        analysis: { provider: 'datadog', query: 'sum:api.auth.errors{env:production}.as_count()', threshold: 10, interval: '1m', failureLimit: 1 },
        watch: '24h',
      },
    ],
    retention: '14d',
  };
}

function issuesAfter(mutate: (plan: Raw) => void): PlanIssue[] {
  const plan = basePlan();
  mutate(plan);
  return validatePlan(plan).issues;
}

interface BadCase {
  title: string;
  mutate: (plan: Raw) => void;
  path: string;
  /** What the message must say (what is wrong and what would be valid). */
  message: RegExp;
  /** How the found value is shown. */
  value: string;
  /** How many issues the plan has in all (1 unless said otherwise). */
  count?: number;
}

const DOCUMENTED_YAML = `
secret: auth-api-secrets          # base name; versions are <secret>-<YYYYMMDDHHMMSS> (UTC)
value:
  generate: { keys: [api_token], length: 48 }
store: kubernetes
stages:
  - name: staging
    namespace: staging
    workloads: auto
    strategy: rolling
    analysis:
      provider: prometheus
      query: sum(rate(http_requests_total{app="auth-service",code=~"5.."}[1m])) / sum(rate(http_requests_total{app="auth-service"}[1m]))
      threshold: 0.01
      interval: 1m
      failureLimit: 2
    soak: 24h
  - name: production
    namespace: production
    approval: required
    strategy: { canary: { steps: [10, 25, 50, 100], pause: 10m } }
    analysis: { provider: datadog, query: "sum:api.auth.errors{env:production}.as_count()", threshold: 10, interval: 1m, failureLimit: 1 }
    watch: 24h
retention: 14d
`;

describe('valid plans', () => {
  it('accepts the documented plan and resolves every field', () => {
    const { plan, issues } = validatePlan(basePlan());
    assert.deepEqual(issues, []);
    assert.deepEqual(plan, {
      secret: 'auth-api-secrets',
      value: { generate: { keys: ['api_token'], length: 48 } },
      store: 'kubernetes',
      stages: [
        {
          name: 'staging',
          namespace: 'staging',
          workloads: 'auto',
          strategy: { type: 'rolling' },
          analysis: {
            provider: 'prometheus',
            query: basePlan().stages[0].analysis.query,
            threshold: 0.01,
            intervalMs: MINUTE,
            failureLimit: 2,
            inconclusiveLimit: 4,
            consecutiveErrorLimit: 4,
            verifyMs: 4 * MINUTE,
          },
          soakMs: DAY,
          watchMs: 0,
          approval: 'none',
          approvalTimeoutMs: 7 * DAY,
          rolloutTimeoutMs: 10 * MINUTE,
        },
        {
          name: 'production',
          namespace: 'production',
          workloads: 'auto',
          strategy: { type: 'canary', steps: [10, 25, 50, 100], pauseMs: 10 * MINUTE },
          analysis: {
            provider: 'datadog',
            query: 'sum:api.auth.errors{env:production}.as_count()',
            threshold: 10,
            intervalMs: MINUTE,
            failureLimit: 1,
            inconclusiveLimit: 3,
            consecutiveErrorLimit: 4,
            verifyMs: 3 * MINUTE,
            datadog: { api: 'v2', aggregator: 'avg', monitors: [], windowMs: MINUTE },
          },
          soakMs: 0,
          watchMs: DAY,
          approval: 'required',
          approvalTimeoutMs: 7 * DAY,
          rolloutTimeoutMs: 10 * MINUTE,
        },
      ],
      retentionMs: 14 * DAY,
      cleanupRecheckMs: HOUR,
    });
  });

  it('accepts the documented plan as YAML text, parsed by the yaml package, equal to the object form', () => {
    const fromYaml = parsePlan(parseYaml(DOCUMENTED_YAML));
    assert.deepEqual(fromYaml, parsePlan(basePlan()));
  });

  it('parsePlan returns the same plan as validatePlan when there is no issue', () => {
    assert.deepEqual(parsePlan(basePlan()), validatePlan(basePlan()).plan);
  });

  it('fills the defaults of a minimal plan', () => {
    const plan = parsePlan({
      secret: 'auth-api-secrets',
      value: { generate: { keys: ['api_token'] } },
      stages: [
        { name: 'staging', namespace: 'staging' },
        { name: 'production', namespace: 'production', analysis: { provider: 'prometheus', query: 'up', threshold: 0.5 } },
      ],
    });
    assert.equal(plan.store, 'kubernetes');
    assert.equal(plan.retentionMs, 14 * DAY);
    assert.equal(plan.cleanupRecheckMs, HOUR);
    assert.deepEqual(plan.value, { generate: { keys: ['api_token'], length: 32 } });
    const [staging, production] = plan.stages;
    // soak 24h for non-last stages, watch 24h for the last one
    assert.equal(staging.soakMs, DAY);
    assert.equal(staging.watchMs, 0);
    assert.equal(production.soakMs, 0);
    assert.equal(production.watchMs, DAY);
    for (const stage of plan.stages) {
      assert.deepEqual(stage.strategy, { type: 'rolling' });
      assert.equal(stage.workloads, 'auto');
      assert.equal(stage.approval, 'none');
      assert.equal(stage.approvalTimeoutMs, 7 * DAY);
      assert.equal(stage.rolloutTimeoutMs, 10 * MINUTE);
    }
    assert.equal(staging.analysis, null);
    // analysis defaults: interval 1m, failureLimit 1, inconclusiveLimit failureLimit + 2, 4 provider errors, verify (failureLimit + 2) intervals
    assert.deepEqual(production.analysis, {
      provider: 'prometheus',
      query: 'up',
      threshold: 0.5,
      intervalMs: MINUTE,
      failureLimit: 1,
      inconclusiveLimit: 3,
      consecutiveErrorLimit: 4,
      verifyMs: 3 * MINUTE,
    });
  });

  it('derives verifyMs from interval and failureLimit, and takes an explicit verify and inconclusiveLimit', () => {
    const derived = parsePlan(
      (() => {
        const p = basePlan();
        p.stages[0].analysis.interval = '30s';
        p.stages[0].analysis.failureLimit = 3;
        return p;
      })(),
    );
    assert.equal(derived.stages[0].analysis?.verifyMs, 5 * 30_000);
    assert.equal(derived.stages[0].analysis?.inconclusiveLimit, 5);

    const explicit = basePlan();
    explicit.stages[0].analysis.verify = '2m';
    explicit.stages[0].analysis.inconclusiveLimit = 7;
    const plan = parsePlan(explicit);
    assert.equal(plan.stages[0].analysis?.verifyMs, 2 * MINUTE);
    assert.equal(plan.stages[0].analysis?.inconclusiveLimit, 7);
  });

  it('fills canary defaults: steps 10/25/50/100 and a 10m pause', () => {
    const p = basePlan();
    p.stages[1].strategy = { canary: {} };
    assert.deepEqual(parsePlan(p).stages[1].strategy, { type: 'canary', steps: [10, 25, 50, 100], pauseMs: 10 * MINUTE });
  });

  it('takes custom canary steps and pause, and a single step of 100', () => {
    const p = basePlan();
    p.stages[1].strategy = { canary: { steps: [5, 50, 100], pause: '30s' } };
    assert.deepEqual(parsePlan(p).stages[1].strategy, { type: 'canary', steps: [5, 50, 100], pauseMs: 30_000 });
    p.stages[1].strategy = { canary: { steps: [100] } };
    assert.deepEqual(parsePlan(p).stages[1].strategy, { type: 'canary', steps: [100], pauseMs: 10 * MINUTE });
  });

  it('takes in-place for a dev stage, explicit workloads in any case of kind, and approval: true', () => {
    const p = basePlan();
    p.stages.unshift({
      name: 'dev',
      namespace: 'dev',
      strategy: 'in-place',
      workloads: ['deployment/auth-api', 'StatefulSet/db-0', 'cronjob/report.daily'],
      approval: true,
    });
    const plan = parsePlan(p);
    assert.deepEqual(plan.stages[0].strategy, { type: 'in-place' });
    assert.deepEqual(plan.stages[0].workloads, [
      { kind: 'Deployment', name: 'auth-api' },
      { kind: 'StatefulSet', name: 'db-0' },
      { kind: 'CronJob', name: 'report.daily' },
    ]);
    assert.equal(plan.stages[0].approval, 'required');
    assert.equal(plan.stages[1].soakMs, DAY, 'staging is no longer first but still not last');
  });

  it('takes every store kind and value source', () => {
    for (const store of ['kubernetes', 'aws-secrets-manager', 'external-secrets']) {
      const p = basePlan();
      p.store = store;
      if (store !== 'kubernetes') p.awsSecretsManager = { secretId: '/production/auth-api/token', region: 'eu-west-1' };
      if (store === 'external-secrets') p.externalSecrets = { secretStoreRef: { name: 'aws' } };
      assert.equal(parsePlan(p).store, store);
      assert.deepEqual(
        parsePlan(p).target,
        store === 'kubernetes'
          ? undefined
          : {
              awsSecretsManager: { secretId: '/production/auth-api/token', region: 'eu-west-1' },
              // A SecretStore (in each stage's namespace) unless the plan says ClusterSecretStore, as in ESO itself.
              ...(store === 'external-secrets' ? { externalSecrets: { secretStoreRef: { name: 'aws', kind: 'SecretStore' } } } : {}),
            },
      );
    }
    const file = basePlan();
    file.value = { fromFile: './token.env' };
    assert.deepEqual(parsePlan(file).value, { fromFile: './token.env' });
    const aws = basePlan();
    aws.store = 'aws-secrets-manager';
    aws.awsSecretsManager = { secretId: '/production/auth-api/token' };
    aws.value = { awsSecretsManager: { secretId: '/production/auth-api/token' } };
    assert.deepEqual(parsePlan(aws).value, { awsSecretsManager: { secretId: '/production/auth-api/token' } });
    aws.value = { awsSecretsManager: { secretId: 'arn:aws:secretsmanager:us-east-1:123456789012:secret:x', versionStage: 'AWSCURRENT', region: 'us-east-1' } };
    assert.deepEqual(parsePlan(aws).value, aws.value);
  });

  it('accepts short durations for a demo, combinations and a zero retention', () => {
    const p = basePlan();
    p.stages[0].soak = '30s';
    p.stages[0].analysis.interval = '10s';
    p.stages[1].watch = '1h30m';
    p.retention = '0s';
    const plan = parsePlan(p);
    assert.equal(plan.stages[0].soakMs, 30_000);
    assert.equal(plan.stages[0].analysis?.intervalMs, 10_000);
    assert.equal(plan.stages[1].watchMs, 90 * MINUTE);
    assert.equal(plan.retentionMs, 0);
  });

  it('takes the resources scan.ignore names, and has no scan settings without them', () => {
    const p = basePlan();
    p.scan = { ignore: ['widgets.example.com', 'configmaps', 'triggerauthentications.keda.sh'] };
    assert.deepEqual(parsePlan(p).scan, { ignore: ['widgets.example.com', 'configmaps', 'triggerauthentications.keda.sh'] });
    p.scan = { ignore: [] };
    assert.equal(parsePlan(p).scan, undefined);
    assert.equal('scan' in parsePlan(basePlan()), false, 'a plan without it carries nothing new to the workflow');
  });

  it("takes change windows on a stage and on the plan, a stage's own (even none) over the plan's, and has none without them", () => {
    const p = basePlan();
    p.windows = [{ schedule: '0 22 * * 6', duration: '4h', timeZone: 'Europe/Berlin' }];
    p.stages[0].windows = [];
    const plan = parsePlan(p);
    assert.equal('windows' in plan, false, "the plan's windows go to its stages");
    assert.equal('windows' in plan.stages[0], false, 'an empty list: no windows for this stage');
    assert.deepEqual(plan.stages[1].windows, [{ kind: 'allow', schedule: '0 22 * * 6', durationMs: 4 * HOUR, timeZone: 'Europe/Berlin' }]);
    p.stages[1].windows = [{ kind: 'deny', schedule: '0 9 * * 1-5', duration: '8h' }];
    assert.deepEqual(parsePlan(p).stages[1].windows, [{ kind: 'deny', schedule: '0 9 * * 1-5', durationMs: 8 * HOUR, timeZone: 'UTC' }]);
    assert.equal(
      parsePlan(basePlan()).stages.some((s) => 'windows' in s),
      false,
      'a plan without them carries nothing new to the workflow',
    );
  });

  it('accepts names at the length limits: 63 characters for the secret, 63 for stage names', () => {
    const p = basePlan();
    p.secret = 'a'.repeat(63);
    p.stages[0].name = 's'.repeat(63);
    assert.deepEqual(validatePlan(p).issues, []);
  });

  it('does not mistake names that merely start like "prod" for production', () => {
    const p = basePlan();
    p.stages[0].name = 'products';
    p.stages[0].namespace = 'productivity';
    p.stages[0].strategy = 'in-place';
    assert.deepEqual(validatePlan(p).issues, []);
  });
});

describe('plan limits: what is valid at the edges, and what happens without analysis', () => {
  it('accepts every limit itself: 10 stages, 10 canary steps, interval 10s, limits of 100, 365d, 100 keys of 253 characters, 20 windows of 31d', () => {
    const p = basePlan();
    p.stages.splice(1, 0, ...Array.from({ length: 8 }, (_, i) => ({ name: `qa-${i}`, namespace: `qa-${i}` })));
    p.stages[9].strategy.canary.steps = [1, 2, 3, 4, 5, 6, 7, 8, 9, 100];
    p.stages[9].analysis = { ...p.stages[9].analysis, interval: '10s', failureLimit: 100, inconclusiveLimit: 100 };
    p.value.generate.keys = Array.from({ length: 100 }, (_, i) => `${i}`.padStart(253, 'k'));
    p.retention = '365d';
    Object.assign(p.stages[0], { approval: 'required', approvalTimeout: '8760h' });
    p.windows = Array.from({ length: 20 }, (_, i) => ({ schedule: `0 ${i} * * *`, duration: '31d' }));
    const plan = parsePlan(p);
    assert.equal(plan.stages.length, 10);
    assert.deepEqual([plan.stages[0].windows?.length, plan.stages[0].windows?.[19].durationMs], [20, 31 * DAY]);
    assert.equal(plan.retentionMs, 365 * DAY);
    assert.deepEqual(
      plan.stages[9].analysis && [plan.stages[9].analysis.intervalMs, plan.stages[9].analysis.failureLimit, plan.stages[9].analysis.inconclusiveLimit],
      [10_000, 100, 100],
    );
  });

  it('resolves Datadog settings (v2 and avg by default, monitors) and a canary baseline', () => {
    const plan = basePlan();
    Object.assign(plan.stages[1].analysis, { monitors: [42], baseline: { margin: 0.02 }, query: 'sum:errors{version:{{version}}}.as_count()' });
    const { plan: ok, issues } = validatePlan(plan);
    assert.deepEqual(issues, []);
    assert.deepEqual(ok!.stages[1].analysis!.datadog, { api: 'v2', aggregator: 'avg', monitors: [42], windowMs: 60_000 });
    assert.deepEqual(ok!.stages[1].analysis!.baseline, { margin: 0.02 });
    assert.equal(ok!.stages[0].analysis!.datadog, undefined, 'a Prometheus analysis has no Datadog settings');
    plan.stages[1].analysis.api = 'v1';
    plan.stages[1].analysis.window = '5m';
    assert.equal(validatePlan(plan).plan!.stages[1].analysis!.datadog!.api, 'v1');
    assert.equal(validatePlan(plan).plan!.stages[1].analysis!.datadog!.windowMs, 300_000, 'a window longer than the interval');
  });

  it('derives inconclusiveLimit within the cap: failureLimit 100 alone gives 100, not 102', () => {
    const p = basePlan();
    p.stages[0].analysis.failureLimit = 100;
    assert.equal(parsePlan(p).stages[0].analysis?.inconclusiveLimit, 100);
    p.stages[0].analysis.failureLimit = 98;
    assert.equal(parsePlan(p).stages[0].analysis?.inconclusiveLimit, 100);
  });

  it('takes a canary pause of 0s without analysis: each step then waits for its rollout to be healthy, nothing more', () => {
    const p = basePlan();
    delete p.stages[1].analysis;
    p.stages[1].strategy.canary.pause = '0s';
    assert.deepEqual(parsePlan(p).stages[1].strategy, { type: 'canary', steps: [10, 25, 50, 100], pauseMs: 0 });
  });

  it('reports one issue for a canary pause that does not parse, not a second one for being zero', () => {
    const issues = issuesAfter((p) => (p.stages[1].strategy.canary.pause = 'none'));
    assert.deepEqual(
      issues.map((i) => [i.path, i.value]),
      [['stages[1].strategy.canary.pause', '"none"']],
    );
    assert.match(issues[0].message, /cannot parse/);
  });

  it('reports every limit a plan breaks at once, with the other issues', () => {
    const p = basePlan();
    p.stages.push(...Array.from({ length: 9 }, (_, i) => ({ name: `eu-${i}`, namespace: `eu-${i}` })));
    p.stages[1].strategy.canary = { steps: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 100], pause: '0s' };
    p.stages[1].analysis.interval = '1s';
    p.stages[0].analysis.failureLimit = 500;
    p.stages[0].analysis.inconclusiveLimit = 1000;
    p.stages[1].watch = '2h';
    p.retention = '1000d';
    p.store = 'vault';
    const issues = validatePlan(p).issues;
    assert.deepEqual(issues.map((i) => `${i.path} ${i.value}`).sort(), [
      'retention "1000d"',
      'stages 11 stages',
      'stages[0].analysis.failureLimit 500',
      'stages[0].analysis.inconclusiveLimit 1000',
      'stages[1].analysis.interval "1s"',
      'stages[1].strategy.canary.pause "0s"',
      'stages[1].strategy.canary.steps [1,2,3,4,5,6,7,8,9,10,100]',
      'stages[1].watch "2h"',
      'store "vault"',
    ]);
  });

  it('refuses soak on the last stage, verify on a canary and approvalTimeout without approval: fields without effect there', () => {
    const p = basePlan();
    p.stages[1].soak = '5m';
    p.stages[1].analysis.verify = '5m';
    p.stages[0].approvalTimeout = '2h';
    assert.deepEqual(
      validatePlan(p).issues.map((i) => i.path),
      ['stages[0].approvalTimeout', 'stages[1].soak', 'stages[1].analysis.verify'],
    );
    const one = basePlan();
    one.stages = [{ ...one.stages[0], soak: '5m' }];
    assert.deepEqual(
      validatePlan(one).issues.map((i) => i.path),
      ['stages[0].soak'],
      'a one-stage plan: its only stage is the last',
    );
  });

  it('refuses a plan beyond each limit, one issue per limit', () => {
    const p = basePlan();
    p.stages.push(...Array.from({ length: 9 }, (_, i) => ({ name: `eu-${i}`, namespace: `eu-${i}` })));
    p.stages[1].strategy.canary = { steps: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 100], pause: '0s' };
    p.stages[1].analysis.interval = '1s';
    p.stages[1].analysis.failureLimit = 999;
    p.stages[1].analysis.inconclusiveLimit = 1000;
    p.value.generate.keys = Array.from({ length: 101 }, (_, i) => `${i}`.padStart(300, 'k'));
    p.retention = '1000d';
    p.windows = Array.from({ length: 21 }, () => ({ schedule: '0 22 * * 6', duration: '4h' }));
    p.stages[0].windows = [{ schedule: '0 22 * * 6', duration: '32d' }];
    delete p.stages[1].watch;
    assert.deepEqual(
      validatePlan(p)
        .issues.map((i) => i.path)
        .sort(),
      [
        'retention',
        'stages',
        'stages[0].windows[0].duration',
        'stages[1].analysis.failureLimit',
        'stages[1].analysis.inconclusiveLimit',
        'stages[1].analysis.interval',
        'stages[1].strategy.canary.pause',
        'stages[1].strategy.canary.steps',
        'value.generate.keys',
        'windows',
      ],
    );
  });
});

const secret239 = 'a'.repeat(239);

const BAD: BadCase[] = [
  // --- secret
  { title: 'missing secret', mutate: (p) => delete p.secret, path: 'secret', message: /is required.*e\.g\. "auth-api-secrets"/, value: 'nothing' },
  { title: 'empty secret', mutate: (p) => (p.secret = ''), path: 'secret', message: /is required/, value: '""' },
  { title: 'secret not a string', mutate: (p) => (p.secret = 42), path: 'secret', message: /must be a string, e\.g\. "auth-api-secrets"/, value: '42' },
  {
    title: 'secret with uppercase',
    mutate: (p) => (p.secret = 'Auth-API-Secrets'),
    path: 'secret',
    message: /lowercase letters, digits, "-" and "\."/,
    value: '"Auth-API-Secrets"',
  },
  {
    title: 'secret with underscore',
    mutate: (p) => (p.secret = 'auth_api_secrets'),
    path: 'secret',
    message: /Kubernetes name: lowercase letters, digits/,
    value: '"auth_api_secrets"',
  },
  {
    title: 'secret too long for 253 with the 15-character suffix',
    mutate: (p) => (p.secret = secret239),
    path: 'secret',
    message: /is 239 characters; with the 15-character version suffix .* 253, so use at most 238/,
    value: JSON.stringify(`${'a'.repeat(77)}...`),
  },
  {
    title: 'secret longer than the 63-character label limit',
    mutate: (p) => (p.secret = 'a'.repeat(64)),
    path: 'secret',
    message: /is 64 characters; .*label values hold at most 63/,
    value: JSON.stringify('a'.repeat(64)),
  },
  // --- value
  {
    title: 'missing value',
    mutate: (p) => delete p.value,
    path: 'value',
    message: /is required: one of `generate: .*`fromFile: .*`awsSecretsManager: /,
    value: 'nothing',
  },
  {
    title: 'value with two sources',
    mutate: (p) => (p.value = { generate: { keys: ['a'], length: 32 }, fromFile: './x.env' }),
    path: 'value',
    message: /must name exactly one source of generate, fromFile, awsSecretsManager/,
    value: '{"generate":{"keys":["a"],"length":32},"fromFile":"./x.env"}',
  },
  { title: 'value with no source', mutate: (p) => (p.value = {}), path: 'value', message: /exactly one source/, value: '{}' },
  {
    title: 'generate not an object',
    mutate: (p) => (p.value = { generate: 'yes' }),
    path: 'value.generate',
    message: /must be an object such as \{ keys: \[api_token\], length: 48 \}/,
    value: '"yes"',
  },
  {
    title: 'generate with empty keys',
    mutate: (p) => (p.value.generate.keys = []),
    path: 'value.generate.keys',
    message: /must be a non-empty list of Secret keys, e\.g\. \[api_token\]/,
    value: '[]',
  },
  { title: 'generate without keys', mutate: (p) => delete p.value.generate.keys, path: 'value.generate.keys', message: /non-empty list/, value: 'nothing' },
  {
    title: 'duplicate keys',
    mutate: (p) => (p.value.generate.keys = ['api_token', 'other', 'api_token']),
    path: 'value.generate.keys',
    message: /lists "api_token" twice; each key once/,
    value: '["api_token","other","api_token"]',
  },
  {
    title: 'bad key characters',
    mutate: (p) => (p.value.generate.keys = ['api_token', 'api token']),
    path: 'value.generate.keys[1]',
    message: /must be a Secret key: letters, digits, "-", "_" and "\."/,
    value: '"api token"',
  },
  { title: 'key not a string', mutate: (p) => (p.value.generate.keys = [7]), path: 'value.generate.keys[0]', message: /must be a Secret key/, value: '7' },
  {
    title: 'length below 16',
    mutate: (p) => (p.value.generate.length = 8),
    path: 'value.generate.length',
    message: /must be at least 16 characters/,
    value: '8',
  },
  {
    title: 'length not an integer',
    mutate: (p) => (p.value.generate.length = 20.5),
    path: 'value.generate.length',
    message: /must be a whole number from 1 to 4096/,
    value: '20.5',
  },
  {
    title: 'length as a string',
    mutate: (p) => (p.value.generate.length = '48'),
    path: 'value.generate.length',
    message: /whole number from 1 to 4096/,
    value: '"48"',
  },
  {
    title: 'length above 4096',
    mutate: (p) => (p.value.generate.length = 5000),
    path: 'value.generate.length',
    message: /whole number from 1 to 4096/,
    value: '5000',
  },
  {
    title: 'unknown generate field',
    mutate: (p) => (p.value.generate.charset = 'hex'),
    path: 'value.generate.charset',
    message: /unknown field; valid fields here are keys, length/,
    value: '"hex"',
  },
  {
    title: 'fromFile empty',
    mutate: (p) => (p.value = { fromFile: '  ' }),
    path: 'value.fromFile',
    message: /must be the path of a KEY=value file, e\.g\. \.\/token\.env/,
    value: '"  "',
  },
  { title: 'fromFile not a string', mutate: (p) => (p.value = { fromFile: true }), path: 'value.fromFile', message: /path of a KEY=value file/, value: 'true' },
  {
    title: 'awsSecretsManager without secretId',
    mutate: (p) => {
      p.store = 'aws-secrets-manager';
      p.awsSecretsManager = { secretId: 'x' };
      p.value = { awsSecretsManager: {} };
    },
    path: 'value.awsSecretsManager.secretId',
    message: /must be the name or ARN of the secret in AWS Secrets Manager, e\.g\. \/production\/auth-api\/token/,
    value: 'nothing',
  },
  {
    title: 'awsSecretsManager with an empty secretId',
    mutate: (p) => {
      p.store = 'aws-secrets-manager';
      p.awsSecretsManager = { secretId: 'x' };
      p.value = { awsSecretsManager: { secretId: '' } };
    },
    path: 'value.awsSecretsManager.secretId',
    message: /must be the name or ARN/,
    value: '""',
  },
  {
    title: 'awsSecretsManager with a stage rotor cannot read from',
    mutate: (p) => {
      p.store = 'aws-secrets-manager';
      p.awsSecretsManager = { secretId: 'x' };
      p.value = { awsSecretsManager: { secretId: 'x', versionStage: 'AWSPREVIOUS' } };
    },
    path: 'value.awsSecretsManager.versionStage',
    message: /must be AWSPENDING or AWSCURRENT/,
    value: '"AWSPREVIOUS"',
  },
  {
    title: 'unknown value source (typo)',
    mutate: (p) => (p.value = { generat: { keys: ['a'] } }),
    path: 'value.generat',
    message: /unknown field; valid fields here are generate, fromFile, awsSecretsManager/,
    value: '{"keys":["a"]}',
    count: 2,
  },
  // --- store
  {
    title: 'unknown store',
    mutate: (p) => (p.store = 'vault'),
    path: 'store',
    message: /unknown store; use one of "kubernetes", "aws-secrets-manager", "external-secrets"/,
    value: '"vault"',
  },
  {
    title: 'a store outside the cluster without the secret it writes to',
    mutate: (p) => (p.store = 'aws-secrets-manager'),
    path: 'awsSecretsManager',
    message: /is required with store: aws-secrets-manager: \{ secretId: <the secret rotor writes each version to>, region: <optional> \}/,
    value: 'nothing',
  },
  {
    title: 'a value read from AWS with the kubernetes store, which cannot read it',
    mutate: (p) => (p.value = { awsSecretsManager: { secretId: '/production/auth-api/token' } }),
    path: 'value.awsSecretsManager',
    message: /is read by the worker's AWS store: set store: aws-secrets-manager and awsSecretsManager: \{ secretId \}/,
    value: '{"secretId":"/production/auth-api/token"}',
  },
  {
    title: 'an AWS secret for the kubernetes store',
    mutate: (p) => (p.awsSecretsManager = { secretId: 'x' }),
    path: 'awsSecretsManager',
    message: /is only for store: aws-secrets-manager or external-secrets; remove it, or set the store/,
    value: '{"secretId":"x"}',
  },
  {
    title: 'External Secrets mode without its store',
    mutate: (p) => {
      p.store = 'external-secrets';
      p.awsSecretsManager = { secretId: 'x' };
    },
    path: 'externalSecrets',
    message: /is required with store: external-secrets: \{ secretStoreRef: \{ name: <SecretStore or ClusterSecretStore/,
    value: 'nothing',
  },
  {
    title: 'an ExternalSecret store for another store kind',
    mutate: (p) => {
      p.store = 'aws-secrets-manager';
      p.awsSecretsManager = { secretId: 'x' };
      p.externalSecrets = { secretStoreRef: { name: 'aws' } };
    },
    path: 'externalSecrets',
    message: /is only for store: external-secrets; remove it, or set store: external-secrets/,
    value: '{"secretStoreRef":{"name":"aws"}}',
  },
  {
    title: 'an ExternalSecret store of an unknown kind',
    mutate: (p) => {
      p.store = 'external-secrets';
      p.awsSecretsManager = { secretId: 'x' };
      p.externalSecrets = { secretStoreRef: { name: 'aws', kind: 'VaultStore' } };
    },
    path: 'externalSecrets.secretStoreRef.kind',
    message: /must be SecretStore or ClusterSecretStore/,
    value: '"VaultStore"',
  },
  {
    title: 'an ExternalSecret store without a valid name',
    mutate: (p) => {
      p.store = 'external-secrets';
      p.awsSecretsManager = { secretId: 'x' };
      p.externalSecrets = { secretStoreRef: { name: 'AWS Store' } };
    },
    path: 'externalSecrets.secretStoreRef.name',
    message: /must be the name of a SecretStore or ClusterSecretStore/,
    value: '"AWS Store"',
  },
  {
    title: 'an AWS region that is not one',
    mutate: (p) => {
      p.store = 'external-secrets';
      p.awsSecretsManager = { secretId: 'x', region: 'Europe' };
      p.externalSecrets = { secretStoreRef: { name: 'aws' } };
    },
    path: 'awsSecretsManager.region',
    message: /must be an AWS region such as us-east-1 or eu-west-1/,
    value: '"Europe"',
  },
  // --- stages
  {
    title: 'missing stages',
    mutate: (p) => delete p.stages,
    path: 'stages',
    message: /is required: a list of stages, e\.g\. staging then production/,
    value: 'nothing',
  },
  { title: 'empty stages', mutate: (p) => (p.stages = []), path: 'stages', message: /a list of stages/, value: '[]' },
  { title: 'stages not a list', mutate: (p) => (p.stages = { staging: {} }), path: 'stages', message: /a list of stages/, value: '{"staging":{}}' },
  {
    title: 'stage not an object',
    mutate: (p) => (p.stages[0] = 'staging'),
    path: 'stages[0]',
    message: /must be a stage such as \{ name: staging, namespace: staging, strategy: rolling \}/,
    value: '"staging"',
  },
  {
    title: 'missing stage name',
    mutate: (p) => delete p.stages[0].name,
    path: 'stages[0].name',
    message: /is required: a short lowercase name such as "staging"/,
    value: 'nothing',
  },
  {
    title: 'stage name with uppercase',
    mutate: (p) => (p.stages[0].name = 'Staging'),
    path: 'stages[0].name',
    message: /short lowercase name/,
    value: '"Staging"',
  },
  {
    title: 'stage name too long',
    mutate: (p) => (p.stages[0].name = 's'.repeat(64)),
    path: 'stages[0].name',
    message: /short lowercase name/,
    value: JSON.stringify('s'.repeat(64)),
  },
  {
    title: 'bad namespace',
    mutate: (p) => (p.stages[0].namespace = 'Staging_NS'),
    path: 'stages[0].namespace',
    message: /a Kubernetes namespace name \(lowercase letters, digits and "-", at most 63\)/,
    value: '"Staging_NS"',
  },
  {
    title: 'namespace with a dot',
    mutate: (p) => (p.stages[0].namespace = 'team.staging'),
    path: 'stages[0].namespace',
    message: /namespace name/,
    value: '"team.staging"',
  },
  {
    title: 'missing namespace',
    mutate: (p) => delete p.stages[1].namespace,
    path: 'stages[1].namespace',
    message: /is required: a Kubernetes namespace name/,
    value: 'nothing',
  },
  {
    title: 'duplicate stage name',
    mutate: (p) => (p.stages[1].name = 'staging'),
    path: 'stages[1].name',
    message: /duplicates stages\[0\]\.name; every stage needs its own name/,
    value: '"staging"',
  },
  {
    title: 'duplicate namespace',
    mutate: (p) => (p.stages[1].namespace = 'staging'),
    path: 'stages[1].namespace',
    message: /is already rolled by stages\[0\]; each stage rolls its own namespace/,
    value: '"staging"',
  },
  {
    title: 'production first (name production)',
    mutate: (p) => (p.stages = [p.stages[1]]),
    path: 'stages[0]',
    message: /production needs a prior stage \(e\.g\. staging\)/,
    value: '"production"',
  },
  {
    title: 'production first (namespace prod)',
    mutate: (p) => {
      p.stages[0].name = 'eu';
      p.stages[0].namespace = 'prod';
    },
    path: 'stages[0]',
    message: /needs a prior stage .* add one before it/,
    value: '"eu"',
  },
  {
    title: 'production first (namespace prod-eu)',
    mutate: (p) => (p.stages[0].namespace = 'prod-eu'),
    path: 'stages[0]',
    message: /prior stage/,
    value: '"staging"',
  },
  {
    title: 'in-place in production',
    mutate: (p) => (p.stages[1].strategy = 'in-place'),
    path: 'stages[1].strategy',
    message: /in-place is for dev namespaces only; production uses "rolling" or a canary/,
    value: '"in-place"',
  },
  {
    title: 'unknown strategy',
    mutate: (p) => (p.stages[0].strategy = 'blue-green'),
    path: 'stages[0].strategy',
    message: /unknown strategy; use "rolling", "in-place" or \{ canary: /,
    value: '"blue-green"',
  },
  {
    title: 'canary not an object',
    mutate: (p) => (p.stages[1].strategy = { canary: 25 }),
    path: 'stages[1].strategy.canary',
    message: /must be \{ steps: \[10, 25, 50, 100\], pause: 10m \}/,
    value: '25',
  },
  {
    title: 'canary steps not increasing',
    mutate: (p) => (p.stages[1].strategy.canary.steps = [10, 50, 25, 100]),
    path: 'stages[1].strategy.canary.steps',
    message: /must increase strictly, e\.g\. \[10, 25, 50, 100\]/,
    value: '[10,50,25,100]',
  },
  {
    title: 'canary steps repeating a step',
    mutate: (p) => (p.stages[1].strategy.canary.steps = [10, 10, 100]),
    path: 'stages[1].strategy.canary.steps',
    message: /increase strictly/,
    value: '[10,10,100]',
  },
  {
    title: 'canary steps not ending at 100',
    mutate: (p) => (p.stages[1].strategy.canary.steps = [10, 25, 50]),
    path: 'stages[1].strategy.canary.steps',
    message: /must end at 100 so the rollout completes/,
    value: '[10,25,50]',
  },
  {
    title: 'canary step 0',
    mutate: (p) => (p.stages[1].strategy.canary.steps = [0, 50, 100]),
    path: 'stages[1].strategy.canary.steps',
    message: /whole percentages from 1 to 100, e\.g\. \[10, 25, 50, 100\]/,
    value: '[0,50,100]',
  },
  {
    title: 'canary step 150',
    mutate: (p) => (p.stages[1].strategy.canary.steps = [50, 150]),
    path: 'stages[1].strategy.canary.steps',
    message: /whole percentages from 1 to 100/,
    value: '[50,150]',
  },
  {
    title: 'canary steps not numbers',
    mutate: (p) => (p.stages[1].strategy.canary.steps = ['10%', '100%']),
    path: 'stages[1].strategy.canary.steps',
    message: /whole percentages from 1 to 100/,
    value: '["10%","100%"]',
  },
  {
    title: 'canary steps empty',
    mutate: (p) => (p.stages[1].strategy.canary.steps = []),
    path: 'stages[1].strategy.canary.steps',
    message: /whole percentages/,
    value: '[]',
  },
  {
    title: 'canary step fractional',
    mutate: (p) => (p.stages[1].strategy.canary.steps = [12.5, 100]),
    path: 'stages[1].strategy.canary.steps',
    message: /whole percentages/,
    value: '[12.5,100]',
  },
  {
    title: 'unknown canary field',
    mutate: (p) => (p.stages[1].strategy.canary.weight = 10),
    path: 'stages[1].strategy.canary.weight',
    message: /unknown field; valid fields here are steps, pause/,
    value: '10',
  },
  // --- durations
  {
    title: 'duration "10 minutes"',
    mutate: (p) => (p.stages[0].soak = '10 minutes'),
    path: 'stages[0].soak',
    message: /cannot parse; write a duration such as 30s, 10m, 24h, 14d or 1h30m/,
    value: '"10 minutes"',
  },
  {
    title: 'duration "5" without a unit',
    mutate: (p) => (p.retention = '5'),
    path: 'retention',
    message: /cannot parse; write a duration such as 30s/,
    value: '"5"',
  },
  {
    title: 'duration 5 as a number',
    mutate: (p) => (p.stages[1].watch = 5),
    path: 'stages[1].watch',
    message: /a bare number has no unit; write a duration such as 30s, 10m/,
    value: '5',
  },
  {
    title: 'negative duration',
    mutate: (p) => (p.stages[1].strategy.canary.pause = '-5m'),
    path: 'stages[1].strategy.canary.pause',
    message: /must not be negative; write a duration such as/,
    value: '"-5m"',
  },
  { title: 'duration with a capital unit', mutate: (p) => (p.retention = '14D'), path: 'retention', message: /cannot parse; write a duration/, value: '"14D"' },
  {
    title: 'empty duration (YAML "soak:" with nothing)',
    mutate: (p) => (p.stages[0].soak = null),
    path: 'stages[0].soak',
    message: /expected a duration such as 30s/,
    value: 'null',
  },
  {
    title: 'interval 0s',
    mutate: (p) => (p.stages[0].analysis.interval = '0s'),
    path: 'stages[0].analysis.interval',
    message: /must be longer than zero; write a duration such as/,
    value: '"0s"',
  },
  {
    title: 'approvalTimeout 0s',
    mutate: (p) => (p.stages[1].approvalTimeout = '0s'),
    path: 'stages[1].approvalTimeout',
    message: /longer than zero/,
    value: '"0s"',
  },
  {
    title: 'rolloutTimeout unparsable',
    mutate: (p) => (p.stages[0].rolloutTimeout = 'soon'),
    path: 'stages[0].rolloutTimeout',
    message: /cannot parse/,
    value: '"soon"',
  },
  { title: 'cleanupRecheck 0s', mutate: (p) => (p.cleanupRecheck = '0s'), path: 'cleanupRecheck', message: /longer than zero/, value: '"0s"' },
  {
    title: 'verify unparsable',
    mutate: (p) => (p.stages[0].analysis.verify = '1 hour'),
    path: 'stages[0].analysis.verify',
    message: /cannot parse/,
    value: '"1 hour"',
  },
  // --- analysis
  {
    title: 'analysis not an object',
    mutate: (p) => (p.stages[0].analysis = 'prometheus'),
    path: 'stages[0].analysis',
    message: /must be \{ provider, query, threshold, interval, failureLimit \}/,
    value: '"prometheus"',
  },
  {
    title: 'unknown provider',
    mutate: (p) => (p.stages[0].analysis.provider = 'newrelic'),
    path: 'stages[0].analysis.provider',
    message: /unknown metrics provider; use one of "prometheus", "datadog"/,
    value: '"newrelic"',
  },
  {
    title: 'missing provider',
    mutate: (p) => delete p.stages[1].analysis.provider,
    path: 'stages[1].analysis.provider',
    message: /use one of "prometheus", "datadog"/,
    value: 'nothing',
  },
  {
    title: 'empty query',
    mutate: (p) => (p.stages[0].analysis.query = '   '),
    path: 'stages[0].analysis.query',
    message: /is required: the query whose value is compared with the threshold/,
    value: '"   "',
  },
  { title: 'missing query', mutate: (p) => delete p.stages[1].analysis.query, path: 'stages[1].analysis.query', message: /is required/, value: 'nothing' },
  {
    title: 'threshold as a string',
    mutate: (p) => (p.stages[0].analysis.threshold = '0.01'),
    path: 'stages[0].analysis.threshold',
    message: /must be a number .*, e\.g\. 0\.01/,
    value: '"0.01"',
  },
  {
    title: 'missing threshold',
    mutate: (p) => delete p.stages[0].analysis.threshold,
    path: 'stages[0].analysis.threshold',
    message: /must be a number/,
    value: 'nothing',
  },
  {
    title: 'threshold NaN',
    mutate: (p) => (p.stages[0].analysis.threshold = Number.NaN),
    path: 'stages[0].analysis.threshold',
    message: /must be a number/,
    value: 'null',
  },
  {
    title: 'failureLimit 0',
    mutate: (p) => (p.stages[0].analysis.failureLimit = 0),
    path: 'stages[0].analysis.failureLimit',
    message: /must be a whole number from 1 to 100$/,
    value: '0',
  },
  {
    title: 'failureLimit 1.5',
    mutate: (p) => (p.stages[0].analysis.failureLimit = 1.5),
    path: 'stages[0].analysis.failureLimit',
    message: /must be a whole number from 1 to 100$/,
    value: '1.5',
  },
  {
    title: 'inconclusiveLimit negative',
    mutate: (p) => (p.stages[0].analysis.inconclusiveLimit = -1),
    path: 'stages[0].analysis.inconclusiveLimit',
    message: /whole number from 1 to 100$/,
    value: '-1',
  },
  {
    title: 'unknown analysis field',
    mutate: (p) => (p.stages[0].analysis.treshold = 1),
    path: 'stages[0].analysis.treshold',
    message: /unknown field; valid fields here are provider, query, threshold, interval, failureLimit/,
    value: '1',
  },
  // --- stage fields
  {
    title: 'approval "maybe"',
    mutate: (p) => (p.stages[1].approval = 'maybe'),
    path: 'stages[1].approval',
    message: /use "required" .* or "none"/,
    value: '"maybe"',
  },
  {
    title: 'watch on a non-last stage',
    mutate: (p) => (p.stages[0].watch = '1h'),
    path: 'stages[0].watch',
    message: /only the last stage watches after its rollout; use soak for earlier stages/,
    value: '"1h"',
  },
  {
    title: 'soak on the last stage',
    mutate: (p) => (p.stages[1].soak = '5m'),
    path: 'stages[1].soak',
    message: /the last stage has no next stage to soak before; use watch/,
    value: '"5m"',
  },
  {
    title: 'approvalTimeout without approval',
    mutate: (p) => (p.stages[0].approvalTimeout = '2h'),
    path: 'stages[0].approvalTimeout',
    message: /applies only to a stage with approval: required; add that, or remove approvalTimeout/,
    value: '"2h"',
  },
  {
    title: 'verify on a canary stage',
    mutate: (p) => (p.stages[1].analysis.verify = '5m'),
    path: 'stages[1].analysis.verify',
    message: /a canary stage is judged over each step's pause, not a verify window/,
    value: '"5m"',
  },
  {
    title: 'workloads neither auto nor a list',
    mutate: (p) => (p.stages[0].workloads = 'all'),
    path: 'stages[0].workloads',
    message: /"auto" .* or a non-empty list such as \[deployment\/auth-api\]/,
    value: '"all"',
  },
  { title: 'workloads an empty list', mutate: (p) => (p.stages[0].workloads = []), path: 'stages[0].workloads', message: /non-empty list/, value: '[]' },
  {
    title: 'workload entry without a name ("deploy")',
    mutate: (p) => (p.stages[0].workloads = ['deployment/auth-api', 'deploy']),
    path: 'stages[0].workloads[1]',
    message: /must be kind\/name with kind one of Deployment, StatefulSet, DaemonSet, ReplicaSet, CronJob, Job, Pod, e\.g\. deployment\/auth-api/,
    value: '"deploy"',
  },
  {
    title: 'workload entry of an unknown kind ("Foo/bar")',
    mutate: (p) => (p.stages[0].workloads = ['Foo/bar']),
    path: 'stages[0].workloads[0]',
    message: /must be kind\/name with kind one of Deployment/,
    value: '"Foo/bar"',
  },
  {
    title: 'workload entry with an uppercase name',
    mutate: (p) => (p.stages[0].workloads = ['deployment/Auth']),
    path: 'stages[0].workloads[0]',
    message: /kind\/name/,
    value: '"deployment/Auth"',
  },
  {
    title: 'workload entry not a string',
    mutate: (p) => (p.stages[0].workloads = [{ kind: 'Deployment', name: 'auth-api' }]),
    path: 'stages[0].workloads[0]',
    message: /kind\/name/,
    value: '{"kind":"Deployment","name":"auth-api"}',
  },
  {
    title: 'duplicated workload (kind in another case)',
    mutate: (p) => (p.stages[0].workloads = ['deployment/auth-api', 'Deployment/auth-api']),
    path: 'stages[0].workloads[1]',
    message: /is listed twice; list each workload once/,
    value: '"Deployment/auth-api"',
  },
  // --- limits: plan size and rhythm
  {
    title: 'canary pause 0s in a stage with an analysis',
    mutate: (p) => (p.stages[1].strategy.canary.pause = '0s'),
    path: 'stages[1].strategy.canary.pause',
    message:
      /must be longer than zero when the stage has an analysis: each canary step is judged by measuring over its pause; write e\.g\. 10m, or remove the analysis/,
    value: '"0s"',
  },
  {
    title: 'eleven canary steps',
    mutate: (p) => (p.stages[1].strategy.canary.steps = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 100]),
    path: 'stages[1].strategy.canary.steps',
    message: /has 11 steps; use at most 10, e\.g\. \[10, 25, 50, 100\]/,
    value: '[1,2,3,4,5,6,7,8,9,10,100]',
  },
  {
    title: 'eleven stages',
    mutate: (p) => p.stages.splice(1, 0, ...Array.from({ length: 9 }, (_, i) => ({ name: `qa-${i}`, namespace: `qa-${i}` }))),
    path: 'stages',
    message: /must be at most 10 stages; roll more namespaces with one rotation per group of them/,
    value: '11 stages',
  },
  {
    title: 'interval 5s',
    mutate: (p) => (p.stages[0].analysis.interval = '5s'),
    path: 'stages[0].analysis.interval',
    message: /must be at least 10s: .* write e\.g\. 30s or 1m/,
    value: '"5s"',
  },
  {
    title: 'interval 9s999ms',
    mutate: (p) => (p.stages[1].analysis.interval = '9s999ms'),
    path: 'stages[1].analysis.interval',
    message: /must be at least 10s/,
    value: '"9s999ms"',
  },
  {
    title: 'failureLimit 101',
    mutate: (p) => (p.stages[0].analysis.failureLimit = 101),
    path: 'stages[0].analysis.failureLimit',
    message: /must be a whole number from 1 to 100$/,
    value: '101',
  },
  {
    title: 'inconclusiveLimit 101',
    mutate: (p) => (p.stages[1].analysis.inconclusiveLimit = 101),
    path: 'stages[1].analysis.inconclusiveLimit',
    message: /must be a whole number from 1 to 100$/,
    value: '101',
  },
  {
    title: 'consecutiveErrorLimit 0',
    mutate: (p) => (p.stages[0].analysis.consecutiveErrorLimit = 0),
    path: 'stages[0].analysis.consecutiveErrorLimit',
    message: /must be a whole number from 1 to 100$/,
    value: '0',
  },
  {
    title: 'consecutiveErrorLimit as a string',
    mutate: (p) => (p.stages[1].analysis.consecutiveErrorLimit = '4'),
    path: 'stages[1].analysis.consecutiveErrorLimit',
    message: /whole number from 1 to 100$/,
    value: '"4"',
  },
  {
    title: 'retention longer than a year',
    mutate: (p) => (p.retention = '366d'),
    path: 'retention',
    message: /must be at most 365d; write a duration such as/,
    value: '"366d"',
  },
  {
    title: 'soak a year and an hour',
    mutate: (p) => (p.stages[0].soak = '365d1h'),
    path: 'stages[0].soak',
    message: /must be at most 365d/,
    value: '"365d1h"',
  },
  {
    title: 'generate with 101 keys',
    mutate: (p) => (p.value.generate.keys = Array.from({ length: 101 }, (_, i) => `key_${i}`)),
    path: 'value.generate.keys',
    message: /must list at most 100 keys; a Secret holds at most 1 MiB/,
    value: '101 keys',
  },
  {
    title: 'generate key longer than 253 characters',
    mutate: (p) => (p.value.generate.keys = ['k'.repeat(254)]),
    path: 'value.generate.keys[0]',
    message: /must be a Secret key: letters, digits, "-", "_" and "\.", at most 253 characters/,
    value: JSON.stringify(`${'k'.repeat(77)}...`),
  },
  // --- provider settings, query variables, baselines
  {
    title: 'a Datadog setting on a Prometheus analysis',
    mutate: (p) => (p.stages[0].analysis.aggregator = 'sum'),
    path: 'stages[0].analysis.aggregator',
    message: /is a Datadog setting; remove it, or use provider: datadog/,
    value: '"sum"',
  },
  {
    title: 'an aggregator with the v1 API, which takes the last point',
    mutate: (p) => Object.assign(p.stages[1].analysis, { api: 'v1', aggregator: 'max' }),
    path: 'stages[1].analysis.aggregator',
    message: /applies to api v2 only \(v1 takes the last point\)/,
    value: '"max"',
  },
  {
    title: 'a Datadog window on a Prometheus analysis (PromQL writes its own range)',
    mutate: (p) => (p.stages[0].analysis.window = '5m'),
    path: 'stages[0].analysis.window',
    message: /is a Datadog setting; remove it, or use provider: datadog/,
    value: '"5m"',
  },
  {
    title: 'a Datadog window of zero',
    mutate: (p) => (p.stages[1].analysis.window = '0s'),
    path: 'stages[1].analysis.window',
    message: /longer than zero/,
    value: '"0s"',
  },
  {
    title: 'an unknown Datadog API version',
    mutate: (p) => (p.stages[1].analysis.api = 'v3'),
    path: 'stages[1].analysis.api',
    message: /must be "v1", "v2"/,
    value: '"v3"',
  },
  {
    title: 'a monitor id that is not a whole number',
    mutate: (p) => (p.stages[1].analysis.monitors = [123, 'abc']),
    path: 'stages[1].analysis.monitors[1]',
    message: /must be a Datadog monitor id/,
    value: '"abc"',
  },
  {
    title: 'a query variable rotor does not fill in',
    mutate: (p) => (p.stages[0].analysis.query = 'sum(rate(errors{pod="{{pod}}"}[1m]))'),
    path: 'stages[0].analysis.query',
    message: /names \{\{pod\}\}, which rotor does not fill in; use \{\{namespace\}\}, \{\{stage\}\}, \{\{version\}\}/,
    value: JSON.stringify('sum(rate(errors{pod="{{pod}}"}[1m]))'),
  },
  {
    title: 'a baseline on a rolling stage, where old and new never run side by side',
    mutate: (p) => Object.assign(p.stages[0].analysis, { baseline: { margin: 0.01 }, query: 'errors{version="{{version}}"}' }),
    path: 'stages[0].analysis.baseline',
    message: /only a canary does; use strategy \{ canary: \.\.\. \}, or remove baseline/,
    value: '{"margin":0.01}',
  },
  {
    title: 'a baseline whose query cannot tell the versions apart',
    mutate: (p) => (p.stages[1].analysis.baseline = { margin: 0.01 }),
    path: 'stages[1].analysis.query',
    message: /must select by \{\{version\}\} when the analysis has a baseline/,
    value: JSON.stringify('sum:api.auth.errors{env:production}.as_count()'),
  },
  {
    title: 'a negative baseline margin',
    mutate: (p) => Object.assign(p.stages[1].analysis, { baseline: { margin: -1 }, query: 'sum:errors{version:{{version}}}.as_count()' }),
    path: 'stages[1].analysis.baseline.margin',
    message: /must be zero or more/,
    value: '-1',
  },
  // --- batch
  {
    title: 'a batch with both size and percent',
    mutate: (p) => (p.stages[0].batch = { size: 5, percent: 20 }),
    path: 'stages[0].batch',
    message: /must be \{ size: 5 \} or \{ percent: 25 \} \(one of them\), with an optional pause/,
    value: '{"size":5,"percent":20}',
  },
  {
    title: 'a batch of zero workloads',
    mutate: (p) => (p.stages[0].batch = { size: 0 }),
    path: 'stages[0].batch.size',
    message: /must be a whole number from 1 to 1000/,
    value: '0',
  },
  {
    title: 'a batch percentage over 100',
    mutate: (p) => (p.stages[0].batch = { percent: 150 }),
    path: 'stages[0].batch.percent',
    message: /must be a whole number from 1 to 100/,
    value: '150',
  },
  {
    title: 'a batch on a canary stage',
    mutate: (p) => (p.stages[1].batch = { size: 2 }),
    path: 'stages[1].batch',
    message: /applies to rolling and in-place stages: a canary already moves by replica weight/,
    value: '{"size":2}',
  },
  {
    title: 'a batch on a stage that changes through Git',
    mutate: (p) => {
      p.gitops = { repo: 'https://git.example.test/platform.git' };
      Object.assign(p.stages[0], { batch: { size: 2 }, gitops: { path: 'apps/staging' } });
    },
    path: 'stages[0].batch',
    message: /does not combine with gitops: what Git applies changes by one commit/,
    value: '{"size":2}',
  },
  {
    title: 'a batch with an unknown field',
    mutate: (p) => (p.stages[0].batch = { size: 2, wait: '5m' }),
    path: 'stages[0].batch.wait',
    message: /unknown field; valid fields here are size, percent, pause/,
    value: '"5m"',
  },
  // --- preflight
  {
    title: 'a pre-flight URL carrying the credential',
    mutate: (p) => (p.stages[0].preflight = [{ http: { url: 'https://auth.example.test/verify?token={{secret.api_token}}' } }]),
    path: 'stages[0].preflight[0].http.url',
    message: /must not name a placeholder: a URL is shown in the status and the logs; send the credential in a header or the body/,
    value: '"https://auth.example.test/verify?token={{secret.api_token}}"',
  },
  {
    title: 'a pre-flight URL with a password in it',
    mutate: (p) => (p.stages[0].preflight = [{ http: { url: 'https://rotor:hunter22@auth.example.test/verify' } }]),
    path: 'stages[0].preflight[0].http.url',
    message: /must be an http:\/\/ or https:\/\/ URL with no credential in it/,
    value: '"https://rotor:hunter22@auth.example.test/verify"',
  },
  {
    title: 'a pre-flight header naming an unknown placeholder',
    mutate: (p) => (p.stages[0].preflight = [{ http: { url: 'https://auth.example.test/verify', headers: { Authorization: 'Bearer {{env.TOKEN}}' } } }]),
    path: 'stages[0].preflight[0].http.headers.Authorization',
    message: /names \{\{env\.TOKEN\}\}; the only placeholder is \{\{secret\.<key>\}\}/,
    value: '"Bearer {{env.TOKEN}}"',
  },
  {
    title: 'a pre-flight body naming a key the generated value lacks',
    mutate: (p) => (p.stages[0].preflight = [{ http: { url: 'https://auth.example.test/verify', body: 'password={{secret.password}}' } }]),
    path: 'stages[0].preflight[0].http.body',
    message: /names \{\{secret\.password\}\}, but the new version's keys are api_token; name one of those/,
    value: '"password={{secret.password}}"',
  },
  {
    title: 'a pre-flight check that is both an HTTP call and a Job',
    mutate: (p) => (p.stages[0].preflight = [{ http: { url: 'https://auth.example.test/verify' }, job: { image: 'curlimages/curl:8.11.1' } }]),
    path: 'stages[0].preflight[0]',
    message: /must name exactly one of http or job/,
    value: '{"http":{"url":"https://auth.example.test/verify"},"job":{"image":"curlimages...',
  },
  {
    title: 'a pre-flight status code out of range',
    mutate: (p) => (p.stages[0].preflight = [{ http: { url: 'https://auth.example.test/verify', expect: { status: [2000] } } }]),
    path: 'stages[0].preflight[0].http.expect.status[0]',
    message: /must be a list of HTTP status codes from 100 to 599/,
    value: '2000',
  },
  {
    title: 'pre-flight retries without bound',
    mutate: (p) => (p.stages[0].preflight = [{ http: { url: 'https://auth.example.test/verify', retries: 50 } }]),
    path: 'stages[0].preflight[0].http.retries',
    message: /must be a whole number from 0 to 5/,
    value: '50',
  },
  {
    title: 'a pre-flight HTTP timeout over two minutes',
    mutate: (p) => (p.stages[0].preflight = [{ http: { url: 'https://auth.example.test/verify', timeout: '10m' } }]),
    path: 'stages[0].preflight[0].http.timeout',
    message: /must be at most 2m/,
    value: '"10m"',
  },
  {
    title: 'a pre-flight Job reading the version at a relative path',
    mutate: (p) => (p.stages[0].preflight = [{ job: { image: 'curlimages/curl:8.11.1', secretAs: { volume: 'etc/auth' } } }]),
    path: 'stages[0].preflight[0].job.secretAs',
    message: /must be envFrom \(every key a variable\) or \{ volume: \/etc\/secret \}/,
    value: '{"volume":"etc/auth"}',
  },
  {
    title: 'a pre-flight Job without an image',
    mutate: (p) => (p.stages[0].preflight = [{ job: { command: ['check'] } }]),
    path: 'stages[0].preflight[0].job.image',
    message: /must be a container image, e.g\. curlimages\/curl/,
    value: 'nothing',
  },
  {
    title: 'two pre-flight checks of one name',
    mutate: (p) =>
      (p.stages[0].preflight = [
        { name: 'verify', http: { url: 'https://auth.example.test/a' } },
        { name: 'verify', http: { url: 'https://auth.example.test/b' } },
      ]),
    path: 'stages[0].preflight',
    message: /must give each check its own name/,
    value: '[{"name":"verify","http":{"url":"https://auth.example.test/a"}},{"name":"veri...',
  },
  {
    title: 'a pre-flight check with an unknown field',
    mutate: (p) => (p.stages[0].preflight = [{ http: { url: 'https://auth.example.test/verify', insecure: true } }]),
    path: 'stages[0].preflight[0].http.insecure',
    message: /unknown field; valid fields here are url, method, headers, body, expect, timeout, retries/,
    value: 'true',
  },
  // --- scan.ignore
  {
    title: 'scan.ignore naming a kind instead of a resource',
    mutate: (p) => (p.scan = { ignore: ['widgets.example.com', 'Widget'] }),
    path: 'scan.ignore[1]',
    message: /must name a resource as `kubectl api-resources` does: its plural and API group, e.g\. widgets\.example\.com/,
    value: '"Widget"',
  },
  {
    title: 'scan.ignore naming a resource the workload scan reads',
    mutate: (p) => (p.scan = { ignore: ['deployments.apps'] }),
    path: 'scan.ignore[0]',
    message: /deployments\.apps is read by the workload scan, which cannot be skipped.*remove it/,
    value: '"deployments.apps"',
  },
  {
    title: 'scan.ignore naming a resource twice',
    mutate: (p) => (p.scan = { ignore: ['widgets.example.com', 'widgets.example.com'] }),
    path: 'scan.ignore',
    message: /lists "widgets\.example\.com" twice; each resource once/,
    value: '["widgets.example.com","widgets.example.com"]',
  },
  {
    title: 'scan.ignore not a list',
    mutate: (p) => (p.scan = { ignore: 'widgets.example.com' }),
    path: 'scan.ignore',
    message: /must be \{ ignore: \[<resource>\.<group>, \.\.\.\] \}/,
    value: '"widgets.example.com"',
  },
  {
    title: 'an unknown field in scan',
    mutate: (p) => (p.scan = { ignored: ['widgets.example.com'] }),
    path: 'scan.ignored',
    message: /unknown field; valid fields here are ignore/,
    value: '["widgets.example.com"]',
  },
  {
    title: 'scan not a mapping',
    mutate: (p) => (p.scan = ['widgets.example.com']),
    path: 'scan',
    message: /must be \{ ignore: \[<resource>\.<group>, \.\.\.\] \}, e\.g\. \{ ignore: \[widgets\.example\.com\] \}/,
    value: '["widgets.example.com"]',
  },
  // --- windows
  {
    title: 'a window schedule croner refuses',
    mutate: (p) => (p.stages[1].windows = [{ schedule: '0 25 * * *', duration: '4h' }]),
    path: 'stages[1].windows[0].schedule',
    message: /^is not a cron schedule of five fields \(minute hour day-of-month month day-of-week\), e\.g\. "0 22 \* \* 6" for Saturdays at 22:00: .*hour/,
    value: '"0 25 * * *"',
  },
  {
    title: 'a window schedule that never fires',
    mutate: (p) => (p.windows = [{ schedule: '0 0 31 4 *', duration: '4h' }]),
    path: 'windows[0].schedule',
    message: /^never fires \(a date that does not exist, such as 30 February\); fix the day or the month$/,
    value: '"0 0 31 4 *"',
  },
  {
    title: 'a window in a time zone the runtime does not know',
    mutate: (p) => (p.stages[1].windows = [{ schedule: '0 22 * * 6', duration: '4h', timeZone: 'Europe/Berlim' }]),
    path: 'stages[1].windows[0].timeZone',
    message: /^is not a time zone this runtime knows; use an IANA name such as Europe\/Berlin, America\/New_York or UTC$/,
    value: '"Europe/Berlim"',
  },
  {
    title: 'a window of zero duration',
    mutate: (p) => (p.stages[1].windows = [{ schedule: '0 22 * * 6', duration: '0s' }]),
    path: 'stages[1].windows[0].duration',
    message: /^must be longer than zero; write a duration such as/,
    value: '"0s"',
  },
  {
    title: 'a window longer than 31 days',
    mutate: (p) => (p.stages[1].windows = [{ schedule: '0 22 * * 6', duration: '32d' }]),
    path: 'stages[1].windows[0].duration',
    message: /^must be at most 31d; write a duration such as/,
    value: '"32d"',
  },
  {
    title: 'a window of an unknown kind',
    mutate: (p) => (p.stages[1].windows = [{ kind: 'block', schedule: '0 22 * * 6', duration: '4h' }]),
    path: 'stages[1].windows[0].kind',
    message: /^unknown kind; use "allow", "deny": a change starts only inside an allow window, never inside a deny one$/,
    value: '"block"',
  },
  {
    title: 'a window without a schedule',
    mutate: (p) => (p.stages[1].windows = [{ duration: '4h' }]),
    path: 'stages[1].windows[0].schedule',
    message: /^is required: a cron schedule of five fields in quotes/,
    value: 'nothing',
  },
  {
    title: 'windows not a list',
    mutate: (p) => (p.stages[1].windows = { schedule: '0 22 * * 6', duration: '4h' }),
    path: 'stages[1].windows',
    message: /^must be a list of windows, e\.g\. \[\{ kind: allow, schedule: "0 22 \* \* 6", duration: 4h, timeZone: Europe\/Berlin \}\]$/,
    value: '{"schedule":"0 22 * * 6","duration":"4h"}',
  },
  {
    title: 'a window that is not a mapping',
    mutate: (p) => (p.windows = ['0 22 * * 6']),
    path: 'windows[0]',
    message: /^must be a window such as \{ kind: allow, schedule: "0 22 \* \* 6", duration: 4h, timeZone: Europe\/Berlin \}$/,
    value: '"0 22 * * 6"',
  },
  {
    title: 'an unknown field in a window (typo "zone")',
    mutate: (p) => (p.stages[1].windows = [{ schedule: '0 22 * * 6', duration: '4h', zone: 'Europe/Berlin' }]),
    path: 'stages[1].windows[0].zone',
    message: /unknown field; valid fields here are kind, schedule, duration, timeZone/,
    value: '"Europe/Berlin"',
  },
  // --- unknown keys
  {
    title: 'unknown top-level key (typo "retension")',
    mutate: (p) => (p.retension = '14d'),
    path: 'retension',
    message: /unknown field; valid fields here are secret, value, store, awsSecretsManager, externalSecrets, stages, retention, cleanupRecheck/,
    value: '"14d"',
  },
  {
    title: 'unknown stage key (typo "soke")',
    mutate: (p) => (p.stages[0].soke = '1h'),
    path: 'stages[0].soke',
    message: /unknown field; valid fields here are name, namespace, workloads, strategy, analysis, soak, watch, approval, approvalTimeout, rolloutTimeout/,
    value: '"1h"',
  },
  {
    title: 'an unknown gitops.pushMode, on the plan',
    mutate: (p) => (p.gitops = { repo: 'https://git.example.com/platform/apps.git', pushMode: 'pull-request' }),
    path: 'gitops.pushMode',
    message: /^must be "direct", "branch": direct pushes rotor's commit to the branch, branch pushes it to a branch of rotor's own for a person to merge$/,
    value: '"pull-request"',
  },
  {
    title: 'an unknown gitops.pushMode, on a stage',
    mutate: (p) => (p.stages[1].gitops = { repo: 'https://git.example.com/platform/apps.git', pushMode: 'Branch' }),
    path: 'stages[1].gitops.pushMode',
    message: /^must be "direct", "branch"/,
    value: '"Branch"',
  },
  {
    title: 'plan not a mapping',
    mutate: () => undefined,
    path: '(plan)',
    message: /must be a YAML mapping with secret, value, stages and retention/,
    value: '"secret: x"',
    count: 4,
  },
];

describe('bad plans: each issue has the exact path, what was found and what would be valid', () => {
  for (const bad of BAD) {
    it(bad.title, () => {
      const issues = bad.path === '(plan)' ? validatePlan('secret: x').issues : issuesAfter(bad.mutate);
      const found = issues.filter((i) => i.path === bad.path);
      assert.equal(found.length, 1, `one issue at ${bad.path}; got ${JSON.stringify(issues, null, 1)}`);
      const [issue] = found;
      assert.match(issue.message, bad.message);
      assert.equal(issue.value, bad.value);
      assert.equal(issues.length, bad.count ?? 1, `issues in all: ${JSON.stringify(issues, null, 1)}`);
    });
  }

  it('parsePlan throws PlanValidationError for every bad plan', () => {
    for (const bad of BAD.filter((b) => b.path !== '(plan)')) {
      const plan = basePlan();
      bad.mutate(plan);
      assert.throws(() => parsePlan(plan), PlanValidationError, bad.title);
    }
  });

  it('reports stage problems at the index the user wrote, even after a stage that is not an object', () => {
    const p = basePlan();
    p.stages = ['oops', p.stages[0], { ...p.stages[0], namespace: 'staging-2' }, p.stages[1]];
    const issues = validatePlan(p).issues;
    assert.deepEqual(
      issues.map((i) => i.path),
      ['stages[0]', 'stages[2].name'],
    );
    assert.match(issues[1].message, /duplicates stages\[1\]\.name/);
  });

  it('checks a stage that is not an object and still reports the others', () => {
    const p = basePlan();
    p.stages = [null, { ...p.stages[1], strategy: 'in-place' }];
    const paths = validatePlan(p).issues.map((i) => i.path);
    assert.deepEqual(paths, ['stages[0]', 'stages[1].strategy']);
  });

  it('shows a found value but never more than 80 characters of it', () => {
    const p = basePlan();
    p.stages[0].analysis.provider = { nested: 'x'.repeat(200) };
    const [issue] = validatePlan(p).issues;
    assert.equal(issue.path, 'stages[0].analysis.provider');
    assert.equal(issue.value.length, 80);
    assert.ok(issue.value.endsWith('...'));
  });
});

describe('every problem at once', () => {
  function manyProblems(): Raw {
    const p = basePlan();
    p.secret = 'Auth_API';
    p.value.generate.length = 4;
    p.store = 'vault';
    p.stages[0].strategy = { canary: { steps: [50, 10] } };
    p.stages[0].analysis.threshold = '0.01';
    p.stages[0].watch = '1h';
    p.stages[1].approval = 'maybe';
    p.retension = '14d';
    p.retention = '2 weeks';
    return p;
  }

  it('validatePlan reports all of them', () => {
    const issues = validatePlan(manyProblems()).issues;
    assert.ok(issues.length >= 5, `${issues.length}`);
    assert.deepEqual(issues.map((i) => i.path).sort(), [
      'retension',
      'retention',
      'secret',
      'stages[0].analysis.threshold',
      'stages[0].strategy.canary.steps',
      'stages[0].watch',
      'stages[1].approval',
      'store',
      'value.generate.length',
    ]);
  });

  it('PlanValidationError lists each path, message and found value', () => {
    let caught: unknown;
    try {
      parsePlan(manyProblems());
    } catch (err) {
      caught = err;
    }
    assert.ok(caught instanceof PlanValidationError);
    assert.equal(caught.name, 'PlanValidationError');
    assert.equal(caught.issues.length, 9);
    assert.match(caught.message, /^the plan has 9 errors:\n/);
    for (const issue of caught.issues) {
      assert.ok(caught.message.includes(`  - ${issue.path}: ${issue.message} (found: ${issue.value})`), issue.path);
    }
    assert.equal(caught.message.split('\n').length, 1 + caught.issues.length);
  });

  it('says "1 error" for a single problem', () => {
    const p = basePlan();
    p.store = 'vault';
    assert.throws(
      () => parsePlan(p),
      (err: unknown) => {
        assert.ok(err instanceof PlanValidationError);
        assert.match(err.message, /^the plan has 1 error:\n  - store: unknown store/);
        return true;
      },
    );
  });
});

describe('rotationWorkflowId', () => {
  it('is rotate-<namespace of the first stage>-<secret>', () => {
    assert.equal(rotationWorkflowId(parsePlan(basePlan())), 'rotate-staging-auth-api-secrets');
  });

  it('follows the first stage, not the production one', () => {
    const p = basePlan();
    p.stages[0].namespace = 'qa';
    assert.equal(rotationWorkflowId(parsePlan(p)), 'rotate-qa-auth-api-secrets');
  });

  it('falls back to "default" without stages', () => {
    assert.equal(rotationWorkflowId({ secret: 'x', stages: [] }), 'rotate-default-x');
  });
});
