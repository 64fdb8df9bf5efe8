// Where the bootstrap put the pinned tools (tools.json, scripts/bootstrap.mjs).
import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';

export const repoRoot = join(__dirname, '..', '..');
export const cacheDir = process.env.ROTOR_CACHE || join(homedir(), '.cache', 'rotor');
const pins = JSON.parse(readFileSync(join(repoRoot, 'tools.json'), 'utf8')) as {
  temporal: { key: string; binaries: { temporal: string; testServer: string } };
  'temporal-server': {
    key: string;
    schema: string;
    binaries: { temporalServer: string; sqlTool: string; ui: string };
    postgres: { bin: string; apt: string };
  };
  prometheus: { key: string; binaries: { prometheus: string } };
  helm: { key: string; binaries: { helm: string } };
  moto: { key: string; binaries: { motoServer: string } };
  previousRelease: { key: string; commit: string; binaries: { rotor: string } };
};

function tool(rel: string, key = pins.temporal.key): string {
  const path = join(cacheDir, key, rel);
  if (!existsSync(path)) {
    const temporal = key === pins.temporal.key;
    throw new Error(
      `${path} is missing: run \`node scripts/bootstrap.mjs${temporal ? '' : ' --all'}\` (${temporal ? 'npm test' : 'npm run test:e2e'} does it for you)`,
    );
  }
  return path;
}

export const temporalCli = (): string => tool(pins.temporal.binaries.temporal);
export const temporalTestServer = (): string => tool(pins.temporal.binaries.testServer);
/** The real Temporal server, its sql tool, the Web UI server, the PostgreSQL schema they came with, and Debian's PostgreSQL binaries. */
export function temporalServerTools(): { temporalServer: string; sqlTool: string; ui: string; schema: string; postgresBin: string } {
  const spec = pins['temporal-server'];
  const how = '`node scripts/bootstrap.mjs --temporal-server` (npm test does it for you)';
  if (!existsSync(join(cacheDir, spec.key, '.installed'))) throw new Error(`the Temporal server is not built: run ${how}`);
  if (!existsSync(join(spec.postgres.bin, 'postgres')))
    throw new Error(`PostgreSQL is not at ${spec.postgres.bin}: run ${how} as root, or install ${spec.postgres.apt}`);
  const at = (rel: string) => join(cacheDir, spec.key, rel);
  return {
    temporalServer: at(spec.binaries.temporalServer),
    sqlTool: at(spec.binaries.sqlTool),
    ui: at(spec.binaries.ui),
    schema: at(spec.schema),
    postgresBin: spec.postgres.bin,
  };
}
export const prometheusBinary = (): string => tool(pins.prometheus.binaries.prometheus, pins.prometheus.key);
export const helmBinary = (): string => tool(pins.helm.binaries.helm, pins.helm.key);
export const motoServer = (): string => tool(pins.moto.binaries.motoServer, pins.moto.key);

/** The previous release's checkout, built (scripts/release-tools.mjs), and the commit it is. */
export const previousRelease = (): { root: string; commit: string } => {
  if (!existsSync(join(cacheDir, pins.previousRelease.key, '.installed')))
    throw new Error(`the previous release is not built: run \`node scripts/bootstrap.mjs --previous-release\` (npm run test:e2e does it for you)`);
  return { root: join(cacheDir, pins.previousRelease.key), commit: pins.previousRelease.commit };
};
