// Two worlds behind one small interface, so one suite holds the memory adapter (the workflow tests'
// world) to the Kubernetes adapter's behaviour on a real apiserver (cluster-contract.test.ts and the
// randomized invariant test). Each workload has one container `app` whose references are, by meaning:
// env TOKEN, envFrom, and volume `creds`, all naming the same Secret unless a test changes one.
import * as k8s from '@kubernetes/client-node';
import type { KubeRateLimiter } from '../../activities/kubernetes/rate-limit';
import { KubernetesCluster } from '../../activities/kubernetes';
import { MemoryCluster, type MemoryObject, type MemoryWorkload } from '../../activities/memory';
import type { ClusterPort, ExternalSecretsPort } from '../../activities/ports';
import { POD_SPEC_PATH, workloadSecretRefs } from '../../activities/kubernetes/refs';
import type { WorkloadKind } from '../../domain/plan';
import { startSandbox, type Sandbox } from '../../sandbox';

/** A sandbox for a test file (pods ready and Jobs done in 200 ms), with an admin KubeConfig for it. */
export async function startWorldSandbox(): Promise<{ sandbox: Sandbox; kc: k8s.KubeConfig }> {
  const sandbox = await startSandbox({ readyDelayMs: 200, jobDurationMs: 200 });
  const kc = new k8s.KubeConfig();
  kc.loadFromFile(sandbox.plane.kubeconfig);
  return { sandbox, kc };
}

export const ENV = 'containers[app].env[TOKEN].valueFrom.secretKeyRef.name';
export const ENV_FROM = 'containers[app].envFrom[].secretRef.name';
export const VOLUME = 'volumes[creds].secret.secretName';

export type Kind = 'Deployment' | 'StatefulSet' | 'DaemonSet' | 'CronJob';

export interface WorkloadOptions {
  replicas?: number;
  /** Where the Secret is referenced (default: all three places). */
  fields?: string[];
  /** StatefulSet/DaemonSet update strategy. */
  onDelete?: boolean;
  /** StatefulSet partition. */
  partition?: number;
  /** Metadata a GitOps controller would have written (Argo CD's label and annotation, Flux's labels). */
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  /** The field manager that creates it (kustomize-controller, argocd-controller, ...): it owns every field it set. */
  manager?: string;
}

/**
 * The fieldsV1 the apiserver records for a manager that created a template with these references
 * (named list entries are `k:{"name":...}`; a list matched by value is atomic: owned whole).
 */
export function fieldsV1For(kind: WorkloadKind, fields: string[]): object {
  const root: Record<string, any> = {};
  for (const field of fields) {
    let node = root;
    const step = (key: string) => (node = node[key] ??= {});
    for (const key of POD_SPEC_PATH[kind]) step(`f:${key}`);
    for (const part of field.match(/[^.[\]]+(\[[^\]]*\])?/g) ?? []) {
      const [, key, entry] = /^([^[]+)(?:\[([^\]]*)\])?$/.exec(part)!;
      step(`f:${key}`);
      if (entry === undefined) continue;
      if (!entry) break;
      step(`k:${JSON.stringify({ name: entry })}`);
    }
  }
  return root;
}

