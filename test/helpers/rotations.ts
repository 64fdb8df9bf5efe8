// Whole rotations on the time-skipping server (with the leak check's evidence kept), each on its own
// worker of activity doubles: the harness of the workflow tests that only need a rotation's end.
import { after, before } from 'node:test';
import type { WorkflowHandle } from '@temporalio/client';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import { endedStatusOf, statusQuery, type RotationStatus } from '../../contract/api';
import { rotateSecret } from '../../workflows';
import { workflowBundle } from '../../sandbox/time-skipping';
import type { RollbackReason, RotationResult } from '../../contract/sinks';
import { rotorSinks } from '../../worker/metrics';
import { Doubles, type Script } from './doubles';
import { leakCheckedEnv } from './leak';

/** The calling test file's time-skipping server, handed to `ready` once up, torn down after the file (histories kept). */
export function useTimeSkippingEnv(ready: (env: TestWorkflowEnvironment) => void): void {
  let env: TestWorkflowEnvironment | undefined;
  before(async () => {
    env = await leakCheckedEnv();
    ready(env);
  });
  after(async () => {
    await env?.teardown();
  });
}

/**
 * How a rotation ended when it rotated or rolled back: its result, or the status its RotationRolledBack
 * failure carries. Any other failure (FAILED, an error) rejects, for the test to match.
 */
export async function outcomeOf(handle: { result(): Promise<unknown> }): Promise<RotationStatus> {
  try {
    return (await handle.result()) as RotationStatus;
  } catch (err) {
    const status = endedStatusOf(err);
    if (status?.phase === 'ROLLED_BACK') return status;
    throw err;
  }
}

/** The sink calls of one rotation (contract/sinks.ts). */
export interface Sunk {
  ended: { secret: string; result: RotationResult; seconds: number }[];
  rolledBack: { secret: string; reason: RollbackReason }[];
}

/** Registers the server for the calling test file; `run` starts a rotation and returns how it ended. */
export function timeSkippingRotations(prefix: string) {
  let env: TestWorkflowEnvironment;
  let seq = 0;
  useTimeSkippingEnv((e) => (env = e));
  return {
    /** `during`: what the operator does while it runs (e.g. approve), given its handle and the server. */
    async run(
      script: Script,
      plan: object,
      during?: (handle: WorkflowHandle<typeof rotateSecret>, env: TestWorkflowEnvironment) => Promise<void>,
    ): Promise<{ d: Doubles; status: RotationStatus; handle: WorkflowHandle<typeof rotateSecret>; sunk: Sunk }> {
      const d = new Doubles(script);
      const taskQueue = `${prefix}-${++seq}`;
      const sunk: Sunk = { ended: [], rolledBack: [] };
      const worker = await Worker.create({
        connection: env.nativeConnection,
        taskQueue,
        workflowBundle: await workflowBundle(),
        activities: d.activities(),
        // What the rotation told the worker's metrics, as the real worker's sinks would count it.
        sinks: rotorSinks({
          rotationEnded: (secret, result, seconds) => sunk.ended.push({ secret, result, seconds }),
          rolledBack: (secret, reason) => sunk.rolledBack.push({ secret, reason }),
        }),
      });
      const handle = await env.client.workflow.start(rotateSecret, {
        taskQueue,
        workflowId: `rotate-${prefix}-${seq}`,
        args: [{ plan, requestedBy: 'test' }],
      });
      const status = await worker.runUntil(async () => {
        await during?.(handle, env);
        // A FAILED rotation ends the workflow with a failure; its status is still there to read.
        return handle.result().catch(() => handle.query(statusQuery));
      });
      return { d, status, handle, sunk };
    },
  };
}
