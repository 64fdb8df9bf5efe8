// Seeded, randomized guarded deletes against the whole-cluster reference scan, on memory and on the
// real apiserver: objects of random kinds (workloads, ServiceAccounts, Ingresses, custom resources
// whose CRDs the test installs, a Gateway in another namespace, cluster-scoped ones) name random
// versions in random fields, beside near-misses that name nothing; then random guarded deletes, with
// holders let go of at random in between. A Secret is deleted exactly when nothing refers to it.
// The seed is printed; replay one with ROTOR_SEED=<seed> (ROTOR_SCENARIOS: scenarios on the apiserver).
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type * as k8s from '@kubernetes/client-node';
import fc from 'fast-check';
import type { MemoryObject } from '../activities/memory';
import { apiReader } from '../activities/kubernetes/cluster-scan';
import { secretRefsByShape } from '../activities/kubernetes/object-refs';
import type { Sandbox } from '../sandbox';
import { ENV, ENV_FROM, KubeWorld, MemoryWorld, VOLUME, startWorldSandbox, type CrdDef, type World } from './helpers/worlds';

const KUBE_RUNS = Number(process.env.ROTOR_SCENARIOS) || 5;
const MEMORY_RUNS = 6 * KUBE_RUNS;
const SEED = process.env.ROTOR_SEED ? Number(process.env.ROTOR_SEED) : Date.now() % 2_147_483_647;
const VERSIONS = 4;

const CRDS: CrdDef[] = [
  { group: 'argo.example.com', kind: 'Workflow', plural: 'workflows', namespaced: true },
  { group: 'keda.example.com', kind: 'TriggerAuthentication', plural: 'triggerauthentications', namespaced: true },
  { group: 'gateway.example.com', kind: 'Gateway', plural: 'gateways', namespaced: true },
  { group: 'eso.example.com', kind: 'ExternalSecret', plural: 'externalsecrets', namespaced: true },
  { group: 'example.com', kind: 'ClusterWidget', plural: 'clusterwidgets', namespaced: false },
];

/** How an object refers; each shape is one the scan must find (or, for near-misses, must not). */
const SHAPES = [
  'deployment',
  'cronjob',
  'sa-pull',
  'sa-secrets',
  'ingress',
  'workflow',
  'trigger',
  'gateway',
  'cluster-any',
  'cluster-pinned',
  'near-longer',
  'near-store',
  'near-annotation',
  'near-kind',
] as const;
type Shape = (typeof SHAPES)[number];

interface Holding {
  shape: Shape;
  /** 0 or 1: the namespace the object lives in (a Gateway: the infra namespace) or points at. */
  at: number;
  version: number;
}

interface Scenario {
  holdings: Holding[];
  /** Guarded deletes of (namespace, version), with `release` holdings let go of before each. */
  steps: { namespace: number; version: number; release: number | null }[];
}

const scenarioArb: fc.Arbitrary<Scenario> = fc.record({
  holdings: fc.array(fc.record({ shape: fc.constantFrom(...SHAPES), at: fc.nat({ max: 1 }), version: fc.nat({ max: VERSIONS - 1 }) }), {
    minLength: 1,
    maxLength: 10,
  }),
  steps: fc.array(
    fc.record({
      namespace: fc.nat({ max: 1 }),
      version: fc.nat({ max: VERSIONS - 1 }),
      release: fc.oneof(fc.constant(null), fc.nat()),
    }),
    { minLength: 2, maxLength: 8 },
  ),
});

let scenarioNo = 0;
const seen: Record<string, number> = { scenarios: 0, deleted: 0, kept: 0, released: 0 };

