// Builds the Prometheus server from the Go module proxy into the tools cache, once per version: a
// small module that requires github.com/prometheus/prometheus and builds its cmd/prometheus.
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { finishGoInstall, go, goBuild, log, startGoInstall } from './kube-tools.mjs';

export async function installPrometheus(cacheDir, spec) {
  const install = startGoInstall(cacheDir, spec.key, 'prometheus');
  const { target, work } = install;
  if (install.done) return target;
  const mod = join(work, 'src');
  mkdirSync(mod, { recursive: true });
  const started = Date.now();
  log(`prometheus: building ${spec.module} ${spec.version} from the Go module proxy into ${target} (about 5 minutes on 2 cores the first time)`);
  writeFileSync(join(mod, 'go.mod'), `module rotor.local/prometheustools\n\ngo 1.26\n\nrequire ${spec.module} ${spec.version}\n`);
  writeFileSync(join(mod, 'tools.go'), `//go:build tools\n\npackage tools\n\nimport _ "${spec.module}/cmd/prometheus"\n`);
  go(['mod', 'tidy'], mod);
  const ms = await goBuild(['-trimpath', '-o', join(work, spec.binaries.prometheus), `${spec.module}/cmd/prometheus`], mod, 'prometheus');
  rmSync(mod, { recursive: true, force: true });
  finishGoInstall(install, { version: spec.version, builtInSeconds: Math.round((Date.now() - started) / 1000) });
  log(`prometheus: built in ${Math.round(ms / 1000)} s`);
  return target;
}
