// The local world for tests and the demo: a real control plane plus the pod simulator.
import { freePort, startControlPlane, type ControlPlane, type ControlPlaneOptions } from './control-plane';
import { PodSimulator, type SimulatorOptions } from './pod-simulator';
import { AuthApi } from './auth-api';
import type { IssuerMode } from '../activities/issuers/memory';
import { startPrometheus, type PrometheusServer } from './prometheus';
import { TrafficModel, type TrafficOptions } from './traffic';
import { randomBytes } from 'node:crypto';
import { startDatadogEmulator, type DatadogEmulator } from './datadog/server';

/** The Datadog emulator, its keys, and the worker settings that point rotor's Datadog provider at it. */
interface SandboxDatadog {
  emulator: DatadogEmulator;
  apiKey: string;
  appKey: string;
  /** DD_API_KEY, DD_APP_KEY and ROTOR_DATADOG_URL for a worker. */
  workerEnv: Record<string, string>;
}

/** The auth-service traffic model: the auth API emulator, the pods' requests, and what measures them. */
export interface SandboxTraffic {
  api: AuthApi;
  model: TrafficModel;
  /** A real Prometheus scraping the auth API emulator, when asked for. */
  prometheus: PrometheusServer | null;
  /** The Datadog API emulator reading the same counts, when asked for. */
  datadog: SandboxDatadog | null;
  /** The auth API's credential issuer (docs/issuer-protocol.md), when asked for: ROTOR_ISSUER_URL and _TOKEN for a worker. */
  issuer: { workerEnv: Record<string, string> } | null;
  /** With Prometheus: the address it scrapes a worker's metrics at (job rotor-worker), for the worker's ROTOR_METRICS_ADDR. */
  workerMetricsAddr: string | null;
}

export interface Sandbox {
  plane: ControlPlane;
  simulator: PodSimulator;
  traffic: SandboxTraffic | null;
  stop(): Promise<void>;
}

export interface SandboxOptions extends ControlPlaneOptions, Omit<SimulatorOptions, 'kubeconfig' | 'onContainerStart' | 'onContainerStop'> {
  /** Run the traffic model (and, with `prometheus`, a Prometheus scraping it every scrapeIntervalMs). */
  traffic?: Omit<TrafficOptions, 'apiUrl' | 'log'> & {
    acceptUnknown?: boolean;
    prometheus?: boolean;
    scrapeIntervalMs?: number;
    /** Run the Datadog emulator on the same counts (ingestDelayMs: how late points become visible). */
    datadog?: boolean | { ingestDelayMs?: number };
    /** Let the auth API issue credentials: the incident's provider, or an overlapping one (at most maxLive per client). */
    issuer?: { mode: IssuerMode; maxLive?: number };
  };
}

/**
 * The sandbox of `npm run sandbox`: the traffic model (auth API emulator, lenient: unknown tokens pass
 * until marked bad), a real Prometheus scraping it every 5 s, the Datadog emulator reading the same
 * counts 5 s late, and the overlapping credential issuer. examples/plan-sandbox.yaml runs on it as is.
 */
export const SANDBOX_OPTIONS = {
  readyDelayMs: 1000,
  traffic: { acceptUnknown: true, prometheus: true, scrapeIntervalMs: 5000, datadog: { ingestDelayMs: 5000 }, issuer: { mode: 'overlapping' } },
} satisfies SandboxOptions;

/** A worker's settings for the sandbox's Prometheus, Datadog emulator and credential issuer (what `npm run sandbox` writes to worker.env). */
export function sandboxWorkerEnv(traffic: SandboxTraffic): Record<string, string> {
  return {
    ROTOR_PROMETHEUS_URL: traffic.prometheus!.url,
    ...(traffic.workerMetricsAddr ? { ROTOR_METRICS_ADDR: traffic.workerMetricsAddr } : {}),
    ...traffic.datadog!.workerEnv,
    ...traffic.issuer!.workerEnv,
  };
}

/** Starts what `traffic` asks for; stops what it started if a later part fails. */
async function startTraffic(options: SandboxOptions): Promise<SandboxTraffic | null> {
  if (!options.traffic) return null;
  const { prometheus: withPrometheus, scrapeIntervalMs, acceptUnknown, datadog: withDatadog, issuer: withIssuer, ...model } = options.traffic;
  // The issuer's own token, fresh per sandbox: the worker presents it, anyone else is refused.
  const issuerToken = randomBytes(18).toString('base64url');
  const api = new AuthApi({ acceptUnknown, log: options.log, ...(withIssuer ? { issuer: { ...withIssuer, token: issuerToken } } : {}) });
  const url = await api.start();
  let prometheus: PrometheusServer | null = null;
  // The worker's metrics port, chosen now so Prometheus scrapes it from the start.
  const workerMetricsAddr = withPrometheus ? `127.0.0.1:${await freePort()}` : null;
  try {
    prometheus = withPrometheus
      ? await startPrometheus({
          targets: [url.replace('http://', '')],
          workers: workerMetricsAddr ? [workerMetricsAddr] : [],
          scrapeIntervalMs,
          log: options.log,
        })
      : null;
    let datadog: SandboxDatadog | null = null;
    if (withDatadog) {
      // Fresh keys per sandbox: the emulator refuses any other, as Datadog does.
      const apiKey = randomBytes(16).toString('hex');
      const appKey = randomBytes(20).toString('hex');
      const ingestDelayMs = typeof withDatadog === 'object' ? withDatadog.ingestDelayMs : undefined;
      const emulator = await startDatadogEmulator({ counters: api.counters, apiKey, appKey, ingestDelayMs, log: options.log });
      datadog = { emulator, apiKey, appKey, workerEnv: { DD_API_KEY: apiKey, DD_APP_KEY: appKey, ROTOR_DATADOG_URL: emulator.url } };
    }
    const issuer = withIssuer ? { workerEnv: { ROTOR_ISSUER_URL: url, ROTOR_ISSUER_TOKEN: issuerToken } } : null;
    return { api, model: new TrafficModel({ ...model, apiUrl: url, log: options.log }), prometheus, datadog, issuer, workerMetricsAddr };
  } catch (err) {
    await prometheus?.stop();
    await api.stop();
    throw err;
  }
}

export async function startSandbox(options: SandboxOptions = {}): Promise<Sandbox> {
  const traffic = await startTraffic(options);
  const stopTraffic = async () => {
    await traffic?.model.stop();
    await traffic?.datadog?.emulator.stop();
    await traffic?.prometheus?.stop();
    await traffic?.api.stop();
  };
  let plane: ControlPlane;
  try {
    plane = await startControlPlane(options);
  } catch (err) {
    await stopTraffic();
    throw err;
  }
  const simulator = new PodSimulator({
    ...options,
    kubeconfig: plane.simulatorKubeconfig,
    ...(traffic ? { onContainerStart: (pod, env) => traffic.model.podStarted(pod, env), onContainerStop: (uid) => traffic.model.podStopped(uid) } : {}),
  });
  try {
    await simulator.start();
    traffic?.model.start();
  } catch (err) {
    await plane.stop();
    await stopTraffic();
    throw err;
  }
  return {
    plane,
    simulator,
    traffic,
    /** The simulator, then the control plane (controller-manager, apiserver, etcd), then the traffic model's servers. */
    async stop() {
      options.log?.('stopping the pod simulator ...');
      await simulator.stop();
      await plane.stop();
      await stopTraffic();
    },
  };
}

export { startControlPlane };
export { grantPlanFile, grantPlans, workerKubeconfig } from './worker-identity';
