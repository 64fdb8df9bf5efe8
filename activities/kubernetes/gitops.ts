// Workloads that Git owns: a GitOps controller (Argo CD, Flux) applies them from a repository and sets
// a live change back at its next sync or self-heal. rotor never switches one live: it would commit and
// later delete the version Git still names, and the next sync would leave the pods without their Secret.
// Pure: judged from the object's metadata alone (rollout.ts calls it).
import type { ManagedBy } from '../../contract/activities';
import type { WorkloadKind } from '../../domain/plan';
import { POD_SPEC_PATH } from './refs';

/** Argo CD's default application instance label (its `application.instanceLabelKey`). */
const ARGOCD_INSTANCE_LABEL = 'argocd.argoproj.io/instance';
/** Argo CD's annotation tracking: `<app>:<group>/<kind>:<namespace>/<name>`. */
const ARGOCD_TRACKING_ID = 'argocd.argoproj.io/tracking-id';
/** The labels Flux writes on what a Kustomization or a HelmRelease applies. */
const FLUX_LABELS = {
  Kustomization: { name: 'kustomize.toolkit.fluxcd.io/name', namespace: 'kustomize.toolkit.fluxcd.io/namespace' },
  HelmRelease: { name: 'helm.toolkit.fluxcd.io/name', namespace: 'helm.toolkit.fluxcd.io/namespace' },
} as const;

type Resource = 'Argo CD Application' | 'Flux Kustomization' | 'Flux HelmRelease';

/** The field managers of GitOps controllers (metadata.managedFields), and what they apply. */
const GITOPS_MANAGERS: Readonly<Record<string, Resource>> = {
  'argocd-controller': 'Argo CD Application',
  'argocd-application-controller': 'Argo CD Application',
  'kustomize-controller': 'Flux Kustomization',
  'helm-controller': 'Flux HelmRelease',
};

/** `labels` without those that tell a GitOps controller the object is its own: a canary's green copy is rotor's. */
export function withoutGitopsLabels(labels: Record<string, string> | undefined, options: GitOpsOptions = {}): Record<string, string> {
  const theirs = new Set<string>([
    ARGOCD_INSTANCE_LABEL,
    ...(options.argoInstanceLabel ? [options.argoInstanceLabel] : []),
    ...Object.values(FLUX_LABELS).flatMap((l) => [l.name, l.namespace]),
  ]);
  return Object.fromEntries(Object.entries(labels ?? {}).filter(([k]) => !theirs.has(k)));
}

export interface GitOpsOptions {
  /** Argo CD's `application.instanceLabelKey` when it is not the default (a worker setting). */
  argoInstanceLabel?: string;
}

/** The parts of an object's metadata that tell who applies it. */
export interface ManagedMeta {
  name?: string;
  namespace?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  managedFields?: { manager?: string; operation?: string; fieldsV1?: object }[];
}

/** A controller that applies the object from Git, and what shows it. */
export interface GitOpsController {
  resource: Resource;
  /** The Application, Kustomization or HelmRelease, when the evidence names it. */
  name?: string;
  namespace?: string;
  evidence: string[];
}

/** Argo CD names an application in another namespace `<namespace>_<name>` (Kubernetes names have no `_`). */
function argoApplication(value: string): { name: string; namespace?: string } {
  const cut = value.indexOf('_');
  return cut > 0 ? { namespace: value.slice(0, cut), name: value.slice(cut + 1) } : { name: value };
}

/** A tracking id names the object it was written for; one copied onto another object is not Argo CD's. */
function trackedApplication(kind: WorkloadKind | 'ExternalSecret', meta: ManagedMeta, value: string): string | null {
  const m = /^([^:]+):([^/:]*)\/([^:]+):([^/]*)\/(.+)$/.exec(value.trim());
  if (!m) return null;
  const [, app, , trackedKind, trackedNamespace, trackedName] = m;
  if (trackedKind !== kind || trackedName !== meta.name) return null;
  if (trackedNamespace && meta.namespace && trackedNamespace !== meta.namespace) return null;
  return app;
}

/** `containers[app].env[TOKEN]...` -> segments: key, whether a list, and the named entry. */
function segments(locator: string): { key: string; list: boolean; entry?: string }[] {
  return (locator.match(/[^.[\]]+(\[[^\]]*\])?/g) ?? []).map((part) => {
    const m = /^([^[]+)(?:\[([^\]]*)\])?$/.exec(part)!;
    return { key: m[1], list: m[2] !== undefined, entry: m[2] ? decodeURIComponent(m[2]) : undefined };
  });
}

/**
 * Whether a manager's fieldsV1 holds a reference field (a locator, refs.ts): named list entries are
 * `k:{"name":...}`; an atomic struct or list (secretKeyRef, envFrom, projected sources) shows as `{}`
 * and is owned whole, as is a list matched by value (imagePullSecrets).
 */
