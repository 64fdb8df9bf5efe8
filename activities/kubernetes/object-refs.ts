// Where ANY object names a Secret, by shape rather than by a list of kinds: ServiceAccounts, Ingresses,
// Gateways, PersistentVolumes and every custom resource the cluster serves are read with one rule.
// A field names a Secret when its value is exactly the Secret's name and the field is one where a
// Secret name is expected:
//   - `name` in an object with `kind: Secret` (group "" or none), wherever it is;
//   - `name` in an object WITHOUT a `kind`, reached by a key ending in secret, secrets, secretRef(s),
//     secretKeyRef(s), secretTargetRef(s), secretReference(s) or certificateRef(s) (Gateway API: the
//     kind defaults to Secret); an explicit other kind names something else, and so does a key such
//     as secretStoreRef (a SecretStore) that does not end so;
//   - `name` in a key selector `{ name, key }` (Prometheus operator's basicAuth, ...), unless reached
//     by a key that names a ConfigMap;
//   - a string under a key ending in secretName(s) (`spec.tls[].secretName`, `csi...provisioner-secret-name`),
//     or a string under a key ending in secret(s)/secretRef;
// A reference with its own `namespace` (or a sibling `...secretNamespace`) names the Secret there.
// `metadata` (annotations hold rotor's own records, labels and owner references are not references)
// is never read. The same rule finds every field of refs.ts's POD_SPEC_SECRET_FIELDS in a pod spec.
import type { Holder } from '../../contract/activities';
import { WORKLOAD_RESOURCES } from '../../domain/plan';

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- Kubernetes objects are walked as untyped JSON
type Json = Record<string, any>;

/** One place an object names a Secret. */
export interface ShapeRef {
  /** Where, from the object's root: `spec.tls[0].secretName`, `spec.secretTargetRef[0].name`. */
  field: string;
  /** The Secret's name, exactly as written. */
  name: string;
  /** The namespace the reference itself names, if it names one. */
  namespace?: string;
}

/** Keys (lowercased, without `-`, `_`, `.` and `/`) under which an object without a kind is a Secret reference. */
const REFERENCE_KEY =
  /(secret|secrets|secretref|secretrefs|secretkeyref|secretkeyrefs|secrettargetref|secrettargetrefs|secretreference|secretreferences|certificateref|certificaterefs)$/;
/** Keys whose string value (or list of strings) is a Secret's name. */
const NAME_KEY = /(secretname|secretnames|secret|secrets|secretref)$/;
/** Parts of an object that are never references. */
const SKIPPED_KEYS = new Set(['metadata']);

function normalized(key: string): string {
  return key.toLowerCase().replace(/[-_./]/g, '');
}

