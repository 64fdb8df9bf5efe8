// Recorded histories replay against today's workflow code: a change that breaks determinism fails here.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { DeterminismViolationError } from '@temporalio/workflow';
import { bundleWorkflowCode, Worker } from '@temporalio/worker';
import { quietLogger, quietRuntime, workflowBundle } from '../sandbox/time-skipping';
import { repoRoot } from './helpers/tools';

const dir = join(repoRoot, 'test', 'history_files');

describe('replay of recorded histories', () => {
  const files = readdirSync(dir).filter((f) => f.endsWith('.json'));
  it('has recorded histories to replay', () => {
    assert.ok(files.length >= 3, `found ${files.length}`);
  });
  for (const file of files) {
    it(`replays ${file} deterministically`, async () => {
      quietRuntime();
      const history = JSON.parse(readFileSync(join(dir, file), 'utf8'));
      assert.ok(history.events.length > 10);
      // Under the workflow id it was recorded with (the recorder's `record-<case>`): a delivery's child workflow id is derived from it.
      const workflowId = `record-${file.replace(/-(v\d+|\d+\.\d+\.\d+)\.json$/, '')}`;
      await Worker.runReplayHistory({ workflowBundle: await workflowBundle() }, history, workflowId);
    });
  }
});

describe('replay catches a workflow change made without patched()', () => {
  // One new command (a timer) at the start of every rotation, as a careless edit would add it.
  const anchor = 'r.record(`rotation of ${r.plan.secret} requested by';
  const bundleWith = (replace: string) =>
    bundleWorkflowCode({
      workflowsPath: require.resolve('../workflows'),
      logger: quietLogger,
      webpackConfigHook: (config) => {
        config.module!.rules!.push({
          test: /rotation\.js$/,
          use: [{ loader: require.resolve('./helpers/mutate-loader'), options: { find: anchor, replace } }],
        });
        return config;
      },
    });
  const history = () => JSON.parse(readFileSync(join(dir, 'completed-canary-approval-1.0.0.json'), 'utf8'));

  it('fails to replay a recorded history when a command is added without patched()', async () => {
    quietRuntime();
    const bundle = await bundleWith(`await (0, workflow_1.sleep)(1);\n    ${anchor}`);
    await assert.rejects(
      Worker.runReplayHistory({ workflowBundle: bundle }, history(), 'replay-unpatched'),
      (err: unknown) => err instanceof DeterminismViolationError,
    );
  });

  it('replays the same change guarded by patched()', async () => {
    quietRuntime();
    const bundle = await bundleWith(`if ((0, workflow_1.patched)('replay-test-change')) await (0, workflow_1.sleep)(1);\n    ${anchor}`);
    await Worker.runReplayHistory({ workflowBundle: bundle }, history(), 'replay-patched');
  });
});
