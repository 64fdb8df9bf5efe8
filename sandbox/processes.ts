// The sandbox's child processes (etcd, kube-apiserver, kube-controller-manager, the Temporal dev
// server, a rotor worker), each in its own process group. A terminal's Ctrl-C signals the whole
// foreground group at once: etcd would die first and kube-apiserver then hang on it for a minute.
// Detached, the children hear only this process, which stops them in reverse order of start (the
// order of dependency), and kills any still running when it exits. A program that supervises its
// children (superviseChildren) prints each one's pid as it starts and, when one dies on its own,
// says which and stops the rest: left alone, the others would serve on without it, or the program
// would exit without a word once nothing kept it alive.
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';

export interface Child {
  name: string;
  pid: number;
  proc: ChildProcess;
  /**
   * False while the code that started it waits for it to be ready (spawnChild's `awaitsReady`) and
   * reports an exit itself, perhaps to start it again on other ports; the supervisor reports it after.
   */
  up: boolean;
  /** The tail of what it wrote to a piped stdout or stderr ('' for inherited or ignored output). */
  output(): string;
}

export interface ChildOptions extends SpawnOptions {
  /** The caller waits until it is ready (waitUntilReady does, and marks it up) and reports an exit before that. */
  awaitsReady?: boolean;
}

export interface StopOptions {
  /** How long the first signal has before SIGKILL. */
  graceMs?: number;
  /** The first signal (SIGTERM unless said): PostgreSQL's fast shutdown is SIGINT (SIGTERM waits for its clients). */
  signal?: NodeJS.Signals;
  log?: (line: string) => void;
}

/** Running children in start order. */
const children: Child[] = [];
/** Children stopChild was asked to stop: their exit is expected. */
const stopping = new WeakSet<Child>();
let hooksInstalled = false;
let shutdown: Promise<void> | null = null;
/** What onShutdownSignals was given to stop the program in order; a child's death runs it too. */
let programStop: (() => Promise<void>) | null = null;
/** Set by superviseChildren: where pids and deaths are reported. */
let supervisor: ((line: string) => void) | null = null;

/** Starts `command` in its own process group and registers it, so it is stopped with the others. */
export function spawnChild(name: string, command: string, args: string[], options: ChildOptions = {}): Child {
  installExitHooks();
  const { awaitsReady, ...spawnOptions } = options;
  const proc = spawn(command, args, { ...spawnOptions, detached: true });
  if (proc.pid === undefined) throw new Error(`cannot start ${name} (${command}); check that it exists and is executable`);
  let tail = '';
  const keep = (d: Buffer) => (tail = (tail + d).slice(-8000));
  proc.stdout?.on('data', keep);
  proc.stderr?.on('data', keep);
  const child: Child = { name, pid: proc.pid, proc, up: !awaitsReady, output: () => tail };
  children.push(child);
  supervisor?.(`${name} pid ${child.pid} (process group ${child.pid})`);
  proc.once('exit', (code, signal) => {
    children.splice(children.indexOf(child), 1);
    if (supervisor && child.up && !stopping.has(child) && !shutdown) void childDied(child, code, signal, supervisor);
  });
  return child;
}

export function isRunning(child: Child): boolean {
  return child.proc.exitCode === null && child.proc.signalCode === null;
}

/**
 * The pids of the running children, by name, e.g. for a test to check they are gone.
 * @public test/sandbox-signals.test.ts requires it in a child process's script: knip cannot follow that.
 */
export function childPids(): Record<string, number> {
  return Object.fromEntries(children.map((c) => [c.name, c.pid]));
}

function signalGroup(child: Child, signal: NodeJS.Signals): void {
  try {
    process.kill(-child.pid, signal);
  } catch {
    // Already gone: nothing to stop.
  }
}

function exitOrTimeout(child: Child, ms: number): Promise<boolean> {
  if (!isRunning(child)) return Promise.resolve(true);
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), ms);
    child.proc.once('exit', () => {
      clearTimeout(timer);
      resolve(true);
    });
  });
}

