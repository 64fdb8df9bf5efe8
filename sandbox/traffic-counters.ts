// The traffic model's counters: every request the simulated auth-service sends to the auth API
// emulator, by namespace, workload, pod and secret version, in fixed time buckets. Prometheus reads
// the running totals (as counters), the Datadog emulator reads the buckets (as count points).

export interface TrafficLabels {
  namespace: string;
  /** The workload that owns the pod: Deployment, StatefulSet, DaemonSet (or a canary copy). */
  workload: string;
  pod: string;
  /** The Secret the pod's token came from, e.g. api-token-20261130120000. */
  version: string;
}

export interface TrafficBucket {
  /** Start of the bucket, ms since the epoch. */
  atMs: number;
  labels: TrafficLabels;
  requests: number;
  errors: number;
}

export interface TrafficTotal {
  labels: TrafficLabels;
  requests: number;
  errors: number;
}

const keyOf = (l: TrafficLabels) => `${l.namespace}\u0000${l.workload}\u0000${l.pod}\u0000${l.version}`;

export class TrafficCounters {
  private readonly buckets = new Map<number, Map<string, TrafficBucket>>();
  private readonly totals = new Map<string, TrafficTotal>();
  private readonly listeners: ((labels: TrafficLabels, ok: boolean) => void)[] = [];

  constructor(
    readonly bucketMs = 1000,
    readonly retainMs = 60 * 60_000,
  ) {}

  /** One request answered: `ok` false counts an error too. */
  record(labels: TrafficLabels, ok: boolean, atMs = Date.now()): void {
    const start = atMs - (atMs % this.bucketMs);
    let bucket = this.buckets.get(start);
    if (!bucket) {
      bucket = new Map();
      this.buckets.set(start, bucket);
      this.prune(start);
    }
    const key = keyOf(labels);
    const b = bucket.get(key) ?? { atMs: start, labels: { ...labels }, requests: 0, errors: 0 };
    b.requests += 1;
    if (!ok) b.errors += 1;
    bucket.set(key, b);
    const t = this.totals.get(key) ?? { labels: { ...labels }, requests: 0, errors: 0 };
    t.requests += 1;
    if (!ok) t.errors += 1;
    this.totals.set(key, t);
    for (const listener of this.listeners) listener(labels, ok);
  }

  /** Called after every recorded request (e.g. to update exported counters). */
  onRecord(listener: (labels: TrafficLabels, ok: boolean) => void): void {
    this.listeners.push(listener);
  }

  /** The buckets that start in [fromMs, toMs), oldest first. */
  range(fromMs: number, toMs: number): TrafficBucket[] {
    return [...this.buckets.entries()]
      .filter(([at]) => at >= fromMs - (fromMs % this.bucketMs) && at < toMs)
      .sort(([a], [b]) => a - b)
      .flatMap(([, bucket]) => [...bucket.values()].map((b) => ({ ...b, labels: { ...b.labels } })));
  }

  /** Running totals since start, per label set. */
  allTotals(): TrafficTotal[] {
    return [...this.totals.values()].map((t) => ({ ...t, labels: { ...t.labels } }));
  }

  /** Sums over the buckets in [fromMs, toMs) of the label sets `match` accepts. */
  sum(fromMs: number, toMs: number, match: (l: TrafficLabels) => boolean = () => true): { requests: number; errors: number } {
    let requests = 0;
    let errors = 0;
    for (const b of this.range(fromMs, toMs)) {
      if (!match(b.labels)) continue;
      requests += b.requests;
      errors += b.errors;
    }
    return { requests, errors };
  }

  private prune(now: number): void {
    for (const at of this.buckets.keys()) if (at < now - this.retainMs) this.buckets.delete(at);
  }
}
