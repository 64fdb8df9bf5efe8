// Over 350 lines: the whole ClusterPort and External Secrets Operator in memory, to be reworked into a fake Kubernetes client.
// An in-memory cluster and metrics source: `rotor worker` with ROTOR_BACKEND=memory rehearses a plan
// against a described world (a JSON file) without touching a cluster. It keeps the Kubernetes
// adapter's rules (the same ownership records, green copies, holder and refusal rules, through the
// same pure helpers), and test/cluster-contract.test.ts runs one suite against both.
import { readFileSync } from 'node:fs';
import type { WorkloadKind } from '../domain/plan';
import { newestVersion, parseVersionName } from '../domain/naming';
import { missingNamespace, RotorError } from './errors';
import { sameData } from './values';
import { OPAQUE } from '../domain/secret-types';
import { typeMismatch } from './kubernetes/secrets';
import {
  ANNOTATION_CANARY_OF,
  ANNOTATION_CANARY_VERSION,
  ANNOTATION_PREVIOUS_WEIGHT,
  ANNOTATION_ROTATION,
  ANNOTATION_WEIGHT,
  LABEL_SECRET,
  LABEL_VERSION,
  blueReplicasAt,
  canaryShare,
  greenName,
  isCanaryCopy,
  afterRevert,
  ownershipKey,
  ownsGreen,
  previousCanaryWeight,
  readOwnership,
  replicasAtLastStep,
  replicasHeldByOther,
  replicasOnRevert,
  revertReport,
  revertTargets,
  versionAnnotations,
  versionRecordOf,
  type OwnershipRecord,
} from './kubernetes/ownership';
import type {
  ClusterPort,
  DeleteOptions,
  ExternalProvider,
  ExternalSecretsPort,
  ExternalVersionSpec,
  ExternalVersionState,
  MetricProvider,
  MetricProviders,
  RolloutState,
  RotationClaim,
  ScanOptions,
  StoredVersion,
  VersionRecord,
  VersionSpec,
} from './ports';
import type { ExternalSecretStoreRef } from '../domain/plan';
import { toRotorError } from './kubernetes/kinds';
import { externalSecretsNotServed, externalVersionMetadata, noSuchStore, providerMismatch, storeNotReady } from './kubernetes/external-secrets';
import type { Holder, RevertInput, SwitchDrift, SwitchInput, SwitchRecord, WorkloadUse } from '../contract/activities';
import { ignored, secretIn, shapeHolder, unreadableHolder, type ScannedResource } from './kubernetes/object-refs';
import { driftMessage, objectDrift, switchedObjects } from './kubernetes/drift';
import type { GitOpsOptions, ManagedMeta } from './kubernetes/gitops';
import type { Obj } from './kubernetes/kinds';
import { rolloutRefusal, switchRefusal } from './kubernetes/rollout';

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
}

/** A Kubernetes object of any kind, as JSON. */
export interface MemoryObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; annotations?: Record<string, string>; labels?: Record<string, string>; ownerReferences?: { kind: string }[] };
  [field: string]: unknown;
}

/** `Ingress` -> `ingresses`, `Policy` -> `policies`: the plural Kubernetes would serve a kind under, unless the world says. */
function pluralOf(kind: string): string {
  const k = kind.toLowerCase();
  if (/[^aeiou]y$/.test(k)) return `${k.slice(0, -1)}ies`;
  if (/(s|x|z|ch|sh)$/.test(k)) return `${k}es`;
  return `${k}s`;
}

/** The served resource an object of the memory world belongs to. */
function resourceOf(world: MemoryWorld, obj: MemoryObject): ScannedResource {
  const [group, version] = obj.apiVersion.includes('/') ? obj.apiVersion.split('/') : ['', obj.apiVersion];
  return (
    world.resources?.find((r) => r.group === group && r.kind === obj.kind) ?? {
      group,
      version,
      resource: pluralOf(obj.kind),
      kind: obj.kind,
      namespaced: obj.metadata.namespace !== undefined,
    }
  );
}

export interface MemorySecretStore {
  kind: 'SecretStore' | 'ClusterSecretStore';
  name: string;
  /** A SecretStore's namespace (none for a ClusterSecretStore). */
  namespace?: string;
  ready: boolean;
  message?: string;
  /** The store's provider, as its spec says (default: AWS Secrets Manager in any region rotor asks for). */
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
  return world;
}

function holds(w: MemoryWorkload): boolean {
  if (w.kind === 'ReplicaSet' && w.ownerKind === 'Deployment') return false;
  if (w.kind === 'Job' || w.kind === 'Pod') return !w.finished;
  return true;
}

