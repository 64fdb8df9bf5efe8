// The reference scan at 10,000 objects on the sandbox's real apiserver: today's scan (the seven
// pod-bearing kinds, one after the other, each listed whole and then judged, as before the
// whole-cluster scan) against the whole-cluster scan (`findReferences`: those kinds and every other
// served resource through discovery, page by page, a few at a time), and the shape scan alone.
// Run: npm run bench:scan   (ROTOR_BENCH_RUNS=5 per row; ROTOR_BENCH_OBJECTS=10000)
import { performance } from 'node:perf_hooks';
import * as k8s from '@kubernetes/client-node';
import { KubernetesCluster } from '../activities/kubernetes';
import { mapBounded, scanByShape } from '../activities/kubernetes/cluster-scan';
import { keepFromKind, kindApis } from '../activities/kubernetes/kinds';
import { secretIn } from '../activities/kubernetes/object-refs';
import { examine, SCANNED_KINDS } from '../activities/kubernetes/scan';
import { startSandbox } from '../sandbox';

const RUNS = Number(process.env.ROTOR_BENCH_RUNS ?? 5);
const OBJECTS = Number(process.env.ROTOR_BENCH_OBJECTS ?? 10_000);
const PAGE = 200;
const TARGET = 'bench-token-20250101000000';
const NAMESPACES = 20;

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

/** The share of each kind among the objects, and how one is written (`i` its number, `ref` the Secret it names). */
const MIX: { kind: string; share: number; make: (ns: string, i: number, ref: string) => k8s.KubernetesObject }[] = [
  {
    kind: 'ConfigMap',
    share: 0.25,
    make: (ns, i) => ({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: `cm-${i}`, namespace: ns }, data: { 'app.conf': `n=${i}` } }),
  },
  {
    kind: 'ServiceAccount',
    share: 0.15,
    make: (ns, i, ref) => ({ apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: `sa-${i}`, namespace: ns }, imagePullSecrets: [{ name: ref }] }),
  },
  {
    kind: 'Service',
    share: 0.1,
    make: (ns, i) => ({ apiVersion: 'v1', kind: 'Service', metadata: { name: `svc-${i}`, namespace: ns }, spec: { clusterIP: 'None', ports: [{ port: 80 }] } }),
  },
  {
    kind: 'Ingress',
    share: 0.1,
    make: (ns, i, ref) => ({
      apiVersion: 'networking.k8s.io/v1',
      kind: 'Ingress',
      metadata: { name: `ing-${i}`, namespace: ns },
      spec: { tls: [{ secretName: ref }], defaultBackend: { service: { name: `svc-${i}`, port: { number: 80 } } } },
    }),
  },
  {
    kind: 'TriggerAuthentication',
    share: 0.15,
    make: (ns, i, ref) => ({
      apiVersion: 'keda.example.com/v1',
      kind: 'TriggerAuthentication',
      metadata: { name: `ta-${i}`, namespace: ns },
      spec: { secretTargetRef: [{ parameter: 'password', name: ref, key: 'k' }] },
    }),
  },
  {
    kind: 'Deployment',
    share: 0.15,
    make: (ns, i, ref) => ({
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: `dep-${i}`, namespace: ns },
      spec: {
        replicas: 0,
        selector: { matchLabels: { app: `dep-${i}` } },
        template: {
          metadata: { labels: { app: `dep-${i}` } },
          spec: { containers: [{ name: 'app', image: 'x', envFrom: [{ secretRef: { name: ref } }] }] },
        },
      },
    }),
  },
  {
    kind: 'CronJob',
    share: 0.1,
    make: (ns, i, ref) => ({
      apiVersion: 'batch/v1',
      kind: 'CronJob',
      metadata: { name: `cron-${i}`, namespace: ns },
      spec: {
        schedule: '0 3 * * 1',
        suspend: true,
        jobTemplate: {
          spec: {
            template: { spec: { restartPolicy: 'Never', containers: [{ name: 'c', image: 'x' }], volumes: [{ name: 's', secret: { secretName: ref } }] } },
          },
        },
      },
    }),
  },
];

