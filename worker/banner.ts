// What the worker says when it is ready: two lines, what it serves and where. Tests and tools wait for
// "worker ready" on its stderr. Never a credential: URLs are checked to carry none (worker/config.ts),
// codec keys are named by id only.
import type { DataConverter } from '@temporalio/common';
import type { KubeConfig } from '@kubernetes/client-node';
import type { RotorDeps } from '../activities';
import { AesGcmCodec, KEY_VAR, KEYS_FILE_VAR } from '../temporal/codec';
import type { WorkerConfig } from './config';

const list = (items: string[], none: string) => (items.length ? items.join(', ') : none);

/** Line 1: the namespace and task queue it polls, its backend, and the stores, metric providers and issuer it serves. */
function serves(config: WorkerConfig, deps: RotorDeps): string {
  const aws = [config.aws.endpoint && `endpoint ${config.aws.endpoint}`, config.aws.region && `region ${config.aws.region}`].filter(Boolean);
  const stores = Object.keys(deps.stores).map((s) => (s !== 'kubernetes' && aws.length ? `${s} (${aws.join(', ')})` : s));
  const where: Record<string, string | undefined> =
    config.backend === 'memory'
      ? {}
      : { prometheus: config.prometheus?.url, datadog: config.datadog ? (config.datadog.url ?? config.datadog.site) : undefined };
  const metrics = Object.keys(deps.metrics).map((m) => (where[m] ? `${m} ${where[m]}` : m));
  return [
    `worker ready: Temporal namespace ${config.namespace}, task queue ${config.taskQueue}, backend ${config.backend}`,
    `stores ${stores.join(', ')}`,
    `metrics ${list(metrics, 'none (an analysis measures errors)')}${config.backend === 'memory' ? ' from the memory world' : ''}`,
    `issuer ${config.issuer?.url ?? 'none (value.issuer refused)'}`,
    `git ${config.git ? (config.git.sshKeyFile ? 'ssh key' : 'token') : 'none (gitops refused)'}`,
    `value.fromFile ${config.valueDir ?? 'refused (no ROTOR_VALUE_DIR)'}`,
    // Only a worker with sinks says so (plans naming a sink are refused without them).
    ...(config.notify ? [`notify ${notifySinks(config.notify)}`] : []),
  ].join('; ');
}

/** The sinks by name and type (never a URL: a Slack one is a credential), and the default ones. */
function notifySinks(n: NonNullable<WorkerConfig['notify']>): string {
  const sinks = Object.entries(n.sinks).map(([name, s]) => `${name} (${s.type})`);
  return `${list(sinks, 'no sinks')}${n.defaults.length ? `, by default ${n.defaults.map((r) => r.sink).join(', ')}` : ''}`;
}

/** Which cluster, by which kubeconfig and context; or the memory world. */
function cluster(config: WorkerConfig, kc: KubeConfig | undefined, env: NodeJS.ProcessEnv): string {
  if (config.backend === 'memory' || !kc) return `memory world ${config.memoryWorld}`;
  const context = kc.getCurrentContext();
  const server = kc.getCurrentCluster()?.server ?? '(no server)';
  // loadFromDefault's own names: KUBECONFIG, then ~/.kube/config, then the pod's ServiceAccount.
  if (context === 'inClusterContext') return `Kubernetes ${server} (in-cluster ServiceAccount)`;
  return `Kubernetes ${server} (context ${context}, ${env.KUBECONFIG ? `KUBECONFIG ${env.KUBECONFIG}` : '~/.kube/config'})`;
}

function codec(converter: DataConverter, env: NodeJS.ProcessEnv): string {
  const c = converter.payloadCodecs?.find((p): p is AesGcmCodec => p instanceof AesGcmCodec);
  if (!c) return 'codec off (payloads readable in the history)';
  const from = env[KEYS_FILE_VAR] !== undefined ? `${KEYS_FILE_VAR}, ${c.keyIds.length} key(s)` : KEY_VAR;
  return `codec on (${from}; encrypts with ${c.current})`;
}

/** The two lines, each without its `[rotor] ` prefix. */
export function workerBanner(
  config: WorkerConfig,
  deps: RotorDeps,
  converter: DataConverter,
  kc: KubeConfig | undefined,
  env: NodeJS.ProcessEnv = process.env,
  metricsUrl: string | null = null,
): [string, string] {
  const metrics = metricsUrl ? `; metrics at ${metricsUrl}` : '';
  return [serves(config, deps), `Temporal at ${config.address}; ${cluster(config, kc, env)}; ${codec(converter, env)}${metrics}`];
}
