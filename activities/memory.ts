// An in-memory cluster and metrics source: `rotor worker --backend memory` rehearses a plan against a
// described world (a JSON file) without touching a cluster. Same port contracts as the real adapters.
import { readFileSync } from 'node:fs';
import type { WorkloadKind } from '../workflows/plan';
import { newestVersion, parseVersionName } from '../workflows/naming';
import { RotorError } from './errors';
import type { ClusterPort, MetricsPort, RolloutState, StoredVersion, VersionSpec } from './ports';
import type { Holder, RevertInput, SwitchInput, SwitchRecord, WorkloadUse } from './types';

export interface MemorySecret {
  namespace: string;
  name: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  data: Record<string, string>;
  immutable?: boolean;
}

export interface MemoryWorkload {
  kind: WorkloadKind;
  namespace: string;
  name: string;
  replicas?: number;
  /** Field path -> the Secret name it refers to. */
  refs: Record<string, string>;
}

export interface MemoryWorld {
  secrets: MemorySecret[];
  workloads: MemoryWorkload[];
  /** Query -> a constant value, a sequence (the last repeats), or null for "no data". */
  metrics?: Record<string, number | null | (number | null)[]>;
}

export const ROTATION_ANNOTATION = 'rotor.dev/rotation-id';

export function loadMemoryWorld(path: string): MemoryWorld {
  const world = JSON.parse(readFileSync(path, 'utf8')) as MemoryWorld;
  if (!Array.isArray(world.secrets) || !Array.isArray(world.workloads)) {
    throw new Error(`${path}: a memory world needs "secrets" and "workloads" lists`);
  }
  return world;
}

export class MemoryCluster implements ClusterPort {
  constructor(readonly world: MemoryWorld) {}

  private secret(namespace: string, name: string): MemorySecret | undefined {
    return this.world.secrets.find((s) => s.namespace === namespace && s.name === name);
  }

  private workload(namespace: string, kind: WorkloadKind, name: string): MemoryWorkload {
    const found = this.world.workloads.find((w) => w.namespace === namespace && w.kind === kind && w.name === name);
    if (!found) throw new RotorError('NotFound', `${kind}/${name} not found in namespace ${namespace}`, `${kind}/${name}`, 404);
    return found;
  }

  private uses(w: MemoryWorkload, secretName: string): string[] {
    return Object.entries(w.refs)
      .filter(([, name]) => name === secretName)
      .map(([field]) => field);
  }

  async findCurrentVersion(namespace: string, secret: string): Promise<string | null> {
    const names = this.world.workloads.filter((w) => w.namespace === namespace).flatMap((w) => Object.values(w.refs));
    return newestVersion(names.filter((name) => name === secret || parseVersionName(name, secret)), secret);
  }

  async findCurrentUse(namespace: string, secret: string): Promise<{ version: string | null; workloads: WorkloadUse[] }> {
    const version = await this.findCurrentVersion(namespace, secret);
    return { version, workloads: version ? await this.findWorkloads(namespace, version) : [] };
  }

  async findWorkloads(namespace: string, secretName: string): Promise<WorkloadUse[]> {
    return this.world.workloads
      .filter((w) => w.namespace === namespace)
      .map((w) => ({ kind: w.kind, namespace, name: w.name, fields: this.uses(w, secretName) }))
      .filter((w) => w.fields.length > 0);
  }

  async readVersion(namespace: string, name: string): Promise<StoredVersion | null> {
    const s = this.secret(namespace, name);
    return s ? { data: { ...s.data }, rotationId: s.annotations?.[ROTATION_ANNOTATION] ?? null } : null;
  }

  async createVersion(spec: VersionSpec): Promise<'created' | 'exists'> {
    const existing = this.secret(spec.namespace, spec.name);
    if (existing) {
      const owner = existing.annotations?.[ROTATION_ANNOTATION];
      if (owner !== spec.rotationId) throw new RotorError('VersionConflict', `${spec.name} already exists in ${spec.namespace}`, owner ?? 'unknown', 409);
      const same = JSON.stringify(Object.entries(existing.data).sort()) === JSON.stringify(Object.entries(spec.data).sort());
      if (!same) throw new RotorError('VersionContentMismatch', `${spec.name} in ${spec.namespace} exists with different content`, spec.name, 409);
      return 'exists';
    }
    this.world.secrets.push({
      namespace: spec.namespace,
      name: spec.name,
      immutable: true,
      labels: { 'rotor.dev/secret': spec.base, 'rotor.dev/version': spec.name.slice(spec.base.length + 1) },
      annotations: { [ROTATION_ANNOTATION]: spec.rotationId },
      data: { ...spec.data },
    });
    return 'created';
  }