function switchable(w: MemoryWorkload): boolean {
  if (isCanaryCopy(w.annotations)) return false;
  if (w.kind === 'ReplicaSet') return w.ownerKind !== 'Deployment';
  return w.kind !== 'Job' && w.kind !== 'Pod';
}

/** The workload as the Kubernetes adapter reads it, as far as its refusal rules look. */
function asObject(w: MemoryWorkload): Obj {
  return {
    kind: w.kind,
    metadata: { name: w.name, namespace: w.namespace, labels: w.labels, annotations: w.annotations, managedFields: w.managedFields },
    spec: { paused: w.paused, ...(w.updateStrategy ? { updateStrategy: { type: w.updateStrategy } } : {}) },
  };
}

/** The field a memory workload names -> the names it holds (one per locator). */
function namesIn(w: MemoryWorkload): (field: string) => string[] {
  return (field) => (w.refs[field] !== undefined ? [w.refs[field]] : []);
}

/** What the apiserver answers a worker that may not read a namespace's Secrets, as the adapter reports it. */
function forbiddenSecrets(namespace: string, name: string): RotorError {
  const message = `secrets "${name}" is forbidden: User cannot get resource "secrets" in API group "" in the namespace "${namespace}"`;
  return toRotorError(
    { code: 403, body: JSON.stringify({ kind: 'Status', reason: 'Forbidden', message }) },
    'read',
    `Secret ${namespace}/${name} (metadata only)`,
  );
}

export class MemoryCluster implements ClusterPort, ExternalSecretsPort {
  /** `provider`: what External Secrets Operator would read for an ExternalSecret (without it, none syncs). */
  constructor(
    readonly world: MemoryWorld,
    public provider?: MemoryProvider,
    /** How GitOps controllers mark what they own, as the Kubernetes adapter is told. */
    readonly gitops: GitOpsOptions = {},
  ) {}

  /** Why rotor will not switch it: the Kubernetes adapter's rules (rollout.ts, gitops.ts), on the same metadata. */
  private refusal(w: MemoryWorkload): string | null {
    return switchRefusal(w.kind, asObject(w), this.gitops, Object.keys(w.refs));
  }

  private secret(namespace: string, name: string): MemorySecret | undefined {
    return this.world.secrets.find((s) => s.namespace === namespace && s.name === name);
  }

  private find(namespace: string, kind: WorkloadKind, name: string): MemoryWorkload | undefined {
    return this.world.workloads.find((w) => w.namespace === namespace && w.kind === kind && w.name === name);
  }

  private workload(namespace: string, kind: WorkloadKind, name: string): MemoryWorkload {
    const found = this.find(namespace, kind, name);
    if (!found) throw new RotorError('NotFound', `${kind}/${name} not found in namespace ${namespace}`, `${kind}/${name}`, 404);
    return found;
  }

  private fieldsNaming(w: MemoryWorkload, secretName: string): string[] {
    return Object.entries(w.refs)
      .filter(([, name]) => name === secretName)
      .map(([field]) => field);
  }

  private use(w: MemoryWorkload, secretName: string): WorkloadUse {
    return { kind: w.kind, namespace: w.namespace, name: w.name, fields: this.fieldsNaming(w, secretName), refusal: switchable(w) ? this.refusal(w) : null };
  }

  private setRecord(w: MemoryWorkload, to: string, record: OwnershipRecord | null): void {
    const annotations = { ...w.annotations };
    if (record) annotations[ownershipKey(to)] = JSON.stringify(record);
    else delete annotations[ownershipKey(to)];
    w.annotations = annotations;
  }

  async claimRotation(namespace: string, secret: string, holder: string, replacing?: string): Promise<RotationClaim> {
    if (this.world.namespaces && !this.world.namespaces.includes(namespace)) throw missingNamespace(namespace);
    const claims = (this.world.claims ??= {});
    const key = `${namespace}/${secret}`;
    const current = claims[key];
    if (current && current.holder !== holder && current.holder !== replacing) return { ...current };
    if (current?.holder === holder) return { ...current };
    claims[key] = { holder, since: new Date().toISOString() };
    return { ...claims[key] };
  }

  async releaseRotation(namespace: string, secret: string, holder: string): Promise<void> {
    const key = `${namespace}/${secret}`;
    if (this.world.claims?.[key]?.holder === holder) delete this.world.claims[key];
  }

