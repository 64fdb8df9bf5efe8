// End to end: notifications from a real `rotor worker` process (memory backend, real dev server),
// its sinks from ROTOR_NOTIFY_FILE with the signing key in a file of its own, delivered to a real
// receiver on 127.0.0.1 that checks every signature: the approval message carries the approve command
// and the Web UI link, the rollback says why, and neither the key nor a value is in what rotor kept.
import assert from 'node:assert/strict';
import { chmodSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { stringify } from 'yaml';
import { memoryBackendEnv, pollUntil, rotor, secretsWorld, startWorker, waitForStatus, writePlan } from './helpers/cli';
import { startDevServer, type DevServer } from './helpers/dev-server';
import { recordValues } from './helpers/leak';
import { NotifyReceiver } from './helpers/notify-receiver';

const KEY = 'e2e-notify-hmac-key-5d1f0c8a9b';
const UI = 'http://127.0.0.1:8233';
const receiver = new NotifyReceiver(KEY);
let server: DevServer;
let worker: Awaited<ReturnType<typeof startWorker>>;
let env: NodeJS.ProcessEnv;
let dir: string;

before(async () => {
  await receiver.start();
  server = await startDevServer();
  ({ dir, env } = memoryBackendEnv('rotor-e2e-notify-', secretsWorld(['billing-secrets'], ['staging', 'production'], { billing_errors: 0.5 }), server.address));
  const keyFile = join(dir, 'webhook-key');
  writeFileSync(keyFile, KEY);
  chmodSync(keyFile, 0o600);
  const sinks = join(dir, 'notify.yaml');
  writeFileSync(sinks, stringify({ 'ops-webhook': { type: 'webhook', url: receiver.url('/hook'), keyFile } }));
  env = { ...env, ROTOR_NOTIFY_FILE: sinks, TEMPORAL_UI_URL: UI };
  worker = await startWorker(env);
});

after(async () => {
  recordValues([KEY]);
  await worker?.stop();
  await server?.stop();
  await receiver.stop();
});

describe('notifications from a real worker', () => {
  it('deliver awaiting_approval with the approve command and UI link, then rolled_back with its reason, all signed', async () => {
    const analysis = { provider: 'prometheus', query: 'billing_errors', threshold: 0.01, interval: '10s', failureLimit: 1, verify: '2s' };
    const file = writePlan(dir, 'billing-secrets', {
      stages: [
        { name: 'staging', namespace: 'staging', strategy: 'rolling', approval: 'required', soak: '1s' },
        { name: 'production', namespace: 'production', strategy: 'rolling', analysis, watch: '1s' },
      ],
      retention: '1s',
      notify: [{ sink: 'ops-webhook', events: ['awaiting_approval', 'rolled_back'] }],
    });
    const started = await rotor(['start', '-f', file], env);
    assert.equal(started.code, 0, started.stderr);
    const id = 'rotate-staging-billing-secrets';
    await waitForStatus(id, env, (s) => s.phase === 'AWAITING_APPROVAL');
    const types = () => receiver.delivered('/hook').map((r) => r.body.type as string);
    /** The delivery of event `kind`, once the receiver accepted it. */
    const delivered = async (kind: string) => {
      await pollUntil(
        async () => types(),
        (t) => t.includes(`dev.rotor.rotation.${kind}`),
        {
          timeoutMs: 30_000,
          intervalMs: 250,
          describe: (t) => `delivered: ${t.join(', ')}`,
        },
      );
      return receiver.delivered('/hook').find((r) => r.body.type === `dev.rotor.rotation.${kind}`)!;
    };
    const approval = await delivered('awaiting_approval');
    assert.equal(approval.body.specversion, '1.0');
    assert.equal(approval.body.subject, id);
    const text = JSON.stringify(approval.body.data);
    assert.match(text, new RegExp(`rotor approve ${id}`), 'the exact command');
    assert.ok(text.includes(`${UI}/namespaces/default/workflows/${id}`), `the Web UI link: ${text}`);

    assert.equal((await rotor(['approve', id], env)).code, 0);
    await waitForStatus(id, env, (s) => s.phase === 'ROLLED_BACK');
    const rolledBack = await delivered('rolled_back');
    assert.match(JSON.stringify(rolledBack.body.data), /check in production failed/);
    // Only the kinds the plan asked for; every request signed and accepted, each event once.
    assert.deepEqual(types().sort(), ['dev.rotor.rotation.awaiting_approval', 'dev.rotor.rotation.rolled_back']);
    assert.deepEqual(
      receiver.received.filter((r) => r.signatureProblem !== null),
      [],
    );
    const status = await rotor(['status', id, '--json'], env);
    assert.doesNotMatch(status.stdout, new RegExp(KEY), 'the key is in no status');
  });
});
