// The worker's configuration from the environment, checked as a whole before anything connects:
// every bad or missing setting is reported at once, each naming its variable and a valid value.
import { statSync } from 'node:fs';
import { resolve } from 'node:path';
import { readTemporalSettings, type TemporalSettings } from '../temporal/settings';

export interface WorkerConfig extends TemporalSettings {
  backend: 'memory' | 'kubernetes';
  memoryWorld: string | null;
  /** ROTOR_VALUE_DIR, absolute: the only directory `value.fromFile` reads from; null refuses fromFile. */
  valueDir: string | null;
}

export class WorkerConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(
      `the worker cannot start; fix ${problems.length === 1 ? 'this setting' : `these ${problems.length} settings`}:\n${problems.map((p) => `  - ${p}`).join('\n')}`,
    );
    this.name = 'WorkerConfigError';
  }
}

/** A value directory that does not exist would only fail at the first rotation: say so at start. */
function checkValueDir(raw: string | null | undefined, problems: string[]): string | null {
  if (raw === undefined || raw === null || raw.trim() === '') return null;
  const dir = resolve(raw);
  try {
    if (statSync(dir).isDirectory()) return dir;
    problems.push(`ROTOR_VALUE_DIR=${raw} is not a directory; set it to the directory holding the KEY=value files plans name in value.fromFile`);
  } catch (err) {
    problems.push(
      `ROTOR_VALUE_DIR=${raw} cannot be used (${(err as NodeJS.ErrnoException).code ?? 'error'}); set it to an existing directory holding the KEY=value files plans name in value.fromFile, or unset it to refuse fromFile`,
    );
  }
  return null;
}

export function workerConfig(env: NodeJS.ProcessEnv = process.env, overrides: Partial<WorkerConfig> = {}): WorkerConfig {
  const { settings, problems } = readTemporalSettings(env, overrides);
  const backend = overrides.backend ?? ((env.ROTOR_BACKEND ?? 'kubernetes') as WorkerConfig['backend']);
  if (backend !== 'memory' && backend !== 'kubernetes') {
    problems.push(`ROTOR_BACKEND=${backend} is not a backend; use "kubernetes" (KUBECONFIG) or "memory" (ROTOR_MEMORY_WORLD=world.json)`);
  }
  const memoryWorld = overrides.memoryWorld ?? env.ROTOR_MEMORY_WORLD ?? null;
  if (backend === 'memory' && !memoryWorld) {
    problems.push('the memory backend needs ROTOR_MEMORY_WORLD=<world.json> (secrets, workloads and metrics to rehearse against)');
  }
  const valueDir = checkValueDir(overrides.valueDir !== undefined ? overrides.valueDir : env.ROTOR_VALUE_DIR, problems);
  if (problems.length) throw new WorkerConfigError(problems);
  return { ...settings, backend, memoryWorld, valueDir };
}
