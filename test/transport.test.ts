// Unit: when the Kubernetes adapter asks the apiserver again, how long it waits, the worker's rate
// limiter (a token bucket and the gate a 429 closes, on a clock of the test's own: no timed
// assertions), the scan's one bound and its 410 restart, and the settings. The same rules against the
// real apiserver behind the fault proxy are in faults-answers.test.ts and reference-scan.test.ts.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import * as k8s from '@kubernetes/client-node';
import { askAgain, askUntilAnswered, resilient, retryWait, type Try } from '../activities/kubernetes/transport';
import { KubeRateLimiter, type Clock } from '../activities/kubernetes/rate-limit';
import { pool } from '../activities/kubernetes/cluster-scan';
import { keepFromPages, type Obj } from '../activities/kubernetes/kinds';
import { workerConfig, WorkerConfigError } from '../worker/config';
import { memoryKubeConfig } from '../activities/memory/connection';

describe('asking the apiserver again', () => {
  it('asks any request again after a 429, and only reads after a server error or a dropped connection', () => {
    for (const method of ['GET', 'PATCH', 'POST', 'PUT', 'DELETE']) assert.equal(askAgain(method, 429), true, `${method} 429`);
    for (const status of [500, 502, 503, 504, null]) {
      assert.equal(askAgain('GET', status), true, `GET ${status}`);
      for (const method of ['PATCH', 'POST', 'PUT', 'DELETE']) assert.equal(askAgain(method, status), false, `${method} ${status}: its fate is unknown`);
    }
    for (const status of [200, 201, 400, 401, 403, 404, 409, 410, 422]) assert.equal(askAgain('GET', status), false, `GET ${status} is an answer`);
  });

  it("waits as the server's Retry-After says, up to 5 s, else 200 ms doubling", () => {
    assert.equal(retryWait(1, '2'), 2000);
    assert.equal(retryWait(3, '0'), 0);
    assert.equal(retryWait(1, '600'), 5000, 'a long Retry-After is cut to the cap');
    assert.deepEqual(
      [1, 2, 3, 4, 5, 6].map((a) => retryWait(a, null)),
      [200, 400, 800, 1600, 3200, 5000],
    );
    assert.equal(retryWait(2, 'Wed, 21 Oct 2015 07:28:00 GMT'), 400, 'an HTTP date is not a number of seconds: the backoff applies');
  });
});

describe('worker setting ROTOR_KUBE_PAGE_SIZE', () => {
  it('defaults to 200 and takes a whole number from 1 to 5000', () => {
    assert.equal(workerConfig({}).kubePageSize, 200);
    assert.equal(workerConfig({ ROTOR_KUBE_PAGE_SIZE: '50' }).kubePageSize, 50);
    for (const bad of ['0', '-1', '2.5', 'many', '5001'])
      assert.throws(
        () => workerConfig({ ROTOR_KUBE_PAGE_SIZE: bad }),
        (err: Error) => err instanceof WorkerConfigError && err.message.includes(`ROTOR_KUBE_PAGE_SIZE=${bad} is not a page size`),
        bad,
      );
  });
});

/** A clock the test moves: sleepers wake only when `advance` passes their time. */
class TestClock implements Clock {
  t = 0;
  private sleepers: { at: number; wake: () => void }[] = [];
  now = () => this.t;
  sleep = (ms: number) => new Promise<void>((wake) => this.sleepers.push({ at: this.t + ms, wake }));
  async advance(ms: number): Promise<void> {
    const end = this.t + ms;
    // Wake in time order, letting each woken caller run (and perhaps sleep again) before moving on.
    for (;;) {
      await settle();
      const next = this.sleepers.filter((s) => s.at <= end).sort((a, b) => a.at - b.at)[0];
      if (!next) break;
      this.t = Math.max(this.t, next.at);
      this.sleepers = this.sleepers.filter((s) => s !== next);
      next.wake();
    }
    this.t = end;
    await settle();
  }
}
const settle = async () => {
  for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r));
};