/** SIGTERM (or `signal`) to the child's group, SIGKILL after the grace; resolves once it has exited. */
export async function stopChild(child: Child, options: StopOptions = {}): Promise<void> {
  if (!isRunning(child)) return;
  const graceMs = options.graceMs ?? 5000;
  stopping.add(child);
  options.log?.(`stopping ${child.name} (pid ${child.pid}) ...`);
  signalGroup(child, options.signal ?? 'SIGTERM');
  if (await exitOrTimeout(child, graceMs)) return;
  options.log?.(`${child.name} (pid ${child.pid}) did not stop within ${graceMs / 1000} s: SIGKILL`);
  signalGroup(child, 'SIGKILL');
  await exitOrTimeout(child, 2000);
}

/** Every running child, newest first, one after another: what depends on another stops before it. */
async function stopChildren(options: StopOptions = {}): Promise<void> {
  for (const child of [...children].reverse()) await stopChild(child, options);
}

/** SIGKILL to every child at once, synchronously: for a second Ctrl-C and when this process exits. */
function killChildren(): void {
  for (const child of children) signalGroup(child, 'SIGKILL');
}

/**
 * Children outlive a parent that exits without stopping them (they are detached): kill them on exit,
 * and on a signal this process leaves to its default action (then re-raised, so it still dies by it).
 * Only a SIGKILL of this process leaves them running.
 */
function installExitHooks(): void {
  if (hooksInstalled) return;
  hooksInstalled = true;
  process.on('exit', killChildren);
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    const fallback = () => {
      if (process.listenerCount(signal) > 1) return; // onShutdownSignals or the program handles it
      killChildren();
      process.removeListener(signal, fallback);
      process.kill(process.pid, signal);
    };
    process.on(signal, fallback);
  }
}

/** True once SIGINT, SIGTERM or a supervised child's death started the shutdown: errors of what it stops are expected then. */
export function isShuttingDown(): boolean {
  return shutdown !== null;
}

/** The program's own stop (onShutdownSignals), then any child still running, newest first; then exit `code`. */
function shutDown(code: number, log: (line: string) => void): void {
  shutdown = (programStop ?? (async () => undefined))()
    .catch((err: Error) => log(`stopping failed: ${err.message}; killing what is left`))
    .then(() => stopChildren({ log }))
    .finally(() => {
      log('stopped');
      process.exit(code);
    });
}

/**
 * On the first SIGINT or SIGTERM: `stop` (what the program knows how to stop in order), then any
 * child still running, newest first; exit 130 (143 on SIGTERM). A second one kills every child at
 * once and exits.
 */
export function onShutdownSignals(stop: () => Promise<void>, log: (line: string) => void): void {
  installExitHooks();
  programStop = stop;
  const handle = (signal: NodeJS.Signals) => {
    const code = signal === 'SIGINT' ? 130 : 143;
    if (shutdown) {
      log(`${signal} again: killing everything now`);
      killChildren();
      process.exit(code);
    }
    log(`${signal}: stopping in order (Ctrl-C again to kill everything at once) ...`);
    shutDown(code, log);
  };
  process.on('SIGINT', handle);
  process.on('SIGTERM', handle);
}

/**
 * From now on: each child's name and pid (its process group's too) as it starts, and a child that
 * exits on its own once up (neither stopped nor during the shutdown) stops the program: which child,
 * how it ended and its last output lines, then the same ordered stop as Ctrl-C, and exit 1.
 */
export function superviseChildren(log: (line: string) => void): void {
  installExitHooks();
  supervisor = log;
  // Only a SIGKILL of this process leaves the children running, each in its own group: say how to stop them.
  log(`pid ${process.pid}; each child runs in its own process group: should this process die by kill -9, stop a child with kill -- -<process group>`);
}

