// How long a rotation's step takes to run again after the worker running it is SIGKILLed, per kind of
// step, on real parts (sandbox/fault-rig.ts: the real apiserver behind a proxy that slows every request
// so the kill lands inside the step, a real dev server, real worker processes):
// - two workers: the killed one stays down until the step runs again, so the other one takes it;
//   the time is from the kill to the next attempt starting;
// - one worker, started again at once: from the kill, and from the restarted worker polling, to the
//   next attempt starting on it.
// Each row is the median (and the slowest) of ROTOR_BENCH_RUNS rotations (default 3): one that commits
// (every step on its way) and one rolled back from the canary (the revert).
// Run: npm run bench:recovery
import { FaultRig, type Recovery } from '../sandbox/fault-rig';

const RUNS = Number(process.env.ROTOR_BENCH_RUNS ?? 3);
const COMMIT_STEPS = ['discover', 'createVersion', 'switchWorkloads', 'waitForRollout', 'completeCanary', 'finalizeVersion', 'scanReferences', 'deleteVersion'];
const ROLLBACK_STEPS = ['revertWorkloads'];

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

/** One rotation of each kind, killing its worker in each step, with workers restarted as `restart` says. */
async function measure(rig: FaultRig, label: string, run: number, restart: 'after-retry' | 'at-once'): Promise<Recovery[]> {
  const commit = `${label}-c${run}`;
  await rig.prepare(commit);
  rig.slowRequests();
  const id = rig.rotationId(commit);
  const kills = rig.armKills(id, COMMIT_STEPS);
  await rig.rotate(commit);
  const out = await kills.run(restart);
  await rig.settled(id);
  rig.proxy.rules = [];
  const back = `${label}-r${run}`;
  await rig.prepare(back);
  const rid = await rig.rotate(back);
  const reverts = rig.armKills(rid, ROLLBACK_STEPS);
  await rig.abortAtCanary(rid, () => rig.slowRequests());
  out.push(...(await reverts.run(restart)));
  await rig.settled(rid);
  rig.proxy.rules = [];
  return out;
}

async function main(): Promise<void> {
  const results: Record<string, { two: Recovery[]; one: Recovery[] }> = {};
  for (const [workers, restart, key] of [
    [2, 'after-retry', 'two'],
    [1, 'at-once', 'one'],
  ] as const) {
    const rig = await FaultRig.start({ workers });
    try {
      for (let run = 1; run <= RUNS; run++) {
        for (const r of await measure(rig, key, run, restart)) {
          results[r.step] ??= { two: [], one: [] };
          results[r.step][key].push(r);
          process.stderr.write(`[recovery] ${key} worker(s), run ${run}: ${r.step} ${seconds(r.ms)}\n`);
        }
      }
    } finally {
      await rig.stop();
    }
  }
  const rows = [...COMMIT_STEPS, ...ROLLBACK_STEPS].map((step) => {
    const { two, one } = results[step];
    const restarted = one.map((r) => r.sinceRestartMs ?? NaN);
    return `| ${step} | ${seconds(median(two.map((r) => r.ms)))} (max ${seconds(Math.max(...two.map((r) => r.ms)))}) | ${seconds(median(one.map((r) => r.ms)))} | ${seconds(median(restarted))} (max ${seconds(Math.max(...restarted))}) |`;
  });
  console.log(`SIGKILL of the worker inside a step → the step running again (median of ${RUNS} runs, this machine)\n`);
  console.log('| step | two workers: from the kill | one worker restarted at once: from the kill | from its restart |');
  console.log('| --- | --- | --- | --- |');
  for (const row of rows) console.log(row);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
