// Stops each part of a test's world in order; one that fails to stop leaves the others to stop, and
// every failure is reported at the end.
import assert from 'node:assert/strict';
import type { Worker } from '@temporalio/worker';

export async function stopEach(steps: [string, () => Promise<unknown> | undefined][]): Promise<void> {
  const failures: string[] = [];
  for (const [what, stop] of steps) {
    try {
      await stop();
    } catch (err) {
      failures.push(`${what}: ${(err as Error).message}`);
    }
  }
  assert.deepEqual(failures, [], 'cleanup failed');
}

/** The step that stops an in-process worker started with `run()`: shut it down if it runs, then wait for its run to end. */
export function workerStep(worker: () => Worker | undefined, running: () => Promise<void> | undefined): [string, () => Promise<unknown>] {
  return [
    'worker',
    async () => {
      if (worker()?.getState() === 'RUNNING') worker()!.shutdown();
      await running();
    },
  ];
}
