// N rotations of N different secrets started at once, against a lone rotation of the same plan, on
// real parts: a real Temporal server (the dev server, or the one built from go.temporal.io/server on
// PostgreSQL), 1, 2 or 4 real `rotor worker` processes, a real Prometheus answering the analysis, and
// rotor's memory cluster (the in-memory kube-apiserver) served over HTTP so that every worker shares
// one (sandbox/memory-http.ts): the Kubernetes adapter, its rate limit and its scans run as on a
// cluster, without a kubelet. Each row starts its own server, cluster and workers.
//
// Per row: the time to start all N; a lone rotation's time on the same server and workers, then the
// median and the slowest of the N against it; how many did not complete (starved or failed); the
// activities' and workflow tasks' schedule-to-start latency from the SDK's metrics (every worker's
// /metrics, ROTOR_METRICS_ADDR); the workers' CPU seconds and largest peak RSS; the server's CPU
// seconds (its process tree, PostgreSQL included); the requests the workers made of the cluster.
//
// Run: npm run bench:scale
//   ROTOR_BENCH_N=100,1000  ROTOR_BENCH_WORKERS=1,2,4  ROTOR_BENCH_SERVERS=dev,postgres
//   ROTOR_BENCH_WORKER_ENV='ROTOR_WORKER_MAX_ACTIVITIES=500 ...' (extra worker settings, space-separated)
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { Client, Connection } from '@temporalio/client';
import type { MemoryWorld } from '../activities/memory/world';
import { rotationStartOptions } from '../client/rotor-client';
import { parsePlan } from '../domain/plan';
import { SA_PHASE, WORKFLOW_TYPE } from '../contract/api';
import { mapBounded } from '../activities/kubernetes/cluster-scan';
import { samples, scrape } from '../sandbox/exposition';
import { serveMemoryWorld } from '../sandbox/memory-http';
import { cpuSeconds, memoryMiB } from '../sandbox/proc-stats';
import { startPrometheus, type PrometheusServer } from '../sandbox/prometheus';
import { startRotorWorker, type RotorWorker } from '../sandbox/rotor-worker';
import { startDevServer } from '../sandbox/temporal';
import { startPostgresTemporal } from '../sandbox/temporal-postgres';

const list = (raw: string) =>
  raw
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
const SIZES = list(process.env.ROTOR_BENCH_N ?? '100,1000').map(Number);
const WORKERS = list(process.env.ROTOR_BENCH_WORKERS ?? '1,2,4').map(Number);
const SERVERS = list(process.env.ROTOR_BENCH_SERVERS ?? 'dev,postgres');
const EXTRA_ENV = Object.fromEntries(
  list((process.env.ROTOR_BENCH_WORKER_ENV ?? '').replace(/\s+/g, ',')).map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]),
);
const STAMP = '20250101000000';
const log = (line: string) => process.stderr.write(`[scale] ${line}\n`);

/** A Temporal server for one row: where it answers, the processes whose CPU is its, and how to stop it. */
interface TemporalServer {
  address: string;
  pids: number[];
  stop(): Promise<void>;
}

const SERVER_STARTERS: Record<string, () => Promise<TemporalServer>> = {
  dev: async () => {
    const s = await startDevServer({});
    return { address: s.address, pids: [s.pid], stop: () => s.stop() };
  },
  // PostgreSQL's backends are children of its postmaster: its tree is counted with the server's.
  postgres: async () => {
    const s = await startPostgresTemporal({ historyShards: 16 });
    return { address: s.address, pids: [s.serverPid, s.postgresPid], stop: () => s.stop() };
  },
};

/** Where secret `i` lives: its staging and production namespaces, 100 of each (a namespace holds N/100 of them). */
const homes = (i: number) => ({ staging: `staging-${i % 100}`, production: `production-${i % 100}` });

