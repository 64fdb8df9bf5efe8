// No plan field is accepted and ignored (the walk, for test/plan-fields*.test.ts). The walk reads every field of the plan's JSON Schema (the
// one `rotor schema` prints, so a new field is walked too) and, for each, runs a rotation of a plan
// that uses it against the same rotation with only that field changed, on the time-skipping server
// with rotor's activities over the memory adapter. What the workflow asked of the world (each
// activity with its input, each timer) must differ: a field whose change reaches neither is ignored.
// A field without an entry below fails the walk, so each new one must show what it does. Fields
// refused where they have no effect (watch before the last stage, soak on the last) are refused by
// validation: test/plan.test.ts.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GitChanges } from '../../activities/git/changes';
import { startGitServer, type GitServer } from '../../sandbox/git-server';
import { FLUX_LABELS, fluxStandIn, productionManifest, recordRepositories } from './git-mode';
import { approveSignal, endedStatusOf, statusQuery } from '../../contract/api';
import { validatePlan } from '../../domain/plan';
import { planJsonSchema } from '../../domain/plan-schema';
import { quietRuntime } from '../../sandbox/time-skipping';
import { workload, type Script } from './doubles';
import { twoStagePlan } from './plans';
import { timeSkippingRotations } from './rotations';

type Plan = Record<string, any>;

/**
 * Every field's path in the schema, `[]` for an array's items, alternatives (anyOf) walked into. A
 * field with fields of its own is walked through them, unless it may also be a plain value
 * (`strategy: rolling` beside `strategy: { canary }`).
 */
export function schemaFields(schema: Record<string, any>): string[] {
  const defs: Record<string, any> = schema.$defs ?? schema.definitions ?? {};
  const fields = new Map<string, boolean>(); // path -> may be a plain value
  const resolve = (node: Record<string, any>): Record<string, any> => (node.$ref ? resolve(defs[String(node.$ref).split('/').pop()!]) : node);
  const plain = (node: Record<string, any>, depth = 0): boolean => {
    const n = resolve(node);
    const alternatives = [...(n.anyOf ?? []), ...(n.oneOf ?? [])];
    if (alternatives.length && depth < 5) return alternatives.some((a: Record<string, any>) => plain(a, depth + 1));
    if (n.type === 'array') return !n.items || !resolve(n.items).properties;
    return !n.properties && n.type !== 'object';
  };
  const walk = (node: Record<string, any>, path: string, depth: number) => {
    if (depth > 20) return;
    const n = resolve(node);
    for (const key of ['anyOf', 'oneOf', 'allOf']) for (const a of n[key] ?? []) walk(a, path, depth + 1);
    for (const [k, v] of Object.entries<Record<string, any>>(n.properties ?? {})) {
      const at = path ? `${path}.${k}` : k;
      fields.set(at, fields.get(at) || plain(v));
      walk(v, at, depth + 1);
    }
    if (n.items && typeof n.items === 'object') walk(n.items, `${path}[]`, depth + 1);
  };
  walk(schema, '', 0);
  const paths = [...fields.keys()];
  return paths.filter((f) => fields.get(f) || !paths.some((g) => g.startsWith(`${f}.`) || g.startsWith(`${f}[].`)));
}

interface Case {
  /** The plan that uses the field (default: the two-stage plan with short waits). */
  base?: () => Plan;
  /** A top-level field's change. */
  change?: (p: Plan) => void;
  /**
   * A stage field's change, tried on each stage (staging: rolling, not last; production: canary, last).
   * Where the stage cannot take it (it lacks the part the field belongs to) it throws and is skipped;
   * where it can, the plan must be refused or the rotation must change.
   */
  stage?: (s: Plan) => void;
  script?: Script;
}

/** Two stages, staging rolling with Prometheus, production canary with Datadog; waits the time-skipping server skips. */
function base(): Plan {
  return twoStagePlan({
    staging: { soak: '1h' },
    production: { strategy: { canary: { steps: [50, 100], pause: '10m' } }, watch: '1h' },
    top: { retention: '1d' },
  });
}

