// Where a workload names Secrets, as one table that the scan, the switch and the rollback share.
// A reference is located by meaning (`containers[app].env[TOKEN].valueFrom.secretKeyRef.name`), not by
// position, so an env var or volume inserted by someone else never moves what rotor reverts.
// test/kubernetes-refs.test.ts checks this table against the PodSpec schema of the real apiserver.
import type { WorkloadKind } from '../../domain/plan';

/** Every field of a PodSpec that names a Secret in the pod's namespace. `[]` walks a list. */
export const POD_SPEC_SECRET_FIELDS: readonly string[] = [
  ...['initContainers', 'containers', 'ephemeralContainers'].flatMap((group) => [
    `${group}[].env[].valueFrom.secretKeyRef.name`,
    `${group}[].envFrom[].secretRef.name`,
  ]),
  'imagePullSecrets[].name',
  'volumes[].secret.secretName',
  'volumes[].projected.sources[].secret.name',
  'volumes[].azureFile.secretName',
  'volumes[].cephfs.secretRef.name',
  'volumes[].cinder.secretRef.name',
  'volumes[].flexVolume.secretRef.name',
  'volumes[].iscsi.secretRef.name',
  'volumes[].rbd.secretRef.name',
  'volumes[].scaleIO.secretRef.name',
  'volumes[].storageos.secretRef.name',
  'volumes[].csi.nodePublishSecretRef.name',
];

/** Lists whose entries have a unique `name`: a locator names the entry; other lists match by value. */
export const NAMED_LISTS = new Set(['initContainers', 'containers', 'ephemeralContainers', 'env', 'volumes']);

/** JSON-pointer segments to the pod spec inside each kind. */
export const POD_SPEC_PATH: Record<WorkloadKind, string[]> = {
  Deployment: ['spec', 'template', 'spec'],
  StatefulSet: ['spec', 'template', 'spec'],
  DaemonSet: ['spec', 'template', 'spec'],
  ReplicaSet: ['spec', 'template', 'spec'],
  Job: ['spec', 'template', 'spec'],
  CronJob: ['spec', 'jobTemplate', 'spec', 'template', 'spec'],
  Pod: ['spec'],
};

/** Kinds whose pod template can be switched in place; Jobs and bare Pods are immutable there. */

export interface SecretRef {
  /** Where, by meaning: `containers[app].envFrom[].secretRef.name`; `[]` entries match by the Secret's name. */
  field: string;
  /** JSON pointer in the object as read now, e.g. `/spec/template/spec/containers/0/envFrom/1/secretRef/name`. */
  path: string;
  /** The Secret it names. */
  name: string;
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- Kubernetes objects are walked as untyped JSON
type Json = Record<string, any>;

function escape(segment: string | number): string {
  return String(segment).replace(/~/g, '~0').replace(/\//g, '~1');
}

function pointer(segments: (string | number)[]): string {
  return '/' + segments.map(escape).join('/');
}

interface Segment {
  key: string;
  list: boolean;
  /** For a named list in a locator: the entry's name. */
  entry?: string;
}

/** Env var names may hold any printable character: brackets and `%` are escaped in a locator. */
function entryName(name: string): string {
  return name.replace(/[%[\]]/g, (c) => encodeURIComponent(c));
}

/** `containers[app]` -> { key: containers, list, entry: app }; `sources[]` -> { key: sources, list }. */
function parse(pattern: string): Segment[] {
  const out: Segment[] = [];
  // Entry names are Kubernetes names (no dots or brackets), so splitting on "." outside brackets is safe.
  for (const part of pattern.match(/[^.[\]]+(\[[^\]]*\])?/g) ?? []) {
    const m = /^([^[]+)(?:\[([^\]]*)\])?$/.exec(part)!;
    out.push({ key: m[1], list: m[2] !== undefined, entry: m[2] ? decodeURIComponent(m[2]) : undefined });
  }
  return out;
}

/** Whether `field` locates a Secret reference of a pod spec (`containers[app].envFrom[].secretRef.name`: yes; `x`: no). */
export function isLocator(field: string): boolean {
  return POD_SPEC_SECRET_FIELDS.includes(field.replace(/\[[^\]]*\]/g, '[]'));
}

/**
 * Write `name` at a located field of a pod spec, making the entries on the way (a named list's entry by
 * its name; a `[]` entry anew): the inverse of podSpecSecretRefs, for a world described by locators.
 */
