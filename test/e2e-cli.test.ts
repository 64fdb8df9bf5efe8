// End to end: the rotor CLI against a real Temporal dev server and a real `rotor worker` process
// (memory backend: the Kubernetes adapter is tested against a real apiserver on its own).
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { stringify } from 'yaml';
import { Client, Connection } from '@temporalio/client';
import type { MemoryWorld } from '../activities/memory';
import { rotor, rotorStatus, startWorker, waitForStatus } from './helpers/cli';
import { freePort, startDevServer, type DevServer } from './helpers/dev-server';
import { recordValues } from './helpers/leak';

const OLD = '20250101000000';
let server: DevServer;
let worker: Awaited<ReturnType<typeof startWorker>>;
let env: NodeJS.ProcessEnv;
let dir: string;

function world(): MemoryWorld {
  const secrets = [];
  const workloads = [];
  for (const base of ['auth-api-secrets', 'billing-secrets']) {
    for (const ns of ['staging', 'production']) {
      secrets.push({ namespace: ns, name: `${base}-${OLD}`, data: { api_token: 'old-token-value' }, labels: { 'rotor.dev/secret': base } });
      workloads.push({
        kind: 'Deployment' as const,
        namespace: ns,
        name: base.replace('-secrets', ''),
        replicas: 4,
        refs: { 'spec.template.spec.containers[0].envFrom[0].secretRef.name': `${base}-${OLD}` },
      });
    }
  }
  return { secrets, workloads, metrics: { auth_errors: 0.001, billing_errors: 0.5 } };
}

const TOKEN = 'e2e-NEW-token-value-4f9a2c71';

function plan(secret: string, query: string, extra: { production?: object; value?: object } = {}): string {
  const file = join(dir, `${secret}.yaml`);
  // interval is at least 10s; windows shorter than it measure once at their end, so one bad value fails.
  const analysis = { provider: 'prometheus', query, threshold: 0.01, interval: '10s', failureLimit: 1, verify: '2s' };
  writeFileSync(
    file,
    stringify({
      secret,
      value: extra.value ?? { generate: { keys: ['api_token'], length: 32 } },
      store: 'kubernetes',
      stages: [
        { name: 'staging', namespace: 'staging', strategy: 'rolling', analysis, soak: '3s' },
        // A canary is judged over its pauses: no verify window there.
        {
          name: 'production',
          namespace: 'production',
          strategy: { canary: { steps: [50, 100], pause: '1s' } },
          analysis: { ...analysis, verify: undefined },
          watch: '2s',
          ...extra.production,
        },
      ],
      retention: '2s',
      cleanupRecheck: '1s',
    }),
  );
  return file;
}

async function historyText(id: string): Promise<string> {
  const connection = await Connection.connect({ address: server.address });
  try {
    const history = await new Client({ connection }).workflow.getHandle(id).fetchHistory();
    // Payloads are base64 in JSON: decode every one so a value cannot hide in its encoding.
    return JSON.stringify(history, (k, v) => {
      if (k === 'data' && typeof v === 'string') return Buffer.from(v, 'base64').toString('utf8');
      if (v instanceof Uint8Array) return Buffer.from(v).toString('utf8');
      if (v && v.type === 'Buffer' && Array.isArray(v.data)) return Buffer.from(v.data).toString('utf8');
      return v;
    });
  } finally {
    await connection.close();
  }
}

const status = (id: string) => rotorStatus(id, env);
const waitForPhase = (id: string, phase: string) => waitForStatus(id, env, (s) => s.phase === phase);

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'rotor-e2e-'));
  const worldFile = join(dir, 'world.json');
  writeFileSync(worldFile, JSON.stringify(world()));
  server = await startDevServer();
  // The worker reads value files from its value directory only; the plans name them relative to it.
  env = { TEMPORAL_ADDRESS: server.address, ROTOR_BACKEND: 'memory', ROTOR_MEMORY_WORLD: worldFile, ROTOR_VALUE_DIR: dir, ROTOR_OPERATOR: 'e2e' };
  worker = await startWorker(env);
});

after(async () => {
  recordValues([TOKEN, 'old-token-value']);
  await worker?.stop();
  await server?.stop();
});

