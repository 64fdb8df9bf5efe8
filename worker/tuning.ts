// How much one worker takes on at once: the Temporal worker's slots and workflow cache, from
// ROTOR_WORKER_* (docs/scale.md says how they were sized with bench/scale).

export interface WorkerTuning {
  /**
   * ROTOR_WORKER_MAX_ACTIVITIES: activities run at once. Every rotation in a verify, soak, canary pause
   * or watch with analysis holds one for that whole time (it sleeps between measurements), so this
   * bounds the rotations that can be measured at once on this worker; the SDK's own default is 100.
   */
  maxActivities: number;
  /** ROTOR_WORKER_MAX_WORKFLOW_TASKS: workflow tasks run at once; null: the SDK's default (40). */
  maxWorkflowTasks: number | null;
  /** ROTOR_WORKER_CACHED_WORKFLOWS: rotations kept in memory between their tasks (sticky); null: the SDK's default, from the heap size. */
  cachedWorkflows: number | null;
}

const DEFAULT_MAX_ACTIVITIES = 1000;

function wholeNumber(name: string, raw: string | undefined, min: number, max: number, what: string, problems: string[]): number | null {
  if (raw === undefined || raw.trim() === '') return null;
  const n = Number(raw);
  if (Number.isInteger(n) && n >= min && n <= max) return n;
  problems.push(`${name}=${raw} is not ${what}; use a whole number from ${min} to ${max}, or unset it for the default`);
  return null;
}

export function workerTuning(env: NodeJS.ProcessEnv, problems: string[]): WorkerTuning {
  return {
    maxActivities:
      wholeNumber('ROTOR_WORKER_MAX_ACTIVITIES', env.ROTOR_WORKER_MAX_ACTIVITIES, 1, 100_000, 'a number of activity slots', problems) ?? DEFAULT_MAX_ACTIVITIES,
    maxWorkflowTasks: wholeNumber(
      'ROTOR_WORKER_MAX_WORKFLOW_TASKS',
      env.ROTOR_WORKER_MAX_WORKFLOW_TASKS,
      2,
      10_000,
      'a number of workflow task slots',
      problems,
    ),
    cachedWorkflows: wholeNumber('ROTOR_WORKER_CACHED_WORKFLOWS', env.ROTOR_WORKER_CACHED_WORKFLOWS, 0, 100_000, 'a workflow cache size', problems),
  };
}
