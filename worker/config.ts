// The worker's configuration from the environment, checked as a whole before anything connects:
// every bad or missing setting is reported at once, each naming its variable and a valid value.
import { statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { tmpdir } from 'node:os';
import type { GitAccess } from '../activities/git/repo';
import { readPrivateFile } from '../temporal/private-file';
import type { DatadogSettings } from '../activities/metrics/datadog';
import type { PrometheusSettings } from '../activities/metrics/prometheus';
import type { HttpIssuerSettings } from '../activities/issuers/http';
import type { KubeConfigOptions } from '../activities/kubernetes/kubeconfig';
import { parseDuration } from '../domain/duration';
import { STORE_KINDS, type StoreKind } from '../domain/plan';
import { readTemporalSettings, type TemporalSettings } from '../temporal/settings';
import { credentialSetting, isSet } from './credentials';
import { notifySettings } from './notify-config';
import type { NotifySettings } from '../activities/notify/sinks';
import { workerTuning, type WorkerTuning } from './tuning';

export interface WorkerConfig extends TemporalSettings {
  backend: 'memory' | 'kubernetes';
  memoryWorld: string | null;
  /** ROTOR_VALUE_DIR, absolute: the only directory `value.fromFile` reads from; null refuses fromFile. */
  valueDir: string | null;
  /** ROTOR_PROMETHEUS_*: the Prometheus provider; null when ROTOR_PROMETHEUS_URL is not set. */
  prometheus: PrometheusSettings | null;
  /** DD_API_KEY, DD_APP_KEY, DD_SITE, ROTOR_DATADOG_*: the Datadog provider; null when no key is set. */
  datadog: DatadogSettings | null;
  /** ROTOR_STORES: the stores this worker serves (kubernetes always); plans for another fail in PLANNING. */
  stores: StoreKind[];
  /** With aws-secrets-manager: the region when a plan names none, and an endpoint override (moto, a VPC endpoint). */
  aws: { region?: string; endpoint?: string };
  /** ROTOR_ISSUER_*: the credential issuer plans with `value: { issuer }` use; null when ROTOR_ISSUER_URL is not set. */
  issuer: HttpIssuerSettings | null;
  /** ROTOR_DEPLOYMENT_ID: names this rotor deployment in claims; null: the Temporal server's cluster id. */
  deploymentId: string | null;
  /** ROTOR_ARGOCD_INSTANCE_LABEL: Argo CD's application.instanceLabelKey when not the default; what carries it is never switched live. */
  gitops: { argoInstanceLabel?: string };
  /** ROTOR_GIT_*: Git mode's access to the GitOps repositories; null: plans with gitops are refused in PLANNING. */
  git: GitAccess | null;
  /** ROTOR_KUBE_PAGE_SIZE: objects per page when listing (default 200); smaller pages bound memory on big clusters. */
  kubePageSize: number;
  /** ROTOR_NOTIFY_*, TEMPORAL_UI_URL: the notification sinks, the default routes, the Web UI links; null: none. */
  notify: NotifySettings | null;
  /** `rotor worker --kubeconfig <file> --context <name>`: the kubeconfig to use instead of KUBECONFIG's (kubernetes backend). */
  kube: KubeConfigOptions;
  /** ROTOR_METRICS_ADDR: where the worker serves Prometheus metrics (`:9464`); null (the default): no metrics endpoint. */
  metricsAddr: { host: string; port: number } | null;
  /** ROTOR_WORKER_*: the worker's activity and workflow task slots and its workflow cache (tuning.ts). */
  tuning: WorkerTuning;
}

/** The sites Datadog runs; DD_SITE must be one of them. */
const DATADOG_SITES = [
  'datadoghq.com',
  'us3.datadoghq.com',
  'us5.datadoghq.com',
  'datadoghq.eu',
  'ap1.datadoghq.com',
  'ap2.datadoghq.com',
  'ddog-gov.com',
  'us2.ddog-gov.com',
] as const;

export class WorkerConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(
      `the worker cannot start; fix ${problems.length === 1 ? 'this setting' : `these ${problems.length} settings`}:\n${problems.map((p) => `  - ${p}`).join('\n')}`,
    );
    this.name = 'WorkerConfigError';
  }
}

