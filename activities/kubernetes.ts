// The Kubernetes adapter: ClusterPort over @kubernetes/client-node 1.x. Every call is idempotent,
// every switch is an optimistic-concurrency JSON patch that tests each field before replacing it,
// and every client exception becomes a RotorError with status, reason and object, never a body.
import * as k8s from '@kubernetes/client-node';
import type { WorkloadKind } from '../workflows/plan';
import { compareVersions, newestVersion, parseVersionName } from '../workflows/naming';
import { RotorError, type RotorErrorType } from './errors';
import { pathsReferring, podSpecSecretRefs, SWITCHABLE_KINDS, valueAt, workloadSecretRefs } from './k8s-refs';
import type { ClusterPort, RolloutState, StoredVersion, VersionSpec } from './ports';
import type { Holder, RevertInput, SwitchInput, SwitchRecord, WorkloadUse } from './types';

export const LABEL_SECRET = 'rotor.dev/secret';
export const LABEL_VERSION = 'rotor.dev/version';
export const ANNOTATION_ROTATION = 'rotor.dev/rotation-id';
export const LABEL_TRACK = 'rotor.dev/track';
const ANNOTATION_ORIGINAL = 'rotor.dev/original-replicas';
const ANNOTATION_WEIGHT = 'rotor.dev/canary-weight';
const ANNOTATION_CANARY_OF = 'rotor.dev/canary-of';

/** The green copy of a Deployment during a canary. */
export function greenName(blue: string): string {
  return `${blue}-canary`;
}

function setAt(obj: Record<string, any>, path: string, value: unknown): void {
  const segs = path.split('/').slice(1).map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));
  let cur: any = obj;
  for (const seg of segs.slice(0, -1)) cur = cur[seg];
  cur[segs[segs.length - 1]] = value;
}
const DEFAULT_PAGE = 200;
const PATCH_ATTEMPTS = 6;

type Obj = k8s.KubernetesObject & { spec?: any; status?: any };
interface ListPage {
  items: Obj[];
  metadata?: { _continue?: string };
}

/** The status, reason and message of an API error; the raw body is never kept (for a Secret it is the Secret). */
export function toRotorError(err: unknown, doing: string, object: string): RotorError {
  if (err instanceof RotorError) return err;
  const e = err as { code?: number; body?: unknown; message?: string };
  const code = typeof e?.code === 'number' ? e.code : undefined;
  let reason = '';
  let message = '';
  if (typeof e?.body === 'string') {
    try {
      const status = JSON.parse(e.body) as { kind?: string; reason?: string; message?: string };
      if (status.kind === 'Status') {
        reason = status.reason ?? '';
        message = status.message ?? '';
      }
    } catch {
      /* not a Status: say nothing of it */
    }
  }
  const type: RotorErrorType =
    code === 403 || code === 401 ? 'Forbidden' : code === 404 ? 'NotFound' : code === 409 ? 'Conflict' : code === 422 || code === 400 ? 'RotorInputError' : 'Unavailable';
  const detail = code ? `HTTP ${code}${reason ? ` ${reason}` : ''}${message ? `: ${message}` : ''}` : (e?.message ?? 'request failed').split('\n')[0].slice(0, 200);
  const hint = type === 'Forbidden' ? ' (check the worker\'s RBAC: deploy/rbac.yaml)' : '';
  return new RotorError(type, `${doing} ${object}: ${detail}${hint}`, object, code);
}

function b64(s: string): string {
  return Buffer.from(s, 'utf8').toString('base64');
}

function unb64(s: string): string {
  return Buffer.from(s, 'base64').toString('utf8');
}

const jsonPatch = k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.JsonPatch);
const mergePatch = k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch);

interface KindApi {
  read(namespace: string, name: string): Promise<Obj>;
  patch(namespace: string, name: string, ops: object[]): Promise<Obj>;
  list(namespace: string | null, cont?: string): Promise<ListPage>;
}

export class KubernetesCluster implements ClusterPort {
  private readonly core: k8s.CoreV1Api;
  private readonly apps: k8s.AppsV1Api;
  private readonly batch: k8s.BatchV1Api;
  private readonly kinds: Record<WorkloadKind, KindApi>;

