// A real Temporal dev server (the CLI from the bootstrap's cache) on free loopback ports, with
// rotor's search attributes registered at start.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SEARCH_ATTRIBUTES } from '../contract/api';
import { temporalCli } from './tools';
import { freePort } from './control-plane';
import { startServer, stopChild, withFreshPorts } from './processes';
import { frontendAnswers } from './frontend-probe';

export { freePort };

export interface DevServer {
  address: string;
  uiPort: number;
  dir: string;
  /** The server's pid, the leader of its own process group (for fault injection: `kill -9 -<pid>`). */
  pid: number;
  stop(): Promise<void>;
}

export interface DevServerOptions {
  ui?: boolean;
  port?: number;
  uiPort?: number;
  /** Where the server keeps its state; default a temporary file removed at stop. */
  db?: string;
  log?: (line: string) => void;
  /** A remote codec endpoint (`rotor codec-server`) for the Web UI to decode payloads with: --ui-codec-endpoint. */
  codecEndpoint?: string;
}

export async function startDevServer(opts: DevServerOptions = {}): Promise<DevServer> {
  return opts.port === undefined && opts.uiPort === undefined ? withFreshPorts(() => startOnce(opts)) : startOnce(opts);
}

async function startOnce(opts: DevServerOptions): Promise<DevServer> {
  const port = opts.port ?? (await freePort());
  const uiPort = opts.uiPort ?? (await freePort());
  const dir = mkdtempSync(join(tmpdir(), 'rotor-dev-'));
  const args = [
    'server',
    'start-dev',
    '--ip',
    '127.0.0.1',
    '--port',
    String(port),
    '--ui-port',
    String(uiPort),
    '--db-filename',
    opts.db ?? join(dir, 'temporal.db'),
    '--log-level',
    'error',
  ];
  if (!opts.ui) args.push('--headless');
  if (opts.codecEndpoint) args.push('--ui-codec-endpoint', opts.codecEndpoint);
  for (const { name } of SEARCH_ATTRIBUTES) args.push('--search-attribute', `${name}=Keyword`);
  const address = `127.0.0.1:${port}`;
  let child;
  try {
    ({ child } = await startServer('temporal dev server', temporalCli(), args, {
      ready: () => frontendAnswers(address, (conn) => conn.workflowService.describeNamespace({ namespace: 'default' })),
      where: address,
      intervalMs: 250,
      log: opts.log,
    }));
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  return {
    address,
    uiPort,
    dir,
    pid: child.pid,
    async stop() {
      await stopChild(child, { log: opts.log });
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
