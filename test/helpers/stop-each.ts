// Stops each part of a test's world in order; one that fails to stop leaves the others to stop, and
// every failure is reported at the end.
import assert from 'node:assert/strict';

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
