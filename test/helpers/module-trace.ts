// Preloaded into a process under test (`node --require dist/test/helpers/module-trace.js ...`): when it
// exits, every module file it loaded is appended to the file ROTOR_MODULE_TRACE names, one path a line.
// CommonJS modules (those loaded by import() too) are read from require.cache at exit, an ES module
// package required from CommonJS by its entry file there too; ES modules loaded by import() (vega) are
// seen by a resolve hook, which writes each one as it is resolved.
import { appendFileSync } from 'node:fs';
import { register } from 'node:module';

const trace = process.env.ROTOR_MODULE_TRACE;
if (trace) {
  const hooks = `import { appendFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
let trace;
export function initialize(data) { trace = data.trace; }
export async function resolve(specifier, context, next) {
  const resolved = await next(specifier, context);
  if (resolved.url.startsWith('file:')) appendFileSync(trace, fileURLToPath(resolved.url) + '\\n');
  return resolved;
}`;
  register(`data:text/javascript,${encodeURIComponent(hooks)}`, { data: { trace } });
  process.on('exit', () => appendFileSync(trace, Object.keys(require.cache).join('\n') + '\n'));
}
