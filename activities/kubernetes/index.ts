// Over 350 lines: KubernetesCluster is the whole ClusterPort in one class, each method handing its work to a module below.
// The Kubernetes adapter: ClusterPort over @kubernetes/client-node 1.x, one concern a file:
//   refs.ts       where a pod spec names Secrets (the one table scan, switch and revert share)
//   scan.ts       what holds a Secret, and what rotor may switch
//   object-refs.ts  where any other object names a Secret, by shape (ServiceAccounts, Ingresses, custom resources)
//   cluster-scan.ts every served resource, through discovery, paged, judged by object-refs.ts
//   ownership.ts  what rotor owns on an object, recorded on the object itself
//   patching.ts   tested JSON patches that change a field and record it in one step
//   canary.ts     the per-rotation green copy and the replica weights
//   rollout.ts    `kubectl rollout status`, exactly, and what rotor refuses
//   gitops.ts     workloads Git owns (Argo CD, Flux): never switched live
//   drift.ts      switched references someone set back
//   secrets.ts    immutable versions
//   external-secrets.ts  versions as ExternalSecrets (store external-secrets): the ExternalSecretsPort
//   claims.ts     one rotation of a Secret per namespace at a time (a Lease)
//   jobs.ts       pre-flight Jobs: the new version tested by a pod that reads it
//   events.ts     Kubernetes Events on what rotor acted on (kubectl events, kubectl describe)
//   kubeconfig.ts the kubeconfig kubectl would use, and why one cannot be used
import * as k8s from '@kubernetes/client-node';
import { compareVersions, newestVersion, parseVersionName } from '../../domain/naming';
import type { WorkloadKind } from '../../domain/plan';
import { RotorError } from '../errors';
import type {
  ClusterEvent,
  ClusterPort,
  DeleteOptions,
  PreflightJobRun,
  PreflightJobSpec,
  RolloutState,
  RotationClaim,
  ScanOptions,
  StoredVersion,
  VersionRecord,
  VersionSpec,
} from '../ports';
import type { Holder, ManagedBy, RevertInput, SwitchDrift, SwitchInput, SwitchRecord, WorkloadUse } from '../../contract/activities';
import { controllerStatus } from './gitops-status';
import { Canary } from './canary';
import { Claims } from './claims';
import { ClusterEvents } from './events';
import { driftMessage, objectDrift, switchedObjects } from './drift';
import { ExternalSecrets } from './external-secrets';
import { PreflightJobs } from './jobs';
import { managedByOf, type GitOpsOptions } from './gitops';
import { allInOrder, apiReader, pagesOf, pool, scanByShape, type ApiReader, type ShapeMatch, type Slots } from './cluster-scan';
import { DEFAULT_SCAN_CONCURRENCY, type KubeRateLimiter } from './rate-limit';
import { resilient } from './transport';
import {
  METADATA_LIST,
  REQUEST_TIMEOUT_MS,
  keepFromKind,
  keepFromPages,
  kindApis,
  kindResource,
  readObject,
  statusCode,
  toRotorError,
  type KindApi,
  type Obj,
} from './kinds';
import { loadKubeConfig, type KubeConfigOptions } from './kubeconfig';
import { secretIn, type WantedSecret } from './object-refs';
import { revertReport, revertTargets, versionStoreOf } from './ownership';
import { releaseObject, revertObject, switchObject } from './patching';
import { podSpecSecretRefs, valueAt, workloadSecretRefs } from './refs';
import { rolloutOf, rolloutRefusal, switchRefusal } from './rollout';
import { examine, SCANNED_KINDS, type Found } from './scan';
import { Secrets } from './secrets';

export { greenName, ownershipKey } from './ownership';
export { POD_SPEC_SECRET_FIELDS } from './refs';
export { type GitOpsOptions } from './gitops';
export { loadKubeConfig, type KubeConfigOptions } from './kubeconfig';

const DEFAULT_PAGE = 200;

/** The Secret names a switched field holds now (a locator, or a JSON pointer from an older release). */
function namesAt(kind: WorkloadKind, obj: Obj): (field: string) => string[] {
  const refs = workloadSecretRefs(kind, obj);
  return (field) => {
    if (field.startsWith('/')) {
      const value = valueAt(obj, field);
      return typeof value === 'string' && value ? [value] : [];
    }
    return refs.filter((r) => r.field === field).map((r) => r.name);
  };
}