export interface World {
  readonly name: string;
  readonly cluster: ClusterPort;
  /** store external-secrets: the operator's side of the same cluster. */
  readonly externalSecrets: ExternalSecretsPort;
  namespace(ns: string): Promise<void>;
  /** A Secret of `type` (absent: none given, which Kubernetes takes as Opaque). */
  secret(ns: string, name: string, data?: Record<string, string>, type?: string): Promise<void>;
  secretExists(ns: string, name: string): Promise<boolean>;
  workload(kind: Kind, ns: string, name: string, secret: string, opts?: WorkloadOptions): Promise<void>;
  /** A Job, optionally suspended and owned by a CronJob (as a CronJob's Job waiting to run). */
  job(ns: string, name: string, secret: string, opts: { suspend?: boolean; ownerCronJob?: string }): Promise<void>;
  /** Field (by meaning) -> Secret name, as the workload's spec says now. */
  refs(kind: WorkloadKind, ns: string, name: string): Promise<Record<string, string>>;
  replicas(ns: string, name: string): Promise<number | null>;
  annotations(kind: WorkloadKind, ns: string, name: string): Promise<Record<string, string>>;
  labels(kind: WorkloadKind, ns: string, name: string): Promise<Record<string, string>>;
  deployments(ns: string): Promise<string[]>;
  /** Someone else's edits. */
  scale(ns: string, name: string, replicas: number): Promise<void>;
  insertEnvAbove(kind: WorkloadKind, ns: string, name: string, envName: string): Promise<void>;
  setField(kind: WorkloadKind, ns: string, name: string, field: string, secret: string): Promise<void>;
  /** Labels someone adds later (a GitOps controller adopting it). */
  label(kind: WorkloadKind, ns: string, name: string, labels: Record<string, string>): Promise<void>;
  /** A plain Deployment (not rotor's) named `name`: a bystander. */
  bystander(ns: string, name: string, replicas: number): Promise<void>;
  /** A CustomResourceDefinition that keeps any fields (idempotent): its objects can then be created with `object`. */
  crd(def: CrdDef): Promise<void>;
  /** Any object, Kubernetes-shaped (a built-in kind, or one of a CRD installed with `crd`). */
  object(obj: MemoryObject): Promise<void>;
  deleteObject(obj: MemoryObject): Promise<void>;
  /**
   * The cluster as an identity that may not list `resource` (`<plural>.<group>` of a CRD installed
   * with `crd`) sees it: on the apiserver, the worker's ServiceAccount, whose scan ClusterRole
   * (rotor rbac's) grants nothing in that group.
   */
  withoutListing(resource: string): Promise<ClusterPort>;
  /** The Kubernetes Events (events.k8s.io/v1) in `ns`, in the order they were posted. */
  events(ns: string): Promise<PostedEvent[]>;
}

/** A Kubernetes Event as `kubectl events` reads it back. */
export interface PostedEvent {
  name: string;
  reason: string;
  type: string;
  action: string;
  note: string;
  reportingController: string;
  reportingInstance: string;
  regarding: { apiVersion?: string; kind: string; namespace?: string; name: string; uid?: string };
}

function posted(e: {
  metadata?: { name?: string };
  reason?: string;
  type?: string;
  action?: string;
  note?: string;
  reportingController?: string;
  reportingInstance?: string;
  regarding?: { apiVersion?: string; kind?: string; namespace?: string; name?: string; uid?: string };
}): PostedEvent {
  return {
    name: e.metadata?.name ?? '',
    reason: e.reason ?? '',
    type: e.type ?? '',
    action: e.action ?? '',
    note: e.note ?? '',
    reportingController: e.reportingController ?? '',
    reportingInstance: e.reportingInstance ?? '',
    regarding: { ...e.regarding, kind: e.regarding?.kind ?? '', name: e.regarding?.name ?? '' },
  };
}

export interface CrdDef {
  group: string;
  kind: string;
  plural: string;
  namespaced: boolean;
}

/** `<plural>.<group>` of every CRD the tests installed: the plan of an identity that cannot read them ignores them. */
export const installedCrds = new Set<string>();

// ---------------------------------------------------------------------------------------------
export class MemoryWorld implements World {
  readonly name = 'memory';
  readonly memory = new MemoryCluster({ secrets: [], workloads: [] });
  readonly cluster: ClusterPort = this.memory;
  readonly externalSecrets: ExternalSecretsPort = this.memory.externalSecrets;

  private w(kind: WorkloadKind, ns: string, name: string): MemoryWorkload {
    const found = this.memory.world.workloads.find((x) => x.kind === kind && x.namespace === ns && x.name === name);
    if (!found) throw new Error(`${kind} ${ns}/${name} not in the memory world`);
    return found;
  }

  async namespace(ns: string): Promise<void> {
    (this.memory.world.namespaces ??= []).push(ns);
  }

