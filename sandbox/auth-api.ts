// The external auth API emulator: the service the incident's auth-service calls with its token. It
// knows which tokens are valid (anywhere, or only from callers in one namespace: a token scoped to one
// environment, 403 elsewhere), can be told that one is bad (the wrong scope: 403) or revoked (401),
// and counts every request and error by the caller's namespace, workload, pod and secret version.
// Prometheus scrapes the counts at /metrics (prom-client); the Datadog emulator reads the same
// counters. Tokens are kept only as SHA-256 digests and never logged.
import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { Counter, Registry } from 'prom-client';
import { TrafficCounters, type TrafficLabels } from './traffic-counters';
import { RotorError } from '../activities/errors';
import { MemoryCredentialIssuer } from '../activities/issuers/memory';
import type { IssuedCredential } from '../activities/ports';

export type TokenState = 'valid' | 'bad-scope' | 'revoked';

/** The headers a simulated pod sends, so the emulator can count by caller. */
export const CALLER_HEADERS = {
  namespace: 'x-caller-namespace',
  workload: 'x-caller-workload',
  pod: 'x-caller-pod',
  version: 'x-caller-version',
} as const satisfies Record<keyof TrafficLabels, string>;

export interface AuthApiOptions {
  counters?: TrafficCounters;
  /** Accept tokens nobody registered (a lenient provider); by default an unknown token is 401. */
  acceptUnknown?: boolean;
  log?: (line: string) => void;
  /**
   * The credential issuer (docs/issuer-protocol.md): `incident` revokes every older credential the
   * moment it issues one (the provider of the incident); `overlapping` keeps them valid until each is
   * revoked, at most `maxLive` at once.
   */
  issuer?: { mode: 'incident' | 'overlapping'; maxLive?: number; token: string; scope?: string };
}

const digest = (token: string) => createHash('sha256').update(token).digest('hex');

export class AuthApi {
  readonly counters: TrafficCounters;
  readonly registry = new Registry();
  private readonly tokens = new Map<string, { state: TokenState; onlyFrom?: string }>();
  private readonly requests: Counter<keyof TrafficLabels>;
  private readonly errors: Counter<keyof TrafficLabels>;
  private server: Server | null = null;
  /** The credential issuer this API runs, when asked for one; its rules live in the memory issuer. */
  readonly issuer: MemoryCredentialIssuer | null;
  url = '';

  constructor(private readonly options: AuthApiOptions = {}) {
    this.counters = options.counters ?? new TrafficCounters();
    const labelNames = ['namespace', 'workload', 'pod', 'version'] as const;
    this.requests = new Counter({ name: 'auth_requests_total', help: 'Requests to the auth API, by caller', labelNames, registers: [this.registry] });
    this.errors = new Counter({
      name: 'auth_requests_errors_total',
      help: 'Requests the auth API refused (bad, revoked or unknown token), by caller',
      labelNames,
      registers: [this.registry],
    });
    const issuer = options.issuer;
    this.issuer = issuer
      ? new MemoryCredentialIssuer({
          mode: issuer.mode,
          maxLive: issuer.maxLive,
          scope: issuer.scope,
          log: options.log,
          onToken: (token, state, onlyFrom) => this.setToken(token, state, onlyFrom),
        })
      : null;
    this.counters.onRecord((labels, ok) => {
      this.requests.inc(labels);
      // Every caller's error series exists from its first request, so rate() over it is 0, not absent.
      this.errors.inc(labels, ok ? 0 : 1);
    });
  }

  /** Register a token as valid (with `onlyFrom`: only for callers in that namespace), bad (wrong scope) or revoked. */
  setToken(token: string, state: TokenState, onlyFrom?: string): void {
    this.tokens.set(digest(token), { state, ...(onlyFrom ? { onlyFrom } : {}) });
  }

  /**
   * The answer the API gives a token from a caller in `namespace`: 200, 401 (revoked or unknown) or 403
   * (wrong scope, or valid only for callers in another namespace).
   */
  /** Answers of /v1/verify (pre-flight checks), apart from the services' requests. */
  readonly verifications = { passed: 0, refused: 0 };

  check(token: string | null, namespace: string): 200 | 401 | 403 {
    if (!token) return 401;
    const known = this.tokens.get(digest(token));
    if (!known) return this.options.acceptUnknown ? 200 : 401;
    if (known.state === 'valid') return known.onlyFrom === undefined || known.onlyFrom === namespace ? 200 : 403;
    return known.state === 'bad-scope' ? 403 : 401;
  }

