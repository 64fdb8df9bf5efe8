// Where a workload names Secrets: pure functions over plain Kubernetes objects, so the scan, the
// switch and the rollback agree on the same JSON-pointer paths.
import type { WorkloadKind } from '../workflows/plan';

/** JSON pointer to the pod spec inside each kind. */
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
export const SWITCHABLE_KINDS: readonly WorkloadKind[] = ['Deployment', 'StatefulSet', 'DaemonSet', 'ReplicaSet', 'CronJob'];

export interface SecretRef {
  /** JSON pointer, e.g. `/spec/template/spec/containers/0/envFrom/1/secretRef/name`. */
  path: string;
  name: string;
}

type Json = Record<string, any>;

function escape(segment: string | number): string {
  return String(segment).replace(/~/g, '~0').replace(/\//g, '~1');
}

function pointer(segments: (string | number)[]): string {
  return '/' + segments.map(escape).join('/');
}

/** Every Secret reference in a pod spec, with its path under `base`. */
export function podSpecSecretRefs(spec: Json | undefined, base: (string | number)[]): SecretRef[] {
  if (!spec) return [];
  const refs: SecretRef[] = [];
  const add = (segments: (string | number)[], name: unknown) => {
    if (typeof name === 'string' && name) refs.push({ path: pointer([...base, ...segments]), name });
  };
  (spec.volumes ?? []).forEach((v: Json, i: number) => {
    add(['volumes', i, 'secret', 'secretName'], v.secret?.secretName);
    (v.projected?.sources ?? []).forEach((s: Json, j: number) => add(['volumes', i, 'projected', 'sources', j, 'secret', 'name'], s.secret?.name));
  });
  (spec.imagePullSecrets ?? []).forEach((s: Json, i: number) => add(['imagePullSecrets', i, 'name'], s.name));
  for (const group of ['initContainers', 'containers', 'ephemeralContainers']) {
    (spec[group] ?? []).forEach((c: Json, i: number) => {
      (c.envFrom ?? []).forEach((e: Json, j: number) => add([group, i, 'envFrom', j, 'secretRef', 'name'], e.secretRef?.name));
      (c.env ?? []).forEach((e: Json, j: number) => add([group, i, 'env', j, 'valueFrom', 'secretKeyRef', 'name'], e.valueFrom?.secretKeyRef?.name));
    });
  }
  return refs;
}

/** Every Secret reference in a workload object of the given kind. */
export function workloadSecretRefs(kind: WorkloadKind, obj: Json): SecretRef[] {
  const path = POD_SPEC_PATH[kind];
  let spec: Json | undefined = obj;
  for (const seg of path) spec = spec?.[seg];
  return podSpecSecretRefs(spec, path);
}

/** Exact-name matches only: `x-20250101000000` never matches `x-20250101000000-old`. */
export function pathsReferring(kind: WorkloadKind, obj: Json, secretName: string): string[] {
  return workloadSecretRefs(kind, obj)
    .filter((r) => r.name === secretName)
    .map((r) => r.path);
}

/** The value at a JSON pointer, or undefined. */
export function valueAt(obj: Json, path: string): unknown {
  let cur: any = obj;
  for (const raw of path.split('/').slice(1)) {
    const seg = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = cur[seg];
  }
  return cur;
}
