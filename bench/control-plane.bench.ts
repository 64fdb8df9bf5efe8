// Start and stop times of the sandbox control plane (etcd, kube-apiserver, controller-manager, pod
// simulator), and the time until a 3-replica Deployment is rolled out on it.
// Run: npm run bench:sandbox   (ROTOR_BENCH_RUNS=5)
import { performance } from 'node:perf_hooks';
import * as k8s from '@kubernetes/client-node';
import { KubernetesCluster } from '../activities/kubernetes';
import { startSandbox } from '../sandbox';

const RUNS = Number(process.env.ROTOR_BENCH_RUNS ?? 5);

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

async function main(): Promise<void> {
  const starts: number[] = [];
  const rollouts: number[] = [];
  const stops: number[] = [];
  for (let run = 0; run < RUNS; run++) {
    const t0 = performance.now();
    const sandbox = await startSandbox({ readyDelayMs: 300 });
    starts.push(performance.now() - t0);
    const kc = new k8s.KubeConfig();
    kc.loadFromFile(sandbox.plane.kubeconfig);
    const core = kc.makeApiClient(k8s.CoreV1Api);
    const apps = kc.makeApiClient(k8s.AppsV1Api);
    const t1 = performance.now();
    while (!(await core.listNamespacedServiceAccount({ namespace: 'default' })).items.length) await new Promise((r) => setTimeout(r, 50));
    await apps.createNamespacedDeployment({
      namespace: 'default',
      body: {
        metadata: { name: 'web' },
        spec: {
          replicas: 3,
          selector: { matchLabels: { app: 'web' } },
          template: { metadata: { labels: { app: 'web' } }, spec: { containers: [{ name: 'c', image: 'x' }] } },
        },
      },
    });
    const cluster = new KubernetesCluster(kc);
    while (!(await cluster.rolloutState('default', [{ kind: 'Deployment', namespace: 'default', name: 'web', fields: [] }])).ready)
      await new Promise((r) => setTimeout(r, 50));
    rollouts.push(performance.now() - t1);
    const t2 = performance.now();
    await sandbox.stop();
    stops.push(performance.now() - t2);
  }
  const row = (name: string, xs: number[]) =>
    `| ${name.padEnd(56)} | ${(median(xs) / 1000).toFixed(2).padStart(6)} s | ${(Math.min(...xs) / 1000).toFixed(2).padStart(6)} s | ${(Math.max(...xs) / 1000).toFixed(2).padStart(6)} s |`;
  console.log(`| ${`sandbox (${RUNS} runs)`.padEnd(56)} | median   | min      | max      |`);
  console.log(`|${'-'.repeat(58)}|----------|----------|----------|`);
  console.log(row('start: certificates, etcd, apiserver ready, KCM, nodes', starts));
  console.log(row('3-replica Deployment created -> rolled out (300 ms pods)', rollouts));
  console.log(row('stop', stops));
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
