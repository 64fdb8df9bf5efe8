// The design rotor avoids, for comparison only: a workflow loop with a timer and a measurement a minute.
import { proxyActivities, sleep } from '@temporalio/workflow';

const { measureOnce } = proxyActivities<{ measureOnce(): Promise<number> }>({ startToCloseTimeout: '1m' });

/** @public history.bench.ts bundles this module by path and starts the workflow by its name. */
export async function naiveSoakLoop(minutes: number): Promise<number> {
  let failures = 0;
  for (let i = 0; i < minutes; i++) {
    await sleep('1m');
    if ((await measureOnce()) > 0.01) failures++;
  }
  return failures;
}
