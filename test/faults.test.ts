// Fault injection on real parts (`npm run test:faults`): a real Temporal dev server on a database file,
// the sandbox's real kube-apiserver behind a fault proxy, and two real `rotor worker` processes
// (sandbox/fault-rig.ts). Each scenario runs a whole rotation while something around it fails —
// workers SIGKILLed inside each kind of step, the Temporal server killed with -9 and restarted
// mid-soak and mid-retention, kube-apiserver paused mid-rollout, the apiserver answering 409, 429,
// 500, 503, resets, lost answers, delays and expired continue tokens — and ends with the world
// (objects, fields, labels, records, leases, phases, what was reverted and cleaned) compared with an
// undisturbed run of the same plan.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import * as k8s from '@kubernetes/client-node';
import { KubernetesCluster } from '../activities/kubernetes';
import { FaultRig, OLD, PRODUCTION, SECRET } from '../sandbox/fault-rig';
import { startDevServer } from './helpers/dev-server';
import { diffWorlds, worldOf, type World } from './helpers/fault-world';

let rig: FaultRig;
const baselines: Record<'committed' | 'rolledBack', World | null> = { committed: null, rolledBack: null };

before(async () => {
  rig = await FaultRig.start({ workers: 2, startDevServer });
});

after(async () => {
  await rig?.stop();
});

function baseline(which: 'committed' | 'rolledBack'): World {
  const known = baselines[which];
  assert.ok(known, `the undisturbed ${which} run must come first`);
  return known;
}

/** The scenario's world against the undisturbed run's. */
async function assertAsUndisturbed(which: 'committed' | 'rolledBack', tag: string, id: string): Promise<void> {
  const s = await rig.settled(id);
  rig.proxy.rules = [];
  assert.equal(
    s.phase,
    which === 'committed' ? 'COMPLETED' : 'ROLLED_BACK',
    `${s.outcome}: ${s.events
      .slice(-4)
      .map((e) => e.message)
      .join(' | ')}`,
  );
  assert.deepEqual(diffWorlds(baseline(which), await worldOf(rig.kc, tag, s)), []);
}

describe('faults: a rotation ends as an undisturbed one would', () => {
  it('undisturbed: committed, and rolled back from the canary (the baselines)', async () => {
    rig.proxy.rules = [];
    await rig.prepare('base-c');
    const c = await rig.settled(await rig.rotate('base-c'));
    assert.equal(c.phase, 'COMPLETED', c.outcome ?? '');
    baselines.committed = await worldOf(rig.kc, 'base-c', c);
    await rig.prepare('base-r');
    const id = await rig.rotate('base-r');
    await rig.abortAtCanary(id);
    const r = await rig.settled(id);
    assert.equal(r.phase, 'ROLLED_BACK', r.outcome ?? '');
    baselines.rolledBack = await worldOf(rig.kc, 'base-r', r);
  });

  it('a worker SIGKILLed inside each kind of step: retried within seconds, the world as undisturbed', async () => {
    rig.slowRequests();
    await rig.prepare('kill-c');
    const id = await rig.rotate('kill-c');
    const recoveries = [];
    for (const step of ['switchWorkloads', 'waitForRollout', 'completeCanary', 'finalizeVersion', 'scanReferences', 'deleteVersion'])
      recoveries.push(await rig.killIn(id, step));
    console.log(`[faults] recovery after SIGKILL: ${recoveries.map((r) => `${r.step} ${(r.ms / 1000).toFixed(1)} s (${r.by})`).join(', ')}`);
    for (const r of recoveries) assert.equal(r.by, 'other', `${r.step} was taken over by the worker that did not die`);
    await assertAsUndisturbed('committed', 'kill-c', id);
  });

  it('a worker SIGKILLed inside the revert: the rollback event names every workload any attempt reverted', async () => {
    await rig.prepare('kill-r');
    const id = await rig.rotate('kill-r');
    await rig.abortAtCanary(id, () => rig.slowRequests());
    const recovery = await rig.killIn(id, 'revertWorkloads');
    const s = await rig.settled(id);
    console.log(`[faults] revert retried ${(recovery.ms / 1000).toFixed(1)} s after the kill (${recovery.by})`);
    const event = s.events.find((e) => e.message.startsWith(`reverted in kill-r-prd`));
    assert.ok(event, `a rollback event for production: ${s.events.map((e) => e.message).join(' | ')}`);
    for (const name of PRODUCTION) assert.match(event.message, new RegExp(`Deployment/${name}: `), `the event names ${name}: ${event.message}`);
    await assertAsUndisturbed('rolledBack', 'kill-r', id);
  });

  it('the Temporal server killed with -9 and restarted mid-soak and mid-retention', async () => {
    rig.proxy.rules = [];
    await rig.prepare('temporal');
    const id = await rig.rotate('temporal', { soak: '8s', retention: '8s' });
    for (const phase of ['SOAKING', 'RETAINING']) {
      await rig.waitFor(id, (s) => s.phase === phase);
      await rig.restartServer(2000);
    }
    await assertAsUndisturbed('committed', 'temporal', id);
  });

  it('kube-apiserver paused for 12 s mid-rollout', async () => {
    rig.proxy.rules = [];
    await rig.prepare('paused');
    const id = await rig.rotate('paused');
    await rig.pool.next((e) => e.event === 'started' && e.step === 'waitForRollout' && e.workflowId === id, 120_000, 'the rollout wait');
    const apiserver = rig.sandbox.plane.pids['kube-apiserver'];
    process.kill(apiserver, 'SIGSTOP');
    try {
      await new Promise((r) => setTimeout(r, 12_000));
    } finally {
      process.kill(apiserver, 'SIGCONT');
    }
    await assertAsUndisturbed('committed', 'paused', id);
  });

  it('the apiserver answering 409, 429 with Retry-After, 500, 503, resets, delays and expired continue tokens', async () => {
    const { proxy } = rig;
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
    await rig.prepare('answers');
    const id = await rig.rotate('answers');
    await rig.settled(id);
    const injected = { ...proxy.counts.injected };
    console.log(`[faults] injected: ${JSON.stringify(injected)}`);
    await assertAsUndisturbed('committed', 'answers', id);
    for (const kind of ['expired', '409', 'lost', '429', '500', '503', 'reset', 'delay'])
      assert.ok((injected[kind] ?? 0) > 0, `${kind} was injected: ${JSON.stringify(injected)}`);
  });
});

