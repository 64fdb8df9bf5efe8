// The ports: every outside system rotor talks to, one small interface each, one adapter per technology.
import type { Telemetry } from './telemetry';
import type { Notifier } from './notify/sinks';
import type { DatadogAggregator, DatadogApi, ExternalSecretStoreRef, MetricsProvider, StoreKind, StoreTarget, ValueSource } from '../domain/plan';
import type { Holder, ManagedBy, RevertInput, SwitchDrift, SwitchInput, SwitchRecord, VersionIdentity, WorkloadUse } from '../contract/activities';
import type { GitChanges } from './git/changes';
import type { JobPreflight } from '../domain/preflight';

export type SecretData = Record<string, string>;

export interface VersionSpec {
  namespace: string;
  /** The versioned name, `<base>-<YYYYMMDDHHMMSS>`. */
  name: string;
  base: string;
  rotationId: string;
  data: SecretData;
  /** Where a store outside the cluster keeps this version too, written on the Secret (annotations) for `rotor versions`. */
  store?: VersionStore;
  /** Its identities outside the cluster and where its copies are, written on the Secret (annotations). */
  identity?: Partial<VersionIdentity>;
  /** The Secret's `type`, kept from the previous version (absent: Opaque). */
  type?: string;
}

/** A store outside the cluster that keeps a version too (the AWS secret and its region). */
interface VersionStore {
  kind: StoreKind;
  secretId: string;
  region?: string;
}

/**
 * store external-secrets: instead of the Secret, an ExternalSecret of the version's name (External
 * Secrets Operator makes the immutable Secret from the store's pinned version). No value passes here.
 */
export interface ExternalVersionSpec extends Omit<VersionSpec, 'data'> {
  secretStoreRef: ExternalSecretStoreRef;
  /** The provider's secret and the exact version of it (AWS: `uuid/<VersionId>`; a stage would move under it). */
  remoteRef: { key: string; version: string };
}

/** How far External Secrets Operator got with a version's ExternalSecret and its Secret. */
export interface ExternalVersionState {
  /** Ready=True and the target Secret exists. */
  ready: boolean;
  /** What the operator said (its Ready condition), or what is missing. */
  message: string;
  /** Not ready, and the operator said why (Ready False with a reason), as opposed to not having looked yet. */
  judged?: boolean;
}

export interface StoredVersion {
  data: SecretData;
  rotationId: string | null;
}

/** A version's Secret without its data: who made it and what it says of its identities outside. */
export interface VersionRecord extends VersionIdentity {
  rotationId: string | null;
}

export interface RolloutState {
  ready: boolean;
  /** A rollout that cannot succeed (progress deadline exceeded, missing Secret): stop waiting. */
  failed: boolean;
  message: string;
}

/**
 * Who holds the rotation of a Secret in a namespace, and since when. The holder names the rotation:
 * `temporal://<deployment>/<Temporal namespace>/<workflow id>`, or `<Temporal namespace>/<workflow id>` as older releases wrote it.
 */
export interface RotationClaim {
  holder: string;
  since: string | null;
}

/** How a reference scan reads the cluster: the plan's scan.ignore (resources whose being unreadable holds nothing). */
export interface ScanOptions {
  ignore?: readonly string[];
}

/** A guarded delete: the scan's options, and whether the version is an ExternalSecret's target. */
export interface DeleteOptions extends ScanOptions {
  externalSecret?: boolean;
}

/** A pre-flight Job of a check: its name (one per rotation, stage and check), the version its pod reads, the check. */
export interface PreflightJobSpec {
  namespace: string;
  name: string;
  version: string;
  rotationId: string;
  job: JobPreflight;
}

/** How a pre-flight Job ended: passed (succeeded), or why not; its last log lines (not yet redacted). */
export interface PreflightJobRun {
  passed: boolean;
  message: string;
  logs: string[];
}

/** Why rotor posts a Kubernetes Event (docs/events.md has each one's object, type and note). */
type ClusterEventReason = 'SecretVersionSwitched' | 'CanaryStep' | 'RolledBack' | 'SecretVersionDeleted' | 'CleanupWaiting' | 'CredentialRevoked';

/**
 * A Kubernetes Event (events.k8s.io/v1, reportingController rotor.dev/worker) on an object rotor acted
 * on. Its name is derived from the rotation, the action and the object, so a retried activity posts
 * it once. Never a secret value in it: names, versions, fields and reasons only.
 */
