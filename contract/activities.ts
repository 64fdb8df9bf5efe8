// Data that crosses the workflow/activity boundary. Types only: the workflow imports nothing else
// from activities/. No type here ever holds a secret value.
import type { NotifyActivities } from './notify';
import type { ChangeWindow, WindowState } from '../domain/windows';
import type { Analysis, StoreKind, StoreTarget, ValueSource, WorkloadKind, WorkloadRef } from '../domain/plan';
import type { Measurement, Verdict } from '../domain/analysis';
import type { Absence } from '../domain/absent';
import type { PreflightCheck, PreflightResult } from '../domain/preflight';

/**
 * A workload and the places in it that name a Secret, by meaning, e.g.
 * `containers[app].env[TOKEN].valueFrom.secretKeyRef.name` (older releases recorded JSON pointers).
 */
export interface WorkloadUse {
  kind: WorkloadKind;
  namespace: string;
  name: string;
  fields: string[];
  /** Why rotor will not switch it (OnDelete updates, a paused Deployment, ...); checked in PLANNING. */
  refusal?: string | null;
  /**
   * The GitOps controller that applies it from Git, when one does (absent in older histories): in a
   * stage with gitops, rotor changes its references through a commit, never live.
   */
  managedBy?: ManagedBy;
}

/** A GitOps controller's object that applies a workload: an Argo CD Application, a Flux Kustomization or HelmRelease. */
export interface ManagedBy {
  resource: 'Argo CD Application' | 'Flux Kustomization' | 'Flux HelmRelease';
  name?: string;
  namespace?: string;
  /** What shows it: labels, annotations, field managers. */
  evidence: string[];
}

/** Exactly what one switch changed, so a rollback can undo that and nothing else. */
export interface SwitchRecord {
  namespace: string;
  kind: WorkloadKind;
  name: string;
  from: string;
  to: string;
  /** Fields switched from `from` to `to` (on revert: moved back). */
  fields: string[];
  /** For canary: the green copy running `to` and the replica split at this step. */
  canary?: { green: string; weightPercent: number; blueReplicas: number; greenReplicas: number; originalReplicas: number };
  /** On revert, what became of the replicas rotor set for a canary. */
  replicas?: { restored: number } | { left: number; wrote: number };
  /** Git mode: a canary's green copy of a workload applied from Git; blue itself was not touched. */
  throughGit?: boolean;
}

/** A reference rotor switched that names something else now: set back by someone else (a GitOps self-heal, a hand edit). */
export interface SwitchDrift {
  namespace: string;
  kind: WorkloadKind;
  name: string;
  field: string;
  /** What the field names now (the previous version, when it was set back). */
  now: string[];
  /** The drift in words: which workload, which field, what it names now, and what it should. */
  message: string;
}

/** Before a step that relies on a switch: the references rotor switched, and the version they must name. */
interface CheckSwitchedInput {
  records: SwitchRecord[];
  version: string;
}

export interface DiscoverInput {
  secret: string;
  /** `throughGit`: the stage has gitops settings, so a workload a GitOps controller applies is switched by a commit, not refused. */
  stages: { name: string; namespace: string; workloads: 'auto' | WorkloadRef[]; throughGit?: boolean }[];
}

export interface DiscoveredStage {
  namespace: string;
  /** The version the workloads use now; null when the namespace has none. */
  previousVersion: string | null;
  workloads: WorkloadUse[];
  /** Workloads a listed plan named that do not refer to the current version. */
  missing: string[];
  /** When no version is in use: whether the namespace and the base Secret exist (absent in older histories). */
  absence?: Absence;
  /** The previous version's Secret `type`, which the new version keeps; absent (older histories): Opaque. */
  previousType?: string;
  /** What the previous version's Secret says of its identities outside (absent in older histories). */
  previousIdentity?: VersionIdentity;
}

/**
 * The identities a version has outside the cluster, as written on its Secret by the rotation that made
 * it; null where the Secret does not say (made by an older release, or not by rotor).
 */
