// Worker configuration from the environment, checked before anything connects.
export interface WorkerConfig {
  address: string;
  namespace: string;
  taskQueue: string;
  backend: 'memory' | 'kubernetes';
  memoryWorld: string | null;
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
  };
}
