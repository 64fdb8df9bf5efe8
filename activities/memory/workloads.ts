// The memory world's workloads as kube-apiserver serves them, with their controllers and kubelet done
// at once: a workload's status says its rollout finished, and a pod that could not start (its template
// names a Secret its namespace lacks) is shown as kubelet reports it (kubelet.ts, the sandbox's
// verdict too). A world's field is a locator as the adapter writes them (refs.ts); what a write
// changes is read back through the adapter's own table.
import type { WorkloadKind } from '../../domain/plan';
import type { Obj } from '../kubernetes/kinds';
import { isLocator, NAMED_LISTS, placeAt, POD_SPEC_PATH, workloadSecretRefs } from '../kubernetes/refs';
import { defined, replaceFields, resource, type Collection, type Json } from './collection';
import type { MemoryWorkload, MemoryWorld } from './world';
import { missingSecretReason, type SecretIndex } from './kubelet';
import type * as k8s from '@kubernetes/client-node';

/** The label the memory world's workloads select their pods by. */
const APP = 'app.kubernetes.io/name';

export const WORKLOAD_RESOURCES: Record<WorkloadKind, { group: string; resource: string }> = {
  Deployment: { group: 'apps', resource: 'deployments' },
  StatefulSet: { group: 'apps', resource: 'statefulsets' },
  DaemonSet: { group: 'apps', resource: 'daemonsets' },
  ReplicaSet: { group: 'apps', resource: 'replicasets' },
  CronJob: { group: 'batch', resource: 'cronjobs' },
  Job: { group: 'batch', resource: 'jobs' },
  Pod: { group: '', resource: 'pods' },
};

// ---- workloads ---------------------------------------------------------------------------------

/**
 * A world's field as the adapter locates it: `containers[app].envFrom[].secretRef.name` as is; a path
 * from the object with indexes (`spec.template.spec.containers[0].envFrom[0].secretRef.name`, as
 * earlier worlds were written) becomes `containers[containers-0].envFrom[].secretRef.name`.
 */
function locatorOf(kind: WorkloadKind, field: string): string {
  // Earlier worlds wrote a template's path on Jobs and Pods alike: any pod spec path is read as the pod spec.
  const prefix = [POD_SPEC_PATH[kind], POD_SPEC_PATH.CronJob, POD_SPEC_PATH.Deployment, POD_SPEC_PATH.Pod]
    .map((p) => p.join('.') + '.')
    .find((p) => field.startsWith(p));
  if (!prefix) return field;
  return field
    .slice(prefix.length)
    .replace(/([A-Za-z]+)\[(\d+)\]/g, (_, key: string, i: string) => (NAMED_LISTS.has(key) ? `${key}[${key}-${i}]` : `${key}[]`));
}

/** Why a world's field cannot be placed in a pod spec, or null. */
export function fieldProblem(w: Pick<MemoryWorkload, 'kind' | 'namespace' | 'name'>, field: string): string | null {
  if (isLocator(locatorOf(w.kind, field))) return null;
  return `${w.kind} ${w.namespace}/${w.name}: refs field "${field}" is not where a pod spec names a Secret; write it as rotor locates references, e.g. containers[app].envFrom[].secretRef.name, containers[app].env[TOKEN].valueFrom.secretKeyRef.name or volumes[data].secret.secretName`;
}

function podSpecOf(w: MemoryWorkload): Json {
  const spec: Json = {};
  for (const [field, name] of Object.entries(w.refs)) {
    const problem = fieldProblem(w, field);
    if (problem) throw new Error(`memory world: ${problem}`);
    placeAt(spec, locatorOf(w.kind, field), name);
  }
  return spec;
}

function owners(w: MemoryWorkload) {
  if (!w.ownerKind) return undefined;
  const group = WORKLOAD_RESOURCES[w.ownerKind].group;
  return [{ apiVersion: group ? `${group}/v1` : 'v1', kind: w.ownerKind, name: `${w.name}-owner`, uid: `memory-owner-of-${w.name}`, controller: true }];
}

