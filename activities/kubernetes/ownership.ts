// What rotor owns on an object, written on the object itself in the same patch as the change, so a
// rollback knows exactly what rotor changed even when the activity that changed it failed afterwards.
import { createHash } from 'node:crypto';
import type { RevertInput, SwitchRecord, VersionIdentity, WorkloadUse } from '../../contract/activities';
import type { VersionRecord } from '../ports';
import type { WorkloadKind } from '../../domain/plan';

export const LABEL_SECRET = 'rotor.dev/secret';
export const LABEL_VERSION = 'rotor.dev/version';
export const ANNOTATION_ROTATION = 'rotor.dev/rotation-id';
/** The reportingController of the Events rotor's worker creates (events.ts), the only ones the admission policy lets it create. */
export const REPORTING_CONTROLLER = 'rotor.dev/worker';
/** On a version also kept outside the cluster: the store, the secret there and its region. */
const ANNOTATION_STORE = 'rotor.dev/store';
const ANNOTATION_STORE_SECRET = 'rotor.dev/store-secret';
const ANNOTATION_STORE_REGION = 'rotor.dev/store-region';

/** On a version: its credential's id at the issuer, its version id in the store outside, and every namespace it was copied to. */
const ANNOTATION_CREDENTIAL = 'rotor.dev/credential-id';
const ANNOTATION_STORE_VERSION = 'rotor.dev/store-version-id';
const ANNOTATION_COPIES = 'rotor.dev/copies';

/** The annotations a version carries: who created it, where else it is kept, its identities outside and its copies. */
export function versionAnnotations(
  rotationId: string,
  store?: { kind: string; secretId: string; region?: string },
  identity?: Partial<VersionIdentity>,
): Record<string, string> {
  return {
    [ANNOTATION_ROTATION]: rotationId,
    ...(store
      ? { [ANNOTATION_STORE]: store.kind, [ANNOTATION_STORE_SECRET]: store.secretId, ...(store.region ? { [ANNOTATION_STORE_REGION]: store.region } : {}) }
      : {}),
    ...(identity?.credentialId ? { [ANNOTATION_CREDENTIAL]: identity.credentialId } : {}),
    ...(identity?.storeVersionId ? { [ANNOTATION_STORE_VERSION]: identity.storeVersionId } : {}),
    ...(identity?.copies?.length ? { [ANNOTATION_COPIES]: identity.copies.join(',') } : {}),
  };
}

/** A version's record from its annotations (no data): who made it, its identities outside, its copies. */
export function versionRecordOf(annotations: Record<string, string> | undefined): VersionRecord {
  const copies = annotations?.[ANNOTATION_COPIES];
  return {
    rotationId: annotations?.[ANNOTATION_ROTATION] ?? null,
    credentialId: annotations?.[ANNOTATION_CREDENTIAL] ?? null,
    storeVersionId: annotations?.[ANNOTATION_STORE_VERSION] ?? null,
    copies: copies ? copies.split(',').filter(Boolean) : null,
  };
}

/** Where else a version is kept, and its id there, from its annotations (null when only in the cluster). */
export function versionStoreOf(
  annotations: Record<string, string> | undefined,
): { kind: string; secretId: string; region?: string; versionId?: string } | null {
  const kind = annotations?.[ANNOTATION_STORE];
  const secretId = annotations?.[ANNOTATION_STORE_SECRET];
  if (!kind || !secretId) return null;
  const region = annotations?.[ANNOTATION_STORE_REGION];
  // The store's id of this version, as its rotation recorded it (older versions: derived from the name).
  const versionId = annotations?.[ANNOTATION_STORE_VERSION];
  return { kind, secretId, ...(region ? { region } : {}), ...(versionId ? { versionId } : {}) };
}
/** On a green copy: the Deployment it is the canary of, and the version it runs (one rotation's). */
export const ANNOTATION_CANARY_OF = 'rotor.dev/canary-of';
export const ANNOTATION_CANARY_VERSION = 'rotor.dev/canary-version';
export const ANNOTATION_WEIGHT = 'rotor.dev/canary-weight';
export const ANNOTATION_PREVIOUS_WEIGHT = 'rotor.dev/canary-previous-weight';
/** The pod label that keeps one green copy's pods apart from blue's and from other rotations' greens. */
export const LABEL_CANARY = 'rotor.dev/canary';

