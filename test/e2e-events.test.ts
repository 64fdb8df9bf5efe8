// Kubernetes Events end to end: a real `rotor worker` process, authenticated as the ServiceAccount
// `rotor rbac --admission` grants for the plans, against the sandbox's real kube-apiserver. A rotation
// whose check fails leaves SecretVersionSwitched, then RolledBack with the check's reason, on the
// Deployment it switched, as the events.k8s.io API, `kubectl events` and `kubectl describe` show
// them (kept in test-artifacts/kubectl-events.txt); a worker whose Role lacks the events rule completes its rotation all the same, and says why
// its Events are missing once.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import * as k8s from '@kubernetes/client-node';
import { startSandbox, workerKubeconfig as workerKubeconfigFor, type Sandbox } from '../sandbox';
import { rotor, waitForStatus } from './helpers/cli';
import { authDeployment, namespaceWith, startRotor, stopRotor, tokenSecretOf, writePlan, type RotorParts } from './helpers/e2e-objects';
import { loadPlanFile } from '../client/plan-file';
import { repoRoot } from '../sandbox/tools';

const BASE = 'auth-api-secrets';
const OLD = `${BASE}-20250101000000`;
/** Where the worker may post Events, and where its Role lacks that rule. */
const SHOP = 'shop';
const QUIET = 'quiet';
/** What operators would see (`kubectl events`, `kubectl describe`), kept for a reader of the run. */
const ARTIFACTS = join(repoRoot, 'test-artifacts');

/** The real parts, up for the whole file, and the worker's and the CLI's environment. */
let sandbox: Sandbox, parts: RotorParts, env: NodeJS.ProcessEnv;
let core: k8s.CoreV1Api, apps: k8s.AppsV1Api, events: k8s.EventsV1Api;
const files: Record<string, string> = {};

async function kubectl(args: string[]): Promise<string> {
  // Asynchronous: the pod simulator shares this process's event loop.
  const run = promisify(execFile);
  return (await run(sandbox.plane.binaries.kubectl, ['--kubeconfig', sandbox.plane.kubeconfig, ...args], { encoding: 'utf8' })).stdout;
}

/** The plan of one stage in `namespace`: rolling, its analysis failing when `failing` (the worker has no Prometheus). */
function planOf(namespace: string, failing: boolean): object {
  return {
    secret: BASE,
    value: { generate: { keys: ['api_token'], length: 32 } },
    stages: [
      {
        name: 'staging',
        namespace,
        workloads: ['deployment/auth-api'],
        strategy: 'rolling',
        rolloutTimeout: '60s',
        watch: '1s',
        ...(failing
          ? {
              analysis: {
                provider: 'prometheus',
                query: 'sum(rate(http_requests_total{code=~"5.."}[1m]))',
                threshold: 0.01,
                interval: '10s',
                failureLimit: 1,
                consecutiveErrorLimit: 1,
              },
            }
          : {}),
      },
    ],
    retention: '1s',
    cleanupRecheck: '1s',
  };
}

before(async () => {
  const dir = mkdtempSync(join(tmpdir(), 'rotor-e2e-events-'));
  sandbox = await startSandbox({ readyDelayMs: 200 });
  const kc = new k8s.KubeConfig();
  kc.loadFromFile(sandbox.plane.kubeconfig);
  [core, apps, events] = [kc.makeApiClient(k8s.CoreV1Api), kc.makeApiClient(k8s.AppsV1Api), kc.makeApiClient(k8s.EventsV1Api)];
  const workerKubeconfig = await workerKubeconfigFor(sandbox.plane, dir);
  for (const ns of [SHOP, QUIET]) await namespaceWith({ core, apps }, ns, { name: OLD, value: 'old-token-value' }, authDeployment('auth-api', OLD));
  files.shop = await writePlan(sandbox.plane, dir, 'shop', planOf(SHOP, true));
  files.quiet = await writePlan(sandbox.plane, dir, 'quiet', planOf(QUIET, false));
  for (const file of Object.values(files)) loadPlanFile(file); // a plan rotor refuses would be granted nothing
  // The quiet namespace's Role as rotor rbac prints it, but for the events rule: as a worker granted by an older release.
  const rbac = kc.makeApiClient(k8s.RbacAuthorizationV1Api);
  const role = await rbac.readNamespacedRole({ namespace: QUIET, name: 'rotor-worker' });
  assert.ok(
    role.rules?.some((r) => r.apiGroups?.includes('events.k8s.io')),
    'rotor rbac grants the events rule',
  );
  const rules = role.rules!.filter((r) => !r.apiGroups?.includes('events.k8s.io'));
  await rbac.replaceNamespacedRole({ namespace: QUIET, name: 'rotor-worker', body: { ...role, rules } });
  parts = await startRotor(workerKubeconfig);
  env = parts.env;
});

after(() => stopRotor(sandbox, parts ?? {}));

