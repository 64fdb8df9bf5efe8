// The end-to-end tests' auth-api Deployment: one container `app` whose env TOKEN reads the Secret.
import type * as k8s from '@kubernetes/client-node';

export { authDeployment } from '../../sandbox/objects';

/** The Secret the Deployment's env TOKEN names now. */
export async function tokenSecretOf(apps: k8s.AppsV1Api, ns: string, name: string): Promise<string> {
  const d = await apps.readNamespacedDeployment({ namespace: ns, name });
  return d.spec!.template.spec!.containers[0].env![0].valueFrom!.secretKeyRef!.name!;
}