function isRecord(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** `spec.tls` + `secretName`; a key that is not an identifier is quoted: `parameters["csi.storage.k8s.io/x"]`. */
function child(at: string, key: string): string {
  if (/^[A-Za-z_$][\w$-]*$/.test(key)) return at ? `${at}.${key}` : key;
  return `${at}[${JSON.stringify(key)}]`;
}

/** Whether an object with an explicit kind is a core Secret. */
function isSecretKind(obj: Json): boolean {
  if (obj.kind !== 'Secret') return false;
  const group = obj.group ?? obj.apiGroup;
  if (group !== undefined && group !== '' && group !== 'core') return false;
  return obj.apiVersion === undefined || obj.apiVersion === 'v1';
}

/** Whether `obj`, reached by `key`, is a reference whose `name` is a Secret's. */
function namesSecret(obj: Json, key: string): boolean {
  if (typeof obj.name !== 'string') return false;
  if (obj.kind !== undefined) return isSecretKind(obj);
  const k = normalized(key);
  if (REFERENCE_KEY.test(k)) return true;
  // A key selector ({ name, key[, optional] }) selects a Secret's key unless it says ConfigMap.
  const keys = Object.keys(obj);
  return typeof obj.key === 'string' && keys.every((x) => x === 'name' || x === 'key' || x === 'optional') && !k.includes('configmap');
}

/** The namespace a `...SecretName` field's sibling names (`secretNamespace`, `provisioner-secret-namespace`). */
function siblingNamespace(obj: Json, key: string): string | undefined {
  const prefix = normalized(key).replace(/secretnames?$/, '');
  for (const [k, v] of Object.entries(obj)) {
    if (typeof v === 'string' && normalized(k) === `${prefix}secretnamespace`) return v;
  }
  return undefined;
}

/** Every place in `root` that names a Secret by its shape (see the head of this file). */
export function secretRefsByShape(root: unknown): ShapeRef[] {
  const out: ShapeRef[] = [];
  const visit = (node: unknown, key: string, at: string): void => {
    if (Array.isArray(node)) {
      // A list's entries are reached by the list's key.
      node.forEach((item, i) => visit(item, key, `${at}[${i}]`));
      return;
    }
    if (!isRecord(node)) return;
    if (namesSecret(node, key) && node.name) {
      out.push({ field: child(at, 'name'), name: node.name, ...(typeof node.namespace === 'string' && node.namespace ? { namespace: node.namespace } : {}) });
    }
    for (const [k, v] of Object.entries(node)) {
      if (SKIPPED_KEYS.has(k)) continue;
      const here = child(at, k);
      const strings = typeof v === 'string' ? [{ value: v, field: here }] : Array.isArray(v) ? v.map((x, i) => ({ value: x, field: `${here}[${i}]` })) : [];
      if (strings.length && NAME_KEY.test(normalized(k))) {
        const namespace = siblingNamespace(node, k);
        for (const s of strings) {
          if (typeof s.value === 'string' && s.value) out.push({ field: s.field, name: s.value, ...(namespace ? { namespace } : {}) });
        }
      }
      if (typeof v === 'object' && v !== null) visit(v, k, here);
    }
  };
  visit(root, '', '');
  return out;
}

/** A served resource as discovery describes it, and as the plan's `scan.ignore` names it. */
export interface ScannedResource {
  /** `""` for the core group. */
  group: string;
  version: string;
  /** The plural, as in the URL: `serviceaccounts`, `widgets`. */
  resource: string;
  kind: string;
  namespaced: boolean;
}

/** `<resource>.<group>` (`ingresses.networking.k8s.io`), or the plural alone for the core group, as kubectl names them. */
export function resourceId(r: Pick<ScannedResource, 'group' | 'resource'>): string {
  return r.group ? `${r.resource}.${r.group}` : r.resource;
}

function apiVersionOf(r: Pick<ScannedResource, 'group' | 'version'>): string {
  return r.group ? `${r.group}/${r.version}` : r.version;
}

/**
 * Resources the whole-cluster scan does not read, and why: the pod-bearing kinds have their own scan
 * (scan.ts, with its rules for owned ReplicaSets, finished Jobs and Pods); Secrets are what is
 * referred to; an Event's involvedObject is what it reports on, not a reference.
 */
const NOT_SCANNED_BY_SHAPE: Record<string, string> = {
  ...Object.fromEntries(WORKLOAD_RESOURCES.map((id) => [id, 'the workload scan'])),
  secrets: 'what is referred to',
  events: 'reports, not references',
  'events.events.k8s.io': 'reports, not references',
  // Schemas: property names such as secretRef, never values; large, and read on every scan otherwise.
  'customresourcedefinitions.apiextensions.k8s.io': 'schemas, not references',
};

/** Whether the shape scan reads this resource at all (before the plan's ignore list). */
export function scannedByShape(r: Pick<ScannedResource, 'group' | 'resource'>): boolean {
  return !(resourceId(r) in NOT_SCANNED_BY_SHAPE);
}

/** Whether an object is judged through its owner: a StatefulSet's or DaemonSet's revision history. */
function judgedThroughOwner(r: ScannedResource, obj: Json): boolean {
  const owners: { kind?: string }[] = obj.metadata?.ownerReferences ?? [];
  return resourceId(r) === 'controllerrevisions.apps' && owners.some((o) => o.kind === 'StatefulSet' || o.kind === 'DaemonSet');
}

/** Where a cluster-scoped object's holder is reported: it may hold the Secret in any namespace. */
export const CLUSTER_SCOPED = '(cluster-scoped)';

/** Which Secrets a reference may name: `namespace` null stands for any namespace. */
export type WantedSecret = (namespace: string | null, name: string) => boolean;

/**
 * The references of `obj` (of resource `r`) to a Secret `wanted` accepts. A reference points into its
 * own `namespace` field, else the object's namespace; a cluster-scoped object's reference without one
 * may name the Secret in any namespace (null), so it is counted for every namespace.
 */
export function shapeRefs(r: ScannedResource, obj: Json, wanted: WantedSecret): ShapeRef[] {
  if (!scannedByShape(r) || judgedThroughOwner(r, obj)) return [];
  const own: string | null = r.namespaced ? (obj.metadata?.namespace ?? null) : null;
  return secretRefsByShape(obj).filter((ref) => wanted(ref.namespace ?? own, ref.name));
}

/** The holder an object with these references is, as cleanup reports it. */
export function shapeHolderOf(r: ScannedResource, obj: Json, refs: ShapeRef[]): Holder {
  return {
    kind: r.kind,
    apiVersion: apiVersionOf(r),
    namespace: r.namespaced ? (obj.metadata?.namespace ?? '') : CLUSTER_SCOPED,
    name: obj.metadata?.name ?? '',
    fields: [...new Set(refs.map((ref) => ref.field))],
    refusal: null,
  };
}

/** The holder `obj` is of a Secret `wanted` accepts, or null. */
export function shapeHolder(r: ScannedResource, obj: Json, wanted: WantedSecret): Holder | null {
  const refs = shapeRefs(r, obj, wanted);
  return refs.length ? shapeHolderOf(r, obj, refs) : null;
}

/** A Secret in one of `namespaces` named `name`, as `shapeHolder` asks. */
export function secretIn(namespaces: string[] | null, name: string): WantedSecret {
  return (namespace, ref) => ref === name && (namespace === null || namespaces === null || namespaces.includes(namespace));
}

/** The holder a resource the worker could not read stands for: cleanup waits for it, and says why. */
export function unreadableHolder(id: string, why: string): Holder {
  return {
    kind: id,
    namespace: '*',
    name: '*',
    fields: [],
    refusal: null,
    unreadable: `${id} could not be read, so it may refer to the Secret (${why}); it holds every version until the worker may list it or the plan's scan.ignore names it`,
  };
}

/**
 * Whether the plan's `scan.ignore` names this resource (or, for a group whose discovery failed, the
 * group): then its being unreadable holds nothing. A resource that can be read is scanned regardless.
 */
export function ignored(id: string, ignore: readonly string[] | undefined): boolean {
  return (ignore ?? []).includes(id);
}