/** The drift of one object rotor switched to `version`, from its fields as they are now. */
function driftOn(namespace: string, kind: WorkloadKind, obj: Obj, version: string, recorded: { fields: string[]; from?: string } = { fields: [] }) {
  return objectDrift({ namespace, kind, name: obj.metadata!.name! }, recorded, obj.metadata?.annotations, version, namesAt(kind, obj));
}

/** A workload as the workflow sees it; `throughGit`: in a stage that commits to Git, a GitOps controller's workload is no refusal. */
function use(found: Found, namespace: string, match: (name: string) => boolean, throughGit = false): WorkloadUse {
  const controller = found.managedBy[0];
  return {
    kind: found.kind,
    namespace,
    name: found.name,
    fields: found.refs.filter((r) => match(r.name)).map((r) => r.field),
    refusal: throughGit && controller ? found.rolloutRefusal : found.refusal,
    ...(controller ? { managedBy: managedByOf(controller) } : {}),
  };
}

export class KubernetesCluster implements ClusterPort {
  private readonly core: k8s.CoreV1Api;
  private readonly kinds: Record<WorkloadKind, KindApi>;
  private readonly secrets: Secrets;
  private readonly canary: Canary;
  private readonly claims: Claims;
  private readonly jobs: PreflightJobs;
  private readonly events: ClusterEvents;
  /** store external-secrets: the operator's ExternalSecrets, over this adapter's connection. */
  readonly externalSecrets: ExternalSecrets;

  readonly kc: k8s.KubeConfig;
  private readonly limiter: KubeRateLimiter | null;

  constructor(
    kc: k8s.KubeConfig,
    readonly pageSize = DEFAULT_PAGE,
    /** How GitOps controllers mark what they own (Argo CD's instance label key, when configured). */
    readonly gitops: GitOpsOptions = {},
    requestTimeoutMs = REQUEST_TIMEOUT_MS,
    /**
     * How requests reach the apiserver: over HTTP by default (the memory backend answers them in-process);
     * through `limiter` (the worker's one, rate-limit.ts: worker/deps.ts gives it; none by default, as for
     * the CLI's one-off reads and the memory backend); `scanConcurrency`: lists at once in a scan.
     */
    private readonly transport: {
      http?: k8s.HttpLibrary;
      reader?: () => Promise<ApiReader>;
      limiter?: KubeRateLimiter | null;
      scanConcurrency?: number;
    } = {},
  ) {
    this.limiter = transport.limiter ?? null;
    kc = this.kc = resilient(kc, requestTimeoutMs, transport.http, this.limiter);
    this.core = kc.makeApiClient(k8s.CoreV1Api);
    this.kinds = kindApis(kc, pageSize);
    this.secrets = new Secrets(this.core);
    this.canary = new Canary(this.kinds.Deployment, kc.makeApiClient(k8s.AppsV1Api), gitops);
    this.claims = new Claims(kc.makeApiClient(k8s.CoordinationV1Api));
    this.jobs = new PreflightJobs(kc.makeApiClient(k8s.BatchV1Api), this.core);
    this.events = new ClusterEvents(kc.makeApiClient(k8s.EventsV1Api), this.kinds, this.secrets);
    this.externalSecrets = new ExternalSecrets(kc, this.core);
  }

  /** From the kubeconfig kubectl would use (--kubeconfig, KUBECONFIG, ~/.kube/config, the in-cluster ServiceAccount), --context applied. */
  static fromEnvironment(
    gitops: GitOpsOptions = {},
    pageSize = DEFAULT_PAGE,
    kube: KubeConfigOptions = {},
    limits: { limiter?: KubeRateLimiter; scanConcurrency?: number } = {},
  ): KubernetesCluster {
    return new KubernetesCluster(loadKubeConfig(kube).kc, pageSize, gitops, REQUEST_TIMEOUT_MS, limits);
  }

  private slots(): Slots {
    return pool(this.transport.scanConcurrency ?? DEFAULT_SCAN_CONCURRENCY);
  }