  async findCurrentUse(namespace: string, secret: string): Promise<{ version: string | null; workloads: WorkloadUse[] }> {
    const held = this.world.workloads.filter((w) => w.namespace === namespace && holds(w));
    const isVersion = (name: string) => name === secret || parseVersionName(name, secret) !== null;
    const templates = held.filter((w) => switchable(w) && Object.values(w.refs).some(isVersion));
    const version = newestVersion((templates.length ? templates : held).flatMap((w) => Object.values(w.refs)).filter(isVersion), secret);
    if (!version) return { version: null, workloads: [] };
    return { version, workloads: held.filter((w) => switchable(w) && this.fieldsNaming(w, version).length).map((w) => this.use(w, version)) };
  }

  async readVersion(namespace: string, name: string): Promise<StoredVersion | null> {
    const s = this.secret(namespace, name);
    return s ? { data: { ...s.data }, rotationId: s.annotations?.[ANNOTATION_ROTATION] ?? null } : null;
  }

  async readVersionRecord(namespace: string, name: string): Promise<VersionRecord | null> {
    if (this.world.unreadableNamespaces?.includes(namespace)) throw forbiddenSecrets(namespace, name);
    const s = this.secret(namespace, name);
    return s ? versionRecordOf(s.annotations) : null;
  }

  async findCopies(name: string): Promise<string[] | null> {
    if (this.world.unreadableNamespaces?.length) return null;
    const found = this.world.secrets.filter((s) => s.name === name).map((s) => s.namespace);
    return [...new Set(found)].sort();
  }

  async readVersionType(namespace: string, name: string): Promise<string | null> {
    const s = this.secret(namespace, name);
    return s ? s.type || OPAQUE : null;
  }

  async namespaceExists(namespace: string): Promise<boolean | null> {
    return this.world.namespaces ? this.world.namespaces.includes(namespace) : true;
  }

  async createVersion(spec: VersionSpec): Promise<'created' | 'exists'> {
    const existing = this.secret(spec.namespace, spec.name);
    if (existing) {
      const owner = existing.annotations?.[ANNOTATION_ROTATION];
      if (owner !== spec.rotationId) throw new RotorError('VersionConflict', `${spec.name} already exists in ${spec.namespace}`, owner ?? 'unknown', 409);
      if (!sameData(existing.data, spec.data))
        throw new RotorError('VersionContentMismatch', `${spec.name} in ${spec.namespace} exists with different content`, spec.name, 409);
      if ((existing.type || OPAQUE) !== (spec.type ?? OPAQUE))
        throw typeMismatch(`Secret ${spec.namespace}/${spec.name}`, existing.type || OPAQUE, spec.type ?? OPAQUE);
      return 'exists';
    }
    this.world.secrets.push({
      namespace: spec.namespace,
      name: spec.name,
      type: spec.type ?? OPAQUE,
      immutable: true,
      labels: { [LABEL_SECRET]: spec.base, [LABEL_VERSION]: spec.name.slice(spec.base.length + 1) },
      annotations: versionAnnotations(spec.rotationId, spec.store, spec.identity),
      data: { ...spec.data },
    });
    return 'created';
  }

  /** Point every field naming `from` at `to`, recorded as this rotation's. */
  private switchOne(w: MemoryWorkload, from: string, to: string, restoreReplicas: boolean): string[] {
    const owned = readOwnership(w.annotations, to);
    const moved = this.fieldsNaming(w, from);
    for (const f of moved) w.refs[f] = to;
    const fields = [...new Set([...(owned?.fields ?? []), ...moved])];
    let replicas = owned?.replicas;
    if (restoreReplicas) {
      const last = replicasAtLastStep(w.replicas ?? 1, replicas);
      if (last.set !== null) w.replicas = last.set;
      replicas = last.replicas;
    }
    this.setRecord(w, to, { from, to, fields, ...(replicas ? { replicas } : {}) });
    return fields;
  }

  private ownedGreen(blue: MemoryWorkload, to: string): MemoryWorkload | null {
    const green = this.find(blue.namespace, 'Deployment', greenName(blue.name, to));
    if (!green) return null;
    if (!ownsGreen(green.annotations, blue.name, to)) {
      throw new RotorError(
        'OwnershipConflict',
        `Deployment ${blue.namespace}/${green.name} exists but is not rotor's canary of ${blue.name} for ${to}; rotor will not scale, switch or delete it`,
        `Deployment/${green.name}`,
      );
    }
    return green;
  }

