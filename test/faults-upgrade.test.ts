// Upgrade under load (npm run test:faults): rotations started by the previous release (tools.json
// previousRelease, built by the bootstrap from this repository's history) with its CLI and its worker,
// each parked in a different phase, are continued by this release as a rolling update of the worker
// would do it: this release's worker starts and polls beside the old one while an approval, an abort
// and a new rotation arrive, then the old one gets SIGTERM. Every rotation must end as an undisturbed
// run by this release alone ends, and its mixed history must replay with today's workflow code.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { bundleWorkflowCode, Worker } from '@temporalio/worker';
import { DeterminismViolationError } from '@temporalio/workflow';
import type { Phase, RotationStatus } from '../contract/api';
import { planDoc, type PlanOverrides } from '../sandbox/fault-rig';
import { quietLogger, quietRuntime, workflowBundle } from '../sandbox/time-skipping';
import { previousRelease } from '../sandbox/tools';
import { faultSuite, type Outcome } from './helpers/faults';

const suite = faultSuite(['committed', 'rolledBack']);

interface Scenario {
  tag: string;
  overrides: PlanOverrides;
  /** Where the old release's worker leaves it when this release's starts. */
  parked: (s: RotationStatus) => boolean;
  parkedIn: string;
  outcome: Outcome;
}

// Each wait is long enough that every rotation is still parked when the last one parks.
const HOLD = '100s';
const scenarios: Scenario[] = [
  { tag: 'up-soak', overrides: { soak: '120s' }, parked: (s) => s.phase === 'SOAKING', parkedIn: 'SOAKING', outcome: 'committed' },
  { tag: 'up-appr', overrides: { approval: true }, parked: (s) => s.phase === 'AWAITING_APPROVAL', parkedIn: 'AWAITING_APPROVAL', outcome: 'committed' },
  {
    tag: 'up-cnry',
    overrides: { pause: HOLD },
    parked: (s) => s.phase === 'VERIFYING' && s.canaryPercent === 50,
    parkedIn: 'VERIFYING at 50%',
    outcome: 'committed',
  },
  { tag: 'up-watch', overrides: { watch: HOLD }, parked: (s) => s.phase === 'WATCHING', parkedIn: 'WATCHING', outcome: 'committed' },
  { tag: 'up-keep', overrides: { retention: HOLD }, parked: (s) => s.phase === 'RETAINING', parkedIn: 'RETAINING', outcome: 'committed' },
  {
    tag: 'up-back',
    overrides: { pause: HOLD },
    parked: (s) => s.phase === 'VERIFYING' && s.canaryPercent === 50,
    parkedIn: 'VERIFYING at 50%, aborted during the overlap',
    outcome: 'rolledBack',
  },
];

/** Starts a rotation with the previous release's own CLI, from a plan file; its id. */
function startWithOldCli(root: string, dir: string, address: string, tag: string, overrides: PlanOverrides): string {
  const file = join(dir, `${tag}.plan.yaml`);
  writeFileSync(file, JSON.stringify(planDoc(tag, overrides), null, 2));
  const run = spawnSync(process.execPath, [join(root, 'bin', 'rotor.js'), 'start', '-f', file, '--by', 'upgrade-test'], {
    env: { ...process.env, TEMPORAL_ADDRESS: address },
    encoding: 'utf8',
    timeout: 60_000,
  });
  assert.equal(run.status, 0, `the previous release's rotor start: ${run.stderr}`);
  const id = /rotate-\S+/.exec(run.stdout)?.[0];
  assert.ok(id, `an id in: ${run.stdout}`);
  return id;
}