  /**
   * Every workload in `namespace` (all namespaces when null) holding a Secret whose name matches, each
   * kind in one of `slots`, page by page: what is kept of a page is its holders (scan.ts's Found).
   */
  private async scan(namespace: string | null, match: (name: string) => boolean, slots = this.slots(), reader?: ApiReader): Promise<Found[]> {
    const perKind = await allInOrder(
      SCANNED_KINDS.map((kind) =>
        slots(() => {
          const keep = (obj: Obj) => examine(kind, obj, match, this.gitops);
          if (!reader || namespace !== null) return keepFromKind(this.kinds[kind], kind, namespace, keep);
          // The whole cluster as plain JSON: at 100,000 objects the typed client's model objects cost more CPU and heap than the judging.
          return keepFromPages(pagesOf(reader, kindResource(kind), this.pageSize), keep).catch((err) => {
            throw toRotorError(err, 'list', `${kind}s in all namespaces`);
          });
        }),
      ),
    );
    return perKind.flat();
  }

  /**
   * The workload scan and, beside it, the whole-cluster scan of every other served resource: what in
   * `namespaces` (the workload scan's, all when null) holds a Secret `match` accepts, and what `wanted`
   * accepts of the rest; plus a holder for each resource that could not be read and `ignore` does not name.
   * One bound for both: the pod-bearing kinds first, then every discovered resource, in the same slots.
   */
  private async scanEverywhere(
    namespace: string | null,
    match: (name: string) => boolean,
    wanted: WantedSecret,
    ignore: readonly string[] | undefined,
  ): Promise<{ workloads: Found[]; others: ShapeMatch[]; unreadable: Holder[] }> {
    const slots = this.slots();
    const reader = await (this.transport.reader ? this.transport.reader() : apiReader(this.kc, this.limiter));
    try {
      const [workloads, shaped] = await Promise.all([
        this.scan(namespace, match, slots, reader),
        scanByShape(this.kc, { pageSize: this.pageSize, wanted, ignore, slots, reader }),
      ]);
      return { workloads, others: shaped.matches, unreadable: shaped.unreadable };
    } finally {
      reader.close();
    }
  }

  runPreflightJob(spec: PreflightJobSpec): Promise<PreflightJobRun> {
    return this.jobs.run(spec);
  }

  /** `rotor plan`: who holds the claim on `secret` in `namespace` now, read only; null when nobody does. */
  claimHolder(namespace: string, secret: string): Promise<RotationClaim | null> {
    return this.claims.current(namespace, secret);
  }

  postEvent(event: ClusterEvent): Promise<'created' | 'exists'> {
    return this.events.post(event);
  }

  claimRotation(namespace: string, secret: string, holder: string, replacing?: string): Promise<RotationClaim> {
    return this.claims.claim(namespace, secret, holder, replacing);
  }

  releaseRotation(namespace: string, secret: string, holder: string): Promise<void> {
    return this.claims.release(namespace, secret, holder);
  }

  async findCurrentUse(
    namespace: string,
    secret: string,
    options: { throughGit?: boolean } = {},
  ): Promise<{ version: string | null; workloads: WorkloadUse[] }> {
    const isVersion = (name: string) => name === secret || parseVersionName(name, secret) !== null;
    const found = await this.scan(namespace, isVersion);
    // Judged by the templates rotor would switch; pods of a rollout in progress (or Jobs) only when nothing else uses it.
    const switchable = found.filter((f) => f.switchable);
    const version = newestVersion(
      (switchable.length ? switchable : found).flatMap((f) => f.refs.map((r) => r.name)),
      secret,
    );
    const workloads = found
      .filter((f) => f.switchable && f.refs.some((r) => r.name === version))
      .map((f) => use(f, namespace, (n) => n === version, options.throughGit));
    return { version, workloads };
  }

  async findReferences(namespaces: string[] | null, secretName: string, options: ScanOptions = {}): Promise<Holder[]> {
    // Listed across all namespaces, counted only where the Secret lives: a workload's references are
    // in its namespace; another object's may name another namespace, or any (cluster-scoped).
    const found = await this.scanEverywhere(null, (name) => name === secretName, secretIn(namespaces, secretName), options.ignore);
    return [
      ...found.workloads.filter((f) => namespaces === null || namespaces.includes(f.namespace)).map((f) => use(f, f.namespace, (n) => n === secretName)),
      ...found.others.map((m) => m.holder),
      ...found.unreadable,
    ];
  }

