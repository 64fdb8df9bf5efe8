// Builds the previous release of rotor (tools.json's previousRelease: a commit of this repository)
// into the tools cache, once per commit, for the upgrade test: its worker polls beside this
// release's while rotations it started are in flight. The source comes from this clone's own
// history (`git archive`); its npm packages are this clone's when its package-lock.json is the same,
// else its own `npm ci`. About 1.5 minutes on 2 cores the first time.
import { execFileSync } from 'node:child_process';
import { existsSync, lstatSync, mkdirSync, readFileSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { log } from './kube-tools.mjs';

function git(root, args, options = {}) {
  return execFileSync('git', ['-C', root, ...args], { maxBuffer: 512 * 1024 * 1024, ...options });
}

/** Points the release's node_modules at this clone's (a clone elsewhere relinks it). */
function linkModules(target, root) {
  const link = join(target, 'node_modules');
  // lstat, not exists: a link whose clone is gone is dangling, and goes too.
  if (lstatSync(link, { throwIfNoEntry: false })) rmSync(link, { recursive: true, force: true });
  symlinkSync(join(root, 'node_modules'), link, 'dir');
}

export function installPreviousRelease(cacheDir, spec, root) {
  const target = join(cacheDir, spec.key);
  const marker = join(target, '.installed');
  if (existsSync(marker)) {
    const built = JSON.parse(readFileSync(marker, 'utf8'));
    if (built.sharedModules) linkModules(target, root);
    log(`previous release: ${spec.commit.slice(0, 12)} already built in ${target}`);
    return target;
  }
  const present = () => {
    try {
      git(root, ['cat-file', '-e', `${spec.commit}^{commit}`], { stdio: 'ignore' });
      return true;
    } catch {
      return false;
    }
  };
  // A shallow clone lacks it: fetch the rest of the history from where the clone came from.
  if (!present() && git(root, ['rev-parse', '--is-shallow-repository'], { encoding: 'utf8' }).trim() === 'true') {
    log(`previous release: ${spec.commit.slice(0, 12)} is not in this shallow clone; fetching its history`);
    try {
      git(root, ['fetch', '--quiet', '--unshallow'], { stdio: 'inherit' });
    } catch {
      /* said below */
    }
  }
  if (!present()) {
    throw new Error(
      `the previous release ${spec.commit} (tools.json previousRelease) is not in this clone's history: ` +
        `clone without --depth, or run \`git fetch --unshallow\`, then run the bootstrap again`,
    );
  }
  mkdirSync(cacheDir, { recursive: true });
  const staging = `${target}.partial-${process.pid}`;
  rmSync(staging, { recursive: true, force: true });
  mkdirSync(staging, { recursive: true });
  const started = Date.now();
  log(`previous release: building ${spec.commit.slice(0, 12)} into ${target} (about 1.5 minutes on 2 cores the first time)`);
  execFileSync('tar', ['-x', '-C', staging], { input: git(root, ['archive', '--format=tar', spec.commit]) });
  const sameLock = readFileSync(join(staging, 'package-lock.json'), 'utf8') === readFileSync(join(root, 'package-lock.json'), 'utf8');
  if (sameLock) linkModules(staging, root);
  else execFileSync('npm', ['ci', '--no-audit', '--no-fund', '--ignore-scripts'], { cwd: staging, stdio: 'inherit' });
  execFileSync(process.execPath, [join(staging, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.json'], { cwd: staging, stdio: 'inherit' });
  for (const rel of Object.values(spec.binaries)) {
    if (!existsSync(join(staging, rel))) throw new Error(`previous release: ${rel} missing after the build`);
  }
  rmSync(target, { recursive: true, force: true });
  renameSync(staging, target);
  if (sameLock) linkModules(target, root);
  const seconds = Math.round((Date.now() - started) / 1000);
  writeFileSync(marker, JSON.stringify({ commit: spec.commit, sharedModules: sameLock, builtInSeconds: seconds }) + '\n');
  log(`previous release: built in ${seconds} s`);
  return target;
}
