// History size and wall time of a full, time-skipped rotation (24h soak, 24h watch, 14d retention,
// 1m analysis interval), next to a naive workflow that loops a timer and a measurement a minute.
// Run: npm run bench            (ROTOR_BENCH_RUNS=5 by default; ROTOR_BENCH_NAIVE_MINUTES=2880)
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { Worker, bundleWorkflowCode } from '@temporalio/worker';
import { createActivities } from '../activities';
import { MemoryCluster, MemoryMetrics, loadMemoryWorld } from '../activities/memory';
import { KubernetesSecretStore } from '../activities/store-kubernetes';
import type { RotorActivities } from '../contract/activities';
import { loadPlanFile } from '../client/plan-file';
import { rotateSecret } from '../workflows';
import { quietLogger, timeSkippingEnv, workflowBundle } from '../sandbox/time-skipping';
import { repoRoot } from '../sandbox/tools';

const RUNS = Number(process.env.ROTOR_BENCH_RUNS ?? 5);
const NAIVE_MINUTES = Number(process.env.ROTOR_BENCH_NAIVE_MINUTES ?? 2 * 24 * 60);

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

type Plan = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any -- a plan document as YAML gives it

/** examples/plan.yaml with production durations: 24h soak, 24h watch, 14d retention, a 1m interval. */
function productionSized(production: Plan): Plan {
  const plan = structuredClone(loadPlanFile(join(repoRoot, 'examples', 'plan.yaml')).document) as Plan;
  const [staging, prod] = plan.stages;
  Object.assign(staging, { soak: '24h' });
  Object.assign(staging.analysis, { interval: '1m', verify: '4m' });
  Object.assign(prod, { watch: '24h', strategy: { canary: { steps: [10, 25, 50, 100], pause: '10m' } }, ...production });
  Object.assign(prod.analysis, { interval: '1m' }); // a canary stage is judged over its pauses, not a verify window
  return { ...plan, retention: '14d', cleanupRecheck: '1h' };
}

/**
 * rotor's activities over the example's memory world (what `rotor worker` runs with ROTOR_BACKEND=memory).
 * Only the measuring is replaced: the real one paces on the wall clock, and a 24h soak would take 24h;
 * it is one activity either way, so the history is the same.
 */
function activities(): RotorActivities {
  const world = loadMemoryWorld(join(repoRoot, 'examples', 'world.json'));
  world.workloads = world.workloads.filter((w) => w.kind !== 'CronJob'); // nothing keeps the old version: cleanup ends
  const real = createActivities({
    cluster: new MemoryCluster(world),
    stores: { kubernetes: new KubernetesSecretStore() },
    metrics: new MemoryMetrics(world).providers(),
  });
  return {
    ...real,
    monitorAnalysis: async (input) => ({
      stage: input.stage,
      check: input.check,
      verdict: 'passed',
      reason: 'bench: passed without measuring',
      measurements: 0,
      lastValue: null,
      threshold: input.analysis.threshold,
      recent: [],
      startedAt: new Date().toISOString(),
      endedAt: new Date().toISOString(),
    }),
  };
}

async function main(): Promise<void> {
  const env = await timeSkippingEnv();
  const rows: string[][] = [];
  try {
    const scenarios: [string, Plan][] = [
      ['rolling + rolling', productionSized({ strategy: 'rolling', approval: 'none' })],
      ['rolling + canary 10/25/50/100, approval', productionSized({})],
    ];
    let seq = 0;
    for (const [name, plan] of scenarios) {
      const events: number[] = [];
      const wall: number[] = [];
      for (let run = 0; run < RUNS; run++) {
        const taskQueue = `bench-${++seq}`;
        const worker = await Worker.create({ connection: env.nativeConnection, taskQueue, workflowBundle: await workflowBundle(), activities: activities() });
        const t0 = performance.now();
        await worker.runUntil(async () => {
          const handle = await env.client.workflow.start(rotateSecret, { taskQueue, workflowId: `bench-${seq}`, args: [{ plan, requestedBy: 'bench' }] });
          if (plan.stages[1].approval === 'required') {
            for (;;) {
              const s = await handle.query('status');
              if ((s as { phase: string }).phase === 'AWAITING_APPROVAL') break;
              await env.sleep('1h');
            }
            await handle.signal('approve', { by: 'bench' });
          }
          const result = await handle.result();
          if (result.phase !== 'COMPLETED') throw new Error(`${name}: ended ${result.phase}`);
          events.push((await handle.fetchHistory()).events?.length ?? 0);
        });
        wall.push(performance.now() - t0);
      }
      rows.push([name, String(RUNS), String(median(events)), String(Math.max(...events)), `${(median(wall) / 1000).toFixed(2)} s`]);
    }

    const bundle = await bundleWorkflowCode({ workflowsPath: require.resolve('./naive-workflow'), logger: quietLogger });
    const worker = await Worker.create({
      connection: env.nativeConnection,
      taskQueue: 'bench-naive',
      workflowBundle: bundle,
      activities: { measureOnce: async () => 0.001 },
    });
    const t0 = performance.now();
    const naiveEvents = await worker.runUntil(async () => {
      const handle = await env.client.workflow.start('naiveSoakLoop', { taskQueue: 'bench-naive', workflowId: 'bench-naive', args: [NAIVE_MINUTES] });
      await handle.result();
      return (await handle.fetchHistory()).events?.length ?? 0;
    });
    rows.push([
      `naive loop, timer + measurement a minute (${NAIVE_MINUTES} min of soak+watch only)`,
      '1',
      String(naiveEvents),
      String(naiveEvents),
      `${((performance.now() - t0) / 1000).toFixed(2)} s`,
    ]);
  } finally {
    await env.teardown();
  }

  const header = ['workflow (24h soak, 24h watch, 14d retention, 1m interval)', 'runs', 'history events (median)', 'max', 'wall time (median)'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i])).join(' | ')} |`;
  console.log(line(header));
  console.log(`|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`);
  for (const r of rows) console.log(line(r));
  console.log(`\nbound per run: 300 events. time-skipping server ${process.env.ROTOR_CACHE ?? '~/.cache/rotor'}; ${RUNS} run(s) per rotor scenario.`);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
