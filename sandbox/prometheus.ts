// A real Prometheus server (built by the bootstrap into ~/.cache/rotor) on a free loopback port,
// scraping the given targets at a short interval: for the metric-provider tests and the sandbox.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './control-plane';
import { spawnChild, stopChild, waitUntilReady, withFreshPorts } from './processes';
import { prometheusBinary } from './tools';

export interface PrometheusServer {
  /** Base URL of the HTTP API, e.g. http://127.0.0.1:40123 */
  url: string;
  dir: string;
  pid: number;
  stop(): Promise<void>;
}

export interface PrometheusOptions {
  /** host:port targets scraped as job "rotor-traffic" (Prometheus always scrapes itself too). */
  targets?: string[];
  scrapeIntervalMs?: number;
  log?: (line: string) => void;
}

export function startPrometheus(opts: PrometheusOptions = {}): Promise<PrometheusServer> {
  return withFreshPorts(() => startOnce(opts));
}

async function startOnce(opts: PrometheusOptions): Promise<PrometheusServer> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'rotor-prometheus-'));
  const interval = `${Math.max(1, Math.round((opts.scrapeIntervalMs ?? 1000) / 1000))}s`;
  const config = [
    'global:',
    `  scrape_interval: ${interval}`,
    `  evaluation_interval: ${interval}`,
    'scrape_configs:',
    '  - job_name: prometheus',
    `    static_configs: [{ targets: ["127.0.0.1:${port}"] }]`,
    ...(opts.targets?.length ? ['  - job_name: rotor-traffic', `    static_configs: [{ targets: [${opts.targets.map((t) => `"${t}"`).join(', ')}] }]`] : []),
    '',
  ].join('\n');
  writeFileSync(join(dir, 'prometheus.yml'), config);
  const child = spawnChild(
    'prometheus',
    prometheusBinary(),
    [`--config.file=${join(dir, 'prometheus.yml')}`, `--storage.tsdb.path=${join(dir, 'data')}`, `--web.listen-address=127.0.0.1:${port}`, '--log.level=error'],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let stderr = '';
  child.proc.stderr!.on('data', (d) => (stderr = (stderr + d).slice(-4000)));
  const url = `http://127.0.0.1:${port}`;
  try {
    await waitUntilReady(child, async () => (await fetch(`${url}/-/ready`, { signal: AbortSignal.timeout(1000) })).ok, {
      where: url,
      timeoutMs: 60_000,
      intervalMs: 200,
      output: () => stderr,
    });
  } catch (err) {
    await stopChild(child, { log: opts.log });
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  opts.log?.(`prometheus ready on ${url}, scraping every ${interval}`);
  return {
    url,
    dir,
    pid: child.pid,
    async stop() {
      await stopChild(child, { log: opts.log });
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
