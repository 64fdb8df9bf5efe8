// Detection latency: how long a bad token runs before rotor rolls it back. On the sandbox (real
// apiserver, simulated pods, the traffic model), a real `rotor worker` rotates the auth-service's
// token to one the auth API refuses (wrong scope). Per run it measures, from the first second in
// which staging's error ratio (from the auth API's own counts) crosses the threshold:
//   - to ROLLING_BACK: when rotor decided (its status event),
//   - to recovered: when every staging pod runs the old token again (the traffic model's pods).
// The goal: rollback starts within one analysis interval plus the provider's own delay (the scrape
// interval for Prometheus, the ingestion delay and rollup for Datadog).
// Run: npm run bench:detection   (ROTOR_BENCH_RUNS=3 per provider; ROTOR_BENCH_PROVIDERS=prometheus,datadog)
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as k8s from '@kubernetes/client-node';
import { stringify } from 'yaml';
import { RotorClient } from '../client/rotor-client';
import { TERMINAL_PHASES, type RotationStatus } from '../contract/api';
import { parsePlan } from '../domain/plan';
import { grantPlans, startSandbox, workerKubeconfig } from '../sandbox';
import { createAuthService, datadogErrorRatio, prometheusErrorRatio } from '../sandbox/auth-service';
import { startRotorWorker } from '../sandbox/rotor-worker';
import { startDevServer } from '../sandbox/temporal';

