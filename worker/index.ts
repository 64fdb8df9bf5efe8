// The rotor worker: connect, make sure the search attributes exist, build the adapters, run.
import { Client, Connection } from '@temporalio/client';
import { bundleWorkflowCode, DefaultLogger, NativeConnection, Runtime, Worker, type WorkflowBundle } from '@temporalio/worker';
import { IllegalStateError, type Logger } from '@temporalio/common';
import { createActivities } from '../activities';
import { KubernetesCluster } from '../activities/kubernetes';
import { SEARCH_ATTRIBUTES } from '../contract/api';
import { dataConverter, TemporalUnreachableError, workerIdentity } from '../temporal/settings';
import { workerBanner } from './banner';
import { workerConfig, type WorkerConfig } from './config';
import { buildDeps } from './deps';
import { freePort } from './free-port';
import { countActivityErrors, rotorSinks, serveMetrics, WorkerMetrics } from './metrics';
import { rotationsInFlight } from './rotations-in-flight';

/** Registers rotor's search attributes on a self-hosted server; says how to do it where that is refused. */
async function ensureSearchAttributes(connection: NativeConnection, namespace: string): Promise<void> {
  const wanted = Object.fromEntries(SEARCH_ATTRIBUTES.map((k) => [k.name, 2 /* KEYWORD */]));
  try {
    const existing = await connection.operatorService.listSearchAttributes({ namespace });
    const missing = Object.fromEntries(Object.entries(wanted).filter(([name]) => !existing.customAttributes?.[name]));
    if (Object.keys(missing).length === 0) return;
    await connection.operatorService.addSearchAttributes({ namespace, searchAttributes: missing });
  } catch (err) {
    throw new Error(
      `cannot register the search attributes ${Object.keys(wanted).join(', ')} in namespace ${namespace} (${(err as Error).message}); ` +
        `add them once with: ${Object.keys(wanted)
          .map((n) => `temporal operator search-attribute create --namespace ${namespace} --name ${n} --type Keyword`)
          .join(' && ')}`,
    );
  }
}

/**
 * The SDK's own log at WARN and above: its INFO lines (bundle size, each worker state change) are not
 * news to an operator; rotor logs each step itself. A process that installed its own Runtime keeps it.
 */
function quietRuntime(sdkMetricsAddress: string | null): boolean {
  try {
    Runtime.install({
      logger: new DefaultLogger('WARN'),
      // The SDK's worker metrics (task slots, schedule-to-start latency, polls), in Prometheus' conventions.
      ...(sdkMetricsAddress
        ? {
            telemetryOptions: {
              metrics: { prometheus: { bindAddress: sdkMetricsAddress, countersTotalSuffix: true, unitSuffix: true, useSecondsForDurations: true } },
            },
          }
        : {}),
    });
    return true;
  } catch (err) {
    if (!(err instanceof IllegalStateError)) throw err;
    return false;
  }
}

/**
 * The bundler's logger: webpack's report (about 20 lines of modules, at INFO) stays out of the log
 * unless it holds a warning; warnings and errors reach it.
 */
export function bundleLogger(log: (m: string) => void): Logger {
  const say = (level: string) => (message: string) => log(`[rotor] workflow bundle: ${level} ${message}`);
  return {
    log: (level, message) => (level === 'WARN' || level === 'ERROR' ? say(level.toLowerCase())(message) : undefined),
    trace: () => undefined,
    debug: () => undefined,
    info: (message) => (/\bWARNING\b/.test(message) ? say('warning')(message) : undefined),
    warn: say('warning'),
    error: say('error'),
  };
}

/** The workflow bundle, built here rather than by Worker.create, which would log webpack's report at INFO. */
function bundle(converter: ReturnType<typeof dataConverter>, log: (m: string) => void): Promise<WorkflowBundle> {
  return bundleWorkflowCode({
    workflowsPath: require.resolve('../workflows'),
    failureConverterPath: converter.failureConverterPath,
    payloadConverterPath: converter.payloadConverterPath,
    logger: bundleLogger(log),
  });
}

export async function runWorker(overrides: Partial<WorkerConfig> = {}, log = (m: string) => process.stderr.write(`${m}\n`)): Promise<void> {
  const config = workerConfig(process.env, overrides);
  const converter = dataConverter(); // unusable codec keys are refused before anything connects
  const deps = buildDeps(config, (message, fields) => log(`[rotor] ${message}${fields ? ` ${JSON.stringify(fields)}` : ''}`));
  const sdkMetrics = config.metricsAddr ? `127.0.0.1:${await freePort()}` : null;
  // A process that installed its own Runtime earlier (a test) keeps it, without the SDK's metrics.
  const sdkServed = quietRuntime(sdkMetrics);
  const connection = await NativeConnection.connect({ address: config.address }).catch((err: unknown) => {
    throw new TemporalUnreachableError(config.address, err);
  });
  let endpoint: Awaited<ReturnType<typeof serveMetrics>> | null = null;
  let visibility: Connection | null = null;
  try {
    let metrics: WorkerMetrics | null = null;
    if (config.metricsAddr) {
      visibility = await Connection.connect({ address: config.address });
      const client = new Client({ connection: visibility, namespace: config.namespace, dataConverter: converter });
      metrics = new WorkerMetrics(rotationsInFlight(client));
      deps.telemetry = metrics;
      endpoint = await serveMetrics(metrics, config.metricsAddr, sdkServed && sdkMetrics ? `http://${sdkMetrics}/metrics` : null);
    }
    await ensureSearchAttributes(connection, config.namespace);
    const worker = await Worker.create({
      connection,
      namespace: config.namespace,
      taskQueue: config.taskQueue,
      identity: workerIdentity(), // `rotor version` reads rotor's version from it
      workflowBundle: await bundle(converter, log),
      activities: createActivities(deps),
      sinks: rotorSinks(metrics),
      ...(metrics ? { interceptors: { activity: [countActivityErrors(metrics)] } } : {}),
      dataConverter: converter,
      // Cancellation reaches a running analysis through its heartbeat: an abort stops it within seconds.
      // A step's heartbeats reach the server at least this often, well inside its 10 s heartbeat timeout.
      maxHeartbeatThrottleInterval: '5s',
      // A workflow task queued for a worker that died goes to any worker after this, not after 10 s.
      stickyQueueScheduleToStartTimeout: '3s',
      maxConcurrentActivityTaskExecutions: config.tuning.maxActivities,
      ...(config.tuning.maxWorkflowTasks !== null ? { maxConcurrentWorkflowTaskExecutions: config.tuning.maxWorkflowTasks } : {}),
      ...(config.tuning.cachedWorkflows !== null ? { maxCachedWorkflows: config.tuning.cachedWorkflows } : {}),
    });
    const kc = deps.cluster instanceof KubernetesCluster ? deps.cluster.kc : undefined;
    // The endpoint ends the second line: the start stays two lines.
    for (const line of workerBanner(config, deps, converter, kc, process.env, endpoint?.url ?? null)) log(`[rotor] ${line}`);
    await worker.run();
    log('[rotor] worker stopped');
  } finally {
    await endpoint?.close();
    await visibility?.close();
    await connection.close();
  }
}
