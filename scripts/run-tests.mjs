#!/usr/bin/env node
// Runs every compiled test file (dist/test/**/*.test.js) with node:test; extra arguments filter by path.
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const testDir = join(root, 'dist', 'test');

function walk(dir) {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? walk(path) : path.endsWith('.test.js') ? [path] : [];
  });
}

const filters = process.argv.slice(2);
const files = walk(testDir)
  .sort()
  .filter((f) => filters.length === 0 || filters.some((x) => relative(root, f).includes(x)));
if (files.length === 0) {
  console.error(`no test files matched ${filters.join(' ') || '(all)'} under ${relative(root, testDir)}; run \`npm run build\` first`);
  process.exit(1);
}
console.error(`[tests] ${files.length} file(s): ${files.map((f) => relative(testDir, f)).join(', ')}`);
const result = spawnSync(process.execPath, ['--test', '--test-concurrency=2', '--test-timeout=240000', ...files], { stdio: 'inherit', cwd: root });
process.exit(result.status ?? 1);