  private canaryStep(request: SwitchInput, blue: MemoryWorkload): SwitchRecord {
    const { from, to } = request;
    const weight = request.weightPercent ?? 100;
    const green = this.ownedGreen(blue, to);
    const previousWeight = previousCanaryWeight(green ? (green.annotations ?? {}) : null, weight, request.previousWeightPercent);
    const owned = readOwnership(blue.annotations, to);
    const original = owned?.replicas?.before ?? blue.replicas ?? 1;
    const base = { namespace: blue.namespace, kind: blue.kind, name: blue.name, from, to };
    const name = greenName(blue.name, to);
    if (weight >= 100) {
      const fields = this.switchOne(blue, from, to, true);
      const replicas = readOwnership(blue.annotations, to)?.replicas;
      return {
        ...base,
        fields,
        canary: { green: name, weightPercent: 100, blueReplicas: replicas?.wrote ?? original, greenReplicas: green?.replicas ?? 0, originalReplicas: original },
      };
    }
    const greenReplicas = canaryShare(original, weight);
    const annotations = {
      [ANNOTATION_CANARY_OF]: blue.name,
      [ANNOTATION_CANARY_VERSION]: to,
      [ANNOTATION_WEIGHT]: String(weight),
      [ANNOTATION_PREVIOUS_WEIGHT]: String(previousWeight),
    };
    if (green) {
      green.replicas = greenReplicas;
      green.annotations = { ...green.annotations, ...annotations };
    } else {
      const refs = Object.fromEntries(Object.entries(blue.refs).map(([f, n]) => [f, n === from ? to : n]));
      this.world.workloads.push({
        kind: 'Deployment',
        namespace: blue.namespace,
        name,
        replicas: greenReplicas,
        refs,
        annotations: { ...annotations, ...(request.rotationId ? { [ANNOTATION_ROTATION]: request.rotationId } : {}) },
      });
    }
    const { replicas, set } = blueReplicasAt(blue.replicas ?? 1, owned?.replicas, previousWeight, replicasHeldByOther(blue.annotations, to));
    if (set !== null) blue.replicas = set;
    this.setRecord(blue, to, { from, to, fields: owned?.fields ?? [], replicas });
    return {
      ...base,
      fields: owned?.fields ?? [],
      canary: { green: name, weightPercent: weight, blueReplicas: replicas?.wrote ?? blue.replicas ?? original, greenReplicas, originalReplicas: original },
    };
  }

  async switchWorkloads(request: SwitchInput): Promise<SwitchRecord[]> {
    const records: SwitchRecord[] = [];
    for (const use of request.workloads) {
      const w = this.workload(request.namespace, use.kind, use.name);
      if (w.kind === 'Job' || w.kind === 'Pod')
        throw new RotorError(
          'RotorInputError',
          `${w.kind} ${w.namespace}/${w.name} cannot be switched in place (its pod template is immutable)`,
          `${w.kind}/${w.name}`,
        );
      const refused = this.refusal(w);
      if (refused) throw new RotorError('RotorInputError', refused, `${w.kind}/${w.name}`);
      if (request.strategy === 'canary' && w.kind === 'Deployment') {
        records.push(this.canaryStep(request, w));
        continue;
      }
      const base = { namespace: request.namespace, kind: w.kind, name: w.name, from: request.from, to: request.to };
      if (request.strategy === 'canary' && (request.weightPercent ?? 100) < 100) {
        records.push({ ...base, fields: [] });
        continue;
      }
      records.push({ ...base, fields: this.switchOne(w, request.from, request.to, false) });
    }
    return records;
  }

  async revertWorkloads(request: RevertInput): Promise<SwitchRecord[]> {
    const { namespace, from: newVersion, to: previous } = request;
    const reverted: SwitchRecord[] = [];
    for (const use of revertTargets(request)) {
      const w = this.find(namespace, use.kind, use.name);
      if (!w) continue;
      const owned = readOwnership(w.annotations, newVersion);
      const fields = (owned?.fields ?? []).filter((f) => w.refs[f] === newVersion);
      for (const f of fields) w.refs[f] = previous;
      const { set, outcome: replicas } = replicasOnRevert(w.replicas ?? 1, owned?.replicas);
      if (set !== null) w.replicas = set;
      const mark = !!request.markReverted;
      const green = mark && w.kind === 'Deployment' ? this.ownedGreen(w, newVersion) : null;
      const done = { fields, ...(replicas ? { replicas } : {}), ...(green ? { green: green.name } : {}) };
      const after = afterRevert(owned, { from: previous, to: newVersion }, done, mark);
      this.setRecord(w, newVersion, after.record);
      const greenRemoved = w.kind === 'Deployment' && this.removeGreen(w, newVersion);
      const report = revertReport(request, w, { ...after.outcome, greenRemoved });
      if (report) reverted.push(report);
    }
    return reverted;
  }

