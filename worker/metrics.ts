// The worker's Prometheus metrics (ROTOR_METRICS_ADDR, docs/observability.md): what rotor did, counted
// by this process (rotations ended, rollbacks, measurements, activity errors, the last scans' findings),
// and what the rotations in flight are doing now, read from Temporal at each scrape (so it is right after
// a restart, and the same whichever worker is scraped). The Temporal SDK's own worker metrics are served
// on the same endpoint, below rotor's. Label values are names (secrets, versions, stages, namespaces),
// never a secret value; how many series each metric can have is said in the docs.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { ApplicationFailure, CancelledFailure } from '@temporalio/common';
import type { ActivityInterceptorsFactory, InjectedSinks } from '@temporalio/worker';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { baseOf, versionDate } from '../domain/naming';
import type { Telemetry } from '../activities/telemetry';
import { ROLLBACK_REASONS, type RollbackReason, type RotationResult, type RotorSinks } from '../contract/sinks';

/** A rotation in flight, as the endpoint describes it. */
export interface RotationRow {
  secret: string;
  phase: string;
  /** The stage it is in, or null between stages (planning, retention, cleanup). */
  stage: string | null;
  /** The namespace of that stage (or of the first stage), null when unknown. */
  namespace: string | null;
  /** The version the rotation creates, once named. */
  version: string | null;
}

/** How the endpoint learns the rotations in flight (from Temporal's visibility; a test may give its own). */
export type RotationSource = () => Promise<RotationRow[]>;

/** How many versions' reference counts are kept (the oldest scanned is dropped first). */
const VERSIONS_KEPT = 500;
/** A scrape within this long of the last one reuses what Temporal answered then. */
const STATE_TTL_MS = 1_000;

const ACTIVITY_ERROR_TYPES_KEPT = 50;

export class WorkerMetrics implements Telemetry {
  readonly registry = new Registry();
  private readonly rotations: Counter<'secret' | 'result'>;
  private readonly durations: Histogram<'result'>;
  private readonly rollbacks: Counter<'secret' | 'reason'>;
  private readonly measurementValue: Gauge<'secret' | 'stage' | 'check'>;
  private readonly measurements: Counter<'phase'>;
  private readonly references: Gauge<'secret' | 'namespace' | 'version'>;
  private readonly activityErrors: Counter<'activity' | 'type'>;
  private readonly scanned = new Map<string, string[]>();
  private readonly errorTypes = new Set<string>();
  private last: { at: number; rows: RotationRow[] } | null = null;
  private refreshing: Promise<RotationRow[]> | null = null;
  /** The last failure to read the rotations in flight, for rotor_rotation_info_up. */
  private stateUp = 1;

