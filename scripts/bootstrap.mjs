#!/usr/bin/env node
// Installs the pinned tools rotor's tests and demo need into a cache outside the clone
// (~/.cache/rotor, or $ROTOR_CACHE), keyed by version, so a machine installs each version once.
// The Temporal SDK's own download of its servers cannot work offline; this replaces it.
// With --browser (or --all) it also makes sure Debian's chromium is there for the Web UI test (apt, as root).
// With --helm (or --all) it builds Helm from the Go module proxy (for the chart's lint, dry run and deploy:render).
// With --moto (or --all) it installs moto_server, the local AWS Secrets Manager of the AWS store's tests.
// With --external-secrets (or --all) it fetches External Secrets Operator's CRD bundle (one file) and builds the
// operator (8 minutes on 2 cores the first time), both from the Go module proxy.
// With --flux (or --all) it builds Flux's source-controller and kustomize-controller from the Go module proxy and
// keeps their CRDs (7 minutes on 2 cores the first time; the figures in scripts/flux-tools.mjs).
// With --temporal-server (or --all; npm test passes it) it builds a real Temporal server and its sql tool from the Go
// module proxy and makes sure Debian's PostgreSQL 15 is installed, for the PostgreSQL-backed test and sandbox
// (about 8 minutes on 2 cores the first time; the figures in scripts/temporal-server-tools.mjs).
// With --previous-release (or --all) it builds the release before this one from this clone's history
// (tools.json previousRelease, 1.5 minutes the first time) for the upgrade test.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { installBrowser } from './browser-tools.mjs';
import { installExternalSecretsCrds, installExternalSecretsOperator } from './eso-tools.mjs';
import { installFlux } from './flux-tools.mjs';
import { installHelm } from './helm-tools.mjs';
import { installKubernetes } from './kube-tools.mjs';
import { installPrometheus } from './prometheus-tools.mjs';
import { installPreviousRelease } from './release-tools.mjs';
import { installTemporalServer } from './temporal-server-tools.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const pins = JSON.parse(readFileSync(join(root, 'tools.json'), 'utf8'));
export const cacheDir = process.env.ROTOR_CACHE || join(homedir(), '.cache', 'rotor');

function log(msg) {
  process.stderr.write(`[bootstrap] ${msg}\n`);
}

function python() {
  for (const candidate of [process.env.PYTHON, 'python3', 'python'].filter(Boolean)) {
    try {
      execFileSync(candidate, ['--version'], { stdio: 'ignore' });
      return candidate;
    } catch {
      /* try the next one */
    }
  }
  throw new Error('bootstrap needs Python 3 with venv and pip (set PYTHON=/path/to/python3)');
}

/** A pip-installed tool set in its own venv at <cache>/<key>; skipped when its marker is present. */
function installPipTools(name, spec) {
  const target = join(cacheDir, spec.key);
  const marker = join(target, '.installed');
  if (existsSync(marker)) {
    log(`${name}: ${spec.key} already in ${target}`);
    return target;
  }
  mkdirSync(cacheDir, { recursive: true });
  const staging = `${target}.partial-${process.pid}`;
  rmSync(staging, { recursive: true, force: true });
  const started = Date.now();
  log(`${name}: creating venv for ${spec.pip.join(', ')} (once per machine, under a minute) ...`);
  execFileSync(python(), ['-m', 'venv', '--prompt', spec.key, staging], { stdio: 'inherit' });
  log(`${name}: pip install ${spec.pip.join(' ')} ...`);
  // A constraints file pins every dependency too, so a later release of one cannot change the tool under the tests.
  const constraints = spec.constraints ? ['-c', join(root, spec.constraints)] : [];
  execFileSync(join(staging, 'bin', 'pip'), ['install', '--disable-pip-version-check', '--progress-bar', 'off', ...constraints, ...spec.pip], {
    stdio: 'inherit',
  });
  // A venv is not relocatable in general: the static binaries under bin/ (temporal) move as they are,
  // but a Python tool's scripts (moto_server) name the staging venv's python in their #! line.
  rmSync(target, { recursive: true, force: true });
  renameSync(staging, target);
  relinkScripts(join(target, 'bin'), staging, target);
  for (const [tool, rel] of Object.entries(spec.binaries)) {
    if (!existsSync(join(target, rel))) throw new Error(`${name}: ${tool} missing at ${join(target, rel)} after install`);
  }
  writeFileSync(marker, JSON.stringify({ pip: spec.pip, constraints: spec.constraints ?? null, installedAt: new Date().toISOString() }) + '\n');
  log(`${name}: installed in ${Math.round((Date.now() - started) / 1000)} s`);
  return target;
}