describe('faults: upgrade under load', () => {
  it("rotations the previous release started, parked in each phase, end as this release's own when its worker takes over during a rolling update", async () => {
    const r = suite.rig();
    const old = previousRelease();
    // This release's workers ran the undisturbed runs; from now on the previous release's worker alone.
    await r.pool.terminate(0, 5000);
    await r.pool.terminate(1, 5000);
    await r.pool.start(2, old.root);

    const ids = new Map<string, string>();
    for (const s of scenarios) await r.prepare(s.tag);
    for (const s of scenarios) ids.set(s.tag, startWithOldCli(old.root, r.dir, r.server.address, s.tag, s.overrides));
    const starting = Date.now();
    for (const s of scenarios) await r.waitFor(ids.get(s.tag)!, s.parked, 180_000);
    const parkedMs = Date.now() - starting;
    const atOverlap = await Promise.all(scenarios.map(async (s) => [s, await r.client.status(ids.get(s.tag)!)] as const));
    for (const [s, status] of atOverlap)
      assert.ok(s.parked(status), `${s.tag} was still ${s.parkedIn} when this release's worker started: it is ${status.phase}`);

    // The rolling update: this release's worker polls beside the old one, and work arrives for both.
    r.proxy.rules = [
      { method: 'PATCH', path: /\/namespaces\/up-(appr|back)-prd\//, fault: { kind: 'delay', ms: 1500 } },
      { method: 'DELETE', path: /\/namespaces\/up-(appr|back)-prd\//, fault: { kind: 'delay', ms: 1500 } },
    ];
    await r.pool.start(3);
    await r.client.approve(ids.get('up-appr')!, 'upgrade-test');
    await r.prepare('up-new');
    const fresh = await r.rotate('up-new');
    await new Promise((done) => setTimeout(done, 17_000));
    // The abort just before the old worker stops: its revert (writes slowed) starts on the old release
    // and what follows runs on this one.
    await r.client.abort(ids.get('up-back')!, 'faults: abort at the canary', 'upgrade-test');
    await new Promise((done) => setTimeout(done, 3_000));
    const stopping = Date.now();
    await r.pool.terminate(2, 30_000);
    const stoppedMs = Date.now() - stopping;
    r.proxy.rules = [];

    const ended: string[] = [];
    for (const s of [...scenarios, { tag: 'up-new', outcome: 'committed' as Outcome, parkedIn: 'started during the overlap' }]) {
      const id = s.tag === 'up-new' ? fresh : ids.get(s.tag)!;
      const status = await r.settled(id);
      ended.push(`${s.tag} (${s.parkedIn}): ${status.phase}`);
      // The approval is the one phase the undisturbed run has not: the rest must be its own.
      const phases: Phase[] = status.events.map((e) => e.phase);
      if (s.tag === 'up-appr') assert.ok(phases.includes('AWAITING_APPROVAL'), `${s.tag} awaited its approval`);
      await suite.assertAsUndisturbed(s.outcome, s.tag, id, (x) => ({ ...x, events: x.events.filter((e) => e.phase !== 'AWAITING_APPROVAL') }));
      // This release's worker ran part of every rotation the old one started.
      assert.ok(
        r.pool.events.some((e) => e.workflowId === id && e.worker === 3),
        `this release's worker ran a step of ${s.tag}`,
      );
    }
    const refused = (r.pool.output(2).match(/[Nn]ondeterminism|DeterminismViolation/g) ?? []).length;
    console.log(
      `[faults] upgrade: all parked ${(parkedMs / 1000).toFixed(1)} s after their start; the old worker exited ${(stoppedMs / 1000).toFixed(1)} s after SIGTERM, having refused ${refused} task(s) as non-deterministic; ${ended.join('; ')}`,
    );

    // Each history now holds both releases' work: today's workflow code replays all of it.
    quietRuntime();
    const bundle = await workflowBundle();
    for (const id of [...ids.values(), fresh]) {
      const history = await r.client.handle(id).fetchHistory();
      await Worker.runReplayHistory({ workflowBundle: bundle }, history, `upgrade-${id}`);
    }
    // And the reverse, which keeps the old worker from continuing a rotation the new one has advanced:
    // a history with a patch marker the previous release does not know is refused by its code. One
    // without (no workflow change since that release) it replays as its own.
    const oldBundle = await bundleWorkflowCode({ workflowsPath: join(old.root, 'dist', 'workflows'), logger: quietLogger });
    const ours = await r.client.handle(suite.baselineId('committed')).fetchHistory();
    const markers = (ours.events ?? []).filter((e) => e.markerRecordedEventAttributes?.markerName === 'core_patch');
    const replay = Worker.runReplayHistory({ workflowBundle: oldBundle }, ours, 'upgrade-old-code');
    if (markers.length)
      await assert.rejects(
        replay,
        (err: unknown) => err instanceof DeterminismViolationError,
        "the previous release's code refuses a history with this release's patches",
      );
    else await replay;
  });
});
