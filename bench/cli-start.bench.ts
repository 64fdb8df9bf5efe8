// How fast the rotor CLI starts: each command as a whole process (spawned, run to its exit), beside
// `node -e 0`, Node's own start on this machine. The help of the program and of three commands (no
// SDK loads for them), then `rotor status <id>` and `rotor list` against a dev server on 127.0.0.1 (the
// Temporal client loads, connects and asks once; the id names no rotation, so status answers at once,
// without waiting for a worker). Runs go round robin, a warm-up round first, so the machine's drift
// spreads over every command alike. Goal: `rotor --help` under 300 ms median.
// Run: npm run bench:cli   (ROTOR_BENCH_RUNS=20 per row); `node dist/bench/cli-start.bench.js <checkout>`
// times another checkout's bin/rotor.js (built) with the same server, e.g. the commit before a change.
import { spawnSync } from 'node:child_process';
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { startDevServer } from '../sandbox/temporal';

const RUNS = Number(process.env.ROTOR_BENCH_RUNS ?? 20);
const checkout = resolve(process.argv[2] ?? join(__dirname, '..', '..'));
const rotorBin = join(checkout, 'bin', 'rotor.js');

function quantile(xs: number[], q: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))];
}

interface Row {
  name: string;
  args: string[];
  /** The exit code the command must end with (a failed run would time something else). */
  code: number;
  ms: number[];
}

/** Runs one command to its exit and returns how long it took, in ms; throws if it ended otherwise than expected. */
function time(row: Row, env: NodeJS.ProcessEnv): number {
  const started = performance.now();
  const r = spawnSync(process.execPath, row.args, { env, cwd: checkout, encoding: 'utf8' });
  const ms = performance.now() - started;
  if (r.status !== row.code) throw new Error(`${row.name} exited ${r.status}, not ${row.code}:\n${r.stdout}${r.stderr}`);
  return ms;
}

async function main(): Promise<void> {
  const server = await startDevServer();
  try {
    // KUBECONFIG '' and TEMPORAL_ADDRESS: nothing but the dev server is reached.
    const env = { ...process.env, TEMPORAL_ADDRESS: server.address, KUBECONFIG: '' };
    const rotor = (name: string, args: string[], code = 0): Row => ({ name: `rotor ${name}`, args: [rotorBin, ...args], code, ms: [] });
    const rows: Row[] = [
      { name: 'node -e 0', args: ['-e', '0'], code: 0, ms: [] },
      rotor('--help', ['--help']),
      rotor('status --help', ['status', '--help']),
      rotor('versions --help', ['versions', '--help']),
      rotor('plan --help', ['plan', '--help']),
      rotor('status <id> (dev server, no such rotation)', ['status', 'rotate-bench-none'], 1),
      rotor('list (dev server)', ['list']),
    ];
    for (const row of rows) time(row, env);
    for (let i = 0; i < RUNS; i++) for (const row of rows) row.ms.push(time(row, env));

    const base = quantile(rows[0].ms, 0.5);
    const ms = (x: number) => `${x.toFixed(0).padStart(5)} ms`;
    console.log(`\nthe CLI's start (${checkout}), ${RUNS} runs each, round robin after a warm-up round\n`);
    const width = Math.max(...rows.map((r) => r.name.length));
    console.log(`| ${'command'.padEnd(width)} | median   | p90      | vs node -e 0 |`);
    console.log(`| ${'-'.repeat(width)} | -------- | -------- | ------------ |`);
    for (const row of rows) {
      const median = quantile(row.ms, 0.5);
      console.log(`| ${row.name.padEnd(width)} | ${ms(median)} | ${ms(quantile(row.ms, 0.9))} | ${`${(median / base).toFixed(2)}x`.padStart(12)} |`);
    }
    const help = quantile(rows[1].ms, 0.5);
    console.log(`\nrotor --help: ${help.toFixed(0)} ms median, ${help < 300 ? 'within' : 'over'} the goal of 300 ms`);
  } finally {
    await server.stop();
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