async function childDied(child: Child, code: number | null, signal: NodeJS.Signals | null, log: (line: string) => void): Promise<void> {
  // Claim the shutdown at once: a child that dies with it (the apiserver after etcd) is not the cause.
  shutdown = new Promise<never>(() => undefined);
  // 'exit' may come before the last of its output is read; 'close' once it is (or a grandchild holds the pipe).
  await new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, 1000);
    child.proc.once('close', () => {
      clearTimeout(timer);
      resolve();
    });
  });
  const lines = child.output().trimEnd().split('\n').slice(-10);
  log(
    `${child.name} (pid ${child.pid}) died: ${signal ? `killed by ${signal}` : `exit code ${code}`}` +
      (lines.join('') ? `; its last output:\n${lines.map((l) => `  | ${l}`).join('\n')}` : '; it wrote nothing (or not to a pipe)'),
  );
  log('stopping the others in order ...');
  shutDown(1, log);
}

/**
 * Poll `ready` until it says yes; fail at once if the child exits, or after `timeoutMs`, with the
 * child's last output. A probe that throws counts as not ready yet.
 */
export async function waitUntilReady(
  child: Child,
  ready: () => Promise<boolean>,
  opts: { where: string; timeoutMs: number; intervalMs: number; output?: () => string },
): Promise<void> {
  const output = opts.output ?? child.output;
  const deadline = Date.now() + opts.timeoutMs;
  for (;;) {
    if (!isRunning(child)) throw new Error(`${child.name} exited (${child.proc.exitCode ?? child.proc.signalCode}): ${output()}`);
    if (await ready().catch(() => false)) {
      child.up = true;
      return;
    }
    if (Date.now() > deadline) throw new Error(`${child.name} not ready on ${opts.where} after ${opts.timeoutMs / 1000} s: ${output()}`);
    await new Promise((r) => setTimeout(r, opts.intervalMs));
  }
}

/** A probe for waitUntilReady: the URL answers 2xx within a second. */
export function answers(url: string): () => Promise<boolean> {
  return async () => (await fetch(url, { signal: AbortSignal.timeout(1000) })).ok;
}

export interface ServerOptions {
  env?: NodeJS.ProcessEnv;
  /** Run it as this user and group (the caller being root), e.g. PostgreSQL, which refuses root. */
  user?: { uid: number; gid: number };
  /** Says yes once the server serves (e.g. `answers(url)`). */
  ready: () => Promise<boolean>;
  /** Where it serves, for the error. */
  where: string;
  timeoutMs?: number;
  intervalMs?: number;
  log?: (line: string) => void;
}

/**
 * Starts a server as a child (see spawnChild), keeping the tail of its output, and waits until it is
 * ready. If it is not, it is stopped and the error carries its last output; a server that lost its
 * port says EADDRINUSE, so withFreshPorts tries again on another.
 */
export async function startServer(name: string, command: string, args: string[], opts: ServerOptions): Promise<{ child: Child; output: () => string }> {
  const child = spawnChild(name, command, args, {
    stdio: ['ignore', 'pipe', 'pipe'],
    awaitsReady: true,
    ...(opts.env ? { env: opts.env } : {}),
    ...(opts.user ? { uid: opts.user.uid, gid: opts.user.gid } : {}),
  });
  const output = child.output;
  try {
    await waitUntilReady(child, opts.ready, {
      where: opts.where,
      timeoutMs: opts.timeoutMs ?? 60_000,
      intervalMs: opts.intervalMs ?? 200,
      output,
    });
  } catch (err) {
    await stopChild(child, { log: opts.log });
    if (/address already in use/i.test(output())) throw new Error(`${name} lost its port on ${opts.where} (EADDRINUSE): ${(err as Error).message}`);
    throw err;
  }
  return { child, output };
}

/**
 * Starts a server on ports probed free, again on new ones if it lost a port before binding it: a
 * port is free when probed, but until the server binds it the kernel may hand it to another socket
 * (an outgoing connection's local port, another test's server). Only `start`s that probe their own
 * ports are retried; a port the caller chose is the caller's to keep free.
 */
export async function withFreshPorts<T>(start: () => Promise<T>, attempts = 3): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await start();
    } catch (err) {
      if (attempt >= attempts || !/address already in use|EADDRINUSE/.test((err as Error).message)) throw err;
    }
  }
}