  async start(): Promise<string> {
    this.server = createServer((req, res) => {
      this.handle(req, res).catch((err) => {
        res.statusCode = 500;
        res.end(JSON.stringify({ error: String(err?.message ?? err) }));
      });
    });
    this.server.keepAliveTimeout = 30_000;
    // Port 0: the kernel's choice, bound at once (a port probed free could be taken before the bind).
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as { port: number }).port}`;
    this.options.log?.(`auth API emulator on ${this.url} (metrics at /metrics)`);
    return this.url;
  }

  async stop(): Promise<void> {
    const server = this.server;
    this.server = null;
    if (!server) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method === 'GET' && path === '/metrics') {
      res.setHeader('Content-Type', this.registry.contentType);
      res.end(await this.registry.metrics());
      return;
    }
    if (path.startsWith('/v1/credentials')) {
      await this.issuerEndpoint(req, res, path);
      return;
    }
    if (req.method === 'POST' && path === '/admin/tokens') {
      // The sandbox operator's lever: { "token": "...", "state": "valid" | "bad-scope" | "revoked" }.
      const body = await readBody(req);
      let parsed: { token?: unknown; state?: unknown } = {};
      try {
        parsed = JSON.parse(body);
      } catch {
        /* answered below */
      }
      const states: TokenState[] = ['valid', 'bad-scope', 'revoked'];
      if (typeof parsed.token !== 'string' || !parsed.token || !states.includes(parsed.state as TokenState)) {
        res.statusCode = 400;
        res.end(JSON.stringify({ error: `send {"token": "<the token>", "state": one of ${states.join(', ')}}` }));
        return;
      }
      this.setToken(parsed.token, parsed.state as TokenState);
      res.statusCode = 204;
      res.end();
      return;
    }
    if ((req.method === 'GET' || req.method === 'POST') && path === '/v1/verify') {
      // A token's check without a call of the service behind it (pre-flight checks use it): answered as
      // /v1/authenticate would for a caller in `?env=<namespace>`, counted apart from the services' requests.
      req.resume();
      const auth = req.headers.authorization ?? '';
      const env = new URL(req.url ?? '/', 'http://x').searchParams.get('env') ?? 'unknown';
      const code = this.check(auth.startsWith('Bearer ') ? auth.slice('Bearer '.length) : null, env);
      this.verifications[code === 200 ? 'passed' : 'refused'] += 1;
      res.statusCode = code;
      res.setHeader('Content-Type', 'application/json');
      res.end(JSON.stringify(code === 200 ? { ok: true, env } : { error: code === 403 ? 'insufficient_scope' : 'invalid_token', env }));
      return;
    }
    if (req.method === 'POST' && path === '/v1/authenticate') {
      req.resume();
      const auth = req.headers.authorization ?? '';
      const header = (name: string) => String(req.headers[name] ?? 'unknown');
      const labels: TrafficLabels = {
        namespace: header(CALLER_HEADERS.namespace),
        workload: header(CALLER_HEADERS.workload),
        pod: header(CALLER_HEADERS.pod),
        version: header(CALLER_HEADERS.version),
      };
      const code = this.check(auth.startsWith('Bearer ') ? auth.slice('Bearer '.length) : null, labels.namespace);
      this.counters.record(labels, code === 200);
      res.statusCode = code;
      res.setHeader('Content-Type', 'application/json');
      res.end(JSON.stringify(code === 200 ? { ok: true } : { error: code === 403 ? 'insufficient_scope' : 'invalid_token' }));
      return;
    }
    res.statusCode = 404;
    res.end(JSON.stringify({ error: `no such endpoint: ${req.method} ${path}` }));
  }

  /** The credentials issued so far, without their tokens: for tests and the demo's table. */
  issued(): (IssuedCredential & { scope?: string })[] {
    return this.issuer?.issued() ?? [];
  }

  /** The issuer protocol (docs/issuer-protocol.md) over HTTP; the rules are the memory issuer's. */
  private async issuerEndpoint(req: IncomingMessage, res: ServerResponse, path: string): Promise<void> {
    const answer = (status: number, body: unknown) => {
      res.statusCode = status;
      res.setHeader('Content-Type', 'application/json');
      res.end(JSON.stringify(body));
    };
    const body = await readBody(req);
    const issuer = this.issuer;
    if (!issuer) return answer(404, { error: 'this auth API issues no credentials' });
    if (req.headers.authorization !== `Bearer ${this.options.issuer!.token}`) return answer(401, { error: 'missing or wrong issuer token' });
    const m = /^\/v1\/credentials(?:\/([^/]+))?(\/revoke)?$/.exec(path);
    const id = m?.[1] ? decodeURIComponent(m[1]) : undefined;
    try {
      if (req.method === 'POST' && m && !id && !m[2]) {
        let request: { id?: unknown; scope?: unknown } = {};
        try {
          request = JSON.parse(body || '{}');
        } catch {
          /* refused below as a request without an id */
        }
        const wanted = { id: typeof request.id === 'string' ? request.id : '', ...(typeof request.scope === 'string' ? { scope: request.scope } : {}) };
        const issued = await issuer.issue(wanted);
        return answer(issued.created ? 201 : 200, { ...(await issuer.status(wanted.id)), token: issued.token });
      }
      if (m && id && req.method === 'GET' && !m[2]) return answer(200, await issuer.status(id));
      if (m && id && req.method === 'POST' && m[2]) return answer(200, await issuer.revoke(id));
      return answer(m ? 405 : 404, { error: `${req.method} is not allowed on ${path}` });
    } catch (err) {
      const type = err instanceof RotorError ? err.type : 'Unavailable';
      const status = { RotorInputError: 400, NotFound: 404, Conflict: 409 }[type as string] ?? 503;
      return answer(status, { error: (err as Error).message });
    }
  }
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    let data = '';
    req.on('data', (d) => (data += d));
    req.on('end', () => resolve(data));
    req.on('error', reject);
  });
}
