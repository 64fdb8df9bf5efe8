// `npm run sandbox`: bring up the local control plane and pod simulator, print what to export, and
// stop cleanly on Ctrl-C: the simulator, controller-manager, apiserver, then etcd, within seconds.
// It prints each child's pid as it starts; a child that dies on its own stops the rest the same way (exit 1).
// `npm run sandbox -- --stores` adds moto (AWS Secrets Manager) and the real External Secrets
// Operator with a ClusterSecretStore `aws`, for plans with store aws-secrets-manager or external-secrets.
// `npm run sandbox -- --flux` adds the real Flux source-controller and kustomize-controller (flux-system).
// `npm run sandbox -- --temporal=postgres` adds a real Temporal server on PostgreSQL with its Web UI
// (sandbox/temporal-postgres.ts), instead of `npm run dev-server` in another shell.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { SANDBOX_OPTIONS, sandboxWorkerEnv, startSandbox, workerKubeconfig, type Sandbox } from './index';
import { TRAFFIC_LABEL } from './traffic';
import { isShuttingDown, onShutdownSignals, superviseChildren } from './processes';
import { startMoto, type MotoServer } from './moto';
import { createAwsSecretStore, startEsoOperator, type EsoOperator } from './eso-operator';
import { FLUX_NAMESPACE, startFlux, type Flux } from './flux';
import { startPostgresTemporal, type PostgresTemporal } from './temporal-postgres';

const log = (line: string) => process.stderr.write(`[sandbox] ${line}\n`);

