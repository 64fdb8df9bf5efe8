// A rotation schedule end to end: `rotor schedule` against a real Temporal dev server and a real `rotor
// worker` (memory backend). The schedule starts rotations that `rotor status` and `rotor list` follow;
// paused, it starts none for more than two intervals; triggered, it starts one now; deleted, it is gone.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { stringify } from 'yaml';
import type { RotationSummary } from '../client/rotor-client';
import type { ScheduleRow } from '../client/schedules';
import { memoryBackendEnv, pollUntil, rotor, startWorker, waitForStatus } from './helpers/cli';
import { startDevServer, type DevServer } from './helpers/dev-server';

const SECRET = 'sched-secrets';
const OLD = `${SECRET}-20250101000000`;
const SCHEDULE = `rotor-staging-${SECRET}`;
const EVERY_S = 5;

let server: DevServer;
let worker: Awaited<ReturnType<typeof startWorker>>;
let env: NodeJS.ProcessEnv;
let dir: string;

before(async () => {
  server = await startDevServer();
  const world = {
    secrets: [{ namespace: 'staging', name: OLD, data: { api_token: 'old-token-value' }, labels: { 'rotor.dev/secret': SECRET } }],
    workloads: [
      {
        kind: 'Deployment' as const,
        namespace: 'staging',
        name: 'sched',
        replicas: 2,
        refs: { 'spec.template.spec.containers[0].envFrom[0].secretRef.name': OLD },
      },
    ],
  };
  ({ dir, env } = memoryBackendEnv('rotor-e2e-schedule-', world, server.address));
  worker = await startWorker(env);
});

after(async () => {
  await worker?.stop();
  await server?.stop();
});

async function json<T>(args: string[]): Promise<T> {
  const r = await rotor([...args, '-o', 'json'], env);
  assert.equal(r.code, 0, `rotor ${args.join(' ')}: ${r.stderr}`);
  return JSON.parse(r.stdout) as T;
}

const schedules = () => json<ScheduleRow[]>(['schedule', 'list']);
const mine = async () => (await schedules()).find((s) => s.scheduleId === SCHEDULE);
/** The rotations the schedule started, as `rotor list` shows them. */
const scheduledRotations = async () => (await json<RotationSummary[]>(['list'])).filter((r) => r.workflowId.startsWith(`rotate-staging-${SECRET}-`));

describe('rotor schedule on a real dev server', () => {
  it('starts rotations every interval, none while paused, one when triggered; delete removes it', async () => {
    const file = join(dir, 'plan.yaml');
    writeFileSync(
      file,
      stringify({
        secret: SECRET,
        value: { generate: { keys: ['api_token'], length: 32 } },
        stages: [{ name: 'staging', namespace: 'staging', strategy: 'rolling', watch: '1s' }],
        retention: '1s',
        cleanupRecheck: '1s',
      }),
    );
    const created = await rotor(['schedule', 'create', '-f', file, '--every', `${EVERY_S}s`, '--note', 'e2e'], env);
    assert.equal(created.code, 0, created.stderr);
    assert.match(created.stdout, new RegExp(`^created schedule ${SCHEDULE}: rotate ${SECRET} every ${EVERY_S}s, never two at once \\(overlap skip\\)$`, 'm'));
    assert.match(created.stdout, /^next runs: \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ/m);

    const again = await rotor(['schedule', 'create', '-f', file, '--every', '90d'], env);
    assert.equal(again.code, 1);
    assert.match(again.stderr, new RegExp(`a schedule ${SCHEDULE} already exists .*\`rotor schedule delete ${SCHEDULE}\``));

    // The first run: a rotation whose id is the rotation's own with Temporal's time after it.
    const first = await pollUntil(mine, (s) => !!s?.lastRun, { timeoutMs: 30_000, intervalMs: 500, describe: (s) => `no run yet: ${JSON.stringify(s)}` });
    const id = first!.lastRun!.workflowId;
    assert.match(id, new RegExp(`^rotate-staging-${SECRET}-\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\dZ$`));
    const done = await waitForStatus(id, env, (s) => ['COMPLETED', 'ROLLED_BACK', 'FAILED'].includes(s.phase), 60_000);
    assert.equal(done.phase, 'COMPLETED', done.outcome ?? '');
    assert.equal(done.workflowId, id);
    assert.ok((await scheduledRotations()).some((r) => r.workflowId === id && r.secret === SECRET));
    const table = await rotor(['schedule', 'list'], env);
    assert.match(table.stdout, /^ID +SECRET +SPEC +PAUSED +NEXT RUN +LAST RUN +RESULT$/m);
    assert.match(
      table.stdout,
      new RegExp(`^${SCHEDULE} +${SECRET} +every ${EVERY_S}s +no +\\d{4}-\\S+ +rotate-staging-${SECRET}-\\S+ +(COMPLETED|RUNNING)$`, 'm'),
    );

    // Paused: no rotation starts for more than two intervals.
    const paused = await rotor(['schedule', 'pause', SCHEDULE, '--reason', 'e2e hold'], env);
    assert.equal(paused.code, 0, paused.stderr);
    const atPause = await mine();
    assert.equal(atPause!.paused, true);
    assert.match(atPause!.note!, /paused by e2e: e2e hold/);
    const rotationsAtPause = (await scheduledRotations()).length;
    await new Promise((r) => setTimeout(r, (2 * EVERY_S + 2) * 1000));
    const later = await mine();
    assert.equal(later!.runs, atPause!.runs, 'no run while paused');
    assert.equal((await scheduledRotations()).length, rotationsAtPause, 'no rotation started while paused');
    assert.deepEqual(later!.nextRuns, []);

    // Triggered (paused still): one rotation now, once the last one has ended.
    await pollUntil(mine, (s) => s?.lastRun?.result !== 'RUNNING', {
      timeoutMs: 60_000,
      intervalMs: 500,
      describe: (s) => `still running: ${JSON.stringify(s)}`,
    });
    const triggered = await rotor(['schedule', 'trigger', SCHEDULE], env);
    assert.equal(triggered.code, 0, triggered.stderr);
    const [, triggeredId] = /^started (\S+);/m.exec(triggered.stdout) ?? [];
    assert.ok(triggeredId?.startsWith(`rotate-staging-${SECRET}-`), triggered.stdout);
    const second = await waitForStatus(triggeredId, env, (s) => ['COMPLETED', 'ROLLED_BACK', 'FAILED'].includes(s.phase), 60_000);
    assert.equal(second.phase, 'COMPLETED', second.outcome ?? '');

    const deleted = await rotor(['schedule', 'delete', SCHEDULE], env);
    assert.equal(deleted.code, 0, deleted.stderr);
    assert.equal(await mine(), undefined);
    const gone = await rotor(['schedule', 'pause', SCHEDULE], env);
    assert.equal(gone.code, 1);
    assert.match(gone.stderr, new RegExp(`no schedule with id ${SCHEDULE}; \`rotor schedule list\` shows the schedules`));
  });
});