export function ownsField(fieldsV1: object | undefined, kind: WorkloadKind, locator: string): boolean {
  if (!fieldsV1 || locator.startsWith('/')) return false;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- fieldsV1 is untyped JSON
  let node: any = fieldsV1;
  for (const key of POD_SPEC_PATH[kind]) node = node?.[`f:${key}`];
  for (const seg of segments(locator)) {
    node = node?.[`f:${seg.key}`];
    if (node === undefined) return false;
    if (Object.keys(node).length === 0) return true;
    if (!seg.list) continue;
    if (seg.entry === undefined) return true;
    node = node[`k:${JSON.stringify({ name: seg.entry })}`];
  }
  return node !== undefined;
}

/**
 * Every GitOps controller the object's metadata shows: Argo CD's instance label (or the configured one)
 * and tracking annotation, Flux's Kustomization and HelmRelease labels, and their field managers.
 * `referenceFields`: the object's Secret references (locators), to say which of them a manager owns.
 */
export function gitopsControllers(
  kind: WorkloadKind | 'ExternalSecret',
  meta: ManagedMeta,
  referenceFields: string[] = [],
  options: GitOpsOptions = {},
): GitOpsController[] {
  const found: GitOpsController[] = [];
  const add = (resource: Resource, evidence: string, name?: string, namespace?: string) => {
    const same = found.find((c) => c.resource === resource && (!c.name || !name || c.name === name));
    if (same) {
      same.name ??= name;
      same.namespace ??= namespace;
      same.evidence.push(evidence);
    } else found.push({ resource, ...(name ? { name } : {}), ...(namespace ? { namespace } : {}), evidence: [evidence] });
  };
  const labels = meta.labels ?? {};
  for (const key of new Set([ARGOCD_INSTANCE_LABEL, options.argoInstanceLabel].filter((k): k is string => !!k))) {
    const value = labels[key]?.trim();
    if (value) {
      const app = argoApplication(value);
      add('Argo CD Application', `label ${key}=${value}`, app.name, app.namespace);
    }
  }
  const tracking = meta.annotations?.[ARGOCD_TRACKING_ID];
  const tracked = tracking ? trackedApplication(kind, meta, tracking) : null;
  if (tracked) {
    const app = argoApplication(tracked);
    add('Argo CD Application', `annotation ${ARGOCD_TRACKING_ID}=${tracking}`, app.name, app.namespace);
  }
  for (const [kindOf, keys] of Object.entries(FLUX_LABELS)) {
    const name = labels[keys.name]?.trim();
    if (!name) continue;
    const namespace = labels[keys.namespace]?.trim() || undefined;
    add(`Flux ${kindOf}` as Resource, `labels ${keys.name}=${name}${namespace ? `, ${keys.namespace}=${namespace}` : ''}`, name, namespace);
  }
  for (const entry of meta.managedFields ?? []) {
    const resource = entry.manager ? GITOPS_MANAGERS[entry.manager] : undefined;
    if (!resource) continue;
    const owned = kind === 'ExternalSecret' ? [] : referenceFields.filter((f) => ownsField(entry.fieldsV1, kind, f));
    const what = owned.length
      ? `owns its Secret reference${owned.length > 1 ? 's' : ''} ${owned.slice(0, 3).join(', ')}${owned.length > 3 ? ', ...' : ''}`
      : 'manages fields of it';
    add(resource, `field manager ${entry.manager} ${what}`);
  }
  return found;
}

/** A controller in words: `Flux Kustomization flux-system/apps`, or its kind alone when the evidence names none. */
export function describeController(c: Pick<GitOpsController, 'resource' | 'name' | 'namespace'>): string {
  if (!c.name) return c.resource;
  return `${c.resource} ${c.namespace ? `${c.namespace}/` : ''}${c.name}`;
}

/** A controller as the workflow carries it (WorkloadUse.managedBy): only the fields the evidence gave. */
export function managedByOf(c: GitOpsController): ManagedBy {
  return {
    resource: c.resource,
    ...(c.name ? { name: c.name } : {}),
    ...(c.namespace ? { namespace: c.namespace } : {}),
    evidence: c.evidence,
  };
}

/**
 * Why rotor will not switch this workload live, or null: a GitOps controller applies it from Git. The
 * message names the workload, the controller, what shows it, and the fix.
 */
export function gitopsRefusal(kind: WorkloadKind, meta: ManagedMeta, referenceFields: string[] = [], options: GitOpsOptions = {}): string | null {
  const controllers = gitopsControllers(kind, meta, referenceFields, options);
  if (!controllers.length) return null;
  const by = controllers.map((c) => `${describeController(c)} (${c.evidence.join('; ')})`).join(' and ');
  const workload = `${kind}/${meta.name}`;
  return (
    `${workload} is managed by ${by}: a live switch would be set back at its next sync, after rotor had committed the new version and deleted the one Git still names; ` +
    `give the stage gitops settings (the repository and path the controller applies) so rotor changes the reference there by a commit (docs/gitops.md), or leave ${workload} out of the plan's workloads`
  );
}
