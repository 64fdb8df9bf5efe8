// The end-to-end tests' auth-api Deployment (one container `app` whose env TOKEN reads the Secret),
// the namespaces they start from, their plan files, each granted to the worker, and the real parts
// that run rotor on the sandbox (a Temporal dev server and a `rotor worker`).
import type * as k8s from '@kubernetes/client-node';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { grantPlanFile } from '../../sandbox/worker-identity';
import type { ControlPlane } from '../../sandbox/control-plane';
import type { Sandbox } from '../../sandbox';
import { startWorker } from './cli';
import { startDevServer, type DevServer } from './dev-server';
import { recordClusterSecrets } from './leak';

export { authDeployment } from '../../sandbox/objects';

/** The Secret the Deployment's env TOKEN names now. */
export async function tokenSecretOf(apps: k8s.AppsV1Api, ns: string, name: string): Promise<string> {
  const d = await apps.readNamespacedDeployment({ namespace: ns, name });
  return d.spec!.template.spec!.containers[0].env![0].valueFrom!.secretKeyRef!.name!;
}

/**
 * Writes `body` as the plan file `<dir>/<name>.yaml` and grants the sandbox's worker what it needs,
 * as `rotor rbac -f <file> --admission | kubectl apply -f -` would (sandbox/worker-identity.ts).
 */
export async function writePlan(plane: ControlPlane, dir: string, name: string, body: object): Promise<string> {
  const file = join(dir, `${name}.yaml`);
  writeFileSync(file, stringify(body));
  await grantPlanFile(plane, file);
  return file;
}

/**
 * A new namespace as an end-to-end test starts from: the Secret `secret.name` holding `api_token`
 * `secret.value`, and `deployment` on it, created once the namespace's default ServiceAccount exists
 * (its pods wait for it).
 */
export async function namespaceWith(
  clients: { core: k8s.CoreV1Api; apps: k8s.AppsV1Api },
  ns: string,
  secret: { name: string; value: string },
  deployment: k8s.V1Deployment,
): Promise<void> {
  const { core, apps } = clients;
  await core.createNamespace({ body: { metadata: { name: ns } } });
  await core.createNamespacedSecret({ namespace: ns, body: { metadata: { name: secret.name }, stringData: { api_token: secret.value } } });
  for (let i = 0; i < 100 && !(await core.listNamespacedServiceAccount({ namespace: ns })).items.length; i++) await new Promise((r) => setTimeout(r, 100));
  await apps.createNamespacedDeployment({ namespace: ns, body: deployment });
}

/** A Temporal dev server and a `rotor worker` on it (Kubernetes backend, as `workerKubeconfig`), with the CLI's environment. */
export interface RotorParts {
  server: DevServer;
  worker: Awaited<ReturnType<typeof startWorker>>;
  env: NodeJS.ProcessEnv;
}

export async function startRotor(workerKubeconfig: string): Promise<RotorParts> {
  const server = await startDevServer();
  const env = { TEMPORAL_ADDRESS: server.address, ROTOR_BACKEND: 'kubernetes', KUBECONFIG: workerKubeconfig, ROTOR_OPERATOR: 'e2e' };
  return { server, env, worker: await startWorker(env) };
}

/** The file's end: the cluster's Secrets recorded for the leak check, then the worker, the server and the sandbox stopped. */
export async function stopRotor(sandbox: Sandbox | undefined, parts: Partial<RotorParts>): Promise<void> {
  if (sandbox) await recordClusterSecrets(sandbox.plane.kubeconfig);
  await parts.worker?.stop();
  await parts.server?.stop();
  await sandbox?.stop();
}
