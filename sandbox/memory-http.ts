// The memory apiserver (activities/memory/apiserver.ts) served over HTTP on 127.0.0.1: one in-memory
// cluster that several `rotor worker` processes share through a kubeconfig (ROTOR_BACKEND=kubernetes),
// where each worker with ROTOR_BACKEND=memory keeps a world of its own. bench/scale runs its workers
// against it and reads from it how many requests they made, second by second.
import * as http from 'node:http';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { MemoryApiServer } from '../activities/memory/apiserver';
import type { MemoryWorld } from '../activities/memory/world';

export interface MemoryApiHttp {
  url: string;
  /** A kubeconfig naming it, for KUBECONFIG. */
  kubeconfig: string;
  api: MemoryApiServer;
  /** Requests answered so far. */
  requests(): number;
  /** Requests answered so far by verb and resource (`GET deployments`, `PATCH deployments`, `GET /apis`), most first. */
  byResource(): [string, number][];
  /** Requests answered in each second from the one holding `since` (ms since the epoch) to this one, oldest first. */
  perSecond(since: number): number[];
  close(): Promise<void>;
}

/** The resource a path names (`deployments`, `leases`), or the path itself for discovery (`/apis/apps/v1`). */
function resourceOf(path: string): string {
  const segments = path.split('/').filter(Boolean);
  let rest = segments.slice(segments[0] === 'api' ? 2 : 3);
  if (rest[0] === 'namespaces' && rest.length >= 3) rest = rest.slice(2);
  return rest[0] ?? path;
}

export async function serveMemoryWorld(world: MemoryWorld, dir: string): Promise<MemoryApiHttp> {
  const api = new MemoryApiServer(world);
  const seconds = new Map<number, number>();
  const resources = new Map<string, number>();
  let total = 0;
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      total++;
      const second = Math.floor(Date.now() / 1000);
      seconds.set(second, (seconds.get(second) ?? 0) + 1);
      const what = `${req.method} ${resourceOf(new URL(req.url ?? '/', 'http://memory.invalid').pathname)}`;
      resources.set(what, (resources.get(what) ?? 0) + 1);
      const body = chunks.length ? Buffer.concat(chunks).toString('utf8') : undefined;
      api
        .handle(
          req.method ?? 'GET',
          new URL(req.url ?? '/', 'http://memory.invalid'),
          req.headers.accept ?? 'application/json',
          req.headers['content-type'] ?? 'application/json',
          body,
        )
        .then(
          (answer) => {
            res.writeHead(answer.status, { 'content-type': 'application/json' });
            res.end(JSON.stringify(answer.body));
          },
          (err: unknown) => {
            res.writeHead(500, { 'content-type': 'application/json' });
            res.end(JSON.stringify({ kind: 'Status', status: 'Failure', reason: 'InternalError', code: 500, message: (err as Error).message }));
          },
        );
    });
  });
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((resolve, reject) => server.once('error', reject).listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  const url = `http://127.0.0.1:${port}`;
  const kubeconfig = join(dir, 'kubeconfig');
  writeFileSync(
    kubeconfig,
    JSON.stringify({
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [{ name: 'memory', cluster: { server: url, 'insecure-skip-tls-verify': true } }],
      users: [{ name: 'memory', user: {} }],
      contexts: [{ name: 'memory', context: { cluster: 'memory', user: 'memory' } }],
      'current-context': 'memory',
    }),
  );
  return {
    url,
    kubeconfig,
    api,
    requests: () => total,
    byResource: () => [...resources.entries()].sort((a, b) => b[1] - a[1]),
    perSecond: (since) => {
      const from = Math.floor(since / 1000);
      const to = Math.floor(Date.now() / 1000);
      return Array.from({ length: Math.max(0, to - from + 1) }, (_, i) => seconds.get(from + i) ?? 0);
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
