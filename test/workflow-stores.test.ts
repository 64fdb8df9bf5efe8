// Stores outside the cluster, on the real time-skipping server with activity doubles: PLANNING asks
// the plan's store before anything is created, so a plan for a store this worker does not serve, or
// one that does not answer, fails there with the reason and nothing changed.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import { statusQuery, type RotationStatus } from '../contract/api';
import { rotateSecret } from '../workflows';
import { Doubles, type Script } from './helpers/doubles';
import { timeSkippingEnv, workflowBundle } from '../sandbox/time-skipping';
import { twoStagePlan } from './helpers/plans';

let env: TestWorkflowEnvironment;
let seq = 0;

before(async () => {
  env = await timeSkippingEnv();
});

after(async () => {
  await env?.teardown();
});

async function run(script: Script, plan: object): Promise<{ d: Doubles; status: RotationStatus }> {
  const d = new Doubles(script);
  const taskQueue = `wf-stores-${++seq}`;
  const worker = await Worker.create({ connection: env.nativeConnection, taskQueue, workflowBundle: await workflowBundle(), activities: d.activities() });
  const status = await worker.runUntil(async () => {
    const handle = await env.client.workflow.start(rotateSecret, { taskQueue, workflowId: `rotate-stores-${seq}`, args: [{ plan, requestedBy: 'test' }] });
    return handle.result().catch(() => handle.query(statusQuery));
  });
  return { d, status };
}

describe('rotateSecret with a store outside the cluster', () => {
  for (const store of ['aws-secrets-manager', 'external-secrets']) {
    it(`fails in PLANNING, before anything is created, when no worker serves ${store}`, async () => {
      const plan = twoStagePlan({ top: { store, awsSecretsManager: { secretId: '/production/auth-api/token' } } });
      const { d, status } = await run({}, plan);
      assert.equal(status.phase, 'FAILED');
      assert.match(
        status.outcome!,
        new RegExp(
          `the ${store} store cannot be used \\(nothing was changed\\): check the ${store} store: the plan's store is ${store}, but this worker has no ${store} store \\(it has: kubernetes\\); run a worker configured for ${store}`,
        ),
      );
      assert.deepEqual(d.called('checkStore'), [{ store, target: { awsSecretsManager: { secretId: '/production/auth-api/token' } } }]);
      assert.equal(d.called('createVersion').length, 0);
      assert.equal(d.called('switchWorkloads').length, 0);
      assert.equal(status.events.filter((e) => e.phase !== 'PLANNING' && e.phase !== 'FAILED').length, 0, 'nothing past PLANNING');
    });
  }

  it('asks nothing of the kubernetes store', async () => {
    const { d, status } = await run({ check: () => 'failed' }, twoStagePlan());
    assert.equal(status.phase, 'ROLLED_BACK');
    assert.equal(d.called('checkStore').length, 0);
  });
});