  private removeGreen(blue: MemoryWorkload, to: string): boolean {
    const green = this.ownedGreen(blue, to);
    if (!green) return false;
    this.world.workloads = this.world.workloads.filter((x) => x !== green);
    return true;
  }

  async completeCanary(namespace: string, records: SwitchRecord[], version?: string): Promise<void> {
    for (const r of records) {
      const blue = this.find(namespace, 'Deployment', r.name);
      if (r.canary && blue) this.removeGreen(blue, version ?? r.to);
    }
  }

  async releaseWorkloads(namespace: string, records: SwitchRecord[], version: string): Promise<void> {
    for (const r of records) {
      const w = this.find(namespace, r.kind, r.name);
      if (w) this.setRecord(w, version, null);
    }
  }

  async rolloutState(namespace: string, workloads: WorkloadUse[], version?: string): Promise<RolloutState> {
    for (const use of workloads) {
      const w = this.find(namespace, use.kind, use.name);
      if (!w) return { ready: false, failed: true, message: `${use.kind}/${use.name} no longer exists in ${namespace}` };
      const drift = version ? objectDrift(w, { fields: [] }, w.annotations, version, namesIn(w)) : [];
      if (drift.length) return { ready: false, failed: true, message: driftMessage(drift) };
      const all = [w, ...(w.kind === 'Deployment' && version ? [this.ownedGreen(w, version)].filter((g): g is MemoryWorkload => !!g) : [])];
      for (const x of all) {
        const refused = switchable(x) ? rolloutRefusal(x.kind, asObject(x)) : null;
        if (refused) return { ready: false, failed: true, message: refused };
        for (const [field, name] of Object.entries(x.refs)) {
          if (!this.secret(namespace, name))
            return { ready: false, failed: true, message: `${x.kind}/${x.name}: CreateContainerConfigError, secret "${name}" not found (${field})` };
        }
      }
    }
    return { ready: true, failed: false, message: `${workloads.length} workload(s) rolled out` };
  }

  async driftedReferences(records: SwitchRecord[], version: string): Promise<SwitchDrift[]> {
    return switchedObjects(records).flatMap((target) => {
      const w = this.find(target.namespace, target.kind, target.name);
      return w ? objectDrift(target, target, w.annotations, version, namesIn(w)) : [];
    });
  }

  async findReferences(namespaces: string[], secretName: string, options: ScanOptions = {}): Promise<Holder[]> {
    const workloads = this.world.workloads
      .filter((w) => namespaces.includes(w.namespace) && holds(w))
      .map((w) => this.use(w, secretName))
      .filter((h) => h.fields.length > 0);
    const wanted = secretIn(namespaces, secretName);
    const others = (this.world.objects ?? []).map((o) => shapeHolder(resourceOf(this.world, o), o, wanted)).filter((h): h is Holder => h !== null);
    const unreadable = Object.entries(this.world.unreadable ?? {})
      .filter(([id]) => !ignored(id, options.ignore))
      .map(([id, why]) => unreadableHolder(id, why));
    return [...workloads, ...others, ...unreadable];
  }

  // store external-secrets, with the operator's part played in memory: a version's Secret appears when
  // its state is asked for, from the provider, if its store is there and Ready.
  private externalSecret(namespace: string, name: string): MemoryExternalSecret | undefined {
    return this.world.externalSecrets?.find((e) => e.namespace === namespace && e.name === name);
  }

  private served(): void {
    if (!this.world.secretStores) throw externalSecretsNotServed();
  }