export interface VersionIdentity {
  /** Its credential's id at the issuer (older releases issued under the version name). */
  credentialId: string | null;
  /** Its version id in the store outside the cluster (AWS VersionId). */
  storeVersionId: string | null;
  /** Every namespace the creating rotation made a copy in. */
  copies: string[] | null;
}

export interface CreateVersionInput {
  secret: string;
  version: string;
  rotationId: string;
  value: ValueSource;
  store: StoreKind;
  /** Where a store outside the cluster keeps the versions; absent for kubernetes and in older histories. */
  target?: StoreTarget;
  namespaces: string[];
  /**
   * The credential id and store version id derive from `rotationId` (unique to this rotation) rather
   * than from the version name alone; absent in histories from before.
   */
  uniqueIds?: boolean;
  /** The Secret `type` of the new version (the previous version's); absent in older histories: Opaque. */
  type?: string;
  /**
   * store external-secrets in Git mode: the namespaces whose ExternalSecret is committed to the stage's
   * repository (the controller applies it) rather than created live, and how long the controller may take.
   */
  throughGit?: { namespace: string; stage: string; target: GitTarget; syncTimeoutMs: number }[];
}

export type CreateVersionResult =
  /** `credential`: for an `issuer` source, what the issuer did (never the token). `storeVersionId`: the version's id in a store outside the cluster. */
  | {
      outcome: 'created' | 'exists';
      namespaces: string[];
      keys: string[];
      credential?: CredentialOutcome;
      storeVersionId?: string;
      /** CreateVersionInput.throughGit: each ExternalSecret's commit, in words (`<commit> to <repo> <branch>: <file>`). */
      commits?: string[];
    }
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
  /** Canary only: the step before this one (0 at the first). */
  previousWeightPercent?: number;
  /** `<workflowId>/<first run id>`, written on what rotor creates for the rotation. */
  rotationId?: string;
  /**
   * Git mode, canary below 100%: the workloads are applied from Git, so only their green copies are made
   * and scaled (beside blue at full size); blue is never patched, its reference changes by a commit at 100%.
   */
  throughGit?: boolean;
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
  /**
   * Leave on each object a record of what was reverted, so a retry after a killed attempt reports
   * everything reverted by any attempt (removed by finalizeVersion 'failed'). Absent in older histories.
   */
  markReverted?: boolean;
  /** Why the rotation rolls back (the failed check, the abort, the pre-flight), for the RolledBack Events; absent in older histories. */
  reason?: string;
}

export interface RolloutInput {
  stage: string;
  namespace: string;
  workloads: WorkloadUse[];
  timeoutMs: number;
  /** The new version: a canary's green copies are found by it. Absent from older releases. */
  version?: string;
  /**
   * The stage's analysis, measured while the rollout goes on: a value above the threshold
   * failureLimit times in a row stops the wait (the pods already on the new version are failing).
   */
  analysis?: Analysis;
}

export interface RolloutResult {
  ready: boolean;
  message: string;
  /** The analysis during the rollout, when it failed the stage. */
  check?: CheckResult;
  /** How long the rollout took (absent from older releases). */
  elapsedMs?: number;
}

export interface MonitorInput {
  stage: string;
  check: CheckKind;
  analysis: Analysis;
  /** How long to keep measuring. */
  durationMs: number;
  /** The query's {{namespace}} and {{version}} (the new version); absent in histories before them. */
  namespace?: string;
  version?: string;
  /** With a baseline, while the old version runs beside the new: the old one, measured side by side. */
  baselineVersion?: string;
  /**
   * When the first measurement is due, from the start (default one interval). After a rollout the
   * clock runs from the switch: the interval minus what the rollout took, so a bad version is
   * measured one interval after it went live, not one interval after its last pod did.
   */
  firstMeasurementAfterMs?: number;
}

export type CheckKind = 'rollout' | 'verify' | 'canary' | 'soak' | 'watch' | 'preflight';

/** A phase change, posted as an event where dashboards show it (Datadog's event stream). */
interface AnnounceInput {
  workflowId: string;
  secret: string;
  phase: string;
  stage: string | null;
  /** The namespace of the stage, for an env tag; null outside a stage. */
  namespace: string | null;
  message: string;
  newVersion: string | null;
}

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

