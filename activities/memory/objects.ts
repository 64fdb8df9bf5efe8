// The memory world as the objects kube-apiserver would serve: each resource a collection that renders
// the world's records as Kubernetes JSON and writes what it is sent back into them (in place, so a
// test holding a record sees the change). Workloads are in workloads.ts. Nothing here judges a
// reference: that is the Kubernetes adapter's.
import type { WorkloadKind } from '../../domain/plan';
import { claimName } from '../../domain/naming';
import { OPAQUE } from '../../domain/secret-types';
import { ESO_GROUP, ESO_VERSION } from '../kubernetes/external-secrets';
import type { Obj } from '../kubernetes/kinds';
import type { ScannedResource } from '../kubernetes/object-refs';
import { ANNOTATION_CLAIMED_AT } from '../kubernetes/claims';
import { LABEL_SECRET } from '../kubernetes/ownership';
import { pods, workloads, WORKLOAD_RESOURCES } from './workloads';
import { defined, replaceFields, resource, type Collection, type Json } from './collection';
import type { MemoryEvent, MemoryExternalSecret, MemoryObject, MemorySecret, MemorySecretStore, MemoryWorld } from './world';

function b64(s: string): string {
  return Buffer.from(s, 'utf8').toString('base64');
}

// ---- Secrets, Leases, namespaces -----------------------------------------------------------------

function renderSecret(s: MemorySecret): Obj {
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: defined({ name: s.name, namespace: s.namespace, labels: s.labels, annotations: s.annotations }),
    type: s.type || OPAQUE,
    ...(s.immutable !== undefined ? { immutable: s.immutable } : {}),
    data: Object.fromEntries(Object.entries(s.data).map(([k, v]) => [k, b64(v)])),
  } as Obj;
}

function secretOf(obj: Obj): MemorySecret {
  const o = obj as Json;
  const data: Record<string, string> = Object.fromEntries(Object.entries(o.data ?? {}).map(([k, v]) => [k, Buffer.from(String(v), 'base64').toString('utf8')]));
  for (const [k, v] of Object.entries(o.stringData ?? {})) data[k] = String(v);
  return defined({
    namespace: obj.metadata!.namespace!,
    name: obj.metadata!.name!,
    labels: obj.metadata?.labels,
    annotations: obj.metadata?.annotations,
    data,
    immutable: o.immutable,
    type: o.type || OPAQUE,
  });
}

function secrets(world: MemoryWorld): Collection {
  const find = (obj: Obj) => world.secrets.find((s) => s.namespace === obj.metadata?.namespace && s.name === obj.metadata?.name);
  return {
    resource: resource('', 'v1', 'secrets', 'Secret'),
    items: () => world.secrets.map(renderSecret),
    create: (obj) => void world.secrets.push(secretOf(obj)),
    update: (obj) => replaceFields(find(obj)!, secretOf(obj)),
    remove: (obj) => void (world.secrets = world.secrets.filter((s) => s !== find(obj))),
  };
}

/** A rotation's claim, as the Lease the Kubernetes adapter keeps (claims.ts). */
function leases(world: MemoryWorld): Collection {
  const key = (obj: Obj) => `${obj.metadata!.namespace}/${obj.metadata?.annotations?.[LABEL_SECRET] ?? obj.metadata!.name!.replace(/^rotor-/, '')}`;
  const claims = () => (world.claims ??= {});
  const write = (obj: Obj) => {
    claims()[key(obj)] = { holder: obj.spec?.holderIdentity ?? '', since: obj.metadata?.annotations?.[ANNOTATION_CLAIMED_AT] ?? null };
  };
  return {
    resource: resource('coordination.k8s.io', 'v1', 'leases', 'Lease'),
    items: () =>
      Object.entries(world.claims ?? {}).map(([k, claim]) => {
        const [namespace, secret] = [k.slice(0, k.indexOf('/')), k.slice(k.indexOf('/') + 1)];
        return {
          apiVersion: 'coordination.k8s.io/v1',
          kind: 'Lease',
          metadata: {
            name: claimName(secret),
            namespace,
            labels: { 'app.kubernetes.io/managed-by': 'rotor' },
            annotations: { [LABEL_SECRET]: secret, ...(claim.since ? { [ANNOTATION_CLAIMED_AT]: claim.since } : {}) },
          },
          spec: { holderIdentity: claim.holder },
        };
      }),
    create: write,
    update: write,
    remove: (obj) => void delete claims()[key(obj)],
  };
}

