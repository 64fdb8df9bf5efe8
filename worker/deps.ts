// The worker's adapters from its configuration: the cluster, the stores, the metric providers, the issuer
// and Git access. `rotor worker` runs activities over them; `rotor plan` reads the same world through them.
import type { RotorDeps, SecretStores } from '../activities/ports';
import { AwsSecretsManagerStore, ExternalSecretsStore } from '../activities/stores/aws-store';
import { loadMemoryWorld, MemoryCluster, MemoryMetrics } from '../activities/memory';
import { KubernetesSecretStore } from '../activities/store-kubernetes';
import { KubernetesCluster } from '../activities/kubernetes';
import { KubeRateLimiter } from '../activities/kubernetes/rate-limit';
import { DatadogProvider } from '../activities/metrics/datadog';
import { PrometheusProvider } from '../activities/metrics/prometheus';
import { HttpCredentialIssuer } from '../activities/issuers/http';
import { GitChanges } from '../activities/git/changes';
import { HttpNotifier } from '../activities/notify/sinks';
import type { WorkerConfig } from './config';

export function buildDeps(config: WorkerConfig, log: RotorDeps['log']): RotorDeps {
  // Both backends read value.fromFile through the store, so both are confined to ROTOR_VALUE_DIR.
  const stores: SecretStores = { kubernetes: new KubernetesSecretStore({ valueDir: config.valueDir }) };
  if (config.stores.includes('aws-secrets-manager')) stores['aws-secrets-manager'] = new AwsSecretsManagerStore(config.aws, { valueDir: config.valueDir });
  const eso = config.stores.includes('external-secrets') ? new ExternalSecretsStore(config.aws, { valueDir: config.valueDir }) : undefined;
  if (eso) stores['external-secrets'] = eso;
  // Plans with `value: { issuer }` need it; without ROTOR_ISSUER_URL they are refused in PLANNING.
  const optional = {
    ...(config.issuer ? { issuer: new HttpCredentialIssuer(config.issuer) } : {}),
    ...(config.deploymentId ? { deploymentId: async () => config.deploymentId! } : {}),
    // Plans with gitops need it; without ROTOR_GIT_* they are refused in PLANNING.
    ...(config.git ? { git: new GitChanges(config.git) } : {}),
    // Plans naming a sink need it; without ROTOR_NOTIFY_* they are refused in PLANNING.
    ...(config.notify ? { notifier: new HttpNotifier(config.notify) } : {}),
  };
  if (config.backend === 'memory') {
    const world = loadMemoryWorld(config.memoryWorld!);
    // A rehearsal of store external-secrets: the operator's reads of a pinned version, from AWS itself.
    const provider = eso
      ? (ref: { key: string; version: string }) => eso.client().read({ secretId: ref.key, versionId: ref.version.replace(/^uuid\//, '') })
      : undefined;
    const cluster = new MemoryCluster(world, provider, config.gitops);
    return { cluster, externalSecrets: cluster.externalSecrets, stores, metrics: new MemoryMetrics(world).providers(), log, ...optional };
  }
  // A stage naming a provider the worker is not configured for measures errors, never a pass.
  const datadog = config.datadog ? new DatadogProvider(config.datadog, log) : undefined;
  const metrics = {
    ...(config.prometheus ? { prometheus: new PrometheusProvider(config.prometheus) } : {}),
    ...(datadog ? { datadog } : {}),
  };
  // Phase changes go to Datadog's event stream when the worker has Datadog.
  const events = datadog ? { events: datadog } : {};
  // One rate limiter for every request of this worker process to kube-apiserver (rate-limit.ts).
  const cluster = KubernetesCluster.fromEnvironment(config.gitops, config.kubePageSize, config.kube, {
    limiter: new KubeRateLimiter(config.kubeRateLimits),
    scanConcurrency: config.kubeScanConcurrency,
  });
  return { cluster, externalSecrets: cluster.externalSecrets, stores, metrics, ...events, log, ...optional };
}