/** What one rotation changed on one object: the fields it switched and, during a canary, the replicas. */
export interface OwnershipRecord {
  from: string;
  to: string;
  /** Locators (refs.ts) rotor switched from `from` to `to`. */
  fields: string[];
  /** Replicas rotor set for the canary: the count before, what rotor wrote last; `released` once someone else changed it. */
  replicas?: { before: number; wrote: number; released?: boolean };
  /**
   * Left by a revert, in the same patch that moved the fields back (rotations since 'revert-record'):
   * everything this rotation's reverts did on the object, so a retry after a killed attempt reports
   * it too. Removed when the rollback ends (finalizeVersion 'failed').
   */
  reverted?: RevertDone;
}

/** What reverts did on one object: fields moved back, replicas handed back, the green copy removed. */
export interface RevertDone {
  fields: string[];
  replicas?: SwitchRecord['replicas'];
  /** The green copy of this rotation's canary, removed with the revert. */
  green?: string;
}

/**
 * What a revert leaves on the object and reports: what this attempt did plus what earlier attempts
 * recorded. With `mark`, a record saying so stays on the object (when anything was reverted);
 * without it (rotations from before), the record goes, as it always did.
 */
export function afterRevert(
  owned: OwnershipRecord | null,
  switched: { from: string; to: string },
  done: RevertDone,
  mark: boolean,
): { record: OwnershipRecord | null; outcome: RevertDone } {
  const earlier = owned?.reverted;
  const fields = [...new Set([...(earlier?.fields ?? []), ...done.fields])];
  const replicas = done.replicas ?? earlier?.replicas;
  const green = done.green ?? earlier?.green;
  const outcome: RevertDone = { fields, ...(replicas ? { replicas } : {}), ...(green ? { green } : {}) };
  const anything = fields.length > 0 || !!replicas || !!green;
  return { record: mark && anything ? { from: switched.from, to: switched.to, fields: [], reverted: outcome } : null, outcome };
}

function shortHash(text: string, length: number): string {
  return createHash('sha256').update(text).digest('hex').slice(0, length);
}

/** One annotation per rotation (keyed by its new version, which belongs to exactly one rotation). */
export function ownershipKey(to: string): string {
  return `rotor.dev/switch-${shortHash(to, 12)}`;
}

export function readOwnership(annotations: Record<string, string> | undefined, to: string): OwnershipRecord | null {
  const raw = annotations?.[ownershipKey(to)];
  if (!raw) return null;
  try {
    const record = JSON.parse(raw) as OwnershipRecord;
    return record.to === to && Array.isArray(record.fields) ? record : null;
  } catch {
    return null;
  }
}

/** The green copy of `blue` for the rotation to `to`: one per rotation, so two rotations never share one. */
export function greenName(blue: string, to: string): string {
  return `${blue}-canary-${shortHash(to, 8)}`;
}

export function canaryLabelValue(to: string): string {
  return shortHash(to, 12);
}

/** A green copy rotor made (of any rotation): never a workload to switch on its own. */
export function isCanaryCopy(annotations: Record<string, string> | undefined): boolean {
  return !!annotations?.[ANNOTATION_CANARY_OF];
}

/** Whether a Deployment found under a green name is this rotation's green copy of `blue`. */
export function ownsGreen(annotations: Record<string, string> | undefined, blue: string, to: string): boolean {
  return annotations?.[ANNOTATION_CANARY_OF] === blue && annotations?.[ANNOTATION_CANARY_VERSION] === to;
}

/** Replicas on the new version at a canary weight: at least one, at most all. */
export function canaryShare(original: number, weightPercent: number): number {
  return weightPercent <= 0 ? 0 : Math.min(original, Math.max(1, Math.ceil((original * weightPercent) / 100)));
}

/**
 * Green's replicas beside a blue that keeps all of its `original` (Git owns its replicas): enough that
 * green is `weightPercent` of the two together, e.g. 4 beside 4 at 50%, 1 beside 4 at 10% (20%: never 0).
 */
export function surgeShare(original: number, weightPercent: number): number {
  if (weightPercent <= 0) return 0;
  return Math.max(1, Math.ceil((original * weightPercent) / Math.max(1, 100 - weightPercent)));
}

/** Whether another rotation's canary holds this object's replicas now: replicas have one owner at a time. */
export function replicasHeldByOther(annotations: Record<string, string> | undefined, to: string): boolean {
  const mine = ownershipKey(to);
  return Object.entries(annotations ?? {}).some(([key, raw]) => {
    if (key === mine || !key.startsWith('rotor.dev/switch-')) return false;
    try {
      const replicas = (JSON.parse(raw) as OwnershipRecord).replicas;
      return !!replicas && !replicas.released;
    } catch {
      return false;
    }
  });
}