  /** Every version of `secret` in a namespace (metadata and type: no Secret data is read), newest first, with who uses it. */
  async listVersions(
    namespace: string,
    secret: string,
  ): Promise<{ name: string; createdAt: Date | null; type: string; usedBy: Holder[]; store: ReturnType<typeof versionStoreOf> }[]> {
    const versions = await this.secrets.listNames(namespace, secret);
    const names = new Set(versions.map((v) => v.name));
    const {
      workloads: found,
      others,
      unreadable,
    } = await this.scanEverywhere(
      namespace,
      (name) => names.has(name),
      (ns, name) => (ns === null || ns === namespace) && names.has(name),
      undefined,
    );
    return versions
      .map(({ annotations, ...v }) => ({
        ...v,
        store: versionStoreOf(annotations),
        // Pods and ReplicaSets of a controller are shown through their workload; bare ones are shown themselves.
        // What could not be read may use any version: it is shown with each.
        usedBy: [
          ...found
            .filter((f) => f.refs.some((r) => r.name === v.name) && !((f.kind === 'Pod' || f.kind === 'ReplicaSet') && f.owned))
            .map((f) => use(f, namespace, (n) => n === v.name)),
          ...others
            .filter((m) => m.refs.some((r) => r.name === v.name))
            .map((m) => ({ ...m.holder, fields: [...new Set(m.refs.filter((r) => r.name === v.name).map((r) => r.field))] })),
          ...unreadable,
        ],
      }))
      .sort((a, b) => compareVersions(b.name, a.name, secret));
  }

  /** A workload as it is now (null when absent): `rotor plan` computes the switch and its undo from it. */
  readWorkload(kind: WorkloadKind, namespace: string, name: string): Promise<Obj | null> {
    return readObject(this.kinds[kind], kind, namespace, name);
  }

  readVersion(namespace: string, name: string): Promise<StoredVersion | null> {
    return this.secrets.read(namespace, name);
  }

  readVersionRecord(namespace: string, name: string): Promise<VersionRecord | null> {
    return this.secrets.readRecord(namespace, name);
  }

  findCopies(name: string): Promise<string[] | null> {
    return this.secrets.findCopies(name);
  }

  readVersionType(namespace: string, name: string): Promise<string | null> {
    return this.secrets.readType(namespace, name);
  }

  /** Whether the namespace exists, by a metadata listing of that one name; null when namespaces may not be listed. */
  async namespaceExists(namespace: string): Promise<boolean | null> {
    try {
      const list = await this.core.listNamespace({ fieldSelector: `metadata.name=${namespace}` }, METADATA_LIST);
      return (list.items ?? []).length > 0;
    } catch (err) {
      if (statusCode(err) === 403) return null;
      throw toRotorError(err, 'list', `namespace ${namespace} (metadata only)`);
    }
  }

  createVersion(spec: VersionSpec): Promise<'created' | 'exists'> {
    return this.secrets.create(spec);
  }

