// Builds a real Kubernetes control plane from the Go module proxy into the tools cache, once per
// version: kube-apiserver, kube-controller-manager and kubectl from k8s.io/kubernetes (its k8s.io/*
// staging modules replaced by their published v0.x twins), etcd from go.etcd.io/etcd/server/v3.
import { execFileSync, spawn } from 'node:child_process';
import { chmodSync, cpSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export function log(msg) {
  process.stderr.write(`[bootstrap] ${msg}\n`);
}

/** `go <args>`'s output; `quiet`: its "go: downloading" lines are not shown (the rest is, in the error, should it fail). */
export function go(args, cwd, env = {}, { quiet = false } = {}) {
  try {
    return execFileSync('go', args, {
      cwd,
      env: { ...process.env, GOFLAGS: '-mod=mod', GOTOOLCHAIN: 'local', ...env },
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', quiet ? 'pipe' : 'inherit'],
      maxBuffer: 64 * 1024 * 1024,
    });
  } catch (err) {
    if (!quiet) throw err;
    const said = String(err.stderr ?? '')
      .split('\n')
      .filter((l) => l && !l.startsWith('go: downloading'));
    throw new Error(`go ${args.join(' ')} failed (${err.status ?? err.signal}):\n${said.slice(-40).join('\n')}`);
  }
}

/** `go build -v`, printing a line of progress every 30 s (a cold build of the apiserver takes ~13 min on 2 cores). */
export function goBuild(args, cwd, what, env = {}) {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    let packages = 0;
    const proc = spawn('go', ['build', '-v', ...args], {
      cwd,
      env: { ...process.env, GOFLAGS: '-mod=mod', GOTOOLCHAIN: 'local', ...env },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let tail = '';
    proc.stderr.on('data', (d) => {
      const text = String(d);
      packages += text.split('\n').filter((l) => l && !l.startsWith('#') && !l.includes(' ')).length;
      tail = (tail + text).slice(-4000);
    });
    const timer = setInterval(
      () => log(`${what}: still building, ${packages} packages compiled, ${Math.round((Date.now() - started) / 60000)} min so far`),
      30_000,
    );
    proc.on('exit', (code) => {
      clearInterval(timer);
      if (code === 0) resolve(Date.now() - started);
      else reject(new Error(`${what}: go build failed (${code}):\n${tail}`));
    });
  });
}

/**
 * Where a Go-built tool goes in the cache, and whether it is there already; a build happens in
 * `<target>.partial` and is renamed into place by `finishGoInstall`, so a cut-short build never counts.
 */
export function startGoInstall(cacheDir, key, what) {
  const target = join(cacheDir, key);
  const marker = join(target, '.installed');
  if (existsSync(marker)) {
    log(`${what}: ${key} already in ${target}`);
    return { target, done: true };
  }
  try {
    execFileSync('go', ['version'], { stdio: 'ignore' });
  } catch {
    throw new Error(`building ${what} needs Go (1.26+) on PATH`);
  }
  const work = `${target}.partial`;
  rmSync(work, { recursive: true, force: true });
  mkdirSync(join(work, 'bin'), { recursive: true });
  return { target, work, marker, done: false };
}

export function finishGoInstall(install, info) {
  rmSync(install.target, { recursive: true, force: true });
  renameSync(install.work, install.target);
  writeFileSync(install.marker, JSON.stringify(info) + '\n');
}

/**
 * A GOPATH, module cache and build cache inside `work`, for a tool whose modules should not land in the
 * user's Go caches (removed after the build); -modcacherw: removable without chmod.
 */
export function privateGo(work) {
  const gopath = join(work, 'gopath');
  return {
    gopath,
    caches: [gopath, join(work, 'gocache')],
    env: { GOPATH: gopath, GOMODCACHE: join(gopath, 'pkg', 'mod'), GOCACHE: join(work, 'gocache'), GOFLAGS: '-mod=mod -modcacherw' },
  };
}

/** `go mod download` of `module` at `version` (from a throwaway module in `dir`), after checking the proxy lists that version. */
export function downloadModule(name, { module, version }, dir, env) {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'go.mod'), `module rotor.local/${name.replace(/\W/g, '')}tools\n\ngo 1.26\n`);
  const versions = go(['list', '-m', '-versions', module], dir, env).trim().split(/\s+/).slice(1);
  if (!versions.includes(version)) {
    throw new Error(`${name}: the module proxy does not list ${module} ${version} (it has: ${versions.join(' ') || 'none'})`);
  }
  const info = JSON.parse(go(['mod', 'download', '-json', `${module}@${version}`], dir, env));
  if (info.Error) throw new Error(`${name}: go mod download failed: ${info.Error}`);
  return info;
}

/**
 * A writable copy of a downloaded module at `dest`, to build inside: a module's `replace` lines only
 * apply when it is the main module. go.mod and go.sum may then be edited (the cache's are read-only).
 */
export function moduleCopy(info, dest) {
  cpSync(info.Dir, dest, { recursive: true });
  chmodSync(dest, 0o755);
  for (const file of ['go.mod', 'go.sum']) if (existsSync(join(dest, file))) chmodSync(join(dest, file), 0o644);
  return dest;
}

/**
 * A tool built from one main package `pkg` of a Go module, into `<cache>/<spec.key>` once per version
 * (spec: { key, module, version, binaries: { [name]: path } }): a throwaway module that requires
 * `spec.module` at `spec.version` and imports `pkg`, tidied, then `go build -trimpath`. `ldflags(mod)`
 * may ask the tidied module what to stamp into the binary.
 */
