// Fault injection (npm run test:faults; test/helpers/faults.ts): a worker SIGKILLed inside the revert of
// a rollback from the canary; the rollback's event names every workload any attempt reverted.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import * as k8s from '@kubernetes/client-node';
import { PRODUCTION } from '../sandbox/fault-rig';
import { faultSuite } from './helpers/faults';

const suite = faultSuite(['rolledBack']);

describe('faults: a worker killed while reverting', () => {
  it('a worker SIGKILLed inside the revert: the rollback event names every workload any attempt reverted', async () => {
    const r = suite.rig();
    await r.prepare('kill-r');
    const id = await r.rotate('kill-r');
    await r.abortAtCanary(id, () => r.slowRequests());
    // Killed after production's first Deployment is reverted (with its green copy) and before the rest:
    // the retry finds it done, and must still name it.
    const started = await r.pool.next((e) => e.event === 'started' && e.step === 'revertWorkloads' && e.workflowId === id, 120_000, 'the revert');
    await new Promise((done) => setTimeout(done, 5_000));
    const killedAt = await r.pool.kill(started.worker);
    const apps = r.kc.makeApiClient(k8s.AppsV1Api);
    const blues = (await apps.listNamespacedDeployment({ namespace: 'kill-r-prd' })).items.filter((d) => !d.metadata!.name!.includes('-canary-'));
    const done = blues.filter((d) => Object.values(d.metadata?.annotations ?? {}).some((v) => v.includes('"reverted"'))).map((d) => d.metadata!.name);
    assert.ok(done.length >= 1 && done.length < PRODUCTION.length, `the killed attempt reverted some Deployments, not all: ${done.join(', ')}`);
    const retried = await r.pool.next((e) => e.event === 'started' && e.step === 'revertWorkloads' && e.workflowId === id, 120_000, 'the retried revert');
    await r.pool.start(started.worker);
    const s = await r.settled(id);
    console.log(`[faults] revert retried ${((retried.at - killedAt) / 1000).toFixed(1)} s after the kill, which left ${done.join(', ')} reverted`);
    const event = s.events.find((e) => e.message.startsWith(`reverted in kill-r-prd`));
    assert.ok(event, `a rollback event for production: ${s.events.map((e) => e.message).join(' | ')}`);
    for (const name of PRODUCTION) assert.match(event.message, new RegExp(`Deployment/${name}: `), `the event names ${name}: ${event.message}`);
    await suite.assertAsUndisturbed('rolledBack', 'kill-r', id);
  });
});