/** `scale-<i>-secrets` in its staging and production namespaces, each used by one Deployment through envFrom. */
function world(names: string[]): MemoryWorld {
  const pairs = names.flatMap((base, i) => Object.values(homes(i)).map((namespace) => ({ base, namespace })));
  return {
    secrets: pairs.map(({ base, namespace }) => ({ namespace, name: `${base}-${STAMP}`, data: { api_token: 'old' }, labels: { 'rotor.dev/secret': base } })),
    workloads: pairs.map(({ base, namespace }) => ({
      kind: 'Deployment' as const,
      namespace,
      name: base.replace(/-secrets$/, ''),
      replicas: 1,
      refs: { 'spec.template.spec.containers[0].envFrom[0].secretRef.name': `${base}-${STAMP}` },
    })),
  };
}

/** Both stages rolling, each verified and the first soaked, on Prometheus every 10 s; no approval; a short retention. */
function planOf(secret: string, i: number) {
  const analysis = { provider: 'prometheus', query: 'vector(0.001)', threshold: 0.01, interval: '10s', failureLimit: 2 };
  const { staging, production } = homes(i);
  const document = {
    secret,
    value: { generate: { keys: ['api_token'], length: 32 } },
    store: 'kubernetes',
    stages: [
      { name: 'staging', namespace: staging, workloads: 'auto', strategy: 'rolling', analysis: { ...analysis, verify: '10s' }, soak: '10s' },
      {
        name: 'production',
        namespace: production,
        workloads: 'auto',
        strategy: 'rolling',
        approval: 'none',
        analysis: { ...analysis, verify: '10s' },
        watch: '10s',
      },
    ],
    retention: '10s',
    cleanupRecheck: '5s',
  };
  return { document, plan: parsePlan(document) };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length === 0 ? NaN : s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

/** A quantile of a Prometheus histogram (cumulative `le` buckets summed over workers), at the bucket's upper bound. */
function histogramQuantile(texts: string[], name: string, q: number): number | null {
  const buckets = new Map<number, number>();
  for (const text of texts) {
    for (const s of samples(text, `${name}_bucket`)) {
      const le = s.labels.le === '+Inf' ? Infinity : Number(s.labels.le);
      buckets.set(le, (buckets.get(le) ?? 0) + s.value);
    }
  }
  const sorted = [...buckets.entries()].sort((a, b) => a[0] - b[0]);
  const total = sorted.at(-1)?.[1] ?? 0;
  if (total === 0) return null;
  return sorted.find(([, count]) => count >= q * total)?.[0] ?? null;
}

interface Row {
  server: string;
  workers: number;
  n: number;
  startAllS: number;
  loneS: number;
  medianX: number;
  slowestX: number;
  unfinished: number;
  actP50: number | null;
  actP99: number | null;
  wftP99: number | null;
  workerCpuS: number;
  workerPeakMiB: number;
  workerRssMiB: number;
  serverCpuS: number;
  requests: number;
  peakRps: number;
}

async function closedDurations(client: Client, prefix: string): Promise<{ ms: Map<string, number>; phases: Map<string, string> }> {
  const first = new Map<string, number>();
  const last = new Map<string, { close: number; phase: string }>();
  for await (const w of client.workflow.list({ query: `WorkflowType = "${WORKFLOW_TYPE}" AND WorkflowId STARTS_WITH "${prefix}"` })) {
    const start = w.startTime.getTime();
    if (!first.has(w.workflowId) || start < first.get(w.workflowId)!) first.set(w.workflowId, start);
    const close = w.closeTime?.getTime();
    if (close && (!last.has(w.workflowId) || close > last.get(w.workflowId)!.close)) {
      last.set(w.workflowId, { close, phase: String(w.typedSearchAttributes.get(SA_PHASE) ?? '?') });
    }
  }
  const ms = new Map<string, number>();
  const phases = new Map<string, string>();
  for (const [id, end] of last) {
    ms.set(id, end.close - first.get(id)!);
    phases.set(id, end.phase);
  }
  return { ms, phases };
}

/** Until every one of the `count` rotations has ended (its last run closed other than by continuing as new), or the deadline. */
async function waitClosed(client: Client, prefix: string, count: number, deadline: number): Promise<void> {
  let lastLog = 0;
  const ended = `WorkflowType = "${WORKFLOW_TYPE}" AND WorkflowId STARTS_WITH "${prefix}" AND ExecutionStatus != "Running" AND ExecutionStatus != "ContinuedAsNew"`;
  for (;;) {
    // Visibility lags behind: count what has ended, never what still runs (a rotation not yet visible is not running there).
    const done = (await client.workflow.count(ended)).count;
    if (done >= count) return;
    if (Date.now() > deadline) {
      log(`${count - done} of ${count} not ended at the deadline`);
      return;
    }
    if (Date.now() - lastLog > 15_000) {
      log(`${done} of ${count} ended`);
      lastLog = Date.now();
    }
    await new Promise((r) => setTimeout(r, 2000));
  }
}

async function row(serverName: string, workerCount: number, n: number, prometheus: PrometheusServer): Promise<Row> {
  const dir = mkdtempSync(join(tmpdir(), 'rotor-scale-'));
  const names = Array.from({ length: n }, (_, i) => `scale-${i}-secrets`);
  // The lone rotation's secret is the world's first (index 0), the N others follow it.
  const cluster = await serveMemoryWorld(world(['lone-secrets', ...names]), dir);
  const server = await SERVER_STARTERS[serverName]();
  const workers: RotorWorker[] = [];
  const connection = await Connection.connect({ address: server.address });
  try {
    const client = new Client({ connection });
    const env = {
      TEMPORAL_ADDRESS: server.address,
      ROTOR_BACKEND: 'kubernetes',
      KUBECONFIG: cluster.kubeconfig,
      ROTOR_PROMETHEUS_URL: prometheus.url,
      ROTOR_METRICS_ADDR: '127.0.0.1:0',
      ROTOR_OPERATOR: 'bench',
      ...EXTRA_ENV,
    };
    for (let i = 0; i < workerCount; i++) workers.push(await startRotorWorker(env, log));
    // The endpoint ends the start's second line, which may come a moment after "worker ready".
    const metricsUrls: string[] = [];
    for (const w of workers) {
      for (let i = 0; i < 100 && !/metrics at (\S+)/.test(w.output()); i++) await new Promise((r) => setTimeout(r, 100));
      const url = /metrics at (\S+)/.exec(w.output())?.[1];
      if (!url) throw new Error(`a worker named no metrics endpoint:\n${w.output()}`);
      metricsUrls.push(url);
    }
    const start = async (secret: string, i: number) => {
      const { document, plan } = planOf(secret, i);
      const options = rotationStartOptions(document, plan, 'bench', 'rotor');
      await client.workflow.start(WORKFLOW_TYPE, options);
      return options.workflowId;
    };
    // The lone rotation, on the same server and workers.
    const loneId = await start('lone-secrets', 0);
    await client.workflow.getHandle(loneId).result();
    const lone = (await closedDurations(client, loneId)).ms.get(loneId)!;
    log(`${serverName}, ${workerCount} worker(s): a lone rotation took ${(lone / 1000).toFixed(1)} s; starting ${n}`);

    const cpu0 = { workers: workers.reduce((s, w) => s + cpuSeconds(w.child.proc.pid!), 0), server: server.pids.reduce((s, p) => s + cpuSeconds(p), 0) };
    const requests0 = cluster.requests();
    const t0 = performance.now();
    const since = Date.now();
    await mapBounded(
      names.map((name, i) => [name, i + 1] as const),
      64,
      ([name, i]) => start(name, i),
    );
    const startAll = performance.now() - t0;
    log(`started ${n} in ${(startAll / 1000).toFixed(1)} s`);
    // Every rotation's id starts so (the lone one's too, which has ended).
    await waitClosed(client, 'rotate-staging-', n + 1, Date.now() + Math.max(20 * lone, 10 * 60_000));
    const texts = await Promise.all(metricsUrls.map((u) => scrape(u).catch(() => '')));
    const workerCpu = workers.reduce((s, w) => s + cpuSeconds(w.child.proc.pid!), 0) - cpu0.workers;
    const serverCpu = server.pids.reduce((s, p) => s + cpuSeconds(p), 0) - cpu0.server;
    const memory = workers.map((w) => memoryMiB(w.child.proc.pid!) ?? { rss: 0, peak: 0 });
    const perSecond = cluster.perSecond(since);
    log(
      `cluster requests by verb and resource: ${cluster
        .byResource()
        .slice(0, 12)
        .map(([k, v]) => `${k} ${v}`)
        .join(', ')}`,
    );
    const { ms, phases } = await closedDurations(client, 'rotate-staging-');
    ms.delete(loneId);
    phases.delete(loneId);
    const done = [...ms.entries()].filter(([id]) => phases.get(id) === 'COMPLETED').map(([, d]) => d);
    const others = [...phases.values()].filter((p) => p !== 'COMPLETED');
    if (others.length) log(`not completed: ${others.length} (${[...new Set(others)].join(', ')})`);
    return {
      server: serverName,
      workers: workerCount,
      n,
      startAllS: startAll / 1000,
      loneS: lone / 1000,
      medianX: median(done) / lone,
      slowestX: Math.max(...done) / lone,
      unfinished: n - done.length,
      actP50: histogramQuantile(texts, 'temporal_activity_schedule_to_start_latency_seconds', 0.5),
      actP99: histogramQuantile(texts, 'temporal_activity_schedule_to_start_latency_seconds', 0.99),
      wftP99: histogramQuantile(texts, 'temporal_workflow_task_schedule_to_start_latency_seconds', 0.99),
      workerCpuS: workerCpu,
      workerPeakMiB: Math.max(...memory.map((m) => m.peak)),
      workerRssMiB: Math.max(...memory.map((m) => m.rss)),
      serverCpuS: serverCpu,
      requests: cluster.requests() - requests0,
      peakRps: Math.max(0, ...perSecond),
    };
  } finally {
    for (const w of workers) await w.stop();
    await connection.close();
    await server.stop();
    await cluster.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

const s = (x: number | null, digits = 1) => (x === null || !Number.isFinite(x) ? '-' : x.toFixed(digits));

async function main(): Promise<void> {
  const prometheus = await startPrometheus({});
  const rows: Row[] = [];
  try {
    for (const server of SERVERS) {
      if (!SERVER_STARTERS[server]) throw new Error(`ROTOR_BENCH_SERVERS names ${server}; use ${Object.keys(SERVER_STARTERS).join(' or ')}`);
      for (const n of SIZES) for (const w of WORKERS) rows.push(await row(server, w, n, prometheus));
    }
  } finally {
    await prometheus.stop();
  }
  console.log(
    '| server | workers | N | start all | lone | median / lone | slowest / lone | not completed | activity schedule-to-start p50 / p99 | workflow task p99 | worker CPU | worker RSS at the end (peak) | server CPU | cluster requests (peak/s) |',
  );
  console.log('|---|---|---|---|---|---|---|---|---|---|---|---|---|---|');
  for (const r of rows) {
    console.log(
      `| ${r.server} | ${r.workers} | ${r.n} | ${s(r.startAllS)} s | ${s(r.loneS)} s | ${s(r.medianX, 2)}x | ${s(r.slowestX, 2)}x | ${r.unfinished} | ${s(r.actP50, 3)} / ${s(r.actP99, 3)} s | ${s(r.wftP99, 3)} s | ${s(r.workerCpuS, 0)} s | ${s(r.workerRssMiB, 0)} MiB (${s(r.workerPeakMiB, 0)}) | ${s(r.serverCpuS, 0)} s | ${r.requests} (${r.peakRps}) |`,
    );
  }
}

main().then(
  () => process.exit(0),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);