/** The object a holding stands for, and the (namespace, version) it keeps: `*` for every namespace. */
function build(h: Holding, i: number, ns: string[], infra: string, name: (v: number) => string): { obj: MemoryObject | null; keeps: string | null } {
  const v = name(h.version);
  const here = ns[h.at];
  const meta = { name: `h${i}`, namespace: here };
  switch (h.shape) {
    case 'sa-pull':
      return {
        obj: { apiVersion: 'v1', kind: 'ServiceAccount', metadata: meta, imagePullSecrets: [{ name: 'registry' }, { name: v }] },
        keeps: `${here}/${v}`,
      };
    case 'sa-secrets':
      return { obj: { apiVersion: 'v1', kind: 'ServiceAccount', metadata: meta, secrets: [{ name: v }] }, keeps: `${here}/${v}` };
    case 'ingress':
      return {
        obj: {
          apiVersion: 'networking.k8s.io/v1',
          kind: 'Ingress',
          metadata: meta,
          spec: { tls: [{ hosts: ['a.example.com'], secretName: v }], defaultBackend: backend },
        },
        keeps: `${here}/${v}`,
      };
    case 'workflow':
      return {
        obj: {
          apiVersion: 'argo.example.com/v1',
          kind: 'Workflow',
          metadata: meta,
          spec: { templates: [{ name: 'main', volumes: [{ name: 'creds', secret: { secretName: v } }], container: { image: 'x' } }] },
        },
        keeps: `${here}/${v}`,
      };
    case 'trigger':
      return {
        obj: {
          apiVersion: 'keda.example.com/v1',
          kind: 'TriggerAuthentication',
          metadata: meta,
          spec: { secretTargetRef: [{ parameter: 'p', name: v, key: 'k' }] },
        },
        keeps: `${here}/${v}`,
      };
    case 'gateway':
      // Lives in the infra namespace, names the Secret in ns[at].
      return {
        obj: {
          apiVersion: 'gateway.example.com/v1',
          kind: 'Gateway',
          metadata: { name: `h${i}`, namespace: infra },
          spec: { listeners: [{ name: 'https', tls: { certificateRefs: [{ name: v, namespace: here }] } }] },
        },
        keeps: `${here}/${v}`,
      };
    case 'cluster-any':
      return {
        obj: { apiVersion: 'example.com/v1', kind: 'ClusterWidget', metadata: { name: `${infra}-h${i}` }, spec: { secretRef: { name: v } } },
        keeps: `*/${v}`,
      };
    case 'cluster-pinned':
      return {
        obj: { apiVersion: 'example.com/v1', kind: 'ClusterWidget', metadata: { name: `${infra}-h${i}` }, spec: { secretRef: { name: v, namespace: here } } },
        keeps: `${here}/${v}`,
      };
    case 'near-longer':
      return {
        obj: { apiVersion: 'networking.k8s.io/v1', kind: 'Ingress', metadata: meta, spec: { tls: [{ secretName: `${v}-old` }], defaultBackend: backend } },
        keeps: null,
      };
    case 'near-store':
      return {
        obj: { apiVersion: 'eso.example.com/v1', kind: 'ExternalSecret', metadata: meta, spec: { secretStoreRef: { name: v, kind: 'SecretStore' } } },
        keeps: null,
      };
    case 'near-annotation':
      return { obj: { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { ...meta, annotations: { 'example.com/secretName': v } } }, keeps: null };
    case 'near-kind':
      return {
        obj: { apiVersion: 'keda.example.com/v1', kind: 'TriggerAuthentication', metadata: meta, spec: { secretTargetRef: [{ kind: 'ConfigMap', name: v }] } },
        keeps: null,
      };
    default:
      return { obj: null, keeps: `${here}/${v}` }; // a workload, made by the world
  }
}

const backend = { service: { name: 'web', port: { number: 80 } } };

