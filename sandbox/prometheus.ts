// A real Prometheus server (built by the bootstrap into ~/.cache/rotor) on a free loopback port,
// scraping the given targets at a short interval: for the metric-provider tests and the sandbox.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './control-plane';
import { answers, startServer, stopChild, withFreshPorts } from './processes';
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
  /** host:port of rotor workers' metrics endpoints (ROTOR_METRICS_ADDR), scraped as job "rotor-worker". */
  workers?: string[];
  scrapeIntervalMs?: number;
  log?: (line: string) => void;
}

function job(name: string, targets: string[] = [], interval?: string): string[] {
  if (!targets.length) return [];
  return [
    `  - job_name: ${name}`,
    ...(interval ? [`    scrape_interval: ${interval}`] : []),
    `    static_configs: [{ targets: [${targets.map((t) => `"${t}"`).join(', ')}] }]`,
  ];
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
    ...job('rotor-traffic', opts.targets),
    // Every 2 s whatever the traffic's interval, so a rotation's phases show; not every second, whose 1 s
    // scrape timeout a loaded 2-core machine missed for seconds at a time.
    ...job('rotor-worker', opts.workers, '2s'),
    '',
  ].join('\n');
  writeFileSync(join(dir, 'prometheus.yml'), config);
  const url = `http://127.0.0.1:${port}`;
  let child;
  try {
    ({ child } = await startServer(
      'prometheus',
      prometheusBinary(),
      [
        `--config.file=${join(dir, 'prometheus.yml')}`,
        `--storage.tsdb.path=${join(dir, 'data')}`,
        `--web.listen-address=127.0.0.1:${port}`,
        '--log.level=error',
      ],
      { ready: answers(`${url}/-/ready`), where: url, log: opts.log },
    ));
  } catch (err) {
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
