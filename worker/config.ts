// Worker configuration from the environment, checked before anything connects.
import { statSync } from 'node:fs';
import { resolve } from 'node:path';

export interface WorkerConfig {
  address: string;
  namespace: string;
  taskQueue: string;
  backend: 'memory' | 'kubernetes';
  memoryWorld: string | null;
  /** ROTOR_VALUE_DIR, absolute: the only directory `value.fromFile` reads from; null refuses fromFile. */
  valueDir: string | null;
}

/** A value directory that does not exist would only fail at the first rotation: say so at start. */
function checkValueDir(raw: string | null | undefined): string | null {
  if (raw === undefined || raw === null || raw.trim() === '') return null;
  const dir = resolve(raw);
  let isDirectory = false;
  try {
    isDirectory = statSync(dir).isDirectory();
  } catch (err) {
    throw new Error(
      `ROTOR_VALUE_DIR=${raw} cannot be used (${(err as NodeJS.ErrnoException).code ?? 'error'}); set it to an existing directory holding the KEY=value files plans name in value.fromFile, or unset it to refuse fromFile`,
    );
  }
  if (!isDirectory)
    throw new Error(`ROTOR_VALUE_DIR=${raw} is not a directory; set it to the directory holding the KEY=value files plans name in value.fromFile`);
  return dir;
}

export function workerConfig(env: NodeJS.ProcessEnv = process.env, overrides: Partial<WorkerConfig> = {}): WorkerConfig {
  const backend = overrides.backend ?? ((env.ROTOR_BACKEND ?? 'kubernetes') as WorkerConfig['backend']);
  if (backend !== 'memory' && backend !== 'kubernetes') {
    throw new Error(`ROTOR_BACKEND=${backend} is not a backend; use "kubernetes" (KUBECONFIG) or "memory" (ROTOR_MEMORY_WORLD=world.json)`);
  }
  const memoryWorld = overrides.memoryWorld ?? env.ROTOR_MEMORY_WORLD ?? null;
  if (backend === 'memory' && !memoryWorld) {
    throw new Error('the memory backend needs ROTOR_MEMORY_WORLD=<world.json> (secrets, workloads and metrics to rehearse against)');
  }
  return {
    address: overrides.address ?? env.TEMPORAL_ADDRESS ?? '127.0.0.1:7233',
    namespace: overrides.namespace ?? env.TEMPORAL_NAMESPACE ?? 'default',
    taskQueue: overrides.taskQueue ?? env.ROTOR_TASK_QUEUE ?? 'rotor',
    backend,
    memoryWorld,
    valueDir: checkValueDir(overrides.valueDir !== undefined ? overrides.valueDir : env.ROTOR_VALUE_DIR),
  };
}
