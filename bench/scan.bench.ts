// The reference scan at 1k, 10k and 100k workloads over 100 namespaces on the sandbox's real
// apiserver, side by side with what an operator would run instead: rotor's `findReferences` (every
// pod-bearing kind and every other served resource, page by page, within one bound, through the
// worker's rate limiter), `kubectl get <kinds> -A -o json | jq <exact filter>` and `kubectl get <kinds>
// -A -o yaml | grep -c <name>`. The cluster holds holders (workloads naming the version, in the
// namespaces where it lives) and decoys an exact scan must not count and grep does: the same name in
// another namespace, the name with a suffix or a prefix, the name in an annotation and in a ConfigMap.
// Each is measured in processes of its own: wall time, peak RSS (rotor's scan in a child process whose
// maxRSS is its own; kubectl's and jq's by /usr/bin/time -f %M), holders found, decoys counted.
// Run: npm run bench:scan   (ROTOR_BENCH_SIZES=1000,10000,100000; the worker's ROTOR_KUBE_QPS,
// ROTOR_KUBE_BURST, ROTOR_KUBE_SCAN_CONCURRENCY and ROTOR_KUBE_PAGE_SIZE apply to rotor's scan; ROTOR_BENCH_TOOLS=rotor,jq,grep).
// jq: /usr/bin/jq (apt-get install jq).
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import https from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import * as k8s from '@kubernetes/client-node';
import { KubernetesCluster } from '../activities/kubernetes';
import { mapBounded } from '../activities/kubernetes/cluster-scan';
import { KubeRateLimiter } from '../activities/kubernetes/rate-limit';
import { startControlPlane } from '../sandbox/control-plane';
import { workerConfig } from '../worker/config';

const SIZES = (process.env.ROTOR_BENCH_SIZES ?? '1000,10000,100000').split(',').map(Number);
/** Which scans to run: kubectl's take minutes and gigabytes at 100k. */
const TOOLS = (process.env.ROTOR_BENCH_TOOLS ?? 'rotor,jq,grep').split(',');
const NAMESPACES = 100;
/** The version lives in the first half of the namespaces: a reference from the other half is a decoy. */
const LIVES_IN = 50;
const TARGET = 'bench-token-20250101000000';
const KINDS = 'deployments,statefulsets,cronjobs,configmaps';
const JQ = '/usr/bin/jq';
const CREATE_CONCURRENCY = 64;

const ns = (i: number) => `bench-${i % NAMESPACES}`;
/** Which objects are special (0: names the version; 1, 2, 3: decoys), by a multiplicative hash: about one in 97 each, in every namespace. */
const special = (i: number) => (Math.imul(i + 1, 2654435761) >>> 0) % 97;

/** The workload `i`: its kind, and what its pod template names. */
function workload(i: number): { path: string; body: object; key: string } {
  const namespace = ns(i);
  const s = special(i);
  const ref = s === 0 ? TARGET : s === 1 ? `${TARGET}-old` : s === 2 ? `old-${TARGET}` : `other-${i % 50}-20250101000000`;
  const annotations = s === 3 ? { 'example.com/secret': TARGET } : undefined;
  const field = Math.floor(i / 7) % 3;
  const container = {
    name: 'app',
    image: 'registry.example/app:1',
    ...(field === 0 ? { envFrom: [{ secretRef: { name: ref } }] } : {}),
    ...(field === 1 ? { env: [{ name: 'TOKEN', valueFrom: { secretKeyRef: { name: ref, key: 'token' } } }] } : {}),
  };
  const podSpec = { containers: [container], ...(field === 2 ? { volumes: [{ name: 'creds', secret: { secretName: ref } }] } : {}) };
  const name = `w-${i}`;
  const metadata = { name, namespace, ...(annotations ? { annotations } : {}) };
  const labels = { app: name };
  // Four in ten Deployments (paused: the controller makes no ReplicaSet, so the cluster holds exactly
  // what the bench made), three StatefulSets at zero replicas, three suspended CronJobs.
  const template = { metadata: { labels }, spec: podSpec };
  const [apiVersion, kind, plural, spec] =
    i % 10 < 4
      ? ['apps/v1', 'Deployment', 'deployments', { paused: true, replicas: 0, selector: { matchLabels: labels }, template }]
      : i % 10 < 7
        ? ['apps/v1', 'StatefulSet', 'statefulsets', { replicas: 0, serviceName: name, selector: { matchLabels: labels }, template }]
        : [
            'batch/v1',
            'CronJob',
            'cronjobs',
            { schedule: '0 3 * * 1', suspend: true, jobTemplate: { spec: { template: { spec: { ...podSpec, restartPolicy: 'Never' } } } } },
          ];
  return { path: `/apis/${apiVersion}/namespaces/${namespace}/${plural}`, body: { apiVersion, kind, metadata, spec }, key: `${kind}/${namespace}/${name}` };
}