export function placeAt(spec: Json, field: string, name: string): void {
  const segments = parse(field);
  let node = spec;
  for (const [i, seg] of segments.entries()) {
    if (i === segments.length - 1) {
      node[seg.key] = name;
      return;
    }
    if (!seg.list) {
      node = node[seg.key] ??= {};
      continue;
    }
    const list: Json[] = (node[seg.key] ??= []);
    let entry = seg.entry !== undefined ? list.find((e) => e.name === seg.entry) : undefined;
    if (!entry) list.push((entry = seg.entry !== undefined ? { name: seg.entry } : {}));
    node = entry;
  }
}

/** Walk `segments` from `node`, yielding the concrete pointer and the locator of every leaf. */
function* walk(
  node: unknown,
  segments: Segment[],
  at: (string | number)[],
  locator: string[],
): Generator<{ at: (string | number)[]; locator: string[]; value: unknown }> {
  if (segments.length === 0) {
    yield { at, locator, value: node };
    return;
  }
  if (node === null || typeof node !== 'object') return;
  const [seg, ...rest] = segments;
  const child = (node as Json)[seg.key];
  if (!seg.list) {
    yield* walk(child, rest, [...at, seg.key], [...locator, seg.key]);
    return;
  }
  if (!Array.isArray(child)) return;
  const named = NAMED_LISTS.has(seg.key);
  for (const [i, item] of child.entries()) {
    const name = named && item && typeof item.name === 'string' ? item.name : undefined;
    if (seg.entry !== undefined && name !== seg.entry) continue;
    yield* walk(item, rest, [...at, seg.key, i], [...locator, named && name !== undefined ? `${seg.key}[${entryName(name)}]` : `${seg.key}[]`]);
  }
}

function podSpecOf(kind: WorkloadKind, obj: Json): Json | undefined {
  let spec: Json | undefined = obj;
  for (const seg of POD_SPEC_PATH[kind]) spec = spec?.[seg];
  return spec;
}

/** Every Secret reference in a pod spec; `base` is the pointer to the spec. */
export function podSpecSecretRefs(spec: Json | undefined, base: (string | number)[]): SecretRef[] {
  if (!spec) return [];
  const refs: SecretRef[] = [];
  for (const pattern of POD_SPEC_SECRET_FIELDS) {
    for (const leaf of walk(spec, parse(pattern), base, [])) {
      if (typeof leaf.value === 'string' && leaf.value) refs.push({ field: leaf.locator.join('.'), path: pointer(leaf.at), name: leaf.value });
    }
  }
  return refs;
}

/** Every Secret reference in a workload object of the given kind. */
export function workloadSecretRefs(kind: WorkloadKind, obj: Json): SecretRef[] {
  return podSpecSecretRefs(podSpecOf(kind, obj), POD_SPEC_PATH[kind]);
}

/** References to exactly `secretName` (`x-2025...` never matches `x-2025...-old`). */
export function refsTo(kind: WorkloadKind, obj: Json, secretName: string): SecretRef[] {
  return workloadSecretRefs(kind, obj).filter((r) => r.name === secretName);
}

/**
 * The pointers a located field resolves to now, holding `secretName`. A locator written by an older
 * release is a JSON pointer (`/spec/...`): it still resolves, checked by value like any other.
 */
export function resolveField(kind: WorkloadKind, obj: Json, field: string, secretName: string): string[] {
  if (field.startsWith('/')) return valueAt(obj, field) === secretName ? [field] : [];
  const spec = podSpecOf(kind, obj);
  const out: string[] = [];
  for (const leaf of walk(spec, parse(field), POD_SPEC_PATH[kind], [])) {
    if (leaf.value === secretName) out.push(pointer(leaf.at));
  }
  return out;
}

/** The value at a JSON pointer, or undefined. */
export function valueAt(obj: Json, path: string): unknown {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- walking untyped JSON
  let cur: any = obj;
  for (const raw of path.split('/').slice(1)) {
    const seg = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = cur[seg];
  }
  return cur;
}

/** Set the value at a JSON pointer whose parents exist. */
export function setAt(obj: Json, path: string, value: unknown): void {
  const segs = path
    .split('/')
    .slice(1)
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- walking untyped JSON
  let cur: any = obj;
  for (const seg of segs.slice(0, -1)) cur = cur[seg];
  cur[segs[segs.length - 1]] = value;
}

/** `a/b` as one JSON-pointer segment (for annotation keys). */
export function pointerSegment(key: string): string {
  return escape(key);
}