export interface ClusterEvent {
  name: string;
  /** The regarded object's namespace (where `kubectl events -n` finds it). */
  namespace: string;
  regarding: { apiVersion: string; kind: string; name: string };
  reason: ClusterEventReason;
  /** What rotor did: Switch, CanaryStep, Revert, Delete, WaitForHolders, Revoke. */
  action: string;
  type: 'Normal' | 'Warning';
  /** What happened, in a line (at most 1 kB, as the API allows). */
  note: string;
  /** Who posts it: the worker's pod name (its host name). */
  reportingInstance: string;
}

export interface ClusterPort {
  /**
   * Claim the rotation of `secret` in `namespace` for `holder`; returns the claim in place afterwards.
   * It is `holder`'s when the claim was free, already `holder`'s, or held by `replacing` (a holder the
   * caller found no longer running); of two callers racing, one wins.
   */
  claimRotation(namespace: string, secret: string, holder: string, replacing?: string): Promise<RotationClaim>;
  /** Give the claim up if `holder` holds it; another holder's claim is left alone. */
  releaseRotation(namespace: string, secret: string, holder: string): Promise<void>;

  /**
   * The version of `secret` the namespace's workloads use now and the workloads rotor would switch, from one scan.
   * `throughGit`: the stage commits to Git, so a workload a GitOps controller applies is switched there, not refused.
   */
  findCurrentUse(namespace: string, secret: string, options?: { throughGit?: boolean }): Promise<{ version: string | null; workloads: WorkloadUse[] }>;
  readVersion(namespace: string, name: string): Promise<StoredVersion | null>;
  /** The Secret's `type` (its metadata and type only: no data is read); null when there is no such Secret. */
  readVersionType(namespace: string, name: string): Promise<string | null>;
  /** Whether the cluster has this namespace; null when the worker may not tell (it may not list namespaces). */
  namespaceExists(namespace: string): Promise<boolean | null>;
  /**
   * Create the immutable, labelled Secret of `spec.type`. Same content again: 'exists'. A Secret of that
   * name from another rotation: RotorError VersionConflict. Ours with other content or of another type:
   * VersionContentMismatch.
   */
  createVersion(spec: VersionSpec): Promise<'created' | 'exists'>;
  /** Switch (or, for a canary, one step); a retry after the effect ends where one call ends. */
  switchWorkloads(request: SwitchInput): Promise<SwitchRecord[]>;
  /** Undo exactly what this rotation changed on the targeted workloads; what others changed stays. */
  revertWorkloads(request: RevertInput): Promise<SwitchRecord[]>;
  /** After a canary reached 100% and passed: remove this rotation's green copies. */
  completeCanary(namespace: string, records: SwitchRecord[], version?: string): Promise<void>;
  /** After the new version is committed: forget what rotor recorded for undoing its switch. */
  releaseWorkloads(namespace: string, records: SwitchRecord[], version: string): Promise<void>;
  /** With `version`: failed when a reference rotor switched to it names something else now (set back). */
  rolloutState(namespace: string, workloads: WorkloadUse[], version?: string): Promise<RolloutState>;
  /** The switched references (the records, and rotor's ownership record on each object) that no longer name `version`. */
  /** What the GitOps controller's object says of its last sync, in a line (null when there is none to read). */
  gitopsStatus(managedBy: ManagedBy | undefined): Promise<string | null>;
  driftedReferences(records: SwitchRecord[], version: string): Promise<SwitchDrift[]>;
  /** The version's Secret in `namespace` read without its data; null when there is none. */
  readVersionRecord(namespace: string, name: string): Promise<VersionRecord | null>;
  /**
   * Every namespace that has a Secret of this name (metadata only): by one listing, or, where the worker
   * may not list Secrets, by reading the name in each namespace. Null when it cannot look in every one.
   */
  findCopies(name: string): Promise<string[] | null>;
  /**
   * Everything that still refers to `secretName` in the given namespaces, switchable or not: workloads,
   * any other object the cluster serves that names it (wherever that object lives), and each resource
   * that could not be read (it may), unless `ignore` (the plan's scan.ignore) names it. `namespaces`
   * null: a Secret of that name in any namespace.
   */
  findReferences(namespaces: string[] | null, secretName: string, options?: ScanOptions): Promise<Holder[]>;
  /**
   * Delete only if, scanned right before, nothing refers to it; otherwise report who does.
   * `externalSecret`: the version is an ExternalSecret's target, which goes first (the operator would
   * write the Secret again), then the Secret. `ignore`: as for findReferences.
   */
  deleteUnreferenced(namespace: string, name: string, options?: DeleteOptions): Promise<{ deleted: boolean; holders: Holder[] }>;
  /**
   * Run a pre-flight Job whose pod reads `version` (envFrom, or a volume), wait until it succeeds, fails
   * or times out, read its last log lines, and delete it. Asked again for the same name, it goes on
   * with the Job it made; a Job of that name that is not this rotation's is an OwnershipConflict.
   */
  runPreflightJob(spec: PreflightJobSpec): Promise<PreflightJobRun>;
  /**
   * Post a Kubernetes Event on the object it regards (with the object's uid, so `kubectl describe`
   * lists it). An Event of that name already there: 'exists' (a retry). Anything else throws.
   */
  postEvent(event: ClusterEvent): Promise<'created' | 'exists'>;
}