/** A value directory that does not exist would only fail at the first rotation: say so at start. */
function checkValueDir(raw: string | null | undefined, problems: string[]): string | null {
  if (raw === undefined || raw === null || raw.trim() === '') return null;
  const dir = resolve(raw);
  try {
    if (statSync(dir).isDirectory()) return dir;
    problems.push(`ROTOR_VALUE_DIR=${raw} is not a directory; set it to the directory holding the KEY=value files plans name in value.fromFile`);
  } catch (err) {
    problems.push(
      `ROTOR_VALUE_DIR=${raw} cannot be used (${(err as NodeJS.ErrnoException).code ?? 'error'}); set it to an existing directory holding the KEY=value files plans name in value.fromFile, or unset it to refuse fromFile`,
    );
  }
  return null;
}

/** An http(s) URL with no credentials in it: they belong in their own settings, never in a URL that is shown. */
function isPlainHttpUrl(raw: string): boolean {
  try {
    const url = new URL(raw);
    return ['http:', 'https:'].includes(url.protocol) && !url.username && !url.password;
  } catch {
    return false;
  }
}

/** The Prometheus provider's settings; every problem named with its variable. Never echoes a credential. */
function prometheusSettings(env: NodeJS.ProcessEnv, problems: string[]): PrometheusSettings | null {
  const url = env.ROTOR_PROMETHEUS_URL;
  const credentials = ['ROTOR_PROMETHEUS_TOKEN', 'ROTOR_PROMETHEUS_USERNAME', 'ROTOR_PROMETHEUS_PASSWORD', 'ROTOR_PROMETHEUS_TIMEOUT'].filter((k) =>
    isSet(env, k),
  );
  if (!url) {
    if (credentials.length)
      problems.push(`${credentials.join(', ')} set without ROTOR_PROMETHEUS_URL; set it to the Prometheus API, e.g. http://prometheus.monitoring:9090`);
    return null;
  }
  if (!isPlainHttpUrl(url)) {
    problems.push(
      `ROTOR_PROMETHEUS_URL is not an http(s) URL without credentials; set it like http://prometheus.monitoring:9090 (credentials go in ROTOR_PROMETHEUS_TOKEN or ROTOR_PROMETHEUS_USERNAME/PASSWORD)`,
    );
  }
  const timeout = parseDuration(env.ROTOR_PROMETHEUS_TIMEOUT ?? '10s');
  if ('error' in timeout || timeout.ms <= 0)
    problems.push(`ROTOR_PROMETHEUS_TIMEOUT=${env.ROTOR_PROMETHEUS_TIMEOUT} is not a duration above zero; set it like 10s`);
  const username = env.ROTOR_PROMETHEUS_USERNAME;
  const token = credentialSetting(env, 'ROTOR_PROMETHEUS_TOKEN', problems);
  const password = credentialSetting(env, 'ROTOR_PROMETHEUS_PASSWORD', problems);
  if (token && (username || password)) problems.push('set ROTOR_PROMETHEUS_TOKEN or ROTOR_PROMETHEUS_USERNAME/PASSWORD, not both');
  if (!!username !== isSet(env, 'ROTOR_PROMETHEUS_PASSWORD'))
    problems.push(
      'ROTOR_PROMETHEUS_USERNAME and ROTOR_PROMETHEUS_PASSWORD go together; set both for basic auth (the password may be ROTOR_PROMETHEUS_PASSWORD_FILE), or neither',
    );
  return {
    url,
    timeoutMs: 'ms' in timeout ? timeout.ms : 10_000,
    ...(token ? { bearerToken: token } : {}),
    ...(username && password ? { basicAuth: { username, password } } : {}),
  };
}

/**
 * The Datadog provider's settings; every problem named with its variable. Never echoes a key. DD_SITE
 * alone is not a problem: the Datadog agent and tracers read it too, so it may be set for them.
 */
