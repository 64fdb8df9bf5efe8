// Debian's chromium for the Web UI test, where the bootstrap found or installed it
// (scripts/browser-tools.mjs, `node scripts/bootstrap.mjs --browser`): puppeteer-core drives it, and
// no browser is ever downloaded.
import { accessSync, constants, readFileSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { repoRoot } from './tools';

const pins = JSON.parse(readFileSync(join(repoRoot, 'tools.json'), 'utf8')) as {
  chromium: { apt: string; major: number; binaries: { chromium: string } };
};

const HOW = `run \`node scripts/bootstrap.mjs --browser\` (as root it installs Debian's ${pins.chromium.apt} package; npm run test:e2e does it for you), install Debian's chromium package yourself, or set ROTOR_CHROMIUM=/path/to/chrome`;

function executable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** The chromium binary: $ROTOR_CHROMIUM, /usr/bin/chromium, or `chromium` on PATH; an error that says what to do otherwise. */
export function chromiumPath(env: NodeJS.ProcessEnv = process.env): string {
  if (env.ROTOR_CHROMIUM) {
    if (!executable(env.ROTOR_CHROMIUM)) throw new Error(`ROTOR_CHROMIUM=${env.ROTOR_CHROMIUM} is not an executable file: ${HOW}`);
    return env.ROTOR_CHROMIUM;
  }
  const candidates = [
    pins.chromium.binaries.chromium,
    ...(env.PATH ?? '')
      .split(delimiter)
      .filter(Boolean)
      .map((dir) => join(dir, 'chromium')),
  ];
  const found = candidates.find(executable);
  if (!found) throw new Error(`chromium not found at ${pins.chromium.binaries.chromium} or on PATH: ${HOW}`);
  return found;
}

/** The major version tools.json pins (the Web UI test was written against it). */

/**
 * Flags for headless chromium in a container: no user namespaces for its sandbox (we may be root), no
 * GPU, and a small /dev/shm.
 */
export const CHROMIUM_ARGS: readonly string[] = ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'];
