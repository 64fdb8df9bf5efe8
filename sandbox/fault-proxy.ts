// A fault proxy in front of kube-apiserver, for the fault-injection suite and the recovery bench: plain
// HTTP on a loopback port (the worker's kubeconfig points at it), HTTPS with the cluster's CA to the
// apiserver behind it. Rules decide, per request, to pass it, delay it, answer it with an error status
// as the apiserver would (409 Conflict, 429 with Retry-After, 500, 503, 410 Expired for a list's
// continue token), or reset the connection. Everything else is passed through untouched, the token too.
import { readFileSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { parse, stringify } from 'yaml';

type Fault =
  | { kind: 'status'; code: 409 | 429 | 500 | 503; retryAfterSeconds?: number }
  /** A list's continue token has expired (etcd compacted): what the apiserver says then. */
  | { kind: 'expired' }
  | { kind: 'reset' }
  /** Passed to the apiserver, which makes the change; its answer never reaches the client (a reset). */
  | { kind: 'lost' }
  | { kind: 'delay'; ms: number };

interface FaultRule {
  /** e.g. `PATCH`, or null for any method. */
  method?: string | null;
  /** Matched against the path and query, e.g. /\/deployments\// or /continue=/. */
  path?: RegExp;
  fault: Fault;
  /** How many requests it applies to; Infinity by default. */
  times?: number;
  /** Apply to one matching request in `every` (1: all). */
  every?: number;
}

export interface FaultProxy {
  url: string;
  /** The rules in force, first match wins; replace to change them. */
  rules: FaultRule[];
  /** Requests seen and faults injected, by kind. */
  counts: { requests: number; methods: Record<string, number>; injected: Record<string, number> };
  /** When an array: every request as it arrives (method, path and query, what was injected, `performance.now()`); null: none kept. */
  log: { method: string; url: string; injected: string | null; at: number }[] | null;
  /**
   * Hold every request and every answer not yet relayed until `release()`: a step that has begun cannot
   * end (nor change anything more) while it is held, whatever the machine's load.
   */
  hold(): void;
  release(): void;
  stop(): Promise<void>;
}

const REASONS: Record<number, string> = { 409: 'Conflict', 429: 'TooManyRequests', 500: 'InternalError', 503: 'ServiceUnavailable', 410: 'Expired' };

function statusBody(code: number, message: string): string {
  return JSON.stringify({ kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason: REASONS[code], code });
}

/**
 * The proxy in front of `target.server`. With `clientCert`, it authenticates to the apiserver with
 * that certificate (e.g. the sandbox's admin), for clients that cannot send one over plain HTTP.
 */
export async function startFaultProxy(target: { server: string; caFile: string; clientCert?: { certFile: string; keyFile: string } }): Promise<FaultProxy> {
  const upstream = new URL(target.server);
  const agent = new https.Agent({
    ca: readFileSync(target.caFile),
    keepAlive: true,
    ...(target.clientCert ? { cert: readFileSync(target.clientCert.certFile), key: readFileSync(target.clientCert.keyFile) } : {}),
  });
  const seen = new Map<FaultRule, number>();
  let held: (() => void)[] | null = null;
  /** Runs `go` now, or once the proxy is released. */
  const whenOpen = (go: () => void) => (held ? held.push(go) : go());
  const proxy: FaultProxy = {
    url: '',
    rules: [],
    counts: { requests: 0, methods: {}, injected: {} },
    log: null,
    hold: () => {
      held ??= [];
    },
    release: () => {
      const waiting = held ?? [];
      held = null;
      for (const go of waiting) go();
    },
    stop: async () => undefined,
  };

  function faultFor(req: http.IncomingMessage): Fault | null {
    for (const rule of proxy.rules) {
      if (rule.method && rule.method !== req.method) continue;
      if (rule.path && !rule.path.test(req.url ?? '')) continue;
      const n = (seen.get(rule) ?? 0) + 1;
      seen.set(rule, n);
      if (n > (rule.times ?? Infinity) * (rule.every ?? 1)) continue;
      if ((n - 1) % (rule.every ?? 1) !== 0) continue;
      return rule.fault;
    }
    return null;
  }

  function pass(req: http.IncomingMessage, res: http.ServerResponse, loseAnswer = false): void {
    const out = https.request(
      {
        protocol: 'https:',
        hostname: upstream.hostname,
        port: upstream.port,
        method: req.method,
        path: req.url,
        headers: { ...req.headers, host: upstream.host },
        agent,
      },
      (answer) => {
        if (loseAnswer) {
          answer.resume();
          answer.on('end', () => req.socket.destroy());
          return;
        }
        whenOpen(() => {
          res.writeHead(answer.statusCode ?? 502, answer.headers);
          answer.pipe(res);
        });
      },
    );
    out.on('error', () => res.destroy());
    req.pipe(out);
  }

  const server = http.createServer((req, res) => whenOpen(() => handle(req, res)));
  function handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    proxy.counts.requests += 1;
    proxy.counts.methods[req.method ?? '?'] = (proxy.counts.methods[req.method ?? '?'] ?? 0) + 1;
    const fault = faultFor(req);
    const name = !fault ? null : fault.kind === 'status' ? String(fault.code) : fault.kind;
    proxy.log?.push({ method: req.method ?? '?', url: req.url ?? '', injected: name, at: performance.now() });
    if (!fault || !name) return pass(req, res);
    proxy.counts.injected[name] = (proxy.counts.injected[name] ?? 0) + 1;
    if (fault.kind === 'delay') {
      setTimeout(() => whenOpen(() => pass(req, res)), fault.ms);
      return;
    }
    if (fault.kind === 'lost') return pass(req, res, true);
    req.resume();
    if (fault.kind === 'reset') {
      req.socket.destroy();
      return;
    }
    const code = fault.kind === 'expired' ? 410 : fault.code;
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    if (fault.kind === 'status' && fault.retryAfterSeconds !== undefined) headers['retry-after'] = String(fault.retryAfterSeconds);
    const message =
      fault.kind === 'expired'
        ? 'The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter.'
        : `injected ${code} by the fault proxy`;
    res.writeHead(code, headers).end(statusBody(code, message));
  }
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  proxy.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  proxy.stop = () =>
    new Promise<void>((resolve) => {
      proxy.release();
      server.closeAllConnections();
      server.close(() => resolve());
      agent.destroy();
    });
  return proxy;
}

/** `kubeconfig` (a file) pointed at the proxy instead, written to `out`: plain HTTP on loopback, so no TLS to verify. */
export function throughProxy(kubeconfig: string, proxyUrl: string, out: string): string {
  const doc = parse(readFileSync(kubeconfig, 'utf8')) as { clusters: { cluster: Record<string, unknown> }[] };
  for (const { cluster } of doc.clusters) {
    cluster.server = proxyUrl;
    delete cluster['certificate-authority'];
    cluster['insecure-skip-tls-verify'] = true;
  }
  writeFileSync(out, stringify(doc));
  return out;
}