  async secret(ns: string, name: string, data: Record<string, string> = { api_token: 'x' }, type?: string): Promise<void> {
    this.memory.world.secrets.push({ namespace: ns, name, data, ...(type ? { type } : {}) });
  }

  async secretExists(ns: string, name: string): Promise<boolean> {
    return this.memory.world.secrets.some((s) => s.namespace === ns && s.name === name);
  }

  async workload(kind: Kind, ns: string, name: string, secret: string, opts: WorkloadOptions = {}): Promise<void> {
    const fields = opts.fields ?? [ENV, ENV_FROM, VOLUME];
    this.memory.world.workloads.push({
      kind,
      namespace: ns,
      name,
      replicas: kind === 'CronJob' || kind === 'DaemonSet' ? undefined : (opts.replicas ?? 2),
      refs: Object.fromEntries(fields.map((f) => [f, secret])),
      ...(opts.onDelete ? { updateStrategy: 'OnDelete' as const } : {}),
      ...(opts.labels ? { labels: { ...opts.labels } } : {}),
      ...(opts.annotations ? { annotations: { ...opts.annotations } } : {}),
      ...(opts.manager ? { managedFields: [{ manager: opts.manager, operation: 'Update', fieldsV1: fieldsV1For(kind, fields) }] } : {}),
    });
  }

  async job(ns: string, name: string, secret: string, opts: { suspend?: boolean; ownerCronJob?: string }): Promise<void> {
    this.memory.world.workloads.push({
      kind: 'Job',
      namespace: ns,
      name,
      refs: { [ENV]: secret },
      ...(opts.ownerCronJob ? { ownerKind: 'CronJob' as const } : {}),
    });
  }

  async refs(kind: WorkloadKind, ns: string, name: string): Promise<Record<string, string>> {
    return { ...this.w(kind, ns, name).refs };
  }

  async replicas(ns: string, name: string): Promise<number | null> {
    return this.memory.world.workloads.find((x) => x.kind === 'Deployment' && x.namespace === ns && x.name === name)?.replicas ?? null;
  }

  async annotations(kind: WorkloadKind, ns: string, name: string): Promise<Record<string, string>> {
    return { ...this.w(kind, ns, name).annotations };
  }

  async labels(kind: WorkloadKind, ns: string, name: string): Promise<Record<string, string>> {
    return { ...this.w(kind, ns, name).labels };
  }

  async deployments(ns: string): Promise<string[]> {
    return this.memory.world.workloads
      .filter((x) => x.kind === 'Deployment' && x.namespace === ns)
      .map((x) => x.name)
      .sort();
  }

  async scale(ns: string, name: string, replicas: number): Promise<void> {
    this.w('Deployment', ns, name).replicas = replicas;
  }

  async insertEnvAbove(): Promise<void> {
    // Fields are kept by meaning in the memory world: an insertion moves nothing.
  }

  async setField(kind: WorkloadKind, ns: string, name: string, field: string, secret: string): Promise<void> {
    this.w(kind, ns, name).refs[field] = secret;
  }

  async label(kind: WorkloadKind, ns: string, name: string, labels: Record<string, string>): Promise<void> {
    const w = this.w(kind, ns, name);
    w.labels = { ...w.labels, ...labels };
  }

  async bystander(ns: string, name: string, replicas: number): Promise<void> {
    this.memory.world.workloads.push({ kind: 'Deployment', namespace: ns, name, replicas, refs: { [ENV]: 'unrelated' } });
  }

  async crd(def: CrdDef): Promise<void> {
    installedCrds.add(`${def.plural}.${def.group}`);
    const resources = (this.memory.world.resources ??= []);
    if (!resources.some((r) => r.group === def.group && r.kind === def.kind))
      resources.push({ group: def.group, version: 'v1', resource: def.plural, kind: def.kind, namespaced: def.namespaced });
  }

  async object(obj: MemoryObject): Promise<void> {
    (this.memory.world.objects ??= []).push(structuredClone(obj));
  }

