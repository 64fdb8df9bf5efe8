// Fault injection (npm run test:faults; test/helpers/faults.ts): the Temporal server killed with -9 and
// started again on its database mid-soak and mid-retention, and kube-apiserver paused mid-rollout.
import { describe, it } from 'node:test';
import { faultSuite } from './helpers/faults';

const suite = faultSuite(['committed']);

describe('faults: the servers around a rotation fail', () => {
  it('the Temporal server killed with -9 and restarted mid-soak and mid-retention', async () => {
    const r = suite.rig();
    r.proxy.rules = [];
    await r.prepare('temporal');
    const id = await r.rotate('temporal', { soak: '8s', retention: '8s' });
    for (const phase of ['SOAKING', 'RETAINING']) {
      await r.waitFor(id, (s) => s.phase === phase);
      await r.restartServer(2000);
    }
    await suite.assertAsUndisturbed('committed', 'temporal', id);
  });

  it('kube-apiserver paused for 12 s mid-rollout', async () => {
    const r = suite.rig();
    r.proxy.rules = [];
    await r.prepare('paused');
    const id = await r.rotate('paused');
    await r.pool.next((e) => e.event === 'started' && e.step === 'waitForRollout' && e.workflowId === id, 120_000, 'the rollout wait');
    const apiserver = r.sandbox.plane.pids['kube-apiserver'];
    process.kill(apiserver, 'SIGSTOP');
    try {
      await new Promise((r) => setTimeout(r, 12_000));
    } finally {
      process.kill(apiserver, 'SIGCONT');
    }
    await suite.assertAsUndisturbed('committed', 'paused', id);
  });
});