  async switchWorkloads(request: SwitchInput): Promise<SwitchRecord[]> {
    const records: SwitchRecord[] = [];
    for (const use of request.workloads) {
      const w = this.workload(request.namespace, use.kind, use.name);
      const weight = request.weightPercent ?? 100;
      // The memory world has no replicas to split: below 100% a canary is recorded, not applied.
      const fields = weight >= 100 ? this.uses(w, request.from) : [];
      for (const field of fields) w.refs[field] = request.to;
      const alreadyOn = this.uses(w, request.to);
      const replicas = w.replicas ?? 1;
      const greenReplicas = Math.ceil((replicas * weight) / 100);
      records.push({
        namespace: request.namespace,
        kind: w.kind,
        name: w.name,
        from: request.from,
        to: request.to,
        fields: [...new Set([...fields, ...alreadyOn])],
        canary:
          request.strategy === 'canary'
            ? { green: `${w.name}-${request.to.slice(-14)}`, weightPercent: weight, blueReplicas: replicas - greenReplicas, greenReplicas, originalReplicas: replicas }
            : undefined,
      });
    }
    return records;
  }

  async revertWorkloads(request: RevertInput): Promise<SwitchRecord[]> {
    const reverted: SwitchRecord[] = [];
    for (const use of request.workloads) {
      const w = this.workload(request.namespace, use.kind, use.name);
      const recorded = request.records.find((r) => r.kind === w.kind && r.name === w.name);
      // Exactly the recorded fields; without a record (a switch that failed half-way), what points at the new version.
      const candidates = recorded ? recorded.fields : Object.keys(w.refs);
      const fields = candidates.filter((f) => w.refs[f] === request.from);
      for (const field of fields) w.refs[field] = request.to;
      if (fields.length) reverted.push({ namespace: request.namespace, kind: w.kind, name: w.name, from: request.from, to: request.to, fields });
    }
    return reverted;
  }

  async completeCanary(): Promise<void> {
    // The memory world makes no green copies.
  }

  async rolloutState(namespace: string, workloads: WorkloadUse[]): Promise<RolloutState> {
    for (const use of workloads) {
      const w = this.workload(namespace, use.kind, use.name);
      for (const [field, name] of Object.entries(w.refs)) {
        if (!this.secret(namespace, name)) {
          return { ready: false, failed: true, message: `${w.kind}/${w.name}: CreateContainerConfigError, secret "${name}" not found (${field})` };
        }
      }
    }
    return { ready: true, failed: false, message: `${workloads.length} workload(s) ready` };
  }

  async findReferences(namespaces: string[], secretName: string): Promise<Holder[]> {
    return this.world.workloads
      .filter((w) => namespaces.includes(w.namespace))
      .map((w) => ({ kind: w.kind, namespace: w.namespace, name: w.name, fields: this.uses(w, secretName) }))
      .filter((h) => h.fields.length > 0);
  }

  async deleteUnreferenced(namespace: string, name: string): Promise<{ deleted: boolean; holders: Holder[] }> {
    const holders = await this.findReferences([namespace], name);
    if (holders.length) return { deleted: false, holders };
    this.world.secrets = this.world.secrets.filter((s) => !(s.namespace === namespace && s.name === name));
    return { deleted: true, holders: [] };
  }

  async labelVersion(namespace: string, name: string, labels: Record<string, string>): Promise<void> {
    const s = this.secret(namespace, name);
    if (s) s.labels = { ...s.labels, ...labels };
  }
}

export class MemoryMetrics implements MetricsPort {
  private readonly taken = new Map<string, number>();

  constructor(readonly world: MemoryWorld) {}

  async measure(_provider: string, query: string): Promise<number | null> {
    const spec = this.world.metrics?.[query];
    if (spec === undefined || spec === null) return null;
    if (!Array.isArray(spec)) return spec;
    const n = this.taken.get(query) ?? 0;
    this.taken.set(query, n + 1);
    return spec[Math.min(n, spec.length - 1)] ?? null;
  }
}
