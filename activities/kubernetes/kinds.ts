// The workload kinds rotor reads and patches, one typed client call per verb, and the translation of
// every client exception into a RotorError with status, reason and object, never a response body.
import * as k8s from '@kubernetes/client-node';
import type { WorkloadKind } from '../../domain/plan';
import { RotorError, type RotorErrorType } from '../errors';

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- spec and status differ per kind; refs.ts and rollout.ts read them as JSON
export type Obj = k8s.KubernetesObject & { spec?: any; status?: any };

interface ListPage {
  items: Obj[];
  metadata?: { _continue?: string };
}

export interface KindApi {
  read(namespace: string, name: string): Promise<Obj>;
  patch(namespace: string, name: string, ops: object[]): Promise<Obj>;
  list(namespace: string | null, cont?: string): Promise<ListPage>;
}

/** The status, reason and message of an API error; the raw body is never kept (for a Secret it is the Secret). */
/**
 * No request to the apiserver waits longer than this: a paused or unreachable apiserver becomes an
 * error the step is retried on, not a step that hangs until its start-to-close limit.
 */
export const REQUEST_TIMEOUT_MS = 30_000;

export function toRotorError(err: unknown, doing: string, object: string): RotorError {
  if (err instanceof RotorError) return err;
  const e = err as { code?: number; body?: unknown; message?: string };
  const code = typeof e?.code === 'number' ? e.code : undefined;
  let reason = '';
  let message = '';
  if (typeof e?.body === 'string') {
    try {
      const status = JSON.parse(e.body) as { kind?: string; reason?: string; message?: string };
      if (status.kind === 'Status') {
        reason = status.reason ?? '';
        message = status.message ?? '';
      }
    } catch {
      /* not a Status: say nothing of it */
    }
  }
  const type: RotorErrorType =
    code === 403 || code === 401
      ? 'Forbidden'
      : code === 404
        ? 'NotFound'
        : code === 409
          ? 'Conflict'
          : code === 422 || code === 400
            ? 'RotorInputError'
            : 'Unavailable';
  const detail = code
    ? `HTTP ${code}${reason ? ` ${reason}` : ''}${message ? `: ${message}` : ''}`
    : (e?.message ?? 'request failed').split('\n')[0].slice(0, 200);
  const hint =
    code === 429
      ? " (the apiserver's priority and fairness still refused after 5 tries, each after its Retry-After; the step is retried: if it keeps happening, lower the worker's ROTOR_KUBE_QPS and ROTOR_KUBE_SCAN_CONCURRENCY, or give rotor's ServiceAccount a FlowSchema of its own, see docs/kubernetes.md#rate-limits)"
      : code === 410
        ? " (the listing was restarted 3 times from its first page, each time its continue token expired before the last page: raise ROTOR_KUBE_PAGE_SIZE so a listing takes fewer pages, or raise the apiserver's --etcd-compaction-interval)"
        : type !== 'Forbidden'
          ? ''
          : message.includes('ValidatingAdmissionPolicy')
            ? " (an admission policy refused it; rotor rbac --admission prints rotor's, see docs/kubernetes.md#rbac-from-the-plans)"
            : " (check the worker's RBAC: rotor rbac -f <every plan it runs> prints what it needs, for kubectl apply or, with --output helm-values, the Helm chart; deploy/rbac.yaml is only the example plans')";
  return new RotorError(type, `${doing} ${object}: ${detail}${hint}`, object, code);
}

/** Whether an apiserver error says the request's namespace does not exist (a 404 whose Status names a namespace). */
export function namespaceNotFound(err: unknown): boolean {
  if (statusCode(err) !== 404) return false;
  const body = (err as { body?: unknown }).body;
  try {
    const status = typeof body === 'string' ? (JSON.parse(body) as { details?: { kind?: string } }) : null;
    return status?.details?.kind === 'namespaces';
  } catch {
    return false;
  }
}

export function statusCode(err: unknown): number | undefined {
  const code = (err as { code?: number })?.code;
  return typeof code === 'number' ? code : undefined;
}

export const jsonPatch = k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.JsonPatch);

/** A list of metadata only: the apiserver answers without the objects' data. */
export const METADATA_LIST = k8s.setHeaderOptions('Accept', 'application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1');

