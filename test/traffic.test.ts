// The traffic model's parts without a control plane: the auth API emulator over HTTP (tokens, counts,
// the Prometheus text it exports), the environment a container starts with, and the simulated pods'
// steady requests, and the sandbox servers' retry on a port lost before binding. The whole chain on the
// sandbox is in e2e-analysis.test.ts.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type * as k8s from '@kubernetes/client-node';
import { AuthApi, CALLER_HEADERS } from '../sandbox/auth-api';
import { TrafficCounters } from '../sandbox/traffic-counters';
import { resolveEnv, TRAFFIC_LABEL, TrafficModel, workloadOf } from '../sandbox/traffic';
import { withFreshPorts } from '../sandbox/processes';

const b64 = (s: string) => Buffer.from(s).toString('base64');

function pod(name: string, uid: string, env: k8s.V1EnvVar[], extra: Partial<k8s.V1ObjectMeta> = {}): k8s.V1Pod {
  return {
    metadata: { name, uid, namespace: 'staging', labels: { [TRAFFIC_LABEL]: 'auth', 'pod-template-hash': '5d9f' }, ...extra },
    spec: { containers: [{ name: 'app', image: 'x', env }] },
  };
}

let api: AuthApi;
before(async () => {
  api = new AuthApi();
  await api.start();
});
after(async () => api.stop());

async function call(token: string | null, version = 'v1', namespace = 'staging'): Promise<number> {
  const headers: Record<string, string> = {
    [CALLER_HEADERS.namespace]: namespace,
    [CALLER_HEADERS.workload]: 'auth',
    [CALLER_HEADERS.pod]: 'auth-1',
    [CALLER_HEADERS.version]: version,
  };
  if (token) headers.authorization = `Bearer ${token}`;
  const res = await fetch(`${api.url}/v1/authenticate`, { method: 'POST', headers });
  await res.arrayBuffer();
  return res.status;
}

describe('auth API emulator', () => {
  it('answers 200 for a valid token, 403 for the wrong scope, 401 for revoked, unknown or none', async () => {
    api.setToken('good-1', 'valid');
    api.setToken('scope-1', 'bad-scope');
    api.setToken('gone-1', 'revoked');
    assert.deepEqual(
      [await call('good-1'), await call('scope-1'), await call('gone-1'), await call('never-seen'), await call(null)],
      [200, 403, 401, 401, 401],
    );
    api.setToken('gone-1', 'valid');
    assert.equal(await call('gone-1'), 200, 'a token set valid again is accepted');
  });

  it('answers 403 to a token valid only for callers in another namespace (one scoped to an environment)', async () => {
    api.setToken('staging-only-1', 'valid', 'staging');
    assert.deepEqual([await call('staging-only-1', 'v1', 'staging'), await call('staging-only-1', 'v1', 'production')], [200, 403]);
  });

  it('takes a token state from its admin endpoint, and says what it expects when the body is wrong', async () => {
    const set = (body: string) => fetch(`${api.url}/admin/tokens`, { method: 'POST', body });
    assert.equal((await set(JSON.stringify({ token: 'admin-1', state: 'bad-scope' }))).status, 204);
    assert.equal(await call('admin-1'), 403);
    const refused = await set(JSON.stringify({ token: 'admin-1', state: 'great' }));
    assert.equal(refused.status, 400);
    assert.match(await refused.text(), /one of valid, bad-scope, revoked/);
    assert.equal((await set('not json')).status, 400);
    assert.equal(await call('admin-1'), 403, 'a refused change changes nothing');
  });

  it('counts requests and errors by caller and version, and exports them for Prometheus', async () => {
    api.setToken('good-2', 'valid');
    api.setToken('bad-2', 'bad-scope');
    const before = api.counters.sum(0, Date.now() + 1000, (l) => l.version === 'v7');
    for (let i = 0; i < 3; i++) await call('good-2', 'v7');
    for (let i = 0; i < 2; i++) await call('bad-2', 'v7');
    const after = api.counters.sum(0, Date.now() + 1000, (l) => l.version === 'v7');
    assert.deepEqual({ requests: after.requests - before.requests, errors: after.errors - before.errors }, { requests: 5, errors: 2 });
    const text = await (await fetch(`${api.url}/metrics`)).text();
    assert.match(text, /auth_requests_total\{namespace="staging",workload="auth",pod="auth-1",version="v7"\} 5/);
    assert.match(text, /auth_requests_errors_total\{namespace="staging",workload="auth",pod="auth-1",version="v7"\} 2/);
    assert.doesNotMatch(text, /good-2|bad-2/, 'no token in the metrics');
  });

  it('starts every caller with an error series at 0, so a rate over it is 0, not absent', async () => {
    api.setToken('good-3', 'valid');
    await call('good-3', 'v8');
    const text = await (await fetch(`${api.url}/metrics`)).text();
    assert.match(text, /auth_requests_errors_total\{[^}]*version="v8"\} 0/);
  });
});

