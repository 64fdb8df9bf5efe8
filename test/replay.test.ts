// Recorded histories replay against today's workflow code: a change that breaks determinism fails here.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { Worker } from '@temporalio/worker';
import { quietRuntime, workflowBundle } from './helpers/env';
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
      await Worker.runReplayHistory({ workflowBundle: await workflowBundle() }, history, `replay-${file}`);
    });
  }
});