const withApproval = () => {
  const p = base();
  p.stages[1].approval = 'required';
  return p;
};
const withBaseline = () => {
  const p = base();
  p.stages[1].analysis.query = 'sum:api.auth.errors{env:production,version:{{version}}}.as_count()';
  p.stages[1].analysis.baseline = { margin: 0.5 };
  return p;
};
const withAwsStore = () => ({ ...base(), store: 'aws-secrets-manager', awsSecretsManager: { secretId: '/prod/auth/token' } });
const withAwsValue = () => ({ ...withAwsStore(), value: { awsSecretsManager: { secretId: '/prod/auth/source' } } });
const withEso = () => ({ ...withAwsStore(), store: 'external-secrets', externalSecrets: { secretStoreRef: { name: 'aws', kind: 'ClusterSecretStore' } } });
const withIssuer = () => ({ ...base(), value: { issuer: { key: 'api_token' } } });
/**
 * Git mode: production's Deployment, applied by Flux, is defined in a repository on a real Git server
 * (set back to its first commit before each rotation), and a stand-in for Flux applies each commit.
 */
let server: GitServer;
const repos: Record<string, string> = {};
const gitScript: Script = { labels: { production: FLUX_LABELS } };
const FILES = {
  'apps/production/auth.yaml': productionManifest('auth-api-secrets-20250101000000'),
  'apps/production/kustomization.yaml': 'resources: [auth.yaml]\n',
};
before(async () => {
  server = await startGitServer();
  for (const name of ['fields', 'fields-other']) repos[name] = await server.createRepository(name, FILES);
  Object.assign(gitScript, {
    git: new GitChanges({ token: server.token, cacheDir: mkdtempSync(join(tmpdir(), 'rotor-clones-')) }),
    gitController: fluxStandIn(server),
    beforeDiscover: async () => {
      for (const name of Object.keys(repos)) await server.resetRepository(name);
    },
  });
});
after(async () => {
  if (server) recordRepositories(server);
  await server?.stop();
});
const GIT = { author: { name: 'rotor', email: 'rotor@example.test' } };
/** The plan's gitops settings; production rolls (Git mode has no canary yet). */
const withGit = () => {
  const p = base();
  p.stages[1].strategy = 'rolling';
  p.gitops = { repo: repos.fields, path: 'apps/production', ...GIT };
  return p;
};
/** Production's own gitops settings, none on the plan. */
const withStageGit = () => {
  const p = base();
  p.stages[1].strategy = 'rolling';
  p.stages[1].gitops = { repo: repos.fields, path: 'apps/production', ...GIT };
  return p;
};
/**
 * For pushMode: the controller's wait polls in real time, and branch mode waits for a merge that
 * never comes here (then rolls back, withdrawing rotor's branch): a short syncTimeout.
 */
const withGitShortWait = () => {
  const p = withGit();
  p.gitops.syncTimeout = '3s';
  return p;
};
const withStageGitShortWait = () => {
  const p = withStageGit();
  p.stages[1].gitops.syncTimeout = '3s';
  return p;
};
/** A stage field of gitops, on the stage that has gitops settings (the other lacks them). */
const stageGit = (change: (g: Plan) => void) => (s: Plan) => {
  if (!s.gitops) throw new Error('no gitops settings on this stage');
  change(s.gitops);
};
/** Staging of two Deployments switched one at a time, with a pause between them. */
function withBatch(): Plan {
  const p = base();
  p.stages[0].batch = { size: 1, pause: '5m' };
  return p;
}
const batched: Script = { workloads: { staging: [workload('staging', 'auth-api'), workload('staging', 'auth-worker')] } };
const stageBatch = (change: (b: Plan) => void) => (s: Plan) => {
  if (!s.batch) throw new Error('no batch on this stage');
  change(s.batch);
};
/** Change windows: production's switch waits for 04:00 Berlin (the plan's windows, or the stage's own). */
const WINDOW = { kind: 'allow', schedule: '0 4 * * *', duration: '1h', timeZone: 'Europe/Berlin' };
function withWindows(): Plan {
  const p = base();
  p.windows = [{ ...WINDOW }];
  return p;
}
function withStageWindows(): Plan {
  const p = base();
  p.stages[1].windows = [{ ...WINDOW }];
  return p;
}
const stageWindow = (change: (w: Plan) => void) => (s: Plan) => {
  if (!s.windows) throw new Error('no windows on this stage');
  change(s.windows[0]);
};
/**
 * Pre-flight checks on staging: a Job (a plain image exits 0 in the memory backend), then an HTTP call
 * to a closed port (it fails, at once, and the rotation rolls back): every field reaches an input.
 */