function datadogSettings(env: NodeJS.ProcessEnv, problems: string[]): DatadogSettings | null {
  const { DD_SITE: site, ROTOR_DATADOG_URL: url, ROTOR_DATADOG_TIMEOUT: timeoutText } = env;
  if (!isSet(env, 'DD_API_KEY') && !isSet(env, 'DD_APP_KEY')) {
    const stray = ['ROTOR_DATADOG_URL', 'ROTOR_DATADOG_TIMEOUT'].filter((k) => env[k]);
    if (stray.length)
      problems.push(`${stray.join(', ')} set without DD_API_KEY and DD_APP_KEY; set both keys for the Datadog provider, or unset ${stray.join(' and ')}`);
    return null;
  }
  const apiKey = credentialSetting(env, 'DD_API_KEY', problems);
  const appKey = credentialSetting(env, 'DD_APP_KEY', problems);
  if (!isSet(env, 'DD_API_KEY'))
    problems.push('DD_APP_KEY is set without DD_API_KEY; Datadog needs both: set DD_API_KEY (or DD_API_KEY_FILE) to an API key of the organization');
  if (!isSet(env, 'DD_APP_KEY'))
    problems.push('DD_API_KEY is set without DD_APP_KEY; Datadog needs both to query metrics: set DD_APP_KEY (or DD_APP_KEY_FILE) to an application key');
  if (site && url) problems.push('set DD_SITE or ROTOR_DATADOG_URL, not both (ROTOR_DATADOG_URL replaces the site, e.g. for a proxy or the sandbox emulator)');
  if (site && !(DATADOG_SITES as readonly string[]).includes(site)) {
    problems.push(`DD_SITE=${site} is not a Datadog site; set it to one of ${DATADOG_SITES.join(', ')}`);
  }
  if (url) {
    if (!isPlainHttpUrl(url)) {
      problems.push(
        'ROTOR_DATADOG_URL is not an http(s) URL without credentials; set it like https://datadog-proxy.internal:8443 (the keys go in DD_API_KEY and DD_APP_KEY)',
      );
    }
  }
  const timeout = parseDuration(timeoutText ?? '10s');
  if ('error' in timeout || timeout.ms <= 0) problems.push(`ROTOR_DATADOG_TIMEOUT=${timeoutText} is not a duration above zero; set it like 10s`);
  return {
    apiKey: apiKey ?? '',
    appKey: appKey ?? '',
    ...(url ? { url } : { site: site || 'datadoghq.com' }),
    timeoutMs: 'ms' in timeout ? timeout.ms : 10_000,
  };
}

/** The credential issuer's settings (docs/issuer-protocol.md); every problem named with its variable. Never echoes the token. */
function issuerSettings(env: NodeJS.ProcessEnv, problems: string[]): HttpIssuerSettings | null {
  const { ROTOR_ISSUER_URL: url, ROTOR_ISSUER_TIMEOUT: timeoutText } = env;
  if (!url) {
    const stray = ['ROTOR_ISSUER_TOKEN', 'ROTOR_ISSUER_TIMEOUT'].filter((k) => isSet(env, k));
    if (stray.length) problems.push(`${stray.join(', ')} set without ROTOR_ISSUER_URL; set it to the issuer's base URL, e.g. https://issuer.internal:8443`);
    return null;
  }
  if (!isPlainHttpUrl(url)) {
    problems.push(
      'ROTOR_ISSUER_URL is not an http(s) URL without credentials; set it like https://issuer.internal:8443 (the token goes in ROTOR_ISSUER_TOKEN)',
    );
  }
  const token = credentialSetting(env, 'ROTOR_ISSUER_TOKEN', problems);
  if (!isSet(env, 'ROTOR_ISSUER_TOKEN'))
    problems.push(
      'ROTOR_ISSUER_URL is set without ROTOR_ISSUER_TOKEN; set it (or ROTOR_ISSUER_TOKEN_FILE) to the token the issuer expects as `Authorization: Bearer <token>`',
    );
  const timeout = parseDuration(timeoutText ?? '10s');
  if ('error' in timeout || timeout.ms <= 0) problems.push(`ROTOR_ISSUER_TIMEOUT=${timeoutText} is not a duration above zero; set it like 10s`);
  return { url, token: token ?? '', timeoutMs: 'ms' in timeout ? timeout.ms : 10_000 };
}

/** A label key as Kubernetes takes it: an optional DNS-subdomain prefix and `/`, then a name of up to 63 characters. */
function isLabelKey(key: string): boolean {
  const slash = key.lastIndexOf('/');
  const prefix = slash >= 0 ? key.slice(0, slash) : null;
  const name = key.slice(slash + 1);
  const nameOk = name.length <= 63 && /^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/.test(name);
  const prefixOk = prefix === null || (prefix.length <= 253 && /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/.test(prefix));
  return nameOk && prefixOk;
}

function gitopsSettings(env: NodeJS.ProcessEnv, problems: string[]): WorkerConfig['gitops'] {
  const key = env.ROTOR_ARGOCD_INSTANCE_LABEL?.trim();
  if (!key) return {};
  if (!isLabelKey(key)) {
    problems.push(
      `ROTOR_ARGOCD_INSTANCE_LABEL=${key} is not a label key; set it to Argo CD's application.instanceLabelKey (argocd-cm), e.g. app.kubernetes.io/instance, or unset it for the default argocd.argoproj.io/instance`,
    );
    return {};
  }
  return { argoInstanceLabel: key };
}