/**
 * Something that still refers to a Secret: a workload (as a WorkloadUse), or any other object the
 * cluster serves that names it (a ServiceAccount, an Ingress, a custom resource), or a resource the
 * worker could not read (`unreadable`), which may refer to it.
 */
export interface Holder {
  /** The object's kind (`Deployment`, `ServiceAccount`, `TriggerAuthentication`); for an unreadable resource, its `<resource>.<group>`. */
  kind: WorkloadKind | (string & {});
  /** Where it lives; `(cluster-scoped)` for a cluster-scoped object, `*` for an unreadable resource. */
  namespace: string;
  /** `*` for an unreadable resource. */
  name: string;
  /** How it refers: `containers[app].env[TOKEN].valueFrom.secretKeyRef.name`, `spec.tls[0].secretName`. */
  fields: string[];
  refusal?: string | null;
  /** `networking.k8s.io/v1`; absent for the pod-bearing kinds and in older histories. */
  apiVersion?: string;
  /** Set when the scan could not read this resource: what failed, and the fix. */
  unreadable?: string;
}

interface ScanInput {
  secretName: string;
  namespaces: string[];
  /** The plan's `scan.ignore`: resources (`<resource>.<group>`) not read; absent in older histories. */
  ignore?: string[];
  /** Cleanup's scan: the holders found get CleanupWaiting Events on the version; absent in older histories. */
  cleanup?: boolean;
}

interface DeleteVersionInput {
  secret: string;
  version: string;
  namespaces: string[];
  store: StoreKind;
  /** Where a store outside the cluster keeps the versions; absent for kubernetes and in older histories. */
  target?: StoreTarget;
  /** The version's id in that store (absent: derived from the version name, as older releases did). */
  storeVersionId?: string;
  /** Where the version was copied (its Secret's record; null: not recorded); the store version stays while a copy elsewhere is used. */
  copies?: string[] | null;
  /** The plan's `scan.ignore`, as in ScanInput. */
  ignore?: string[];
}

/** `storeKept`: why the store's version was left (a copy elsewhere still used, or unknown). */
type DeleteVersionResult = { deleted: true; namespaces: string[]; storeKept?: string } | { deleted: false; holders: Holder[] };

interface FinalizeInput {
  secret: string;
  version: string;
  previousVersion: string | null;
  store: StoreKind;
  /** Where a store outside the cluster keeps the versions; absent for kubernetes and in older histories. */
  target?: StoreTarget;
  namespaces: string[];
  outcome: 'committed' | 'failed';
  /**
   * On commit: what rotor switched; on failure: what its rollback reverted (markReverted). Their
   * ownership records come off. Absent from older releases.
   */
  switched?: SwitchRecord[];
  /**
   * The rotation that made the version with identities of its own (CreateVersionInput.uniqueIds): its
   * store version id derives from it. Absent: derived from the version name, as older releases did.
   */
  madeBy?: string;
}

/**
 * A credential at the issuer, by rotor's version name (never the token): `unknown` when the issuer
 * issued nothing under that id (a version from before rotor used the issuer, or another source).
 */
export interface CredentialOutcome {
  id: string;
  state: 'active' | 'revoked' | 'unknown';
  issuedAt: string | null;
  revokedAt: string | null;
  /** On issue: whether this call issued it, or found it issued by an earlier attempt. */
  created?: boolean;
  /** On revoke: why it was left live (a copy of its version is still used, or cannot be seen). */
  kept?: string;
}

interface InspectCredentialsInput {
  /** The versions whose credentials to look up (the previous versions, in PLANNING). */
  ids: string[];
}

export interface RevokeCredentialInput {
  id: string;
  /** Why, for the worker's log: the new credential after a rollback, or the previous one after cleanup. */
  why: 'rollback' | 'cleanup' | 'creation failed';
  /**
   * The version the credential was issued for and where its copies were made: revoked only when every
   * copy, in any namespace, is gone or unreferenced. Absent in older histories (revoked as asked).
   */
  copiesOf?: { secret: string; version: string; copies: string[] | null; ignore?: string[] };
  /** The plan's namespaces, where the version's CredentialRevoked Events go (absent: its known copies'); absent in older histories. */
  namespaces?: string[];
}

