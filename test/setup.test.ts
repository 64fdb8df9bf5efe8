// Setting up: what `npm ci` leaves, what bin/rotor.js says when dist/ is missing, and what the worker
// says when it starts.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { repoRoot } from './helpers/tools';
import { generateCodecKey } from '../temporal/codec';
import { dataConverter } from '../temporal/settings';
import { workerBanner } from '../worker/banner';
import { workerConfig } from '../worker/config';
import { buildDeps, bundleLogger } from '../worker/index';

const read = (f: string) => readFileSync(join(repoRoot, f), 'utf8');

describe('setting up', () => {
  it('npm ci builds the CLI: prepare compiles what bin/rotor.js runs', () => {
    const pkg = JSON.parse(read('package.json')) as { scripts: Record<string, string>; bin: Record<string, string> };
    assert.equal(pkg.scripts.prepare, pkg.scripts.build, 'prepare is the incremental build');
    const tsconfig = JSON.parse(read('tsconfig.json')) as { compilerOptions: { outDir: string; incremental: boolean }; include: string[] };
    assert.equal(tsconfig.compilerOptions.incremental, true, 'npm test compiles again right after: it must be a no-op');
    assert.ok(tsconfig.include.includes('client'));
    assert.match(read(pkg.bin.rotor), new RegExp(`'${tsconfig.compilerOptions.outDir}', 'client', 'cli\\.js'`));
  });

  it("the Dockerfile's npm ci skips prepare: the sources are copied after it, and tsc runs once they are", () => {
    const lines = read('Dockerfile').split('\n');
    const ci = lines.findIndex((l) => /^RUN npm ci\b/.test(l));
    assert.match(lines[ci], /--ignore-scripts/);
    assert.ok(lines.findIndex((l) => l.startsWith('COPY tsconfig.json')) > ci);
    assert.ok(lines.findIndex((l) => /^RUN npx tsc -p tsconfig\.json/.test(l)) > ci);
  });

  it('bin/rotor.js without dist/ says how to build it: npm ci without packages, npm run build with them', () => {
    const root = mkdtempSync(join(tmpdir(), 'rotor-unbuilt-'));
    mkdirSync(join(root, 'bin'));
    copyFileSync(join(repoRoot, 'bin', 'rotor.js'), join(root, 'bin', 'rotor.js'));
    const run = () => spawnSync(process.execPath, [join(root, 'bin', 'rotor.js'), '--help'], { encoding: 'utf8' });
    const bare = run();
    assert.equal(bare.status, 1);
    assert.equal(
      bare.stderr,
      `rotor is not built (no dist/client/cli.js): run \`npm ci\` (it installs the packages and builds; \`--ignore-scripts\` skips the build) in ${root}\n`,
    );
    mkdirSync(join(root, 'node_modules', 'typescript'), { recursive: true });
    const installed = run();
    assert.equal(installed.status, 1);
    assert.equal(installed.stderr, `rotor is not built (no dist/client/cli.js): run \`npm run build\` in ${root}\n`);
  });
});

describe('the worker at start', () => {
  it("keeps webpack's report out of the log, but not its warnings and errors", () => {
    const lines: string[] = [];
    const logger = bundleLogger((m) => lines.push(m));
    logger.info('asset workflow-bundle.js 4.62 MiB [emitted]\nwebpack 5.113.0 compiled successfully in 2038 ms');
    logger.info('Workflow bundle created');
    assert.deepEqual(lines, []);
    logger.info('WARNING in ./dist/workflows/index.js\nModule not found');
    logger.warn('careful');
    logger.log('ERROR', 'broken');
    assert.deepEqual(lines, [
      '[rotor] workflow bundle: warning WARNING in ./dist/workflows/index.js\nModule not found',
      '[rotor] workflow bundle: warning careful',
      '[rotor] workflow bundle: error broken',
    ]);
  });

  it('says in two lines what it serves and where: a memory world with the codec on, named by key id only', () => {
    const key = generateCodecKey('k2026-12');
    const env = { ROTOR_BACKEND: 'memory', ROTOR_MEMORY_WORLD: 'examples/world.json', ROTOR_CODEC_KEY: key, TEMPORAL_ADDRESS: 'temporal.example:7233' };
    const config = workerConfig(env);
    const banner = workerBanner(
      config,
      buildDeps(config, () => undefined),
      dataConverter(env),
      undefined,
      env,
    );
    assert.deepEqual(banner, [
      'worker ready: Temporal namespace default, task queue rotor, backend memory; stores kubernetes; metrics prometheus, datadog from the memory world; ' +
        'issuer none (value.issuer refused); value.fromFile refused (no ROTOR_VALUE_DIR)',
      'Temporal at temporal.example:7233; memory world examples/world.json; codec on (ROTOR_CODEC_KEY; encrypts with k2026-12)',
    ]);
    assert.ok(!banner.join('\n').includes(key.split('=')[1]));
  });
});