describe('rotor CLI on a real dev server', () => {
  it('drives a two-stage rotation with approval to COMPLETED', async () => {
    // The new value comes from a file the worker reads; it must appear in no history, output or log.
    writeFileSync(join(dir, 'token.env'), `# rotated by the e2e test\napi_token=${TOKEN}\n`);
    const file = plan('auth-api-secrets', 'auth_errors', { production: { approval: 'required' }, value: { fromFile: './token.env' } });
    const started = await rotor(['start', '-f', file], env);
    assert.equal(started.code, 0, started.stderr);
    const id = 'rotate-staging-auth-api-secrets';
    assert.match(started.stdout, new RegExp(`started ${id}`));

    // One rotation of a secret at a time.
    const again = await rotor(['start', '-f', file], env);
    assert.equal(again.code, 1);
    assert.match(again.stderr, /already running \(rotate-staging-auth-api-secrets\)/);
    assert.match(again.stderr, /rotor status rotate-staging-auth-api-secrets --watch/);

    const waiting = await waitForPhase(id, 'AWAITING_APPROVAL');
    assert.equal(waiting.stage, 'production');
    assert.ok(waiting.checks.some((c) => c.stage === 'staging' && c.check === 'soak' && c.verdict === 'passed'));
    const human = await rotor(['status', id], env);
    assert.match(human.stdout, /phase\s+AWAITING_APPROVAL — stage production/);
    assert.match(human.stdout, /step \d+\/\d+/);
    // Each check's last measurements: time, value and phase.
    assert.match(human.stdout, /PASSED\s+soak staging: \d+ measurement\(s\), last 0\.001 vs threshold 0\.01 .*\n\s+\d\d:\d\d:\d\d 0\.001 successful/);

    const listed = await rotor(['list'], env);
    assert.match(listed.stdout, /rotate-staging-auth-api-secrets\s+auth-api-secrets\s+AWAITING_APPROVAL\s+RUNNING/);

    const approved = await rotor(['approve', id, '--comment', 'staging is clean'], env);
    assert.equal(approved.code, 0, approved.stderr);
    const watched = await rotor(['status', id, '--watch', '--interval', '0.5'], env, 90_000);
    assert.equal(watched.code, 0, watched.stderr);
    assert.match(watched.stdout, /100%\s+step (\d+)\/\1\s+COMPLETED/);
    const done = await status(id);
    assert.equal(done.phase, 'COMPLETED');
    assert.deepEqual(
      done.approvals.map((a) => [a.stage, a.by, a.comment]),
      [['production', 'e2e', 'staging is clean']],
    );
    assert.match(done.newVersion!, /^auth-api-secrets-\d{14}$/);
    const messages = done.events.map((e) => e.message);
    assert.ok(messages.includes('canary at 50% in production') && messages.includes('canary at 100% in production'), messages.join('\n'));
    assert.equal(done.previousVersion, `auth-api-secrets-${OLD}`);
    assert.match(done.outcome!, new RegExp(`auth-api-secrets-${OLD} deleted from staging, production`));
    // No secret value anywhere in what an operator or the history sees.
    const history = await historyText(id);
    assert.ok(history.includes('./token.env'), 'the decoded history holds the file name, as the plan wrote it');
    assert.ok(!history.includes(join(dir, 'token.env')), 'the client sends the path as written, relative to ROTOR_VALUE_DIR');
    for (const [what, text] of [
      ['history', history],
      ['status', JSON.stringify(done)],
      ['watch output', watched.stdout],
      ['worker log', worker.output()],
    ]) {
      assert.ok(!text.includes(TOKEN) && !text.includes('old-token-value'), `no secret value in the ${what}`);
    }
  });

  it('rolls back by itself when staging fails its check, and explains it', async () => {
    const file = plan('billing-secrets', 'billing_errors');
    const started = await rotor(['start', '-f', file, '--watch', '--interval', '0.5'], env, 90_000);
    assert.equal(started.code, 3, `${started.stdout}\n${started.stderr}`);
    assert.match(started.stdout, /ROLLED_BACK: rolled back: verify check in staging failed/);
    const s = await status('rotate-staging-billing-secrets');
    assert.deepEqual(s.switched, []);
    assert.ok(s.events.some((e) => /^reverted in staging to billing-secrets-20250101000000: Deployment\/[a-z-]+: \d field\(s\)/.test(e.message)));
  });

  it('refuses a bad plan before contacting the server, listing every error', async () => {
    const file = join(dir, 'bad.yaml');
    writeFileSync(
      file,
      stringify({
        secret: 'Bad_Name',
        value: { generate: { keys: [] } },
        stages: [{ name: 'production', namespace: 'production', strategy: 'in-place' }],
        retention: '2 weeks',
      }),
    );
    const r = await rotor(['start', '-f', file], { ...env, TEMPORAL_ADDRESS: '127.0.0.1:1' });
    assert.equal(r.code, 2);
    for (const path of ['secret', 'value.generate.keys', 'stages[0]', 'stages[0].strategy', 'retention'])
      assert.match(r.stderr, new RegExp(`- ${path.replace(/[[\].]/g, '\\$&')}: `));
    assert.match(r.stderr, /nothing was started/);
  });

  it('says what to do when the id is unknown or the server is down', async () => {
    const unknown = await rotor(['status', 'rotate-nowhere-nothing'], env);
    assert.equal(unknown.code, 1);
    assert.match(unknown.stderr, /no rotation with id rotate-nowhere-nothing; `rotor list` shows/);
    const down = await rotor(['list'], { ...env, TEMPORAL_ADDRESS: `127.0.0.1:${await freePort()}` });
    assert.equal(down.code, 1);
    assert.match(down.stderr, /cannot reach the Temporal server at 127\.0\.0\.1:\d+/);
    assert.match(down.stderr, /temporal server start-dev/);
  });
});
