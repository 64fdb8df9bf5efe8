// `npm run demo`: the main job end to end on real parts. Brings up the sandbox control plane, the
// Temporal dev server (Web UI) and a `rotor worker` with the least-privilege ServiceAccount of
// deploy/rbac.yaml, seeds two namespaces with a workload on the old version, and runs a rotation
// with progress on screen. `--keep` leaves everything running for the Web UI until Ctrl-C, which stops
// the worker, the dev server, the simulator, controller-manager, apiserver and etcd, in that order.
import { execFile, spawn } from 'node:child_process';
import { promisify } from 'node:util';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as k8s from '@kubernetes/client-node';
import { stringify } from 'yaml';
import { startSandbox, workerKubeconfig } from './index';
import { isShuttingDown, onShutdownSignals } from './processes';
import { startRotorWorker } from './rotor-worker';
import { startDevServer } from './temporal';
import { repoRoot } from './tools';

const OLD = 'auth-api-secrets-20250101000000';
const say = (line: string) => process.stdout.write(`[demo] ${line}\n`);

function runRotor(args: string[], env: NodeJS.ProcessEnv): Promise<number> {
  return new Promise((resolve) => {
    const proc = spawn(process.execPath, [join(repoRoot, 'bin', 'rotor.js'), ...args], { env: { ...process.env, ...env }, stdio: 'inherit' });
    proc.on('exit', (code) => resolve(code ?? 1));
  });
}

async function main(): Promise<void> {
  const keep = process.argv.includes('--keep');
  const dir = mkdtempSync(join(tmpdir(), 'rotor-demo-'));
  const t0 = Date.now();
  const log = (l: string) => say(`  ${l}`);
  // Newest first: the worker needs the dev server and the cluster, the simulator the apiserver.
  const stops: (() => Promise<void>)[] = [];
  let stopped: Promise<void> | null = null;
  const stopAll = () =>
    (stopped ??= (async () => {
      for (const stop of [...stops].reverse()) await stop().catch((err: Error) => log(`stopping failed: ${err.message}`));
    })());
  onShutdownSignals(stopAll, log);
  say('starting the sandbox: etcd, kube-apiserver (RBAC), kube-controller-manager, 2 simulated nodes ...');
  const sandbox = await startSandbox({ log, readyDelayMs: 1500 });
  stops.push(() => sandbox.stop());
  try {
    const kc = new k8s.KubeConfig();
    kc.loadFromFile(sandbox.plane.kubeconfig);
    const core = kc.makeApiClient(k8s.CoreV1Api);
    const apps = kc.makeApiClient(k8s.AppsV1Api);
    // Asynchronous: the pod simulator runs on this process's event loop and must keep going meanwhile.
    const kubectl = async (args: string[]) =>
      (await promisify(execFile)(sandbox.plane.binaries.kubectl, ['--kubeconfig', sandbox.plane.kubeconfig, ...args], { encoding: 'utf8' })).stdout;

    say('applying deploy/rbac.yaml and issuing a token for the rotor-worker ServiceAccount ...');
    const workerConfig = await workerKubeconfig(sandbox.plane, dir);

    say(`seeding staging and production: Secret ${OLD}, Deployment auth-api reading api_token from it ...`);
    for (const [ns, replicas] of [
      ['staging', 2],
      ['production', 4],
    ] as const) {
      await core.createNamespace({ body: { metadata: { name: ns } } });
      await core.createNamespacedSecret({ namespace: ns, body: { metadata: { name: OLD }, stringData: { api_token: 'demo-old-token' } } });
      for (let i = 0; i < 100 && !(await core.listNamespacedServiceAccount({ namespace: ns })).items.length; i++) await new Promise((r) => setTimeout(r, 100));
      await apps.createNamespacedDeployment({
        namespace: ns,
        body: {
          metadata: { name: 'auth-api' },
          spec: {
            replicas,
            selector: { matchLabels: { app: 'auth-api' } },
            template: {
              metadata: { labels: { app: 'auth-api' } },
              spec: {
                containers: [{ name: 'app', image: 'example/auth:1', env: [{ name: 'TOKEN', valueFrom: { secretKeyRef: { name: OLD, key: 'api_token' } } }] }],
              },
            },
          },
        },
      });
    }
    say((await kubectl(['rollout', 'status', 'deployment/auth-api', '-n', 'production', '--timeout', '120s'])).trim());

    say('starting the Temporal dev server ...');
    const server = await startDevServer({ ui: true, log });
    stops.push(() => server.stop());
    say(`Temporal on ${server.address}; Web UI http://localhost:${server.uiPort}`);
    const env = {
      TEMPORAL_ADDRESS: server.address,
      TEMPORAL_UI_URL: `http://localhost:${server.uiPort}`,
      ROTOR_BACKEND: 'kubernetes',
      KUBECONFIG: workerConfig,
      ROTOR_OPERATOR: 'demo',
    };
    const worker = await startRotorWorker(env, log);
    stops.push(() => worker.stop());
    say('rotor worker ready (Kubernetes backend, ServiceAccount rotor-system/rotor-worker)');

    const planFile = join(dir, 'plan.yaml');
    writeFileSync(
      planFile,
      stringify({
        secret: 'auth-api-secrets',
        value: { generate: { keys: ['api_token'], length: 48 } },
        stages: [
          { name: 'staging', namespace: 'staging', strategy: 'rolling', soak: '10s' },
          { name: 'production', namespace: 'production', strategy: { canary: { steps: [25, 50, 100], pause: '5s' } }, watch: '10s' },
        ],
        retention: '15s',
        cleanupRecheck: '5s',
      }),
    );
    say(`rotor start -f ${planFile} --watch   (production by canary 25/50/100%; demo durations: soak 10s, pauses 5s, watch 10s, retention 15s)`);
    const code = await runRotor(['start', '-f', planFile, '--watch', '--interval', '1'], env);
    if (isShuttingDown()) return; // Ctrl-C stopped the watch too; the shutdown finishes and exits
    say('what the cluster holds now:');
    process.stdout.write(await kubectl(['get', 'secrets', '-A', '-l', 'rotor.dev/secret=auth-api-secrets', '-L', 'rotor.dev/version']));
    process.stdout.write(
      await kubectl([
        'get',
        'deployments',
        '-A',
        '-o',
        'custom-columns=NAMESPACE:.metadata.namespace,NAME:.metadata.name,SECRET:.spec.template.spec.containers[0].env[0].valueFrom.secretKeyRef.name,READY:.status.readyReplicas',
      ]),
    );
    say(`demo ${code === 0 ? 'completed' : `ended with exit code ${code}`} in ${Math.round((Date.now() - t0) / 1000)} s`);
    if (keep) {
      say(`still running: Web UI http://localhost:${server.uiPort}, KUBECONFIG=${sandbox.plane.kubeconfig}; Ctrl-C stops everything`);
      await new Promise(() => undefined);
    }
    await stopAll();
    process.exit(code);
  } catch (err) {
    await stopAll();
    throw err;
  }
}

main().catch((err) => {
  // Cut short by Ctrl-C, the demo fails on what is being stopped: the shutdown reports instead.
  if (isShuttingDown()) return;
  process.stderr.write(`[demo] failed: ${err.message}\n`);
  process.exit(1);
});