/** rotor's Events in `namespace`, oldest first. */
async function rotorEvents(namespace: string): Promise<k8s.EventsV1Event[]> {
  const at = (e: k8s.EventsV1Event) => {
    const t = e.eventTime as unknown;
    return t instanceof Date ? t.toISOString() : String(t);
  };
  const list = await events.listNamespacedEvent({ namespace });
  return list.items.filter((e) => e.reportingController === 'rotor.dev/worker').sort((a, b) => (at(a) < at(b) ? -1 : at(a) > at(b) ? 1 : 0));
}

describe('Kubernetes Events from a real worker', () => {
  it('leaves SecretVersionSwitched, then RolledBack with the failed check, on the switched Deployment', async () => {
    const r = await rotor(['start', '-f', files.shop], env);
    assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}`);
    const id = `rotate-${SHOP}-${BASE}`;
    const status = await waitForStatus(id, env, (s) => s.phase === 'ROLLED_BACK' || s.phase === 'FAILED' || s.phase === 'COMPLETED', 180_000);
    assert.equal(status.phase, 'ROLLED_BACK', `${status.outcome}\n${parts.worker.output()}`);
    const reason = status.outcome!.replace(/^rolled back: /, '');
    assert.match(reason, /no prometheus provider is configured on this worker/, 'the check failed, and says why');
    assert.equal(await tokenSecretOf(apps, SHOP, 'auth-api'), OLD);
    const fresh = status.newVersion!;

    const posted = await rotorEvents(SHOP);
    const onDeployment = posted.filter((e) => e.regarding?.kind === 'Deployment' && e.regarding.name === 'auth-api');
    assert.deepEqual(
      onDeployment.map((e) => `${e.reason} ${e.type} ${e.action}`),
      ['SecretVersionSwitched Normal Switch', 'RolledBack Warning Revert'],
    );
    const [switched, rolledBack] = onDeployment;
    assert.equal(switched.note, `switched from ${OLD} to ${fresh} in stage staging (rolling): containers[app].env[TOKEN].valueFrom.secretKeyRef.name`);
    assert.equal(rolledBack.note, `rolled back from ${fresh} to ${OLD} in stage staging (1 reference(s) set back): ${reason}`);
    const uid = (await apps.readNamespacedDeployment({ namespace: SHOP, name: 'auth-api' })).metadata!.uid;
    for (const e of onDeployment) {
      assert.equal(e.reportingInstance, hostname(), "the worker's host name (its pod's name in a cluster)");
      assert.equal(e.regarding!.uid, uid);
    }
    // No value in any Event: the new version's, read back, appears nowhere.
    const value = Buffer.from((await core.readNamespacedSecret({ namespace: SHOP, name: fresh })).data!.api_token, 'base64').toString('utf8');
    assert.ok(value.length >= 32);
    assert.ok(!JSON.stringify(posted).includes(value), 'no secret value in an Event');

    // As operators read them.
    const listed = await kubectl(['events', '-n', SHOP, '--for', 'deployment/auth-api']);
    const line = (reasonName: string) => listed.split('\n').findIndex((l) => l.includes(reasonName));
    assert.ok(line('SecretVersionSwitched') > 0 && line('RolledBack') > line('SecretVersionSwitched'), listed);
    assert.match(listed.split('\n')[line('RolledBack')], /Warning\s+RolledBack\s+Deployment\/auth-api\s+rolled back from /);
    const described = await kubectl(['describe', 'deployment', 'auth-api', '-n', SHOP]);
    mkdirSync(ARTIFACTS, { recursive: true });
    writeFileSync(
      join(ARTIFACTS, 'kubectl-events.txt'),
      `$ kubectl events -n ${SHOP} --for deployment/auth-api\n${listed}\n$ kubectl describe deployment auth-api -n ${SHOP}\n${described}`,
    );
    assert.match(described, /Normal\s+SecretVersionSwitched\s+\S+\s+rotor\.dev\/worker\s+switched from /);
    assert.match(described, /Warning\s+RolledBack\s+\S+\s+rotor\.dev\/worker\s+rolled back from /);
  });

  it('completes a rotation whose worker may not post Events, saying so once', async () => {
    const r = await rotor(['start', '-f', files.quiet], env);
    assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}`);
    const status = await waitForStatus(
      `rotate-${QUIET}-${BASE}`,
      env,
      (s) => s.phase === 'COMPLETED' || s.phase === 'ROLLED_BACK' || s.phase === 'FAILED',
      180_000,
    );
    assert.equal(status.phase, 'COMPLETED', `${status.outcome}\n${parts.worker.output()}`);
    assert.equal(await tokenSecretOf(apps, QUIET, 'auth-api'), status.newVersion);
    assert.equal((await rotorEvents(QUIET)).length, 0, 'nothing was posted');
    // Switched and deleted: two Events refused, one line saying why.
    const refused = parts.worker
      .output()
      .split('\n')
      .filter((l) => l.includes('kubernetes event not posted'));
    assert.equal(refused.length, 1, refused.join('\n'));
    assert.match(refused[0], /"cause":"Forbidden 403"/);
    assert.match(refused[0], /grant create on events\.events\.k8s\.io/);
  });
});