/** A workload as its controller leaves it once done: every replica updated and available. */
function renderWorkload(w: MemoryWorkload): Obj {
  const r = WORKLOAD_RESOURCES[w.kind];
  const replicas = w.replicas ?? 1;
  const metadata = defined({
    name: w.name,
    namespace: w.namespace,
    labels: w.labels,
    annotations: w.annotations,
    managedFields: w.managedFields,
    ownerReferences: owners(w),
  });
  const template = { metadata: { labels: { [APP]: w.name } }, spec: podSpecOf(w) };
  const selector = { matchLabels: { [APP]: w.name } };
  const base = { apiVersion: r.group ? `${r.group}/v1` : 'v1', kind: w.kind, metadata };
  const strategy = w.updateStrategy ? { updateStrategy: { type: w.updateStrategy } } : {};
  switch (w.kind) {
    case 'Deployment':
      return {
        ...base,
        spec: defined({ replicas, selector, template, paused: w.paused }),
        status: { observedGeneration: 0, replicas, updatedReplicas: replicas, readyReplicas: replicas, availableReplicas: replicas },
      };
    case 'ReplicaSet':
      return {
        ...base,
        spec: { replicas, selector, template },
        status: { observedGeneration: 0, replicas, readyReplicas: replicas, availableReplicas: replicas },
      };
    case 'StatefulSet':
      return {
        ...base,
        spec: { replicas, selector, template, serviceName: w.name, ...strategy },
        status: {
          observedGeneration: 0,
          replicas,
          readyReplicas: replicas,
          updatedReplicas: replicas,
          currentReplicas: replicas,
          currentRevision: `${w.name}-memory`,
          updateRevision: `${w.name}-memory`,
        },
      };
    case 'DaemonSet':
      return {
        ...base,
        spec: { selector, template, ...strategy },
        status: { observedGeneration: 0, desiredNumberScheduled: 1, currentNumberScheduled: 1, updatedNumberScheduled: 1, numberAvailable: 1, numberReady: 1 },
      };
    case 'CronJob':
      return { ...base, spec: { schedule: '0 * * * *', jobTemplate: { spec: { template } } }, status: {} };
    case 'Job':
      return { ...base, spec: { template }, status: w.finished ? { succeeded: 1, conditions: [{ type: 'Complete', status: 'True' }] } : { active: 1 } };
    case 'Pod':
      return {
        ...base,
        metadata: { ...metadata, labels: { [APP]: w.name, ...w.labels } },
        spec: template.spec,
        status: { phase: w.finished ? 'Succeeded' : 'Running' },
      };
  }
}

/** The world's record of a workload object the adapter wrote. */
function workloadOf(kind: WorkloadKind, obj: Obj): MemoryWorkload {
  const meta = obj.metadata ?? {};
  const spec = obj.spec ?? {};
  const finished =
    kind === 'Job'
      ? (obj.status?.conditions ?? []).some((c: Json) => (c.type === 'Complete' || c.type === 'Failed') && c.status === 'True')
      : kind === 'Pod'
        ? obj.status?.phase === 'Succeeded' || obj.status?.phase === 'Failed'
        : undefined;
  return defined({
    kind,
    namespace: meta.namespace!,
    name: meta.name!,
    replicas: ['Deployment', 'StatefulSet', 'ReplicaSet'].includes(kind) ? (spec.replicas ?? 1) : undefined,
    refs: Object.fromEntries(workloadSecretRefs(kind, obj).map((r) => [r.field, r.name])),
    annotations: meta.annotations,
    labels: meta.labels,
    managedFields: meta.managedFields as MemoryWorkload['managedFields'],
    updateStrategy: spec.updateStrategy?.type,
    paused: spec.paused,
    finished: finished || undefined,
    ownerKind: meta.ownerReferences?.[0]?.kind as WorkloadKind | undefined,
  });
}

export function workloads(world: MemoryWorld, kind: WorkloadKind): Collection {
  const r = WORKLOAD_RESOURCES[kind];
  const find = (obj: Obj) => world.workloads.find((w) => w.kind === kind && w.namespace === obj.metadata?.namespace && w.name === obj.metadata?.name);
  return {
    resource: resource(r.group, 'v1', r.resource, kind),
    items: () => world.workloads.filter((w) => w.kind === kind).map(renderWorkload),
    create: (obj) => void world.workloads.push(workloadOf(kind, obj)),
    update: (obj) => replaceFields(find(obj)!, workloadOf(kind, obj)),
    remove: (obj) => void (world.workloads = world.workloads.filter((w) => w !== find(obj))),
  };
}

/** The world's Pods, and a pod that cannot start for each workload whose template names a missing Secret. */
export function pods(world: MemoryWorld): Collection {
  const own = workloads(world, 'Pod');
  const stuck = (): Obj[] => {
    const secrets: SecretIndex = new Map(world.secrets.map((s) => [`${s.namespace}/${s.name}`, s.data]));
    return world.workloads
      .filter((w) => ['Deployment', 'StatefulSet', 'DaemonSet', 'ReplicaSet'].includes(w.kind))
      .flatMap((w) => {
        const spec = podSpecOf(w);
        const why = missingSecretReason({ metadata: { namespace: w.namespace }, spec } as k8s.V1Pod, secrets);
        if (!why) return [];
        const container = spec.containers?.[0]?.name ?? 'app';
        return [
          {
            apiVersion: 'v1',
            kind: 'Pod',
            metadata: {
              name: `${w.name}-memory-0`,
              namespace: w.namespace,
              labels: { [APP]: w.name },
              ownerReferences: [{ apiVersion: 'apps/v1', kind: w.kind === 'Deployment' ? 'ReplicaSet' : w.kind, name: w.name, uid: `memory-${w.name}` }],
            },
            spec,
            status: {
              phase: 'Pending',
              containerStatuses: [{ name: container, ready: false, state: { waiting: { reason: 'CreateContainerConfigError', message: why } } }],
            },
          },
        ];
      });
  };
  return { ...own, items: () => [...own.items(), ...stuck()] };
}