  constructor(
    readonly kc: k8s.KubeConfig,
    readonly pageSize = DEFAULT_PAGE,
  ) {
    this.core = kc.makeApiClient(k8s.CoreV1Api);
    this.apps = kc.makeApiClient(k8s.AppsV1Api);
    this.batch = kc.makeApiClient(k8s.BatchV1Api);
    const a = this.apps;
    const b = this.batch;
    const c = this.core;
    const page = (namespace: string | null, cont?: string) => ({ limit: pageSize, _continue: cont, ...(namespace ? { namespace } : {}) });
    this.kinds = {
      Deployment: {
        read: (namespace, name) => a.readNamespacedDeployment({ namespace, name }) as Promise<Obj>,
        patch: (namespace, name, body) => a.patchNamespacedDeployment({ namespace, name, body }, jsonPatch) as Promise<Obj>,
        list: (ns, cont) => (ns ? a.listNamespacedDeployment(page(ns, cont) as any) : a.listDeploymentForAllNamespaces(page(null, cont))) as Promise<ListPage>,
      },
      StatefulSet: {
        read: (namespace, name) => a.readNamespacedStatefulSet({ namespace, name }) as Promise<Obj>,
        patch: (namespace, name, body) => a.patchNamespacedStatefulSet({ namespace, name, body }, jsonPatch) as Promise<Obj>,
        list: (ns, cont) => (ns ? a.listNamespacedStatefulSet(page(ns, cont) as any) : a.listStatefulSetForAllNamespaces(page(null, cont))) as Promise<ListPage>,
      },
      DaemonSet: {
        read: (namespace, name) => a.readNamespacedDaemonSet({ namespace, name }) as Promise<Obj>,
        patch: (namespace, name, body) => a.patchNamespacedDaemonSet({ namespace, name, body }, jsonPatch) as Promise<Obj>,
        list: (ns, cont) => (ns ? a.listNamespacedDaemonSet(page(ns, cont) as any) : a.listDaemonSetForAllNamespaces(page(null, cont))) as Promise<ListPage>,
      },
      ReplicaSet: {
        read: (namespace, name) => a.readNamespacedReplicaSet({ namespace, name }) as Promise<Obj>,
        patch: (namespace, name, body) => a.patchNamespacedReplicaSet({ namespace, name, body }, jsonPatch) as Promise<Obj>,
        list: (ns, cont) => (ns ? a.listNamespacedReplicaSet(page(ns, cont) as any) : a.listReplicaSetForAllNamespaces(page(null, cont))) as Promise<ListPage>,
      },
      CronJob: {
        read: (namespace, name) => b.readNamespacedCronJob({ namespace, name }) as Promise<Obj>,
        patch: (namespace, name, body) => b.patchNamespacedCronJob({ namespace, name, body }, jsonPatch) as Promise<Obj>,
        list: (ns, cont) => (ns ? b.listNamespacedCronJob(page(ns, cont) as any) : b.listCronJobForAllNamespaces(page(null, cont))) as Promise<ListPage>,
      },
      Job: {
        read: (namespace, name) => b.readNamespacedJob({ namespace, name }) as Promise<Obj>,
        patch: (namespace, name, body) => b.patchNamespacedJob({ namespace, name, body }, jsonPatch) as Promise<Obj>,
        list: (ns, cont) => (ns ? b.listNamespacedJob(page(ns, cont) as any) : b.listJobForAllNamespaces(page(null, cont))) as Promise<ListPage>,
      },
      Pod: {
        read: (namespace, name) => c.readNamespacedPod({ namespace, name }) as Promise<Obj>,
        patch: (namespace, name, body) => c.patchNamespacedPod({ namespace, name, body }, jsonPatch) as Promise<Obj>,
        list: (ns, cont) => (ns ? c.listNamespacedPod(page(ns, cont) as any) : c.listPodForAllNamespaces(page(null, cont))) as Promise<ListPage>,
      },
    };
  }

  static fromEnvironment(): KubernetesCluster {
    const kc = new k8s.KubeConfig();
    kc.loadFromDefault(); // KUBECONFIG, ~/.kube/config, or the in-cluster service account
    return new KubernetesCluster(kc);
  }