interface CheckStoreInput {
  store: StoreKind;
  /** The plan's `awsSecretsManager` (and `externalSecrets`): where a store outside the cluster keeps the versions. */
  target?: StoreTarget;
  /** store external-secrets: the stages' namespaces, where a SecretStore must be Ready. */
  namespaces?: string[];
  /** The plan's value source: a value staged in the same store is not another rotation's. Absent in older histories. */
  value?: ValueSource;
}

interface CompleteCanaryInput {
  namespace: string;
  records: SwitchRecord[];
  /** The new version, whose green copies go. Absent from older releases (then read from the records). */
  version?: string;
}

export interface ClaimInput {
  secret: string;
  namespaces: string[];
  /** `<Temporal namespace>/<workflow id>` of the rotation: stable across continue-as-new. */
  holder: string;
  /**
   * Qualify the holder with the Temporal deployment's id (`temporal://<cluster id>/<namespace>/<workflow id>`),
   * so two rotor deployments never mistake each other's claims. Absent in older histories.
   */
  qualify?: boolean;
}

export interface ClaimResult {
  /** The holder written on the claims (qualified when asked); absent from older releases. */
  holder?: string;
  /** Namespaces another running rotation of the same Secret holds; empty when every claim is this rotation's. */
  refused: { namespace: string; holder: string; since: string | null }[];
}

// The activities the workflow may call, as types only (the workflow bundle must not import adapters).
/** Where a stage's workloads that a GitOps controller applies are defined (the plan's gitops settings). */
export interface GitTarget {
  repo: string;
  branch: string;
  path: string;
  author: { name: string; email: string };
  /**
   * branch: rotor never pushes to `branch`; its commit goes to a branch of its own for a person to
   * merge (docs/gitops.md). Absent: direct, straight to `branch`.
   */
  pushMode?: 'direct' | 'branch';
}

/** A stage's switch through Git: the references of `workloads` from `from` to `to`, in one commit. */
export interface GitSwitchInput {
  target: GitTarget;
  /** `<workflowId>/<runId>`: names the commit's trailer, so a retry finds its own commit. */
  rotationId: string;
  secret: string;
  stage: string;
  namespace: string;
  workloads: WorkloadUse[];
  from: string;
  to: string;
}

/** A commit rotor made (or found made by an earlier attempt), or why it made none (nothing changed). */
export type GitCommitResult =
  | {
      /** Empty when there was nothing of rotor's to revert, or its branch was withdrawn. */
      commit: string;
      repo: string;
      branch: string;
      edits: string[];
      /** An earlier attempt made it. */
      already: boolean;
      /** Pushes it took (a lost race makes it again on the new head). */
      attempts: number;
      /** pushMode branch: the branch of rotor's the commit was pushed to, for a person to merge into `branch`. */
      pushedTo?: string;
      /** pushMode branch, a rollback: rotor's branch `pushedTo` was never merged and is deleted; nothing to wait for. */
      withdrawn?: boolean;
    }
  | { refusal: string };

/** PLANNING: each stage's Git changes tried without committing (access, branch, manifests, what rotor may edit). */
interface GitPlanInput {
  /** `versionFile`: the stage's ExternalSecret is committed too (store external-secrets). */
  stages: { stage: string; namespace: string; target: GitTarget; workloads: WorkloadUse[]; from: string; versionFile?: boolean }[];
}

/** A cleanup round's removal of a version's ExternalSecret files (`round` tells one round's from the next). */
interface GitRemoval {
  targets: GitTarget[];
  rotationId: string;
  secret: string;
  version: string;
  round: number;
}

/** Until the live workloads name `version` at every reference the commit changed, or the timeout. */
interface GitSyncInput {
  stage: string;
  namespace: string;
  workloads: WorkloadUse[];
  version: string;
  commit: string;
  timeoutMs: number;
  /** pushMode branch: the branch of rotor's the commit waits on, for a person to merge. */
  pushedTo?: string;
}

interface GitSyncResult {
  synced: boolean;
  /** Done: how long it took; waiting or timed out: what the controller says, e.g. "Flux Kustomization flux-system/apps last applied main@sha1:def456". */
  message: string;
  elapsedMs?: number;
}

