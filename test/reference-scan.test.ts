// Seeded, randomized guarded deletes against the whole-cluster reference scan, on memory and on the
// real apiserver: objects of random kinds (workloads, ServiceAccounts, Ingresses, custom resources
// whose CRDs the test installs, a Gateway in another namespace, cluster-scoped ones) name random
// versions in random fields, beside near-misses that name nothing; then random guarded deletes, with
// holders let go of at random in between. A Secret is deleted exactly when nothing refers to it; the
// same on the apiserver through the fault proxy, its lists answered at random 429 (with Retry-After)
// and 410 (an expired continue token). Then the scan under faults, request by request at the proxy:
// a 429 makes the whole scan wait and the throttled page is asked again once; a 410 restarts that
// kind alone, from its first page, with no duplicates; and the worker's rate limit spreads a burst.
// The seed is printed; replay one with ROTOR_SEED=<seed> (ROTOR_SCENARIOS: scenarios on the apiserver).
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as k8s from '@kubernetes/client-node';
import fc from 'fast-check';
import { KubernetesCluster } from '../activities/kubernetes';
import { KubeRateLimiter } from '../activities/kubernetes/rate-limit';
import { startFaultProxy, throughProxy, type FaultProxy } from '../sandbox/fault-proxy';
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
/** The fault proxy in front of the sandbox's apiserver, as its admin, and a kubeconfig pointed at it. */
let proxy: FaultProxy | undefined;
let proxied: k8s.KubeConfig;
let dir: string;

/** Faults on the scan's lists only (never the world's own setup): how often and how many. */
interface ListFaults {
  throttleEvery: number;
  throttles: number;
  expireEvery: number;
  expires: number;
}
const listFaultsArb: fc.Arbitrary<ListFaults> = fc.record({
  throttleEvery: fc.integer({ min: 1, max: 9 }),
  // Fewer than REQUEST_TRIES in all: no request is throttled to the end. Fewer than four expired: no kind restarts past its bound.
  throttles: fc.nat({ max: 4 }),
  expireEvery: fc.integer({ min: 1, max: 5 }),
  expires: fc.nat({ max: 3 }),
});
const LIST = /[?&]limit=/;
const CONTINUE = /[?&]continue=/;

before(async () => {
  ({ sandbox, kc } = await startWorldSandbox());
  dir = mkdtempSync(join(tmpdir(), 'rotor-reference-scan-'));
  const plane = sandbox.plane;
  proxy = await startFaultProxy({
    server: plane.server,
    caFile: plane.caFile,
    clientCert: { certFile: join(plane.dir, 'admin.crt'), keyFile: join(plane.dir, 'admin.key') },
  });
  proxied = new k8s.KubeConfig();
  proxied.loadFromFile(throughProxy(plane.kubeconfig, proxy.url, join(dir, 'proxied.kubeconfig')));
  console.log(`[reference-scan] seed ${SEED}: ${KUBE_RUNS} scenario(s) on the apiserver, ${MEMORY_RUNS} on memory (ROTOR_SEED=${SEED} replays them)`);
});