  /** Every object of a kind, page by page; a page token that expired (410 Gone) restarts the listing. */
  private async listAll(kind: WorkloadKind, namespace: string | null): Promise<Obj[]> {
    for (let restart = 0; ; restart++) {
      const items: Obj[] = [];
      let cont: string | undefined;
      try {
        do {
          const page = await this.kinds[kind].list(namespace, cont);
          items.push(...page.items.map((i) => ({ ...i, kind })));
          cont = page.metadata?._continue || undefined;
        } while (cont);
        return items;
      } catch (err) {
        if ((err as { code?: number }).code === 410 && restart < 3) continue;
        throw toRotorError(err, 'list', `${kind}s${namespace ? ` in ${namespace}` : ' in all namespaces'}`);
      }
    }
  }

  /** Objects whose references count on their own: not ReplicaSets of Deployments, Jobs of CronJobs, or finished Pods. */
  private counts(kind: WorkloadKind, obj: Obj): boolean {
    const owners = obj.metadata?.ownerReferences ?? [];
    if (kind === 'ReplicaSet') return !owners.some((o) => o.kind === 'Deployment');
    if (kind === 'Job') return !owners.some((o) => o.kind === 'CronJob');
    if (kind === 'Pod') return obj.status?.phase !== 'Succeeded' && obj.status?.phase !== 'Failed';
    return true;
  }

  private async scan(namespace: string | null, match: (name: string) => boolean): Promise<{ kind: WorkloadKind; obj: Obj; paths: string[]; names: string[] }[]> {
    const out: { kind: WorkloadKind; obj: Obj; paths: string[]; names: string[] }[] = [];
    for (const kind of Object.keys(this.kinds) as WorkloadKind[]) {
      for (const obj of await this.listAll(kind, namespace)) {
        if (!this.counts(kind, obj)) continue;
        const refs = workloadSecretRefs(kind, obj).filter((r) => match(r.name));
        if (refs.length) out.push({ kind, obj, paths: refs.map((r) => r.path), names: refs.map((r) => r.name) });
      }
    }
    return out;
  }

  /** Every version of `secret` in a namespace (metadata only: no Secret data is read), newest first, with who uses it. */
  async listVersions(namespace: string, secret: string): Promise<{ name: string; createdAt: Date | null; state: string | null; usedBy: Holder[] }[]> {
    let list: k8s.V1SecretList;
    try {
      list = await this.core.listNamespacedSecret(
        { namespace },
        k8s.setHeaderOptions('Accept', 'application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1'),
      );
    } catch (err) {
      throw toRotorError(err, 'list', `Secrets in ${namespace} (metadata only)`);
    }
    const versions = list.items.filter((s) => s.metadata?.name === secret || parseVersionName(s.metadata?.name ?? '', secret));
    const names = new Set(versions.map((v) => v.metadata!.name!));
    const found = await this.scan(namespace, (name) => names.has(name));
    return versions
      .map((v) => {
        const name = v.metadata!.name!;
        const usedBy = found
          // Pods of a controller are shown through their workload; bare Pods are shown themselves.
          .filter((f) => f.names.includes(name) && !(f.kind === 'Pod' && (f.obj.metadata?.ownerReferences ?? []).length > 0))
          .map((f) => ({ kind: f.kind, namespace, name: f.obj.metadata!.name!, fields: f.paths.filter((_, i) => f.names[i] === name) }));
        const created = v.metadata?.creationTimestamp;
        return { name, createdAt: created ? new Date(created) : null, state: v.metadata?.labels?.['rotor.dev/state'] ?? null, usedBy };
      })
      .sort((a, b) => compareVersions(b.name, a.name, secret));
  }

  async findCurrentVersion(namespace: string, secret: string): Promise<string | null> {
    return (await this.findCurrentUse(namespace, secret)).version;
  }