describe('a container environment, fixed at start', () => {
  const secrets = new Map<string, Record<string, string>>([
    ['staging/tok-a', { API_TOKEN: b64('aaa'), OTHER: b64('o') }],
    ['staging/tok-b', { api_token: b64('bbb') }],
  ]);

  it('reads env from secretKeyRef and envFrom, a later env entry winning, and names each one`s Secret', () => {
    const p = pod('auth-5d9f-x', 'u1', [{ name: 'API_TOKEN', valueFrom: { secretKeyRef: { name: 'tok-b', key: 'api_token' } } }]);
    p.spec!.containers[0].envFrom = [{ secretRef: { name: 'tok-a' } }];
    const env = resolveEnv(p, secrets);
    assert.deepEqual(env.values, { API_TOKEN: 'bbb', OTHER: 'o' });
    assert.deepEqual(env.secretOf, { API_TOKEN: 'tok-b', OTHER: 'tok-a' });
    const plain = resolveEnv(pod('p', 'u2', [{ name: 'API_TOKEN', value: 'literal' }]), secrets);
    assert.deepEqual(plain, { values: { API_TOKEN: 'literal' }, secretOf: {} });
    const missing = resolveEnv(pod('p', 'u3', [{ name: 'API_TOKEN', valueFrom: { secretKeyRef: { name: 'gone', key: 'k' } } }]), secrets);
    assert.deepEqual(missing, { values: {}, secretOf: {} });
  });

  it('names the workload a pod belongs to', () => {
    const rs = pod('auth-5d9f-x', 'u', [], { ownerReferences: [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'auth-5d9f', uid: 'r', controller: true }] });
    assert.equal(workloadOf(rs), 'auth');
    const sts = pod('db-0', 'u', [], { ownerReferences: [{ apiVersion: 'apps/v1', kind: 'StatefulSet', name: 'db', uid: 's', controller: true }] });
    assert.equal(workloadOf(sts), 'db');
    assert.equal(workloadOf(pod('lonely', 'u', [])), 'lonely');
  });
});

describe('traffic model', () => {
  it('sends steady requests from each started pod with the token it started with, until it stops', async () => {
    const counters = new TrafficCounters();
    const local = new AuthApi({ counters });
    await local.start();
    local.setToken('tok-good', 'valid');
    local.setToken('tok-bad', 'bad-scope');
    const model = new TrafficModel({ apiUrl: local.url, ratePerPod: 20, tickMs: 50 });
    try {
      model.podStarted(pod('a-1', 'ua', []), { values: { API_TOKEN: 'tok-good' }, secretOf: { API_TOKEN: 's-old' } });
      model.podStarted(pod('a-2', 'ub', []), { values: { API_TOKEN: 'tok-bad' }, secretOf: { API_TOKEN: 's-new' } });
      const unlabelled = pod('other', 'uc', []);
      delete unlabelled.metadata!.labels![TRAFFIC_LABEL];
      model.podStarted(unlabelled, { values: { API_TOKEN: 'tok-good' }, secretOf: { API_TOKEN: 's-old' } });
      assert.deepEqual(
        model
          .running()
          .map((l) => `${l.pod}@${l.version}`)
          .sort(),
        ['a-1@s-old', 'a-2@s-new'],
      );
      model.start();
      for (let i = 0; i < 100 && counters.sum(0, Date.now() + 1000).requests < 20; i++) await new Promise((r) => setTimeout(r, 50));
      const old = counters.sum(0, Date.now() + 1000, (l) => l.version === 's-old');
      const bad = counters.sum(0, Date.now() + 1000, (l) => l.version === 's-new');
      assert.ok(old.requests > 0 && old.errors === 0, `good token: ${JSON.stringify(old)}`);
      assert.ok(bad.requests > 0 && bad.errors === bad.requests, `bad token: ${JSON.stringify(bad)}`);
      model.podStopped('ub');
      await new Promise((r) => setTimeout(r, 150));
      const stoppedAt = counters.sum(0, Date.now() + 1000, (l) => l.version === 's-new').requests;
      await new Promise((r) => setTimeout(r, 300));
      assert.equal(counters.sum(0, Date.now() + 1000, (l) => l.version === 's-new').requests, stoppedAt, 'a stopped pod sends nothing');
    } finally {
      await model.stop();
      await local.stop();
    }
  });
});

describe('servers on ports probed free (withFreshPorts)', () => {
  it('starts again on new ports when a probed port was taken before the bind, and only then', async () => {
    let calls = 0;
    const clash = () => new Error('temporal dev server exited (2): listen tcp 127.0.0.1:35293: bind: address already in use');
    const started = await withFreshPorts(async () => {
      calls += 1;
      if (calls < 3) throw clash();
      return 'up';
    });
    assert.deepEqual([started, calls], ['up', 3]);
    calls = 0;
    await assert.rejects(
      withFreshPorts(async () => {
        calls += 1;
        throw clash();
      }),
      /address already in use/,
    );
    assert.equal(calls, 3, 'three tries, then the clash is reported');
    calls = 0;
    await assert.rejects(
      withFreshPorts(async () => {
        calls += 1;
        throw new Error('etcd exited (1): permission denied');
      }),
      /permission denied/,
    );
    assert.equal(calls, 1, 'any other failure is reported at once');
  });
});
