// End to end: `rotor status`, `list` and `--watch` during a worker outage, on a real dev server and
// real `rotor worker` processes (memory backend). Without a worker the status query cannot be
// answered; the CLI answers anyway, within 2 s, with what the server keeps (the workflow's status
// memo, its search attributes), says it is not live and since when no worker has polled.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { ObservedStatus } from '../client/rotor-client';
import { memoryBackendEnv, OLD_STAMP, rotor, rotorBin, secretsWorld, startWorker, waitForStatus, pollUntil, writePlan, type CliResult } from './helpers/cli';
import { startDevServer, type DevServer } from './helpers/dev-server';
import { recordText } from './helpers/leak';
import { repoRoot } from './helpers/tools';

const OLD = OLD_STAMP;
/**
 * The bound for `rotor status` without a worker: 2 s on an idle machine, node's start-up
 * included (measured: docs/cli.md, "Without a worker"). Held here as the time beyond the CLI's own start-up (`rotor status
 * --help`, timed just before), so a loaded machine's slower start does not fail it while a status
 * that waits for a worker still does.
 */
const ANSWER_WITHIN_MS = 2000;
const SECRETS = ['idle-secrets', 'watched-secrets', 'paused-secrets'];

let server: DevServer;
let dir: string;
let base: NodeJS.ProcessEnv;

/** One stage, no analysis and no waits: a worker takes it to COMPLETED in seconds (or to its approval). */
function plan(secret: string, stage: object = {}): string {
  return writePlan(dir, secret, {
    stages: [{ name: 'staging', namespace: 'staging', strategy: 'rolling', watch: '0s', ...stage }],
    retention: '0s',
    cleanupRecheck: '1s',
  });
}

/** Each test its own task queue, so what one test's workers did is not what another's status sees. */
const envFor = (taskQueue: string): NodeJS.ProcessEnv => ({ ...base, ROTOR_TASK_QUEUE: taskQueue });

/**
 * The command, and how long it took beyond the CLI's start-up: the same command just before with a
 * TEMPORAL_ADDRESS it refuses once it has loaded the Temporal client (`status --help` loads none).
 */
async function timed(args: string[], env: NodeJS.ProcessEnv): Promise<CliResult & { ms: number; startupMs: number }> {
  const s0 = Date.now();
  const refused = await rotor(args, { ...env, TEMPORAL_ADDRESS: 'start-up-only' });
  assert.match(refused.stderr, /^rotor: TEMPORAL_ADDRESS=start-up-only is not host:port/, refused.stderr);
  const startupMs = Date.now() - s0;
  const t0 = Date.now();
  const r = await rotor(args, env);
  return { ...r, ms: Date.now() - t0 - startupMs, startupMs };
}

async function started(secret: string, env: NodeJS.ProcessEnv, stage: object = {}): Promise<string> {
  const r = await rotor(['start', '-f', plan(secret, stage)], env);
  assert.equal(r.code, 0, r.stderr);
  return `rotate-staging-${secret}`;
}