  async deleteObject(obj: MemoryObject): Promise<void> {
    const same = (o: MemoryObject) =>
      o.apiVersion === obj.apiVersion && o.kind === obj.kind && o.metadata.name === obj.metadata.name && o.metadata.namespace === obj.metadata.namespace;
    this.memory.world.objects = (this.memory.world.objects ?? []).filter((o) => !same(o));
  }

  async events(ns: string): Promise<PostedEvent[]> {
    return (this.memory.world.events ?? []).filter((e) => e.metadata.namespace === ns).map(posted);
  }

  async withoutListing(resource: string): Promise<ClusterPort> {
    this.memory.world.unreadable = { ...this.memory.world.unreadable, [resource]: `HTTP 403 Forbidden: ${resource} is forbidden` };
    return this.memory;
  }
}

// ---------------------------------------------------------------------------------------------
const jsonPatch = k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.JsonPatch);

function podSpec(secret: string, fields: string[]): k8s.V1PodSpec {
  const has = (f: string) => fields.includes(f);
  return {
    containers: [
      {
        name: 'app',
        image: 'example/auth:1',
        env: [{ name: 'PLAIN', value: 'x' }, ...(has(ENV) ? [{ name: 'TOKEN', valueFrom: { secretKeyRef: { name: secret, key: 'api_token' } } }] : [])],
        envFrom: has(ENV_FROM) ? [{ secretRef: { name: secret } }] : [],
      },
    ],
    volumes: has(VOLUME) ? [{ name: 'creds', secret: { secretName: secret } }] : [],
  };
}

const POD_TEMPLATE_PATH: Record<string, string> = { CronJob: '/spec/jobTemplate/spec/template/spec', Job: '/spec/template/spec' };

export class KubeWorld implements World {
  readonly name = 'kubernetes';
  readonly cluster: KubernetesCluster;
  readonly externalSecrets: ExternalSecretsPort;
  readonly core: k8s.CoreV1Api;
  readonly apps: k8s.AppsV1Api;
  readonly batch: k8s.BatchV1Api;
  readonly objects: k8s.KubernetesObjectApi;

  /**
   * `kc`: the world's author (cluster-admin), who sets it up and edits it as others would.
   * `workerKubeconfig`: the worker's identity (sandbox/worker-identity.ts), for `withoutListing`, and,
   * with `confined`, the identity `cluster` (rotor's own steps) acts as: its RBAC and the admission policy.
   */
  constructor(
    readonly kc: k8s.KubeConfig,
    readonly options: {
      pageSize?: number;
      workerKubeconfig?: string;
      confined?: boolean;
      /** rotor's own steps reach the apiserver through this (e.g. the fault proxy), and through `limiter`. */
      through?: k8s.KubeConfig;
      limiter?: KubeRateLimiter;
    } = {},
  ) {
    const worker = new k8s.KubeConfig();
    if (options.confined) {
      if (!options.workerKubeconfig) throw new Error('KubeWorld needs the worker kubeconfig to act confined');
      worker.loadFromFile(options.workerKubeconfig);
    }
    // Small pages: every scan crosses page boundaries.
    this.cluster = new KubernetesCluster(options.confined ? worker : (options.through ?? kc), options.pageSize ?? 3, {}, undefined, {
      limiter: options.limiter,
    });
    this.externalSecrets = this.cluster.externalSecrets;
    this.core = kc.makeApiClient(k8s.CoreV1Api);
    this.apps = kc.makeApiClient(k8s.AppsV1Api);
    this.batch = kc.makeApiClient(k8s.BatchV1Api);
    this.objects = k8s.KubernetesObjectApi.makeApiClient(kc);
  }