async function main(): Promise<void> {
  const started = Date.now();
  let sandbox: Sandbox | undefined; // eslint-disable-line prefer-const -- the shutdown handler reads it before it is assigned
  // Before anything starts: a Ctrl-C during start-up stops what is already running, in order too.
  let moto: MotoServer | undefined;
  let operator: EsoOperator | undefined;
  let flux: Flux | undefined;
  let temporal: PostgresTemporal | undefined;
  onShutdownSignals(async () => {
    await flux?.stop();
    await operator?.stop();
    await moto?.stop();
    await sandbox?.stop();
    await temporal?.stop();
  }, log);
  const temporalMode = process.argv.find((a) => a.startsWith('--temporal'));
  if (temporalMode !== undefined && temporalMode !== '--temporal=postgres') {
    log(`--temporal takes postgres (--temporal=postgres: a real Temporal server on PostgreSQL); found ${temporalMode}`);
    process.exit(2);
  }
  superviseChildren(log);
  // Built by `node scripts/bootstrap.mjs --temporal-server` (npm run sandbox does it).
  if (temporalMode) temporal = await startPostgresTemporal({ ui: true, log });
  const stores = process.argv.includes('--stores');
  const withFlux = process.argv.includes('--flux');
  // The traffic model too: the auth API emulator, a real Prometheus scraping it, the Datadog emulator and the issuer.
  sandbox = await startSandbox({ ...SANDBOX_OPTIONS, log });
  const { plane } = sandbox;
  const traffic = sandbox.traffic!;
  let storeEnv: Record<string, string> = {};
  if (stores) {
    // Built by `node scripts/bootstrap.mjs --moto --external-secrets` (npm run test:e2e does it).
    moto = await startMoto({ log });
    operator = await startEsoOperator(plane, { awsEndpoint: moto.url, log });
    await createAwsSecretStore(plane.kubeconfig, { kind: 'ClusterSecretStore', name: 'aws', namespace: 'default', region: 'us-east-1' });
    // moto takes any credentials; these are its conventional placeholders, not secrets.
    storeEnv = {
      ROTOR_STORES: 'kubernetes,aws-secrets-manager,external-secrets',
      ROTOR_AWS_ENDPOINT: moto.url,
      AWS_REGION: 'us-east-1',
      AWS_ACCESS_KEY_ID: 'testing',
      AWS_SECRET_ACCESS_KEY: 'testing',
    };
  }
  // Built by `node scripts/bootstrap.mjs --flux` (npm run test:e2e does it).
  if (withFlux) flux = await startFlux(plane, { log });
  // The worker's own identity: a ServiceAccount granted the reference scan and confined by the
  // admission policy; what it may change comes from rotor rbac for the plans the user runs.
  const workerConfig = await workerKubeconfig(plane, plane.dir);
  // The worker's metric settings, Datadog keys included, go to a file only its owner can read, not the terminal.
  const workerEnv = join(plane.dir, 'worker.env');
  writeFileSync(
    workerEnv,
    Object.entries({ ...sandboxWorkerEnv(traffic), ...storeEnv })
      .map(([k, v]) => `${k}=${v}\n`)
      .join(''),
    { mode: 0o600 },
  );
  process.stdout.write(
    [
      `sandbox up in ${((Date.now() - started) / 1000).toFixed(1)} s: kube-apiserver ${plane.server} (RBAC), controller-manager, 2 simulated nodes`,
      `traffic model: pods labelled ${TRAFFIC_LABEL} call the auth API at ${traffic.api.url} with their API_TOKEN (POST /admin/tokens marks one bad)`,
      `credential issuer (overlapping, docs/issuer-protocol.md): ${traffic.api.url}/v1/credentials; plans use value: { issuer: { key: API_TOKEN } }`,
      `metrics: Prometheus ${traffic.prometheus!.url} (scrapes every 5 s), Datadog emulator ${traffic.datadog!.emulator.url}`,
      ...(stores
        ? [
            `stores: AWS Secrets Manager (moto) ${moto!.url}, region us-east-1; External Secrets Operator v0.16.2 (pid ${operator!.pid}) with ClusterSecretStore aws reading it`,
          ]
        : ['stores: kubernetes only (npm run sandbox -- --stores adds moto and External Secrets Operator)']),
      flux
        ? `Flux: source-controller and kustomize-controller v1.9.6 in ${FLUX_NAMESPACE}, all namespaces (artifacts served on ${flux.storageUrl}); apply a GitRepository and a Kustomization`
        : 'Flux: not started (npm run sandbox -- --flux starts source-controller and kustomize-controller)',
      temporal
        ? `Temporal: temporal-server v1.32.1 on PostgreSQL 15 at ${temporal.address}, namespace ${temporal.namespace} with rotor's search attributes; Web UI ${temporal.ui!.url}`
        : 'Temporal: not started (npm run dev-server in another shell, or npm run sandbox -- --temporal=postgres for a real server on PostgreSQL)',
      'export these in another shell:',
      `  export KUBECONFIG=${plane.kubeconfig}`,
      `  export PATH=${plane.binaries.kubectl.replace(/\/kubectl$/, '')}:$PATH   # kubectl ${'v1.37.2'}`,
      ...(temporal ? [`  export TEMPORAL_ADDRESS=${temporal.address}`] : []),
      `  set -a; . ${workerEnv}; set +a   # the worker's Prometheus, Datadog, credential issuer${stores ? ' and store' : ''} settings`,
      `pids: ${Object.entries({
        ...plane.pids,
        prometheus: traffic.prometheus!.pid,
        ...(stores ? { moto: moto!.pid, 'external-secrets': operator!.pid } : {}),
        ...flux?.pids,
        ...(temporal ? { 'temporal-server': temporal.serverPid, postgresql: temporal.postgresPid, 'temporal-ui': temporal.ui!.pid } : {}),
      })
        .map(([name, pid]) => `${name}=${pid}`)
        .join(' ')} (rotor ${process.pid})`,
      'a rotation to try:',
      '  kubectl apply -f examples/sandbox-world.yaml',
      '  npx rotor rbac -f examples/plan-sandbox.yaml --admission | kubectl apply -f -   # what the worker may do for this plan',
      `  KUBECONFIG=${workerConfig} npx rotor worker   # the worker as its ServiceAccount, not as admin`,
      '  npx rotor start -f examples/plan-sandbox.yaml --watch',
      `logs: ${plane.dir}/logs; Ctrl-C stops everything`,
      '',
    ].join('\n'),
  );
}

main().catch((err) => {
  // A start-up cut short by Ctrl-C fails on the processes being stopped: the shutdown reports instead.
  if (isShuttingDown()) return;
  log(err.message);
  process.exit(1);
});
