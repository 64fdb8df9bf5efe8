// A real Temporal server (temporal-server from go.temporal.io/server, not the dev server) on a real
// PostgreSQL 15, both from the bootstrap (`--temporal-server`), on free loopback ports in a temporary
// directory: PostgreSQL as an unprivileged user (it refuses root), the `temporal` and
// `temporal_visibility` databases made by the server's own temporal-sql-tool (setup-schema 0.0, then
// every versioned update), namespace `default` and rotor's search attributes registered through the
// server's APIs. `restart()` kills the server with SIGKILL and starts it again on the same database
// and ports; `stop()` stops the server, then PostgreSQL (fast shutdown), and removes the directory.
import { chownSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:net';
import { stringify } from 'yaml';
import { Connection } from '@temporalio/client';
import { msToTs } from '@temporalio/common';
import { SA_PHASE, SEARCH_ATTRIBUTES } from '../contract/api';
import { freePort } from '../worker/free-port';
import { answers, startServer, stopChild, waitUntilReady, withFreshPorts, type Child } from './processes';
import { temporalServerTools } from './tools';
import { frontendAnswers } from './frontend-probe';
import { createSchema, postgresUser, removeSharedMemory, startPostgres } from './postgres';

export interface PostgresTemporal {
  /** The frontend's gRPC address, host:port on 127.0.0.1 (TEMPORAL_ADDRESS). */
  address: string;
  namespace: string;
  /** The temporary directory: PostgreSQL's data (data/), its socket, the server's config (temporal.yaml). */
  dir: string;
  /** PostgreSQL on 127.0.0.1, as `host:port` (user `temporal`; the password is in temporal.yaml, readable by root only). */
  postgresAddress: string;
  /** The Temporal server's pid, leader of its own process group; a new one after restart(). */
  readonly serverPid: number;
  /** The postmaster's pid, leader of its own process group (its backends are in it). */
  postgresPid: number;
  /** The Web UI's URL and pid when asked for (`ui`), else null. */
  ui: { url: string; pid: number } | null;
  /** SIGKILL to the Temporal server, then start it again on the same database and ports; resolves once it serves again. */
  restart(): Promise<void>;
  /** The Web UI, the Temporal server (SIGTERM, SIGKILL after 5 s), then PostgreSQL (fast shutdown), then the directory. */
  stop(): Promise<void>;
}

export interface PostgresTemporalOptions {
  /** The frontend's gRPC port (below 32768: see lowFreePort); default a free one. */
  port?: number;
  /** Default `default`; registered with rotor's search attributes. */
  namespace?: string;
  /** History shards (fixed once the database is made); default 4. */
  historyShards?: number;
  /** Start the Web UI server (temporalio/ui-server) on it, at `uiPort` (default a free one). */
  ui?: boolean;
  uiPort?: number;
  log?: (line: string) => void;
}

/**
 * A free port on 127.0.0.1 below 32768: the server records its services' ports in PostgreSQL as a
 * smallint (cluster_membership), so one from the kernel's ephemeral range (32768 and up) kills it at start.
 */
async function lowFreePort(): Promise<number> {
  for (;;) {
    const port = 20000 + Math.floor(Math.random() * 12768);
    const free = await new Promise<boolean>((resolve) => {
      const srv = createServer();
      srv.once('error', () => resolve(false));
      srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
    });
    if (free) return port;
  }
}

async function lowFreePorts(n: number): Promise<number[]> {
  const ports = new Set<number>();
  while (ports.size < n) ports.add(await lowFreePort());
  return [...ports];
}

/** The server's configuration: both stores on PostgreSQL, every service on 127.0.0.1 at its own ports, no metrics or pprof listener. */
function serverConfig(p: { dir: string; pgPort: number; password: string; shards: number; ports: number[] }): string {
  const [frontend, frontendMembership, frontendHttp, history, historyMembership, matching, matchingMembership, worker, workerMembership] = p.ports;
  const store = (databaseName: string, maxConns: number) => ({
    sql: {
      pluginName: 'postgres12',
      databaseName,
      connectAddr: `127.0.0.1:${p.pgPort}`,
      connectProtocol: 'tcp',
      user: 'temporal',
      password: p.password,
      maxConns,
      maxIdleConns: maxConns,
      maxConnLifetime: '1h',
    },
  });
  const rpc = (grpcPort: number, membershipPort: number, extra = {}) => ({ rpc: { grpcPort, membershipPort, bindOnLocalHost: true, ...extra } });
  const dynamic = join(p.dir, 'dynamicconfig.yaml');
  writeFileSync(
    dynamic,
    stringify({
      // A search attribute registered a moment ago is known to the next workflow task (the dev server sets it too).
      'system.forceSearchAttributesCacheRefreshOnRead': [{ value: true }],
      'limit.maxIDLength': [{ value: 255 }],
    }),
  );
  return stringify({
    log: { stdout: true, level: 'warn' },
    persistence: {
      defaultStore: 'postgres-default',
      visibilityStore: 'postgres-visibility',
      numHistoryShards: p.shards,
      datastores: { 'postgres-default': store('temporal', 20), 'postgres-visibility': store('temporal_visibility', 10) },
    },
    global: { membership: { maxJoinDuration: '30s', broadcastAddress: '127.0.0.1' }, pprof: { port: 0 } },
    services: {
      frontend: rpc(frontend, frontendMembership, { httpPort: frontendHttp }),
      history: rpc(history, historyMembership),
      matching: rpc(matching, matchingMembership),
      worker: rpc(worker, workerMembership),
    },
    clusterMetadata: {
      enableGlobalNamespace: false,
      failoverVersionIncrement: 10,
      masterClusterName: 'active',
      currentClusterName: 'active',
      clusterInformation: { active: { enabled: true, initialFailoverVersion: 1, rpcName: 'frontend', rpcAddress: `127.0.0.1:${frontend}` } },
    },
    dcRedirectionPolicy: { policy: 'noop' },
    dynamicConfigClient: { filepath: dynamic, pollInterval: '10s' },
  });
}

/** Whether the frontend serves `namespace` with rotor's search attributes: a visibility query on one of them answers. */
const serves = (address: string, namespace: string) =>
  frontendAnswers(address, (conn) => conn.workflowService.listWorkflowExecutions({ namespace, pageSize: 1, query: `${SA_PHASE.name} = "ready"` }));

/** Namespace `namespace` (1 day of retention) and rotor's search attributes (KEYWORD), unless there already. */
async function registerNamespace(address: string, namespace: string): Promise<void> {
  const conn = await Connection.connect({ address });
  try {
    try {
      await conn.workflowService.registerNamespace({ namespace, workflowExecutionRetentionPeriod: msToTs('1 day') });
    } catch (err) {
      if (!/already exists/i.test((err as Error).message)) throw err;
    }
    await conn.operatorService.addSearchAttributes({
      namespace,
      searchAttributes: Object.fromEntries(SEARCH_ATTRIBUTES.map((k) => [k.name, 2 /* KEYWORD */])),
    });
  } finally {
    await conn.close();
  }
}

/** Starts the Temporal server and waits until the frontend answers (`ready`); a server that dies first fails it with its output. */
async function startTemporal(binary: string, config: string, address: string, ready: () => Promise<boolean>, log?: (line: string) => void): Promise<Child> {
  const { child } = await startServer('temporal-server', binary, ['--config-file', config, '--allow-no-auth', 'start'], {
    ready,
    where: address,
    intervalMs: 250,
    timeoutMs: 120_000,
    log,
  });
  return child;
}

/** The Web UI server on `address`, at 127.0.0.1:`port`: its configuration in <dir>/ui/sandbox.yaml. */
async function startUi(binary: string, dir: string, address: string, namespace: string, port: number | undefined, log?: (line: string) => void) {
  mkdirSync(join(dir, 'ui'));
  return withFreshPorts(
    async () => {
      const uiPort = port ?? (await freePort());
      writeFileSync(
        join(dir, 'ui', 'sandbox.yaml'),
        stringify({
          temporalGrpcAddress: address,
          host: '127.0.0.1',
          port: uiPort,
          enableUi: true,
          defaultNamespace: namespace,
          disableNewsFetch: true,
          refreshInterval: '0s',
          cors: { allowOrigins: [`http://localhost:${uiPort}`, `http://127.0.0.1:${uiPort}`], cookieInsecure: true },
        }),
      );
      const url = `http://localhost:${uiPort}`;
      const { child } = await startServer('temporal-ui-server', binary, ['--root', dir, '--config', 'ui', '--env', 'sandbox', 'start'], {
        ready: answers(`http://127.0.0.1:${uiPort}/`),
        where: url,
        log,
      });
      return { child, url };
    },
    port === undefined ? 3 : 1,
  );
}

const system = (address: string) => frontendAnswers(address, (conn) => conn.workflowService.describeNamespace({ namespace: 'temporal-system' }));

/**
 * PostgreSQL and a Temporal server on it, ready for workers and clients at `address` in `namespace`
 * with rotor's search attributes. Everything started is stopped again if a later part fails.
 */
export async function startPostgresTemporal(opts: PostgresTemporalOptions = {}): Promise<PostgresTemporal> {
  const tools = temporalServerTools();
  const namespace = opts.namespace ?? 'default';
  const user = await postgresUser();
  const dir = mkdtempSync(join(tmpdir(), 'rotor-pg-temporal-'));
  if (user) chownSync(dir, user.uid, user.gid);
  const removeDir = () => rmSync(dir, { recursive: true, force: true, maxRetries: 3 });
  const onExit = () => {
    removeSharedMemory(dir);
    removeDir();
  };
  const password = randomBytes(18).toString('base64url');
  let postgres: Child | undefined;
  let server: Child | undefined;
  let ui: { child: Child; url: string } | undefined;
  const log = opts.log;
  try {
    const pg = await startPostgres(dir, tools.postgresBin, user, password, log);
    postgres = pg.child;
    // Killed with this process (processes.ts SIGKILLs the children on exit, its listener first): the
    // directory goes with them, and the System V segment a killed postmaster leaves behind.
    process.once('exit', onExit);
    log?.(`PostgreSQL on 127.0.0.1:${pg.port} (pid ${postgres.pid}); creating Temporal's schema with temporal-sql-tool ...`);
    await createSchema(tools.sqlTool, tools.schema, pg.port, password);
    const config = join(dir, 'temporal.yaml');
    let address = '';
    server = await withFreshPorts(
      async () => {
        const [frontend, ...rest] = [opts.port ?? (await lowFreePort()), ...(await lowFreePorts(8))];
        address = `127.0.0.1:${frontend}`;
        writeFileSync(config, serverConfig({ dir, pgPort: pg.port, password, shards: opts.historyShards ?? 4, ports: [frontend, ...rest] }), { mode: 0o600 });
        return startTemporal(tools.temporalServer, config, address, () => system(address), log);
      },
      opts.port === undefined ? 3 : 1,
    );
    await registerNamespace(address, namespace);
    // The namespace cache refreshes every 2 s: until then the frontend does not know it.
    await waitUntilReady(server, () => serves(address, namespace), { where: `${address} namespace ${namespace}`, timeoutMs: 60_000, intervalMs: 250 });
    if (opts.ui) ui = await startUi(tools.ui, dir, address, namespace, opts.uiPort, log);
    const postgresChild = postgres;
    let current = server;
    return {
      address,
      namespace,
      dir,
      postgresAddress: `127.0.0.1:${pg.port}`,
      get serverPid() {
        return current.pid;
      },
      postgresPid: postgres.pid,
      ui: ui ? { url: ui.url, pid: ui.child.pid } : null,
      async restart() {
        log?.(`killing temporal-server (pid ${current.pid}) with SIGKILL ...`);
        await stopChild(current, { signal: 'SIGKILL', graceMs: 5000 });
        current = await startTemporal(tools.temporalServer, config, address, () => serves(address, namespace), log);
        log?.(`temporal-server again on ${address} (pid ${current.pid})`);
      },
      async stop() {
        if (ui) await stopChild(ui.child, { log });
        await stopChild(current, { log });
        await stopChild(postgresChild, { log, signal: 'SIGINT' });
        process.removeListener('exit', onExit);
        removeDir();
      },
    };
  } catch (err) {
    if (ui) await stopChild(ui.child, { log });
    if (server) await stopChild(server, { log });
    if (postgres) await stopChild(postgres, { log, signal: 'SIGINT' });
    process.removeListener('exit', onExit);
    removeDir();
    throw err;
  }
}
