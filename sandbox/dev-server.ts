// `npm run dev-server`: a local Temporal dev server with rotor's search attributes and the Web UI,
// from the bootstrap's cache. TEMPORAL_PORT (7233), TEMPORAL_UI_PORT (8233), TEMPORAL_DB (state kept
// in ~/.cache/rotor/dev-server.db), TEMPORAL_UI_CODEC_ENDPOINT (a `rotor codec-server` the Web UI decodes with). It prints the server's pid; Ctrl-C stops it, and it stops
// (exit 1, saying how the server ended) when the server dies on its own.
import { join } from 'node:path';
import { onShutdownSignals, superviseChildren } from './processes';
import { startDevServer, type DevServer } from './temporal';
import { cacheDir } from './tools';

const log = (line: string) => process.stderr.write(`[dev-server] ${line}\n`);

async function main(): Promise<void> {
  let server: DevServer | undefined; // eslint-disable-line prefer-const -- the shutdown handler reads it before it is assigned
  onShutdownSignals(async () => server?.stop(), log);
  superviseChildren(log);
  const port = Number(process.env.TEMPORAL_PORT ?? 7233);
  const uiPort = Number(process.env.TEMPORAL_UI_PORT ?? 8233);
  const db = process.env.TEMPORAL_DB ?? join(cacheDir, 'dev-server.db');
  const codecEndpoint = process.env.TEMPORAL_UI_CODEC_ENDPOINT || undefined;
  server = await startDevServer({ ui: true, port, uiPort, db, log, codecEndpoint });
  log(
    `Temporal on ${server.address}; Web UI http://localhost:${uiPort}${codecEndpoint ? ` (decoding with ${codecEndpoint})` : ''}; state in ${db}; Ctrl-C stops it`,
  );
  log(`export TEMPORAL_ADDRESS=${server.address}`);
}

main().catch((err) => {
  log(`could not start: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});
