// The activities of createActivities over the memory adapters, in a mock activity context: idempotent
// creation, analysis at an interval with heartbeats, resumption, cancellation, guarded deletion.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MockActivityEnvironment } from '@temporalio/testing';
import { CancelledFailure } from '@temporalio/common';
import { createActivities, type SecretStorePort } from '../activities';
import { MemoryCluster, MemoryMetrics, type MemoryWorld } from '../activities/memory';
import { KubernetesSecretStore } from '../activities/store-kubernetes';
import type { Analysis } from '../domain/plan';

const OLD = 'auth-api-secrets-20250101000000';
const NEW = 'auth-api-secrets-20251129120000';
const ENV_FROM = 'containers[app].envFrom[].secretRef.name';
const VOLUME = 'volumes[tls].secret.secretName';
const JOB_VOLUME = 'volumes[data].secret.secretName';

function world(metrics: MemoryWorld['metrics'] = {}): MemoryWorld {
  return {
    secrets: [
      ...['staging', 'production'].map((namespace) => ({ namespace, name: OLD, data: { api_token: 'old-value' } })),
      { namespace: 'staging', name: 'unrelated', data: { tls: 'x' } },
    ],
    workloads: [
      { kind: 'Deployment', namespace: 'staging', name: 'auth-api', refs: { [ENV_FROM]: OLD, [VOLUME]: 'unrelated' } },
      { kind: 'CronJob', namespace: 'staging', name: 'weekly-report', refs: { [JOB_VOLUME]: OLD } },
      { kind: 'Deployment', namespace: 'production', name: 'auth-api', refs: { [ENV_FROM]: OLD } },
    ],
    metrics,
  };
}

function setup(metrics?: MemoryWorld['metrics']) {
  const w = world(metrics);
  const cluster = new MemoryCluster(w);
  const logs: string[] = [];
  const acts = createActivities({
    cluster,
    stores: { kubernetes: new KubernetesSecretStore() },
    metrics: new MemoryMetrics(w).providers(),
    log: (m, f) => logs.push(`${m} ${JSON.stringify(f ?? {})}`),
  });
  return { w, cluster, acts, logs };
}

/** env.run with the activity's own input and output types. */
function run<I, O>(env: MockActivityEnvironment, fn: (input: I) => Promise<O>, input: I): Promise<O> {
  return env.run(fn as (input: unknown) => Promise<O>, input);
}

const analysis = (over: Partial<Analysis> = {}): Analysis => ({
  provider: 'prometheus',
  query: 'errors',
  threshold: 0.01,
  intervalMs: 20,
  failureLimit: 2,
  inconclusiveLimit: 3,
  verifyMs: 60,
  ...over,
});

