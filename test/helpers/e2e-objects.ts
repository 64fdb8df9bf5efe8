// The end-to-end tests' auth-api Deployment: one container `app` whose env TOKEN reads the Secret.
import type * as k8s from '@kubernetes/client-node';

export function authDeployment(name: string, secretName: string, metadata: Partial<k8s.V1ObjectMeta> = {}): k8s.V1Deployment {
  return {
    metadata: { name, ...metadata },
    spec: {
      replicas: 2,
      selector: { matchLabels: { app: name } },
      template: {
        metadata: { labels: { app: name } },
        spec: {
          containers: [{ name: 'app', image: 'example/auth:1', env: [{ name: 'TOKEN', valueFrom: { secretKeyRef: { name: secretName, key: 'api_token' } } }] }],
        },
      },
    },
  };
}

/** The Secret the Deployment's env TOKEN names now. */
export async function tokenSecretOf(apps: k8s.AppsV1Api, ns: string, name: string): Promise<string> {
  const d = await apps.readNamespacedDeployment({ namespace: ns, name });
  return d.spec!.template.spec!.containers[0].env![0].valueFrom!.secretKeyRef!.name!;
}