/** A ConfigMap for every ten workloads; one in 97 holds the version's name as a value. */
function configMap(j: number): { path: string; body: object } {
  const namespace = ns(j);
  return {
    path: `/api/v1/namespaces/${namespace}/configmaps`,
    body: {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: `cm-${j}`, namespace },
      data: { 'app.conf': special(j) === 0 ? `secret=${TARGET}` : `n=${j}` },
    },
  };
}

const isHolder = (i: number) => special(i) === 0 && i % NAMESPACES < LIVES_IN;

/** What grep counts at `size`: every line naming TARGET, holders included. */
function grepLines(size: number): number {
  let n = 0;
  for (let i = 0; i < size; i++) if (special(i) <= 3) n++;
  for (let j = 0; j < size / 10; j++) if (special(j) === 0) n++;
  return n;
}

/** POSTs with the admin's client certificate over kept-alive connections; 409 (made by an earlier run) is fine. */
function poster(kubeconfig: string): { post: (path: string, body: object) => Promise<void>; close: () => void } {
  const kc = new k8s.KubeConfig();
  kc.loadFromFile(kubeconfig);
  const user = kc.getCurrentUser()!;
  const cluster = kc.getCurrentCluster()!;
  const server = new URL(cluster.server);
  const agent = new https.Agent({
    keepAlive: true,
    maxSockets: CREATE_CONCURRENCY,
    ca: readFileSync(cluster.caFile!),
    cert: readFileSync(user.certFile!),
    key: readFileSync(user.keyFile!),
  });
  const post = (path: string, body: object) =>
    new Promise<void>((resolve, reject) => {
      const data = JSON.stringify(body);
      const req = https.request(
        {
          agent,
          hostname: server.hostname,
          port: server.port,
          path,
          method: 'POST',
          headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(data) },
        },
        (res) => {
          let text = '';
          res.on('data', (c) => (text += c));
          res.on('end', () =>
            res.statusCode === 201 || res.statusCode === 409 ? resolve() : reject(new Error(`POST ${path}: HTTP ${res.statusCode} ${text.slice(0, 300)}`)),
          );
        },
      );
      req.on('error', reject);
      req.end(data);
    });
  return { post, close: () => agent.destroy() };
}

interface Measured {
  wallMs: number;
  /** Peak RSS in MB, per process. */
  rss: Record<string, number>;
  found: string[];
}

/** Runs `command` in bash; each `%TIME(name)` becomes `/usr/bin/time -f %M -o <file>`, read back as that process's peak RSS. */
async function shell(command: string): Promise<{ wallMs: number; stdout: string; rss: Record<string, number> }> {
  const dir = mkdtempSync(join(tmpdir(), 'rotor-bench-scan-'));
  const names: string[] = [];
  const script = command.replace(/%TIME\((\w+)\)/g, (_, name: string) => {
    names.push(name);
    return `/usr/bin/time -f %M -o ${join(dir, name)}`;
  });
  const t = performance.now();
  const { code, stdout, stderr } = await new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
    const child = spawn('bash', ['-o', 'pipefail', '-c', script], { stdio: ['ignore', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (c: Buffer) => out.push(c));
    child.stderr.on('data', (c: Buffer) => err.push(c));
    child.on('close', (c) => resolve({ code: c, stdout: Buffer.concat(out).toString(), stderr: Buffer.concat(err).toString() }));
  });
  const wallMs = performance.now() - t;
  if (code !== 0) throw new Error(`${command} exited ${code}: ${stderr.slice(0, 500)}`);
  const rss = Object.fromEntries(names.map((n) => [n, Number(readFileSync(join(dir, n), 'utf8').trim().split('\n').pop()) / 1024]));
  rmSync(dir, { recursive: true, force: true });
  return { wallMs, stdout, rss };
}

