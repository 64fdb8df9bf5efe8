// Running the real rotor CLI (bin/rotor.js) as a user would.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import type { MemoryWorld } from '../../activities/memory';
import type { RotationStatus } from '../../contract/api';
import type { Liveness, ObservedStatus } from '../../client/rotor-client';
import { recordText } from './leak';
import { repoRoot } from './tools';

export const rotorBin = join(repoRoot, 'bin', 'rotor.js');

/**
 * The environment of a rotor CLI and worker on the memory backend with `world`, against the Temporal
 * server at `address`: the world file in a new directory that is also the worker's value directory
 * (plans name value files relative to it).
 */
export function memoryBackendEnv(prefix: string, world: MemoryWorld, address: string): { dir: string; env: NodeJS.ProcessEnv } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  const worldFile = join(dir, 'world.json');
  writeFileSync(worldFile, JSON.stringify(world));
  return { dir, env: { TEMPORAL_ADDRESS: address, ROTOR_BACKEND: 'memory', ROTOR_MEMORY_WORLD: worldFile, ROTOR_VALUE_DIR: dir, ROTOR_OPERATOR: 'e2e' } };
}

/** The old version every world below starts with. */
export const OLD_STAMP = '20250101000000';

/**
 * A memory world where each of `secrets` has its old version and one Deployment using it through
 * envFrom (named after the secret without `-secrets`) in each of `namespaces`.
 */
export function secretsWorld(secrets: string[], namespaces: string[], metrics: Record<string, number>, replicas = 2): MemoryWorld {
  const pairs = secrets.flatMap((base) => namespaces.map((namespace) => ({ base, namespace })));
  return {
    secrets: pairs.map(({ base, namespace }) => ({
      namespace,
      name: `${base}-${OLD_STAMP}`,
      data: { api_token: 'old-token-value' },
      labels: { 'rotor.dev/secret': base },
    })),
    workloads: pairs.map(({ base, namespace }) => ({
      kind: 'Deployment' as const,
      namespace,
      name: base.replace('-secrets', ''),
      replicas,
      refs: { 'spec.template.spec.containers[0].envFrom[0].secretRef.name': `${base}-${OLD_STAMP}` },
    })),
    metrics,
  };
}

/** Writes a plan rotating `secret` (a generated api_token in the kubernetes store, unless `doc` says otherwise) to `<dir>/<secret>.yaml`. */
export function writePlan(dir: string, secret: string, doc: Record<string, unknown>): string {
  const file = join(dir, `${secret}.yaml`);
  writeFileSync(file, stringify({ secret, value: { generate: { keys: ['api_token'], length: 32 } }, store: 'kubernetes', ...doc }));
  return file;
}

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

export function rotor(args: string[], env: NodeJS.ProcessEnv, timeoutMs = 60_000): Promise<CliResult> {
  return runNode([rotorBin, ...args], env, `rotor ${args.join(' ')}`, timeoutMs);
}

/** `node <nodeArgs>` in the repository with `env` added, run to its exit; `name` says which in errors and the leak evidence. */
export function runNode(nodeArgs: string[], env: NodeJS.ProcessEnv, name: string, timeoutMs = 60_000): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const proc = spawn(process.execPath, nodeArgs, { env: { ...process.env, ...env }, cwd: repoRoot });
    let stdout = '';
    let stderr = '';
    proc.stdout.on('data', (d) => (stdout += d));
    proc.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => {
      proc.kill('SIGKILL');
      reject(new Error(`${name} timed out after ${timeoutMs} ms\nstdout: ${stdout}\nstderr: ${stderr}`));
    }, timeoutMs);
    // 'close', not 'exit': output still in the pipes when the process exits arrives after 'exit'.
    proc.on('close', (code) => {
      clearTimeout(timer);
      recordText(name, `${stdout}\n${stderr}`);
      resolve({ code: code ?? -1, stdout, stderr });
    });
  });
}

/** A long-running `rotor worker`, resolved once it says it is ready. */
export async function startWorker(env: NodeJS.ProcessEnv): Promise<{ proc: ChildProcess; output: () => string; stop: () => Promise<void> }> {
  const proc = spawn(process.execPath, [rotorBin, 'worker'], { env: { ...process.env, ...env }, cwd: repoRoot, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  proc.stdout!.on('data', (d) => (output += d));
  proc.stderr!.on('data', (d) => (output += d));
  const deadline = Date.now() + 60_000;
  while (!/worker ready/.test(output)) {
    if (proc.exitCode !== null) throw new Error(`rotor worker exited (${proc.exitCode}):\n${output}`);
    if (Date.now() > deadline) throw new Error(`rotor worker not ready after 60 s:\n${output}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    proc,
    output: () => output,
    async stop() {
      if (proc.exitCode !== null) return recordText('rotor worker', output);
      const exited = new Promise((r) => proc.once('exit', r));
      proc.kill('SIGINT');
      await Promise.race([exited, new Promise((r) => setTimeout(r, 10_000))]);
      if (proc.exitCode === null) proc.kill('SIGKILL');
      recordText('rotor worker', output);
    },
  };
}

/** `rotor status <id> --json`, parsed; fails loudly when the command does. */
export async function rotorStatus(id: string, env: NodeJS.ProcessEnv): Promise<ObservedStatus> {
  const r = await rotor(['status', id, '--json'], env);
  if (r.code !== 0) throw new Error(`rotor status ${id} exited ${r.code}: ${r.stderr}`);
  try {
    return JSON.parse(r.stdout) as ObservedStatus;
  } catch (err) {
    throw new Error(
      `rotor status ${id} --json printed ${r.stdout.length} characters that do not parse (${(err as Error).message}): ${r.stdout.slice(-200)} ${r.stderr}`,
    );
  }
}

/** Polls the status until `pred` holds; the error names the phase and last events it ended in. */
export function waitForStatus(id: string, env: NodeJS.ProcessEnv, pred: (s: RotationStatus) => boolean, timeoutMs = 120_000): Promise<RotationStatus> {
  return pollStatus(id, () => rotorStatus(id, env), pred, timeoutMs, 300);
}

/** The same, reading the status some other way (e.g. in-process with RotorClient). */
export function pollStatus(
  id: string,
  read: () => Promise<RotationStatus>,
  pred: (s: RotationStatus) => boolean,
  timeoutMs: number,
  intervalMs: number,
): Promise<RotationStatus> {
  // A status recorded while no worker answered (NOT LIVE) has no checks and one event: wait for the workflow's own.
  const live = (s: RotationStatus) => (s as Partial<Liveness>).live !== false;
  return pollUntil(read, (s) => live(s) && pred(s), {
    timeoutMs,
    intervalMs,
    describe: (s) =>
      `${id}: timed out in ${s.phase}${live(s) ? '' : ' (not live: no worker answered)'}: ${s.events
        .slice(-3)
        .map((e) => e.message)
        .join(' | ')}`,
  });
}

/** Probes until `ok` holds; after timeoutMs the error says what the last probe saw. */
export async function pollUntil<T>(
  probe: () => Promise<T>,
  ok: (v: T) => boolean,
  opts: { timeoutMs: number; intervalMs: number; describe: (last: T) => string },
): Promise<T> {
  const deadline = Date.now() + opts.timeoutMs;
  for (;;) {
    const v = await probe();
    if (ok(v)) return v;
    if (Date.now() > deadline) throw new Error(opts.describe(v));
    await new Promise((r) => setTimeout(r, opts.intervalMs));
  }
}
