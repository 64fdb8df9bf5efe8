// Fault injection (npm run test:faults; test/helpers/faults.ts): kube-apiserver, through the fault proxy,
// answering 409, 429 with Retry-After, 500, 503, resets, lost answers, delays and expired continue
// tokens; what the adapter asks again and what it leaves to the step's retry; and that the world check
// these files end with can fail.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import * as k8s from '@kubernetes/client-node';
import { KubernetesCluster } from '../activities/kubernetes';
import { OLD, PRODUCTION, SECRET } from '../sandbox/fault-rig';
import { diffWorlds } from './helpers/fault-world';
import { faultSuite } from './helpers/faults';

const suite = faultSuite(['committed']);

describe('faults: the apiserver answers badly', () => {
  it('the apiserver answering 409, 429 with Retry-After, 500, 503, resets, delays and expired continue tokens', async () => {
    const r = suite.rig();
    const { proxy } = r;
    proxy.counts.injected = {};
    proxy.rules = [
      { path: /continue=/, fault: { kind: 'expired' }, times: 3 },
      { method: 'PATCH', fault: { kind: 'status', code: 409 }, every: 3 },
      // The change is made, its answer lost: the retry must find it done.
      { method: 'PATCH', fault: { kind: 'lost' }, every: 4 },
      { method: 'DELETE', fault: { kind: 'lost' }, every: 2 },
      { method: 'GET', fault: { kind: 'status', code: 429, retryAfterSeconds: 1 }, every: 17 },
      { fault: { kind: 'status', code: 500 }, every: 23 },
      { fault: { kind: 'status', code: 503 }, every: 29 },
      { fault: { kind: 'reset' }, every: 31 },
      { fault: { kind: 'delay', ms: 300 }, every: 5 },
    ];
    await r.prepare('answers');
    const id = await r.rotate('answers');
    await r.settled(id);
    const injected = { ...proxy.counts.injected };
    console.log(`[faults] injected: ${JSON.stringify(injected)}`);
    await suite.assertAsUndisturbed('committed', 'answers', id);
    for (const kind of ['expired', '409', 'lost', '429', '500', '503', 'reset', 'delay'])
      assert.ok((injected[kind] ?? 0) > 0, `${kind} was injected: ${JSON.stringify(injected)}`);
  });
});

describe('faults: the adapter asks the apiserver again when it says "not now"', () => {
  const adapter = () => {
    const kc = new k8s.KubeConfig();
    kc.loadFromFile(suite.rig().workerKubeconfig);
    return new KubernetesCluster(kc);
  };

  it('reads through 429 with Retry-After, 503, 500 and a dropped connection, within one call', async () => {
    await suite.rig().prepare('asks');
    suite.rig().proxy.counts.injected = {};
    suite.rig().proxy.rules = [
      { method: 'GET', fault: { kind: 'status', code: 429, retryAfterSeconds: 0 }, times: 1 },
      { method: 'GET', fault: { kind: 'status', code: 503 }, times: 1 },
      { method: 'GET', fault: { kind: 'status', code: 500 }, times: 1 },
      { method: 'GET', fault: { kind: 'reset' }, times: 1 },
    ];
    try {
      const use = await adapter().findCurrentUse('asks-prd', SECRET);
      assert.equal(use.version, OLD);
      assert.deepEqual(use.workloads.map((w) => w.name).sort(), [...PRODUCTION].sort());
      assert.deepEqual(suite.rig().proxy.counts.injected, { 429: 1, 503: 1, 500: 1, reset: 1 });
    } finally {
      suite.rig().proxy.rules = [];
    }
  });

  it('does not send a write again whose fate is unknown (500): the step itself is retried', async () => {
    const cluster = adapter();
    const { workloads } = await cluster.findCurrentUse('asks-stg', SECRET);
    suite.rig().proxy.counts.methods = {};
    suite.rig().proxy.rules = [{ method: 'PATCH', fault: { kind: 'status', code: 500 }, times: 1 }];
    try {
      await assert.rejects(
        cluster.switchWorkloads({ stage: 's', namespace: 'asks-stg', workloads, from: OLD, to: `${SECRET}-20260101000000`, strategy: 'rolling' }),
        (err: Error) => err.name === 'Unavailable' && /HTTP 500/.test(err.message),
      );
      assert.equal(suite.rig().proxy.counts.methods.PATCH, 1, `the PATCH was sent once: ${JSON.stringify(suite.rig().proxy.counts.methods)}`);
    } finally {
      suite.rig().proxy.rules = [];
    }
  });
});

describe('faults: the world check can fail', () => {
  it('names a reference left on the new version, a record left behind, a green copy kept and a Secret deleted', async () => {
    const base = suite.baseline('committed');
    const mutate = (change: (w: any) => void) => {
      const w = structuredClone(base) as any;
      change(w);
      return diffWorlds(base, w);
    };
    assert.match(mutate((w) => (w['<tag>-prd'].deployments[0].secrets = ['<old>'])).join('\n'), /<tag>-prd\.deployments: .*<old>/);
    assert.match(mutate((w) => (w['<tag>-stg'].deployments[0].records['rotor.dev/switch-<hash>'] = '{}')).join('\n'), /rotor\.dev\/switch-<hash>/);
    assert.match(mutate((w) => w['<tag>-prd'].deployments.push({ name: 'api-canary-<hash>' })).join('\n'), /api-canary-<hash>/);
    assert.match(mutate((w) => w['<tag>-stg'].secrets.pop()).join('\n'), /<tag>-stg\.secrets/);
    assert.deepEqual(
      mutate(() => undefined),
      [],
    );
  });
});