  async createExternalVersion(spec: ExternalVersionSpec): Promise<'created' | 'exists'> {
    this.served();
    const existing = this.externalSecret(spec.namespace, spec.name);
    if (existing) {
      const owner = existing.annotations[ANNOTATION_ROTATION];
      if (owner !== spec.rotationId)
        throw new RotorError('VersionConflict', `ExternalSecret ${spec.namespace}/${spec.name} already exists`, owner ?? 'another creator', 409);
      if (
        existing.remoteRef.key !== spec.remoteRef.key ||
        existing.remoteRef.version !== spec.remoteRef.version ||
        existing.secretStoreRef.name !== spec.secretStoreRef.name ||
        existing.secretStoreRef.kind !== spec.secretStoreRef.kind
      ) {
        throw new RotorError('VersionContentMismatch', `ExternalSecret ${spec.namespace}/${spec.name} exists for another value`, spec.name, 409);
      }
      if ((existing.type ?? OPAQUE) !== (spec.type ?? OPAQUE))
        throw typeMismatch(`ExternalSecret ${spec.namespace}/${spec.name}`, existing.type ?? OPAQUE, spec.type ?? OPAQUE);
      return 'exists';
    }
    const metadata = externalVersionMetadata(spec);
    (this.world.externalSecrets ??= []).push({
      namespace: spec.namespace,
      name: spec.name,
      type: spec.type ?? OPAQUE,
      secretStoreRef: { ...spec.secretStoreRef },
      remoteRef: { ...spec.remoteRef },
      labels: metadata.labels,
      annotations: metadata.annotations,
    });
    return 'created';
  }

  async externalVersionState(namespace: string, name: string): Promise<ExternalVersionState> {
    this.served();
    const es = this.externalSecret(namespace, name);
    if (!es) return { ready: false, message: `ExternalSecret ${namespace}/${name} does not exist` };
    if (!this.secret(namespace, name)) {
      const store = this.storeOf(namespace, es.secretStoreRef);
      const data = store?.ready && this.provider ? await this.provider(es.remoteRef).catch(() => null) : null;
      es.condition = { status: 'False', reason: 'SecretSyncedError', message: 'could not get secret data from provider' };
      if (data) {
        // The operator writes the Secret its template says, of the template's type.
        this.world.secrets.push({
          namespace,
          name,
          type: es.type ?? OPAQUE,
          immutable: true,
          labels: { ...es.labels },
          annotations: { ...es.annotations },
          data: { ...data },
        });
        es.condition = { status: 'True', reason: 'SecretSynced', message: 'secret synced' };
      }
    } else es.condition ??= { status: 'True', reason: 'SecretSynced', message: 'secret synced' };
    if (es.condition?.status !== 'True') {
      return {
        ready: false,
        judged: es.condition?.status === 'False',
        message: `ExternalSecret ${namespace}/${name} is not Ready: ${es.condition?.reason ?? ''}: ${es.condition?.message ?? ''}`,
      };
    }
    return { ready: true, message: `ExternalSecret ${namespace}/${name} is Ready (${es.condition.reason})` };
  }

  async checkExternalSecretStore(namespaces: string[], ref: ExternalSecretStoreRef, expect?: ExternalProvider): Promise<string> {
    this.served();
    for (const namespace of ref.kind === 'ClusterSecretStore' ? [namespaces[0]] : namespaces) {
      const object = ref.kind === 'ClusterSecretStore' ? `ClusterSecretStore ${ref.name}` : `SecretStore ${namespace}/${ref.name}`;
      const store = this.storeOf(namespace, ref);
      if (!store) throw noSuchStore(object);
      if (expect) providerMismatch(object, store.provider ?? { aws: { service: 'SecretsManager', region: expect.region } }, expect);
      if (!store.ready) throw storeNotReady(object, store.message ?? 'Ready False');
    }
    return `${ref.kind} ${ref.name} is Ready${ref.kind === 'SecretStore' ? ` in ${namespaces.join(', ')}` : ''}`;
  }

  private storeOf(namespace: string, ref: ExternalSecretStoreRef): MemorySecretStore | undefined {
    return this.world.secretStores?.find((s) => s.kind === ref.kind && s.name === ref.name && (ref.kind === 'ClusterSecretStore' || s.namespace === namespace));
  }

  async deleteUnreferenced(namespace: string, name: string, options: DeleteOptions = {}): Promise<{ deleted: boolean; holders: Holder[] }> {
    const holders = await this.findReferences([namespace], name, { ignore: options.ignore });
    if (holders.length) return { deleted: false, holders };
    if (options.externalSecret) {
      const es = this.externalSecret(namespace, name);
      if (es && es.labels['app.kubernetes.io/managed-by'] !== 'rotor') {
        throw new RotorError(
          'OwnershipConflict',
          `ExternalSecret ${namespace}/${name} was not created by rotor; delete it yourself if ${name} is no longer needed`,
          name,
        );
      }
      this.world.externalSecrets = (this.world.externalSecrets ?? []).filter((e) => e !== es);
    }
    this.world.secrets = this.world.secrets.filter((s) => !(s.namespace === namespace && s.name === name));
    return { deleted: true, holders: [] };
  }
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
