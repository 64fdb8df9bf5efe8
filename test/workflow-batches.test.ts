// Batches within a stage (stage.batch), on the time-skipping server with rotor's activities over the
// memory cluster: a production stage of 20 Deployments in batches of 5 switches one batch at a time,
// each batch's rollout and verify passing before the next, with the pause between batches; a check
// failing in batch 3 rolls back batches 1-3 (and only what rotor switched there) and never touches
// batch 4; a percentage makes batches of its share, rounded up.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ENV_FROM, workload } from './helpers/doubles';
import { twoStagePlan } from './helpers/plans';
import { timeSkippingRotations } from './helpers/rotations';

const OLD = 'auth-api-secrets-20250101000000';
const { run } = timeSkippingRotations('batches');
const names = Array.from({ length: 20 }, (_, i) => `api-${String(i + 1).padStart(2, '0')}`);
const workloads = { production: names.map((n) => workload('production', n)) };

const plan = (batch: object) =>
  twoStagePlan({
    production: {
      strategy: 'rolling',
      batch,
      analysis: { provider: 'datadog', query: 'sum:api.auth.errors{env:production}.as_count()', threshold: 10, interval: '1m', failureLimit: 1, verify: '2m' },
    },
  });

/** The production workloads each switch (or revert) was asked to change, in order. */
const asked = (calls: { input: { namespace: string; workloads: { name: string }[] } }[]) =>
  calls.filter((c) => c.input.namespace === 'production').map((c) => c.input.workloads.map((w) => w.name));

describe('batches within a stage', () => {
  it('switches 20 Deployments 5 at a time, each batch verified before the next, with the pause between them', async () => {
    const { d, status } = await run({ workloads }, plan({ size: 5, pause: '5m' }));
    assert.equal(status.phase, 'COMPLETED', status.outcome ?? '');
    const switches = asked(d.calls.filter((c) => c.name === 'switchWorkloads'));
    assert.deepEqual(switches, [names.slice(0, 5), names.slice(5, 10), names.slice(10, 15), names.slice(15, 20)]);
    const verifies = d.called('monitorAnalysis').filter((i) => i.stage === 'production' && i.check === 'verify');
    assert.equal(verifies.length, 4, 'one verify per batch');
    const at = (n: number) => Date.parse(status.events.find((e) => e.message.startsWith(`switching batch ${n} of 4:`))!.at);
    for (const n of [2, 3, 4]) assert.ok(at(n) - at(n - 1) >= 5 * 60_000, `batch ${n} starts ${at(n) - at(n - 1)} ms after batch ${n - 1}: the pause is 5m`);
    for (const name of names) assert.equal(d.workload('production', name)!.refs[ENV_FROM], status.newVersion, name);
    assert.equal(status.batch, null, 'no batch in progress once the stage is done');
  });

  it('rolls back batches 1-3 when batch 3 fails its check, and never touches batch 4', async () => {
    let productionChecks = 0;
    const { d, status } = await run(
      { workloads, check: (input) => (input.stage === 'production' && input.check === 'verify' && ++productionChecks === 3 ? 'failed' : 'passed') },
      plan({ size: 5 }),
    );
    assert.equal(status.phase, 'ROLLED_BACK', status.outcome ?? '');
    assert.match(status.outcome!, /verify check in production failed/);
    assert.ok(status.events.some((e) => e.message.startsWith('switching batch 3 of 4:')));
    assert.ok(!status.events.some((e) => e.message.startsWith('switching batch 4 of 4:')));
    const switched = asked(d.calls.filter((c) => c.name === 'switchWorkloads'));
    assert.deepEqual(switched, [names.slice(0, 5), names.slice(5, 10), names.slice(10, 15)]);
    const reverted = asked(d.calls.filter((c) => c.name === 'revertWorkloads')).flat();
    assert.deepEqual([...new Set(reverted)].sort(), names.slice(0, 15), 'the rollback covers batches 1-3 and nothing else');
    for (const name of names) assert.equal(d.workload('production', name)!.refs[ENV_FROM], OLD, name);
  });

  it('makes batches of a percentage, rounded up; without batch the stage switches at once', async () => {
    const { d, status } = await run({ workloads }, plan({ percent: 30 }));
    assert.equal(status.phase, 'COMPLETED', status.outcome ?? '');
    assert.deepEqual(
      asked(d.calls.filter((c) => c.name === 'switchWorkloads')).map((b) => b.length),
      [6, 6, 6, 2],
    );
    const once = await run({ workloads }, twoStagePlan({ production: { strategy: 'rolling' } }));
    assert.deepEqual(
      asked(once.d.calls.filter((c) => c.name === 'switchWorkloads')).map((b) => b.length),
      [20],
    );
  });
});
