// Setting up: what `npm ci` leaves, what bin/rotor.js says when dist/ is missing, and what the worker
// says when it starts.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { describe, it } from 'node:test';
import ts from 'typescript';
import { repoRoot } from './helpers/tools';
import { generateCodecKey } from '../temporal/codec';
import { dataConverter } from '../temporal/settings';
import { workerBanner } from '../worker/banner';
import { workerConfig } from '../worker/config';
import { bundleLogger } from '../worker/index';
import { buildDeps } from '../worker/deps';

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
        'issuer none (value.issuer refused); git none (gitops refused); value.fromFile refused (no ROTOR_VALUE_DIR)',
      'Temporal at temporal.example:7233; memory world examples/world.json; codec on (ROTOR_CODEC_KEY; encrypts with k2026-12)',
    ]);
    assert.ok(!banner.join('\n').includes(key.split('=')[1]));
  });
});

/** The directories whose code runs under an npm script (tests, benchmarks, tools) or as rotor itself. */
const CODE_DIRS = ['bin', 'domain', 'contract', 'temporal', 'workflows', 'activities', 'worker', 'client', 'sandbox', 'scripts', 'test', 'bench'];
/** The shell's own: found on every machine, set by no one for rotor. */
const SYSTEM_VARS = new Set(['PATH', 'HOME']);

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const path = join(dir, e.name);
    if (e.isDirectory()) return ['history_files', 'fixtures'].includes(e.name) ? [] : sourceFiles(path);
    return /\.(ts|mjs|js)$/.test(e.name) ? [path] : [];
  });
}

/**
 * The environment variables a file reads: `process.env.X`, `env.X`, `env['X']`, `env[NAME]` with a
 * constant of the file, and `const { X, Y: y } = env`, where the object is `process.env` or anything
 * named `env`. Writes (`process.env.X = ...`, `delete`) are not reads.
 */
export function envReads(fileName: string, text: string): string[] {
  const file = ts.createSourceFile(fileName, text, ts.ScriptTarget.Latest, true);
  const constants = new Map<string, string>();
  const found = new Set<string>();
  const isEnv = (e: ts.Expression) => (ts.isIdentifier(e) && e.text === 'env') || (ts.isPropertyAccessExpression(e) && e.name.text === 'env');
  const isVar = (name: string | undefined): name is string => !!name && /^[A-Z][A-Z0-9_]*$/.test(name);
  const written = (node: ts.Node) =>
    (ts.isBinaryExpression(node.parent) && node.parent.left === node && node.parent.operatorToken.kind === ts.SyntaxKind.EqualsToken) ||
    ts.isDeleteExpression(node.parent);
  const collect = (node: ts.Node): void => {
    if (ts.isVariableDeclaration(node) && ts.isIdentifier(node.name) && node.initializer && ts.isStringLiteral(node.initializer))
      constants.set(node.name.text, node.initializer.text);
    ts.forEachChild(node, collect);
  };
  const visit = (node: ts.Node): void => {
    if (ts.isPropertyAccessExpression(node) && isEnv(node.expression) && isVar(node.name.text) && !written(node)) found.add(node.name.text);
    if (ts.isElementAccessExpression(node) && isEnv(node.expression) && !written(node)) {
      const arg = node.argumentExpression;
      const name = ts.isStringLiteral(arg) ? arg.text : ts.isIdentifier(arg) ? constants.get(arg.text) : undefined;
      if (isVar(name)) found.add(name);
    }
    // A helper handed the environment and a variable's name reads it: credentialSetting(env, 'X', ...)
    // and isSet(env, 'X') read X and the file form X_FILE.
    if (
      ts.isCallExpression(node) &&
      node.arguments.length >= 2 &&
      isEnv(node.arguments[0]) &&
      ts.isStringLiteral(node.arguments[1]) &&
      isVar(node.arguments[1].text)
    ) {
      const name = node.arguments[1].text;
      found.add(name);
      if (ts.isIdentifier(node.expression) && ['credentialSetting', 'isSet'].includes(node.expression.text)) found.add(`${name}_FILE`);
    }
    if (ts.isVariableDeclaration(node) && ts.isObjectBindingPattern(node.name) && node.initializer && isEnv(node.initializer)) {
      for (const el of node.name.elements) {
        const name = el.propertyName ?? el.name;
        if (ts.isIdentifier(name) && isVar(name.text)) found.add(name.text);
      }
    }
    ts.forEachChild(node, visit);
  };
  collect(file);
  visit(file);
  return [...found];
}

/** The variables the "Environment variables" table of docs/cli.md names in its first column. */
function documentedVars(page: string): Set<string> {
  const section = page.split(/^## Environment variables$/m)[1]?.split(/^## /m)[0] ?? '';
  const rows = section.split('\n').filter((l) => l.startsWith('| `'));
  return new Set(rows.flatMap((row) => [...row.split('|')[1].matchAll(/`([A-Z][A-Z0-9_]*)`/g)].map((m) => m[1])));
}

describe('environment variables', () => {
  const reads = new Map<string, string[]>();
  for (const file of CODE_DIRS.flatMap((d) => sourceFiles(join(repoRoot, d)))) {
    for (const name of envReads(file, readFileSync(file, 'utf8'))) reads.set(name, [...(reads.get(name) ?? []), relative(repoRoot, file)]);
  }
  const documented = documentedVars(read('docs/cli.md'));

  it('finds reads in every form the code uses, and not writes', () => {
    const sample = [
      "const KEY = 'SAMPLE_CONST';",
      'const a = process.env.SAMPLE_DOT ?? env.SAMPLE_ENV;',
      "const b = env['SAMPLE_INDEX'] ?? env[KEY];",
      'const { SAMPLE_BOUND: bound, SAMPLE_SHORT } = process.env;',
      "process.env.SAMPLE_WRITTEN = '1';",
      'delete process.env.SAMPLE_DELETED;',
      'const c = options.environment.NOT_ENV;',
      "const d = credentialSetting(env, 'SAMPLE_CREDENTIAL', problems);",
      "const e = describe(options, 'NOT_A_READ');",
    ].join('\n');
    assert.deepEqual(envReads('sample.ts', sample).sort(), [
      'SAMPLE_BOUND',
      'SAMPLE_CONST',
      'SAMPLE_CREDENTIAL',
      'SAMPLE_CREDENTIAL_FILE',
      'SAMPLE_DOT',
      'SAMPLE_ENV',
      'SAMPLE_INDEX',
      'SAMPLE_SHORT',
    ]);
    // What this test relies on, from the code itself: one read of each form.
    for (const name of ['TEMPORAL_PORT', 'ROTOR_CODEC_KEY', 'DD_API_KEY', 'ROTOR_SEED']) assert.ok(reads.has(name), `${name} found`);
  });

  it('docs/cli.md documents every variable the code reads, in its Environment variables table', () => {
    const missing = [...reads.keys()].filter((name) => !SYSTEM_VARS.has(name) && !documented.has(name)).sort();
    assert.deepEqual(
      missing.map((name) => `${name} (read by ${reads.get(name)!.join(', ')})`),
      [],
      'add a row to docs/cli.md, Environment variables: name, default, read by, what it does',
    );
  });
});
