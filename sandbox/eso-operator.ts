// The real External Secrets Operator (v0.16.2, built from its Go module by `node scripts/bootstrap.mjs
// --external-secrets` into ~/.cache/rotor) against the sandbox's kube-apiserver, reading AWS Secrets
// Manager from moto: its own controllers, its own AWS provider, the official AWS SDK for Go.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as k8s from '@kubernetes/client-node';
import type { ControlPlane } from './control-plane';
import { freePort } from './control-plane';
import { ESO_GROUP, ESO_VERSION, installExternalSecretsCrds } from './external-secrets';
import { answers, startServer, stopChild, withFreshPorts } from './processes';
import { cacheDir, repoRoot } from './tools';

export interface EsoOperator {
  pid: number;
  /** The operator's last lines of output (JSON logs), for a failing test to show. */
  output(): string;
  stop(): Promise<void>;
}

export interface EsoOperatorOptions {
  /** moto_server's URL: the operator's AWS provider talks to it (AWS_SECRETSMANAGER_ENDPOINT). */
  awsEndpoint: string;
  log?: (line: string) => void;
}

/** The operator binary in the tools cache; `npm run bootstrap -- --external-secrets` builds it. */
function esoOperatorBinary(): string {
  const pin = (
    JSON.parse(readFileSync(join(repoRoot, 'tools.json'), 'utf8')) as { 'external-secrets': { operatorKey: string; binaries: { operator: string } } }
  )['external-secrets'];
  const path = join(cacheDir, pin.operatorKey, pin.binaries.operator);
  if (!existsSync(join(cacheDir, pin.operatorKey, '.installed')) || !existsSync(path)) {
    throw new Error(
      `${path} is missing: run \`node scripts/bootstrap.mjs --external-secrets\` (npm run test:e2e does it; 8 minutes on 2 cores the first time)`,
    );
  }
  return path;
}

/** Installs the CRDs (idempotent) and starts the operator; ready once its metrics endpoint answers. */
export async function startEsoOperator(plane: ControlPlane, opts: EsoOperatorOptions): Promise<EsoOperator> {
  await installExternalSecretsCrds(plane, { log: opts.log });
  const binary = esoOperatorBinary();
  return withFreshPorts(async () => {
    const port = await freePort();
    const { child, output } = await startServer(
      'external-secrets',
      binary,
      ['--metrics-addr', `127.0.0.1:${port}`, '--loglevel', 'info', '--zap-time-encoding', 'iso8601', '--enable-leader-election=false'],
      {
        // The sandbox's admin kubeconfig; the AWS provider's endpoint override; no AWS profile of the machine's.
        env: {
          PATH: process.env.PATH ?? '',
          HOME: process.env.HOME ?? '/tmp',
          KUBECONFIG: plane.kubeconfig,
          AWS_SECRETSMANAGER_ENDPOINT: opts.awsEndpoint,
          AWS_EC2_METADATA_DISABLED: 'true',
        },
        // Its metrics endpoint answers once the manager runs.
        ready: answers(`http://127.0.0.1:${port}/metrics`),
        where: `127.0.0.1:${port}`,
        log: opts.log,
      },
    );
    opts.log?.(`[eso] External Secrets Operator running (pid ${child.pid}, AWS Secrets Manager at ${opts.awsEndpoint})`);
    return {
      pid: child.pid,
      output,
      stop: () => stopChild(child, { log: opts.log }),
    };
  });
}

/**
 * A store the operator reads AWS Secrets Manager through, with static credentials from a Secret
 * (moto accepts any): a ClusterSecretStore, or a SecretStore in `namespace`. Waits until the operator
 * has validated it (Ready), as a platform team would before pointing rotor at it.
 */
export async function createAwsSecretStore(
  kubeconfig: string,
  store: { kind: 'ClusterSecretStore' | 'SecretStore'; name: string; namespace: string; region: string },
  timeoutMs = 30_000,
): Promise<void> {
  const kc = new k8s.KubeConfig();
  kc.loadFromFile(kubeconfig);
  const core = kc.makeApiClient(k8s.CoreV1Api);
  const custom = kc.makeApiClient(k8s.CustomObjectsApi);
  const credentials = `${store.name}-aws-credentials`;
  await core
    .createNamespacedSecret({ namespace: store.namespace, body: { metadata: { name: credentials }, stringData: { id: 'testing', key: 'testing' } } })
    .catch((err) => {
      if ((err as { code?: number }).code !== 409) throw err;
    });
  const ns = store.kind === 'ClusterSecretStore' ? { namespace: store.namespace } : {};
  const body = {
    apiVersion: `${ESO_GROUP}/${ESO_VERSION}`,
    kind: store.kind,
    metadata: { name: store.name, ...(store.kind === 'SecretStore' ? { namespace: store.namespace } : {}) },
    spec: {
      provider: {
        aws: {
          service: 'SecretsManager',
          region: store.region,
          auth: {
            secretRef: {
              accessKeyIDSecretRef: { name: credentials, key: 'id', ...ns },
              secretAccessKeySecretRef: { name: credentials, key: 'key', ...ns },
            },
          },
        },
      },
    },
  };
  const plural = store.kind === 'ClusterSecretStore' ? 'clustersecretstores' : 'secretstores';
  if (store.kind === 'ClusterSecretStore') await custom.createClusterCustomObject({ group: ESO_GROUP, version: ESO_VERSION, plural, body });
  else await custom.createNamespacedCustomObject({ group: ESO_GROUP, version: ESO_VERSION, namespace: store.namespace, plural, body });
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const got = (
      store.kind === 'ClusterSecretStore'
        ? await custom.getClusterCustomObject({ group: ESO_GROUP, version: ESO_VERSION, plural, name: store.name })
        : await custom.getNamespacedCustomObject({ group: ESO_GROUP, version: ESO_VERSION, namespace: store.namespace, plural, name: store.name })
    ) as { status?: { conditions?: { type: string; status: string; message?: string }[] } };
    const ready = got.status?.conditions?.find((c) => c.type === 'Ready');
    if (ready?.status === 'True') return;
    if (Date.now() > deadline) throw new Error(`${store.kind} ${store.name} not Ready after ${timeoutMs / 1000} s: ${ready?.message ?? 'no Ready condition'}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}
