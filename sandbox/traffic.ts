// The traffic model: the incident's auth-service. Every Ready pod the simulator runs for a workload
// labelled `rotor.dev/traffic` resolves its token when its container starts (environment variables
// are fixed then, as in a real container: a Secret changed later is not seen until a restart) and
// calls the auth API emulator at a steady rate with it. A pod on a bad or revoked token fails every
// request, so error rates rise and fall for real reasons.
import type * as k8s from '@kubernetes/client-node';
import { CALLER_HEADERS } from './auth-api';
import type { TrafficLabels } from './traffic-counters';

/** The pod label that marks a workload the model runs traffic for. */
export const TRAFFIC_LABEL = 'rotor.dev/traffic';

export interface TrafficOptions {
  /** The auth API emulator's base URL. */
  apiUrl: string;
  /** The environment variable holding the token (default API_TOKEN). */
  tokenEnv?: string;
  /** Requests per second per pod (default 10). */
  ratePerPod?: number;
  /** How often requests are sent, in ms (default 100). */
  tickMs?: number;
  log?: (line: string) => void;
}

/** A running pod as the model sees it: where its token came from, and the token itself (never logged). */
interface Caller {
  labels: TrafficLabels;
  token: string | null;
  due: number;
}

/** The container environment at start: plain values and those read from Secrets, with each Secret-sourced variable's Secret. */
export interface StartedEnv {
  values: Record<string, string>;
  /** variable -> the Secret it was read from */
  secretOf: Record<string, string>;
}

type SecretIndex = Map<string, Record<string, string>>;

/** What the first container's environment is when it starts, from the Secrets that exist now. */
export function resolveEnv(pod: k8s.V1Pod, secrets: SecretIndex): StartedEnv {
  const ns = pod.metadata?.namespace ?? 'default';
  const decode = (b64: string | undefined) => (b64 === undefined ? undefined : Buffer.from(b64, 'base64').toString('utf8'));
  const values: Record<string, string> = {};
  const secretOf: Record<string, string> = {};
  const container = pod.spec?.containers?.[0];
  for (const from of container?.envFrom ?? []) {
    const name = from.secretRef?.name;
    const data = name ? secrets.get(`${ns}/${name}`) : undefined;
    for (const [key, b64] of Object.entries(data ?? {})) {
      values[`${from.prefix ?? ''}${key}`] = decode(b64)!;
      secretOf[`${from.prefix ?? ''}${key}`] = name!;
    }
  }
  for (const env of container?.env ?? []) {
    if (env.value !== undefined) {
      values[env.name] = env.value;
      delete secretOf[env.name];
      continue;
    }
    const ref = env.valueFrom?.secretKeyRef;
    const value = ref?.name ? decode(secrets.get(`${ns}/${ref.name}`)?.[ref.key]) : undefined;
    if (ref?.name && value !== undefined) {
      values[env.name] = value;
      secretOf[env.name] = ref.name;
    }
  }
  return { values, secretOf };
}

/** The workload a pod belongs to: its controller, with a ReplicaSet's pod-template-hash taken off. */
export function workloadOf(pod: k8s.V1Pod): string {
  const owner = (pod.metadata?.ownerReferences ?? []).find((o) => o.controller) ?? pod.metadata?.ownerReferences?.[0];
  if (!owner) return pod.metadata?.name ?? 'unknown';
  const hash = pod.metadata?.labels?.['pod-template-hash'];
  return owner.kind === 'ReplicaSet' && hash && owner.name.endsWith(`-${hash}`) ? owner.name.slice(0, -hash.length - 1) : owner.name;
}

export class TrafficModel {
  private readonly callers = new Map<string, Caller>();
  private timer: NodeJS.Timeout | null = null;
  private inFlight = new Set<Promise<void>>();
  private readonly options: Required<Omit<TrafficOptions, 'log'>> & Pick<TrafficOptions, 'log'>;
  /** Requests that could not be sent at all (the API down): they count as errors nowhere but here. */
  unsent = 0;

  constructor(options: TrafficOptions) {
    this.options = { tokenEnv: 'API_TOKEN', ratePerPod: 10, tickMs: 100, ...options };
  }

  /** Whether the model runs traffic for this pod. */
  static wants(pod: k8s.V1Pod): boolean {
    return pod.metadata?.labels?.[TRAFFIC_LABEL] !== undefined;
  }

  /** A container started: its token is fixed from now on. */
  podStarted(pod: k8s.V1Pod, env: StartedEnv): void {
    if (!TrafficModel.wants(pod)) return;
    const uid = pod.metadata!.uid!;
    const variable = this.options.tokenEnv;
    const labels: TrafficLabels = {
      namespace: pod.metadata!.namespace!,
      workload: workloadOf(pod),
      pod: pod.metadata!.name!,
      version: env.secretOf[variable] ?? 'none',
    };
    this.callers.set(uid, { labels, token: env.values[variable] ?? null, due: 0 });
    this.options.log?.(`[traffic] ${labels.namespace}/${labels.pod} started on ${labels.version}`);
  }

  /** A container stopped (pod deleted or no longer ready). */
  podStopped(uid: string): void {
    const caller = this.callers.get(uid);
    if (!caller) return;
    this.callers.delete(uid);
    this.options.log?.(`[traffic] ${caller.labels.namespace}/${caller.labels.pod} stopped`);
  }

  /** The pods sending now, by namespace/pod, with the version each started on. */
  running(): TrafficLabels[] {
    return [...this.callers.values()].map((c) => ({ ...c.labels }));
  }

  start(): void {
    let last = Date.now();
    this.timer = setInterval(() => {
      const now = Date.now();
      const elapsed = now - last;
      last = now;
      for (const caller of this.callers.values()) {
        caller.due += (this.options.ratePerPod * elapsed) / 1000;
        while (caller.due >= 1) {
          caller.due -= 1;
          this.send(caller);
        }
      }
    }, this.options.tickMs);
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await Promise.allSettled([...this.inFlight]);
  }

  private send(caller: Caller): void {
    const { labels, token } = caller;
    const headers: Record<string, string> = {
      [CALLER_HEADERS.namespace]: labels.namespace,
      [CALLER_HEADERS.workload]: labels.workload,
      [CALLER_HEADERS.pod]: labels.pod,
      [CALLER_HEADERS.version]: labels.version,
    };
    if (token) headers.authorization = `Bearer ${token}`;
    const request = fetch(`${this.options.apiUrl}/v1/authenticate`, { method: 'POST', headers, signal: AbortSignal.timeout(5000) })
      .then((res) => res.arrayBuffer())
      .then(
        () => undefined,
        () => void (this.unsent += 1),
      );
    this.inFlight.add(request);
    void request.finally(() => this.inFlight.delete(request));
  }
}
