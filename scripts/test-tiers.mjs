// Which tier a compiled test file belongs to. `fast` needs only Node and the Temporal binaries (npm test);
// `e2e` needs a part the bootstrap builds or installs besides them (npm run test:e2e): the control plane,
// Prometheus, moto, the External Secrets operator, Flux, Chromium, Helm or the previous release. Judged from
// what the file loads, directly or through any module it requires, so a new test lands in the right
// tier by itself: it is e2e as soon as it reaches one of those parts.
import { existsSync, readFileSync } from 'node:fs';
import { dirname, relative, resolve } from 'node:path';

/** Modules (relative to dist/) that start a part only `npm run test:e2e` bootstraps. */
export const E2E_MODULES = [
  'sandbox/control-plane.js',
  'sandbox/moto.js',
  'sandbox/prometheus.js',
  'sandbox/browser.js',
  'sandbox/eso-operator.js',
  'sandbox/flux.js',
];
/** Calls of sandbox/tools.js that find a part only `npm run test:e2e` bootstraps. */
const E2E_CALLS = /\b(helmBinary|previousRelease)\)?\(/;
const TOOLS = 'sandbox/tools.js';

function required(file) {
  const source = readFileSync(file, 'utf8');
  return [...source.matchAll(/require\("(\.{1,2}\/[^"]+)"\)/g)].map(([, spec]) => {
    const path = resolve(dirname(file), spec);
    if (path.endsWith('.js')) return path;
    return existsSync(`${path}.js`) ? `${path}.js` : resolve(path, 'index.js');
  });
}

/** 'e2e' and why (the module that reaches such a part), or 'fast'. */
export function tierOf(file, distRoot) {
  const seen = new Set();
  const visit = (path) => {
    if (seen.has(path) || !existsSync(path)) return null;
    seen.add(path);
    const rel = relative(distRoot, path).split('\\').join('/');
    if (E2E_MODULES.includes(rel)) return rel;
    if (rel !== TOOLS && E2E_CALLS.test(readFileSync(path, 'utf8'))) return rel;
    for (const dep of required(path)) {
      const why = visit(dep);
      if (why) return why;
    }
    return null;
  };
  const why = visit(file);
  return why ? { tier: 'e2e', why } : { tier: 'fast', why: null };
}

// `node scripts/test-tiers.mjs [dist]`: each compiled test file's tier and why, one JSON object a line.
if (process.argv[1] && resolve(process.argv[1]) === resolve(new URL(import.meta.url).pathname)) {
  const dist = resolve(process.argv[2] ?? 'dist');
  const { readdirSync } = await import('node:fs');
  const walk = (dir) =>
    readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
      e.isDirectory() ? walk(resolve(dir, e.name)) : e.name.endsWith('.test.js') ? [resolve(dir, e.name)] : [],
    );
  for (const file of walk(resolve(dist, 'test')).sort()) console.log(JSON.stringify({ file: relative(dist, file), ...tierOf(file, dist) }));
}
