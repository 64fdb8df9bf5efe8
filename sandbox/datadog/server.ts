// A Datadog API emulator for the sandbox and the tests: real Datadog cannot be reached here, so this
// server speaks enough of Datadog's wire protocol (paths, auth headers, JSON shapes, error bodies,
// rate-limit headers) that the official client `@datadog/datadog-api-client` works against it
// unchanged. Its metrics come from the traffic model's counters (sandbox/traffic-counters.ts).
//
// The query language is parsed in query.ts and evaluated in evaluate.ts over the traffic counters;
// endpoints.ts answers each request; this file is the HTTP server: keys, rate limits, outages, routes.
//
// Endpoints: GET /api/v1/validate, GET /api/v1/query, POST /api/v2/query/scalar, GET
// /api/v1/monitor/{id}, GET /api/v1/monitor?monitor_ids=..., POST /api/v1/events. Every request
// needs DD-API-KEY; all but validate and events need DD-APPLICATION-KEY too (403 otherwise).
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { TrafficCounters } from '../traffic-counters';
import { datadogApi, HttpError, type Answer, type EmulatedEvent, type EmulatedMonitor } from './endpoints';

interface EmulatedRequest {
  method: string;
  path: string;
  status: number;
}

export interface DatadogEmulatorOptions {
  counters: TrafficCounters;
  /** The organization's keys; read at each request, so a test can rotate them while it runs. */
  apiKey: string;
  appKey: string;
  /** Data younger than this is not visible yet, like Datadog's ingestion delay. Default 0. */
  ingestDelayMs?: number;
  /** The fixed-window limit every rate-limit name allows (default 1000 requests per 60 s). */
  rateLimit?: { limit: number; periodSeconds: number };
  log?: (line: string) => void;
}

export interface DatadogEmulator {
  /** Base URL, e.g. http://127.0.0.1:40123: give it to the client as its base server. */
  url: string;
  setMonitor(id: number, monitor: EmulatedMonitor): void;
  /** The events posted so far, oldest first. */
  events(): EmulatedEvent[];
  /** The next `n` query requests (v1 query, v2 scalar) answer 429 with x-ratelimit-reset: resetSeconds. */
  throttle(n: number, resetSeconds: number): void;
  /** While true every request answers 503, as in an outage. */
  down(on: boolean): void;
  /** Every request answered so far, oldest first. */
  requests(): EmulatedRequest[];
  /** How many requests reached `path` (e.g. /api/v2/query/scalar). */
  requestCount(path: string): number;
  stop(): Promise<void>;
}

/** Which requests need which keys, and which rate limit counts them. */
interface Route {
  name: string;
  appKey: boolean;
  query: boolean;
  handle(url: URL, body: unknown): Answer;
}

const MAX_BODY = 1 << 20;

async function readJson(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY) throw new HttpError(413, ['Request entity too large']);
    chunks.push(chunk as Buffer);
  }
  const text = Buffer.concat(chunks).toString('utf8');
  if (text.trim() === '') return undefined;
  try {
    return JSON.parse(text);
  } catch {
    throw new HttpError(400, ['Invalid JSON in the request body']);
  }
}

