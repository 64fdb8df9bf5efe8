// Ctrl-C as a terminal sends it: SIGINT to the whole process group. The sandbox's children are in
// their own groups, so only rotor's process hears it and stops them in order (etcd last); a second
// Ctrl-C kills them at once; a parent that dies any other way but SIGKILL takes them along. A
// supervising parent prints each child's pid, and a child's own death stops the rest (exit 1).
// The shared code is tested with stand-in children (fast, no control plane); `npm run dev-server`
// with the real Temporal server killed under it; `npm run sandbox -- --stores` with the real etcd,
// kube-apiserver, kube-controller-manager, moto and External Secrets Operator. The demo's --keep
// (worker, dev server) uses the same code and is not started here: it would add a minute of CPU for
// no other path.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer, type AddressInfo } from 'node:net';
import { once } from 'node:events';
import { describe, it, type TestContext } from 'node:test';
import { repoRoot } from './helpers/tools';
import { freePort } from './helpers/dev-server';

const PROCESSES = join(repoRoot, 'dist', 'sandbox', 'processes.js');

interface Run {
  proc: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** A program in its own process group, like a command started from a terminal. */
function startInOwnGroup(args: string[], env: NodeJS.ProcessEnv = process.env): Run {
  const proc = spawn(process.execPath, args, { cwd: repoRoot, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  proc.stdout!.on('data', (d) => (stdout += d));
  proc.stderr!.on('data', (d) => (stderr += d));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    proc.once('exit', (code, signal) => resolve({ code, signal })),
  );
  return { proc, stdout: () => stdout, stderr: () => stderr, exited };
}

async function waitForOutput(run: Run, pattern: RegExp, timeoutMs: number, stream = run.stdout): Promise<RegExpMatchArray> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const match = pattern.exec(stream());
    if (match) return match;
    if (run.proc.exitCode !== null || run.proc.signalCode !== null) assert.fail(`exited before ${pattern}:\n${run.stdout()}\n${run.stderr()}`);
    if (Date.now() > deadline) assert.fail(`no ${pattern} after ${timeoutMs / 1000} s:\n${run.stdout()}\n${run.stderr()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** The terminal's Ctrl-C: SIGINT to every process in the foreground group. */
function ctrlC(run: Run): void {
  process.kill(-run.proc.pid!, 'SIGINT');
}

async function exitsWithin(run: Run, ms: number, after = 'Ctrl-C'): Promise<{ code: number | null; signal: NodeJS.Signals | null; seconds: number }> {
  const t0 = Date.now();
  const timeout = new Promise<null>((r) => setTimeout(() => r(null), ms).unref());
  const exit = await Promise.race([run.exited, timeout]);
  if (!exit) {
    process.kill(-run.proc.pid!, 'SIGKILL');
    assert.fail(`still running ${ms / 1000} s after ${after}:\n${run.stderr()}`);
  }
  return { ...exit, seconds: (Date.now() - t0) / 1000 };
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Every pid gone; an orphan may take a moment to be reaped by init. */
async function assertGone(pids: Record<string, number>): Promise<void> {
  const deadline = Date.now() + 5000;
  while (Object.values(pids).some(isAlive) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  const left = Object.entries(pids).filter(([, pid]) => isAlive(pid));
  for (const [, pid] of left) process.kill(pid, 'SIGKILL');
  assert.deepEqual(left, [], 'no child process is left running');
}

/** After a failed assertion too: children live in their own groups, so killing the parent's leaves them. */
function killLeft(pids: number[]): void {
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // Gone, as it should be.
    }
  }
}

/** Lines `stopping <name> (pid N)` in the order printed. */
function stopOrder(stderr: string): string[] {
  return [...stderr.matchAll(/stopping (.+?) \(pid \d+\)/g)].map((m) => m[1]);
}

/** What a supervising parent printed: its own pid, and `<name> pid N (process group G)` per child as it started. */
function printedPids(stderr: string, prefix: string): { parent: number | undefined; children: Record<string, number> } {
  const parent = new RegExp(`^\\[${prefix}\\] pid (\\d+); .* kill -- -<process group>`, 'm').exec(stderr)?.[1];
  const children: Record<string, number> = {};
  for (const [, name, pid, group] of stderr.matchAll(new RegExp(`^\\[${prefix}\\] (.+) pid (\\d+) \\(process group (\\d+)\\)$`, 'gm'))) {
    assert.equal(group, pid, `${name} leads its own process group`);
    children[name] = Number(pid);
  }
  return { parent: parent === undefined ? undefined : Number(parent), children };
}

/** The process group a running process is in (field 5 of /proc/<pid>/stat, after the parenthesised name). */
function processGroup(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[2]);
}

/**
 * A parent with three stand-in children (named like the control plane's, started in its order) and
 * one that ignores SIGTERM. A child that hears the terminal's SIGINT says so. A supervising parent
 * reads its children's output through pipes (as the sandbox does) and passes it on.
 */
function standInParent(opts: { handleSignals: boolean; stubborn: boolean; supervise?: boolean }): Run {
  const child = (name: string, ignoreTerm: boolean) =>
    `spawnChild(${JSON.stringify(name)}, process.execPath, ['-e', ${JSON.stringify(
      `process.on('SIGINT', () => console.error('${name} heard SIGINT'));` +
        (ignoreTerm ? `process.on('SIGTERM', () => undefined);` : `process.on('SIGTERM', () => setTimeout(() => process.exit(0), 100));`) +
        'setInterval(() => undefined, 1000);' +
        `console.error('${name} up');`,
    )}], { stdio: ['ignore', ${opts.supervise ? `'pipe', 'pipe'` : `'inherit', 'inherit'`}] })` +
    (opts.supervise ? `.proc.stderr.on('data', (d) => process.stderr.write(d));` : ';');
  const script = [
    `const { spawnChild, childPids, onShutdownSignals, superviseChildren } = require(${JSON.stringify(PROCESSES)});`,
    `const log = (l) => process.stderr.write('[parent] ' + l + '\\n');`,
    opts.supervise ? 'superviseChildren(log);' : '',
    child('etcd', false),
    child('kube-apiserver', false),
    child('kube-controller-manager', opts.stubborn),
    opts.handleSignals ? `onShutdownSignals(async () => log('stopping what the program knows'), log);` : '',
    `setTimeout(() => console.log('ready ' + JSON.stringify(childPids())), 300);`,
    'setInterval(() => undefined, 1000);',
  ].join('\n');
  return startInOwnGroup(['-e', script]);
}

/** The stand-in's child pids, once every child has its signal handlers in place (a slow machine may take a while). */
async function standInReady(run: Run): Promise<Record<string, number>> {
  const pids = JSON.parse((await waitForOutput(run, /^ready (.*)$/m, 20_000))[1]) as Record<string, number>;
  const deadline = Date.now() + 20_000;
  while (!Object.keys(pids).every((name) => new RegExp(`^${name} up$`, 'm').test(run.stderr()))) {
    if (Date.now() > deadline) assert.fail(`the stand-in children did not all start:\n${run.stderr()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  return pids;
}

describe('shutdown on Ctrl-C (sandbox/processes.ts, stand-in children)', () => {
  it('stops the children newest first, SIGKILLs one that ignores SIGTERM after the grace, and exits 130', async () => {
    const run = standInParent({ handleSignals: true, stubborn: true });
    const pids = await standInReady(run);
    assert.equal(Object.keys(pids).length, 3);
    ctrlC(run);
    const exit = await exitsWithin(run, 30_000);
    assert.equal(exit.code, 130, run.stderr());
    assert.deepEqual(stopOrder(run.stderr()), ['kube-controller-manager', 'kube-apiserver', 'etcd']);
    assert.match(run.stderr(), /kube-controller-manager \(pid \d+\) did not stop within 5 s: SIGKILL/);
    assert.ok(!/heard SIGINT/.test(run.stderr()), `a child heard the terminal's SIGINT:\n${run.stderr()}`);
    await assertGone(pids);
  });

  it('a second Ctrl-C kills every child at once', async () => {
    const run = standInParent({ handleSignals: true, stubborn: true });
    const pids = await standInReady(run);
    ctrlC(run);
    for (let i = 0; i < 50 && !/stopping kube-controller-manager/.test(run.stderr()); i++) await new Promise((r) => setTimeout(r, 100));
    ctrlC(run);
    const exit = await exitsWithin(run, 30_000);
    assert.equal(exit.code, 130);
    assert.match(run.stderr(), /SIGINT again: killing everything now/);
    assert.ok(exit.seconds < 4, `exited ${exit.seconds} s after the second Ctrl-C, not waiting out the 5 s grace`);
    await assertGone(pids);
  });

  it('a parent that does not handle the signal still dies by it and takes its children along', async () => {
    const run = standInParent({ handleSignals: false, stubborn: true });
    const pids = await standInReady(run);
    ctrlC(run);
    const exit = await exitsWithin(run, 30_000);
    assert.equal(exit.signal, 'SIGINT');
    await assertGone(pids);
  });
});

describe('a child that dies on its own (sandbox/processes.ts, superviseChildren, stand-in children)', () => {
  it('prints every pid as it starts; says which child died, how and its last output, stops the others newest first and exits 1', async (t) => {
    const run = standInParent({ handleSignals: true, stubborn: false, supervise: true });
    const pids = await standInReady(run);
    t.after(() => killLeft(Object.values(pids)));
    const printed = printedPids(run.stderr(), 'parent');
    assert.equal(printed.parent, run.proc.pid, 'the parent printed its own pid');
    assert.deepEqual(printed.children, pids, 'each child printed with its pid as it started');
    for (const [name, pid] of Object.entries(pids)) assert.equal(processGroup(pid), pid, `${name} runs in its own process group`);

    process.kill(pids['kube-apiserver'], 'SIGKILL');
    const exit = await exitsWithin(run, 10_000, 'kube-apiserver died');
    assert.equal(exit.code, 1, run.stderr());
    assert.ok(exit.seconds < 5, `exited ${exit.seconds} s after the death`);
    assert.match(
      run.stderr(),
      new RegExp(`kube-apiserver \\(pid ${pids['kube-apiserver']}\\) died: killed by SIGKILL; its last output:\\n  \\| kube-apiserver up\\n`),
    );
    assert.match(run.stderr(), /stopping what the program knows/, "the program's own stop ran, as on Ctrl-C");
    assert.deepEqual(stopOrder(run.stderr()), ['kube-controller-manager', 'etcd']);
    await assertGone(pids);
  });
});

describe('npm run dev-server (sandbox/dev-server.ts, the real Temporal dev server)', () => {
  /** The entry point on free ports with its state in a fresh directory; resolves once the server is up, with the printed pids. */
  async function startDevServerEntry(t: TestContext): Promise<{ run: Run; server: number }> {
    const dir = mkdtempSync(join(tmpdir(), 'rotor-dev-server-test-'));
    const env = { ...process.env, TEMPORAL_PORT: String(await freePort()), TEMPORAL_UI_PORT: String(await freePort()), TEMPORAL_DB: join(dir, 'temporal.db') };
    const run = startInOwnGroup([join('dist', 'sandbox', 'dev-server.js')], env);
    run.exited.then(() => rmSync(dir, { recursive: true, force: true }));
    await waitForOutput(run, /^\[dev-server\] Temporal on 127\.0\.0\.1:\d+; Web UI/m, 90_000, run.stderr);
    const printed = printedPids(run.stderr(), 'dev-server');
    assert.equal(printed.parent, run.proc.pid, 'the wrapper printed its own pid');
    const server = printed.children['temporal dev server'];
    assert.ok(server !== undefined, `the server's pid is printed:\n${run.stderr()}`);
    t.after(() => killLeft([server]));
    assert.ok(isAlive(server), `temporal dev server (pid ${server}) runs`);
    assert.equal(processGroup(server), server, 'the server runs in its own process group');
    return { run, server };
  }

  it('exits 1 within seconds when the server is killed, naming it and how it died', async (t) => {
    const { run, server } = await startDevServerEntry(t);
    process.kill(server, 'SIGKILL');
    const exit = await exitsWithin(run, 10_000, 'the server was killed');
    assert.equal(exit.code, 1, run.stderr());
    assert.ok(exit.seconds < 5, `exited ${exit.seconds} s after the server died`);
    assert.match(
      run.stderr(),
      new RegExp(`^\\[dev-server\\] temporal dev server \\(pid ${server}\\) died: killed by SIGKILL; its last output:\\n  \\| Temporal CLI`, 'm'),
    );
  });

  it('Ctrl-C stops the server and leaves none of the printed pids running', async (t) => {
    const { run, server } = await startDevServerEntry(t);
    ctrlC(run);
    const exit = await exitsWithin(run, 30_000);
    assert.equal(exit.code, 130, run.stderr());
    assert.deepEqual(stopOrder(run.stderr()), ['temporal dev server']);
    assert.ok(!/died/.test(run.stderr()), `a stopped server is not reported as died:\n${run.stderr()}`);
    await assertGone({ 'temporal dev server': server, wrapper: run.proc.pid! });
  });
});

describe('startServer (sandbox/processes.ts)', () => {
  it('stops a server that lost its port and says EADDRINUSE, so withFreshPorts tries another; a supervisor leaves that to them', async () => {
    const taken = createServer().listen(0, '127.0.0.1');
    await once(taken, 'listening');
    const port = (taken.address() as AddressInfo).port;
    try {
      // In a supervising parent: a server that exits before it is ready is its starter's to report, not a death that stops the parent.
      const script = [
        `const { startServer, superviseChildren, withFreshPorts } = require(${JSON.stringify(PROCESSES)});`,
        `superviseChildren((l) => process.stderr.write('[parent] ' + l + '\\n'));`,
        'let attempts = 0;',
        'withFreshPorts(() => {',
        '  attempts += 1;',
        `  return startServer('http.server', 'python3', ['-m', 'http.server', '--bind', '127.0.0.1', '${port}'], { ready: async () => false, where: '127.0.0.1:${port}', timeoutMs: 10000 });`,
        '}, 2)',
        `  .catch((err) => console.log('rejected after ' + attempts + ' attempts: ' + err.message.split('\\n')[0]))`,
        `  .finally(() => setTimeout(() => console.log('still here'), 1000));`,
      ].join('\n');
      const run = startInOwnGroup(['-e', script]);
      await waitForOutput(run, /^still here$/m, 30_000);
      assert.match(
        run.stdout(),
        new RegExp(`^rejected after 2 attempts: http\\.server lost its port on 127\\.0\\.0\\.1:${port} \\(EADDRINUSE\\): http\\.server exited \\(1\\)`, 'm'),
      );
      assert.match(run.stderr(), /^\[parent\] http\.server pid \d+ \(process group \d+\)$/m, 'the server printed its pid');
      assert.ok(!/died/.test(run.stderr()), `the supervisor reported an exit its starter handles:\n${run.stderr()}`);
      assert.equal((await exitsWithin(run, 10_000, 'printing "still here"')).code, 0, run.stderr());
    } finally {
      taken.close();
    }
  });
});

describe('npm run sandbox -- --stores on Ctrl-C (real control plane, moto, External Secrets Operator)', () => {
  it('prints its child pids, then stops the operator, moto, simulator, controller-manager, apiserver and etcd in order, leaving nothing running', async () => {
    assert.ok(existsSync(join(repoRoot, 'dist', 'sandbox', 'main.js')), 'compile first: npx tsc -p tsconfig.json');
    const run = startInOwnGroup([join('dist', 'sandbox', 'main.js'), '--stores']);
    const [, listed] = await waitForOutput(run, /^pids: (.*) \(rotor \d+\)$/m, 180_000);
    const pids = Object.fromEntries(
      listed
        .split(' ')
        .map((kv) => kv.split('='))
        .map(([k, v]) => [k, Number(v)]),
    );
    assert.deepEqual(Object.keys(pids).sort(), ['etcd', 'external-secrets', 'kube-apiserver', 'kube-controller-manager', 'moto', 'prometheus']);
    for (const [name, pid] of Object.entries(pids)) assert.ok(isAlive(pid), `${name} (pid ${pid}) runs before Ctrl-C`);
    const dir = /^logs: (.*)\/logs;/m.exec(run.stdout())![1];
    // The worker's env file names the stores and the AWS endpoint the sandbox runs.
    const env = readFileSync(join(dir, 'worker.env'), 'utf8');
    assert.match(env, /^ROTOR_STORES=kubernetes,aws-secrets-manager,external-secrets$/m);
    assert.match(env, /^ROTOR_AWS_ENDPOINT=http:\/\/127\.0\.0\.1:\d+$/m);
    assert.match(
      run.stdout(),
      /^stores: AWS Secrets Manager \(moto\) .* External Secrets Operator v0\.16\.2 \(pid \d+\) with ClusterSecretStore aws reading it$/m,
    );

    ctrlC(run);
    const exit = await exitsWithin(run, 30_000);
    assert.equal(exit.code, 130, run.stderr());
    assert.match(run.stderr(), /stopping the pod simulator/);
    // The traffic model's Prometheus started before the control plane, so it stops after it.
    assert.deepEqual(stopOrder(run.stderr()), ['external-secrets', 'moto', 'kube-controller-manager', 'kube-apiserver', 'etcd', 'prometheus']);
    assert.ok(run.stderr().indexOf('stopping the pod simulator') < run.stderr().indexOf('stopping kube-controller-manager'));
    await assertGone(pids);
    assert.ok(!existsSync(dir), `${dir} (certificates, etcd data) is removed`);
  });
});