/** Rewrites `from` to `to` in the text scripts (a #! line, the activate scripts) of a moved venv's bin/. */
function relinkScripts(binDir, from, to) {
  for (const name of readdirSync(binDir)) {
    const path = join(binDir, name);
    const stat = statSync(path, { throwIfNoEntry: false });
    if (!stat?.isFile() || stat.size > 1_000_000) continue;
    const bytes = readFileSync(path);
    if (!(bytes[0] === 0x23 && bytes[1] === 0x21) && !name.startsWith('activate')) continue; // not a #! script
    const text = bytes.toString('utf8');
    if (text.includes(from)) writeFileSync(path, text.split(from).join(to));
  }
}

export function bootstrap() {
  installPipTools('temporal', pins.temporal);
}

/** The local Kubernetes control plane (built from the Go module proxy; minutes the first time). */
export function bootstrapKubernetes() {
  return installKubernetes(cacheDir, pins.kubernetes);
}

/** A real Temporal server and temporal-sql-tool (Go module proxy) with the PostgreSQL schema, and Debian's PostgreSQL 15. */
export function bootstrapTemporalServer() {
  return installTemporalServer(cacheDir, pins['temporal-server']);
}

/** The Prometheus server the metric tests and the sandbox query (built from the Go module proxy). */
export function bootstrapPrometheus() {
  return installPrometheus(cacheDir, pins.prometheus);
}

/** Helm, for the chart in deploy/helm/rotor (built from the Go module proxy); the path of its binary. */
export async function bootstrapHelm() {
  return join(await installHelm(cacheDir, pins.helm), pins.helm.binaries.helm);
}

/** moto_server, a local AWS Secrets Manager for the AWS store's tests (pip, in its own venv). */
export function bootstrapMoto() {
  return installPipTools('moto', pins.moto);
}

/** External Secrets Operator's CRDs (deploy/crds/bundle.yaml of its Go module) and the operator built from it. */
export async function bootstrapExternalSecrets() {
  const bundle = await installExternalSecretsCrds(cacheDir, pins['external-secrets']);
  const operator = await installExternalSecretsOperator(cacheDir, pins['external-secrets']);
  return { bundle, operator };
}

/** Flux's source-controller and kustomize-controller with their CRDs (built from the Go module proxy). */
export function bootstrapFlux() {
  return installFlux(cacheDir, pins.flux);
}

/** Debian's chromium for the Web UI test (apt, as root, when absent; never puppeteer's download). */
export function bootstrapBrowser() {
  return installBrowser(pins.chromium);
}

/** The release before this one, built from this clone's history, for the upgrade test. */
export function bootstrapPreviousRelease() {
  return installPreviousRelease(cacheDir, pins.previousRelease, root);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const wantKube = process.argv.includes('--kubernetes') || process.argv.includes('--all');
  const wantPrometheus = process.argv.includes('--prometheus') || process.argv.includes('--all');
  const wantHelm = process.argv.includes('--helm') || process.argv.includes('--all');
  const wantBrowser = process.argv.includes('--browser') || process.argv.includes('--all');
  const wantMoto = process.argv.includes('--moto') || process.argv.includes('--all');
  const wantEso = process.argv.includes('--external-secrets') || process.argv.includes('--all');
  const wantFlux = process.argv.includes('--flux') || process.argv.includes('--all');
  const wantTemporalServer = process.argv.includes('--temporal-server') || process.argv.includes('--all');
  const wantRelease = process.argv.includes('--previous-release') || process.argv.includes('--all');
  Promise.resolve()
    .then(async () => {
      bootstrap();
      if (wantTemporalServer) await bootstrapTemporalServer();
      if (wantKube) await bootstrapKubernetes();
      if (wantPrometheus) await bootstrapPrometheus();
      if (wantHelm) await bootstrapHelm();
      if (wantBrowser) bootstrapBrowser();
      if (wantMoto) bootstrapMoto();
      if (wantEso) await bootstrapExternalSecrets();
      if (wantFlux) await bootstrapFlux();
      if (wantRelease) bootstrapPreviousRelease();
    })
    .catch((err) => {
      log(`failed: ${err.message}`);
      process.exit(1);
    });
}