export async function installGoTool(cacheDir, spec, { name, pkg, minutes, ldflags = () => null, env = {}, tags = spec.tags ?? [] }) {
  const install = startGoInstall(cacheDir, spec.key, name);
  const { target, work } = install;
  if (install.done) return target;
  const started = Date.now();
  log(`${name}: building ${spec.module} ${spec.version} from the Go module proxy into ${target} (about ${minutes} minutes on 2 cores the first time)`);
  const mod = join(work, 'src');
  mkdirSync(mod, { recursive: true });
  writeFileSync(join(mod, 'go.mod'), `module rotor.local/${name}tools\n\ngo 1.26\n\nrequire ${spec.module} ${spec.version}\n`);
  writeFileSync(join(mod, 'tools.go'), `//go:build tools\n\npackage tools\n\nimport _ "${pkg}"\n`);
  go(['mod', 'tidy'], mod);
  const flags = ldflags(mod);
  const ms = await goBuild(
    ['-trimpath', ...(tags.length ? ['-tags', tags.join(',')] : []), ...(flags ? ['-ldflags', flags] : []), '-o', join(work, spec.binaries[name]), pkg],
    mod,
    name,
    env,
  );
  rmSync(mod, { recursive: true, force: true });
  finishGoInstall(install, { version: spec.version, builtInSeconds: Math.round((Date.now() - started) / 1000) });
  log(`${name}: built in ${Math.round(ms / 1000)} s`);
  return target;
}

export async function installKubernetes(cacheDir, spec) {
  const install = startGoInstall(cacheDir, spec.key, 'kubernetes');
  const { target, work } = install;
  if (install.done) return target;
  const started = Date.now();
  log(`kubernetes: building ${spec.version} and etcd ${spec.etcd} from the Go module proxy into ${target}`);
  log('kubernetes: the first build takes 6 to 10 minutes on 2 cores (module downloads included) and 6 GB of Go caches; later runs reuse it');

  // The module's own go.mod replaces every k8s.io staging module with ./staging/...; mirror those
  // lines with the published versions so the module builds outside its repository.
  const info = JSON.parse(go(['mod', 'download', '-json', `k8s.io/kubernetes@${spec.version}`], work));
  const upstream = readFileSync(info.GoMod, 'utf8');
  const staging = [...upstream.matchAll(/^\s*(k8s\.io\/[\w.-]+) => \.\/staging\//gm)].map((m) => m[1]);
  if (staging.length === 0) throw new Error(`no staging replace lines found in ${info.GoMod}`);
  const kube = join(work, 'kube');
  mkdirSync(kube, { recursive: true });
  const goLine = /^go (\S+)/m.exec(upstream)?.[1] ?? '1.26.0';
  writeFileSync(
    join(kube, 'go.mod'),
    [
      `module rotor.local/kubetools`,
      '',
      `go ${goLine}`,
      '',
      `require k8s.io/kubernetes ${spec.version}`,
      '',
      'replace (',
      ...staging.map((m) => `\t${m} => ${m} ${spec.stagingVersion}`),
      ')',
      '',
    ].join('\n'),
  );
  const cmds = ['kube-apiserver', 'kube-controller-manager', 'kubectl'].map((c) => `k8s.io/kubernetes/cmd/${c}`);
  writeFileSync(join(kube, 'tools.go'), `//go:build tools\n\npackage tools\n\nimport (\n${cmds.map((c) => `\t_ "${c}"`).join('\n')}\n)\n`);
  log(`kubernetes: go mod tidy (${staging.length} staging modules replaced) ...`);
  go(['mod', 'tidy'], kube);
  const [, minor] = /^v1\.(\d+)\./.exec(spec.version) ?? [];
  const ldflags = `-X k8s.io/component-base/version.gitVersion=${spec.version} -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=${minor} -X k8s.io/component-base/version.gitTreeState=clean`;
  log('kubernetes: go build kube-apiserver, kube-controller-manager, kubectl ...');
  const kubeMs = await goBuild(['-trimpath', '-ldflags', ldflags, '-o', join(work, 'bin') + '/', ...cmds], kube, 'kubernetes');
  log(`kubernetes: built in ${Math.round(kubeMs / 1000)} s`);

  const etcd = join(work, 'etcd');
  mkdirSync(etcd, { recursive: true });
  writeFileSync(join(etcd, 'go.mod'), `module rotor.local/etcdtools\n\ngo ${goLine}\n\nrequire go.etcd.io/etcd/server/v3 ${spec.etcd}\n`);
  writeFileSync(join(etcd, 'tools.go'), '//go:build tools\n\npackage tools\n\nimport _ "go.etcd.io/etcd/server/v3"\n');
  log(`etcd: go mod tidy and build ${spec.etcd} ...`);
  go(['mod', 'tidy'], etcd);
  const etcdMs = await goBuild(['-trimpath', '-o', join(work, 'bin', 'etcd'), 'go.etcd.io/etcd/server/v3'], etcd, 'etcd');
  log(`etcd: built in ${Math.round(etcdMs / 1000)} s`);

  for (const rel of Object.values(spec.binaries)) {
    if (!existsSync(join(work, rel))) throw new Error(`kubernetes: ${rel} missing after the build`);
  }
  finishGoInstall(install, { version: spec.version, etcd: spec.etcd, builtInSeconds: Math.round((Date.now() - started) / 1000) });
  log(`kubernetes: control plane ready in ${target} after ${Math.round((Date.now() - started) / 60000)} min`);
  return target;
}
