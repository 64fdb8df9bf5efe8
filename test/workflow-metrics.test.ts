// What a rotation tells the worker's metrics through its sinks (contract/sinks.ts), on the time-skipping
// server with activity doubles: how it ended (once, with its duration), and why it rolled back, one
// reason of a small fixed set per kind of cause.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { abortSignal, statusQuery, type RotationStatus } from '../contract/api';
import { twoStagePlan } from './helpers/plans';
import { timeSkippingRotations } from './helpers/rotations';

const { run } = timeSkippingRotations('metrics');

const quick = twoStagePlan({
  staging: { soak: '10m' },
  production: { strategy: 'rolling', watch: '10m' },
  top: { retention: '1h' },
});

describe('what a rotation tells the worker’s metrics', () => {
  it('a completed rotation: ended once as completed, with the time since it was requested, and no rollback', async () => {
    const { status, sunk } = await run({}, quick);
    assert.equal(status.phase, 'COMPLETED', status.outcome ?? '');
    assert.deepEqual(
      sunk.ended.map((e) => [e.secret, e.result]),
      [['auth-api-secrets', 'completed']],
    );
    // Retention's hour was skipped through on the server's clock, but it is time the rotation took.
    assert.ok(sunk.ended[0].seconds >= 3600 && sunk.ended[0].seconds < 2 * 3600, `took ${sunk.ended[0].seconds} s`);
    assert.deepEqual(sunk.rolledBack, []);
  });

  it('a failed analysis: rolled back for check_failed, ended as rolled_back', async () => {
    const { status, sunk } = await run({ check: (input) => (input.stage === 'production' ? 'failed' : 'passed') }, quick);
    assert.equal(status.phase, 'ROLLED_BACK');
    assert.deepEqual(sunk.rolledBack, [{ secret: 'auth-api-secrets', reason: 'check_failed' }]);
    assert.deepEqual(
      sunk.ended.map((e) => e.result),
      ['rolled_back'],
    );
  });

  it('a rollout that never becomes ready: rollout_timeout', async () => {
    const { status, sunk } = await run(
      { rollout: (input, nth) => (input.namespace === 'staging' && nth === 0 ? { ready: false, message: 'scripted: 0/4 ready' } : undefined) },
      quick,
    );
    assert.equal(status.phase, 'ROLLED_BACK');
    assert.deepEqual(
      sunk.rolledBack.map((r) => r.reason),
      ['rollout_timeout'],
    );
  });

  it('an operator’s abort: abort; a rollback rotor cannot finish ends as failed', async () => {
    const aborted = await run({ check: (input) => (input.check === 'soak' ? 'block' : 'passed') }, quick, async (handle) => {
      await waitFor(handle, (s) => s.phase === 'SOAKING');
      await handle.signal(abortSignal, { reason: 'metrics test', by: 'test' });
    });
    assert.equal(aborted.status.phase, 'ROLLED_BACK');
    assert.deepEqual(
      aborted.sunk.rolledBack.map((r) => r.reason),
      ['abort'],
    );
    const stuck = await run({ check: (input) => (input.stage === 'production' ? 'failed' : 'passed'), revertFailsIn: 'staging' }, quick);
    assert.equal(stuck.status.phase, 'FAILED');
    assert.deepEqual(
      stuck.sunk.ended.map((e) => e.result),
      ['failed'],
    );
  });
});

async function waitFor(handle: { query(q: typeof statusQuery): Promise<RotationStatus> }, pred: (s: RotationStatus) => boolean): Promise<void> {
  for (let i = 0; i < 600; i++) {
    const s = await handle.query(statusQuery).catch(() => null);
    if (s && pred(s)) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error('the rotation never reached the phase');
}