/** rotor's scan, in a child process: the worker's settings from the environment, as `rotor worker` reads them. */
async function rotorScan(kubeconfig: string): Promise<Measured> {
  const t = performance.now();
  const { stdout, code, stderr } = await new Promise<{ stdout: string; code: number | null; stderr: string }>((resolve) => {
    const child = spawn(process.execPath, [__filename], { env: { ...process.env, ROTOR_BENCH_CHILD: kubeconfig }, stdio: ['ignore', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (c: Buffer) => out.push(c));
    child.stderr.on('data', (c: Buffer) => err.push(c));
    child.on('close', (c) => resolve({ code: c, stdout: Buffer.concat(out).toString(), stderr: Buffer.concat(err).toString() }));
  });
  if (code !== 0) throw new Error(`rotor's scan exited ${code}: ${stderr.slice(0, 1000)}`);
  const result = JSON.parse(stdout) as { scanMs: number; cpuMs: number; maxRssKb: number; found: string[]; requests: number };
  process.stderr.write(
    `[bench] rotor: scan ${result.scanMs.toFixed(0)} ms (process ${(performance.now() - t).toFixed(0)} ms), its CPU ${result.cpuMs.toFixed(0)} ms, ${result.requests} requests\n`,
  );
  return { wallMs: result.scanMs, rss: { rotor: result.maxRssKb / 1024 }, found: result.found };
}

/** The child: one findReferences over the namespaces where the version lives; what it found, its time and its peak RSS. */
async function child(kubeconfig: string): Promise<void> {
  const config = workerConfig({ ...process.env, TEMPORAL_ADDRESS: process.env.TEMPORAL_ADDRESS ?? '127.0.0.1:7233' });
  const kc = new k8s.KubeConfig();
  kc.loadFromFile(kubeconfig);
  const limiter = new KubeRateLimiter(config.kubeRateLimits);
  const cluster = new KubernetesCluster(kc, config.kubePageSize, {}, undefined, { limiter, scanConcurrency: config.kubeScanConcurrency });
  const namespaces = Array.from({ length: LIVES_IN }, (_, i) => `bench-${i}`);
  const t = performance.now();
  const before = process.resourceUsage();
  const startCpuMs = (before.userCPUTime + before.systemCPUTime) / 1000;
  const holders = await cluster.findReferences(namespaces, TARGET);
  const scanMs = performance.now() - t;
  const found = holders.map((h) => `${h.kind}/${h.namespace}/${h.name}`);
  const usage = process.resourceUsage();
  const cpuMs = (usage.userCPUTime + usage.systemCPUTime) / 1000 - startCpuMs;
  process.stdout.write(JSON.stringify({ scanMs, cpuMs, maxRssKb: usage.maxRSS, found, requests: limiter.counts.taken }));
}

/** kubectl's JSON through jq, exactly: a pod template's env, envFrom or volume naming the version, in a namespace where it lives. */
const JQ_FILTER = `.items[]
  | select(.metadata.namespace | test("^bench-([0-9]|[1-4][0-9])$"))
  | select([(.spec.template.spec // .spec.jobTemplate.spec.template.spec // empty)
      | ((.containers[]? | (.envFrom[]?.secretRef.name, .env[]?.valueFrom.secretKeyRef.name)), .volumes[]?.secret.secretName)]
      | any(.[]; . == $T))
  | "\\(.kind)/\\(.metadata.namespace)/\\(.metadata.name)"`;

async function main(): Promise<void> {
  const log = (line: string) => process.stderr.write(`[bench] ${line}\n`);
  if (!existsSync(JQ)) throw new Error(`${JQ} is missing: install jq (apt-get install jq) to compare with kubectl | jq`);
  const plane = await startControlPlane({ log });
  try {
    const kubectl = plane.binaries.kubectl;
    const { post, close } = poster(plane.kubeconfig);
    const settings = workerConfig({ ...process.env, TEMPORAL_ADDRESS: '127.0.0.1:7233' });
    log(
      `rotor: page ${settings.kubePageSize}, ${settings.kubeScanConcurrency} lists at once, ${settings.kubeRateLimits.qps} QPS, burst ${settings.kubeRateLimits.burst}`,
    );
    await mapBounded(
      Array.from({ length: NAMESPACES }, (_, i) => i),
      16,
      (i) => post('/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: `bench-${i}` } }),
    );
    let made = 0;
    const tables: string[] = [];
    const rssBySize: Record<number, number> = {};
    for (const size of [...SIZES].sort((a, b) => a - b)) {
      const t = performance.now();
      const todo = [
        ...Array.from({ length: size - made }, (_, k) => workload(made + k)),
        ...Array.from({ length: Math.floor(size / 10) - Math.floor(made / 10) }, (_, k) => configMap(Math.floor(made / 10) + k)),
      ];
      await mapBounded(todo, CREATE_CONCURRENCY, (o) => post(o.path, o.body));
      const createdS = (performance.now() - t) / 1000;
      log(
        `created ${todo.length} objects (to ${size} workloads) in ${createdS.toFixed(1)} s: ${(todo.length / createdS).toFixed(0)} a second, ${CREATE_CONCURRENCY} at once`,
      );
      made = size;
      const expected = new Set<string>();
      for (let i = 0; i < size; i++) if (isHolder(i)) expected.add(workload(i).key);

      const skipped = { wallMs: NaN, stdout: '', rss: {} };
      const rotor = TOOLS.includes('rotor') ? await rotorScan(plane.kubeconfig) : { wallMs: NaN, rss: { rotor: NaN }, found: [] };
      const jq = TOOLS.includes('jq')
        ? await shell(
            `%TIME(kubectl) ${kubectl} --kubeconfig ${plane.kubeconfig} get ${KINDS} -A -o json | %TIME(jq) ${JQ} -r --arg T ${TARGET} '${JQ_FILTER}'`,
          )
        : skipped;
      const grep = TOOLS.includes('grep')
        ? await shell(`%TIME(kubectl) ${kubectl} --kubeconfig ${plane.kubeconfig} get ${KINDS} -A -o yaml | grep -c ${TARGET}`)
        : skipped;
      log(`kubectl -o json | jq: ${jq.wallMs.toFixed(0)} ms; kubectl -o yaml | grep -c: ${grep.wallMs.toFixed(0)} ms`);
      rssBySize[size] = rotor.rss.rotor;

      const judge = (found: string[]) => {
        const holders = found.filter((f) => expected.has(f));
        return {
          holders: new Set(holders).size,
          decoys: found.length - holders.length,
          exact: holders.length === expected.size && found.length === expected.size,
        };
      };
      const r = judge(rotor.found);
      const j = judge(jq.stdout.split('\n').filter(Boolean));
      const lines = Number(grep.stdout.trim());
      const mb = (rss: Record<string, number>) =>
        Object.entries(rss)
          .map(([k, v]) => `${v.toFixed(0)} MB (${k})`)
          .join(' + ');
      const rows = [
        ...(TOOLS.includes('rotor')
          ? [
              `| rotor findReferences (child process; every served resource) | ${(rotor.wallMs / 1000).toFixed(2)} s | ${mb(rotor.rss)} | ${r.holders} of ${expected.size} | ${r.decoys} | ${r.exact ? 'yes' : 'NO'} |`,
            ]
          : []),
        ...(TOOLS.includes('jq')
          ? [
              `| kubectl get ${KINDS} -A -o json \\| jq (exact filter) | ${(jq.wallMs / 1000).toFixed(2)} s | ${mb(jq.rss)} | ${j.holders} of ${expected.size} | ${j.decoys} | ${j.exact ? 'yes' : 'NO'} |`,
            ]
          : []),
        ...(TOOLS.includes('grep')
          ? [
              `| kubectl get ${KINDS} -A -o yaml \\| grep -c | ${(grep.wallMs / 1000).toFixed(2)} s | ${mb(grep.rss)} | ${lines} lines (cannot tell) | ${lines - expected.size} | ${lines === expected.size ? 'yes' : 'no'} |`,
            ]
          : []),
      ];
      const table = [
        `\n${size} workloads + ${Math.floor(size / 10)} ConfigMaps in ${NAMESPACES} namespaces (created in ${createdS.toFixed(1)} s); the version lives in ${LIVES_IN} of them; ${expected.size} holders, ${grepLines(size) - expected.size} decoys`,
        '| scan | wall time | peak RSS | holders found | decoys counted | exact |',
        '|---|---|---|---|---|---|',
        ...rows,
      ].join('\n');
      console.log(table);
      tables.push(table);
    }
    close();
    const sizes = Object.keys(rssBySize).map(Number);
    if (sizes.length > 1) {
      const first = rssBySize[sizes[1] ?? sizes[0]];
      const last = rssBySize[sizes[sizes.length - 1]];
      console.log(
        `\nrotor's peak RSS from ${sizes[1] ?? sizes[0]} to ${sizes[sizes.length - 1]} workloads: ${first.toFixed(0)} MB to ${last.toFixed(0)} MB (${(((last - first) / first) * 100).toFixed(0)}%)`,
      );
    }
  } finally {
    await plane.stop();
  }
}

if (process.env.ROTOR_BENCH_CHILD) {
  child(process.env.ROTOR_BENCH_CHILD).then(
    () => process.exit(0),
    (err) => {
      console.error(err);
      process.exit(1);
    },
  );
} else {
  main().then(
    () => process.exit(0),
    (err) => {
      console.error(err);
      process.exit(1);
    },
  );
}
