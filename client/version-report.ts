// `rotor version`: the client's version and, when the server answers within a short deadline, the
// server's (GetSystemInfo) and the workers' (the task queue's pollers: identity, build id). Never hangs.
import { temporalSettings, TemporalUnreachableError } from '../temporal/settings';
import { rotorVersion } from '../temporal/version';
import { age } from './output';
import { RotorClient, type Poller } from './rotor-client';

export interface VersionReport {
  client: { version: string };
  server: { address: string; namespace: string; version: string | null; unreachable?: string };
  /** pollers null: not known (the server could not be asked). */
  workers: { taskQueue: string; pollers: Poller[] | null; unreachable?: string };
}

/** Everything the server is asked must have answered within this long of the command's start. */
const VERSION_DEADLINE_MS = 2000;

const why = (err: unknown) => (err instanceof TemporalUnreachableError ? err.reason : ((err as Error).message ?? String(err)).split('\n')[0]);

function timeout<T>(ms: number): Promise<T> {
  return new Promise((_, reject) => setTimeout(() => reject(new Error(`no answer within ${ms / 1000} s`)), ms).unref());
}

export async function versionReport(env: NodeJS.ProcessEnv = process.env, deadlineMs = VERSION_DEADLINE_MS): Promise<VersionReport> {
  const { address, namespace, taskQueue } = temporalSettings(env);
  const report: VersionReport = {
    client: { version: rotorVersion() },
    server: { address, namespace, version: null },
    workers: { taskQueue, pollers: null },
  };
  const started = Date.now();
  const left = () => Math.max(100, deadlineMs - (Date.now() - started));
  let client: RotorClient | undefined;
  try {
    // The hard cap holds even if a call ignores its own deadline.
    const connecting = RotorClient.connect({ connectTimeoutMs: deadlineMs });
    client = await Promise.race([connecting, timeout<RotorClient>(deadlineMs)]);
  } catch (err) {
    report.server.unreachable = why(err);
    report.workers.unreachable = 'the server could not be asked';
    return report;
  }
  const [server, workers] = await Promise.allSettled([
    Promise.race([client.serverVersion(left()), timeout<string>(left())]),
    Promise.race([client.pollers(left()), timeout<Poller[]>(left())]),
  ]);
  if (server.status === 'fulfilled') report.server.version = server.value;
  else report.server.unreachable = why(server.reason);
  if (workers.status === 'fulfilled') report.workers.pollers = workers.value;
  else report.workers.unreachable = why(workers.reason);
  // Not awaited: a connection that hangs on close must not hold the answer.
  void client.close().catch(() => undefined);
  return report;
}

export function formatVersionReport(r: VersionReport, now = new Date()): string {
  const lines = [`client   rotor ${r.client.version}`];
  lines.push(
    r.server.version !== null
      ? `server   Temporal ${r.server.version} at ${r.server.address} (namespace ${r.server.namespace})`
      : `server   unreachable at ${r.server.address} (${r.server.unreachable})`,
  );
  const pollers = r.workers.pollers;
  if (pollers === null) lines.push(`workers  unknown: ${r.workers.unreachable}`);
  else if (pollers.length === 0) lines.push(`workers  none has polled task queue ${r.workers.taskQueue} lately (start one: rotor worker)`);
  else {
    lines.push(`workers  ${pollers.length} polled task queue ${r.workers.taskQueue} lately:`);
    for (const p of pollers) {
      // The SDK's build id ends in the workflow bundle's sha256: its first 12 digits tell bundles apart.
      const build = p.buildId?.replace(/\+([0-9a-f]{12})[0-9a-f]{52}$/, '+$1') ?? 'not said';
      lines.push(`         ${p.identity}  (build ${build}, last poll ${p.lastPolledAt ? `${age(p.lastPolledAt, now)} ago` : 'unknown'})`);
    }
  }
  return lines.join('\n');
}