  constructor(private readonly source: RotationSource) {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry });
    const rows = () => this.rows();
    const up = () => this.stateUp;
    new Gauge({
      name: 'rotor_rotation_info',
      help: 'One series per rotation in flight (1), labelled with where it stands; read from Temporal at each scrape.',
      labelNames: ['secret', 'namespace', 'stage', 'phase', 'version'],
      registers,
      async collect() {
        this.reset();
        for (const r of await rows())
          this.set({ secret: r.secret, namespace: r.namespace ?? '', stage: r.stage ?? '-', phase: r.phase, version: r.version ?? '' }, 1);
      },
    });
    new Gauge({
      name: 'rotor_version_created_timestamp_seconds',
      help: 'When the version a rotation in flight created was named (from its name, UTC), in seconds since the epoch.',
      labelNames: ['secret', 'version'],
      registers,
      async collect() {
        this.reset();
        for (const r of await rows()) {
          const at = r.version ? versionDate(r.version) : null;
          if (at) this.set({ secret: r.secret, version: r.version! }, at.getTime() / 1000);
        }
      },
    });
    new Gauge({
      name: 'rotor_rotation_info_up',
      help: 'Whether the last scrape could read the rotations in flight from Temporal (1) or not (0: rotor_rotation_info is empty).',
      registers,
      async collect() {
        await rows();
        this.set(up());
      },
    });
    this.rotations = new Counter({
      name: 'rotor_rotations_total',
      help: 'Rotations that ended on this worker, by result (completed, rolled_back, failed).',
      labelNames: ['secret', 'result'],
      registers,
    });
    this.durations = new Histogram({
      name: 'rotor_rotation_duration_seconds',
      help: 'From a rotation being requested to its end (soak, approval and retention included), by result.',
      labelNames: ['result'],
      buckets: [60, 300, 900, 3600, 4 * 3600, 86_400, 3 * 86_400, 7 * 86_400, 14 * 86_400, 30 * 86_400],
      registers,
    });
    this.rollbacks = new Counter({
      name: 'rotor_rollbacks_total',
      help: `Rollbacks begun on this worker, by reason (${ROLLBACK_REASONS.join(', ')}).`,
      labelNames: ['secret', 'reason'],
      registers,
    });
    this.measurementValue = new Gauge({
      name: 'rotor_analysis_measurement_value',
      help: "The last value a stage's analysis measured (the query's result, e.g. an error rate); absent when it returned no data.",
      labelNames: ['secret', 'stage', 'check'],
      registers,
    });
    this.measurements = new Counter({
      name: 'rotor_analysis_measurements_total',
      help: 'Analysis measurements taken on this worker, by phase (successful, failed, inconclusive, error).',
      labelNames: ['phase'],
      registers,
    });
    for (const phase of ['successful', 'failed', 'inconclusive', 'error']) this.measurements.inc({ phase }, 0);
    this.references = new Gauge({
      name: 'rotor_version_references',
      help: 'What still referred to a version at its last reference scan (cleanup, or before a revoke), per namespace (namespace "-" and 0: nothing did).',
      labelNames: ['secret', 'namespace', 'version'],
      registers,
    });
    this.activityErrors = new Counter({
      name: 'rotor_activity_errors_total',
      help: 'Activity attempts that failed on this worker, by activity and error type.',
      labelNames: ['activity', 'type'],
      registers,
    });
  }

  /**
   * The rotations in flight, asked of Temporal at most once per STATE_TTL_MS. Once it has answered, a
   * scrape never waits on it: while a newer answer is on its way (a slow visibility store, a loaded
   * server) the last one is served, so a scrape stays within Prometheus' timeout. Only the first scrape
   * of a process waits for the first answer.
   */
  private rows(): Promise<RotationRow[]> {
    const last = this.last;
    if (last && Date.now() - last.at < STATE_TTL_MS) return Promise.resolve(last.rows);
    this.refreshing ??= this.source()
      .then(
        (rows) => {
          this.stateUp = 1;
          return rows;
        },
        () => {
          this.stateUp = 0;
          return [];
        },
      )
      .then((rows) => {
        this.last = { at: Date.now(), rows };
        return rows;
      })
      .finally(() => {
        this.refreshing = null;
      });
    return last ? Promise.resolve(last.rows) : this.refreshing;
  }

  rotationEnded(secret: string, result: RotationResult, seconds: number): void {
    this.rotations.inc({ secret, result });
    this.durations.observe({ result }, seconds);
  }

  rolledBack(secret: string, reason: RollbackReason): void {
    this.rollbacks.inc({ secret, reason: ROLLBACK_REASONS.includes(reason) ? reason : 'error' });
  }

  measured(at: { version: string | null; stage: string; check: string }, measurement: { value: number | null; phase: string }): void {
    this.measurements.inc({ phase: measurement.phase });
    const labels = { secret: at.version ? baseOf(at.version) : '', stage: at.stage, check: at.check };
    if (measurement.value === null || !Number.isFinite(measurement.value)) this.measurementValue.remove(labels);
    else this.measurementValue.set(labels, measurement.value);
  }

  referencesFound(version: string, holders: { namespace: string }[]): void {
    const secret = baseOf(version);
    for (const namespace of this.scanned.get(version) ?? []) this.references.remove({ secret, namespace, version });
    this.scanned.delete(version);
    const counts = new Map<string, number>();
    for (const h of holders) counts.set(h.namespace, (counts.get(h.namespace) ?? 0) + 1);
    if (!counts.size) counts.set('-', 0);
    for (const [namespace, n] of counts) this.references.set({ secret, namespace, version }, n);
    this.scanned.set(version, [...counts.keys()]);
    for (const [old, namespaces] of this.scanned) {
      if (this.scanned.size <= VERSIONS_KEPT) break;
      for (const namespace of namespaces) this.references.remove({ secret: baseOf(old), namespace, version: old });
      this.scanned.delete(old);
    }
  }

  activityFailed(activity: string, type: string): void {
    // Error types are a fixed set in rotor's code; a flood of unknown ones shares one label.
    const known = this.errorTypes.has(type) || this.errorTypes.size < ACTIVITY_ERROR_TYPES_KEPT;
    if (known) this.errorTypes.add(type);
    this.activityErrors.inc({ activity, type: known ? type : 'other' });
  }
}

