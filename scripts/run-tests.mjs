#!/usr/bin/env node
// Runs the compiled test files (dist/test/**/*.test.js) with node:test; extra arguments filter by path.
// --tier=fast (npm test: Node and the Temporal binaries only) or --tier=e2e (npm run test:e2e: the rest,
// see scripts/test-tiers.mjs); without it, every file.
import { spawnSync } from 'node:child_process';
import { readdirSync, rmSync, statSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { tierOf } from './test-tiers.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const testDir = join(root, 'dist', 'test');

function walk(dir) {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? walk(path) : path.endsWith('.test.js') ? [path] : [];
  });
}

// --scenarios=N: the randomized invariant test with N scenarios on the apiserver (5N on memory), no time limit.
const scenarios = process.argv.find((a) => a.startsWith('--scenarios='))?.split('=')[1];
if (scenarios !== undefined && !(Number(scenarios) > 0)) {
  console.error(`--scenarios needs a positive number, e.g. --scenarios=200 (found: ${scenarios})`);
  process.exit(2);
}
const tier = process.argv.find((a) => a.startsWith('--tier='))?.split('=')[1];
if (tier !== undefined && tier !== 'fast' && tier !== 'e2e') {
  console.error(`--tier is fast (npm test) or e2e (npm run test:e2e) (found: ${tier})`);
  process.exit(2);
}
const filters = process.argv.slice(2).filter((a) => !a.startsWith('--scenarios=') && !a.startsWith('--tier='));
if (scenarios && filters.length === 0) filters.push('invariants');
const files = walk(testDir)
  .sort()
  .filter((f) => filters.length === 0 || filters.some((x) => relative(root, f).includes(x)))
  .filter((f) => tier === undefined || tierOf(f, join(root, 'dist')).tier === tier);
if (files.length === 0) {
  console.error(
    `no test files matched ${filters.join(' ') || '(all)'}${tier ? ` in tier ${tier}` : ''} under ${relative(root, testDir)}; run \`npm run build\` first`,
  );
  process.exit(1);
}
console.error(`[tests] ${files.length} file(s)${tier ? ` (tier ${tier})` : ''}: ${files.map((f) => relative(testDir, f)).join(', ')}`);
// Per file, a net for a hang, not a measure of speed: the fault-injection files run whole rotations
// through kills and restarts (about 3 min each), and the demo's file five acts on a world with Flux
// (about 4.5 min alone, up to 7 beside another heavy file on 2 cores).
const timeout = scenarios ? [] : ['--test-timeout=600000'];
const env = scenarios ? { ...process.env, ROTOR_SCENARIOS: scenarios } : process.env;
// The leak check's evidence (test/helpers/leak.ts) is this run's alone.
const leakDir = join(root, '.rotor', 'leak');
rmSync(leakDir, { recursive: true, force: true });
// Every error a test provokes is leak-check evidence too (test/helpers/record-errors.ts, inherited by each test process).
const preload = ['--require', join(testDir, 'helpers', 'record-errors.js')];
const result = spawnSync(process.execPath, [...preload, '--test', '--test-concurrency=2', ...timeout, ...files], { stdio: 'inherit', cwd: root, env });
// After the tests, whatever they ended with: no secret value in any history or output they recorded.
const leaks = spawnSync(process.execPath, [join(root, 'scripts', 'leak-check.mjs'), leakDir], { stdio: 'inherit', cwd: root });
process.exit(result.status || leaks.status || 0);
