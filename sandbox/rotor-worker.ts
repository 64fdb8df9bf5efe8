// A real `rotor worker` process for the demo and the benchmarks, stopped with the sandbox's other
// children; resolved once it says it is ready, rejected with its output if it exits first.
import { join } from 'node:path';
import { spawnChild, stopChild, type Child } from './processes';
import { repoRoot } from './tools';

export interface RotorWorker {
  child: Child;
  output(): string;
  stop(): Promise<void>;
}

export async function startRotorWorker(env: NodeJS.ProcessEnv, log?: (line: string) => void): Promise<RotorWorker> {
  const child = spawnChild('rotor worker', process.execPath, [join(repoRoot, 'bin', 'rotor.js'), 'worker'], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'ignore', 'pipe'],
    awaitsReady: true,
  });
  let out = '';
  await new Promise<void>((resolve, reject) => {
    child.proc.stderr!.on('data', (d) => {
      out = (out + d).slice(-20_000);
      if (/worker ready/.test(out)) {
        child.up = true;
        resolve();
      }
    });
    child.proc.once('exit', (code) => reject(new Error(`rotor worker exited (${code}): ${out}`)));
  });
  return { child, output: () => out, stop: () => stopChild(child, { log }) };
}
