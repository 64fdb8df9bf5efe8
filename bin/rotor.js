#!/usr/bin/env node
'use strict';
// The rotor CLI; it runs the compiled TypeScript in dist/, which `npm ci` builds (the `prepare` script)
// and `npm run build` brings up to date.
const { existsSync } = require('node:fs');
const { join } = require('node:path');
const root = join(__dirname, '..');
const entry = join(root, 'dist', 'client', 'cli.js');
if (!existsSync(entry)) {
  const how = existsSync(join(root, 'node_modules', 'typescript'))
    ? '`npm run build`'
    : '`npm ci` (it installs the packages and builds; `--ignore-scripts` skips the build)';
  process.stderr.write(`rotor is not built (no dist/client/cli.js): run ${how} in ${root}\n`);
  process.exit(1);
}
// A reader that went away (`rotor list | head -1`) wants no more: stop quietly, as kubectl and git do.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (err) => {
    if (err && err.code === 'EPIPE') process.exit(0);
    throw err;
  });
}
// Exit once what was written has reached the pipe: a reader of a long `status --json` gets all of it,
// not the first 64 KiB (process.exit drops writes still queued to a pipe).
function exit(code) {
  process.stdout.write('', () => process.stderr.write('', () => process.exit(code)));
}
require(entry)
  .main(process.argv.slice(2))
  .then(
    (code) => exit(code ?? 0),
    (err) => {
      process.stderr.write(`rotor: ${err && err.message ? err.message : err}\n`);
      exit(1);
    },
  );