/**
 * Blue's replicas at a canary step: it gives up only what green proved at the previous step, and
 * only while it still holds what rotor wrote (an HPA or operator who scaled it since owns it again).
 * While another rotation's canary holds them, this one leaves them alone: its green only adds capacity.
 */
export function blueReplicasAt(
  current: number,
  record: OwnershipRecord['replicas'] | undefined,
  previousWeight: number,
  heldByOther = false,
): { replicas: OwnershipRecord['replicas']; set: number | null } {
  const before = record?.before ?? current;
  if (!record && heldByOther) return { replicas: { before: current, wrote: current, released: true }, set: null };
  if (record?.released) return { replicas: record, set: null };
  if (record && current !== record.wrote) return { replicas: { ...record, released: true }, set: null };
  const target = before - canaryShare(before, previousWeight);
  return { replicas: { before, wrote: target }, set: target === current ? null : target };
}

/** On revert: replicas go back to what they were only if they still hold what rotor wrote. */
function replicasToRestore(current: number, record: OwnershipRecord['replicas'] | undefined): number | null {
  if (!record || record.released || current !== record.wrote || current === record.before) return null;
  return record.before;
}

/** At a canary's last step blue gets its replicas back, if rotor still owns them; otherwise it lets go of them. */
export function replicasAtLastStep(
  current: number,
  record: OwnershipRecord['replicas'] | undefined,
): { replicas: OwnershipRecord['replicas']; set: number | null } {
  if (!record || record.released) return { replicas: record, set: null };
  const restore = replicasToRestore(current, record);
  if (restore !== null) return { replicas: { before: record.before, wrote: restore }, set: restore };
  return { replicas: current === record.wrote ? record : { ...record, released: true }, set: null };
}

/** On revert: the count to set (or null), and what became of the replicas, for the rollback's report. */
export function replicasOnRevert(
  current: number,
  record: OwnershipRecord['replicas'] | undefined,
): { set: number | null; outcome?: { restored: number } | { left: number; wrote: number } } {
  if (!record) return { set: null };
  const restore = replicasToRestore(current, record);
  if (restore !== null) return { set: restore, outcome: { restored: restore } };
  return current !== record.before ? { set: null, outcome: { left: current, wrote: record.wrote } } : { set: null };
}

/**
 * The step before this canary step: as the workflow says, or, from an older release, as green recorded
 * it (a retried step finds green already at this weight, and the step before it is what green noted then).
 */
export function previousCanaryWeight(greenAnnotations: Record<string, string> | null | undefined, weight: number, given?: number): number {
  if (given !== undefined) return given;
  if (!greenAnnotations) return 0;
  const recorded = greenAnnotations[ANNOTATION_WEIGHT] === String(weight) ? greenAnnotations[ANNOTATION_PREVIOUS_WEIGHT] : greenAnnotations[ANNOTATION_WEIGHT];
  return Number(recorded) || 0;
}

/** What a revert looks at: the targeted workloads, and any object a record names that they do not. */
export function revertTargets(request: RevertInput): WorkloadUse[] {
  const targets = [...request.workloads];
  for (const r of request.records)
    if (!targets.some((t) => t.kind === r.kind && t.name === r.name)) targets.push({ kind: r.kind, namespace: request.namespace, name: r.name, fields: [] });
  return targets;
}

/** The report of one object's revert, or null when nothing of this rotation was left on it. */
export function revertReport(
  request: RevertInput,
  target: { kind: WorkloadKind; name: string },
  outcome: { fields: string[]; replicas?: SwitchRecord['replicas']; greenRemoved?: boolean; green?: string },
): SwitchRecord | null {
  const greenRemoved = outcome.greenRemoved || !!outcome.green;
  if (!outcome.fields.length && !outcome.replicas && !greenRemoved) return null;
  const { namespace, from: newVersion, to: previous } = request;
  return {
    namespace,
    kind: target.kind,
    name: target.name,
    from: newVersion,
    to: previous,
    fields: outcome.fields,
    ...(outcome.replicas ? { replicas: outcome.replicas } : {}),
    ...(greenRemoved
      ? { canary: { green: outcome.green ?? greenName(target.name, newVersion), weightPercent: 0, blueReplicas: 0, greenReplicas: 0, originalReplicas: 0 } }
      : {}),
  };
}
