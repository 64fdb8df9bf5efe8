// End to end: the rotor CLI against a real Temporal dev server and a real `rotor worker` process
// (memory backend: the Kubernetes adapter is tested against a real apiserver on its own).
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parse, parseAllDocuments, stringify } from 'yaml';
import { Client, Connection } from '@temporalio/client';
import { memoryBackendEnv, OLD_STAMP, rotor, rotorStatus, secretsWorld, startWorker, waitForStatus } from './helpers/cli';
import { freePort, startDevServer, type DevServer } from './helpers/dev-server';
import { recordValues } from './helpers/leak';
import { repoRoot } from './helpers/tools';

const OLD = OLD_STAMP;
let server: DevServer;
let worker: Awaited<ReturnType<typeof startWorker>>;
let env: NodeJS.ProcessEnv;
let dir: string;

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
  server = await startDevServer();
  // The worker reads value files from its value directory only; the plans name them relative to it.
  ({ dir, env } = memoryBackendEnv(
    'rotor-e2e-',
    secretsWorld(['auth-api-secrets', 'billing-secrets'], ['staging', 'production'], { auth_errors: 0.001, billing_errors: 0.5 }, 4),
    server.address,
  ));
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
    assert.match(listed.stdout, /^ID +SECRET +PHASE +STAGE +AGE\nrotate-staging-auth-api-secrets +auth-api-secrets +AWAITING_APPROVAL +production +\d+s$/m);
    // -o yaml: the status the worker answers, as a YAML document.
    const yaml = parse((await rotor(['status', id, '-o', 'yaml'], env)).stdout);
    assert.equal(yaml.phase, 'AWAITING_APPROVAL');
    assert.equal(yaml.live, true);

    // rotor report on the running rotation: a file, its phase as of now, staging's checks charted.
    const running = await rotor(['report', id, '--out', join(dir, 'running.html')], env);
    assert.equal(running.code, 0, running.stderr);
    assert.match(running.stdout, new RegExp(`wrote ${join(dir, 'running.html')}: AWAITING_APPROVAL \\(production\\)`));
    const runningHtml = readFileSync(join(dir, 'running.html'), 'utf8');
    assert.match(runningHtml, /Running: this is the rotation as of the report&#39;s making, in AWAITING_APPROVAL/);
    assert.match(runningHtml, /<h3>staging<\/h3>\s*<figure><svg/);

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
    // The finished rotation's report, to stdout: each canary step a switch on the charts.
    const report = await rotor(['report', id, '--out', '-'], env);
    assert.equal(report.code, 0, report.stderr);
    assert.match(report.stdout, /<strong>COMPLETED<\/strong>/);
    assert.ok((report.stdout.match(/switch_rule_marks/g) ?? []).length >= 2, 'the switches marked on the timeline and the charts');
    // No secret value anywhere in what an operator or the history sees.
    const history = await historyText(id);
    assert.ok(history.includes('./token.env'), 'the decoded history holds the file name, as the plan wrote it');
    assert.ok(!history.includes(join(dir, 'token.env')), 'the client sends the path as written, relative to ROTOR_VALUE_DIR');
    for (const [what, text] of [
      ['history', history],
      ['status', JSON.stringify(done)],
      ['watch output', watched.stdout],
      ['reports', `${runningHtml}${report.stdout}`],
      ['worker log', worker.output()],
    ]) {
      assert.ok(!text.includes(TOKEN) && !text.includes('old-token-value'), `no secret value in the ${what}`);
    }
  });

  it('rolls back by itself when staging fails its check, and explains it', async () => {
    const file = plan('billing-secrets', 'billing_errors');
    const started = await rotor(['start', '-f', file, '-w', '--interval', '0.5'], env, 90_000);
    assert.equal(started.code, 3, `${started.stdout}\n${started.stderr}`);
    assert.match(started.stdout, /ROLLED_BACK: rolled back: verify check in staging failed/);
    const s = await status('rotate-staging-billing-secrets');
    assert.deepEqual(s.switched, []);
    const report = await rotor(['report', 'rotate-staging-billing-secrets', '--out', '-'], env);
    assert.equal(report.code, 0, report.stderr);
    for (const name of ['rollback_rule', 'threshold_rule', 'measurements']) assert.match(report.stdout, new RegExp(`${name}_marks`), `${name} drawn`);
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
    const noReport = await rotor(['report', 'rotate-nowhere-nothing'], env);
    assert.equal(noReport.code, 1);
    assert.match(noReport.stderr, /no rotation with id rotate-nowhere-nothing; `rotor list` shows/);
    const down = await rotor(['list'], { ...env, TEMPORAL_ADDRESS: `127.0.0.1:${await freePort()}` });
    assert.equal(down.code, 1);
    assert.match(down.stderr, /cannot reach the Temporal server at 127\.0\.0\.1:\d+/);
    assert.match(down.stderr, /`npm run dev-server`/);
  });

  it('lists rotations newest first under a header row, a rolled-back one as ROLLED_BACK, with its outcome in -o wide', async () => {
    const listed = await rotor(['list'], env);
    assert.equal(listed.code, 0, listed.stderr);
    const lines = listed.stdout.trim().split('\n');
    assert.match(lines[0], /^ID +SECRET +PHASE +STAGE +AGE$/);
    // billing started after auth: it comes first. Its execution failed (a rollback ends it so); its phase is what the rotation says.
    assert.match(lines[1], /^rotate-staging-billing-secrets +billing-secrets +ROLLED_BACK +staging +\d+s$/);
    assert.match(lines[2], /^rotate-staging-auth-api-secrets +auth-api-secrets +COMPLETED +- +\d+[sm]$/);
    assert.equal(lines.length, 3, listed.stdout);
    const wide = await rotor(['list', '-o', 'wide'], env);
    assert.match(wide.stdout, /^ID +SECRET +PHASE +STAGE +AGE +STARTED +SUMMARY\n/);
    assert.match(wide.stdout, /\nrotate-staging-billing-secrets .* \d{4}-\d\d-\d\dT[\d:.]+Z {2}rolled back: verify check in staging failed/);
    assert.match(wide.stdout, /\nrotate-staging-auth-api-secrets .* completed: auth-api-secrets-\d{14} is current/);
    const json = JSON.parse((await rotor(['list', '--json'], env)).stdout) as { workflowId: string; phase: string; status: string; startedAt: string }[];
    assert.deepEqual(
      json.map((r) => [r.workflowId, r.phase, r.status]),
      [
        ['rotate-staging-billing-secrets', 'ROLLED_BACK', 'FAILED'],
        ['rotate-staging-auth-api-secrets', 'COMPLETED', 'COMPLETED'],
      ],
    );
    assert.ok(json[0].startedAt > json[1].startedAt);
    const rolledBack = await rotor(['list', '--phase', 'rolled_back', '-o', 'yaml'], env);
    assert.deepEqual(
      (parse(rolledBack.stdout) as { workflowId: string }[]).map((r) => r.workflowId),
      ['rotate-staging-billing-secrets'],
    );
  });

  it('says a finished rotation has ended, how and when, to approve, abort and rollback', async () => {
    const rows = JSON.parse((await rotor(['list', '-o', 'json'], env)).stdout) as { workflowId: string; closedAt: string }[];
    const closedAt = rows.find((r) => r.workflowId === 'rotate-staging-auth-api-secrets')!.closedAt;
    for (const [args, nothingTo] of [
      [['approve', 'rotate-staging-auth-api-secrets'], 'approve'],
      [['abort', 'rotate-staging-auth-api-secrets', '--reason', 'too late'], 'abort'],
      [['rollback', 'rotate-staging-auth-api-secrets'], 'roll back'],
    ] as const) {
      const r = await rotor([...args], env);
      assert.equal(r.code, 1, r.stderr);
      assert.equal(r.stderr, `rotor: rotation rotate-staging-auth-api-secrets has ended COMPLETED at ${closedAt}; nothing to ${nothingTo}\n`);
      assert.equal(r.stdout, '', 'nothing said as if it were under way');
    }
    const rolledBack = await rotor(['abort', 'rotate-staging-billing-secrets', '--reason', 'again'], env);
    assert.match(rolledBack.stderr, /has ended ROLLED_BACK at \d{4}-[\d-]+T[\d:.]+Z; nothing to abort/);
    const unknown = await rotor(['approve', 'rotate-nowhere-nothing'], env);
    assert.match(unknown.stderr, /no rotation with id rotate-nowhere-nothing/);
  });

  it("rotor version names the server's version and each worker polling, with rotor's version", async () => {
    const { version } = JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as { version: string };
    const r = await rotor(['version'], env);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, new RegExp(`^client {3}rotor ${version.replace(/\./g, '\\.')}\n`));
    assert.match(r.stdout, new RegExp(`\nserver {3}Temporal \\d+\\.\\d+\\.\\d+ at ${server.address.replace(/\./g, '\\.')} \\(namespace default\\)\n`));
    assert.match(
      r.stdout,
      new RegExp(
        `\nworkers {2}1 polled task queue rotor lately:\n {9}${worker.proc.pid}@\\S+ rotor@${version.replace(/\./g, '\\.')} {2}\\(build @temporalio/worker@[\\d.]+\\+[0-9a-f]{12}, last poll \\d+s ago\\)`,
      ),
    );
    const json = JSON.parse((await rotor(['version', '-o', 'json'], env)).stdout);
    assert.equal(json.workers.pollers[0].identity.endsWith(` rotor@${version}`), true);
  });

  it('-w -o json prints each change of the status as one JSON line, to the end', async () => {
    const r = await rotor(['status', 'rotate-staging-billing-secrets', '-w', '-o', 'json'], env);
    assert.equal(r.code, 3, r.stderr);
    const lines = r.stdout.trim().split('\n');
    assert.equal(JSON.parse(lines.at(-1)!).phase, 'ROLLED_BACK');
    const yaml = await rotor(['status', 'rotate-staging-billing-secrets', '-w', '-o', 'yaml'], env);
    assert.deepEqual(
      parseAllDocuments(yaml.stdout).map((d) => (d.toJS() as { phase: string }).phase),
      ['ROLLED_BACK'],
    );
  });

  it('rotor report of a rotation in its soak draws the analysis under way, from its last heartbeat', async () => {
    const file = join(dir, 'soaking.yaml');
    const analysis = { provider: 'prometheus', query: 'auth_errors', threshold: 0.01, interval: '10s', failureLimit: 1, verify: '2s' };
    const stages = [
      { name: 'staging', namespace: 'staging', strategy: 'rolling', analysis, soak: '5m' },
      { name: 'production', namespace: 'production', strategy: 'rolling', analysis },
    ];
    writeFileSync(file, stringify({ secret: 'billing-secrets', value: { generate: { keys: ['api_token'], length: 32 } }, stages, retention: '2s' }));
    const id = 'rotate-staging-billing-secrets';
    const started = await rotor(['start', '-f', file], env);
    assert.equal(started.code, 0, started.stderr);
    await waitForPhase(id, 'SOAKING');
    // The soak measures every 10 s; its worker heartbeats what it measured within 5 s.
    let html = '';
    for (let tries = 0; tries < 60 && !/<td>soak<\/td><td>running<\/td>/.test(html); tries += 1) {
      const r = await rotor(['report', id, '--out', '-'], env);
      assert.equal(r.code, 0, r.stderr);
      html = r.stdout;
      await new Promise((ok) => setTimeout(ok, 1000));
    }
    assert.match(html, /<td>soak<\/td><td>running<\/td><td>\d+<\/td><td>0\.001<\/td>/, 'the soak under way, its measurements so far');
    assert.match(html, /The analysis under way \(soak in staging\) is shown as a running check/);
    assert.match(html, /measuring: \d+ measurement\(s\) so far, as of the last heartbeat at \d{4}-/);
    assert.match(html, /measurements_marks/);
    assert.equal((await rotor(['abort', id, '--reason', 'the report test is done'], env)).code, 0);
    await waitForPhase(id, 'ROLLED_BACK');
  });
});
