// The worker's configuration from the environment, checked as a whole before anything connects:
// every bad or missing setting is reported at once, each naming its variable and a valid value.
import { statSync } from 'node:fs';
import { resolve } from 'node:path';
import type { PrometheusSettings } from '../activities/metrics/prometheus';
import { parseDuration } from '../domain/duration';
import { readTemporalSettings, type TemporalSettings } from '../temporal/settings';

export interface WorkerConfig extends TemporalSettings {
  backend: 'memory' | 'kubernetes';
  memoryWorld: string | null;
  /** ROTOR_VALUE_DIR, absolute: the only directory `value.fromFile` reads from; null refuses fromFile. */
  valueDir: string | null;
  /** ROTOR_PROMETHEUS_*: the Prometheus provider; null when ROTOR_PROMETHEUS_URL is not set. */
  prometheus: PrometheusSettings | null;
}

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

/** The Prometheus provider's settings; every problem named with its variable. Never echoes a credential. */
function prometheusSettings(env: NodeJS.ProcessEnv, problems: string[]): PrometheusSettings | null {
  const url = env.ROTOR_PROMETHEUS_URL;
  const credentials = ['ROTOR_PROMETHEUS_TOKEN', 'ROTOR_PROMETHEUS_USERNAME', 'ROTOR_PROMETHEUS_PASSWORD', 'ROTOR_PROMETHEUS_TIMEOUT'].filter((k) => env[k]);
  if (!url) {
    if (credentials.length)
      problems.push(`${credentials.join(', ')} set without ROTOR_PROMETHEUS_URL; set it to the Prometheus API, e.g. http://prometheus.monitoring:9090`);
    return null;
  }
  let parsed: URL | null = null;
  try {
    parsed = new URL(url);
  } catch {
    /* reported below */
  }
  if (!parsed || !['http:', 'https:'].includes(parsed.protocol) || parsed.username || parsed.password) {
    problems.push(
      `ROTOR_PROMETHEUS_URL is not an http(s) URL without credentials; set it like http://prometheus.monitoring:9090 (credentials go in ROTOR_PROMETHEUS_TOKEN or ROTOR_PROMETHEUS_USERNAME/PASSWORD)`,
    );
  }
  const timeout = parseDuration(env.ROTOR_PROMETHEUS_TIMEOUT ?? '10s');
  if ('error' in timeout || timeout.ms <= 0)
    problems.push(`ROTOR_PROMETHEUS_TIMEOUT=${env.ROTOR_PROMETHEUS_TIMEOUT} is not a duration above zero; set it like 10s`);
  const { ROTOR_PROMETHEUS_TOKEN: token, ROTOR_PROMETHEUS_USERNAME: username, ROTOR_PROMETHEUS_PASSWORD: password } = env;
  if (token && (username || password)) problems.push('set ROTOR_PROMETHEUS_TOKEN or ROTOR_PROMETHEUS_USERNAME/PASSWORD, not both');
  if (!!username !== !!password) problems.push('ROTOR_PROMETHEUS_USERNAME and ROTOR_PROMETHEUS_PASSWORD go together; set both for basic auth, or neither');
  return {
    url,
    timeoutMs: 'ms' in timeout ? timeout.ms : 10_000,
    ...(token ? { bearerToken: token } : {}),
    ...(username && password ? { basicAuth: { username, password } } : {}),
  };
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
  if (problems.length) throw new WorkerConfigError(problems);
  return { ...settings, backend, memoryWorld, valueDir, prometheus };
}
