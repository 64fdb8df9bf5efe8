// Objects the sandbox's scenarios create: the tests' and benches' stand-in for a team's service.
import type * as k8s from '@kubernetes/client-node';

/** A Deployment with one container `app` whose env TOKEN reads the Secret, two replicas. */
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
