#!/usr/bin/env node
// A local Temporal dev server with rotor's search attributes and the Web UI, from the bootstrap's cache.
//   npm run dev-server   (TEMPORAL_PORT=7233, TEMPORAL_UI_PORT=8233, state kept in ~/.cache/rotor/dev-server.db)
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { bootstrap, cacheDir } from './bootstrap.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const pins = JSON.parse(readFileSync(join(root, 'tools.json'), 'utf8'));
bootstrap();
const port = process.env.TEMPORAL_PORT ?? '7233';
const uiPort = process.env.TEMPORAL_UI_PORT ?? '8233';
const db = process.env.TEMPORAL_DB ?? join(cacheDir, 'dev-server.db');
const args = ['server', 'start-dev', '--ip', '127.0.0.1', '--port', port, '--ui-port', uiPort, '--db-filename', db, '--log-level', 'warn'];
for (const name of ['RotorSecret', 'RotorPhase', 'RotorStage']) args.push('--search-attribute', `${name}=Keyword`);
const server = spawn(join(cacheDir, pins.temporal.key, pins.temporal.binaries.temporal), args, { stdio: 'inherit' });
process.stderr.write(`[dev-server] Temporal on 127.0.0.1:${port}; Web UI http://localhost:${uiPort}; state in ${db}; Ctrl-C stops it\n`);
process.stderr.write(`[dev-server] export TEMPORAL_ADDRESS=127.0.0.1:${port}\n`);
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => server.kill(sig));
server.on('exit', (code) => process.exit(code ?? 0));