function withPreflight(): Plan {
  const p = base();
  p.stages[0].preflight = [
    { name: 'pod', job: { image: 'registry.example.test/check:1', command: ['check'], args: ['--all'], timeout: '1m', secretAs: 'envFrom' } },
    {
      name: 'verify',
      http: {
        url: 'http://127.0.0.1:59999/verify',
        method: 'POST',
        headers: { Authorization: 'Bearer {{secret.api_token}}' },
        body: '{"token":"{{secret.api_token}}"}',
        expect: { status: [200], bodyContains: 'ok' },
        timeout: '2s',
        retries: 0,
      },
    },
  ];
  return p;
}
/** A change to a stage's check of `kind` (or, `whole`, to the stage's list of checks). */
const stageCheck = (kind: 'http' | 'job', change: (c: Plan) => void, whole?: (s: Plan) => void) => (s: Plan) => {
  const check = s.preflight?.find((c: Plan) => c[kind]);
  if (!check) throw new Error('no such check on this stage');
  change(check[kind]);
  whole?.(s);
};
/** Notifications: which of the worker's sinks hear of what (this worker has none: the plan is refused in PLANNING, naming the sink). */
const withNotify = () => ({ ...base(), notify: [{ sink: 'ops-webhook', events: ['rolled_back'] }] });
/** Another rotation's workload holds the previous version at the first scan, then lets go. */
const holding: Script = { holders: [[{ kind: 'CronJob', namespace: 'staging', name: 'weekly-report', fields: ['volumes[data].secret.secretName'] }], []] };