after(async () => {
  console.log(`[reference-scan] seed ${SEED} covered: ${JSON.stringify(seen)}`);
  await proxy?.stop();
  await sandbox?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
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

describe('randomized guarded deletes through 429s and expired continue tokens (the fault proxy)', () => {
  it(`${KUBE_RUNS} scenarios on the real apiserver, its lists throttled and their pages expired at random`, async () => {
    const injected: Record<string, number> = {};
    try {
      await fc.assert(
        fc.asyncProperty(scenarioArb, listFaultsArb, async (sc, faults) => {
          // Small pages (every list continues) and the worker's limiter, quick enough for a test.
          const w = new KubeWorld(kc, { pageSize: 4, through: proxied, limiter: new KubeRateLimiter({ qps: 1000, burst: 200 }) });
          for (const crd of CRDS) await w.crd(crd);
          proxy!.counts.injected = {};
          proxy!.rules = [
            { method: 'GET', path: CONTINUE, fault: { kind: 'expired' }, every: faults.expireEvery, times: faults.expires },
            { method: 'GET', path: LIST, fault: { kind: 'status', code: 429, retryAfterSeconds: 0 }, every: faults.throttleEvery, times: faults.throttles },
          ];
          try {
            await runScenario(w, sc);
          } finally {
            proxy!.rules = [];
            for (const [k, n] of Object.entries(proxy!.counts.injected)) injected[k] = (injected[k] ?? 0) + n;
          }
        }),
        { seed: SEED, numRuns: KUBE_RUNS, endOnFailure: true },
      );
    } catch (err) {
      const cause = (err as { cause?: unknown }).cause;
      throw new Error(`${(err as Error).message}\nbroken: ${cause instanceof Error ? cause.message : String(cause)}`);
    }
    console.log(`[reference-scan] faults injected in the randomized scenarios: ${JSON.stringify(injected)}`);
  });
});

describe('the scan under faults, request by request at the apiserver (the fault proxy)', () => {
  const ns = 'scan-faults';
  const v = 'scan-faults-token-20250301000000';
  /** What holds `v` in `ns`, as holders say it: built here, so known. */
  const expected = [
    'CronJob/scan-faults/cron-0',
    'Deployment/scan-faults/dep-0',
    'Deployment/scan-faults/dep-1',
    'Ingress/scan-faults/ing-0',
    'ServiceAccount/scan-faults/sa-0',
    'ServiceAccount/scan-faults/sa-1',
  ];
  const keyOf = (h: { kind: string; namespace: string; name: string }) => `${h.kind}/${h.namespace}/${h.name}`;
  let world: KubeWorld;

  before(async () => {
    world = new KubeWorld(kc);
    await world.namespace(ns);
    await world.secret(ns, v);
    await world.workload('Deployment', ns, 'dep-0', v, { replicas: 0, fields: [ENV_FROM] });
    await world.workload('Deployment', ns, 'dep-1', v, { replicas: 0, fields: [VOLUME] });
    await world.workload('CronJob', ns, 'cron-0', v, { fields: [ENV] });
    for (const i of [0, 1])
      await world.object({ apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: `sa-${i}`, namespace: ns }, imagePullSecrets: [{ name: v }] });
    await world.object({
      apiVersion: 'networking.k8s.io/v1',
      kind: 'Ingress',
      metadata: { name: 'ing-0', namespace: ns },
      spec: { tls: [{ secretName: v }], defaultBackend: backend },
    });
    // Near-misses: none of them holds v.
    await world.workload('Deployment', ns, 'near-0', `${v}-old`, { replicas: 0, fields: [ENV_FROM] });
    for (let i = 0; i < 6; i++)
      await world.object({
        apiVersion: 'v1',
        kind: 'ServiceAccount',
        metadata: { name: `near-sa-${i}`, namespace: ns, annotations: { 'example.com/secretName': v } },
      });
  });

  /** findReferences through the proxy with small pages: the holders' keys, and every request the proxy saw. */
  async function scan(limiter: KubeRateLimiter | undefined) {
    proxy!.log = [];
    proxy!.counts.injected = {};
    try {
      const cluster = new KubernetesCluster(proxied, 2, {}, undefined, { limiter, scanConcurrency: 4 });
      const holders = await cluster.findReferences([ns], v);
      return { keys: holders.map(keyOf).sort(), log: proxy!.log, injected: { ...proxy!.counts.injected } };
    } finally {
      proxy!.log = null;
      proxy!.rules = [];
    }
  }
  /** How many times each list page (path and query) was asked. */
  const asked = (log: { method: string; url: string }[]) => {
    const n = new Map<string, number>();
    for (const r of log) if (r.method === 'GET' && LIST.test(r.url)) n.set(r.url, (n.get(r.url) ?? 0) + 1);
    return n;
  };

  it('waits out a 429 for its Retry-After, asks that page again once and nothing else more, and finds exactly the holders', async () => {
    const limiter = new KubeRateLimiter({ qps: 1000, burst: 100 });
    proxy!.rules = [{ method: 'GET', path: LIST, fault: { kind: 'status', code: 429, retryAfterSeconds: 1 }, every: 7, times: 3 }];
    const { keys, log, injected } = await scan(limiter);
    assert.deepEqual(keys, expected);
    assert.deepEqual(injected, { 429: 3 });
    const throttled = log.filter((r) => r.injected === '429').map((r) => r.url);
    const counts = asked(log);
    for (const [url, n] of counts) assert.equal(n, throttled.includes(url) ? 2 : 1, `${url} asked ${n} time(s)`);
    assert.ok(limiter.counts.closed >= 1, "a 429 closed the worker's gate: every list waited, not only the throttled one");
  });

  it('restarts a kind whose continue token expired from its first page, that kind alone, with no duplicates', async () => {
    // A pod-bearing kind (Deployments) and a resource found by discovery (ServiceAccounts), both across namespaces.
    const deployments = /^\/apis\/apps\/v1\/deployments\?/;
    const serviceAccounts = /^\/api\/v1\/serviceaccounts\?/;
    proxy!.rules = [
      { method: 'GET', path: new RegExp(`${deployments.source}.*continue=`), fault: { kind: 'expired' }, times: 1 },
      { method: 'GET', path: new RegExp(`${serviceAccounts.source}.*continue=`), fault: { kind: 'expired' }, times: 1 },
    ];
    const { keys, log, injected } = await scan(new KubeRateLimiter({ qps: 1000, burst: 100 }));
    assert.deepEqual(keys, expected, 'exactly the holders, each once');
    assert.deepEqual(injected, { expired: 2 });
    const firstPages = [...asked(log)].filter(([url]) => !CONTINUE.test(url));
    for (const [url, n] of firstPages) {
      const restarted = deployments.test(url) || serviceAccounts.test(url);
      assert.equal(n, restarted ? 2 : 1, `the first page of ${url}: asked ${n} time(s)`);
    }
    assert.ok(firstPages.length > 10, `every served resource was listed: ${firstPages.length}`);
  });

  it("restarts a namespace's listing through the typed clients too (what a rotation's planning reads)", async () => {
    const namespaced = new RegExp(`^/apis/apps/v1/namespaces/${ns}/deployments\\?`);
    proxy!.rules = [{ method: 'GET', path: new RegExp(`${namespaced.source}.*continue=`), fault: { kind: 'expired' }, times: 1 }];
    proxy!.log = [];
    proxy!.counts.injected = {};
    try {
      const use = await new KubernetesCluster(proxied, 2).findCurrentUse(ns, 'scan-faults-token');
      assert.equal(use.version, v);
      assert.deepEqual(use.workloads.map((w) => `${w.kind}/${w.name}`).sort(), ['CronJob/cron-0', 'Deployment/dep-0', 'Deployment/dep-1']);
      assert.deepEqual(proxy!.counts.injected, { expired: 1 });
      const first = proxy!.log.filter((r) => namespaced.test(r.url) && !CONTINUE.test(r.url));
      assert.equal(first.length, 2, 'the first page asked again once');
    } finally {
      proxy!.log = null;
      proxy!.rules = [];
    }
  });

  it('spreads a burst of requests at the rate limit: the apiserver sees them no faster than QPS after the burst', async () => {
    const limits = { qps: 20, burst: 5 };
    const limiter = new KubeRateLimiter(limits);
    const cluster = new KubernetesCluster(proxied, 2, {}, undefined, { limiter });
    proxy!.log = [];
    const t0 = performance.now();
    try {
      const reads = await Promise.all(Array.from({ length: 25 }, (_, i) => cluster.readWorkload('Deployment', ns, i < 2 ? `dep-${i}` : `absent-${i}`)));
      assert.deepEqual(
        reads.map((r) => r?.metadata?.name ?? null),
        ['dep-0', 'dep-1', ...Array.from({ length: 23 }, () => null)],
      );
      const arrivals = proxy!.log.filter((r) => r.url.includes(`/namespaces/${ns}/deployments/`)).map((r) => r.at - t0);
      assert.equal(arrivals.length, 25, 'each read reached the apiserver once');
      arrivals.sort((a, b) => a - b);
      // Request k (from 0) may go once the burst is spent and k + 1 - burst tokens have come in: a lower bound
      // a slow machine only makes later. 2 ms of slack for the timers' rounding.
      for (let k = limits.burst; k < arrivals.length; k++) {
        const earliest = ((k + 1 - limits.burst) * 1000) / limits.qps - 2;
        assert.ok(arrivals[k] >= earliest, `request ${k} reached the apiserver at ${arrivals[k].toFixed(1)} ms, before ${earliest} ms`);
      }
      assert.equal(limiter.counts.taken, 25);
    } finally {
      proxy!.log = null;
    }
  });
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