/**
 * Git mode's access: ROTOR_GIT_TOKEN (or _FILE) for HTTPS, sent as HTTP Basic with ROTOR_GIT_USERNAME
 * (default x-access-token); or ROTOR_GIT_SSH_KEY_FILE for SSH, with ROTOR_GIT_KNOWN_HOSTS_FILE (host keys
 * are checked, never accepted on first use). ROTOR_GIT_CACHE_DIR: where the clones live.
 */
function gitSettings(env: NodeJS.ProcessEnv, problems: string[]): GitAccess | null {
  const token = credentialSetting(env, 'ROTOR_GIT_TOKEN', problems);
  const sshKeyFile = env.ROTOR_GIT_SSH_KEY_FILE?.trim() || undefined;
  const knownHosts = env.ROTOR_GIT_KNOWN_HOSTS_FILE?.trim() || undefined;
  if (sshKeyFile) {
    const key = readPrivateFile(sshKeyFile);
    if ('problem' in key) problems.push(`ROTOR_GIT_SSH_KEY_FILE=${sshKeyFile} ${key.problem}; point it at the deploy key's private file (chmod 600)`);
    if (!knownHosts)
      problems.push(
        "ROTOR_GIT_SSH_KEY_FILE is set without ROTOR_GIT_KNOWN_HOSTS_FILE; point it at a known_hosts file with the Git host's key (ssh-keyscan <host>)",
      );
  } else if (knownHosts) problems.push('ROTOR_GIT_KNOWN_HOSTS_FILE is set without ROTOR_GIT_SSH_KEY_FILE; set both for SSH, or neither');
  const username = env.ROTOR_GIT_USERNAME?.trim() || undefined;
  if (username && token === undefined)
    problems.push('ROTOR_GIT_USERNAME is set without ROTOR_GIT_TOKEN; set ROTOR_GIT_TOKEN_FILE to the token that goes with it');
  if (token === undefined && !sshKeyFile) return null;
  const cacheDir = env.ROTOR_GIT_CACHE_DIR?.trim() || join(tmpdir(), `rotor-git-${process.pid}`);
  return {
    ...(token !== undefined ? { token } : {}),
    ...(username ? { username } : {}),
    ...(sshKeyFile ? { sshKeyFile } : {}),
    ...(knownHosts ? { knownHostsFile: knownHosts } : {}),
    cacheDir,
  };
}

const DEFAULT_PAGE_SIZE = 200;

function pageSize(raw: string | undefined, problems: string[]): number {
  if (raw === undefined || raw.trim() === '') return DEFAULT_PAGE_SIZE;
  const n = Number(raw);
  if (Number.isInteger(n) && n >= 1 && n <= 5000) return n;
  problems.push(`ROTOR_KUBE_PAGE_SIZE=${raw} is not a page size; use a whole number from 1 to 5000 (default ${DEFAULT_PAGE_SIZE})`);
  return DEFAULT_PAGE_SIZE;
}

/** ROTOR_STORES=kubernetes,aws-secrets-manager,external-secrets: each named, unknown ones refused by name. */
function storeSettings(env: NodeJS.ProcessEnv, problems: string[]): { stores: StoreKind[]; aws: WorkerConfig['aws'] } {
  const served: StoreKind[] = ['kubernetes', 'aws-secrets-manager', 'external-secrets'];
  const named = (env.ROTOR_STORES ?? 'kubernetes')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  const stores: StoreKind[] = ['kubernetes'];
  for (const name of named) {
    if (!(STORE_KINDS as readonly string[]).includes(name)) problems.push(`ROTOR_STORES names ${name}, which is not a store; use ${served.join(', ')}`);
    else if (!served.includes(name as StoreKind)) problems.push(`ROTOR_STORES names ${name}, which this release does not serve yet; use ${served.join(', ')}`);
    else if (!stores.includes(name as StoreKind)) stores.push(name as StoreKind);
  }
  const endpoint = env.ROTOR_AWS_ENDPOINT;
  const region = env.AWS_REGION || env.AWS_DEFAULT_REGION || undefined;
  if (endpoint && !isPlainHttpUrl(endpoint))
    problems.push('ROTOR_AWS_ENDPOINT is not an http(s) URL without credentials; set it like http://127.0.0.1:5000 (credentials come from the AWS chain)');
  if (endpoint && !stores.includes('aws-secrets-manager') && !stores.includes('external-secrets'))
    problems.push('ROTOR_AWS_ENDPOINT is set but ROTOR_STORES names neither aws-secrets-manager nor external-secrets; add one, or unset ROTOR_AWS_ENDPOINT');
  return { stores, aws: { ...(region ? { region } : {}), ...(endpoint ? { endpoint } : {}) } };
}

