// Data that crosses the workflow/activity boundary. Types only: the workflow imports nothing else
// from activities/. No type here ever holds a secret value.
import type { Analysis, StoreKind, ValueSource, WorkloadKind, WorkloadRef } from '../workflows/plan';
import type { Measurement, Verdict } from '../workflows/analysis';

/** A workload and the places in it that name a Secret, e.g. `spec.template.spec.containers[0].envFrom[1].secretRef.name`. */
export interface WorkloadUse {
  kind: WorkloadKind;
  namespace: string;
  name: string;
  fields: string[];
}

/** Exactly what one switch changed, so a rollback can undo that and nothing else. */
export interface SwitchRecord {
  namespace: string;
  kind: WorkloadKind;
  name: string;
  from: string;
  to: string;
  /** Field paths switched from `from` to `to`. */
  fields: string[];
  /** For canary: the green copy running `to` and the replica split at this step. */
  canary?: { green: string; weightPercent: number; blueReplicas: number; greenReplicas: number; originalReplicas: number };
}

export interface DiscoverInput {
  secret: string;
  stages: { name: string; namespace: string; workloads: 'auto' | WorkloadRef[] }[];
}

export interface DiscoveredStage {
  namespace: string;
  /** The version the workloads use now; null when the namespace has none. */
  previousVersion: string | null;
  workloads: WorkloadUse[];
  /** Workloads a listed plan named that do not refer to the current version. */
  missing: string[];
}

export interface CreateVersionInput {
  secret: string;
  version: string;
  rotationId: string;
  value: ValueSource;
  store: StoreKind;
  namespaces: string[];
}

export type CreateVersionResult =
  | { outcome: 'created' | 'exists'; namespaces: string[]; keys: string[] }
  /** Another rotation owns a Secret of that name (same second): pick the next name. */
  | { outcome: 'conflict'; owner: string };

export interface SwitchInput {
  stage: string;
  namespace: string;
  workloads: WorkloadUse[];
  from: string;
  to: string;
  strategy: 'rolling' | 'in-place' | 'canary';
  /** Canary only: the share of replicas on the new version after this step. */
  weightPercent?: number;
}

export interface RevertInput {
  stage: string;
  namespace: string;
  /** The workloads the stage targeted: a switch that failed half-way is reverted by what points at `from`. */
  workloads: WorkloadUse[];
  /** The new version to move away from. */
  from: string;
  /** The previous version to move back to. */
  to: string;
  records: SwitchRecord[];
}

export interface RolloutInput {
  stage: string;
  namespace: string;
  workloads: WorkloadUse[];
  timeoutMs: number;
}

export interface RolloutResult {
  ready: boolean;
  message: string;
}

export interface MonitorInput {
  stage: string;
  check: CheckKind;
  analysis: Analysis;
  /** How long to keep measuring. */
  durationMs: number;
}

export type CheckKind = 'verify' | 'canary' | 'soak' | 'watch';

export interface CheckResult {
  stage: string;
  check: CheckKind;
  verdict: Verdict;
  reason: string;
  measurements: number;
  lastValue: number | null;
  threshold: number;
  /** The last few measurements, for the operator. */
  recent: Measurement[];
  startedAt: string;
  endedAt: string;
}

export interface Holder {
  kind: WorkloadKind;
  namespace: string;
  name: string;
  fields: string[];
}

export interface ScanInput {
  secretName: string;
  namespaces: string[];
}

export interface DeleteVersionInput {
  secret: string;
  version: string;
  namespaces: string[];
  store: StoreKind;
}

export type DeleteVersionResult = { deleted: true; namespaces: string[] } | { deleted: false; holders: Holder[] };

export interface FinalizeInput {
  secret: string;
  version: string;
  previousVersion: string | null;
  store: StoreKind;
  namespaces: string[];
  outcome: 'committed' | 'failed';
}