/** Kubernetes Events rotor posted (events.k8s.io/v1), kept as posted: tests read what `kubectl events` would show. */
function events(world: MemoryWorld): Collection {
  return {
    resource: resource('events.k8s.io', 'v1', 'events', 'Event'),
    items: () => (world.events ?? []).map((e) => structuredClone(e) as Obj),
    create: (obj) => void (world.events ??= []).push(structuredClone(obj) as MemoryEvent),
  };
}

/** Every namespace the world names; when it lists none, any namespace asked for exists. */
function namespaces(world: MemoryWorld): Collection {
  const render = (name: string): Obj => ({ apiVersion: 'v1', kind: 'Namespace', metadata: { name }, status: { phase: 'Active' } }) as Obj;
  const named = () =>
    world.namespaces ?? [
      ...new Set(
        [...world.secrets, ...world.workloads, ...(world.externalSecrets ?? []), ...(world.secretStores ?? [])]
          .map((x) => x.namespace)
          .concat(
            (world.objects ?? []).map((o) => o.metadata.namespace),
            Object.keys(world.claims ?? {}).map((k) => k.split('/')[0]),
            world.unreadableNamespaces ?? [],
          )
          .filter((n): n is string => !!n),
      ),
    ];
  return {
    resource: resource('', 'v1', 'namespaces', 'Namespace', false),
    items: () => named().sort().map(render),
    get: (_ns, name) => (!world.namespaces || world.namespaces.includes(name) ? render(name) : undefined),
  };
}

// ---- External Secrets Operator's resources ---------------------------------------------------------

function renderExternalSecret(es: MemoryExternalSecret): Obj {
  const metadata = { labels: es.labels, annotations: es.annotations };
  return {
    apiVersion: `${ESO_GROUP}/${ESO_VERSION}`,
    kind: 'ExternalSecret',
    metadata: { name: es.name, namespace: es.namespace, ...metadata },
    spec: {
      refreshInterval: '1h',
      secretStoreRef: { ...es.secretStoreRef },
      target: { name: es.name, creationPolicy: 'Owner', deletionPolicy: 'Retain', immutable: true, template: { type: es.type ?? OPAQUE, metadata } },
      dataFrom: [{ extract: { key: es.remoteRef.key, version: es.remoteRef.version } }],
    },
    status: es.condition ? { conditions: [{ type: 'Ready', ...es.condition }] } : {},
  };
}

function externalSecretOf(obj: Obj): MemoryExternalSecret {
  const extract = obj.spec?.dataFrom?.[0]?.extract ?? {};
  return {
    namespace: obj.metadata!.namespace!,
    name: obj.metadata!.name!,
    type: obj.spec?.target?.template?.type ?? OPAQUE,
    secretStoreRef: { name: obj.spec?.secretStoreRef?.name, kind: obj.spec?.secretStoreRef?.kind ?? 'SecretStore' },
    remoteRef: { key: extract.key, version: extract.version },
    labels: obj.metadata?.labels ?? {},
    annotations: obj.metadata?.annotations ?? {},
    ...(obj.status?.conditions?.[0] ? { condition: obj.status.conditions[0] } : {}),
  };
}

function renderStore(s: MemorySecretStore): Obj {
  const condition = s.ready
    ? { type: 'Ready', status: 'True', reason: 'Valid', message: s.message ?? 'store validated' }
    : { type: 'Ready', status: 'False', reason: 'InvalidProviderConfig', message: s.message ?? 'unable to validate store' };
  return {
    apiVersion: `${ESO_GROUP}/${ESO_VERSION}`,
    kind: s.kind,
    metadata: defined({ name: s.name, namespace: s.kind === 'SecretStore' ? s.namespace : undefined }),
    spec: { provider: s.provider ?? { aws: { service: 'SecretsManager' } } },
    status: { conditions: [condition] },
  };
}

