// The whole-cluster part of the reference scan: every resource the cluster serves besides the
// pod-bearing kinds (scan.ts), found through discovery (core /api/v1 and each group's preferred
// version under /apis; resources with the `list` verb; no subresources), custom resources included,
// each listed page by page across all namespaces and judged as the page comes by the shape rule of
// object-refs.ts (a page is dropped once judged). A few resources at a time, in the same slots as the
// pod-bearing kinds (one bound for the whole scan, `pool`). What cannot be listed (403, an aggregated
// API that is down) is returned as an unreadable holder, unless the plan's scan.ignore names it.
import * as http from 'node:http';
import * as https from 'node:https';
import type * as k8s from '@kubernetes/client-node';
import type { Holder } from '../../contract/activities';
import { RotorError } from '../errors';
import { askUntilAnswered, type Try } from './transport';
import { DEFAULT_SCAN_CONCURRENCY, type KubeRateLimiter } from './rate-limit';
import { REQUEST_TIMEOUT_MS, keepFromPages, toRotorError } from './kinds';
import {
  ignored,
  resourceId,
  scannedByShape,
  shapeHolderOf,
  shapeRefs,
  unreadableHolder,
  type ScannedResource,
  type ShapeRef,
  type WantedSecret,
} from './object-refs';

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- discovery documents and lists are read as untyped JSON
type Json = Record<string, any>;

/** GET a path of the apiserver as JSON, with the kubeconfig's credentials; errors carry `code` and `body` (a Status). */
export interface ApiReader {
  get(path: string): Promise<Json>;
  close(): void;
}

/**
 * A reader for one scan: credentials read once (a rotated token is read again at the next scan), one
 * kept-alive agent, every request through `limiter` (the worker's, rate-limit.ts; null: none).
 */
export async function apiReader(kc: k8s.KubeConfig, limiter: KubeRateLimiter | null = null): Promise<ApiReader> {
  const cluster = kc.getCurrentCluster();
  if (!cluster) throw new RotorError('RotorInputError', 'the kubeconfig names no current cluster', 'kubeconfig');
  const opts: https.RequestOptions = {};
  await kc.applyToHTTPSOptions(opts);
  const base = new URL(cluster.server);
  const plain = base.protocol === 'http:';
  // The client's own agent goes through a proxy when the kubeconfig names one; otherwise keep connections alive.
  const agent = cluster.proxyUrl
    ? opts.agent
    : plain
      ? new http.Agent({ keepAlive: true })
      : new https.Agent({
          keepAlive: true,
          ca: opts.ca,
          cert: opts.cert,
          key: opts.key,
          pfx: opts.pfx,
          passphrase: opts.passphrase,
          servername: opts.servername,
          ...(opts.rejectUnauthorized !== undefined ? { rejectUnauthorized: opts.rejectUnauthorized } : {}),
        });
  const prefix = base.pathname.replace(/\/$/, '');
  const getOnce = (path: string) =>
    new Promise<Json>((resolve, reject) => {
      const request = (plain ? http : https).request(
        {
          ...opts,
          agent,
          method: 'GET',
          protocol: base.protocol,
          hostname: base.hostname,
          port: base.port,
          path: prefix + path,
          headers: { ...opts.headers, Accept: 'application/json' },
          timeout: REQUEST_TIMEOUT_MS,
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('error', reject);
          res.on('end', () => {
            const text = Buffer.concat(chunks).toString('utf8');
            const code = res.statusCode ?? 0;
            if (code >= 200 && code < 300) {
              try {
                resolve(JSON.parse(text) as Json);
              } catch {
                reject(Object.assign(new Error(`GET ${path}: the answer is not JSON`), { code }));
              }
            } else reject(Object.assign(new Error(`GET ${path}: HTTP ${code}`), { code, body: text, retryAfter: res.headers['retry-after'] }));
          });
        },
      );
      request.on('timeout', () => request.destroy(new Error(`GET ${path}: no answer in ${REQUEST_TIMEOUT_MS / 1000} s`)));
      request.on('error', reject);
      request.end();
    });
  // Asked again as the API clients are (transport.ts): throttled, a server error, or no answer.
  const get = (path: string): Promise<Json> =>
    askUntilAnswered(
      'GET',
      limiter,
      () =>
        getOnce(path).then(
          (json): Try<Json> => ({ status: 200, settle: () => json }),
          (err: { code?: unknown; retryAfter?: string }): Try<Json> => ({
            status: typeof err.code === 'number' ? err.code : null,
            retryAfter: err.retryAfter,
            settle: () => {
              throw err;
            },
          }),
        ),
      { deadline: Date.now() + REQUEST_TIMEOUT_MS },
    );
  return { get, close: () => (agent as http.Agent | undefined)?.destroy?.() };
}

/** Runs what it is given, at most `limit` at a time, first come first served: one bound shared by whoever holds it. */
export type Slots = <R>(fn: () => Promise<R>) => Promise<R>;

export function pool(limit: number): Slots {
  let running = 0;
  const waiting: (() => void)[] = [];
  return async (fn) => {
    if (running >= limit) await new Promise<void>((resolve) => waiting.push(resolve));
    else running++;
    try {
      return await fn();
    } finally {
      const next = waiting.shift();
      if (next) next();
      else running--;
    }
  };
}

/**
 * Every result, once all have settled; when some fail, the error thrown is that of the first failing
 * one in order: what the caller reports does not depend on timing.
 */