  async crd(def: CrdDef): Promise<void> {
    const name = `${def.plural}.${def.group}`;
    installedCrds.add(name);
    const ext = this.kc.makeApiClient(k8s.ApiextensionsV1Api);
    const body: k8s.V1CustomResourceDefinition = {
      metadata: { name },
      spec: {
        group: def.group,
        scope: def.namespaced ? 'Namespaced' : 'Cluster',
        names: { kind: def.kind, plural: def.plural, singular: def.kind.toLowerCase(), listKind: `${def.kind}List` },
        versions: [{ name: 'v1', served: true, storage: true, schema: { openAPIV3Schema: { type: 'object', x_kubernetes_preserve_unknown_fields: true } } }],
      },
    };
    await ext.createCustomResourceDefinition({ body }).catch((err) => {
      if ((err as { code?: number }).code !== 409) throw err;
    });
    const custom = this.kc.makeApiClient(k8s.CustomObjectsApi);
    for (let i = 0; ; i++) {
      const crd = await ext.readCustomResourceDefinition({ name });
      const established = crd.status?.conditions?.some((c) => c.type === 'Established' && c.status === 'True');
      // Established is not quite "the apiserver routes it": list once.
      if (
        established &&
        (await custom.listClusterCustomObject({ group: def.group, version: 'v1', plural: def.plural }).then(
          () => true,
          () => false,
        ))
      )
        return;
      if (i > 200) throw new Error(`${name} not served`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  async object(obj: MemoryObject): Promise<void> {
    for (let i = 0; ; i++) {
      try {
        await this.objects.create(structuredClone(obj) as k8s.KubernetesObject);
        return;
      } catch (err) {
        // The client's discovery cache may not know a kind whose CRD was just installed: it asks again.
        if (i > 20 || !/Unrecognized API version and kind/.test(String((err as Error).message))) throw err;
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  }

  async deleteObject(obj: MemoryObject): Promise<void> {
    await this.objects.delete(structuredClone(obj) as k8s.KubernetesObject);
  }

  async events(ns: string): Promise<PostedEvent[]> {
    const list = await this.kc.makeApiClient(k8s.EventsV1Api).listNamespacedEvent({ namespace: ns });
    // eventTime has microseconds; the name breaks ties between Events of one microsecond.
    const at = (e: k8s.EventsV1Event) => {
      const t = e.eventTime as unknown;
      return t instanceof Date ? t.toISOString() : String(t);
    };
    return [...list.items].sort((a, b) => (at(a) < at(b) ? -1 : at(a) > at(b) ? 1 : 0)).map(posted);
  }

  async withoutListing(resource: string): Promise<ClusterPort> {
    if (!this.options.workerKubeconfig) throw new Error('KubeWorld needs the worker kubeconfig for withoutListing');
    const kc = new k8s.KubeConfig();
    kc.loadFromFile(this.options.workerKubeconfig);
    // rotor rbac's ClusterRoles: rotor-worker-scan (namespaced scope) or rotor-worker (cluster scope).
    const roles = (await this.kc.makeApiClient(k8s.RbacAuthorizationV1Api).listClusterRole()).items.filter((r) => r.metadata!.name!.startsWith('rotor-worker'));
    const rules = roles.flatMap((r) => r.rules ?? []);
    const group = resource.split('.').slice(1).join('.');
    if (rules.some((r) => (r.apiGroups ?? []).includes(group) || (r.apiGroups ?? []).includes('*')))
      throw new Error(`rotor rbac's ClusterRoles grant something in ${group}`);
    return new KubernetesCluster(kc, this.options.pageSize ?? 3);
  }

  async namespace(ns: string): Promise<void> {
    await this.core.createNamespace({ body: { metadata: { name: ns } } });
    // The serviceaccount controller creates `default`; pods wait for it.
    for (let i = 0; i < 100; i++) {
      if ((await this.core.listNamespacedServiceAccount({ namespace: ns })).items.some((s) => s.metadata?.name === 'default')) return;
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  async secret(ns: string, name: string, data: Record<string, string> = { api_token: 'x' }, type?: string): Promise<void> {
    await this.core.createNamespacedSecret({ namespace: ns, body: { metadata: { name }, stringData: data, ...(type ? { type } : {}) } });
  }

  async secretExists(ns: string, name: string): Promise<boolean> {
    try {
      await this.core.readNamespacedSecret({ namespace: ns, name });
      return true;
    } catch (err) {
      if ((err as { code?: number }).code === 404) return false;
      throw err;
    }
  }

  async workload(kind: Kind, ns: string, name: string, secret: string, opts: WorkloadOptions = {}): Promise<void> {
    const spec = podSpec(secret, opts.fields ?? [ENV, ENV_FROM, VOLUME]);
    const labels = { app: name };
    const template = { metadata: { labels }, spec };
    const metadata = { name, ...(opts.labels ? { labels: opts.labels } : {}), ...(opts.annotations ? { annotations: opts.annotations } : {}) };
    // Created by that manager, as the controller's own apply would: the apiserver records what it owns.
    const by = opts.manager ? { fieldManager: opts.manager } : {};
    if (kind === 'Deployment') {
      await this.apps.createNamespacedDeployment({
        namespace: ns,
        body: { metadata, spec: { replicas: opts.replicas ?? 2, selector: { matchLabels: labels }, template } },
        ...by,
      });
    } else if (kind === 'StatefulSet') {
      const updateStrategy = opts.onDelete ? { type: 'OnDelete' } : { type: 'RollingUpdate', rollingUpdate: { partition: opts.partition ?? 0 } };
      await this.apps.createNamespacedStatefulSet({
        namespace: ns,
        body: { metadata, spec: { serviceName: name, replicas: opts.replicas ?? 2, selector: { matchLabels: labels }, template, updateStrategy } },
        ...by,
      });
    } else if (kind === 'DaemonSet') {
      await this.apps.createNamespacedDaemonSet({
        namespace: ns,
        body: { metadata, spec: { selector: { matchLabels: labels }, template, ...(opts.onDelete ? { updateStrategy: { type: 'OnDelete' } } : {}) } },
        ...by,
      });
    } else {
      await this.batch.createNamespacedCronJob({
        namespace: ns,
        body: { metadata, spec: { schedule: '0 3 * * 1', jobTemplate: { spec: { template: { spec: { ...spec, restartPolicy: 'Never' } } } } } },
        ...by,
      });
    }
  }

  async job(ns: string, name: string, secret: string, opts: { suspend?: boolean; ownerCronJob?: string }): Promise<void> {
    const ownerReferences = [];
    if (opts.ownerCronJob) {
      const cron = await this.batch.readNamespacedCronJob({ namespace: ns, name: opts.ownerCronJob });
      ownerReferences.push({ apiVersion: 'batch/v1', kind: 'CronJob', name: opts.ownerCronJob, uid: cron.metadata!.uid!, controller: true });
    }
    await this.batch.createNamespacedJob({
      namespace: ns,
      body: {
        metadata: { name, ownerReferences },
        spec: { suspend: opts.suspend ?? false, template: { spec: { ...podSpec(secret, [ENV]), restartPolicy: 'Never' } } },
      },
    });
  }

  private async read(kind: WorkloadKind, ns: string, name: string): Promise<any> {
    switch (kind) {
      case 'Deployment':
        return this.apps.readNamespacedDeployment({ namespace: ns, name });
      case 'StatefulSet':
        return this.apps.readNamespacedStatefulSet({ namespace: ns, name });
      case 'DaemonSet':
        return this.apps.readNamespacedDaemonSet({ namespace: ns, name });
      case 'CronJob':
        return this.batch.readNamespacedCronJob({ namespace: ns, name });
      case 'Job':
        return this.batch.readNamespacedJob({ namespace: ns, name });
      default:
        throw new Error(`no reader for ${kind}`);
    }
  }

  private async patch(kind: WorkloadKind, ns: string, name: string, body: object[]): Promise<void> {
    const args = { namespace: ns, name, body };
    if (kind === 'Deployment') await this.apps.patchNamespacedDeployment(args, jsonPatch);
    else if (kind === 'StatefulSet') await this.apps.patchNamespacedStatefulSet(args, jsonPatch);
    else if (kind === 'DaemonSet') await this.apps.patchNamespacedDaemonSet(args, jsonPatch);
    else if (kind === 'CronJob') await this.batch.patchNamespacedCronJob(args, jsonPatch);
    else throw new Error(`no patcher for ${kind}`);
  }

  async refs(kind: WorkloadKind, ns: string, name: string): Promise<Record<string, string>> {
    const obj = await this.read(kind, ns, name);
    return Object.fromEntries(workloadSecretRefs(kind, obj).map((r) => [r.field, r.name]));
  }

  async replicas(ns: string, name: string): Promise<number | null> {
    try {
      return (await this.apps.readNamespacedDeployment({ namespace: ns, name })).spec?.replicas ?? null;
    } catch (err) {
      if ((err as { code?: number }).code === 404) return null;
      throw err;
    }
  }

  async annotations(kind: WorkloadKind, ns: string, name: string): Promise<Record<string, string>> {
    return { ...(await this.read(kind, ns, name)).metadata?.annotations };
  }

  async labels(kind: WorkloadKind, ns: string, name: string): Promise<Record<string, string>> {
    return { ...(await this.read(kind, ns, name)).metadata?.labels };
  }

  async deployments(ns: string): Promise<string[]> {
    return (await this.apps.listNamespacedDeployment({ namespace: ns })).items
      .filter((d) => !d.metadata?.deletionTimestamp)
      .map((d) => d.metadata!.name!)
      .sort();
  }

  async scale(ns: string, name: string, replicas: number): Promise<void> {
    await this.patch('Deployment', ns, name, [{ op: 'replace', path: '/spec/replicas', value: replicas }]);
  }

  async insertEnvAbove(kind: WorkloadKind, ns: string, name: string, envName: string): Promise<void> {
    const base = POD_TEMPLATE_PATH[kind] ?? '/spec/template/spec';
    await this.patch(kind, ns, name, [{ op: 'add', path: `${base}/containers/0/env/0`, value: { name: envName, value: 'inserted by someone else' } }]);
  }

  async setField(kind: WorkloadKind, ns: string, name: string, field: string, secret: string): Promise<void> {
    const obj = await this.read(kind, ns, name);
    const ref = workloadSecretRefs(kind, obj).find((r) => r.field === field);
    if (ref) {
      await this.patch(kind, ns, name, [{ op: 'replace', path: ref.path, value: secret }]);
      return;
    }
    if (field !== VOLUME) throw new Error(`${field} is not on ${kind} ${ns}/${name}`);
    const base = POD_TEMPLATE_PATH[kind] ?? '/spec/template/spec';
    const volume = { name: 'creds', secret: { secretName: secret } };
    // The apiserver drops an empty list: add the list itself when there is none.
    const hasVolumes = (await this.read(kind, ns, name)) && JSON.stringify(await this.read(kind, ns, name)).includes('"volumes"');
    await this.patch(kind, ns, name, [
      hasVolumes ? { op: 'add', path: `${base}/volumes/-`, value: volume } : { op: 'add', path: `${base}/volumes`, value: [volume] },
    ]);
  }

  async label(kind: WorkloadKind, ns: string, name: string, labels: Record<string, string>): Promise<void> {
    const obj = await this.read(kind, ns, name);
    const ops = obj.metadata?.labels
      ? Object.entries(labels).map(([k, v]) => ({ op: 'add', path: `/metadata/labels/${k.replace(/~/g, '~0').replace(/\//g, '~1')}`, value: v }))
      : [{ op: 'add', path: '/metadata/labels', value: labels }];
    await this.patch(kind, ns, name, ops);
  }

  async bystander(ns: string, name: string, replicas: number): Promise<void> {
    await this.apps.createNamespacedDeployment({
      namespace: ns,
      body: {
        metadata: { name },
        spec: {
          replicas,
          selector: { matchLabels: { app: name } },
          template: { metadata: { labels: { app: name } }, spec: { containers: [{ name: 'c', image: 'x' }] } },
        },
      },
    });
  }
}