/** One pre-flight check of the new version in a stage's namespace, before its first switch. */
export interface PreflightInput {
  stage: string;
  namespace: string;
  /** The new version, read in `namespace` by the worker (its value never crosses this boundary). */
  version: string;
  check: PreflightCheck;
  /** Names the Job of a job check, so a retried activity finds the Job it made. */
  rotationId: string;
  /** The check's place in the stage's list. */
  index: number;
}

export interface RotorActivities extends NotifyActivities {
  /** One rotation of a Secret per namespace: all of the plan's namespaces, or none. */
  claimRotation(input: ClaimInput): Promise<ClaimResult>;
  releaseRotation(input: ClaimInput): Promise<void>;
  discover(input: DiscoverInput): Promise<DiscoveredStage[]>;
  createVersion(input: CreateVersionInput): Promise<CreateVersionResult>;
  switchWorkloads(input: SwitchInput): Promise<SwitchRecord[]>;
  revertWorkloads(input: RevertInput): Promise<SwitchRecord[]>;
  completeCanary(input: CompleteCanaryInput): Promise<void>;
  waitForRollout(input: RolloutInput): Promise<RolloutResult>;
  /** The references rotor switched that no longer name `version` (empty when none drifted); reads only. */
  checkSwitched(input: CheckSwitchedInput): Promise<SwitchDrift[]>;
  monitorAnalysis(input: MonitorInput): Promise<CheckResult>;
  scanReferences(input: ScanInput): Promise<Holder[]>;
  deleteVersion(input: DeleteVersionInput): Promise<DeleteVersionResult>;
  finalizeVersion(input: FinalizeInput): Promise<void>;
  announce(input: AnnounceInput): Promise<{ posted: boolean }>;
  /** PLANNING, for a store outside the cluster: this worker serves it, and it answers; what it holds, in a line. */
  checkStore(input: CheckStoreInput): Promise<{ detail: string }>;
  /** PLANNING, for a plan whose value comes from the issuer: the issuer answers, and what it knows of each id. */
  inspectCredentials(input: InspectCredentialsInput): Promise<CredentialOutcome[]>;
  /** Revoke at the issuer; idempotent; `unknown` when nothing was issued under the id. */
  revokeCredential(input: RevokeCredentialInput): Promise<CredentialOutcome>;
  /** PLANNING, for stages with gitops: each stage's change tried on the branch's head without committing; the refusals. */
  planGitChanges(input: GitPlanInput): Promise<string[]>;
  /** A stage's switch through Git: one commit, pushed; idempotent. */
  commitToGit(input: GitSwitchInput): Promise<GitCommitResult>;
  /** A stage's rollback through Git: the revert of its commit, pushed; idempotent. */
  revertInGit(input: GitSwitchInput & { commit: string }): Promise<GitCommitResult>;
  /** Waits until the GitOps controller applied the commit: the live references name the version. */
  waitForGitSync(input: GitSyncInput): Promise<GitSyncResult>;
  /** Cleanup: where the branches' heads still name the version (each `<repo> <branch>:<file>:<line>`). */
  namedInGit(input: { targets: GitTarget[]; version: string }): Promise<string[]>;
  /** Change windows: whether a stage may start a change at `atMs`, and when it next may (a local activity). */
  changeWindow(input: { windows: ChangeWindow[]; atMs: number }): Promise<WindowState>;
  /**
   * Cleanup, store external-secrets, before the guarded delete: rotor's ExternalSecret files of the
   * version removed from the branches, then a wait until each controller that applied one has applied a
   * revision without it (else it would apply it again); each commit in words.
   */
  removeFromGit(input: GitRemoval & { namespaces: string[]; timeoutMs: number }): Promise<string[]>;
  /** The guarded delete found a holder after the removal: the removal reverted; each commit in words. */
  restoreInGit(input: GitRemoval): Promise<string[]>;
  /** A pre-flight check of the new version: an HTTP call carrying it, or a Job whose pod reads it; what it found, redacted. */
  preflightCheck(input: PreflightInput): Promise<PreflightResult>;
}