export async function allInOrder<R>(promises: readonly Promise<R>[]): Promise<R[]> {
  const settled = await Promise.allSettled(promises);
  const failed = settled.find((s) => s.status === 'rejected');
  if (failed) throw failed.reason;
  return settled.map((s) => (s as PromiseFulfilledResult<R>).value);
}

/** `fn` over `items`, at most `limit` at a time; errors as allInOrder's. */
export function mapBounded<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const slots = pool(limit);
  return allInOrder(items.map((item) => slots(() => fn(item))));
}

interface Discovered {
  resources: ScannedResource[];
  /** Groups whose resources could not be discovered, and why. */
  failed: { id: string; why: string }[];
}

function listable(group: string, version: string, list: Json): ScannedResource[] {
  return (list.resources ?? [])
    .filter((r: Json) => typeof r.name === 'string' && !r.name.includes('/') && (r.verbs ?? []).includes('list'))
    .map((r: Json) => ({ group, version, resource: r.name, kind: r.kind, namespaced: r.namespaced === true }))
    .filter(scannedByShape);
}

/** Every listable resource the shape scan reads: core v1 and each group's preferred version. */
async function discoverResources(reader: ApiReader): Promise<Discovered> {
  const failed: Discovered['failed'] = [];
  const core = listable('', 'v1', await reader.get('/api/v1').catch((err) => fail(err, '/api/v1')));
  const groups: Json[] = (await reader.get('/apis').catch((err) => fail(err, '/apis'))).groups ?? [];
  const perGroup = await mapBounded(groups, DEFAULT_SCAN_CONCURRENCY, async (g) => {
    const gv: string | undefined = g.preferredVersion?.groupVersion ?? g.versions?.[0]?.groupVersion;
    if (!gv) return [];
    try {
      return listable(g.name, gv.split('/')[1], await reader.get(`/apis/${gv}`));
    } catch (err) {
      failed.push({ id: g.name, why: toRotorError(err, 'discover', `the resources of ${gv}`).message });
      return [];
    }
  });
  return { resources: [...core, ...perGroup.flat()], failed };
}

/** Discovery of the core group or the group list failing leaves nothing to judge by: the scan fails. */
function fail(err: unknown, path: string): never {
  throw toRotorError(err, 'discover', `the API (${path})`);
}

function listPath(r: ScannedResource, pageSize: number, cont: string | undefined): string {
  const root = r.group ? `/apis/${r.group}/${r.version}` : `/api/${r.version}`;
  const query = new URLSearchParams({ limit: String(pageSize) });
  if (cont) query.set('continue', cont);
  return `${root}/${r.resource}?${query}`;
}

/** One match: the holder, and which of its references named what (listVersions sorts them by Secret). */
export interface ShapeMatch {
  holder: Holder;
  refs: ShapeRef[];
}

/** The pages of `r` in all namespaces as keepFromPages reads them: plain JSON, no typed client's model objects. */
export function pagesOf(reader: ApiReader, r: ScannedResource, pageSize: number) {
  return async (cont?: string): Promise<{ items: Json[]; cont?: string }> => {
    const page = await reader.get(listPath(r, pageSize, cont));
    return { items: page.items ?? [], cont: page.metadata?.continue };
  };
}

/** Every object of `r` that names a wanted Secret, page by page. */
function scanResource(reader: ApiReader, r: ScannedResource, pageSize: number, wanted: WantedSecret): Promise<ShapeMatch[]> {
  return keepFromPages(pagesOf(reader, r, pageSize), (obj) => {
    const refs = shapeRefs(r, obj, wanted);
    return refs.length ? { holder: shapeHolderOf(r, obj, refs), refs } : null;
  });
}

/**
 * The whole-cluster scan: the objects of every served resource (but the pod-bearing kinds, Secrets
 * and Events) that name a wanted Secret, plus a holder for each resource that could not be read and
 * that `ignore` does not name. Each resource is listed in one of `slots` (those the caller's other
 * lists share; by default its own, DEFAULT_SCAN_CONCURRENCY), through `reader` (the caller's, which
 * the caller closes; by default one of its own).
 */
export async function scanByShape(
  kc: k8s.KubeConfig,
  options: {
    pageSize: number;
    wanted: WantedSecret;
    ignore?: readonly string[];
    slots?: Slots;
    limiter?: KubeRateLimiter | null;
    reader?: ApiReader;
  },
): Promise<{ matches: ShapeMatch[]; unreadable: Holder[] }> {
  const reader = options.reader ?? (await apiReader(kc, options.limiter ?? null));
  const slots = options.slots ?? pool(DEFAULT_SCAN_CONCURRENCY);
  try {
    const { resources, failed } = await discoverResources(reader);
    const unreadable = failed.filter((f) => !ignored(f.id, options.ignore)).map((f) => unreadableHolder(f.id, f.why));
    const perResource = await allInOrder(
      resources.map((r) =>
        slots(async () => {
          try {
            return await scanResource(reader, r, options.pageSize, options.wanted);
          } catch (err) {
            const id = resourceId(r);
            if (!ignored(id, options.ignore)) unreadable.push(unreadableHolder(id, toRotorError(err, 'list', `${id} in all namespaces`).message));
            return [];
          }
        }),
      ),
    );
    return { matches: perResource.flat(), unreadable };
  } finally {
    if (!options.reader) reader.close();
  }
}
