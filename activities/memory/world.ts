// The memory world: what `rotor worker` with ROTOR_BACKEND=memory rehearses a plan against (a JSON
// file), and what the workflow tests build. It is the state of an in-memory kube-apiserver
// (apiserver.ts) that the real Kubernetes adapter talks to: the world says what exists, the adapter's
// own rules decide what it means. Metrics answer from the world too.
import { readFileSync } from 'node:fs';
import type { WorkloadKind } from '../../domain/plan';
import type { ManagedMeta } from '../kubernetes/gitops';
import type { ScannedResource } from '../kubernetes/object-refs';
import { fieldProblem } from './workloads';
import type { ExternalVersionSpec, MetricProvider, MetricProviders, RotationClaim } from '../ports';

export interface MemorySecret {
  namespace: string;
  name: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  data: Record<string, string>;
  immutable?: boolean;
  /** The Secret's type; absent: Opaque, as the apiserver defaults it. */
  type?: string;
}

export interface MemoryWorkload {
  kind: WorkloadKind;
  namespace: string;
  name: string;
  replicas?: number;
  /** Field (a stable locator, as the Kubernetes adapter writes them) -> the Secret name it refers to. */
  refs: Record<string, string>;
  annotations?: Record<string, string>;
  /** Labels, and the field managers of metadata.managedFields: who applies it (a GitOps controller is refused). */
  labels?: Record<string, string>;
  managedFields?: ManagedMeta['managedFields'];
  /** StatefulSet and DaemonSet: OnDelete is refused, as the Kubernetes adapter refuses it. */
  updateStrategy?: 'RollingUpdate' | 'OnDelete';
  paused?: boolean;
  /** A Job or Pod that has finished holds nothing. */
  finished?: boolean;
  /** The kind of the controller that owns it, if any (a Deployment's ReplicaSet, a CronJob's Job). */
  ownerKind?: WorkloadKind;
}

export interface MemoryWorld {
  secrets: MemorySecret[];
  workloads: MemoryWorkload[];
  /** The namespaces the cluster has; absent: every namespace a plan names exists. */
  namespaces?: string[];
  /** `<namespace>/<secret>` -> the rotation that holds it (the Kubernetes adapter keeps a Lease). */
  claims?: Record<string, RotationClaim>;
  /** Query -> a constant value, a sequence (the last repeats), or null for "no data". */
  metrics?: Record<string, number | null | (number | null)[]>;
  /** External Secrets Operator's stores; absent: the cluster does not serve its API. */
  secretStores?: MemorySecretStore[];
  externalSecrets?: MemoryExternalSecret[];
  /** Namespaces whose Secrets the worker may not read (as RBAC would refuse): nor list Secrets in all namespaces. */
  unreadableNamespaces?: string[];
  /**
   * Objects of any other kind, as the cluster would serve them (ServiceAccounts, Ingresses, custom
   * resources): the reference scan reads them by shape, with the Kubernetes adapter's rule.
   */
  objects?: MemoryObject[];
  /** The served resources of those objects whose plural or scope is not the usual one (a CRD's). */
  resources?: ScannedResource[];
  /** Resources the worker may not list, `<resource>.<group>` -> why: each may hold any Secret. */
  unreadable?: Record<string, string>;
  /** Resources the worker may not create, `<resource>.<group>` -> why (as RBAC would refuse: 403). */
  uncreatable?: Record<string, string>;
  /** The Kubernetes Events posted (events.k8s.io/v1), as posted. */
  events?: MemoryEvent[];
}

/** A Kubernetes Event (events.k8s.io/v1) as the apiserver keeps it. */
export interface MemoryEvent {
  metadata: { name: string; namespace: string };
  reason: string;
  type: string;
  action: string;
  note?: string;
  reportingController: string;
  reportingInstance: string;
  regarding: { apiVersion?: string; kind: string; namespace?: string; name: string; uid?: string };
  eventTime: string;
}

/** A Kubernetes object of any kind, as JSON. */
export interface MemoryObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; annotations?: Record<string, string>; labels?: Record<string, string>; ownerReferences?: { kind: string }[] };
  [field: string]: unknown;
}

export interface MemorySecretStore {
  kind: 'SecretStore' | 'ClusterSecretStore';
  name: string;
  /** A SecretStore's namespace (none for a ClusterSecretStore). */
  namespace?: string;
  ready: boolean;
  message?: string;
  /** The store's provider, as its spec says (default: AWS Secrets Manager with no region, which a plan naming a region is refused for). */
  provider?: Record<string, { service?: string; region?: string }>;
}

export interface MemoryExternalSecret extends Omit<ExternalVersionSpec, 'base' | 'rotationId' | 'store'> {
  labels: Record<string, string>;
  annotations: Record<string, string>;
  /** What the operator last said (its Ready condition). */
  condition?: { status: 'True' | 'False'; reason: string; message: string };
}

/** The operator's provider in the memory world: the data of a pinned version (throws if it has none). */
export type MemoryProvider = (remoteRef: { key: string; version: string }) => Promise<Record<string, string>>;

export function loadMemoryWorld(path: string): MemoryWorld {
  const world = JSON.parse(readFileSync(path, 'utf8')) as MemoryWorld;
  if (!Array.isArray(world.secrets) || !Array.isArray(world.workloads)) {
    throw new Error(`${path}: a memory world needs "secrets" and "workloads" lists`);
  }
  if (world.objects !== undefined && !Array.isArray(world.objects)) throw new Error(`${path}: "objects" must be a list of Kubernetes objects`);
  for (const [i, o] of (world.objects ?? []).entries()) {
    if (typeof o?.apiVersion !== 'string' || typeof o.kind !== 'string' || typeof o.metadata?.name !== 'string')
      throw new Error(
        `${path}: objects[${i}] needs apiVersion, kind and metadata.name, as Kubernetes writes them (e.g. { "apiVersion": "v1", "kind": "ServiceAccount", "metadata": { "name": "builder", "namespace": "staging" } })`,
      );
  }
  for (const [i, w] of world.workloads.entries()) {
    for (const field of Object.keys(w?.refs ?? {})) {
      const problem = fieldProblem(w, field);
      if (problem) throw new Error(`${path}: workloads[${i}]: ${problem}`);
    }
  }
  return world;
}

/** The world's metrics, answering for every provider name: a rehearsal measures what the world says. */
export class MemoryMetrics {
  private readonly taken = new Map<string, number>();

  constructor(readonly world: MemoryWorld) {}

  /** The current value of `query`: a constant, the next of a sequence (the last repeats), or null for no data. */
  async value(query: string): Promise<number | null> {
    const spec = this.world.metrics?.[query];
    if (spec === undefined || spec === null) return null;
    if (!Array.isArray(spec)) return spec;
    const n = this.taken.get(query) ?? 0;
    this.taken.set(query, n + 1);
    return spec[Math.min(n, spec.length - 1)] ?? null;
  }

  providers(): MetricProviders {
    const as = (name: MetricProvider['name']): MetricProvider => ({ name, measure: (query) => this.value(query) });
    return { prometheus: as('prometheus'), datadog: as('datadog') };
  }
}