async function runScenario(w: World, sc: Scenario): Promise<void> {
  const n = ++scenarioNo;
  const ns = [`refs-${w.name.slice(0, 4)}-${n}-a`, `refs-${w.name.slice(0, 4)}-${n}-b`];
  const infra = `refs-${w.name.slice(0, 4)}-${n}-infra`;
  for (const x of [...ns, infra]) await w.namespace(x);
  // Versions of a Secret of this scenario only: cluster-scoped holders of other scenarios name none of them.
  const name = (v: number) => `s${n}-token-2025030100000${v}`;
  for (const x of ns) for (let v = 0; v < VERSIONS; v++) await w.secret(x, name(v));

  const held: { keeps: string | null; obj: MemoryObject | null; released: boolean }[] = [];
  for (const [i, h] of sc.holdings.entries()) {
    const { obj, keeps } = build(h, i, ns, infra, name);
    if (obj) await w.object(obj);
    else if (h.shape === 'deployment') await w.workload('Deployment', ns[h.at], `h${i}`, name(h.version), { replicas: 0, fields: [ENV_FROM] });
    else await w.workload('CronJob', ns[h.at], `h${i}`, name(h.version), { fields: [ENV, VOLUME] });
    held.push({ keeps, obj, released: false });
  }
  const deleted = new Set<string>();
  const keeps = (namespace: string, v: string) => held.some((x) => !x.released && (x.keeps === `${namespace}/${v}` || x.keeps === `*/${v}`));

  for (const step of sc.steps) {
    if (step.release !== null) {
      // Let go of one holder that is an object (workloads stay: their pods would linger).
      const releasable = held.filter((x) => x.obj && !x.released);
      const x = releasable[step.release % Math.max(releasable.length, 1)];
      if (x?.obj) {
        await w.deleteObject(x.obj);
        x.released = true;
        seen.released++;
      }
    }
    const namespace = ns[step.namespace];
    const v = name(step.version);
    if (deleted.has(`${namespace}/${v}`)) continue;
    const referenced = keeps(namespace, v);
    const outcome = await w.cluster.deleteUnreferenced(namespace, v);
    if (referenced) {
      assert.equal(outcome.deleted, false, `${namespace}/${v} is referenced and must not be deleted`);
      assert.ok(outcome.holders.length > 0);
      assert.ok(await w.secretExists(namespace, v), `${namespace}/${v} still exists`);
      seen.kept++;
    } else {
      // Nothing refers to it (near-misses included): the guarded delete goes ahead.
      assert.equal(outcome.deleted, true, `${namespace}/${v} is unreferenced, yet kept by ${JSON.stringify(outcome.holders)}`);
      assert.equal(await w.secretExists(namespace, v), false);
      deleted.add(`${namespace}/${v}`);
      seen.deleted++;
    }
  }
  // Cluster-scoped objects outlive the scenario's namespaces: remove them.
  for (const x of held) if (x.obj && !x.obj.metadata.namespace && !x.released) await w.deleteObject(x.obj);
  seen.scenarios++;
}

let sandbox: Sandbox | undefined;
let kc: k8s.KubeConfig;

before(async () => {
  ({ sandbox, kc } = await startWorldSandbox());
  console.log(`[reference-scan] seed ${SEED}: ${KUBE_RUNS} scenario(s) on the apiserver, ${MEMORY_RUNS} on memory (ROTOR_SEED=${SEED} replays them)`);
});

after(async () => {
  console.log(`[reference-scan] seed ${SEED} covered: ${JSON.stringify(seen)}`);
  await sandbox?.stop();
});

describe('randomized guarded deletes: a Secret goes exactly when nothing anywhere refers to it', () => {
  for (const [label, runs, make] of [
    ['memory', MEMORY_RUNS, () => new MemoryWorld()],
    ['kubernetes (real apiserver)', KUBE_RUNS, () => new KubeWorld(kc, { pageSize: 50 })],
  ] as const) {
    it(`${runs} scenarios on ${label}`, async () => {
      try {
        await fc.assert(
          fc.asyncProperty(scenarioArb, async (sc) => {
            const w = make();
            for (const crd of CRDS) await w.crd(crd);
            await runScenario(w, sc);
          }),
          // No shrinking on a real apiserver: the seed and the counterexample are printed as found.
          { seed: SEED, numRuns: runs, endOnFailure: true },
        );
      } catch (err) {
        const cause = (err as { cause?: unknown }).cause;
        throw new Error(`${(err as Error).message}\nbroken: ${cause instanceof Error ? cause.message : String(cause)}`);
      }
    });
  }
});