/** `n` calls of take() at once; which have gone, in order. */
function burst(limiter: KubeRateLimiter, n: number): number[] {
  const gone: number[] = [];
  for (let i = 0; i < n; i++) void limiter.take().then(() => gone.push(i));
  return gone;
}

describe("the worker's rate limiter (client-go's QPS and burst)", () => {
  it('lets a burst go at once, then one request each 1/QPS s, first come first served', async () => {
    const clock = new TestClock();
    const limiter = new KubeRateLimiter({ qps: 2, burst: 3 }, clock);
    const gone = burst(limiter, 7);
    await settle();
    assert.deepEqual(gone, [0, 1, 2], 'the burst goes at once');
    await clock.advance(499);
    assert.deepEqual(gone, [0, 1, 2], 'nothing before 1/QPS');
    await clock.advance(1);
    assert.deepEqual(gone, [0, 1, 2, 3]);
    await clock.advance(1500);
    assert.deepEqual(gone, [0, 1, 2, 3, 4, 5, 6], 'then QPS a second, in order');
    // A quiet spell refills the bucket, up to the burst and no more.
    await clock.advance(60_000);
    const next = burst(limiter, 4);
    await settle();
    assert.equal(next.length, 3);
    assert.equal(limiter.counts.taken, 10, 'let through: 7, then 3 of 4');
  });

  it("holds everyone for a 429's Retry-After, then goes on at the steady rate, not all at once", async () => {
    const clock = new TestClock();
    const limiter = new KubeRateLimiter({ qps: 10, burst: 10 }, clock);
    const waitingForToken = burst(limiter, 11); // the 11th waits for a token (100 ms)
    await settle();
    assert.equal(waitingForToken.length, 10);
    limiter.closeFor(1000);
    const after = burst(limiter, 3);
    await clock.advance(999);
    assert.equal(waitingForToken.length, 10, 'a request already waiting for its token waits for the gate too');
    assert.deepEqual(after, [], 'nothing goes while the gate is closed');
    await clock.advance(1);
    assert.equal(waitingForToken.length, 11, 'the first in line goes when the gate opens');
    assert.deepEqual(after, [], 'the bucket reopens with one token');
    await clock.advance(100);
    assert.deepEqual(after, [0]);
    await clock.advance(200);
    assert.deepEqual(after, [0, 1, 2]);
    // A shorter Retry-After does not shorten a longer one already in force.
    limiter.closeFor(500);
    limiter.closeFor(100);
    const late = burst(limiter, 1);
    await clock.advance(400);
    assert.deepEqual(late, []);
    await clock.advance(200);
    assert.deepEqual(late, [0]);
    assert.equal(limiter.counts.closed, 2);
  });

  it('refuses limits client-go would not take', () => {
    for (const limits of [
      { qps: 0, burst: 1 },
      { qps: -1, burst: 1 },
      { qps: 5, burst: 0 },
      { qps: NaN, burst: 5 },
    ])
      assert.throws(() => new KubeRateLimiter(limits), RangeError, JSON.stringify(limits));
  });

  it('is the gate a 429 closes: asked again after the Retry-After through the limiter, and only so many times', async () => {
    const clock = new TestClock();
    const limiter = new KubeRateLimiter({ qps: 1000, burst: 1000 }, clock);
    const answers: Try<string>[] = [
      { status: 429, retryAfter: '2', settle: () => 'throttled' },
      { status: 200, settle: () => 'ok' },
    ];
    let tries = 0;
    let result: string | undefined;
    void askUntilAnswered('GET', limiter, async () => answers[tries++]).then((r) => (result = r));
    await settle();
    assert.equal(tries, 1);
    const other = burst(limiter, 1);
    await clock.advance(1999);
    assert.deepEqual([tries, other.length], [1, 0], 'neither the throttled request nor any other goes before the Retry-After');
    await clock.advance(1);
    assert.deepEqual([tries, result], [2, 'ok'], 'the throttled request goes first when the gate opens');
    await clock.advance(1);
    assert.equal(other.length, 1);
    // Bounded: a 429 every time ends after 5 tries with the last answer.
    let more = 0;
    let last: string | undefined;
    void askUntilAnswered('GET', limiter, async () => {
      const n = ++more;
      return { status: 429, retryAfter: '1', settle: () => `429 #${n}` };
    }).then((r) => (last = r));
    await clock.advance(10_000);
    assert.deepEqual([more, last], [5, '429 #5']);
  });
});