const CASES: Record<string, Case> = {
  secret: { change: (p) => (p.secret = 'billing-secrets') },
  'value.generate.keys': { change: (p) => (p.value.generate.keys = ['api_token', 'api_secret']) },
  'value.generate.length': { change: (p) => (p.value.generate.length = 64) },
  'value.fromFile': { change: (p) => (p.value = { fromFile: 'token.env' }) },
  'value.awsSecretsManager.secretId': { base: withAwsValue, change: (p) => (p.value.awsSecretsManager.secretId = '/prod/auth/other') },
  'value.awsSecretsManager.versionStage': { base: withAwsValue, change: (p) => (p.value.awsSecretsManager.versionStage = 'AWSPENDING') },
  'value.awsSecretsManager.region': { base: withAwsValue, change: (p) => (p.value.awsSecretsManager.region = 'eu-west-1') },
  'value.issuer.key': { base: withIssuer, change: (p) => (p.value.issuer.key = 'token') },
  'value.issuer.scope': { base: withIssuer, change: (p) => (p.value.issuer.scope = 'read:orders') },
  store: { base: withAwsStore, change: (p) => ((p.store = 'kubernetes'), delete p.awsSecretsManager) },
  'awsSecretsManager.secretId': { base: withAwsStore, change: (p) => (p.awsSecretsManager.secretId = '/prod/auth/other') },
  'awsSecretsManager.region': { base: withAwsStore, change: (p) => (p.awsSecretsManager.region = 'eu-west-1') },
  'externalSecrets.secretStoreRef.name': { base: withEso, change: (p) => (p.externalSecrets.secretStoreRef.name = 'vault') },
  'externalSecrets.secretStoreRef.kind': { base: withEso, change: (p) => (p.externalSecrets.secretStoreRef.kind = 'SecretStore') },
  'stages[].name': { stage: (s) => (s.name = 'qa') },
  'stages[].namespace': { stage: (s) => (s.namespace = 'qa') },
  'stages[].workloads': { stage: (s) => (s.workloads = ['deployment/auth-api']) },
  'stages[].strategy': { stage: (s) => (s.strategy = 'in-place') },
  'stages[].strategy.canary.steps': { stage: (s) => (s.strategy.canary.steps = [25, 100]) },
  'stages[].strategy.canary.pause': { stage: (s) => (s.strategy.canary.pause = '20m') },
  'stages[].analysis.provider': { stage: (s) => (s.analysis.provider = s.analysis.provider === 'datadog' ? 'prometheus' : 'datadog') },
  'stages[].analysis.query': { stage: (s) => (s.analysis.query = 'sum(rate(failures[1m]))') },
  'stages[].analysis.threshold': { stage: (s) => (s.analysis.threshold = 0.05) },
  'stages[].analysis.interval': { stage: (s) => (s.analysis.interval = '2m') },
  'stages[].analysis.failureLimit': { stage: (s) => (s.analysis.failureLimit = 3) },
  'stages[].analysis.inconclusiveLimit': { stage: (s) => (s.analysis.inconclusiveLimit = 6) },
  'stages[].analysis.consecutiveErrorLimit': { stage: (s) => (s.analysis.consecutiveErrorLimit = 7) },
  'stages[].analysis.verify': { stage: (s) => (s.analysis.verify = '30m') },
  'stages[].analysis.api': { stage: (s) => (s.analysis.api = 'v1') },
  'stages[].analysis.aggregator': { stage: (s) => (s.analysis.aggregator = 'max') },
  'stages[].analysis.window': { stage: (s) => (s.analysis.window = '5m') },
  'stages[].analysis.monitors': { stage: (s) => (s.analysis.monitors = [12345]) },
  'stages[].analysis.baseline.margin': { base: withBaseline, stage: (s) => (s.analysis.baseline.margin = 0.9) },
  'stages[].soak': { stage: (s) => (s.soak = '2h') },
  'stages[].watch': { stage: (s) => (s.watch = '2h') },
  'stages[].approval': { stage: (s) => (s.approval = 'required') },
  'stages[].approvalTimeout': { base: withApproval, stage: (s) => (s.approvalTimeout = '2h') },
  'stages[].rolloutTimeout': { stage: (s) => (s.rolloutTimeout = '20m') },
  'windows[].kind': { base: withWindows, change: (p) => (p.windows[0] = { ...p.windows[0], kind: 'deny' }) },
  'windows[].schedule': { base: withWindows, change: (p) => (p.windows[0].schedule = '0 22 * * *') },
  'windows[].duration': { base: withWindows, change: (p) => (p.windows[0].duration = '3h') },
  'windows[].timeZone': { base: withWindows, change: (p) => (p.windows[0].timeZone = 'America/New_York') },
  'stages[].windows[].kind': { base: withStageWindows, stage: stageWindow((w) => (w.kind = 'deny')) },
  'stages[].windows[].schedule': { base: withStageWindows, stage: stageWindow((w) => (w.schedule = '0 22 * * *')) },
  'stages[].windows[].duration': { base: withStageWindows, stage: stageWindow((w) => (w.duration = '3h')) },
  'stages[].windows[].timeZone': { base: withStageWindows, stage: stageWindow((w) => (w.timeZone = 'America/New_York')) },
  'stages[].batch.size': { base: withBatch, script: batched, stage: stageBatch((b) => (b.size = 2)) },
  'stages[].batch.percent': { base: withBatch, script: batched, stage: stageBatch((b) => ((b.percent = 100), delete b.size)) },
  'stages[].batch.pause': { base: withBatch, script: batched, stage: stageBatch((b) => (b.pause = '10m')) },
  'stages[].preflight': {
    base: withPreflight,
    stage: stageCheck(
      'job',
      () => undefined,
      (s) => (s.preflight = [s.preflight[1]]),
    ),
  },
  'stages[].preflight[].name': {
    base: withPreflight,
    stage: (s) => {
      if (!s.preflight) throw new Error('no checks on this stage');
      s.preflight[1].name = 'check-token';
    },
  },
  'stages[].preflight[].http.url': { base: withPreflight, stage: stageCheck('http', (h) => (h.url = 'http://127.0.0.1:59999/other')) },
  'stages[].preflight[].http.method': { base: withPreflight, stage: stageCheck('http', (h) => (h.method = 'PUT')) },
  'stages[].preflight[].http.headers': { base: withPreflight, stage: stageCheck('http', (h) => (h.headers = { 'X-Token': '{{secret.api_token}}' })) },
  'stages[].preflight[].http.body': { base: withPreflight, stage: stageCheck('http', (h) => (h.body = 'token={{secret.api_token}}')) },
  'stages[].preflight[].http.expect.status': { base: withPreflight, stage: stageCheck('http', (h) => (h.expect.status = [204])) },
  'stages[].preflight[].http.expect.bodyContains': { base: withPreflight, stage: stageCheck('http', (h) => (h.expect.bodyContains = 'valid')) },
  'stages[].preflight[].http.timeout': { base: withPreflight, stage: stageCheck('http', (h) => (h.timeout = '5s')) },
  'stages[].preflight[].http.retries': { base: withPreflight, stage: stageCheck('http', (h) => (h.retries = 1)) },
  'stages[].preflight[].job.image': { base: withPreflight, stage: stageCheck('job', (j) => (j.image = 'registry.example.test/check:2')) },
  'stages[].preflight[].job.command': { base: withPreflight, stage: stageCheck('job', (j) => (j.command = ['verify'])) },
  'stages[].preflight[].job.args': { base: withPreflight, stage: stageCheck('job', (j) => (j.args = ['--quick'])) },
  'stages[].preflight[].job.timeout': { base: withPreflight, stage: stageCheck('job', (j) => (j.timeout = '2m')) },
  'stages[].preflight[].job.secretAs': { base: withPreflight, stage: stageCheck('job', (j) => (j.secretAs = { volume: '/etc/auth' })) },
  'stages[].preflight[].job.secretAs.volume': { base: withPreflight, stage: stageCheck('job', (j) => (j.secretAs = { volume: '/etc/other' })) },
  retention: { change: (p) => (p.retention = '2d') },
  cleanupRecheck: { script: holding, change: (p) => (p.cleanupRecheck = '2h') },
  'notify[].sink': { base: withNotify, change: (p) => (p.notify[0].sink = 'ops-slack') },
  'notify[].events': { base: withNotify, change: (p) => (p.notify[0].events = ['awaiting_approval', 'failed']) },
  'scan.ignore': { change: (p) => (p.scan = { ignore: ['widgets.example.com'] }) },
  'gitops.repo': { base: withGit, script: gitScript, change: (p) => (p.gitops.repo = repos['fields-other']) },
  'gitops.branch': { base: withGit, script: gitScript, change: (p) => (p.gitops.branch = 'release') },
  'gitops.path': { base: withGit, script: gitScript, change: (p) => (p.gitops.path = 'apps') },
  'gitops.author.name': { base: withGit, script: gitScript, change: (p) => (p.gitops.author.name = 'platform bot') },
  'gitops.author.email': { base: withGit, script: gitScript, change: (p) => (p.gitops.author.email = 'bot@example.test') },
  'gitops.syncTimeout': { base: withGit, script: gitScript, change: (p) => (p.gitops.syncTimeout = '20m') },
  'gitops.pushMode': { base: withGitShortWait, script: gitScript, change: (p) => (p.gitops.pushMode = 'branch') },
  'stages[].gitops.repo': { base: withStageGit, script: gitScript, stage: stageGit((g) => (g.repo = repos['fields-other'])) },
  'stages[].gitops.branch': { base: withStageGit, script: gitScript, stage: stageGit((g) => (g.branch = 'release')) },
  'stages[].gitops.path': { base: withStageGit, script: gitScript, stage: stageGit((g) => (g.path = 'apps')) },
  'stages[].gitops.author.name': { base: withStageGit, script: gitScript, stage: stageGit((g) => (g.author.name = 'platform bot')) },
  'stages[].gitops.author.email': { base: withStageGit, script: gitScript, stage: stageGit((g) => (g.author.email = 'bot@example.test')) },
  'stages[].gitops.syncTimeout': { base: withStageGit, script: gitScript, stage: stageGit((g) => (g.syncTimeout = '20m')) },
  'stages[].gitops.pushMode': { base: withStageGitShortWait, script: gitScript, stage: stageGit((g) => (g.pushMode = 'branch')) },
};

