// External Secrets Operator from the Go module github.com/external-secrets/external-secrets (pinned
// in tools.json), into the tools cache once per version:
//  - its published CRDs (deploy/crds/bundle.yaml): only that one file is kept;
//  - the operator itself, built from the same module (8 minutes on 2 cores from cold):
//    only the binary is kept.
// Each is fetched with a GOPATH, module cache and build cache of its own under the staging directory,
// removed afterwards, so nothing lands in the user's Go caches (the operator's modules are 2.3 GB).
import { chmodSync, copyFileSync, existsSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { downloadModule, finishGoInstall, go, goBuild, log, moduleCopy, privateGo, startGoInstall } from './kube-tools.mjs';

/**
 * `<cache>/<operatorKey>/bin/external-secrets` (spec: { operatorKey, module, version }); skipped when
 * its marker is present. Built in a copy of the module (its go.mod has a replace line, which only
 * applies to the main module), with -trimpath and without symbols (221 MB otherwise).
 */
export async function installExternalSecretsOperator(cacheDir, spec) {
  const install = startGoInstall(cacheDir, spec.operatorKey, 'external-secrets operator');
  const { target, work } = install;
  const binary = (dir) => join(dir, 'bin', 'external-secrets');
  if (install.done) return binary(target);
  const started = Date.now();
  log(`external-secrets operator: building ${spec.module} ${spec.version} from the Go module proxy into ${target}`);
  log('external-secrets operator: the first build took 8 minutes on 2 cores (2.3 GB of modules in scratch caches, removed afterwards)');
  const { gopath, env } = privateGo(work);
  const info = downloadModule('external-secrets', spec, join(work, 'mod'), env);
  const src = moduleCopy(info, join(work, 'src'));
  go(['mod', 'download'], src, env);
  const downloadedMs = Date.now() - started;
  const ms = await goBuild(['-trimpath', '-ldflags=-s -w', '-o', binary(work), '.'], src, 'external-secrets operator', env);
  const bytes = statSync(binary(work)).size;
  for (const dir of [gopath, src, join(work, 'mod'), join(work, 'gocache')]) rmSync(dir, { recursive: true, force: true });
  finishGoInstall(install, {
    module: spec.module,
    version: spec.version,
    sum: info.Sum,
    bytes,
    downloadedInSeconds: Math.round(downloadedMs / 100) / 10,
    builtInSeconds: Math.round(ms / 100) / 10,
  });
  log(`external-secrets operator: modules in ${Math.round(downloadedMs / 1000)} s, built in ${Math.round(ms / 1000)} s (${Math.round(bytes / 1048576)} MB)`);
  return binary(target);
}

/** `<cache>/<key>/bundle.yaml` (spec: { key, module, version, file }); skipped when its marker is present. */
export async function installExternalSecretsCrds(cacheDir, spec) {
  const install = startGoInstall(cacheDir, spec.key, 'external-secrets');
  const { target, work } = install;
  if (install.done) return join(target, 'bundle.yaml');
  const started = Date.now();
  log(`external-secrets: fetching ${spec.file} of ${spec.module} ${spec.version} from the Go module proxy into ${target}`);
  const { gopath, env } = privateGo(work);
  const mod = join(work, 'mod');
  const info = downloadModule('external-secrets', spec, mod, env);
  const source = join(info.Dir, spec.file);
  if (!existsSync(source)) throw new Error(`external-secrets: ${spec.file} is not in ${spec.module}@${spec.version}`);
  copyFileSync(source, join(work, 'bundle.yaml'));
  chmodSync(join(work, 'bundle.yaml'), 0o644); // the module cache's copy is read-only
  const bytes = statSync(join(work, 'bundle.yaml')).size;
  const zipBytes = statSync(info.Zip).size;
  rmSync(gopath, { recursive: true, force: true });
  rmSync(mod, { recursive: true, force: true });
  rmSync(join(work, 'bin'), { recursive: true, force: true });
  rmSync(join(work, 'gocache'), { recursive: true, force: true });
  const seconds = (Date.now() - started) / 1000;
  finishGoInstall(install, {
    module: spec.module,
    version: spec.version,
    file: spec.file,
    sum: info.Sum,
    bytes,
    moduleZipBytes: zipBytes,
    fetchedInSeconds: Math.round(seconds * 10) / 10,
  });
  log(`external-secrets: ${spec.file} (${Math.round(bytes / 1024)} KiB, from a ${Math.round(zipBytes / 1048576)} MB module zip) in ${seconds.toFixed(1)} s`);
  return join(target, 'bundle.yaml');
}