describe("the scan's bound and its consistent listing", () => {
  it('runs at most `limit` at once across everyone holding the same slots, each started in order', async () => {
    const slots = pool(3);
    let running = 0;
    let most = 0;
    const started: string[] = [];
    const job = (name: string) =>
      slots(async () => {
        started.push(name);
        most = Math.max(most, ++running);
        await settle();
        running--;
        return name;
      });
    const kinds = ['Deployment', 'Pod', 'Job'].map(job);
    const shaped = ['configmaps', 'ingresses', 'serviceaccounts', 'widgets'].map(job);
    assert.deepEqual(await Promise.all([...kinds, ...shaped]), ['Deployment', 'Pod', 'Job', 'configmaps', 'ingresses', 'serviceaccounts', 'widgets']);
    assert.equal(most, 3);
    assert.deepEqual(started, ['Deployment', 'Pod', 'Job', 'configmaps', 'ingresses', 'serviceaccounts', 'widgets']);
  });

  it('restarts a listing whose continue token expired from its first page, keeping nothing of the failed pass', async () => {
    const pages: Obj[][] = [[{ metadata: { name: 'a' } }, { metadata: { name: 'b' } }], [{ metadata: { name: 'c' } }]];
    const asked: (string | undefined)[] = [];
    let expire = 1;
    const kept = await keepFromPages(
      async (cont) => {
        asked.push(cont);
        if (cont && expire-- > 0) throw Object.assign(new Error('HTTP 410'), { code: 410 });
        const i = cont ? Number(cont) : 0;
        return { items: pages[i], cont: i + 1 < pages.length ? String(i + 1) : undefined };
      },
      (obj) => obj.metadata!.name!,
    );
    assert.deepEqual(kept, ['a', 'b', 'c'], 'no duplicates of the first pass');
    assert.deepEqual(asked, [undefined, '1', undefined, '1']);
    // Bounded: a token that always expires ends with the 410 after 4 passes.
    let passes = 0;
    await assert.rejects(
      keepFromPages(
        async (cont) => {
          if (!cont) passes++;
          if (cont) throw Object.assign(new Error('HTTP 410'), { code: 410 });
          return { items: [], cont: 'x' };
        },
        () => null,
      ),
      (err: { code?: number }) => err.code === 410,
    );
    assert.equal(passes, 4);
  });
});