const RUNS = Number(process.env.ROTOR_BENCH_RUNS ?? 3);
const PROVIDERS = (process.env.ROTOR_BENCH_PROVIDERS ?? 'prometheus,datadog').split(',') as ('prometheus' | 'datadog')[];
const THRESHOLD = 0.05;
const INTERVAL_S = 10;
const SCRAPE_MS = 1000;
const DATADOG_DELAY_MS = 2000;
const REPLICAS = 3;
const OLD = 'auth-token-20250101000000';

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function main(): Promise<void> {
  const log = (line: string) => process.stderr.write(`[bench] ${line}\n`);
  const dir = mkdtempSync(join(tmpdir(), 'rotor-bench-detection-'));
  writeFileSync(join(dir, 'bad.env'), 'API_TOKEN=bench-wrong-scope-token\n');
  const sandbox = await startSandbox({
    readyDelayMs: 300,
    traffic: { prometheus: true, scrapeIntervalMs: SCRAPE_MS, ratePerPod: 10, datadog: { ingestDelayMs: DATADOG_DELAY_MS } },
  });
  const traffic = sandbox.traffic!;
  traffic.api.setToken('bench-old-token', 'valid');
  traffic.api.setToken('bench-wrong-scope-token', 'bad-scope');
  const kc = new k8s.KubeConfig();
  kc.loadFromFile(sandbox.plane.kubeconfig);
  const server = await startDevServer();
  const env = {
    TEMPORAL_ADDRESS: server.address,
    ROTOR_BACKEND: 'kubernetes',
    KUBECONFIG: await workerKubeconfig(sandbox.plane, dir),
    ROTOR_VALUE_DIR: dir,
    ROTOR_PROMETHEUS_URL: traffic.prometheus!.url,
    ...traffic.datadog!.workerEnv,
  };
  const worker = await startRotorWorker(env);
  const client = await RotorClient.connect({ address: server.address });
  const results: Record<string, { toRollback: number[]; toRecovered: number[]; measured: number[] }> = {};
  try {
    for (const provider of PROVIDERS) {
      results[provider] = { toRollback: [], toRecovered: [], measured: [] };
      for (let run = 0; run < RUNS; run++) {
        const ns = { staging: `${provider}-${run}-staging`, production: `${provider}-${run}-production` };
        for (const namespace of Object.values(ns)) await createAuthService(kc, namespace, { secretName: OLD, token: 'bench-old-token', replicas: REPLICAS });
        // Steady traffic on the old token first.
        while (traffic.model.running().filter((p) => p.namespace === ns.staging).length < REPLICAS) await sleep(100);
        await sleep(3000);
        const query = provider === 'prometheus' ? prometheusErrorRatio(ns.staging) : datadogErrorRatio(ns.staging);
        const analysis = { provider, query, threshold: THRESHOLD, interval: `${INTERVAL_S}s`, failureLimit: 1 };
        const document = {
          secret: 'auth-token',
          value: { fromFile: 'bad.env' },
          stages: [
            { name: 'staging', namespace: ns.staging, workloads: ['Deployment/auth'], analysis, soak: '0s' },
            { name: 'production', namespace: ns.production, workloads: ['Deployment/auth'], watch: '0s' },
          ],
          retention: '0s',
        };
        writeFileSync(join(dir, `${ns.staging}.yaml`), stringify(document));
        await grantPlans(sandbox.plane, [parsePlan(document)]);
        const id = await client.start(document, parsePlan(document), 'bench');
        // Recovered: the rollback has started and every staging pod runs the old token again.
        let status: RotationStatus = await client.status(id);
        let recoveredAt = 0;
        for (;;) {
          const latest = await client.status(id);
          // Not live (no worker answered in time): only a summary; the next poll asks again.
          if (latest.live) status = latest;
          const rolling = status.events.some((e) => e.phase === 'ROLLING_BACK');
          const pods = traffic.model.running().filter((p) => p.namespace === ns.staging);
          if (rolling && !recoveredAt && pods.length >= REPLICAS && pods.every((p) => p.version === OLD)) recoveredAt = Date.now();
          if (recoveredAt && TERMINAL_PHASES.includes(status.phase)) break;
          if (TERMINAL_PHASES.includes(status.phase) && !rolling) throw new Error(`${id} ended ${status.phase} without a rollback`);
          await sleep(100);
        }
        const rollbackAt = Date.parse(status.events.find((e) => e.phase === 'ROLLING_BACK')!.at);
        // The first second in which staging's error ratio crossed the threshold, from the auth API's counts.
        const crossed = traffic.api.counters
          .range(Date.now() - 10 * 60_000, Date.now())
          .filter((b) => b.labels.namespace === ns.staging)
          .reduce((bySecond, b) => {
            const s = bySecond.get(b.atMs) ?? { requests: 0, errors: 0 };
            bySecond.set(b.atMs, { requests: s.requests + b.requests, errors: s.errors + b.errors });
            return bySecond;
          }, new Map<number, { requests: number; errors: number }>());
        const crossedAt = [...crossed.entries()].sort(([a], [b]) => a - b).find(([, s]) => s.errors / s.requests > THRESHOLD)?.[0];
        if (crossedAt === undefined) throw new Error(`${id}: the error ratio never crossed ${THRESHOLD}`);
        const check = status.checks.find((c) => c.verdict === 'failed');
        results[provider].toRollback.push(rollbackAt - crossedAt);
        results[provider].toRecovered.push(recoveredAt - crossedAt);
        results[provider].measured.push(check?.lastValue ?? NaN);
        log(
          `${provider} run ${run + 1}: crossed -> ROLLING_BACK ${((rollbackAt - crossedAt) / 1000).toFixed(1)} s, -> all pods on the old token ${((recoveredAt - crossedAt) / 1000).toFixed(1)} s (measured ${check?.lastValue})`,
        );
      }
    }
  } finally {
    await client.close();
    await worker.stop();
    await server.stop();
    await sandbox.stop();
  }
  const s = (ms: number) => `${(ms / 1000).toFixed(1)} s`.padStart(8);
  console.log(
    `| provider (${RUNS} runs each; interval ${INTERVAL_S}s, failureLimit 1, ${REPLICAS} pods) | provider delay | crossed -> ROLLING_BACK (median, min-max) | crossed -> every pod on the old token (median, min-max) |`,
  );
  console.log('|---|---|---|---|');
  for (const [provider, r] of Object.entries(results)) {
    const delay = provider === 'prometheus' ? `scrape ${SCRAPE_MS / 1000} s, rate[10s]` : `ingestion ${DATADOG_DELAY_MS / 1000} s`;
    console.log(
      `| ${provider} | ${delay} | ${s(median(r.toRollback))} (${s(Math.min(...r.toRollback)).trim()}-${s(Math.max(...r.toRollback)).trim()}) | ${s(median(r.toRecovered))} (${s(Math.min(...r.toRecovered)).trim()}-${s(Math.max(...r.toRecovered)).trim()}) |`,
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