  async findCurrentUse(namespace: string, secret: string): Promise<{ version: string | null; workloads: WorkloadUse[] }> {
    const found = await this.scan(namespace, (name) => name === secret || parseVersionName(name, secret) !== null);
    const version = newestVersion(found.flatMap((f) => f.names), secret);
    const workloads = found
      .filter((f) => SWITCHABLE_KINDS.includes(f.kind) && f.names.includes(version!))
      .map((f) => ({ kind: f.kind, namespace, name: f.obj.metadata!.name!, fields: f.paths.filter((_, i) => f.names[i] === version) }));
    return { version, workloads };
  }

  async findWorkloads(namespace: string, secretName: string): Promise<WorkloadUse[]> {
    const found = await this.scan(namespace, (name) => name === secretName);
    return found.filter((f) => SWITCHABLE_KINDS.includes(f.kind)).map((f) => ({ kind: f.kind, namespace, name: f.obj.metadata!.name!, fields: f.paths }));
  }

  async findReferences(namespaces: string[], secretName: string): Promise<Holder[]> {
    // Listed across all namespaces, counted only where the Secret lives: references are namespaced.
    const found = await this.scan(null, (name) => name === secretName);
    return found
      .filter((f) => namespaces.includes(f.obj.metadata!.namespace!))
      .map((f) => ({ kind: f.kind, namespace: f.obj.metadata!.namespace!, name: f.obj.metadata!.name!, fields: f.paths }));
  }

  async readVersion(namespace: string, name: string): Promise<StoredVersion | null> {
    try {
      const s = await this.core.readNamespacedSecret({ namespace, name });
      const data = Object.fromEntries(Object.entries(s.data ?? {}).map(([k, v]) => [k, unb64(v)]));
      return { data, rotationId: s.metadata?.annotations?.[ANNOTATION_ROTATION] ?? null };
    } catch (err) {
      if ((err as { code?: number }).code === 404) return null;
      throw toRotorError(err, 'read', `Secret ${namespace}/${name}`);
    }
  }

  async createVersion(spec: VersionSpec): Promise<'created' | 'exists'> {
    const object = `Secret ${spec.namespace}/${spec.name}`;
    try {
      await this.core.createNamespacedSecret({
        namespace: spec.namespace,
        body: {
          metadata: {
            name: spec.name,
            namespace: spec.namespace,
            labels: { [LABEL_SECRET]: spec.base, [LABEL_VERSION]: spec.name.slice(spec.base.length + 1), 'app.kubernetes.io/managed-by': 'rotor' },
            annotations: { [ANNOTATION_ROTATION]: spec.rotationId },
          },
          type: 'Opaque',
          immutable: true,
          data: Object.fromEntries(Object.entries(spec.data).map(([k, v]) => [k, b64(v)])),
        },
      });
      return 'created';
    } catch (err) {
      if ((err as { code?: number }).code !== 409) throw toRotorError(err, 'create', object);
    }
    const existing = await this.readVersion(spec.namespace, spec.name);
    if (!existing) throw new RotorError('Conflict', `create ${object}: it exists but cannot be read back`, object, 409);
    if (existing.rotationId !== spec.rotationId) throw new RotorError('VersionConflict', `${object} already exists`, existing.rotationId ?? 'another creator', 409);
    const same = JSON.stringify(Object.entries(existing.data).sort()) === JSON.stringify(Object.entries(spec.data).sort());
    if (!same) throw new RotorError('VersionContentMismatch', `${object} exists with different content; a version never changes — create a new one`, object, 409);
    return 'exists';
  }

  /** Replace `paths` from `from` to `to` with a patch that tests each value and the resourceVersion; retried on conflict. */
  private async patchFields(kind: WorkloadKind, namespace: string, name: string, pick: (obj: Obj) => string[], from: string, to: string): Promise<{ fields: string[]; already: string[] }> {
    const object = `${kind} ${namespace}/${name}`;
    for (let attempt = 1; ; attempt++) {
      let obj: Obj;
      try {
        obj = await this.kinds[kind].read(namespace, name);
      } catch (err) {
        throw toRotorError(err, 'read', object);
      }
      const fields = pick(obj).filter((p) => valueAt(obj, p) === from);
      const already = pick(obj).filter((p) => valueAt(obj, p) === to);
      if (fields.length === 0) return { fields, already };
      const ops = [
        { op: 'test', path: '/metadata/resourceVersion', value: obj.metadata!.resourceVersion },
        ...fields.flatMap((path) => [
          { op: 'test', path, value: from },
          { op: 'replace', path, value: to },
        ]),
      ];
      try {
        await this.kinds[kind].patch(namespace, name, ops);
        return { fields, already };
      } catch (err) {
        const code = (err as { code?: number }).code;
        // 409 or a failed test (422): someone changed the object meanwhile; read it again.
        if ((code === 409 || code === 422) && attempt < PATCH_ATTEMPTS) continue;
        throw toRotorError(err, 'patch', object);
      }
    }
  }

