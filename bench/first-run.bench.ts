// A newcomer's first run, timed: README's "Try it without a cluster", step by step, on a fresh clone
// of this repository (git clone of the working copy's HEAD into a temporary directory):
//   npm ci; npm run dev-server; ROTOR_BACKEND=memory ... rotor worker; rotor start -f examples/plan.yaml
// and then the rotation as the Temporal Web UI shows it: its list answers with the workflow (the UI
// server's own HTTP API, the one its pages call). It prints a table of each step's time from the start.
// With ROTOR_BENCH_COLD=1 the rotor cache (the Temporal CLI) and npm's cache start empty, as on a new
// machine; otherwise they are this machine's. Ports: TEMPORAL_PORT/TEMPORAL_UI_PORT as the bench picks.
// Run: npm run bench:first-run
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../sandbox/control-plane';

const repo = join(__dirname, '..', '..');
const cold = process.env.ROTOR_BENCH_COLD === '1';
const work = mkdtempSync(join(tmpdir(), 'rotor-first-run-'));
const clone = join(work, 'rotor');
const rows: [string, number][] = [];
const started = Date.now();
const children: ChildProcess[] = [];

function mark(step: string): void {
  rows.push([step, Date.now() - started]);
  process.stderr.write(`[first-run] ${step}: ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
}

async function until<T>(what: string, probe: () => Promise<T | null>, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const got = await probe().catch(() => null);
    if (got !== null) return got;
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs / 1000} s`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

async function main(): Promise<void> {
  const env: NodeJS.ProcessEnv = { ...process.env, KUBECONFIG: '' };
  if (cold) Object.assign(env, { ROTOR_CACHE: join(work, 'cache'), npm_config_cache: join(work, 'npm-cache') });
  const [port, uiPort] = [await freePort(), await freePort()];
  Object.assign(env, {
    TEMPORAL_PORT: String(port),
    TEMPORAL_UI_PORT: String(uiPort),
    TEMPORAL_ADDRESS: `127.0.0.1:${port}`,
    TEMPORAL_DB: join(work, 'dev.db'),
  });
  execFileSync('git', ['clone', '-q', repo, clone]);
  mark('git clone');
  execFileSync('npm', ['ci', '--no-audit', '--no-fund'], { cwd: clone, env, stdio: 'ignore' });
  mark('npm ci (installs and builds the CLI)');
  const server = spawn('npm', ['run', '--silent', 'dev-server'], { cwd: clone, env, stdio: ['ignore', 'ignore', 'pipe'], detached: true });
  children.push(server);
  let serverLog = '';
  server.stderr!.on('data', (d: Buffer) => (serverLog += d.toString()));
  await until('the dev server', async () => (serverLog.includes('Web UI http://localhost') ? true : null), 300_000);
  mark('npm run dev-server (Temporal and its Web UI up)');
  const worker = spawn('npx', ['rotor', 'worker'], {
    cwd: clone,
    env: { ...env, ROTOR_BACKEND: 'memory', ROTOR_MEMORY_WORLD: 'examples/world.json' },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  children.push(worker);
  let workerLog = '';
  worker.stdout!.on('data', (d: Buffer) => (workerLog += d.toString()));
  worker.stderr!.on('data', (d: Buffer) => (workerLog += d.toString()));
  await until('the worker', async () => (workerLog.includes('worker ready') ? true : null), 120_000);
  mark('rotor worker (memory backend) ready');
  const said = execFileSync('npx', ['rotor', 'start', '-f', 'examples/plan.yaml'], { cwd: clone, env, encoding: 'utf8' });
  const id = /^started (\S+)/m.exec(said)?.[1];
  if (!id) throw new Error(`rotor start said no id: ${said}`);
  mark('rotor start');
  const listed = `http://127.0.0.1:${uiPort}/api/v1/namespaces/default/workflows?query=${encodeURIComponent(`WorkflowId="${id}"`)}`;
  await until(
    'the rotation in the Web UI',
    async () => {
      const body = (await (await fetch(listed)).json()) as { executions?: { execution?: { workflowId?: string } }[] };
      return body.executions?.some((e) => e.execution?.workflowId === id) ? true : null;
    },
    60_000,
  );
  mark(`the rotation in the Web UI's list (${id})`);
  await until(
    'the rotation at its approval',
    async () => (/APPROV/.test(execFileSync('npx', ['rotor', 'status', id], { cwd: clone, env, encoding: 'utf8' })) ? true : null),
    120_000,
  );
  mark('the rotation waits for approval (staging done)');
}

function stop(): void {
  for (const child of children.reverse()) {
    try {
      process.kill(-child.pid!, 'SIGINT');
    } catch {
      /* gone */
    }
  }
}

main()
  .then(() => {
    console.log(`\nFirst run from a fresh clone (${cold ? 'empty rotor and npm caches' : "this machine's rotor and npm caches"}), seconds from the start:\n`);
    console.log('| step | at |');
    console.log('|---|---|');
    for (const [step, ms] of rows) console.log(`| ${step} | ${(ms / 1000).toFixed(1)} s |`);
  })
  .catch((err) => {
    console.error(`[first-run] failed: ${err instanceof Error ? err.message : String(err)}`);
    process.exitCode = 1;
  })
  .finally(async () => {
    stop();
    await new Promise((r) => setTimeout(r, 3000));
    rmSync(work, { recursive: true, force: true });
  });
