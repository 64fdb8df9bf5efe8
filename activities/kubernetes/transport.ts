// How the adapter talks to kube-apiserver: no request waits longer than REQUEST_TIMEOUT_MS (a paused or
// unreachable apiserver becomes an error the step is retried on, not a step that hangs until its
// start-to-close limit), and an answer that says "not now" is asked again within that time, as
// client-go does, instead of failing a step that made a hundred requests because one was throttled:
// 429 (honouring Retry-After) for any request, since the apiserver did not act on it; 500, 502, 503,
// 504 and a dropped connection for reads only (a write's fate is then unknown, and the step's own
// retry, idempotent by construction, finds out). Every try goes through the worker's rate limiter
// (rate-limit.ts), and a 429 closes it for everyone for its Retry-After.
import * as k8s from '@kubernetes/client-node';
import { REQUEST_TIMEOUT_MS } from './kinds';
import type { KubeRateLimiter } from './rate-limit';

/** Tries per request, and the longest wait between two (a Retry-After beyond it is cut to it). */
const REQUEST_TRIES = 5;
const MAX_WAIT_MS = 5_000;
const READS = new Set(['GET', 'HEAD']);
const TRANSIENT = new Set([500, 502, 503, 504]);

/** The wait before try `attempt + 1`: the server's Retry-After when it gave one, else 200 ms doubling. */
export function retryWait(attempt: number, retryAfter: string | undefined | null): number {
  const seconds = retryAfter ? Number(retryAfter) : NaN;
  const asked = Number.isFinite(seconds) && seconds >= 0 ? seconds * 1000 : 200 * 2 ** (attempt - 1);
  return Math.min(asked, MAX_WAIT_MS);
}

/** Whether an answer with `status` (null: no answer, the connection failed) to a `method` request is asked again. */
export function askAgain(method: string, status: number | null): boolean {
  if (status === 429) return true;
  return READS.has(method) && (status === null || TRANSIENT.has(status));
}

const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener('abort', () => {
      clearTimeout(timer);
      reject(signal.reason);
    });
  });

/** One try's answer: its status (null: none came), the server's Retry-After, and what the caller gets if it is the last. */
export interface Try<T> {
  status: number | null;
  retryAfter?: string | null;
  settle(): T;
  /** Let go of an answer that is asked again (its body, so the connection goes back to the pool). */
  discard?(): Promise<unknown>;
}

/**
 * `attempt` through the limiter until an answer that is not asked again, the tries run out, `signal`
 * aborts or the next wait would pass `deadline`. A 429 closes the limiter's gate for its Retry-After:
 * every request of the worker waits, not only this one; other answers asked again wait on their own.
 */
export async function askUntilAnswered<T>(
  method: string,
  limiter: KubeRateLimiter | null,
  attempt: () => Promise<Try<T>>,
  bounds: { signal?: AbortSignal | null; deadline?: number } = {},
): Promise<T> {
  for (let n = 1; ; n++) {
    await limiter?.take();
    const answer = await attempt();
    const wait = retryWait(n, answer.retryAfter);
    if (answer.status === 429) limiter?.closeFor(wait);
    if (n >= REQUEST_TRIES || !askAgain(method, answer.status) || bounds.signal?.aborted || Date.now() + wait > (bounds.deadline ?? Infinity))
      return answer.settle();
    await answer.discard?.().catch(() => undefined);
    if (answer.status !== 429 || !limiter) await sleep(wait, bounds.signal ?? undefined);
  }
}

class RetryingHttpLibrary implements k8s.HttpLibrary {
  constructor(
    private readonly inner: k8s.HttpLibrary,
    private readonly limiter: KubeRateLimiter | null,
    private readonly timeoutMs: number,
  ) {}

  send(request: k8s.RequestContext): k8s.Observable<k8s.ResponseContext> {
    const method = request.getHttpMethod().toString();
    const caller = request.getSignal() ?? undefined;
    // The time limit runs from when the limiter first lets the request go, not from when it queued: a
    // long queue under the rate limit is waiting its turn, not an apiserver that does not answer (a
    // request whose limit ran out in the queue would spend its turn on failing at once).
    let deadline: number | undefined;
    return new k8s.Observable(
      askUntilAnswered(
        method,
        this.limiter,
        () => {
          deadline ??= Date.now() + this.timeoutMs;
          const limit = AbortSignal.timeout(Math.max(1, deadline - Date.now()));
          request.setSignal(caller ? AbortSignal.any([caller, limit]) : limit);
          return this.inner
            .send(request)
            .toPromise()
            .then(
              (response): Try<k8s.ResponseContext> => ({
                status: response.httpStatusCode,
                retryAfter: response.headers['retry-after'],
                settle: () => response,
                discard: () => response.body.text(),
              }),
              (err: unknown): Try<k8s.ResponseContext> => ({
                status: null,
                settle: () => {
                  throw err;
                },
              }),
            );
        },
        {
          signal: caller,
          get deadline() {
            return deadline;
          },
        },
      ),
    );
  }
}

/**
 * `kc`, with every API client made from it ending its requests after `timeoutMs`, going through
 * `limiter` (rate-limit.ts; null: none) and asking again as above; `http` sends them (HTTP by default;
 * the memory backend answers them in-process).
 */
export function resilient(
  kc: k8s.KubeConfig,
  timeoutMs = REQUEST_TIMEOUT_MS,
  http: k8s.HttpLibrary = new k8s.IsomorphicFetchHttpLibrary(),
  limiter: KubeRateLimiter | null = null,
): k8s.KubeConfig {
  const wrapped = Object.create(kc) as k8s.KubeConfig;
  const httpApi = new RetryingHttpLibrary(http, limiter, timeoutMs);
  wrapped.makeApiClient = <T extends k8s.ApiType>(apiClientType: new (config: k8s.Configuration) => T): T => {
    const cluster = kc.getCurrentCluster();
    if (!cluster) throw new Error('No active cluster!');
    const config = k8s.createConfiguration({
      baseServer: new k8s.ServerConfiguration(cluster.server, {}),
      authMethods: { default: wrapped },
      httpApi,
    });
    return new apiClientType(config);
  };
  return wrapped;
}
