// What the fault-injection files share (test/faults-*.test.ts): one rig per file (so a file's
// scenarios never meet another file's rotations, and each file stays within the runner's time
// limit), the undisturbed run a scenario's world is compared with, and that comparison.
import assert from 'node:assert/strict';
import { after, before } from 'node:test';
import type { RotationStatus } from '../../contract/api';
import { FaultRig } from '../../sandbox/fault-rig';
import { startDevServer } from './dev-server';
import { diffWorlds, worldOf, type World } from './fault-world';

export type Outcome = 'committed' | 'rolledBack';

export interface FaultSuite {
  rig(): FaultRig;
  /**
   * The scenario's world, once its rotation has ended as `outcome`, against the undisturbed run's.
   * `view`: what of its status to compare (a scenario's own extra phase left out).
   */
  assertAsUndisturbed(outcome: Outcome, tag: string, id: string, view?: (s: RotationStatus) => RotationStatus): Promise<void>;
  baseline(outcome: Outcome): World;
  /** The workflow id of the undisturbed run. */
  baselineId(outcome: Outcome): string;
  /**
   * A rotation that commits while the worker running each of `steps` is SIGKILLed inside it (requests
   * slowed so the kill lands there): each step taken over by the other worker, the world as undisturbed.
   */
  killEach(tag: string, steps: string[]): Promise<void>;
}

/** Starts the rig with two workers and, first, the undisturbed runs the file's scenarios end like. */
export function faultSuite(outcomes: Outcome[]): FaultSuite {
  let rig: FaultRig | undefined;
  const baselines = new Map<Outcome, World>();
  const baselineIds = new Map<Outcome, string>();

  before(async () => {
    rig = await FaultRig.start({ workers: 2, startDevServer });
    const r = rig;
    // Side by side: each in its own namespaces.
    await Promise.all(
      outcomes.map(async (outcome) => {
        const tag = outcome === 'committed' ? 'base-c' : 'base-r';
        await r.prepare(tag);
        const id = await r.rotate(tag);
        baselineIds.set(outcome, id);
        if (outcome === 'rolledBack') await r.abortAtCanary(id);
        const s = await r.settled(id);
        assert.equal(s.phase, outcome === 'committed' ? 'COMPLETED' : 'ROLLED_BACK', `the undisturbed run: ${s.outcome}`);
        baselines.set(outcome, await worldOf(r.kc, tag, s));
      }),
    );
  });

  after(async () => {
    await rig?.stop();
  });

  const suite: FaultSuite = {
    rig: () => {
      assert.ok(rig, 'the rig has started');
      return rig;
    },
    baseline: (outcome) => {
      const known = baselines.get(outcome);
      assert.ok(known, `the undisturbed ${outcome} run`);
      return known;
    },
    baselineId: (outcome) => {
      const id = baselineIds.get(outcome);
      assert.ok(id, `the undisturbed ${outcome} run`);
      return id;
    },
    async killEach(tag, steps) {
      const r = suite.rig();
      r.slowRequests();
      await r.prepare(tag);
      const id = r.rotationId(tag);
      const kills = r.armKills(id, steps);
      await r.rotate(tag);
      const recoveries = await kills.run('after-retry');
      console.log(`[faults] recovery after SIGKILL: ${recoveries.map((x) => `${x.step} ${(x.ms / 1000).toFixed(1)} s (${x.by})`).join(', ')}`);
      for (const x of recoveries) assert.equal(x.by, 'other', `${x.step} was taken over by the worker that did not die`);
      await suite.assertAsUndisturbed('committed', tag, id);
    },
    async assertAsUndisturbed(outcome, tag, id, view = (x) => x) {
      const r = suite.rig();
      const s = view(await r.settled(id));
      r.proxy.rules = [];
      const last = s.events
        .slice(-4)
        .map((e) => e.message)
        .join(' | ');
      assert.equal(s.phase, outcome === 'committed' ? 'COMPLETED' : 'ROLLED_BACK', `${s.outcome}: ${last}`);
      assert.deepEqual(diffWorlds(suite.baseline(outcome), await worldOf(r.kc, tag, s)), []);
    },
  };
  return suite;
}