/**
 * The sinks rotations call (contract/sinks.ts), counted by `metrics` when the worker has them; a worker
 * without metrics registers them all the same (a rotation calls them either way).
 */
export function rotorSinks(metrics: Pick<WorkerMetrics, 'rotationEnded' | 'rolledBack'> | null): InjectedSinks<RotorSinks> {
  return {
    rotorMetrics: {
      rotationEnded: { fn: (_info, secret, result, seconds) => metrics?.rotationEnded(secret, result, seconds), callDuringReplay: false },
      rolledBack: { fn: (_info, secret, reason) => metrics?.rolledBack(secret, reason), callDuringReplay: false },
    },
  };
}

/** Counts each failed activity attempt by its activity and error type (RotorError's type, a failure's type, or the error's name). */
export function countActivityErrors(metrics: WorkerMetrics): ActivityInterceptorsFactory {
  return (ctx) => ({
    inbound: {
      async execute(input, next) {
        try {
          return await next(input);
        } catch (err) {
          metrics.activityFailed(ctx.info.activityType, errorType(err));
          throw err;
        }
      },
    },
  });
}

function errorType(err: unknown): string {
  if (err instanceof CancelledFailure) return 'Cancelled';
  if (err instanceof ApplicationFailure) return err.type ?? 'ApplicationFailure';
  if (err instanceof Error) return err.name || 'Error';
  return 'Error';
}

/**
 * Serves `metrics` at http://<addr>/metrics, followed by the SDK's own exposition at `sdkUrl` (its
 * Prometheus exporter on loopback) when given. Resolves with the bound address once listening.
 */
export async function serveMetrics(
  metrics: WorkerMetrics,
  addr: { host: string; port: number },
  sdkUrl: string | null,
): Promise<{ url: string; close(): Promise<void> }> {
  const server = http.createServer((req, res) => {
    if (req.method !== 'GET' || (req.url ?? '/').split('?')[0] !== '/metrics') {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('rotor worker: metrics are at /metrics\n');
      return;
    }
    void (async () => {
      try {
        const own = await metrics.registry.metrics();
        const sdk = sdkUrl ? await sdkMetrics(sdkUrl) : '';
        res.writeHead(200, { 'content-type': metrics.registry.contentType }).end(`${own}\n${sdk}`);
      } catch (err) {
        res.writeHead(500, { 'content-type': 'text/plain' }).end(`cannot collect the metrics: ${(err as Error).message}\n`);
      }
    })();
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(addr.port, addr.host, () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  const host = addr.host.includes(':') ? `[${addr.host}]` : addr.host;
  return {
    url: `http://${host === '0.0.0.0' ? '127.0.0.1' : host}:${port}/metrics`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** The SDK exporter's text; a comment saying why when it does not answer (the scrape still succeeds). */
async function sdkMetrics(url: string): Promise<string> {
  try {
    // Well inside a 1 s scrape timeout: the exporter is on loopback.
    const res = await fetch(url, { signal: AbortSignal.timeout(500) });
    if (!res.ok) return `# the Temporal SDK's metrics did not answer: HTTP ${res.status}\n`;
    return await res.text();
  } catch (err) {
    return `# the Temporal SDK's metrics did not answer: ${(err as Error).message}\n`;
  }
}
