// Fetches External Secrets Operator's published CRDs (deploy/crds/bundle.yaml of the Go module
// github.com/external-secrets/external-secrets, pinned in tools.json) into the tools cache, once per
// version. Only that one file is kept: the module (about 20 MB zipped) is downloaded with a GOPATH
// and module cache of its own under the staging directory, which is removed afterwards, so nothing
// lands in the user's Go module cache.
import { chmodSync, copyFileSync, existsSync, mkdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { finishGoInstall, go, log, startGoInstall } from './kube-tools.mjs';

/** `<cache>/<key>/bundle.yaml` (spec: { key, module, version, file }); skipped when its marker is present. */
export async function installExternalSecretsCrds(cacheDir, spec) {
  const install = startGoInstall(cacheDir, spec.key, 'external-secrets');
  const { target, work } = install;
  if (install.done) return join(target, 'bundle.yaml');
  const started = Date.now();
  log(`external-secrets: fetching ${spec.file} of ${spec.module} ${spec.version} from the Go module proxy into ${target}`);
  const gopath = join(work, 'gopath');
  const mod = join(work, 'mod');
  mkdirSync(mod, { recursive: true });
  writeFileSync(join(mod, 'go.mod'), 'module rotor.local/esotools\n\ngo 1.26\n');
  // -modcacherw: the private module cache is removable without chmod.
  const env = { GOPATH: gopath, GOMODCACHE: join(gopath, 'pkg', 'mod'), GOFLAGS: '-mod=mod -modcacherw' };
  const versions = go(['list', '-m', '-versions', spec.module], mod, env).trim().split(/\s+/).slice(1);
  if (!versions.includes(spec.version)) {
    throw new Error(`external-secrets: the module proxy does not list ${spec.module} ${spec.version} (it has: ${versions.join(' ') || 'none'})`);
  }
  const info = JSON.parse(go(['mod', 'download', '-json', `${spec.module}@${spec.version}`], mod, env));
  if (info.Error) throw new Error(`external-secrets: go mod download failed: ${info.Error}`);
  const source = join(info.Dir, spec.file);
  if (!existsSync(source)) throw new Error(`external-secrets: ${spec.file} is not in ${spec.module}@${spec.version}`);
  copyFileSync(source, join(work, 'bundle.yaml'));
  chmodSync(join(work, 'bundle.yaml'), 0o644); // the module cache's copy is read-only
  const bytes = statSync(join(work, 'bundle.yaml')).size;
  const zipBytes = statSync(info.Zip).size;
  rmSync(gopath, { recursive: true, force: true });
  rmSync(mod, { recursive: true, force: true });
  rmSync(join(work, 'bin'), { recursive: true, force: true });
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