  async switchWorkloads(request: SwitchInput): Promise<SwitchRecord[]> {
    const records: SwitchRecord[] = [];
    const { namespace, from, to } = request;
    for (const w of request.workloads) {
      const base = { namespace, kind: w.kind, name: w.name, from, to };
      if (w.kind === 'Job' || w.kind === 'Pod') {
        throw new RotorError(
          'RotorInputError',
          `${w.kind} ${namespace}/${w.name} cannot be switched in place (its pod template is immutable); recreate it on ${to}`,
          `${w.kind}/${w.name}`,
        );
      }
      if (w.refusal) throw new RotorError('RotorInputError', w.refusal, `${w.kind}/${w.name}`);
      // Judged again as it is now: a GitOps controller may have adopted it since PLANNING. Through Git
      // (a canary's green copy only, below 100%), blue is never patched: only what it cannot roll out counts.
      const live = await readObject(this.kinds[w.kind], w.kind, namespace, w.name);
      if (request.throughGit && (w.kind !== 'Deployment' || request.strategy !== 'canary' || (request.weightPercent ?? 100) >= 100))
        throw new RotorError(
          'RotorInputError',
          `${w.kind} ${namespace}/${w.name} is applied from Git: rotor changes it by a commit, and switches only a Deployment's canary copy below 100%`,
        );
      const refused = live && (request.throughGit ? rolloutRefusal(w.kind, live) : switchRefusal(w.kind, live, this.gitops));
      if (refused) throw new RotorError('RotorInputError', refused, `${w.kind}/${w.name}`);
      if (request.strategy === 'canary' && w.kind === 'Deployment') {
        const step = await this.canary.step({
          namespace,
          blue: w.name,
          from,
          to,
          weightPercent: request.weightPercent ?? 100,
          previousWeightPercent: request.previousWeightPercent,
          rotationId: request.rotationId,
          ...(request.throughGit ? { blueStays: true } : {}),
        });
        records.push({
          ...base,
          ...(request.throughGit ? { throughGit: true } : {}),
          fields: step.blue.fields,
          canary: {
            green: step.green,
            weightPercent: step.weightPercent,
            blueReplicas: step.blueReplicas,
            greenReplicas: step.greenReplicas,
            originalReplicas: step.originalReplicas,
          },
        });
        continue;
      }
      if (request.strategy === 'canary' && (request.weightPercent ?? 100) < 100) {
        // Replica weight needs a Deployment: other kinds move at the 100% step, all at once.
        records.push({ ...base, fields: [] });
        continue;
      }
      const outcome = await switchObject(this.kinds[w.kind], w.kind, namespace, w.name, from, to);
      records.push({ ...base, fields: outcome.fields });
    }
    return records;
  }

  async revertWorkloads(request: RevertInput): Promise<SwitchRecord[]> {
    const reverted: SwitchRecord[] = [];
    const { namespace, from: newVersion, to: previous } = request;
    for (const w of revertTargets(request)) {
      // Fields an older release recorded only in the workflow (JSON pointers) are reverted too, by value.
      const record = request.records.find((r) => r.kind === w.kind && r.name === w.name);
      const recorded = record?.fields.filter((f) => f.startsWith('/')) ?? [];
      try {
        // Git mode: only the green copy was rotor's; blue, applied from Git, is reverted by a revert commit.
        if (record?.throughGit) {
          const greenRemoved = await this.canary.removeGreen(namespace, w.name, newVersion);
          const report = revertReport(request, w, { fields: [], greenRemoved });
          if (report) reverted.push({ ...report, throughGit: true });
          continue;
        }
        const mark = !!request.markReverted;
        const outcome =
          w.kind === 'Deployment'
            ? await this.canary.revert(namespace, w.name, newVersion, previous, recorded, mark)
            : await revertObject(this.kinds[w.kind], w.kind, namespace, w.name, newVersion, previous, recorded, { mark });
        const report = revertReport(request, w, { ...outcome, greenRemoved: 'greenRemoved' in outcome && outcome.greenRemoved === true });
        if (report) reverted.push(report);
      } catch (err) {
        if (err instanceof RotorError && err.type === 'NotFound') continue; // deleted meanwhile: nothing to revert
        throw err;
      }
    }
    return reverted;
  }

  async completeCanary(namespace: string, records: SwitchRecord[], version?: string): Promise<void> {
    for (const r of records) {
      if (!r.canary) continue;
      await this.canary.removeGreen(namespace, r.name, version ?? r.to);
    }
  }

  async releaseWorkloads(namespace: string, records: SwitchRecord[], version: string): Promise<void> {
    for (const r of records) await releaseObject(this.kinds[r.kind], r.kind, namespace, r.name, version);
  }

  gitopsStatus(managedBy: ManagedBy | undefined): Promise<string | null> {
    return managedBy ? controllerStatus(this.kc.makeApiClient(k8s.CustomObjectsApi), managedBy) : Promise.resolve(null);
  }

  async driftedReferences(records: SwitchRecord[], version: string): Promise<SwitchDrift[]> {
    const drift: SwitchDrift[] = [];
    for (const target of switchedObjects(records)) {
      const obj = await readObject(this.kinds[target.kind], target.kind, target.namespace, target.name);
      // Deleted since: it refers to no version any more (the rollout wait says so where it matters).
      if (obj) drift.push(...driftOn(target.namespace, target.kind, obj, version, target));
    }
    return drift;
  }