describe('worker settings ROTOR_KUBE_QPS, ROTOR_KUBE_BURST, ROTOR_KUBE_SCAN_CONCURRENCY', () => {
  it('default to 50, 100 and 6', () => {
    const config = workerConfig({});
    assert.deepEqual(config.kubeRateLimits, { qps: 50, burst: 100 });
    assert.equal(config.kubeScanConcurrency, 6);
  });

  it('take client-go-like values, the burst following a QPS above it when unset', () => {
    assert.deepEqual(workerConfig({ ROTOR_KUBE_QPS: '2.5', ROTOR_KUBE_BURST: '5' }).kubeRateLimits, { qps: 2.5, burst: 5 });
    assert.deepEqual(workerConfig({ ROTOR_KUBE_QPS: '400' }).kubeRateLimits, { qps: 400, burst: 400 });
    assert.equal(workerConfig({ ROTOR_KUBE_SCAN_CONCURRENCY: '12' }).kubeScanConcurrency, 12);
  });

  it('refuse bad values, naming the variable and the fix', () => {
    const refused: [NodeJS.ProcessEnv, RegExp][] = [
      [{ ROTOR_KUBE_QPS: '0' }, /ROTOR_KUBE_QPS=0 is not a request rate; use a number of requests a second above 0/],
      [{ ROTOR_KUBE_QPS: 'fast' }, /ROTOR_KUBE_QPS=fast is not a request rate/],
      [{ ROTOR_KUBE_BURST: '1.5' }, /ROTOR_KUBE_BURST=1\.5 is not a burst; use a whole number/],
      [
        { ROTOR_KUBE_QPS: '50', ROTOR_KUBE_BURST: '10' },
        /ROTOR_KUBE_BURST=10 is below ROTOR_KUBE_QPS=50; set the burst to at least the QPS .*ROTOR_KUBE_BURST=100/,
      ],
      [{ ROTOR_KUBE_SCAN_CONCURRENCY: '0' }, /ROTOR_KUBE_SCAN_CONCURRENCY=0 is not a number of lists at once; use a whole number from 1 to 64/],
    ];
    for (const [env, message] of refused)
      assert.throws(
        () => workerConfig(env),
        (err: Error) => err instanceof WorkerConfigError && message.test(err.message),
        JSON.stringify(env),
      );
  });
});

describe("a request's time limit under the rate limiter", () => {
  /** An apiserver answering every request with a Namespace after `delayMs` (never, when null), failing when the request's signal aborts. */
  function fakeServer(delayMs: number | null) {
    const seen: { aborted: boolean }[] = [];
    const http: k8s.HttpLibrary = {
      send: (request) =>
        new k8s.Observable(
          new Promise<k8s.ResponseContext>((resolve, reject) => {
            const signal = request.getSignal();
            const record = { aborted: !!signal?.aborted };
            seen.push(record);
            if (signal?.aborted) return reject(new Error('aborted before it went'));
            let answered = false;
            signal?.addEventListener('abort', () => {
              if (answered) return;
              record.aborted = true;
              reject(new Error('aborted'));
            });
            if (delayMs === null) return;
            setTimeout(() => {
              answered = true;
              const text = JSON.stringify({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'x' } });
              resolve(new k8s.ResponseContext(200, { 'content-type': 'application/json' }, { text: async () => text, binary: async () => Buffer.from(text) }));
            }, delayMs);
          }),
        ),
    };
    return { http, seen };
  }

  function core(http: k8s.HttpLibrary, limiter: KubeRateLimiter, timeoutMs: number) {
    return resilient(memoryKubeConfig(), timeoutMs, http, limiter).makeApiClient(k8s.CoreV1Api);
  }

  it('runs from when the limiter lets the request go: a request that queued longer than it still goes, and is answered', async () => {
    // One token, then one each 250 ms: the fourth request waits at least 750 ms in the queue, five times its 150 ms limit.
    const server = fakeServer(1);
    const api = core(server.http, new KubeRateLimiter({ qps: 4, burst: 1 }), 150);
    const names = await Promise.all([1, 2, 3, 4].map(() => api.readNamespace({ name: 'x' }).then((ns) => ns.metadata?.name)));
    assert.deepEqual(names, ['x', 'x', 'x', 'x']);
    assert.deepEqual(
      server.seen.map((r) => r.aborted),
      [false, false, false, false],
      'no request went with its limit spent',
    );
  });

  it('still ends a request the apiserver never answers, after its tries', async () => {
    const server = fakeServer(null);
    const api = core(server.http, new KubeRateLimiter({ qps: 1000, burst: 1000 }), 100);
    // AbortSignal.timeout's timer keeps no process alive; a worker has its connections, this test a timer.
    const alive = setInterval(() => undefined, 1000);
    await assert.rejects(api.readNamespace({ name: 'x' })).finally(() => clearInterval(alive));
    assert.ok(server.seen.length >= 1 && server.seen.every((r) => r.aborted), `every try aborted: ${JSON.stringify(server.seen)}`);
  });
});