  async switchWorkloads(request: SwitchInput): Promise<SwitchRecord[]> {
    const records: SwitchRecord[] = [];
    for (const use of request.workloads) {
      if (!SWITCHABLE_KINDS.includes(use.kind)) {
        throw new RotorError('RotorInputError', `${use.kind} ${request.namespace}/${use.name} cannot be switched in place (its pod template is immutable); recreate it on ${request.to}`, `${use.kind}/${use.name}`);
      }
      if (request.strategy === 'canary' && use.kind === 'Deployment') {
        records.push(await this.canaryStep(request, use));
        continue;
      }
      if (request.strategy === 'canary' && (request.weightPercent ?? 100) < 100) {
        // Replica weight needs a Deployment: other kinds move at the 100% step, all at once.
        records.push({ namespace: request.namespace, kind: use.kind, name: use.name, from: request.from, to: request.to, fields: [] });
        continue;
      }
      const { fields, already } = await this.patchFields(use.kind, request.namespace, use.name, (obj) => pathsReferring(use.kind, obj, request.from).concat(pathsReferring(use.kind, obj, request.to)), request.from, request.to);
      records.push({ namespace: request.namespace, kind: use.kind, name: use.name, from: request.from, to: request.to, fields: [...new Set([...fields, ...already])] });
    }
    return records;
  }

  async revertWorkloads(request: RevertInput): Promise<SwitchRecord[]> {
    const reverted: SwitchRecord[] = [];
    for (const use of request.workloads) {
      const recorded = request.records.find((r) => r.kind === use.kind && r.name === use.name);
      // Exactly the recorded fields; without a record (a switch that failed half-way), what points at the new version.
      const pick = (obj: Obj) => (recorded ? recorded.fields : pathsReferring(use.kind, obj, request.from));
      try {
        const { fields } = await this.patchFields(use.kind, request.namespace, use.name, pick, request.from, request.to);
        const canary = recorded?.canary ?? (use.kind === 'Deployment' ? await this.canaryInfo(request.namespace, use.name) : undefined);
        if (canary) {
          // Blue back to its full size first, then the green copy goes: rollback restores capacity.
          await this.setReplicas(request.namespace, use.name, canary.originalReplicas);
          await this.deleteGreen(request.namespace, canary.green);
        }
        if (fields.length || canary) reverted.push({ namespace: request.namespace, kind: use.kind, name: use.name, from: request.from, to: request.to, fields, canary });
      } catch (err) {
        if (err instanceof RotorError && err.type === 'NotFound') continue; // deleted meanwhile: nothing to revert
        throw err;
      }
    }
    return reverted;
  }

  /** Like `kubectl rollout status`, plus kubelet's verdict on pods that cannot start. */
  async rolloutState(namespace: string, workloads: WorkloadUse[]): Promise<RolloutState> {
    const waiting: string[] = [];
    for (const use of workloads) {
      const object = `${use.kind} ${namespace}/${use.name}`;
      let obj: Obj;
      try {
        obj = await this.kinds[use.kind].read(namespace, use.name);
      } catch (err) {
        throw toRotorError(err, 'read', object);
      }
      const blocked = await this.podsThatCannotStart(namespace, { ...obj, kind: use.kind });
      if (blocked) return { ready: false, failed: true, message: `${use.kind}/${use.name}: ${blocked}` };
      const state = rolloutOf(use.kind, obj);
      if (state.failed) return { ready: false, failed: true, message: `${use.kind}/${use.name}: ${state.message}` };
      if (!state.ready) waiting.push(`${use.kind}/${use.name}: ${state.message}`);
      if (use.kind === 'Deployment') {
        const green = await this.readGreen(namespace, greenName(use.name));
        if (green) {
          const blockedGreen = await this.podsThatCannotStart(namespace, { ...green, kind: 'Deployment' });
          if (blockedGreen) return { ready: false, failed: true, message: `canary ${green.metadata!.name}: ${blockedGreen}` };
          const g = rolloutOf('Deployment', green);
          if (g.failed) return { ready: false, failed: true, message: `canary ${green.metadata!.name}: ${g.message}` };
          if (!g.ready) waiting.push(`canary ${green.metadata!.name}: ${g.message}`);
        }
      }
    }
    if (waiting.length) return { ready: false, failed: false, message: waiting.join('; ') };
    return { ready: true, failed: false, message: `${workloads.length} workload(s) rolled out` };
  }

