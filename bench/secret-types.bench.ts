// What keeping the Secret type costs: reading a version's type as kubectl's Table (metadata and type,
// PLANNING, once per namespace) beside reading the whole Secret, on the sandbox's real apiserver; and
// judging a value for its type (CREATING, once per rotation), TLS with its X.509 parse and key check.
// Run: npx tsc -p tsconfig.json && node dist/bench/secret-types.bench.js   (ROTOR_BENCH_RUNS=200)
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import * as k8s from '@kubernetes/client-node';
import { KubernetesCluster } from '../activities/kubernetes';
import { checkSecretData } from '../activities/secret-types';
import { startSandbox } from '../sandbox';

const RUNS = Number(process.env.ROTOR_BENCH_RUNS ?? 200);

function quantile(xs: number[], q: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))];
}

async function timed(fn: () => Promise<unknown> | unknown): Promise<number[]> {
  for (let i = 0; i < 10; i++) await fn(); // warm up
  const out: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const t0 = performance.now();
    await fn();
    out.push(performance.now() - t0);
  }
  return out;
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'rotor-bench-types-'));
  execFileSync('openssl', [
    'req',
    '-x509',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-keyout',
    join(dir, 'k'),
    '-out',
    join(dir, 'c'),
    '-days',
    '1',
    '-subj',
    '/CN=bench',
  ]);
  const tls = { 'tls.crt': readFileSync(join(dir, 'c'), 'utf8'), 'tls.key': readFileSync(join(dir, 'k'), 'utf8') };
  const docker = { '.dockerconfigjson': JSON.stringify({ auths: { 'registry.example.test': { auth: Buffer.from('robot:bench').toString('base64') } } }) };
  // A large Secret: reading it whole moves its data; its type alone does not.
  const large = { blob: 'x'.repeat(512 * 1024) };

  const sandbox = await startSandbox({ readyDelayMs: 300 });
  try {
    const kc = new k8s.KubeConfig();
    kc.loadFromFile(sandbox.plane.kubeconfig);
    const core = kc.makeApiClient(k8s.CoreV1Api);
    await core.createNamespacedSecret({ namespace: 'default', body: { metadata: { name: 'bench-tls' }, type: 'kubernetes.io/tls', stringData: tls } });
    await core.createNamespacedSecret({ namespace: 'default', body: { metadata: { name: 'bench-large' }, stringData: large } });
    const cluster = new KubernetesCluster(kc);
    const rows: [string, number[]][] = [
      ['type of a TLS Secret (Table: metadata and type)', await timed(() => cluster.readVersionType('default', 'bench-tls'))],
      ['whole TLS Secret (GET)', await timed(() => cluster.readVersion('default', 'bench-tls'))],
      ['type of a 512 KiB Secret (Table)', await timed(() => cluster.readVersionType('default', 'bench-large'))],
      ['whole 512 KiB Secret (GET)', await timed(() => cluster.readVersion('default', 'bench-large'))],
      ['judge a TLS value (X.509 parse, RSA key check)', await timed(() => checkSecretData('kubernetes.io/tls', tls))],
      ['judge a docker config (JSON, auths)', await timed(() => checkSecretData('kubernetes.io/dockerconfigjson', docker))],
    ];
    console.log(`| ${`secret types (${RUNS} runs each)`.padEnd(50)} | median    | p95       |`);
    console.log(`|${'-'.repeat(52)}|-----------|-----------|`);
    for (const [name, xs] of rows) {
      console.log(`| ${name.padEnd(50)} | ${quantile(xs, 0.5).toFixed(3).padStart(6)} ms | ${quantile(xs, 0.95).toFixed(3).padStart(6)} ms |`);
    }
  } finally {
    await sandbox.stop();
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