describe('faults: the adapter asks the apiserver again when it says "not now"', () => {
  const adapter = () => {
    const kc = new k8s.KubeConfig();
    kc.loadFromFile(rig.workerKubeconfig);
    return new KubernetesCluster(kc);
  };

  it('reads through 429 with Retry-After, 503, 500 and a dropped connection, within one call', async () => {
    await rig.prepare('asks');
    rig.proxy.counts.injected = {};
    rig.proxy.rules = [
      { method: 'GET', fault: { kind: 'status', code: 429, retryAfterSeconds: 0 }, times: 1 },
      { method: 'GET', fault: { kind: 'status', code: 503 }, times: 1 },
      { method: 'GET', fault: { kind: 'status', code: 500 }, times: 1 },
      { method: 'GET', fault: { kind: 'reset' }, times: 1 },
    ];
    try {
      const use = await adapter().findCurrentUse('asks-prd', SECRET);
      assert.equal(use.version, OLD);
      assert.deepEqual(use.workloads.map((w) => w.name).sort(), [...PRODUCTION].sort());
      assert.deepEqual(rig.proxy.counts.injected, { 429: 1, 503: 1, 500: 1, reset: 1 });
    } finally {
      rig.proxy.rules = [];
    }
  });

  it('does not send a write again whose fate is unknown (500): the step itself is retried', async () => {
    const cluster = adapter();
    const { workloads } = await cluster.findCurrentUse('asks-stg', SECRET);
    rig.proxy.counts.methods = {};
    rig.proxy.rules = [{ method: 'PATCH', fault: { kind: 'status', code: 500 }, times: 1 }];
    try {
      await assert.rejects(
        cluster.switchWorkloads({ stage: 's', namespace: 'asks-stg', workloads, from: OLD, to: `${SECRET}-20260101000000`, strategy: 'rolling' }),
        (err: Error) => err.name === 'Unavailable' && /HTTP 500/.test(err.message),
      );
      assert.equal(rig.proxy.counts.methods.PATCH, 1, `the PATCH was sent once: ${JSON.stringify(rig.proxy.counts.methods)}`);
    } finally {
      rig.proxy.rules = [];
    }
  });
});

describe('faults: the world check can fail', () => {
  it('names a reference left on the new version, a record left behind, a green copy kept and a Secret deleted', async () => {
    const base = baseline('committed');
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
