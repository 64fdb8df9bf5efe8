// Records what a release carries across continue-as-new, for the upgrade test:
//   node dist/test/tools/record-carried.js <tag>
// writes test/history_files/cleanup-continued-as-new-<tag>.json (the first run, replayed like the
// others) and test/fixtures/carried-<tag>.json (the input the next run starts from). A later release
// must complete a run started from every carried-<tag>.json.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { historyToJSON } from '@temporalio/common/lib/proto-utils';
import { defaultPayloadConverter } from '@temporalio/common';
import { Worker } from '@temporalio/worker';
import { rotateSecret } from '../../workflows';
import { Doubles } from '../helpers/doubles';
import { timeSkippingEnv, workflowBundle } from '../../sandbox/time-skipping';
import { twoStagePlan } from '../helpers/plans';
import { repoRoot } from '../helpers/tools';

async function main(): Promise<void> {
  const tag = process.argv[2];
  if (!tag) throw new Error('usage: record-carried <tag>, e.g. v3 (existing files are kept)');
  const env = await timeSkippingEnv();
  const cron = { kind: 'CronJob' as const, namespace: 'staging', name: 'weekly-report', fields: ['x'] };
  const doubles = new Doubles({ holders: [[cron]] });
  try {
    const worker = await Worker.create({
      connection: env.nativeConnection,
      taskQueue: 'carried',
      workflowBundle: await workflowBundle(),
      activities: doubles.activities(),
    });
    await worker.runUntil(async () => {
      const plan = twoStagePlan({ staging: { soak: '1h' }, production: { watch: '1h' }, top: { cleanupRecheck: '1h' } });
      const h = await env.client.workflow.start(rotateSecret, {
        taskQueue: 'carried',
        workflowId: 'record-carried',
        args: [{ plan, requestedBy: 'recorder' }],
      });
      for (;;) {
        const d = await env.client.workflow.getHandle(h.workflowId).describe();
        if (d.runId !== h.firstExecutionRunId) break;
        await env.sleep('1h');
      }
      const first = await env.client.workflow.getHandle(h.workflowId, h.firstExecutionRunId).fetchHistory();
      const can = first.events!.find((e) => e.workflowExecutionContinuedAsNewEventAttributes)!.workflowExecutionContinuedAsNewEventAttributes!;
      const carried = defaultPayloadConverter.fromPayload(can.input!.payloads![0] as any);
      mkdirSync(join(repoRoot, 'test', 'fixtures'), { recursive: true });
      writeFileSync(
        join(repoRoot, 'test', 'history_files', `cleanup-continued-as-new-${tag}.json`),
        JSON.stringify(JSON.parse(historyToJSON(first)), null, 1) + '\n',
      );
      writeFileSync(join(repoRoot, 'test', 'fixtures', `carried-${tag}.json`), JSON.stringify(carried, null, 1) + '\n');
      console.log(`first run: ${first.events?.length} events; carried state written`);
      await h.terminate('recorded');
    });
  } finally {
    await env.teardown();
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
