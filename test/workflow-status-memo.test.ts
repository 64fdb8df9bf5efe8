// The status memo on the time-skipping server: what `rotor status` shows while no worker answers.
// The workflow keeps it current at each phase change, and a run that writes it replays deterministically.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import { approveSignal, STATUS_MEMO, statusQuery, type RotationStatus, type StatusMemo } from '../contract/api';
import { rotateSecret } from '../workflows';
import { workflowBundle } from '../sandbox/time-skipping';
import { Doubles, OLD_VALUE } from './helpers/doubles';
import { twoStagePlan } from './helpers/plans';
import { useTimeSkippingEnv } from './helpers/rotations';

let env: TestWorkflowEnvironment;
useTimeSkippingEnv((e) => (env = e));

/** The memo's fields as the status query tells them at the same moment. */
function expectedMemo(s: RotationStatus): StatusMemo {
  const last = s.events.at(-1);
  return {
    phase: s.phase,
    stage: s.stage,
    newVersion: s.newVersion,
    previousVersion: s.previousVersion,
    canaryPercent: s.canaryPercent,
    waitingUntil: s.waitingUntil,
    progress: s.progress,
    last: last ? { at: last.at, message: last.message } : null,
    eventCount: s.eventCount,
    updatedAt: s.updatedAt,
  };
}

describe('the status memo', () => {
  it('follows the rotation phase by phase, and a run that writes it replays', async () => {
    const d = new Doubles({});
    const taskQueue = 'memo-1';
    const worker = await Worker.create({ connection: env.nativeConnection, taskQueue, workflowBundle: await workflowBundle(), activities: d.activities() });
    await worker.runUntil(async () => {
      const plan = twoStagePlan({ production: { approval: 'required' } });
      const handle = await env.client.workflow.start(rotateSecret, { taskQueue, workflowId: 'rotate-staging-memo', args: [{ plan, requestedBy: 'test' }] });
      const memoOf = async () => (await handle.describe()).memo?.[STATUS_MEMO] as StatusMemo | undefined;
      let s: RotationStatus;
      const seen = new Set<string>();
      for (;;) {
        s = await handle.query(statusQuery);
        // Nothing happens between the query and the describe: the clock only moves in env.sleep.
        const memo = await memoOf();
        if (memo) seen.add(memo.phase);
        if (s.phase === 'AWAITING_APPROVAL') break;
        await env.sleep('1h');
      }
      // Waiting for approval: the memo is the status's summary, the wait included.
      assert.deepEqual(await memoOf(), expectedMemo(s));
      assert.ok(s.waitingUntil && s.newVersion, 'a timed wait and a new version to show');
      assert.ok(seen.size >= 2, `the memo moved with the phases: ${[...seen].join(', ')}`);

      await handle.signal(approveSignal, { by: 'alice' });
      const result = await handle.result();
      const done = (await memoOf())!;
      assert.equal(done.phase, 'COMPLETED');
      assert.equal(done.newVersion, result.newVersion);
      assert.match(done.last!.message, new RegExp(`^${result.newVersion} is current`));

      const history = await handle.fetchHistory();
      // Payloads decoded (protobuf messages stringify their bytes as base64), so a value cannot hide in its encoding.
      const text = JSON.stringify(history.events, (k, v) => (k === 'data' && typeof v === 'string' ? Buffer.from(v, 'base64').toString('utf8') : v));
      const upserts = history.events!.filter((e) => e.workflowPropertiesModifiedEventAttributes).length;
      assert.ok(upserts >= 10 && upserts <= 40, `${upserts} memo upserts: about one per phase step`);
      assert.ok(!text.includes(OLD_VALUE), 'no secret value in the memo or anywhere in the history');

      await Worker.runReplayHistory({ workflowBundle: await workflowBundle() }, history, 'replay-status-memo');
    });
  });
});
