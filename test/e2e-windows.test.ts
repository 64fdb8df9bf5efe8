// A change window end to end on real parts: the rotor CLI, a Temporal dev server (real time), a `rotor
// worker` process as its ServiceAccount with rotor rbac's grants, and the sandbox's real kube-apiserver.
// Production's window opens about a minute after the rotation starts: staging switches at once,
// production waits (the status says until when, in the zone's local time) and switches inside the window.
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import * as k8s from '@kubernetes/client-node';
import { startSandbox, workerKubeconfig as workerKubeconfigFor, type Sandbox } from '../sandbox';
import { rotor, startWorker, waitForStatus } from './helpers/cli';
import { authDeployment, tokenSecretOf, writePlan } from './helpers/e2e-objects';
import { startDevServer, type DevServer } from './helpers/dev-server';
import { recordClusterSecrets } from './helpers/leak';
import { stopEach } from './helpers/stop-each';

const SECRET = 'window-secrets';
const OLD = `${SECRET}-20250101000000`;
const NS = ['win-staging', 'win-production'];

let sandbox: Sandbox, server: DevServer, worker: Awaited<ReturnType<typeof startWorker>>;
let env: NodeJS.ProcessEnv, dir: string, apps: k8s.AppsV1Api;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'rotor-e2e-windows-'));
  sandbox = await startSandbox({ readyDelayMs: 200 });
  const kc = new k8s.KubeConfig();
  kc.loadFromFile(sandbox.plane.kubeconfig);
  const core = kc.makeApiClient(k8s.CoreV1Api);
  apps = kc.makeApiClient(k8s.AppsV1Api);
  for (const ns of NS) {
    await core.createNamespace({ body: { metadata: { name: ns } } });
    await core.createNamespacedSecret({ namespace: ns, body: { metadata: { name: OLD }, stringData: { api_token: 'rotor-leak-canary-window-old-8Jz2' } } });
    for (let i = 0; i < 100 && !(await core.listNamespacedServiceAccount({ namespace: ns })).items.length; i++) await new Promise((r) => setTimeout(r, 100));
    await apps.createNamespacedDeployment({ namespace: ns, body: authDeployment('api', OLD) });
  }
  server = await startDevServer();
  env = { TEMPORAL_ADDRESS: server.address, ROTOR_BACKEND: 'kubernetes', KUBECONFIG: await workerKubeconfigFor(sandbox.plane, dir), ROTOR_OPERATOR: 'e2e' };
  worker = await startWorker(env);
});

after(() =>
  stopEach([
    ['leak evidence', async () => sandbox && recordClusterSecrets(sandbox.plane.kubeconfig)],
    ['worker', () => worker?.stop()],
    ['dev server', () => server?.stop()],
    ['sandbox', () => sandbox?.stop()],
  ]),
);

describe('a change window on the dev server', () => {
  it('holds production until its window opens a minute later, then switches inside it', async () => {
    // The window: the minute starting 45-105 s from now (UTC), for five minutes.
    const opens = new Date(Math.ceil((Date.now() + 45_000) / 60_000) * 60_000);
    const schedule = `${opens.getUTCMinutes()} ${opens.getUTCHours()} ${opens.getUTCDate()} ${opens.getUTCMonth() + 1} *`;
    const file = await writePlan(sandbox.plane, dir, 'windowed', {
      secret: SECRET,
      value: { generate: { keys: ['api_token'], length: 32 } },
      stages: [
        { name: 'staging', namespace: NS[0], strategy: 'rolling', soak: '1s', rolloutTimeout: '60s' },
        {
          name: 'production',
          namespace: NS[1],
          strategy: 'rolling',
          watch: '1s',
          rolloutTimeout: '60s',
          windows: [{ schedule, duration: '5m', timeZone: 'UTC' }],
        },
      ],
      retention: '1s',
      cleanupRecheck: '2s',
    });
    const id = `rotate-${NS[0]}-${SECRET}`;
    const started = await rotor(['start', '-f', file], env);
    assert.equal(started.code, 0, started.stderr);
    const waiting = await waitForStatus(id, env, (s) => s.events.some((e) => e.message.startsWith('waiting for a change window')), 60_000);
    const said = waiting.events.find((e) => e.message.startsWith('waiting for a change window'))!;
    assert.match(
      said.message,
      /waiting for a change window before the switch in win-production: outside every allow window; opens \w{3} \d{4}-\d{2}-\d{2} \d{2}:\d{2} UTC/,
    );
    assert.ok(Date.now() < opens.getTime(), 'still before the window');
    assert.equal(await tokenSecretOf(apps, NS[1], 'api'), OLD, 'production untouched while it waits');
    assert.equal(await tokenSecretOf(apps, NS[0], 'api'), waiting.newVersion, 'staging went at once');
    const text = await rotor(['status', id], env);
    assert.match(text.stdout, /waiting for a change window/);
    const done = await waitForStatus(id, env, (s) => ['COMPLETED', 'ROLLED_BACK', 'FAILED'].includes(s.phase), 240_000);
    assert.equal(done.phase, 'COMPLETED', done.outcome ?? '');
    const switched = Date.parse(done.events.find((e) => /^switched \d+ workload\(s\), \d+ reference\(s\), in win-production/.test(e.message))!.at);
    assert.ok(
      switched >= opens.getTime() && switched < opens.getTime() + 5 * 60_000,
      `switched at ${new Date(switched).toISOString()}, window ${opens.toISOString()}`,
    );
    assert.equal(await tokenSecretOf(apps, NS[1], 'api'), done.newVersion);
  });
});
