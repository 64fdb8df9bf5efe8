// Debian's chromium for the Web UI test (test/e2e-webui.test.ts), which drives it headless with
// puppeteer-core: puppeteer's own browser download is never used. Found at $ROTOR_CHROMIUM,
// /usr/bin/chromium or `chromium` on PATH; installed with apt when absent and we are root.
import { execFileSync } from 'node:child_process';
import { accessSync, constants, existsSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { log } from './kube-tools.mjs';

const HOW = "install Debian's chromium package (`apt-get install chromium`, as root) or set ROTOR_CHROMIUM=/path/to/chrome";

function executable(path) {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** The chromium binary, or null: $ROTOR_CHROMIUM (which must then exist), /usr/bin/chromium, `chromium` on PATH. */
export function findChromium(env = process.env) {
  if (env.ROTOR_CHROMIUM) {
    if (!executable(env.ROTOR_CHROMIUM)) throw new Error(`ROTOR_CHROMIUM=${env.ROTOR_CHROMIUM} is not an executable file; ${HOW}`);
    return env.ROTOR_CHROMIUM;
  }
  if (executable('/usr/bin/chromium')) return '/usr/bin/chromium';
  for (const dir of (env.PATH ?? '').split(delimiter).filter(Boolean)) {
    if (executable(join(dir, 'chromium'))) return join(dir, 'chromium');
  }
  return null;
}

/** `chromium --version`, e.g. "Chromium 156.0.8078.108 built on Debian GNU/Linux 12 (bookworm)". */
export function chromiumVersion(path) {
  return execFileSync(path, ['--version'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 30_000 }).trim();
}

/** True when this process may install Debian packages: root, with apt-get. */
export function canApt() {
  return typeof process.getuid === 'function' && process.getuid() === 0 && hasAptGet();
}

function hasAptGet() {
  return ['/usr/bin/apt-get', '/bin/apt-get'].some(existsSync);
}

function apt(args) {
  // Captured so a failure can be told apart (no package lists) and reported with apt's own words.
  return execFileSync('apt-get', args, {
    encoding: 'utf8',
    env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
    stdio: ['ignore', 'pipe', 'pipe'],
    maxBuffer: 64 * 1024 * 1024,
  });
}

function aptOutput(err) {
  return `${err.stdout ?? ''}${err.stderr ?? ''}`.trim() || err.message;
}

/** What apt says when it has no package lists yet (a fresh image) or stale ones (a removed version). */
const NEEDS_UPDATE = /Unable to locate package|has no installation candidate|Failed to fetch|404\s+Not Found/;

/** apt-get install `pkg` (apt-get update first when its lists are missing or stale); `how`: what the error tells the user to do. */
export function aptInstall(pkg, { what = pkg, how = HOW } = {}) {
  const args = ['install', '-y', '--no-install-recommends', pkg];
  try {
    apt(args);
  } catch (err) {
    const output = aptOutput(err);
    if (!NEEDS_UPDATE.test(output)) throw new Error(`apt-get ${args.join(' ')} failed:\n${output.slice(-2000)}\n${how}`);
    log(`${what}: apt has no usable package lists; apt-get update ...`);
    try {
      apt(['update']);
      apt(args);
    } catch (again) {
      throw new Error(`apt-get update && apt-get ${args.join(' ')} failed:\n${aptOutput(again).slice(-2000)}\n${how}`);
    }
  }
}

/** The major version of a `chromium --version` line, or NaN. */
export function majorOf(version) {
  return Number(/(\d+)\.\d+\.\d+/.exec(version)?.[1]);
}

/** Finds chromium, or installs Debian's package when we may (root, apt-get); returns its path. */
export function installBrowser(spec) {
  let path = findChromium();
  if (path) {
    const version = chromiumVersion(path);
    log(`chromium: ${version} at ${path}`);
    checkMajor(spec, version);
    return path;
  }
  const root = typeof process.getuid === 'function' && process.getuid() === 0;
  if (!root || !hasAptGet()) {
    throw new Error(
      `chromium not found (looked at $ROTOR_CHROMIUM, /usr/bin/chromium and PATH) and ${root ? 'there is no apt-get' : 'not root'} to install it: ${HOW}`,
    );
  }
  const started = Date.now();
  log(`chromium: apt-get install --no-install-recommends ${spec.apt} (Debian's package, major ${spec.major} expected; about a minute, once per machine) ...`);
  aptInstall(spec.apt, { what: 'chromium' });
  path = findChromium();
  if (!path) throw new Error(`apt-get installed ${spec.apt} but no chromium binary is at /usr/bin/chromium or on PATH: ${HOW}`);
  const version = chromiumVersion(path);
  log(`chromium: installed ${version} at ${path} in ${Math.round((Date.now() - started) / 1000)} s`);
  checkMajor(spec, version);
  return path;
}

function checkMajor(spec, version) {
  const major = majorOf(version);
  if (major !== spec.major) {
    log(
      `chromium: warning: major ${Number.isNaN(major) ? '(unknown)' : major}, tools.json expects ${spec.major}; the Web UI test was written against ${spec.major} and may not drive another`,
    );
  }
}