const rotations = timeSkippingRotations('fields');

/**
 * What one rotation asked of the world: each distinct activity input and timer, with what differs
 * between any two runs of one plan (names' stamps, times, ids, a canary copy's hash) left out.
 */
async function trace(plan: Plan, script: Script = {}): Promise<string[]> {
  const approves = plan.stages.some((s: Plan) => s.approval === 'required');
  const { d, handle } = await rotations.run(script, plan, async (running, env) => {
    if (!approves) return;
    for (let i = 0; i < 200 && (await running.query(statusQuery)).phase !== 'AWAITING_APPROVAL'; i++) await env.sleep('1m');
    await running.signal(approveSignal, { by: 'test' });
  });
  // A rotation that ended other than by rotating, rolling back or failing as a rotation is the test's error.
  await handle.result().catch((err) => {
    if (!endedStatusOf(err)) throw err;
  });
  const workflowId = handle.workflowId;
  const timers = ((await handle.fetchHistory()).events ?? []).flatMap((e) =>
    e.timerStartedEventAttributes ? [`timer ${String(e.timerStartedEventAttributes.startToFireTimeout?.seconds)}s`] : [],
  );
  const normal = (text: string) =>
    text
      .replaceAll(workflowId, 'ID')
      .replace(/\d{4}-\d\d-\d\dT[\d:.]+Z/g, 'TIME')
      .replace(/\d{14}/g, 'STAMP')
      .replace(/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/g, 'UUID')
      .replace(/-canary-[0-9a-f]{8}/g, '-canary-HASH')
      // A commit's id: its time is in it.
      .replace(/\b[0-9a-f]{40}\b/g, 'COMMIT')
      // pushMode branch: rotor's branch carries a hash of the rotation's id.
      .replace(/(rotor\/[a-z0-9.-]+\/[a-z0-9-]+-)[0-9a-f]{8}\b/g, '$1HASH')
      .replace(/"firstMeasurementAfterMs":\d+/g, '"firstMeasurementAfterMs":N')
      // Rides along in every check's analysis; only the workflow reads it (a verify check's duration).
      .replace(/"verifyMs":\d+,?/g, '');
  // What was asked, not how often: polls and re-checks repeat as time passes.
  return [...new Set([...d.calls.map((c) => normal(`${c.name} ${JSON.stringify(c.input)}`)), ...timers])].sort();
}