/** A `rotor status --watch` whose output can be read while it runs. */
function watching(id: string, env: NodeJS.ProcessEnv) {
  const proc: ChildProcess = spawn(process.execPath, [rotorBin, 'status', id, '--watch', '--interval', '0.3'], {
    env: { ...process.env, ...env },
    cwd: repoRoot,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  proc.stdout!.on('data', (d) => (output += d));
  proc.stderr!.on('data', (d) => (output += d));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    proc.on('close', (code, signal) => {
      recordText(`rotor status ${id} --watch`, output);
      resolve({ code, signal });
    }),
  );
  return {
    proc,
    exited,
    output: () => output,
    /** Waits until the output matches, or the watch ends (which fails the test with its output). */
    until: (pattern: RegExp, timeoutMs = 30_000) =>
      pollUntil(
        async () => output,
        (o) => pattern.test(o) || proc.exitCode !== null,
        { timeoutMs, intervalMs: 100, describe: (o) => `the watch never printed ${pattern}:\n${o}` },
      ).then((o) => assert.match(o, pattern, `the watch ended (${proc.exitCode}) before printing ${pattern}:\n${o}`)),
  };
}

before(async () => {
  server = await startDevServer();
  ({ dir, env: base } = memoryBackendEnv('rotor-outage-', secretsWorld(SECRETS, ['staging'], {}), server.address));
});

after(async () => {
  await server?.stop();
});

describe('rotor without workers', () => {
  it('answers `status` within 2 s, not live, from the search attributes when no worker has ever polled', async () => {
    const env = envFor('rotor-idle');
    const id = await started('idle-secrets', env);

    const human = await timed(['status', id], env);
    assert.equal(human.code, 0, human.stderr);
    assert.ok(human.ms < ANSWER_WITHIN_MS, `rotor status took ${human.ms} ms beyond its start-up of ${human.startupMs} ms`);
    assert.match(human.stdout, /^NOT LIVE {3}.*: no worker has polled task queue rotor-idle \(none seen\)$/m);
    assert.match(human.stdout, /shown: the phase and stage in its search attributes only/);
    assert.match(human.stdout, /start a worker: rotor worker \(ROTOR_TASK_QUEUE=rotor-idle/);
    assert.match(human.stdout, /^rotation {3}rotate-staging-idle-secrets \(secret idle-secrets\)$/m);
    assert.match(human.stdout, /^phase {6}PLANNING$/m);

    const json = await timed(['status', id, '--json'], env);
    assert.equal(json.code, 0, json.stderr);
    assert.ok(json.ms < ANSWER_WITHIN_MS, `rotor status --json took ${json.ms} ms beyond its start-up of ${json.startupMs} ms`);
    const s = JSON.parse(json.stdout) as ObservedStatus;
    assert.equal(s.live, false);
    assert.equal(s.workerSeen, null);
    assert.equal(s.taskQueue, 'rotor-idle');
    assert.equal(s.recordedAt, null);
    assert.equal(s.phase, 'PLANNING');
    assert.equal(s.secret, 'idle-secrets');

    // A report needs the checks and events only a worker gives: refused, saying what to do.
    const report = await rotor(['report', id, '--out', join(dir, 'idle.html')], env);
    assert.equal(report.code, 1, report.stdout);
    assert.match(
      report.stderr,
      /is running but no worker answered .*task queue rotor-idle.*Start `rotor worker`, then run `rotor report rotate-staging-idle-secrets` again/,
    );

    // `list` never needed a worker; it says when none polls.
    const listed = await rotor(['list'], env);
    assert.equal(listed.code, 0, listed.stderr);
    assert.match(listed.stdout, /^rotate-staging-idle-secrets\s+idle-secrets\s+PLANNING\s+-\s+\d+[sm]$/m);
    assert.match(listed.stdout, /^note: no worker has polled task queue rotor-idle \(none seen\); running rotations wait/m);
  });

  it('shows the phase and new version a stopped worker left, not live, within 2 s; --watch goes on until Ctrl-C', async () => {
    const env = envFor('rotor-paused');
    const worker = await startWorker(env);
    let waiting;
    try {
      const id = await started('paused-secrets', env, { approval: 'required' });
      waiting = await waitForStatus(id, env, (x) => x.phase === 'AWAITING_APPROVAL');
      assert.match(waiting.newVersion!, /^paused-secrets-\d{14}$/);
      // While the worker runs, the status is its own.
      assert.equal((waiting as ObservedStatus).live, true);
      const listed = await rotor(['list'], env);
      assert.doesNotMatch(listed.stdout, /^note:/m);
    } finally {
      await worker.stop();
    }
    const id = 'rotate-staging-paused-secrets';

    const human = await timed(['status', id], env);
    assert.equal(human.code, 0, human.stderr);
    assert.ok(human.ms < ANSWER_WITHIN_MS, `rotor status took ${human.ms} ms beyond its start-up of ${human.startupMs} ms`);
    assert.match(human.stdout, /^NOT LIVE {3}.*: no worker has polled task queue rotor-paused since \d{4}-\d\d-\d\dT[\d:.]+Z$/m);
    assert.match(human.stdout, /shown: what the rotation recorded at \d{4}-/);
    assert.match(human.stdout, /^phase {6}AWAITING_APPROVAL — stage staging$/m);
    assert.match(human.stdout, new RegExp(`^new {8}${waiting.newVersion}$`, 'm'));
    assert.match(human.stdout, /AWAITING_APPROVAL\s+staging: waiting for `rotor approve rotate-staging-paused-secrets` before staging/);

    const s = JSON.parse((await rotor(['status', id, '--json'], env)).stdout) as ObservedStatus;
    assert.equal(s.live, false);
    assert.equal(s.phase, 'AWAITING_APPROVAL');
    assert.equal(s.stage, 'staging');
    assert.equal(s.newVersion, waiting.newVersion);
    assert.equal(s.previousVersion, `paused-secrets-${OLD}`);
    assert.deepEqual(s.progress, waiting.progress);
    assert.equal(s.eventCount, waiting.eventCount);
    assert.equal(s.events.at(-1)?.message, waiting.events.at(-1)?.message);
    // Since when: the stopped worker's last poll, before now.
    assert.ok(s.workerSeen && Date.parse(s.workerSeen) <= Date.now(), `workerSeen ${s.workerSeen}`);
    assert.equal(s.recordedAt, waiting.updatedAt);

    // An approval is taken by the server; the CLI says it waits for a worker.
    const approved = await rotor(['approve', id], env);
    assert.equal(approved.code, 0, approved.stderr);
    assert.match(
      approved.stdout,
      /approval sent to rotate-staging-paused-secrets \(phase AWAITING_APPROVAL\); no worker has polled .*it takes effect once `rotor worker` runs/,
    );

    // --watch says once that workers are down and keeps polling; Ctrl-C still stops it.
    const w = watching(id, env);
    await w.until(/workers down since \d{4}-.*showing the last recorded status; still watching/);
    await w.until(/AWAITING_APPROVAL staging/);
    // A few more polls, each waiting out the query's deadline, and it is still watching.
    await new Promise((r) => setTimeout(r, 4000));
    assert.equal(w.proc.exitCode, null, `the watch ended during the outage:\n${w.output()}`);
    assert.equal(w.output().match(/workers down/g)?.length, 1, w.output());
    w.proc.kill('SIGINT');
    const end = await Promise.race([w.exited, new Promise((r) => setTimeout(() => r('still running'), 5000))]);
    assert.deepEqual(end, { code: null, signal: 'SIGINT' });
  });

  it('--watch keeps going through the outage and follows the rotation to its end once a worker comes', async () => {
    const env = envFor('rotor-watch');
    const id = await started('watched-secrets', env);
    const w = watching(id, env);
    await w.until(/workers down \(no worker has polled task queue rotor-watch \(none seen\)\), showing the last recorded status; still watching/);
    assert.match(w.output(), /^NOT LIVE /m);
    const worker = await startWorker(env);
    try {
      const end = await Promise.race([w.exited, new Promise((r) => setTimeout(() => r('still running'), 90_000))]);
      assert.deepEqual(end, { code: 0, signal: null }, w.output());
    } finally {
      if (w.proc.exitCode === null) w.proc.kill('SIGKILL');
      await worker.stop();
    }
    const out = w.output();
    const at = (pattern: RegExp) => out.search(pattern);
    assert.ok(at(/still watching/) >= 0 && at(/still watching/) < at(/a worker answers again/), out);
    assert.ok(at(/a worker answers again/) < at(/^COMPLETED: completed: watched-secrets-\d{14} is current/m), out);
    assert.match(out, /100%\s+step (\d+)\/\1\s+COMPLETED/);
    assert.equal(out.match(/workers down/g)?.length, 1, out);
  });
});