/** The API group client of each kind; the methods are named after the kind in every group alike. */
const GROUP: Record<WorkloadKind, 'apps' | 'batch' | 'core'> = {
  Deployment: 'apps',
  StatefulSet: 'apps',
  DaemonSet: 'apps',
  ReplicaSet: 'apps',
  CronJob: 'batch',
  Job: 'batch',
  Pod: 'core',
};

/** A generated client's methods, called by name. */
type Methods = Record<string, (request: object, options?: unknown) => Promise<unknown>>;

/** The group client of a kind, and its methods' names, alike in every group. */
export function kindMethods(kind: WorkloadKind) {
  return {
    group: GROUP[kind],
    read: `readNamespaced${kind}`,
    patch: `patchNamespaced${kind}`,
    list: `listNamespaced${kind}`,
    listAll: `list${kind}ForAllNamespaces`,
  };
}

/** A kind as discovery names it, for listing it as plain JSON (cluster-scan.ts). */
export function kindResource(kind: WorkloadKind) {
  const group = GROUP[kind];
  return { group: group === 'core' ? '' : group, version: 'v1', resource: `${kind.toLowerCase()}s`, kind, namespaced: true };
}

export function kindApis(kc: k8s.KubeConfig, pageSize: number): Record<WorkloadKind, KindApi> {
  const groups = {
    apps: kc.makeApiClient(k8s.AppsV1Api) as unknown as Methods,
    batch: kc.makeApiClient(k8s.BatchV1Api) as unknown as Methods,
    core: kc.makeApiClient(k8s.CoreV1Api) as unknown as Methods,
  };
  const api = (kind: WorkloadKind): KindApi => {
    const m = kindMethods(kind);
    const client = groups[m.group];
    const call = <T>(method: string, request: object, options?: unknown) => client[method].call(client, request, options) as Promise<T>;
    return {
      read: (namespace, name) => call<Obj>(m.read, { namespace, name }),
      patch: (namespace, name, body) => call<Obj>(m.patch, { namespace, name, body }, jsonPatch),
      list: (namespace, cont) =>
        namespace ? call<ListPage>(m.list, { namespace, limit: pageSize, _continue: cont }) : call<ListPage>(m.listAll, { limit: pageSize, _continue: cont }),
    };
  };
  return Object.fromEntries((Object.keys(GROUP) as WorkloadKind[]).map((kind) => [kind, api(kind)])) as Record<WorkloadKind, KindApi>;
}

/**
 * What `keep` keeps of every object a paged listing returns, judged page by page (a page is dropped
 * once judged); a page token that expired (410 Gone) restarts the listing from the first page.
 */
export async function keepFromPages<T>(page: (cont?: string) => Promise<{ items: Obj[]; cont?: string }>, keep: (obj: Obj) => T | null): Promise<T[]> {
  for (let restart = 0; ; restart++) {
    const kept: T[] = [];
    let cont: string | undefined;
    try {
      do {
        const current = await page(cont);
        for (const item of current.items) {
          const k = keep(item);
          if (k !== null) kept.push(k);
        }
        cont = current.cont || undefined;
      } while (cont);
      return kept;
    } catch (err) {
      if (statusCode(err) === 410 && restart < 3) continue;
      throw err;
    }
  }
}

/** What `keep` keeps of every object of a kind in `namespace` (all when null), page by page. */
export async function keepFromKind<T>(api: KindApi, kind: WorkloadKind, namespace: string | null, keep: (obj: Obj) => T | null): Promise<T[]> {
  try {
    return await keepFromPages(async (cont) => {
      const page = await api.list(namespace, cont);
      return { items: page.items.map((i) => ({ ...i, kind })), cont: page.metadata?._continue };
    }, keep);
  } catch (err) {
    throw toRotorError(err, 'list', `${kind}s${namespace ? ` in ${namespace}` : ' in all namespaces'}`);
  }
}

export async function readObject(api: KindApi, kind: WorkloadKind, namespace: string, name: string): Promise<Obj | null> {
  try {
    return { ...(await api.read(namespace, name)), kind };
  } catch (err) {
    if (statusCode(err) === 404) return null;
    throw toRotorError(err, 'read', `${kind} ${namespace}/${name}`);
  }
}