/**
 * The walk over the fields `which` selects (one test file each, so no file outlives the runner's
 * per-file timeout); `checks`: also that every field has a case and that a plan traces the same twice.
 */
export function walkFields(title: string, which: (field: string) => boolean, checks = false): void {
  describe(title, () => {
    const fields = schemaFields(planJsonSchema());

    if (checks) {
      it("finds the plan's fields in its schema, each with a case here", () => {
        assert.ok(fields.length >= 40, `${fields.length} fields`);
        assert.deepEqual(
          fields.filter((f) => !CASES[f]),
          [],
          'a plan field without a case: add one to CASES that shows what it changes',
        );
        assert.deepEqual(
          Object.keys(CASES).filter((f) => !fields.includes(f)),
          [],
          'a case for a field the schema no longer has',
        );
      });

      it('the walk sees a field that changes nothing: the same plan traces the same twice', async () => {
        quietRuntime();
        assert.deepEqual(await trace(base()), await trace(base()), 'two runs of one plan differ: the trace keeps something run-specific');
      });
    }

    for (const [field, c] of Object.entries(CASES).filter(([f]) => which(f))) {
      it(`${field} changes what the rotation does, or is refused where it cannot`, async () => {
        const before = (c.base ?? base)();
        assert.deepEqual(validatePlan(before).issues, [], `the case's plan is valid: ${JSON.stringify(before)}`);
        const variants: [string, Plan][] = [];
        if (c.change) {
          const after = structuredClone(before);
          c.change(after);
          variants.push([field, after]);
        }
        if (c.stage) {
          for (const [i, name] of before.stages.map((s: Plan, i: number) => [i, s.name] as const)) {
            const after = structuredClone(before);
            try {
              c.stage(after.stages[i]);
            } catch {
              continue; // this stage lacks the part the field belongs to
            }
            variants.push([`${field} on stage ${name}`, after]);
          }
        }
        let acted = 0;
        for (const [what, after] of variants) {
          if (validatePlan(after).issues.length) continue; // refused where it has no effect
          assert.notDeepEqual(
            await trace(after, c.script),
            await trace(before, c.script),
            `${what} is accepted and changes nothing the workflow asks of the world`,
          );
          acted++;
        }
        assert.ok(acted > 0, `${field} is refused everywhere the case tried it: give it a plan where it acts`);
      });
    }
  });
}