/** The operator's resources, served only when the world has the operator (a list of stores). */
function externalSecretResources(world: MemoryWorld): Collection[] {
  if (!world.secretStores) return [];
  const find = (obj: Obj) => world.externalSecrets?.find((e) => e.namespace === obj.metadata?.namespace && e.name === obj.metadata?.name);
  const stores = (kind: MemorySecretStore['kind'], plural: string): Collection => ({
    resource: resource(ESO_GROUP, ESO_VERSION, plural, kind, kind === 'SecretStore'),
    items: () => (world.secretStores ?? []).filter((s) => s.kind === kind).map(renderStore),
  });
  return [
    {
      resource: resource(ESO_GROUP, ESO_VERSION, 'externalsecrets', 'ExternalSecret'),
      items: () => (world.externalSecrets ?? []).map(renderExternalSecret),
      create: (obj) => void (world.externalSecrets ??= []).push(externalSecretOf(obj)),
      update: (obj) => replaceFields(find(obj)!, externalSecretOf(obj)),
      remove: (obj) => void (world.externalSecrets = (world.externalSecrets ?? []).filter((e) => e !== find(obj))),
    },
    stores('SecretStore', 'secretstores'),
    stores('ClusterSecretStore', 'clustersecretstores'),
  ];
}

// ---- any other object ------------------------------------------------------------------------------

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
    world.resources?.find((r) => r.group === group && r.kind === obj.kind) ??
    resource(group, version, pluralOf(obj.kind), obj.kind, obj.metadata.namespace !== undefined)
  );
}

/** `widgets.example.com` -> the resource it names, served even with no object, so that its listing can be refused. */
function resourceNamed(id: string): ScannedResource {
  const [plural, ...group] = id.split('.');
  const kind = plural.replace(/ies$/, 'y').replace(/s$/, '');
  return resource(group.join('.'), 'v1', plural, kind[0].toUpperCase() + kind.slice(1));
}

function otherObjects(world: MemoryWorld, taken: Set<string>): Collection[] {
  const served = new Map<string, ScannedResource>();
  const id = (r: ScannedResource) => `${r.resource}.${r.group}`;
  for (const r of [
    ...(world.objects ?? []).map((o) => resourceOf(world, o)),
    ...(world.resources ?? []),
    ...Object.keys(world.unreadable ?? {}).map(resourceNamed),
  ]) {
    if (!taken.has(id(r)) && !served.has(id(r))) served.set(id(r), r);
  }
  return [...served.values()].map((r) => {
    const mine = (o: MemoryObject) => resourceOf(world, o).resource === r.resource && resourceOf(world, o).group === r.group;
    const find = (obj: Obj) =>
      (world.objects ?? []).find((o) => mine(o) && o.metadata.name === obj.metadata?.name && o.metadata.namespace === obj.metadata?.namespace);
    return {
      resource: r,
      items: () => (world.objects ?? []).filter(mine).map((o) => structuredClone(o) as Obj),
      create: (obj) => void (world.objects ??= []).push(structuredClone(obj) as MemoryObject),
      update: (obj) => replaceFields(find(obj)!, structuredClone(obj) as MemoryObject),
      remove: (obj) => void (world.objects = (world.objects ?? []).filter((o) => o !== find(obj))),
    };
  });
}

/** Every resource the memory apiserver serves, over `world` as it is now. */
export function collections(world: MemoryWorld): Collection[] {
  const kinds = (Object.keys(WORKLOAD_RESOURCES) as WorkloadKind[]).filter((k) => k !== 'Pod');
  const fixed = [
    ...kinds.map((k) => workloads(world, k)),
    pods(world),
    secrets(world),
    leases(world),
    namespaces(world),
    events(world),
    ...externalSecretResources(world),
  ];
  return [...fixed, ...otherObjects(world, new Set(fixed.map((c) => `${c.resource.resource}.${c.resource.group}`)))];
}