async function installTriggerAuthentications(kc: k8s.KubeConfig): Promise<void> {
  const ext = kc.makeApiClient(k8s.ApiextensionsV1Api);
  await ext.createCustomResourceDefinition({
    body: {
      metadata: { name: 'triggerauthentications.keda.example.com' },
      spec: {
        group: 'keda.example.com',
        scope: 'Namespaced',
        names: { kind: 'TriggerAuthentication', plural: 'triggerauthentications', singular: 'triggerauthentication', listKind: 'TriggerAuthenticationList' },
        versions: [{ name: 'v1', served: true, storage: true, schema: { openAPIV3Schema: { type: 'object', x_kubernetes_preserve_unknown_fields: true } } }],
      },
    },
  });
  const custom = kc.makeApiClient(k8s.CustomObjectsApi);
  for (;;) {
    const ok = await custom.listClusterCustomObject({ group: 'keda.example.com', version: 'v1', plural: 'triggerauthentications' }).then(
      () => true,
      () => false,
    );
    if (ok) return;
    await new Promise((r) => setTimeout(r, 200));
  }
}

async function main(): Promise<void> {
  const log = (line: string) => process.stderr.write(`[bench] ${line}\n`);
  const sandbox = await startSandbox({ readyDelayMs: 300 });
  try {
    const kc = new k8s.KubeConfig();
    kc.loadFromFile(sandbox.plane.kubeconfig);
    const core = kc.makeApiClient(k8s.CoreV1Api);
    const objects = k8s.KubernetesObjectApi.makeApiClient(kc);
    await installTriggerAuthentications(kc);
    const namespaces = Array.from({ length: NAMESPACES }, (_, i) => `bench-${i}`);
    for (const ns of namespaces) await core.createNamespace({ body: { metadata: { name: ns } } });
    const specs: k8s.KubernetesObject[] = [];
    for (const m of MIX) {
      const count = Math.round(OBJECTS * m.share);
      // One object in a hundred names the version the scan looks for; the rest name others.
      for (let i = 0; i < count; i++) specs.push(m.make(namespaces[i % NAMESPACES], i, i % 100 === 0 ? TARGET : `other-${i % 50}-20250101000000`));
    }
    const t0 = performance.now();
    await mapBounded(specs, 16, (spec) => objects.create(spec));
    log(`created ${specs.length} objects in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    await core.createNamespacedSecret({ namespace: namespaces[0], body: { metadata: { name: TARGET }, stringData: { k: 'v' } } });

    const cluster = new KubernetesCluster(kc, PAGE);
    const apis = kindApis(kc, PAGE);
    const match = (name: string) => name === TARGET;
    const rows: { name: string; ms: number[]; found: number }[] = [];
    const time = async (name: string, scan: () => Promise<number>) => {
      const ms: number[] = [];
      let found = 0;
      await scan(); // warm: connections, the apiserver's caches
      for (let run = 0; run < RUNS; run++) {
        const t = performance.now();
        found = await scan();
        ms.push(performance.now() - t);
      }
      rows.push({ name, ms, found });
      log(`${name}: median ${median(ms).toFixed(0)} ms, ${found} holders`);
    };
    await time("today's scan: 7 pod-bearing kinds, one after the other, each listed whole", async () => {
      let found = 0;
      for (const kind of SCANNED_KINDS) {
        const all = await keepFromKind(apis[kind], kind, null, (obj) => obj);
        found += all.filter((obj) => examine(kind, obj, match)).length;
      }
      return found;
    });
    await time('whole-cluster findReferences (workloads + every served resource)', async () => (await cluster.findReferences(namespaces, TARGET)).length);
    await time('the shape scan alone (every served resource but the workloads)', async () => {
      const { matches, unreadable } = await scanByShape(kc, { pageSize: PAGE, wanted: secretIn(namespaces, TARGET) });
      return matches.length + unreadable.length;
    });
    const base = median(rows[0].ms);
    console.log(`| scan at ${specs.length} objects (${NAMESPACES} namespaces, page ${PAGE}, ${RUNS} runs) | median | min | max | holders found | vs today |`);
    console.log('|---|---|---|---|---|---|');
    for (const r of rows) {
      console.log(
        `| ${r.name} | ${median(r.ms).toFixed(0)} ms | ${Math.min(...r.ms).toFixed(0)} ms | ${Math.max(...r.ms).toFixed(0)} ms | ${r.found} | ${(median(r.ms) / base).toFixed(2)}x |`,
      );
    }
  } finally {
    await sandbox.stop();
  }
}

main().then(
  () => process.exit(0),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);