/**
 * store external-secrets: External Secrets Operator's side of the cluster (the Kubernetes adapter's
 * `externalSecrets`, kubernetes/external-secrets.ts; the memory backend plays the operator). A
 * version's ExternalSecret goes with its Secret through ClusterPort.deleteUnreferenced.
 */
export interface ExternalSecretsPort {
  /**
   * Create the version's ExternalSecret. Same spec again: 'exists'. One of that name from another
   * rotation (or not rotor's): RotorError VersionConflict.
   */
  createExternalVersion(spec: ExternalVersionSpec): Promise<'created' | 'exists'>;
  externalVersionState(namespace: string, name: string): Promise<ExternalVersionState>;
  /** Git mode: the GitOps controller that applies a version's ExternalSecret (its labels say), or null (absent, or created live). */
  externalVersionController(namespace: string, name: string): Promise<ManagedBy | null>;
  /** PLANNING: the ExternalSecret API is served and the store is there and Ready in each namespace; a line saying so. */
  checkExternalSecretStore(namespaces: string[], ref: ExternalSecretStoreRef, expect?: ExternalProvider): Promise<string>;
}

/** What a store stages: the version, its value source (or the issued credential), where, and its id in the store. */
export interface StageRequest {
  secret: string;
  version: string;
  value: ValueSource;
  issued?: SecretData;
  target?: StoreTarget;
  versionId?: string;
  /** Judges the value once it is resolved (throws when it is no good): a store that writes it calls this first. */
  check?: (data: SecretData) => void;
}

export interface SecretStorePort {
  readonly kind: StoreKind;
  /**
   * The value of `version`, written to the store as pending if the store keeps values. Idempotent by
   * version: asked again for the same version it returns the value it wrote the first time. `issued`:
   * for an `issuer` source, the credential the issuer handed out, to store as the value.
   */
  stageVersion(request: StageRequest): Promise<SecretData>;
  promoteVersion(request: { secret: string; version: string; previousVersion: string | null; target?: StoreTarget; versionId?: string }): Promise<void>;
  markFailed(request: { secret: string; version: string; target?: StoreTarget; versionId?: string }): Promise<void>;
  deleteVersion(request: { secret: string; version: string; target?: StoreTarget; versionId?: string }): Promise<void>;
  /**
   * A store outside the cluster: the id its version of `version` gets when made by `rotationId`, unique
   * to that rotation. Each request's `versionId` names it; absent, the id older releases derived from
   * the version name alone.
   */
  versionIdFor?(version: string, rotationId: string): string;
  /** PLANNING: the store answers for `target` (credentials, region, the secret exists); a line saying what it holds. */
  check?(target?: StoreTarget, value?: ValueSource): Promise<string>;
  /** store external-secrets: how an ExternalSecret names `version` in the provider (AWS: the secret and `uuid/<VersionId>`). */
  remoteRef?(request: { version: string; target?: StoreTarget; versionId?: string }): { key: string; version: string };
  /** store external-secrets: the provider a SecretStore must read (AWS: Secrets Manager, in the region rotor writes to). */
  externalProvider?(target?: StoreTarget): Promise<ExternalProvider>;
}