  private async podsThatCannotStart(namespace: string, obj: Obj): Promise<string | null> {
    const labels = obj.spec?.selector?.matchLabels as Record<string, string> | undefined;
    if (!labels || Object.keys(labels).length === 0) return null;
    const labelSelector = Object.entries(labels).map(([k, v]) => `${k}=${v}`).join(',');
    let pods: k8s.V1PodList;
    try {
      pods = await this.core.listNamespacedPod({ namespace, labelSelector });
    } catch (err) {
      throw toRotorError(err, 'list', `Pods in ${namespace} (${labelSelector})`);
    }
    // Only pods of the current template count: old pods of a reverted template are on their way out.
    const kind = (obj.kind ?? 'Deployment') as WorkloadKind;
    const wanted = workloadSecretRefs(kind, obj).map((r) => r.name).sort().join(',');
    for (const pod of pods.items) {
      if (pod.metadata?.deletionTimestamp) continue;
      if (podSpecSecretRefs(pod.spec as Record<string, any>, ['spec']).map((r) => r.name).sort().join(',') !== wanted) continue;
      for (const cs of [...(pod.status?.initContainerStatuses ?? []), ...(pod.status?.containerStatuses ?? [])]) {
        const reason = cs.state?.waiting?.reason;
        if (reason === 'CreateContainerConfigError' || reason === 'InvalidImageName') {
          return `pod ${pod.metadata?.name} ${reason}: ${cs.state?.waiting?.message ?? ''}`;
        }
      }
    }
    return null;
  }

  private async readGreen(namespace: string, name: string): Promise<Obj | null> {
    try {
      return await this.kinds.Deployment.read(namespace, name);
    } catch (err) {
      if ((err as { code?: number }).code === 404) return null;
      throw toRotorError(err, 'read', `Deployment ${namespace}/${name}`);
    }
  }

  private async canaryInfo(namespace: string, blue: string): Promise<SwitchRecord['canary']> {
    const green = await this.readGreen(namespace, greenName(blue));
    if (!green) return undefined;
    const a = green.metadata?.annotations ?? {};
    const originalReplicas = Number(a[ANNOTATION_ORIGINAL]);
    const weightPercent = Number(a[ANNOTATION_WEIGHT]);
    return { green: green.metadata!.name!, weightPercent, originalReplicas, greenReplicas: green.spec?.replicas ?? 0, blueReplicas: originalReplicas - (green.spec?.replicas ?? 0) };
  }

  private async setReplicas(namespace: string, name: string, replicas: number): Promise<void> {
    try {
      await this.kinds.Deployment.patch(namespace, name, [{ op: 'replace', path: '/spec/replicas', value: replicas }]);
    } catch (err) {
      throw toRotorError(err, 'scale', `Deployment ${namespace}/${name}`);
    }
  }

  private async deleteGreen(namespace: string, name: string): Promise<void> {
    try {
      await this.apps.deleteNamespacedDeployment({ namespace, name, propagationPolicy: 'Background' });
    } catch (err) {
      if ((err as { code?: number }).code !== 404) throw toRotorError(err, 'delete', `Deployment ${namespace}/${name}`);
    }
  }

