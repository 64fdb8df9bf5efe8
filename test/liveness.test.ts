// An activity heartbeats each second while it runs (activities/liveness.ts), except a local activity,
// which runs inside its workflow task and has no heartbeat to send (the SDK warns at each one).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MockActivityEnvironment } from '@temporalio/testing';
import { BEAT_MS, liveStep, reportProgress } from '../activities/liveness';

/** Runs a step of `ms` that reports progress once, and counts the heartbeats it sent. */
async function beats(isLocal: boolean, ms: number): Promise<{ beats: unknown[]; logged: string[] }> {
  const env = new MockActivityEnvironment({ isLocal });
  const sent: unknown[] = [];
  env.on('heartbeat', (d: unknown) => sent.push(d));
  const logged: string[] = [];
  await env.run(() =>
    liveStep(
      (m) => logged.push(m),
      'a step',
      async () => {
        reportProgress({ done: 1 });
        await new Promise((r) => setTimeout(r, ms));
      },
    ),
  );
  return { beats: sent, logged };
}

describe('liveness', () => {
  it('heartbeats at the start, each second and with its progress while an activity runs', async () => {
    const { beats: sent, logged } = await beats(false, BEAT_MS * 2.5);
    assert.ok(sent.length >= 4, `${sent.length} heartbeats: one at the start, the progress, two beats`);
    assert.deepEqual(sent.at(-1), { done: 1 }, 'a liveness beat keeps the last progress');
    assert.deepEqual(logged, ['step started', 'step ended']);
  });

  it('sends no heartbeat from a local activity, and still logs the step', async () => {
    const { beats: sent, logged } = await beats(true, BEAT_MS * 1.5);
    assert.deepEqual(sent, []);
    assert.deepEqual(logged, ['step started', 'step ended']);
  });
});