describe("the shape rule against the real apiserver's own schemas", () => {
  it('finds every field of every built-in kind whose schema says it names a Secret', async () => {
    const reader = await apiReader(kc);
    const fields = new Map<string, Set<string>>();
    try {
      const { paths } = (await reader.get('/openapi/v3')) as { paths: Record<string, { serverRelativeURL: string }> };
      for (const { serverRelativeURL } of Object.values(paths)) {
        const schemas: Record<string, any> = (await reader.get(serverRelativeURL)).components?.schemas ?? {};
        const refOf = (x: any): string | undefined => (x?.$ref ?? x?.allOf?.[0]?.$ref)?.split('/').pop();
        // An oracle of its own, by the schema's types and words: a string named like a Secret's name, or the
        // name in a type named for Secrets (SecretReference, SecretKeySelector, ...) or under a property that is.
        const walk = (type: string, path: string[], parent: string, seen: Set<string>, out: Set<string>) => {
          for (const [prop, raw] of Object.entries<any>(schemas[type]?.properties ?? {})) {
            if (prop === 'metadata') continue;
            const item = raw.type === 'array' ? raw.items : raw;
            const segment = raw.type === 'array' ? `${prop}[]` : prop;
            const child = refOf(item);
            if (child) {
              if (!seen.has(child)) walk(child, [...path, segment], prop, new Set([...seen, child]), out);
            } else if (item?.type === 'string' && (/secretname$/i.test(prop) || (prop === 'name' && (/\.Secret\w*$/.test(type) || /secret/i.test(parent))))) {
              out.add([...path, segment].join('.'));
            }
          }
        };
        for (const [type, schema] of Object.entries(schemas)) {
          const gvk = schema['x-kubernetes-group-version-kind']?.[0];
          if (!gvk || !schema.properties?.metadata || /List$/.test(gvk.kind)) continue;
          const out = new Set<string>();
          walk(type, [], '', new Set([type]), out);
          if (out.size) fields.set(`${gvk.kind}.${gvk.group || 'core'}`, out);
        }
      }
    } finally {
      reader.close();
    }
    const all = [...fields.entries()].flatMap(([kind, paths]) => [...paths].map((p) => `${kind}: ${p}`));
    // Beyond pod templates: ServiceAccounts, Ingress TLS, PersistentVolumes' secret refs.
    for (const expected of [
      'ServiceAccount.core: secrets[].name',
      'Ingress.networking.k8s.io: spec.tls[].secretName',
      'PersistentVolume.core: spec.csi.nodePublishSecretRef.name',
    ])
      assert.ok(all.includes(expected), `the oracle sees ${expected}: ${all.join(', ')}`);
    const missed: string[] = [];
    for (const [kind, paths] of fields) {
      for (const path of paths) {
        // The object with NAME at exactly that place: each list one entry long.
        const leaf = path
          .split('.')
          .reduceRight<unknown>((inner, seg) => (seg.endsWith('[]') ? { [seg.slice(0, -2)]: [inner] } : { [seg]: inner }), 'the-version');
        const found = secretRefsByShape(leaf).map((r) => r.field.replace(/\[\d+\]/g, '[]'));
        if (!found.includes(path)) missed.push(`${kind}: ${path}`);
      }
    }
    assert.deepEqual(missed, []);
    console.log(`[reference-scan] ${all.length} Secret-naming fields in ${fields.size} built-in kinds (${[...fields.keys()].join(', ')}), all found by shape`);
  });
});