describe('activities over the memory adapters', () => {
  it('creates the version once per namespace, idempotently, returning keys and never values', async () => {
    const { w, acts, logs } = setup();
    const input = {
      secret: 'auth-api-secrets',
      version: NEW,
      rotationId: 'rotate-staging-auth-api-secrets/run-1',
      value: { generate: { keys: ['api_token', 'signing_key'], length: 40 } },
      store: 'kubernetes' as const,
      namespaces: ['staging', 'production'],
    };
    const env = new MockActivityEnvironment();
    const first = await run(env, acts.createVersion, input);
    assert.deepEqual(first, { outcome: 'created', namespaces: ['staging', 'production'], keys: ['api_token', 'signing_key'] });
    const created = w.secrets.filter((s) => s.name === NEW);
    assert.equal(created.length, 2);
    assert.equal(created[0].data.api_token.length, 40);
    assert.equal(created[0].data.api_token, created[1].data.api_token, 'the same value in every namespace');
    assert.equal(created[0].immutable, true);
    assert.deepEqual(created[0].labels, {
      'rotor.dev/secret': 'auth-api-secrets',
      'rotor.dev/version': '20251129120000',
      'app.kubernetes.io/managed-by': 'rotor',
    });
    // A retry (say after a crash) reuses the value already written.
    const again = await run(env, acts.createVersion, input);
    assert.ok(again.outcome !== 'conflict');
    assert.equal(again.outcome, 'exists');
    assert.equal(w.secrets.filter((s) => s.name === NEW)[0].data.api_token, created[0].data.api_token);
    // Another rotation that lands on the same name is told so.
    const other = await run(env, acts.createVersion, { ...input, rotationId: 'rotate-staging-auth-api-secrets/run-2' });
    assert.deepEqual(other, { outcome: 'conflict', owner: 'rotate-staging-auth-api-secrets/run-1' });
    const value = created[0].data.api_token;
    assert.ok(!JSON.stringify([first, again, other]).includes(value));
    assert.ok(!logs.join('\n').includes(value));
  });

  it('discovers the workloads using the current version, and names listed workloads that do not', async () => {
    const { acts } = setup();
    const env = new MockActivityEnvironment();
    const found = await run(env, acts.discover, {
      secret: 'auth-api-secrets',
      stages: [
        { name: 'staging', namespace: 'staging', workloads: 'auto' as const },
        {
          name: 'production',
          namespace: 'production',
          workloads: [
            { kind: 'Deployment' as const, name: 'auth-api' },
            { kind: 'StatefulSet' as const, name: 'ghost' },
          ],
        },
      ],
    });
    assert.equal(found[0].previousVersion, OLD);
    assert.deepEqual(
      found[0].workloads.map((w) => `${w.kind}/${w.name}`),
      ['Deployment/auth-api', 'CronJob/weekly-report'],
    );
    assert.deepEqual(
      found[1].workloads.map((w) => w.name),
      ['auth-api'],
    );
    assert.deepEqual(found[1].missing, ['StatefulSet/ghost']);
  });

  it('refuses a listed Job or Pod that uses the version, saying it cannot be switched rather than that it is missing', async () => {
    const { acts, w } = setup();
    w.workloads.push(
      { kind: 'Job', namespace: 'production', name: 'migrate', refs: { [ENV_FROM]: OLD } },
      { kind: 'Pod', namespace: 'production', name: 'debug', refs: { [ENV_FROM]: OLD } },
    );
    const env = new MockActivityEnvironment();
    const stages = [
      {
        name: 'production',
        namespace: 'production',
        workloads: [
          { kind: 'Job' as const, name: 'migrate' },
          { kind: 'Pod' as const, name: 'debug' },
          { kind: 'Job' as const, name: 'ghost' },
        ],
      },
    ];
    await assert.rejects(run(env, acts.discover, { secret: 'auth-api-secrets', stages }), (err: Error) => {
      assert.match(
        err.message,
        /Job\/migrate uses auth-api-secrets-20250101000000 but cannot be switched \(its pod template is immutable\); remove it from the stage's workloads/,
      );
      assert.match(err.message, /Pod\/debug uses/);
      assert.doesNotMatch(err.message, /ghost/);
      return true;
    });
    // Only the ghost left: it is missing, not refused.
    const [found] = await run(env, acts.discover, {
      secret: 'auth-api-secrets',
      stages: [
        {
          ...stages[0],
          workloads: [
            { kind: 'Deployment' as const, name: 'auth-api' },
            { kind: 'Job' as const, name: 'ghost' },
          ],
        },
      ],
    });
    assert.deepEqual(found.missing, ['Job/ghost']);
  });

  it("claims a Secret in all of a rotation's namespaces or none, and takes over only from a rotation that no longer runs", async () => {
    const w = world();
    const cluster = new MemoryCluster(w);
    const ended = new Set(['default/rotate-ended']);
    const acts = createActivities({
      cluster,
      stores: { kubernetes: new KubernetesSecretStore() },
      metrics: new MemoryMetrics(w).providers(),
      rotationRunning: async (h) => !ended.has(h),
    });
    const env = new MockActivityEnvironment();
    const claim = (holder: string, namespaces: string[]) => run(env, acts.claimRotation, { secret: 'auth-api-secrets', namespaces, holder });
    assert.deepEqual((await claim('default/rotate-a', ['production'])).refused, []);
    const refused = await claim('default/rotate-b', ['staging', 'production']);
    assert.deepEqual(
      refused.refused.map((r) => [r.namespace, r.holder]),
      [['production', 'default/rotate-a']],
    );
    assert.deepEqual(Object.keys(w.claims!), ['production/auth-api-secrets'], 'refused in one namespace, it holds none');
    ended.add('default/rotate-a');
    assert.deepEqual((await claim('default/rotate-b', ['staging', 'production'])).refused, []);
    assert.deepEqual(
      Object.values(w.claims!).map((c) => c.holder),
      ['default/rotate-b', 'default/rotate-b'],
    );
    await run(env, acts.releaseRotation, { secret: 'auth-api-secrets', namespaces: ['staging', 'production'], holder: 'default/rotate-a' });
    assert.equal(Object.keys(w.claims!).length, 2, 'an ended holder releases nothing of the one that took over');
    await run(env, acts.releaseRotation, { secret: 'auth-api-secrets', namespaces: ['staging', 'production'], holder: 'default/rotate-b' });
    assert.deepEqual(w.claims, {});
  });

  it('passes an analysis window after measuring at the interval, heartbeating progress', async () => {
    const { acts } = setup({ errors: 0.001 });
    const env = new MockActivityEnvironment();
    const beats: unknown[] = [];
    env.on('heartbeat', (d) => beats.push(d));
    const result = await run(env, acts.monitorAnalysis, { stage: 'staging', check: 'soak', analysis: analysis(), durationMs: 100 });
    assert.equal(result.verdict, 'passed');
    assert.equal(result.measurements, 5);
    assert.equal(result.lastValue, 0.001);
    assert.ok(beats.length >= 5);
  });

  it('fails at the failure limit of consecutive bad measurements, not before', async () => {
    const { acts } = setup({ errors: [0.5, 0.001, 0.5, 0.5, 0.001] });
    const env = new MockActivityEnvironment();
    const result = await run(env, acts.monitorAnalysis, { stage: 'production', check: 'canary', analysis: analysis(), durationMs: 1_000 });
    assert.equal(result.verdict, 'failed');
    assert.equal(result.measurements, 4, 'stopped at the second consecutive failure');
    assert.match(result.reason, /2 consecutive measurement\(s\) above the threshold 0.01/);
  });

  it('fills in {{namespace}}, {{stage}} and {{version}} for each measurement', async () => {
    const { acts } = setup({ 'errors{ns=production,stage=prod,v=s-2}': 0.001 });
    const result = await run(new MockActivityEnvironment(), acts.monitorAnalysis, {
      stage: 'prod',
      check: 'verify',
      analysis: analysis({ query: 'errors{ns={{namespace}},stage={{ stage }},v={{version}}}' }),
      durationMs: 30,
      namespace: 'production',
      version: 's-2',
    });
    assert.equal(result.verdict, 'passed', result.reason);
    assert.equal(result.lastValue, 0.001);
  });

  describe('a baseline: the new version against the old one, side by side', () => {
    const baselined = (margin: number) => analysis({ query: 'errors{v={{version}}}', threshold: 0.5, baseline: { margin }, failureLimit: 1 });
    const canary = (a: Analysis) => ({
      stage: 'production',
      check: 'canary' as const,
      analysis: a,
      durationMs: 40,
      namespace: 'production',
      version: 'new',
      baselineVersion: 'old',
    });

    it('passes a noisy service whose new version is no worse than its old, above a fixed threshold either way', async () => {
      const { acts } = setup({ 'errors{v=new}': 0.3, 'errors{v=old}': 0.28 });
      const result = await run(new MockActivityEnvironment(), acts.monitorAnalysis, canary(baselined(0.05)));
      assert.equal(result.verdict, 'passed', result.reason);
      assert.deepEqual(
        result.recent.map((m) => [m.value, m.baseline, m.phase]),
        result.recent.map(() => [0.3, 0.28, 'successful']),
      );
    });

    it('fails when the new version is worse than the old by more than the margin, saying both values', async () => {
      const { acts } = setup({ 'errors{v=new}': 0.3, 'errors{v=old}': 0.1 });
      const result = await run(new MockActivityEnvironment(), acts.monitorAnalysis, canary(baselined(0.05)));
      assert.equal(result.verdict, 'failed');
      assert.match(result.reason, /new version measures 0\.3, the old 0\.1: worse by more than the margin 0\.05/);
    });

    it('still fails above the threshold, the ceiling never accepted, even when the old version is as bad', async () => {
      const { acts } = setup({ 'errors{v=new}': 0.9, 'errors{v=old}': 0.9 });
      const result = await run(new MockActivityEnvironment(), acts.monitorAnalysis, canary(baselined(0.05)));
      assert.equal(result.verdict, 'failed');
      assert.match(result.reason, /0\.9 is above the threshold 0\.5/);
    });

    it('calls a missing old-version value inconclusive, never a pass', async () => {
      const { acts } = setup({ 'errors{v=new}': 0.01 });
      const result = await run(new MockActivityEnvironment(), acts.monitorAnalysis, canary(analysis({ ...baselined(0.05), inconclusiveLimit: 10 })));
      assert.equal(result.verdict, 'inconclusive');
      assert.ok(result.recent.every((m) => m.phase === 'inconclusive' && /old version/.test(m.message!)));
    });

    it('judges by the threshold alone when no old version runs beside the new (the last canary step)', async () => {
      const { acts } = setup({ 'errors{v=new}': 0.3 });
      const { baselineVersion: _, ...full } = canary(baselined(0.05));
      const result = await run(new MockActivityEnvironment(), acts.monitorAnalysis, full);
      assert.equal(result.verdict, 'passed', result.reason);
      assert.ok(result.recent.every((m) => m.baseline === undefined));
    });
  });

  it('fails a measurement while a Datadog monitor the stage names is in Alert', async () => {
    const w = world({ errors: 0.001 });
    const states = new Map([
      [11, 'OK'],
      [12, 'OK'],
    ]);
    const asked: number[][] = [];
    const options: unknown[] = [];
    const { datadog } = new MemoryMetrics(w).providers();
    const acts = createActivities({
      cluster: new MemoryCluster(w),
      stores: { kubernetes: new KubernetesSecretStore() },
      metrics: {
        datadog: {
          name: 'datadog',
          measure: (q, o) => (options.push(o), datadog!.measure(q, o)),
          monitorStates: async (ids) => (asked.push(ids), ids.map((id) => ({ id, name: `monitor ${id}`, state: states.get(id)! }))),
        },
      },
    });
    const gated = analysis({ provider: 'datadog', datadog: { api: 'v2', aggregator: 'avg', monitors: [11, 12], windowMs: 300_000 }, failureLimit: 1 });
    const env = new MockActivityEnvironment();
    const ok = await run(env, acts.monitorAnalysis, { stage: 'production', check: 'watch', analysis: gated, durationMs: 40 });
    assert.equal(ok.verdict, 'passed', ok.reason);
    assert.deepEqual(asked[0], [11, 12]);
    assert.deepEqual(options[0], { windowMs: 300_000, datadog: { api: 'v2', aggregator: 'avg' } }, 'the query reduces over the stage`s window');
    states.set(12, 'Alert');
    const alert = await run(env, acts.monitorAnalysis, { stage: 'production', check: 'watch', analysis: gated, durationMs: 40 });
    assert.equal(alert.verdict, 'failed');
    assert.match(alert.reason, /monitor 12 \(monitor 12\) in Alert/);
  });

  it('posts a phase change to Datadog with tags a dashboard can filter on; a worker without Datadog posts nothing', async () => {
    const w = world();
    const posted: { title: string; text: string; tags: string[]; alertType: string }[] = [];
    const acts = createActivities({
      cluster: new MemoryCluster(w),
      stores: { kubernetes: new KubernetesSecretStore() },
      metrics: {},
      events: { postEvent: async (e) => void posted.push(e) },
    });
    const input = {
      workflowId: 'rotate-staging-auth',
      secret: 'auth',
      phase: 'ROLLING_BACK',
      stage: 'staging',
      namespace: 'staging',
      message: 'verify check in staging failed',
      newVersion: 'auth-20261130120000',
    };
    assert.deepEqual(await run(new MockActivityEnvironment(), acts.announce, input), { posted: true });
    assert.equal(posted.length, 1);
    assert.equal(posted[0].title, 'rotor: auth ROLLING_BACK (staging)');
    assert.equal(posted[0].alertType, 'warning');
    assert.match(posted[0].text, /verify check in staging failed\n\nrotation rotate-staging-auth, new version auth-20261130120000/);
    assert.deepEqual(posted[0].tags.sort(), [
      'env:staging',
      'kube_namespace:staging',
      'rotor_phase:rolling_back',
      'rotor_secret:auth',
      'rotor_stage:staging',
      'rotor_workflow:rotate-staging-auth',
      'version:auth-20261130120000',
    ]);
    const { acts: without } = setup();
    assert.deepEqual(await run(new MockActivityEnvironment(), without.announce, { ...input, phase: 'COMPLETED' }), { posted: false });
  });

  it('takes the first measurement when told (the interval minus what the rollout took), then one per interval', async () => {
    const { acts } = setup({ errors: 0.001 });
    const long = analysis({ intervalMs: 60_000 });
    const base = { stage: 'staging', check: 'verify' as const, analysis: long, durationMs: 200 };
    // A window shorter than the interval: measured once, at its end; told to start at once, twice.
    assert.equal((await run(new MockActivityEnvironment(), acts.monitorAnalysis, base)).measurements, 1);
    assert.equal((await run(new MockActivityEnvironment(), acts.monitorAnalysis, { ...base, firstMeasurementAfterMs: 0 })).measurements, 2);
  });

  describe('measuring while a rollout goes on', () => {
    /** A cluster whose rollout is not ready until `readyAfter` polls (never, by default). */
    function rolling(metrics: MemoryWorld['metrics'], readyAfter = Infinity) {
      const w = world(metrics);
      const cluster = new MemoryCluster(w);
      let polls = 0;
      cluster.rolloutState = async () =>
        ++polls > readyAfter ? { ready: true, failed: false, message: 'rolled out' } : { ready: false, failed: false, message: '1 of 2 pods updated' };
      return createActivities({ cluster, stores: { kubernetes: new KubernetesSecretStore() }, metrics: new MemoryMetrics(w).providers() });
    }
    const input = (a: Analysis, timeoutMs = 60_000) => ({
      stage: 'staging',
      namespace: 'staging',
      workloads: [],
      timeoutMs,
      version: 'auth-api-secrets-20261130120000',
      analysis: a,
    });

    it('stops the wait and fails the stage once the pods already on the new version fail failureLimit times in a row', async () => {
      const acts = rolling({ 'errors{v=auth-api-secrets-20261130120000}': 0.5 });
      const result = await run(new MockActivityEnvironment(), acts.waitForRollout, input(analysis({ query: 'errors{v={{version}}}', failureLimit: 2 }), 5_000));
      assert.equal(result.ready, false);
      assert.equal(result.check?.check, 'rollout');
      assert.equal(result.check?.verdict, 'failed');
      assert.equal(result.check?.measurements, 2);
      assert.deepEqual(
        result.check?.recent.map((m) => m.value),
        [0.5, 0.5],
      );
      assert.match(
        result.message,
        /the analysis failed while the rollout went on \(1 of 2 pods updated\): 2 consecutive measurement\(s\) above the threshold 0\.01/,
      );
    });

    it('leaves no data and provider errors during the rollout to the check after it', async () => {
      const acts = rolling({ errors: null });
      const result = await run(new MockActivityEnvironment(), acts.waitForRollout, input(analysis({ failureLimit: 1 }), 1_500));
      assert.equal(result.check, undefined);
      assert.match(result.message, /not ready after 2 s/);
    });

    it('returns ready with no check when the version is healthy', async () => {
      const acts = rolling({ errors: 0.001 }, 2);
      const result = await run(new MockActivityEnvironment(), acts.waitForRollout, input(analysis({ failureLimit: 1 })));
      assert.equal(result.ready, true);
      assert.equal(result.check, undefined);
      assert.ok(result.elapsedMs! >= 1_000, `two polls a second apart: ${result.elapsedMs} ms`);
    });
  });

  it('never passes without data', async () => {
    const { acts } = setup({ errors: null });
    const env = new MockActivityEnvironment();
    const result = await run(env, acts.monitorAnalysis, { stage: 'staging', check: 'verify', analysis: analysis({ inconclusiveLimit: 10 }), durationMs: 60 });
    assert.equal(result.verdict, 'inconclusive');
    assert.match(result.reason, /no data is not a pass/);
  });

  it('measures with the provider the stage names; one the worker lacks is an error at every measurement, never a pass', async () => {
    const w = world({ errors: 0.001 });
    const { prometheus } = new MemoryMetrics(w).providers();
    const asked: string[] = [];
    const acts = createActivities({
      cluster: new MemoryCluster(w),
      stores: { kubernetes: new KubernetesSecretStore() },
      metrics: { prometheus: { name: 'prometheus', measure: (q) => (asked.push(q), prometheus!.measure(q)) } },
    });
    const env = new MockActivityEnvironment();
    const passed = await run(env, acts.monitorAnalysis, { stage: 'staging', check: 'verify', analysis: analysis(), durationMs: 30 });
    assert.equal(passed.verdict, 'passed');
    assert.ok(asked.length >= 1 && asked.every((q) => q === 'errors'), `asked: ${asked.join(', ')}`);
    const missing = await run(env, acts.monitorAnalysis, {
      stage: 'production',
      check: 'verify',
      analysis: analysis({ provider: 'datadog', inconclusiveLimit: 2 }),
      durationMs: 60,
    });
    assert.notEqual(missing.verdict, 'passed');
    assert.match(missing.recent.at(-1)!.message ?? '', /no datadog provider is configured on this worker \(it has: prometheus\)/);
  });

  it('fails after consecutiveErrorLimit provider errors in a row, apart from the inconclusive limit; older analyses count errors against inconclusiveLimit', async () => {
    const w = world({ errors: 0.001 });
    const acts = createActivities({
      cluster: new MemoryCluster(w),
      stores: { kubernetes: new KubernetesSecretStore() },
      metrics: { prometheus: { name: 'prometheus', measure: async () => Promise.reject(new Error('HTTP 503 from prometheus')) } },
    });
    const env = new MockActivityEnvironment();
    const errors = await run(env, acts.monitorAnalysis, {
      stage: 'staging',
      check: 'verify',
      analysis: analysis({ inconclusiveLimit: 10, consecutiveErrorLimit: 2 }),
      durationMs: 1_000,
    });
    assert.equal(errors.verdict, 'failed');
    assert.equal(errors.measurements, 2);
    assert.match(errors.reason, /2 consecutive metrics error\(s\): HTTP 503 from prometheus/);
    const older = await run(env, acts.monitorAnalysis, { stage: 'staging', check: 'verify', analysis: analysis({ inconclusiveLimit: 3 }), durationMs: 1_000 });
    assert.equal(older.measurements, 3, 'without the field, errors count against inconclusiveLimit as they did');
  });

  it('writes to the store the plan names, and refuses a store the worker lacks before anything is written', async () => {
    const { w, acts } = setup();
    const env = new MockActivityEnvironment();
    const input = {
      secret: 'auth-api-secrets',
      version: NEW,
      rotationId: 'rotate-staging-auth-api-secrets/run-1',
      value: { generate: { keys: ['api_token'], length: 32 } },
      store: 'aws-secrets-manager' as const,
      namespaces: ['staging'],
    };
    await assert.rejects(run(env, acts.createVersion, input), (err: Error) => {
      assert.match(
        err.message,
        /the plan's store is aws-secrets-manager, but this worker has no aws-secrets-manager store \(it has: kubernetes\); run a worker configured for aws-secrets-manager/,
      );
      return true;
    });
    assert.equal(w.secrets.filter((s) => s.name === NEW).length, 0, 'nothing was created');
  });

  it('checks store external-secrets through the External Secrets port; a worker without one says it cannot create ExternalSecrets', async () => {
    const w = world();
    const cluster = new MemoryCluster({ ...w, secretStores: [{ kind: 'ClusterSecretStore', name: 'aws', ready: true }] });
    const eso: SecretStorePort = {
      kind: 'external-secrets',
      stageVersion: async () => ({}),
      promoteVersion: async () => undefined,
      markFailed: async () => undefined,
      deleteVersion: async () => undefined,
      check: async () => 'the AWS secret is there',
    };
    const input = {
      store: 'external-secrets' as const,
      target: { externalSecrets: { secretStoreRef: { name: 'aws', kind: 'ClusterSecretStore' as const } } },
      namespaces: ['staging'],
    };
    const deps = { cluster, stores: { 'external-secrets': eso }, metrics: {} };
    const served = createActivities({ ...deps, externalSecrets: cluster.externalSecrets });
    assert.deepEqual(await run(new MockActivityEnvironment(), served.checkStore, input), {
      detail: 'the AWS secret is there; ClusterSecretStore aws is Ready',
    });
    await assert.rejects(run(new MockActivityEnvironment(), createActivities(deps).checkStore, input), (err: Error) => {
      assert.match(err.message, /this worker's cluster adapter cannot create ExternalSecrets; run the worker against a Kubernetes cluster/);
      return true;
    });
  });

  it('resumes a window from its heartbeat details after a retry', async () => {
    const { acts } = setup({ errors: 0.001 });
    const startedAt = new Date(Date.now() - 80).toISOString();
    const env = new MockActivityEnvironment({ heartbeatDetails: { startedAt, recent: [], taken: 4, successful: 4 }, attempt: 2 });
    const result = await run(env, acts.monitorAnalysis, { stage: 'staging', check: 'soak', analysis: analysis(), durationMs: 100 });
    assert.equal(result.verdict, 'passed');
    assert.equal(result.startedAt, startedAt, 'the same window, not a new one');
    assert.equal(result.measurements, 5);
  });

  it('stops measuring when cancelled', async () => {
    const { acts } = setup({ errors: 0.001 });
    const env = new MockActivityEnvironment();
    const running = run(env, acts.monitorAnalysis, { stage: 'staging', check: 'soak', analysis: analysis({ intervalMs: 1_000 }), durationMs: 86_400_000 });
    setTimeout(() => env.cancel(), 50);
    await assert.rejects(running, (err) => err instanceof CancelledFailure);
  });

  it('switches and reverts exactly the recorded fields', async () => {
    const { w, acts } = setup();
    const env = new MockActivityEnvironment();
    await run(env, acts.createVersion, {
      secret: 'auth-api-secrets',
      version: NEW,
      rotationId: 'r',
      value: { generate: { keys: ['api_token'], length: 32 } },
      store: 'kubernetes',
      namespaces: ['staging'],
    });
    const [found] = await run(env, acts.discover, {
      secret: 'auth-api-secrets',
      stages: [{ name: 'staging', namespace: 'staging', workloads: 'auto' as const }],
    });
    const records = await run(env, acts.switchWorkloads, {
      stage: 'staging',
      namespace: 'staging',
      workloads: found.workloads,
      from: OLD,
      to: NEW,
      strategy: 'rolling',
    });
    assert.deepEqual(
      records.map((r) => [r.name, r.fields]),
      [
        ['auth-api', [ENV_FROM]],
        ['weekly-report', [JOB_VOLUME]],
      ],
    );
    const rolled = await run(env, acts.waitForRollout, { stage: 'staging', namespace: 'staging', workloads: found.workloads, timeoutMs: 1_000 });
    assert.deepEqual(
      { ...rolled, elapsedMs: undefined },
      {
        ready: true,
        message: 'Deployment/auth-api: deployment "auth-api" successfully rolled out; CronJob/weekly-report: takes effect at its next run',
        elapsedMs: undefined,
      },
    );
    assert.ok(rolled.elapsedMs! >= 0 && rolled.elapsedMs! < 1_000, 'says how long the rollout took');
    // Someone else changes another field meanwhile; the revert leaves it alone.
    w.workloads[0].refs[VOLUME] = 'changed-by-someone';
    await run(env, acts.revertWorkloads, { stage: 'staging', namespace: 'staging', workloads: found.workloads, from: NEW, to: OLD, records });
    assert.deepEqual(w.workloads[0].refs, { [ENV_FROM]: OLD, [VOLUME]: 'changed-by-someone' });
    assert.equal(w.workloads[2].refs[ENV_FROM], OLD, 'production untouched');
  });

  it('reports a rollout that cannot become ready because its Secret is missing', async () => {
    const { acts } = setup();
    const env = new MockActivityEnvironment();
    const [found] = await run(env, acts.discover, {
      secret: 'auth-api-secrets',
      stages: [{ name: 'production', namespace: 'production', workloads: 'auto' as const }],
    });
    await run(env, acts.switchWorkloads, { stage: 'production', namespace: 'production', workloads: found.workloads, from: OLD, to: NEW, strategy: 'rolling' });
    const rollout = await run(env, acts.waitForRollout, { stage: 'production', namespace: 'production', workloads: found.workloads, timeoutMs: 5_000 });
    assert.equal(rollout.ready, false);
    assert.match(rollout.message, /^Deployment\/auth-api: pod \S+ CreateContainerConfigError: secret "auth-api-secrets-20251129120000" not found$/);
  });

  it('never deletes a version a workload still refers to, in any namespace', async () => {
    const { w, acts } = setup();
    const env = new MockActivityEnvironment();
    const blocked = await run(env, acts.deleteVersion, {
      secret: 'auth-api-secrets',
      version: OLD,
      namespaces: ['staging', 'production'],
      store: 'kubernetes',
    });
    assert.equal(blocked.deleted, false);
    assert.equal(w.secrets.filter((s) => s.name === OLD).length, 2);
    for (const wl of w.workloads) for (const f of Object.keys(wl.refs)) if (wl.refs[f] === OLD) wl.refs[f] = NEW;
    const freed = await run(env, acts.deleteVersion, { secret: 'auth-api-secrets', version: OLD, namespaces: ['staging', 'production'], store: 'kubernetes' });
    assert.deepEqual(freed, { deleted: true, namespaces: ['staging', 'production'] });
    assert.equal(w.secrets.filter((s) => s.name === OLD).length, 0);
  });
});
