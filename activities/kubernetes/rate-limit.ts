// The worker's own limit on what it asks of kube-apiserver: one token bucket per worker process, in
// client-go's convention (QPS: tokens added per second; burst: what the bucket holds, so what may go at
// once after a quiet spell), through which every request goes: the typed clients (transport.ts) and the
// scan's reader (cluster-scan.ts). The same bucket is the gate a 429 closes: when the apiserver's
// priority and fairness answers "too many requests, retry after N s", nothing more of this worker goes
// until then (not only the request refused), and the bucket starts again empty so it does not rush back.

/** The time as the limiter sees it; tests give their own. */
export interface Clock {
  now(): number;
  sleep(ms: number): Promise<void>;
}

const realClock: Clock = { now: () => performance.now(), sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)) };

/**
 * client-go's defaults are 5 QPS, burst 10, sized for controllers that watch; rotor lists instead
 * (a reference scan is one request a page of every kind) and does a few reads and patches a step.
 * kubectl itself has used 50 and 300 since 1.27. 50 QPS and a burst of 100 let a 100k-object scan
 * finish in seconds while 1,000 rotations on one worker stay at 50 requests a second.
 */
export const DEFAULT_KUBE_QPS = 50;
export const DEFAULT_KUBE_BURST = 100;

/**
 * Lists at once in a scan, the pod-bearing kinds and every other resource together; each holds at
 * most one page in memory (ROTOR_KUBE_SCAN_CONCURRENCY). Enough to overlap the apiserver's work on
 * one list with the next, few enough that a scan takes a handful of the seats priority and fairness
 * gives rotor's flow (a list of many objects counts for several).
 */
export const DEFAULT_SCAN_CONCURRENCY = 6;

export interface RateLimits {
  qps: number;
  burst: number;
}

export class KubeRateLimiter {
  private tokens: number;
  /** When `tokens` was counted. */
  private at: number;
  /** Nothing goes before this (a 429's Retry-After). */
  private closedUntil = -Infinity;
  /** The requests waiting for their turn, first come first served, and whether one loop is handing out turns. */
  private readonly queue: (() => void)[] = [];
  private pumping = false;
  /** Requests let through, and how often a 429 closed the gate. */
  readonly counts = { taken: 0, closed: 0 };

  constructor(
    readonly limits: RateLimits = { qps: DEFAULT_KUBE_QPS, burst: DEFAULT_KUBE_BURST },
    private readonly clock: Clock = realClock,
  ) {
    if (!(limits.qps > 0) || !(limits.burst >= 1)) throw new RangeError(`a rate limit needs qps > 0 and burst >= 1 (got ${limits.qps}, ${limits.burst})`);
    this.tokens = limits.burst;
    this.at = clock.now();
  }

  /** Resolves when this request may go: the gate open and a token taken, after every request that asked before it. */
  take(): Promise<void> {
    return new Promise((resolve) => {
      this.queue.push(resolve);
      if (!this.pumping) void this.pump();
    });
  }

  /** Hands out turns while requests wait: the gate first, then a token, else sleeps until one is due. */
  private async pump(): Promise<void> {
    this.pumping = true;
    try {
      while (this.queue.length) {
        const now = this.clock.now();
        if (now < this.closedUntil) {
          await this.clock.sleep(this.closedUntil - now);
          continue;
        }
        this.tokens = Math.min(this.limits.burst, this.tokens + ((now - this.at) * this.limits.qps) / 1000);
        this.at = now;
        if (this.tokens >= 1) {
          this.tokens -= 1;
          this.counts.taken += 1;
          this.queue.shift()!();
          continue;
        }
        await this.clock.sleep(((1 - this.tokens) * 1000) / this.limits.qps);
      }
    } finally {
      this.pumping = false;
    }
  }

  /**
   * The apiserver said "not before `ms` from now" (a 429's Retry-After): nothing of this worker goes
   * until then, and it reopens with one token, so what waited goes on at the steady rate, not all at once.
   */
  closeFor(ms: number): void {
    const until = this.clock.now() + ms;
    if (until <= this.closedUntil) return;
    this.closedUntil = until;
    this.counts.closed += 1;
    this.tokens = 1;
    this.at = until;
  }
}