/** What an External Secrets Operator store must read to see the versions rotor wrote. */
export interface ExternalProvider {
  service: 'SecretsManager';
  region?: string;
}

/** How one measurement is taken, beyond the query itself. */
export interface MeasureOptions {
  /** The window a provider that queries a time range (Datadog) reduces over: the analysis interval. */
  windowMs: number;
  /** Datadog only: the API that answers (v2 scalar, reduced server-side, is the default) and its reducer. */
  datadog?: { api: DatadogApi; aggregator: DatadogAggregator };
}

export type { DatadogAggregator } from '../domain/plan';

/** One metrics backend (Prometheus, Datadog): a stage's `analysis.provider` names it. */
export interface MetricProvider {
  readonly name: MetricsProvider;
  /** The current value of the query, or null when it returns no data. Throws on a provider error. */
  measure(query: string, options?: MeasureOptions): Promise<number | null>;
  /** Datadog: the overall state of each monitor (OK, Warn, Alert, No Data, ...). */
  monitorStates?(ids: number[]): Promise<{ id: number; name: string; state: string }[]>;
}

/** An event in an event stream: a rotation's phase change. */
export interface RotorEvent {
  title: string;
  text: string;
  tags: string[];
  alertType: 'info' | 'success' | 'warning' | 'error';
}

/** Where a rotation's phase changes are posted (Datadog's event stream: the Datadog provider). */
export interface EventSink {
  postEvent(event: RotorEvent): Promise<void>;
}

/**
 * Where a credential comes from and goes back to (docs/issuer-protocol.md): issued under rotor's
 * version id (so a retried call issues nothing twice), revoked by it. The token is returned only by
 * `issue`, straight into the versioned Secret, never into history, a message or a log.
 */
export interface CredentialIssuer {
  /** `created`: false when a credential was already issued under `id` (the same token again). */
  issue(request: { id: string; scope?: string }): Promise<{ token: string; issuedAt: string; created: boolean }>;
  revoke(id: string): Promise<IssuedCredential>;
  status(id: string): Promise<IssuedCredential>;
}

export interface IssuedCredential {
  id: string;
  state: 'active' | 'revoked';
  issuedAt: string;
  revokedAt: string | null;
}

/** The providers a worker measures with, by name; a stage naming one it lacks measures errors, never a pass. */
export type MetricProviders = Partial<Record<MetricsProvider, MetricProvider>>;

/** The stores a worker writes to, by kind; a plan names one. */
export type SecretStores = Partial<Record<StoreKind, SecretStorePort>>;

export interface RotorDeps {
  cluster: ClusterPort;
  /** store external-secrets: the operator's ExternalSecrets; absent, a plan of that store fails (this worker cannot create ExternalSecrets). */
  externalSecrets?: ExternalSecretsPort;
  stores: SecretStores;
  metrics: MetricProviders;
  /** Where phase changes are posted (the Datadog provider, when the worker has one); absent, nothing is posted. */
  events?: EventSink;
  /** The credential issuer plans with `value: { issuer }` use (ROTOR_ISSUER_URL); absent, they are refused in PLANNING. */
  issuer?: CredentialIssuer;
  /**
   * Whether the rotation a claim's holder names still runs; a claim held by one that does not is
   * taken over. Default: asks the worker's Temporal client, and says "running" when it cannot tell.
   */
  rotationRunning?: (holder: string, since: string | null) => Promise<boolean>;
  /**
   * The Temporal deployment this worker belongs to, written into claim holders. Default: the server's
   * cluster id (GetClusterInfo), or ROTOR_DEPLOYMENT_ID.
   */
  deploymentId?: () => Promise<string>;
  /** store external-secrets: how long CREATING waits for the operator to write a version's Secrets, per attempt (default 90 s). */
  externalSecretReadyMs?: number;
  /** The worker's metrics (ROTOR_METRICS_ADDR); absent, nothing is counted. */
  telemetry?: Telemetry;
  /** Where logs go; never given a secret value. */
  log?: (message: string, fields?: Record<string, unknown>) => void;
  /** Notification sinks (ROTOR_NOTIFY_*); absent, plans naming a sink are refused in PLANNING and nothing is notified. */
  notifier?: Notifier;
  /** Git mode's repositories, with the worker's Git credentials (ROTOR_GIT_*); absent, a plan with gitops is refused in PLANNING. */
  git?: GitChanges;
}
