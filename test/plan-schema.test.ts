// The published JSON Schema of plan files: generated from domain/plan-schema.ts, the same pieces
// validatePlan checks each field with (it cannot drift), accepted by a JSON Schema validator (ajv,
// draft 2020-12) for the example plan, and of one verdict with validatePlan on every plan it can judge.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import Ajv2020 from 'ajv/dist/2020';
import { parse } from 'yaml';
import { planJsonSchema } from '../domain/plan-schema';
import { validatePlan } from '../domain/plan';
import { repoRoot } from '../sandbox/tools';

const committed = JSON.parse(readFileSync(join(repoRoot, 'plan.schema.json'), 'utf8'));
const ajv = new Ajv2020({ allErrors: true, strict: false });
const validate = ajv.compile(committed);

const example = () => parse(readFileSync(join(repoRoot, 'examples', 'plan.yaml'), 'utf8')) as Record<string, any>;

describe('plan.schema.json', () => {
  it('is what `npm run schema` generates from the schema in domain/plan-schema.ts', () => {
    assert.deepEqual(committed, planJsonSchema(), 'run `npm run schema` and commit plan.schema.json');
  });

  it('is the schema examples/plan.yaml names for editors, and accepts it', () => {
    assert.match(readFileSync(join(repoRoot, 'examples', 'plan.yaml'), 'utf8'), /^# yaml-language-server: \$schema=\.\.\/plan\.schema\.json$/m);
    assert.ok(validate(example()), JSON.stringify(validate.errors));
  });

  // Each case changes the example plan; the schema and the validator must both accept or both refuse it.
  const cases: [string, (p: Record<string, any>) => void, boolean][] = [
    ['the example as it is', () => undefined, true],
    ['a minimal plan', (p) => (delete p.store, delete p.retention, delete p.cleanupRecheck, delete p.stages[0].analysis, delete p.stages[1].analysis), true],
    ['workloads listed by kind in any case', (p) => (p.stages[0].workloads = ['deployment/auth-api', 'CronJob/report', 'statefulset/db']), true],
    ['approval as a boolean', (p) => (p.stages[1].approval = true), true],
    [
      'awsSecretsManager as the source, with the AWS store',
      (p) => {
        p.store = 'aws-secrets-manager';
        p.awsSecretsManager = { secretId: '/production/auth-api/token', region: 'eu-west-1' };
        p.value = { awsSecretsManager: { secretId: '/production/auth-api/token', versionStage: 'AWSPENDING' } };
      },
      true,
    ],
    ['an AWS region that is not one', (p) => ((p.store = 'aws-secrets-manager'), (p.awsSecretsManager = { secretId: 'x', region: 'mars' })), false],
    ['resources the scan may pass over when unreadable', (p) => (p.scan = { ignore: ['widgets.example.com', 'configmaps'] }), true],
    ['a kind instead of a resource in scan.ignore', (p) => (p.scan = { ignore: ['Widget'] }), false],
    ['an unknown field in scan', (p) => (p.scan = { skip: ['widgets.example.com'] }), false],
    ['gitops with pushMode branch', (p) => (p.gitops = { repo: 'https://git.example.com/platform/apps.git', pushMode: 'branch' }), true],
    ['an unknown gitops pushMode', (p) => (p.gitops = { repo: 'https://git.example.com/platform/apps.git', pushMode: 'merge-request' }), false],
    [
      'change windows on the plan and on a stage',
      (p) => (
        (p.windows = [{ schedule: '0 22 * * 6', duration: '4h', timeZone: 'Europe/Berlin' }]),
        (p.stages[0].windows = [{ kind: 'deny', schedule: '0 9 * * 1-5', duration: '8h' }])
      ),
      true,
    ],
    ['a window of an unknown kind', (p) => (p.stages[0].windows = [{ kind: 'block', schedule: '0 22 * * 6', duration: '4h' }]), false],
    ['a window without a duration', (p) => (p.stages[0].windows = [{ schedule: '0 22 * * 6' }]), false],
    ['a window duration without a unit', (p) => (p.windows = [{ schedule: '0 22 * * 6', duration: 4 }]), false],
    ['windows not a list', (p) => (p.windows = { schedule: '0 22 * * 6', duration: '4h' }), false],
    ['21 windows', (p) => (p.windows = Array.from({ length: 21 }, () => ({ schedule: '0 22 * * 6', duration: '4h' }))), false],
    ['an unknown top-level field', (p) => (p.retentoin = '14d'), false],
    ['an unknown field in a stage', (p) => (p.stages[0].soakk = '1h'), false],
    ['two value sources', (p) => (p.value = { generate: { keys: ['a'] }, fromFile: 'token.env' }), false],
    ['no value source', (p) => (p.value = {}), false],
    ['an unknown store', (p) => (p.store = 'vault'), false],
    ['an uppercase secret', (p) => (p.secret = 'Auth-API'), false],
    ['a secret of 64 characters', (p) => (p.secret = 'a'.repeat(64)), false],
    ['a duration without a unit', (p) => (p.retention = 14), false],
    ['a negative duration', (p) => (p.retention = '-3d'), false],
    ['a duration with a capital unit', (p) => (p.stages[0].soak = '10M'), false],
    ['a canary step above 100', (p) => (p.stages[1].strategy = { canary: { steps: [50, 150] } }), false],
    ['eleven canary steps', (p) => (p.stages[1].strategy = { canary: { steps: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 100] } }), false],
    ['an unknown strategy', (p) => (p.stages[0].strategy = 'blue-green'), false],
    ['an unknown metrics provider', (p) => (p.stages[0].analysis.provider = 'newrelic'), false],
    ['a threshold that is not a number', (p) => (p.stages[0].analysis.threshold = '1%'), false],
    ['a failureLimit of 0', (p) => (p.stages[0].analysis.failureLimit = 0), false],
    ['a generated value of 8 characters', (p) => (p.value.generate.length = 8), false],
    ['an empty workload list', (p) => (p.stages[0].workloads = []), false],
    ['a workload of an unknown kind', (p) => (p.stages[0].workloads = ['service/auth-api']), false],
    ['no stages', (p) => (p.stages = []), false],
    ['eleven stages', (p) => (p.stages = Array.from({ length: 11 }, (_, i) => ({ name: `s${i}`, namespace: `s${i}` }))), false],
  ];
  for (const [title, mutate, valid] of cases) {
    it(`${valid ? 'accepts' : 'refuses'}, as validatePlan does: ${title}`, () => {
      const plan = example();
      mutate(plan);
      assert.equal(validate(plan), valid, `schema: ${JSON.stringify(validate.errors)}`);
      assert.equal(validatePlan(plan).issues.length === 0, valid, `validatePlan: ${JSON.stringify(validatePlan(plan).issues)}`);
    });
  }
});