  /**
   * Like `kubectl rollout status`, plus kubelet's verdict on pods that cannot start. With `version`, a
   * reference rotor switched (its ownership record) that names something else now fails it: a template
   * set back by someone else rolls out fine, but not on the new version.
   */
  async rolloutState(namespace: string, workloads: WorkloadUse[], version?: string): Promise<RolloutState> {
    const waiting: string[] = [];
    const done: string[] = [];
    for (const w of workloads) {
      const obj = await readObject(this.kinds[w.kind], w.kind, namespace, w.name);
      if (!obj) return { ready: false, failed: true, message: `${w.kind}/${w.name} no longer exists in ${namespace}` };
      const drift = version ? driftOn(namespace, w.kind, obj, version) : [];
      if (drift.length) return { ready: false, failed: true, message: driftMessage(drift) };
      const objects: { label: string; obj: Obj }[] = [{ label: `${w.kind}/${w.name}`, obj }];
      if (w.kind === 'Deployment' && version) {
        const green = await this.canary.readGreen(namespace, w.name, version);
        if (green) objects.push({ label: `canary ${green.metadata!.name}`, obj: { ...green, kind: 'Deployment' } });
      }
      for (const { label, obj: o } of objects) {
        const blocked = await this.podsThatCannotStart(namespace, o);
        if (blocked) return { ready: false, failed: true, message: `${label}: ${blocked}` };
        const state = rolloutOf(o.kind as WorkloadKind, o);
        if (state.failed) return { ready: false, failed: true, message: `${label}: ${state.message}` };
        if (!state.ready) waiting.push(`${label}: ${state.message}`);
        else done.push(`${label}: ${state.message}`);
      }
    }
    if (waiting.length) return { ready: false, failed: false, message: waiting.join('; ') };
    return { ready: true, failed: false, message: done.join('; ') || 'nothing to roll out' };
  }

  private async podsThatCannotStart(namespace: string, obj: Obj): Promise<string | null> {
    const labels = obj.spec?.selector?.matchLabels as Record<string, string> | undefined;
    if (!labels || Object.keys(labels).length === 0) return null;
    const labelSelector = Object.entries(labels)
      .map(([k, v]) => `${k}=${v}`)
      .join(',');
    let pods: k8s.V1PodList;
    try {
      pods = await this.core.listNamespacedPod({ namespace, labelSelector });
    } catch (err) {
      throw toRotorError(err, 'list', `Pods in ${namespace} (${labelSelector})`);
    }
    // Only pods of the current template count: old pods of a reverted template are on their way out.
    const wanted = workloadSecretRefs((obj.kind ?? 'Deployment') as WorkloadKind, obj)
      .map((r) => r.name)
      .sort()
      .join(',');
    for (const pod of pods.items) {
      if (pod.metadata?.deletionTimestamp) continue;
      if (
        podSpecSecretRefs(pod.spec as unknown as Parameters<typeof podSpecSecretRefs>[0], ['spec'])
          .map((r) => r.name)
          .sort()
          .join(',') !== wanted
      )
        continue;
      for (const cs of [...(pod.status?.initContainerStatuses ?? []), ...(pod.status?.containerStatuses ?? [])]) {
        const reason = cs.state?.waiting?.reason;
        if (reason === 'CreateContainerConfigError' || reason === 'InvalidImageName') {
          return `pod ${pod.metadata?.name} ${reason}: ${cs.state?.waiting?.message ?? ''}`;
        }
      }
    }
    return null;
  }

  async deleteUnreferenced(namespace: string, name: string, options: DeleteOptions = {}): Promise<{ deleted: boolean; holders: Holder[] }> {
    const holders = await this.findReferences([namespace], name, { ignore: options.ignore });
    if (holders.length) return { deleted: false, holders };
    // Its ExternalSecret first: while it exists, the operator writes the Secret again.
    if (options.externalSecret) await this.externalSecrets.delete(namespace, name);
    await this.secrets.delete(namespace, name);
    return { deleted: true, holders: [] };
  }
}