export async function startDatadogEmulator(opts: DatadogEmulatorOptions): Promise<DatadogEmulator> {
  const { counters } = opts;
  const ingestDelayMs = opts.ingestDelayMs ?? 0;
  const rateLimit = opts.rateLimit ?? { limit: 1000, periodSeconds: 60 };
  const seen: EmulatedRequest[] = [];
  const windows = new Map<string, { start: number; used: number }>();
  let throttled = 0;
  let throttleReset = 0;
  let isDown = false;

  // Set once listening: a port of the kernel's choosing, taken at once (a probed one could be lost first).
  let url = '';
  const api = datadogApi({ counters, ingestDelayMs, url: () => url });

  function route(method: string, path: string): Route | null {
    if (method === 'GET' && path === '/api/v1/validate')
      return { name: 'validate', appKey: false, query: false, handle: () => ({ status: 200, body: { valid: true } }) };
    if (method === 'GET' && path === '/api/v1/query') return { name: 'query', appKey: true, query: true, handle: api.queryV1 };
    if (method === 'POST' && path === '/api/v2/query/scalar') return { name: 'query_scalar', appKey: true, query: true, handle: api.queryScalar };
    if (method === 'GET' && path === '/api/v1/monitor') return { name: 'monitor_list', appKey: true, query: false, handle: api.listMonitors };
    if (method === 'GET' && path.startsWith('/api/v1/monitor/')) return { name: 'monitor_get', appKey: true, query: false, handle: api.getMonitor };
    if (method === 'POST' && path === '/api/v1/events') return { name: 'events', appKey: false, query: false, handle: api.postEvent };
    return null;
  }

  /** Datadog's rate-limit headers for `name`, counting this request in a fixed window. */
  function rateHeaders(name: string, now: number): { headers: Record<string, string>; exceeded: boolean } {
    const periodMs = rateLimit.periodSeconds * 1000;
    const start = now - (now % periodMs);
    const w = windows.get(name)?.start === start ? windows.get(name)! : { start, used: 0 };
    w.used += 1;
    windows.set(name, w);
    return {
      exceeded: w.used > rateLimit.limit,
      headers: {
        'x-ratelimit-limit': String(rateLimit.limit),
        'x-ratelimit-period': String(rateLimit.periodSeconds),
        'x-ratelimit-remaining': String(Math.max(0, rateLimit.limit - w.used)),
        'x-ratelimit-reset': String(Math.ceil((start + periodMs - now) / 1000)),
        'x-ratelimit-name': name,
      },
    };
  }

  function answer(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
    res.writeHead(status, { 'Content-Type': 'application/json', ...headers }).end(JSON.stringify(body));
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const u = new URL(req.url ?? '/', url);
    const method = req.method ?? 'GET';
    const record = (status: number) => {
      seen.push({ method, path: u.pathname, status });
      if (status >= 300) opts.log?.(`datadog emulator: ${method} ${u.pathname} -> ${status}`);
    };
    // An outage answers before anything else, and without rate-limit headers (they come from the API,
    // which is down; the client would otherwise wait the period's reset before each retry).
    if (isDown) {
      record(503);
      return answer(res, 503, { errors: ['Service Unavailable'] });
    }
    const r = route(method, u.pathname);
    const limits = rateHeaders(r?.name ?? 'other', Date.now());
    if (!r) {
      record(404);
      return answer(res, 404, { errors: ['Not found'] }, limits.headers);
    }
    if (req.headers['dd-api-key'] !== opts.apiKey || (r.appKey && req.headers['dd-application-key'] !== opts.appKey)) {
      record(403);
      return answer(res, 403, { errors: ['Forbidden'] }, limits.headers);
    }
    if (r.query && throttled > 0) {
      throttled -= 1;
      record(429);
      return answer(
        res,
        429,
        { errors: ['Too many requests'] },
        { ...limits.headers, 'x-ratelimit-remaining': '0', 'x-ratelimit-reset': String(throttleReset) },
      );
    }
    if (limits.exceeded) {
      record(429);
      return answer(res, 429, { errors: ['Too many requests'] }, limits.headers);
    }
    try {
      const body = method === 'POST' ? await readJson(req) : undefined;
      const out = r.handle(u, body);
      record(out.status);
      answer(res, out.status, out.body, limits.headers);
    } catch (err) {
      if (!(err instanceof HttpError)) throw err;
      record(err.status);
      answer(res, err.status, { errors: err.errors }, limits.headers);
    }
  }

  const server = createServer((req, res) => {
    handle(req, res).catch((err: Error) => {
      seen.push({ method: req.method ?? 'GET', path: req.url ?? '/', status: 500 });
      opts.log?.(`datadog emulator: ${req.method} ${req.url} failed: ${err.message}`);
      if (!res.headersSent) answer(res, 500, { errors: ['Internal Server Error'] });
      else res.end();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  url = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  opts.log?.(`datadog emulator on ${url}${ingestDelayMs ? `, ingestion delay ${ingestDelayMs / 1000} s` : ''}`);

  return {
    url,
    setMonitor: api.setMonitor,
    events: api.events,
    throttle(n, resetSeconds) {
      throttled = n;
      throttleReset = resetSeconds;
    },
    down(on) {
      isDown = on;
    },
    requests: () => seen.map((r) => ({ ...r })),
    requestCount: (path) => seen.filter((r) => r.path === path).length,
    async stop() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
