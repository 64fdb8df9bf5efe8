// References that Git owns (issue 21), end to end on real parts: the rotor CLI, a real Temporal dev
// server, a real `rotor worker` granted what `rotor rbac --admission` prints for its plans, against the
// sandbox's kube-apiserver. A Deployment Argo CD applies is refused in PLANNING with nothing changed;
// a self-heal that sets a switched reference back (as Argo CD's would, a second after the switch)
// makes the rotation roll back, naming the drift, instead of completing on the previous version.
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import * as k8s from '@kubernetes/client-node';
import { startSandbox, workerKubeconfig as workerKubeconfigFor, type Sandbox } from '../sandbox';
import { rotor, rotorStatus } from './helpers/cli';
import { authDeployment, namespaceWith, startRotor, stopRotor, tokenSecretOf, writePlan, type RotorParts } from './helpers/e2e-objects';
import { recordValues } from './helpers/leak';

const SECRET = 'auth-api-secrets';
const OLD = `${SECRET}-20250101000000`;
const ENV = 'containers[app].env[TOKEN].valueFrom.secretKeyRef.name';
const OLD_VALUE = 'rotor-leak-canary-gitops-old-9Tz4';

/** The real parts, up for the whole file. */
let sandbox: Sandbox, server: RotorParts['server'], worker: RotorParts['worker'];
/** The worker's and the CLI's environment, and where plan files go. */
let env: NodeJS.ProcessEnv, dir: string;
let core: k8s.CoreV1Api, apps: k8s.AppsV1Api;

const namespaceWithOld = (ns: string, d: k8s.V1Deployment) => namespaceWith({ core, apps }, ns, { name: OLD, value: OLD_VALUE }, d);

/** A plan file, and the worker granted what it needs. */
const planFile = (name: string, body: object) => writePlan(sandbox.plane, dir, name, body);

const envRef = (ns: string, name: string) => tokenSecretOf(apps, ns, name);

async function secretNames(ns: string): Promise<string[]> {
  return (await core.listNamespacedSecret({ namespace: ns })).items.map((s) => s.metadata!.name!).sort();
}

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'rotor-e2e-gitops-'));
  sandbox = await startSandbox({ readyDelayMs: 300 });
  const kc = new k8s.KubeConfig();
  kc.loadFromFile(sandbox.plane.kubeconfig);
  core = kc.makeApiClient(k8s.CoreV1Api);
  apps = kc.makeApiClient(k8s.AppsV1Api);
  const workerKubeconfig = await workerKubeconfigFor(sandbox.plane, dir);
  recordValues([OLD_VALUE]);
  ({ server, worker, env } = await startRotor(workerKubeconfig));
});

after(() => stopRotor(sandbox, { worker, server }));

describe('rotor and references that Git owns, on a real control plane', () => {
  it('refuses in PLANNING a Deployment Argo CD applies (tracking annotation only), naming it and the fix; nothing changes', async () => {
    const ns = 'argo-tracked';
    await namespaceWithOld(ns, authDeployment('auth-api', OLD, { annotations: { 'argocd.argoproj.io/tracking-id': `shop:apps/Deployment:${ns}/auth-api` } }));
    const before = await apps.readNamespacedDeployment({ namespace: ns, name: 'auth-api' });
    const file = await planFile('argo', {
      secret: SECRET,
      value: { generate: { keys: ['api_token'], length: 32 } },
      stages: [{ name: 'only', namespace: ns, strategy: 'rolling', watch: '1s' }],
      retention: '1s',
    });
    const r = await rotor(['start', '-f', file, '--watch', '--interval', '0.5'], env, 120_000);
    assert.equal(r.code, 4, `${r.stdout}\n${r.stderr}\n${worker.output()}`);
    const s = await rotorStatus(`rotate-${ns}-${SECRET}`, env);
    assert.equal(s.phase, 'FAILED');
    assert.match(
      s.outcome!,
      new RegExp(
        `${ns}: Deployment/auth-api is managed by Argo CD Application shop \\(annotation argocd\\.argoproj\\.io/tracking-id=shop:apps/Deployment:${ns}/auth-api\\).*give the stage gitops settings`,
      ),
    );
    const after = await apps.readNamespacedDeployment({ namespace: ns, name: 'auth-api' });
    // Its status moves as its pods come up; what rotor would write (the template, its record) did not.
    assert.equal(after.metadata!.generation, before.metadata!.generation, 'the template was not changed');
    assert.deepEqual(
      Object.keys(after.metadata!.annotations ?? {}).filter((k) => k.startsWith('rotor.dev/')),
      [],
      'no record of rotor was written',
    );
    assert.equal(await envRef(ns, 'auth-api'), OLD);
    assert.deepEqual(await secretNames(ns), [OLD], 'no version was created');
  });

  it('rolls back, naming the drift, when a self-heal sets the reference back about a second after the switch', async () => {
    const ns = 'self-healed';
    await namespaceWithOld(ns, authDeployment('auth-api', OLD));
    // Argo CD's self-heal, played by a timer: whatever rotor writes, Git says OLD.
    let healed = 0;
    let healing = true;
    const heal = (async () => {
      while (healing) {
        await new Promise((r) => setTimeout(r, 1_300));
        const d = await apps.readNamespacedDeployment({ namespace: ns, name: 'auth-api' });
        const ref = d.spec!.template.spec!.containers[0].env![0].valueFrom!.secretKeyRef!;
        if (ref.name === OLD) continue;
        ref.name = OLD;
        await apps.replaceNamespacedDeployment({ namespace: ns, name: 'auth-api', body: d }).then(
          () => healed++,
          () => undefined, // a conflict with rotor's own write: try again at the next tick
        );
      }
    })();
    try {
      const file = await planFile('healed', {
        secret: SECRET,
        value: { generate: { keys: ['api_token'], length: 32 } },
        stages: [{ name: 'only', namespace: ns, strategy: 'rolling', watch: '20s', rolloutTimeout: '60s' }],
        retention: '1s',
        cleanupRecheck: '1s',
      });
      const r = await rotor(['start', '-f', file, '--watch', '--interval', '0.5'], env, 180_000);
      assert.equal(r.code, 3, `${r.stdout}\n${r.stderr}\n${worker.output()}`);
    } finally {
      healing = false;
      await heal;
    }
    const s = await rotorStatus(`rotate-${ns}-${SECRET}`, env);
    assert.equal(s.phase, 'ROLLED_BACK');
    assert.ok(healed >= 1, 'the self-heal set the reference back');
    assert.match(s.outcome!, /set back by someone else/);
    assert.ok(s.outcome!.includes(`Deployment ${ns}/auth-api: ${ENV} names ${OLD} (the previous version) now, not ${s.newVersion}`), s.outcome!);
    assert.ok(!s.events.some((e) => e.phase === 'COMPLETED' || e.phase === 'RETAINING'), 'never committed');
    assert.equal(await envRef(ns, 'auth-api'), OLD);
    assert.ok((await secretNames(ns)).includes(OLD), 'the version Git names is kept');
    const d = await apps.readNamespacedDeployment({ namespace: ns, name: 'auth-api' });
    assert.deepEqual(
      Object.keys(d.metadata!.annotations ?? {}).filter((k) => k.startsWith('rotor.dev/switch-')),
      [],
      "rotor's record is gone",
    );
  });
});
