// The incident's auth-service on the sandbox: a Deployment whose pods read API_TOKEN from a Secret
// and, labelled for the traffic model, call the auth API emulator with it. Shared by the tests, the
// benchmarks and the demo, with the error-rate queries docs/metrics.md documents for each provider.
import * as k8s from '@kubernetes/client-node';
import { TRAFFIC_LABEL } from './traffic';

/** The error ratio of a namespace over the last 10 s, as PromQL (0 when every request succeeds). */
export const prometheusErrorRatio = (ns: string, version?: string) => {
  const sel = `namespace="${ns}"${version ? `,version="${version}"` : ''}`;
  return `sum(rate(auth_requests_errors_total{${sel}}[10s])) / sum(rate(auth_requests_total{${sel}}[10s]))`;
};

/** The same ratio as a Datadog metric query (over the analysis interval, reduced by the provider). */
export const datadogErrorRatio = (ns: string, version?: string) => {
  const scope = `env:${ns}${version ? `,version:${version}` : ''}`;
  return `sum:auth.requests.errors{${scope}}.as_count() / sum:auth.requests{${scope}}.as_count()`;
};

/** The auth-service Deployment `name`, its pods reading API_TOKEN from `secretName` (also what the demo puts in Git for Flux). */
export function authServiceDeployment(name: string, secretName: string, replicas = 2): k8s.V1Deployment {
  return {
    metadata: { name },
    spec: {
      replicas,
      selector: { matchLabels: { app: name } },
      template: {
        metadata: { labels: { app: name, [TRAFFIC_LABEL]: 'auth-service' } },
        spec: {
          containers: [
            { name: 'app', image: 'example/auth:1', env: [{ name: 'API_TOKEN', valueFrom: { secretKeyRef: { name: secretName, key: 'API_TOKEN' } } }] },
          ],
        },
      },
    },
  };
}

export interface AuthServiceOptions {
  secretName: string;
  token: string;
  replicas?: number;
  deployment?: string;
}

/** A namespace with the token's Secret and the auth-service Deployment on it (pods start once its ServiceAccount exists). */
export async function createAuthService(kc: k8s.KubeConfig, namespace: string, opts: AuthServiceOptions): Promise<void> {
  const core = kc.makeApiClient(k8s.CoreV1Api);
  const apps = kc.makeApiClient(k8s.AppsV1Api);
  await core.createNamespace({ body: { metadata: { name: namespace } } });
  await core.createNamespacedSecret({ namespace, body: { metadata: { name: opts.secretName }, stringData: { API_TOKEN: opts.token } } });
  // The controller-manager creates the default ServiceAccount moments after the namespace; pods wait for it.
  for (let i = 0; i < 200 && !(await core.listNamespacedServiceAccount({ namespace })).items.length; i++) await new Promise((r) => setTimeout(r, 50));
  await apps.createNamespacedDeployment({ namespace, body: authServiceDeployment(opts.deployment ?? 'auth', opts.secretName, opts.replicas) });
}
