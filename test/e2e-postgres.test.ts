// End to end on the engine users run: a real Temporal server (temporal-server, built by the bootstrap
// from go.temporal.io/server) on a real PostgreSQL 15, the rotor CLI and a real `rotor worker` (memory
// backend). A whole rotation completes though the server is killed with -9 and started again on its
// database in the middle of the soak, and the visibility store (PostgreSQL, not the dev server's
// SQLite) answers queries on RotorPhase. Then: stop() and an exit without it leave no process or file.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Client, Connection } from '@temporalio/client';
import { SA_PHASE } from '../contract/api';
import { startPostgresTemporal, type PostgresTemporal } from '../sandbox/temporal-postgres';
import { memoryBackendEnv, OLD_STAMP, pollUntil, rotor, rotorStatus, secretsWorld, startWorker, waitForStatus, writePlan } from './helpers/cli';
import { recordServerHistories } from './helpers/leak';
import { repoRoot } from './helpers/tools';

let server: PostgresTemporal;
let worker: Awaited<ReturnType<typeof startWorker>>;
let env: NodeJS.ProcessEnv;
let dir: string;

const SECRET = 'auth-api-secrets';
const ID = `rotate-staging-${SECRET}`;

/** True while the process (or its group) exists. */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** The ids a visibility query on RotorPhase finds. */
async function idsInPhase(phase: string): Promise<string[]> {
  const connection = await Connection.connect({ address: server.address });
  try {
    const ids: string[] = [];
    for await (const wf of new Client({ connection, namespace: server.namespace }).workflow.list({ query: `${SA_PHASE.name} = "${phase}"` }))
      ids.push(wf.workflowId);
    return ids;
  } finally {
    await connection.close();
  }
}

/** Visibility is written after the workflow task: poll until the query finds (or no longer finds) the rotation. */
const queryUntil = (phase: string, present: boolean) =>
  pollUntil(
    () => idsInPhase(phase),
    (ids) => ids.includes(ID) === present,
    { timeoutMs: 30_000, intervalMs: 300, describe: (ids) => `RotorPhase = "${phase}" found [${ids.join(', ')}], ${present ? 'not' : 'still'} ${ID}` },
  );

before(async () => {
  server = await startPostgresTemporal();
  ({ dir, env } = memoryBackendEnv('rotor-e2e-pg-', secretsWorld([SECRET], ['staging', 'production'], { auth_errors: 0.001 }), server.address));
  worker = await startWorker(env);
});

after(async () => {
  await worker?.stop();
  await server?.stop();
});

describe('rotor on a Temporal server on PostgreSQL', () => {
  it('completes a whole rotation through a kill -9 and restart of the server mid-soak, found by RotorPhase', async () => {
    const file = writePlan(dir, SECRET, {
      stages: [
        { name: 'staging', namespace: 'staging', strategy: 'rolling', soak: '15s' },
        { name: 'production', namespace: 'production', strategy: 'rolling', watch: '0s' },
      ],
      retention: '1s',
      cleanupRecheck: '1s',
    });
    const started = await rotor(['start', '-f', file], env);
    assert.equal(started.code, 0, started.stderr);
    assert.match(started.stdout, new RegExp(`started ${ID}`));

    const soaking = await waitForStatus(ID, env, (s) => s.phase === 'SOAKING');
    assert.equal(soaking.stage, 'staging');
    assert.deepEqual(await queryUntil('SOAKING', true).then((ids) => ids.filter((id) => id === ID)), [ID]);

    const before = server.serverPid;
    await server.restart();
    assert.ok(!alive(before), `the killed server (pid ${before}) is gone`);
    assert.notEqual(server.serverPid, before);
    assert.ok(alive(server.serverPid) && alive(server.postgresPid));
    // Still soaking on the restarted server: the soak's timer was in PostgreSQL, not in the killed process.
    const after = await rotorStatus(ID, env);
    assert.equal(after.phase, 'SOAKING', `${after.phase}: ${after.events.map((e) => e.message).join(' | ')}`);

    const done = await waitForStatus(ID, env, (s) => s.phase === 'COMPLETED', 180_000);
    assert.match(done.newVersion!, new RegExp(`^${SECRET}-\\d{14}$`));
    assert.equal(done.previousVersion, `${SECRET}-${OLD_STAMP}`);
    assert.match(done.outcome!, new RegExp(`${SECRET}-${OLD_STAMP} deleted from staging, production`));
    // One soak and one switch per stage: the restart replayed the workflow, it did not run a step again.
    const messages = done.events.map((e) => e.message);
    assert.deepEqual(
      messages.filter((m) => /^(soaking|switched) /.test(m)).map((m) => m.replace(/ to \S+$/, '')),
      ['switched 1 workload(s), 1 reference(s), in staging', 'soaking staging for 15s', 'switched 1 workload(s), 1 reference(s), in production'],
      messages.join('\n'),
    );

    await queryUntil('COMPLETED', true);
    await queryUntil('SOAKING', false);
    await recordServerHistories(server.address);
  });

  it('stops the server, then PostgreSQL, leaving no process and no directory', async () => {
    const pids = [server.serverPid, server.postgresPid];
    await worker.stop();
    await server.stop();
    for (const pid of pids) assert.ok(!alive(-pid), `process group ${pid} is gone`);
    assert.ok(!existsSync(server.dir), `${server.dir} is removed`);
  });

  it('leaves nothing behind when the process that started it exits without stopping it', async () => {
    const script = `
      const { startPostgresTemporal } = require(${JSON.stringify(join(repoRoot, 'dist', 'sandbox', 'temporal-postgres.js'))});
      startPostgresTemporal().then((s) => {
        process.stdout.write(JSON.stringify({ server: s.serverPid, postgres: s.postgresPid, dir: s.dir }) + '\\n');
        process.exit(0);
      }, (err) => { console.error(err); process.exit(1); });`;
    const child = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    assert.equal(code, 0, out);
    const left = JSON.parse(out.trim().split('\n').pop()!) as { server: number; postgres: number; dir: string };
    await pollUntil(
      async () => [left.server, left.postgres].filter((pid) => alive(-pid)),
      (running) => running.length === 0,
      { timeoutMs: 10_000, intervalMs: 100, describe: (running) => `still running after the exit: ${running.join(', ')}` },
    );
    assert.ok(!existsSync(left.dir), `${left.dir} is removed`);
  });
});