  /**
   * One canary step by replica weight ("Option A", blue-green): a green copy of the Deployment on the
   * new version gets ceil(R × weight) replicas while blue gives up only what green proved at the
   * previous step, so blue + green never drops below the original R. At 100%, blue itself switches
   * (at full size R); completeCanary then removes green.
   */
  private async canaryStep(request: SwitchInput, use: WorkloadUse): Promise<SwitchRecord> {
    const { namespace, from, to } = request;
    const weight = request.weightPercent ?? 100;
    const object = `Deployment ${namespace}/${use.name}`;
    const blue = await this.kinds.Deployment.read(namespace, use.name).catch((err) => {
      throw toRotorError(err, 'read', object);
    });
    const name = greenName(use.name);
    const existing = await this.readGreen(namespace, name);
    const original = existing ? Number(existing.metadata!.annotations![ANNOTATION_ORIGINAL]) : (blue.spec?.replicas ?? 1);
    const previousWeight = existing ? Number(existing.metadata!.annotations![ANNOTATION_WEIGHT]) : 0;
    const share = (w: number) => (w <= 0 ? 0 : Math.min(original, Math.max(1, Math.ceil((original * w) / 100))));
    if (weight >= 100) {
      const { fields, already } = await this.patchFields('Deployment', namespace, use.name, (obj) => pathsReferring('Deployment', obj, from).concat(pathsReferring('Deployment', obj, to)), from, to);
      await this.setReplicas(namespace, use.name, original);
      return {
        namespace, kind: 'Deployment', name: use.name, from, to, fields: [...new Set([...fields, ...already])],
        canary: { green: name, weightPercent: 100, blueReplicas: original, greenReplicas: share(previousWeight), originalReplicas: original },
      };
    }
    const greenReplicas = share(weight);
    const blueReplicas = original - share(previousWeight);
    const annotations = { [ANNOTATION_ORIGINAL]: String(original), [ANNOTATION_WEIGHT]: String(weight), [ANNOTATION_CANARY_OF]: use.name };
    if (!existing) {
      const template = structuredClone(blue.spec.template);
      for (const path of pathsReferring('Deployment', blue, from)) setAt({ spec: { template } }, path, to);
      template.metadata = { ...template.metadata, labels: { ...template.metadata?.labels, [LABEL_TRACK]: 'canary' } };
      const body = {
        apiVersion: 'apps/v1',
        kind: 'Deployment',
        metadata: { name, namespace, labels: { ...blue.metadata?.labels, [LABEL_TRACK]: 'canary', 'app.kubernetes.io/managed-by': 'rotor' }, annotations },
        spec: { ...structuredClone(blue.spec), replicas: greenReplicas, selector: { matchLabels: { ...blue.spec.selector?.matchLabels, [LABEL_TRACK]: 'canary' } }, template },
      };
      delete (body.spec as { paused?: boolean }).paused;
      try {
        await this.apps.createNamespacedDeployment({ namespace, body: body as k8s.V1Deployment });
      } catch (err) {
        if ((err as { code?: number }).code !== 409) throw toRotorError(err, 'create', `Deployment ${namespace}/${name}`);
      }
    } else {
      try {
        await this.kinds.Deployment.patch(namespace, name, [
          { op: 'replace', path: '/spec/replicas', value: greenReplicas },
          { op: 'replace', path: `/metadata/annotations/${ANNOTATION_WEIGHT.replace('/', '~1')}`, value: String(weight) },
        ]);
      } catch (err) {
        throw toRotorError(err, 'scale', `Deployment ${namespace}/${name}`);
      }
    }
    await this.setReplicas(namespace, use.name, blueReplicas);
    return { namespace, kind: 'Deployment', name: use.name, from, to, fields: [], canary: { green: name, weightPercent: weight, blueReplicas, greenReplicas, originalReplicas: original } };
  }

  async completeCanary(namespace: string, records: SwitchRecord[]): Promise<void> {
    for (const r of records) if (r.canary) await this.deleteGreen(namespace, r.canary.green);
  }