export function workerConfig(env: NodeJS.ProcessEnv = process.env, overrides: Partial<WorkerConfig> = {}): WorkerConfig {
  const { settings, problems } = readTemporalSettings(env, overrides);
  const backend = overrides.backend ?? ((env.ROTOR_BACKEND ?? 'kubernetes') as WorkerConfig['backend']);
  if (backend !== 'memory' && backend !== 'kubernetes') {
    problems.push(`ROTOR_BACKEND=${backend} is not a backend; use "kubernetes" (KUBECONFIG) or "memory" (ROTOR_MEMORY_WORLD=world.json)`);
  }
  const memoryWorld = overrides.memoryWorld ?? env.ROTOR_MEMORY_WORLD ?? null;
  if (backend === 'memory' && !memoryWorld) {
    problems.push('the memory backend needs ROTOR_MEMORY_WORLD=<world.json> (secrets, workloads and metrics to rehearse against)');
  }
  const valueDir = checkValueDir(overrides.valueDir !== undefined ? overrides.valueDir : env.ROTOR_VALUE_DIR, problems);
  const prometheus = overrides.prometheus !== undefined ? overrides.prometheus : prometheusSettings(env, problems);
  const datadog = overrides.datadog !== undefined ? overrides.datadog : datadogSettings(env, problems);
  const issuer = overrides.issuer !== undefined ? overrides.issuer : issuerSettings(env, problems);
  const { stores, aws } = storeSettings(env, problems);
  const gitops = overrides.gitops ?? gitopsSettings(env, problems);
  const git = overrides.git !== undefined ? overrides.git : gitSettings(env, problems);
  const deploymentId = overrides.deploymentId !== undefined ? overrides.deploymentId : env.ROTOR_DEPLOYMENT_ID?.trim() || null;
  if (deploymentId !== null && !/^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/.test(deploymentId)) {
    problems.push(
      `ROTOR_DEPLOYMENT_ID=${deploymentId} is not a deployment id; use up to 63 letters, digits, ".", "_" or "-" (e.g. prod-eu-1), or unset it to use the Temporal server's cluster id`,
    );
  }
  const kubePageSize = overrides.kubePageSize ?? pageSize(env.ROTOR_KUBE_PAGE_SIZE, problems);
  const metricsAddr = overrides.metricsAddr !== undefined ? overrides.metricsAddr : listenAddress('ROTOR_METRICS_ADDR', env.ROTOR_METRICS_ADDR, problems);
  const notify = overrides.notify !== undefined ? overrides.notify : notifySettings(env, problems);
  const tuning = overrides.tuning ?? workerTuning(env, problems);
  if (problems.length) throw new WorkerConfigError(problems);
  return {
    kubePageSize,
    ...settings,
    backend,
    memoryWorld,
    valueDir,
    prometheus,
    datadog,
    issuer,
    stores: overrides.stores ?? stores,
    aws: overrides.aws ?? aws,
    deploymentId,
    gitops,
    git,
    kube: overrides.kube ?? {},
    metricsAddr,
    notify,
    tuning,
  };
}

/**
 * `[host]:port` to listen on (`:9464` every interface, `127.0.0.1:9464`, `[::1]:9464`; port 0 takes a
 * free one); unset or empty: null.
 */
function listenAddress(name: string, raw: string | undefined, problems: string[]): { host: string; port: number } | null {
  const text = raw?.trim();
  if (!text) return null;
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([A-Za-z0-9.-]*)):(\d{1,5})$/.exec(text);
  const port = m ? Number(m[3]) : NaN;
  if (!m || port > 65535) {
    problems.push(`${name}=${text} is not a listen address; set it like :9464 (every interface) or 127.0.0.1:9464, or unset it to serve no metrics`);
    return null;
  }
  return { host: m[1] ?? (m[2] || '0.0.0.0'), port };
}
