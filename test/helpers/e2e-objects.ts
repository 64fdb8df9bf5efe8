// The end-to-end tests' auth-api Deployment (one container `app` whose env TOKEN reads the Secret),
// and their plan files, each granted to the worker.
import type * as k8s from '@kubernetes/client-node';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { grantPlanFile } from '../../sandbox/worker-identity';
import type { ControlPlane } from '../../sandbox/control-plane';

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