  async deleteUnreferenced(namespace: string, name: string): Promise<{ deleted: boolean; holders: Holder[] }> {
    const holders = await this.findReferences([namespace], name);
    if (holders.length) return { deleted: false, holders };
    const object = `Secret ${namespace}/${name}`;
    let resourceVersion: string | undefined;
    try {
      resourceVersion = (await this.core.readNamespacedSecret({ namespace, name })).metadata?.resourceVersion;
    } catch (err) {
      if ((err as { code?: number }).code === 404) return { deleted: true, holders: [] };
      throw toRotorError(err, 'read', object);
    }
    try {
      await this.core.deleteNamespacedSecret({ namespace, name, body: { preconditions: { resourceVersion } } });
    } catch (err) {
      if ((err as { code?: number }).code === 404) return { deleted: true, holders: [] };
      throw toRotorError(err, 'delete', object);
    }
    return { deleted: true, holders: [] };
  }

  async labelVersion(namespace: string, name: string, labels: Record<string, string>): Promise<void> {
    try {
      await this.core.patchNamespacedSecret({ namespace, name, body: { metadata: { labels } } }, mergePatch);
    } catch (err) {
      // Least privilege may leave out `patch` on Secrets: the outcome is in the rotation's history anyway.
      const code = (err as { code?: number }).code;
      if (code === 403 || code === 404) return;
      throw toRotorError(err, 'label', `Secret ${namespace}/${name}`);
    }
  }
}

/** `kubectl rollout status` for one object. */
export function rolloutOf(kind: WorkloadKind, obj: Obj): { ready: boolean; failed: boolean; message: string } {
  const spec = obj.spec ?? {};
  const status = obj.status ?? {};
  const generation = obj.metadata?.generation ?? 0;
  if (kind === 'CronJob' || kind === 'Job' || kind === 'Pod') {
    return { ready: true, failed: false, message: kind === 'CronJob' ? 'takes effect at its next run' : 'no rollout' };
  }
  if ((status.observedGeneration ?? 0) < generation) return { ready: false, failed: false, message: 'waiting for the controller to observe the change' };
  const want = spec.replicas ?? 1;
  if (kind === 'Deployment') {
    const progressing = (status.conditions ?? []).find((c: { type: string }) => c.type === 'Progressing');
    if (progressing?.reason === 'ProgressDeadlineExceeded') return { ready: false, failed: true, message: `progress deadline exceeded: ${progressing.message ?? ''}` };
    const updated = status.updatedReplicas ?? 0;
    if (updated < want) return { ready: false, failed: false, message: `${updated} of ${want} new replicas updated` };
    if ((status.replicas ?? 0) > updated) return { ready: false, failed: false, message: `${(status.replicas ?? 0) - updated} old replicas pending termination` };
    if ((status.availableReplicas ?? 0) < updated) return { ready: false, failed: false, message: `${status.availableReplicas ?? 0} of ${updated} updated replicas available` };
    return { ready: true, failed: false, message: `${updated} replicas updated and available` };
  }
  if (kind === 'StatefulSet') {
    if ((status.readyReplicas ?? 0) < want) return { ready: false, failed: false, message: `${status.readyReplicas ?? 0} of ${want} pods ready` };
    if (spec.updateStrategy?.type !== 'OnDelete' && status.updateRevision !== status.currentRevision) {
      return { ready: false, failed: false, message: `${status.updatedReplicas ?? 0} of ${want} pods updated` };
    }
    return { ready: true, failed: false, message: `${want} pods updated and ready` };
  }
  if (kind === 'DaemonSet') {
    const desired = status.desiredNumberScheduled ?? 0;
    if ((status.updatedNumberScheduled ?? 0) < desired) return { ready: false, failed: false, message: `${status.updatedNumberScheduled ?? 0} of ${desired} pods updated` };
    if ((status.numberAvailable ?? 0) < desired) return { ready: false, failed: false, message: `${status.numberAvailable ?? 0} of ${desired} pods available` };
    return { ready: true, failed: false, message: `${desired} pods updated and available` };
  }
  // A ReplicaSet does not roll its pods when its template changes: new pods only come with scaling.
  if ((status.readyReplicas ?? 0) < want) return { ready: false, failed: false, message: `${status.readyReplicas ?? 0} of ${want} replicas ready` };
  return { ready: true, failed: false, message: `${want} replicas ready (existing pods keep the old reference until replaced)` };
}
