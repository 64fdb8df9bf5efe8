// History size and wall time of a full, time-skipped rotation (24h soak, 24h watch, 14d retention,
// 1m analysis interval), next to a naive workflow that loops a timer and a measurement a minute.
// Run: npm run bench            (ROTOR_BENCH_RUNS=5 by default; ROTOR_BENCH_NAIVE_MINUTES=2880)
import { performance } from 'node:perf_hooks';
import { Worker, bundleWorkflowCode } from '@temporalio/worker';
import { rotateSecret } from '../workflows';
import { Doubles } from '../test/helpers/doubles';
import { quietLogger, timeSkippingEnv, workflowBundle } from '../test/helpers/env';
import { twoStagePlan } from '../test/helpers/plans';

const RUNS = Number(process.env.ROTOR_BENCH_RUNS ?? 5);
const NAIVE_MINUTES = Number(process.env.ROTOR_BENCH_NAIVE_MINUTES ?? 2 * 24 * 60);

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

async function main(): Promise<void> {
  const env = await timeSkippingEnv();
  const rows: string[][] = [];
  try {
    const scenarios: [string, Record<string, any>][] = [
      ['rolling + rolling', twoStagePlan({ production: { strategy: 'rolling' } })],
      ['rolling + canary 10/25/50/100, approval', twoStagePlan({ production: { approval: 'required' } })],
    ];
    let seq = 0;
    for (const [name, plan] of scenarios) {
      const events: number[] = [];
      const wall: number[] = [];
      for (let run = 0; run < RUNS; run++) {
        const doubles = new Doubles();
        const taskQueue = `bench-${++seq}`;
        const worker = await Worker.create({ connection: env.nativeConnection, taskQueue, workflowBundle: await workflowBundle(), activities: doubles.activities() });
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
    rows.push([`naive loop, timer + measurement a minute (${NAIVE_MINUTES} min of soak+watch only)`, '1', String(naiveEvents), String(naiveEvents), `${((performance.now() - t0) / 1000).toFixed(2)} s`]);
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
