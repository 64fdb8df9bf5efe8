// A real Temporal server (not the dev server) from the Go module proxy, into the tools cache once per
// version: temporal-server (cmd/server) and temporal-sql-tool (cmd/tools/sql) from go.temporal.io/server,
// and the module's PostgreSQL schema (schema/postgresql/v12: the base schema and its versioned updates
// for the `temporal` and `temporal_visibility` databases), which the sql tool applies. The server's
// YAML configuration is written by sandbox/temporal-postgres.ts, not copied from the module.
// It also makes sure Debian's PostgreSQL 15 is installed (/usr/lib/postgresql/15/bin; apt-get, as root,
// when absent), which sandbox/temporal-postgres.ts runs as an unprivileged user.
//
// The Web UI server (github.com/temporalio/ui-server/v2, whose module carries the UI's built assets) is
// built too, at the version the Temporal CLI 1.9.1 embeds, for the sandbox's Web UI in that mode.
// Built with the user's Go caches and without -trimpath or build tags, so a build of the same module
// elsewhere on the machine shares its compiled packages.
//
// Cold, measured 2026-12-07 on 2 cores shared with other work (load average 3 to 4): temporal-server
// 443 s from an empty build cache, the download of its ~300 dependency modules included (go.temporal.io/server
// itself was already in the module cache: 1 s), temporal-sql-tool 4 s more, the Web UI server 22 s more
// (modules 2 s; it shares gRPC and protobuf with the server), so about 8 minutes in all. The Web UI server
// alone from an empty build cache took 298 s (niced, beside a test run). With the build cache warm from
// an earlier build of the same module (the lead's /tmp/tsrv), this installer took 41 s: tidy 3 s, server
// 12 s, sql tool 4 s, UI modules 2 s, UI 20 s. Binaries: 211 MB, 58 MB and 36 MB.
import { cpSync, existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { aptInstall, canApt } from './browser-tools.mjs';
import { finishGoInstall, go, goBuild, log, startGoInstall } from './kube-tools.mjs';

/** What a cold install measured (above), for the log line before a build. */
const COLD = 'about 8 minutes (server 7.4, sql tool 0.1, Web UI 0.4)';

const HOW = "install Debian's postgresql-15 package (`apt-get install postgresql-15`, as root)";

/** Debian's PostgreSQL server binaries (initdb, postgres, pg_isready), installed with apt when absent and we are root. */
export function installPostgres(spec) {
  const bin = spec.postgres.bin;
  if (existsSync(join(bin, 'postgres'))) {
    log(`postgresql: ${spec.postgres.apt} at ${bin}`);
    return bin;
  }
  if (!canApt()) throw new Error(`PostgreSQL ${spec.postgres.major} not found at ${bin} and not root with apt-get to install it: ${HOW}`);
  const started = Date.now();
  log(`postgresql: apt-get install --no-install-recommends ${spec.postgres.apt} (once per machine) ...`);
  aptInstall(spec.postgres.apt, { what: 'postgresql', how: HOW });
  if (!existsSync(join(bin, 'postgres'))) throw new Error(`apt-get installed ${spec.postgres.apt} but ${bin}/postgres is not there: ${HOW}`);
  log(`postgresql: installed in ${Math.round((Date.now() - started) / 1000)} s`);
  return bin;
}

/**
 * A throwaway module in `dir` that requires `module` at `version` and imports `packages` ({ binary: package
 * path inside the module }), tidied, then one `go build` per binary into `<work>/<binaries[binary]>`; the
 * module's directory in the module cache, and seconds taken ({ modules, <binary>... }).
 */
async function buildFromModule(work, dir, { module, version, packages }, binaries, seconds) {
  const started = Date.now();
  mkdirSync(dir, { recursive: true });
  const pkgs = Object.values(packages).map((p) => `${module}/${p}`);
  writeFileSync(join(dir, 'go.mod'), `module rotor.local/tools\n\ngo 1.26\n\nrequire ${module} ${version}\n`);
  writeFileSync(join(dir, 'tools.go'), `//go:build tools\n\npackage tools\n\nimport (\n${pkgs.map((p) => `\t_ "${p}"`).join('\n')}\n)\n`);
  log(`temporal-server: ${module} ${version}: go mod tidy (module downloads) ...`);
  go(['mod', 'tidy'], dir, {}, { quiet: true });
  seconds[`${module.split('/').slice(-2).join('/')} modules`] = Math.round((Date.now() - started) / 1000);
  for (const [name, pkg] of Object.entries(packages)) {
    const ms = await goBuild(['-o', join(work, binaries[name]), `${module}/${pkg}`], dir, name);
    seconds[name] = Math.round(ms / 1000);
    log(`${name}: built in ${seconds[name]} s`);
  }
  return go(['list', '-m', '-f', '{{.Dir}}', module], dir).trim();
}

/**
 * `<cache>/<key>/bin/{temporal-server,temporal-sql-tool,temporal-ui-server}` and `<cache>/<key>/<spec.schema>`
 * (spec: { key, module, version, packages: { [binary]: package }, ui: { module, version, packages }, schema,
 * binaries, postgres }); skipped when its marker is present.
 */
export async function installTemporalServer(cacheDir, spec) {
  installPostgres(spec);
  const install = startGoInstall(cacheDir, spec.key, 'temporal-server');
  const { target, work } = install;
  if (install.done) return target;
  const started = Date.now();
  log(
    `temporal-server: building ${spec.module} ${spec.version} (server and sql tool) and ${spec.ui.module} ${spec.ui.version} (the Web UI) from the Go module proxy into ${target}`,
  );
  log(`temporal-server: the first build took ${COLD} on 2 cores; later runs reuse it`);
  const seconds = {};
  const dir = await buildFromModule(work, join(work, 'src'), spec, spec.binaries, seconds);
  // The schema files the sql tool applies, from the module the binaries were built from.
  cpSync(join(dir, spec.schema), join(work, spec.schema), { recursive: true });
  await buildFromModule(work, join(work, 'src-ui'), spec.ui, spec.binaries, seconds);
  for (const src of ['src', 'src-ui']) rmSync(join(work, src), { recursive: true, force: true });
  for (const rel of [...Object.values(spec.binaries), spec.schema]) {
    if (!existsSync(join(work, rel))) throw new Error(`temporal-server: ${rel} missing after the build`);
  }
  const total = Math.round((Date.now() - started) / 1000);
  finishGoInstall(install, { version: spec.version, ui: spec.ui.version, builtInSeconds: total, seconds });
  log(
    `temporal-server: ready in ${target} after ${total} s (${Object.entries(seconds)
      .map(([n, s]) => `${n} ${s} s`)
      .join(', ')})`,
  );
  return target;
}
