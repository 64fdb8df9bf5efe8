// Flux's source-controller and kustomize-controller from the Go module proxy (pinned in tools.json),
// into the tools cache once per version: both binaries and the CRDs they serve and watch (each
// module's config/crd/bases/*.yaml), nothing else.
//
// Each is built inside a copy of its module: their go.mod files have `replace` lines (a digest fork,
// kustomize pins), which apply only to the main module. Their `<module>/api => ./api` line is dropped:
// the api submodule is a module of its own, absent from the parent's zip, and go.mod already requires
// its published twin at the same tag. tools.json's `substitutes` replace a dependency the module proxy
// does not serve at the version go.mod asks (source-controller's github.com/fluxcd/pkg/artifact v0.18.3:
// 403; v0.18.0 is the newest v0.18 it has). Static (CGO_ENABLED=0, as their Dockerfiles build),
// -trimpath, no symbols. One private module cache and one build cache serve both builds and are
// removed afterwards (about 3 GB each at their peak), so nothing lands in the user's Go caches.
//
// Cold, measured 2026-12-07 on 2 cores under nice 10 with the other core busy (load average ~5):
// modules 67 s (go list -deps of both), source-controller 191 s (96 MB), kustomize-controller 124 s
// (82 MB), 419 s in all; again, with this file as committed: 38 s, 212 s, 135 s, 411 s, and byte-identical
// binaries. kustomize-controller alone, from an empty build cache, took 269 s: sharing the
// cache saves it about 2.5 minutes (Kubernetes, controller-runtime, fluxcd/pkg at the same versions).
// Both in ONE `go build` from a go.work of the two copies took 260 s (376 s of CPU; the two builds one
// after the other, run right after it from an empty cache, 482 s of CPU), but a workspace makes both
// use the newer of each shared dependency (`go work sync` rewrites their go.mod), which is not the
// dependency set either release was tested with: not done.
import { chmodSync, copyFileSync, mkdirSync, readdirSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { downloadModule, finishGoInstall, go, goBuild, log, moduleCopy, privateGo, startGoInstall } from './kube-tools.mjs';

/** What a cold install measured (above), for the log line before a build. */
const COLD = '7 minutes (modules 1.1, source-controller 3.2, kustomize-controller 2.1)';

/**
 * In a module's copy: drops its `replace <path> => ./<dir>` lines (the targets are not in the module's
 * zip; its go.mod requires their published versions), and pins what `substitutes` names.
 */
function editGoMod(src, substitutes = {}, env) {
  const { Replace = [] } = JSON.parse(go(['mod', 'edit', '-json'], src, env));
  const local = Replace.filter((r) => /^\.{1,2}\//.test(r.New.Path)).map((r) => r.Old.Path);
  const pins = Object.entries(substitutes).map(([module, version]) => `-replace=${module}=${module}@${version}`);
  if (local.length || pins.length) go(['mod', 'edit', ...local.map((m) => `-dropreplace=${m}`), ...pins], src, env);
  return local;
}

const minutes = (ms) => Math.round(ms / 6000) / 10;

/**
 * `<cache>/<key>/bin/{source-controller,kustomize-controller}` and `<cache>/<key>/crds/*.yaml`
 * (spec: { key, controllers: { [name]: { module, version } }, binaries, crds }); skipped when its marker is present.
 */
export async function installFlux(cacheDir, spec) {
  const install = startGoInstall(cacheDir, spec.key, 'flux');
  const { target, work } = install;
  if (install.done) return target;
  const names = Object.keys(spec.controllers);
  log(`flux: building ${names.map((n) => `${n} ${spec.controllers[n].version}`).join(' and ')} from the Go module proxy into ${target}`);
  log(`flux: the first build took ${COLD} on 2 cores (scratch caches, removed afterwards)`);
  const { caches, env } = privateGo(work);
  const buildEnv = { ...env, CGO_ENABLED: '0' };
  const crds = join(work, spec.crds);
  mkdirSync(crds, { recursive: true });
  const started = Date.now();
  const sources = {};
  const sums = {};
  for (const name of names) {
    const info = downloadModule(`flux ${name}`, spec.controllers[name], join(work, 'mod'), env);
    sums[name] = info.Sum;
    const src = moduleCopy(info, join(work, 'src', name));
    const { substitutes } = spec.controllers[name];
    const dropped = editGoMod(src, substitutes, env);
    log(
      `flux: ${name}: replace lines into the module's own tree dropped (${dropped.join(', ') || 'none'}), their published versions used` +
        (substitutes
          ? `; substituted: ${Object.entries(substitutes)
              .map(([m, v]) => `${m} ${v}`)
              .join(', ')}`
          : ''),
    );
    const bases = join(src, 'config', 'crd', 'bases');
    for (const file of readdirSync(bases).filter((f) => f.endsWith('.yaml'))) {
      copyFileSync(join(bases, file), join(crds, file));
      chmodSync(join(crds, file), 0o644); // the module cache's copy is read-only
    }
    // Loading the main package's imports downloads exactly the modules the binary needs (no test-only ones).
    go(['list', '-deps', '.'], src, buildEnv, { quiet: true });
    sources[name] = src;
  }
  const modulesMs = Date.now() - started;
  log(`flux: modules in ${Math.round(modulesMs / 1000)} s`);
  const built = {};
  for (const name of names) {
    const out = join(work, spec.binaries[name]);
    const ms = await goBuild(['-trimpath', '-ldflags=-s -w', '-o', out, '.'], sources[name], `flux ${name}`, buildEnv);
    built[name] = { seconds: Math.round(ms / 100) / 10, bytes: statSync(out).size };
    log(`flux: ${name} built in ${Math.round(ms / 1000)} s (${Math.round(built[name].bytes / 1048576)} MB)`);
  }
  for (const dir of [...caches, join(work, 'src'), join(work, 'mod')]) rmSync(dir, { recursive: true, force: true });
  finishGoInstall(install, {
    controllers: spec.controllers,
    sums,
    crds: readdirSync(crds),
    modulesInSeconds: Math.round(modulesMs / 100) / 10,
    built,
  });
  log(
    `flux: modules ${minutes(modulesMs)} min, ${names.map((n) => `${n} ${minutes(built[n].seconds * 1000)} min (${Math.round(built[n].bytes / 1048576)} MB)`).join(', ')}; ` +
      `${Math.round((Date.now() - started) / 1000)} s in all`,
  );
  return target;
}
