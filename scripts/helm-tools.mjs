// Builds Helm from the Go module proxy into the tools cache, once per version: a small module that
// requires helm.sh/helm/v3 and builds its cmd/helm only, static and without symbols, with the version
// stamps Helm's own Makefile sets (else `helm version` says v3.22 and `helm template` assumes
// Kubernetes 1.20).
import { go, installGoTool } from './kube-tools.mjs';

export function installHelm(cacheDir, spec) {
  return installGoTool(cacheDir, spec, {
    name: 'helm',
    pkg: `${spec.module}/cmd/helm`,
    minutes: 4,
    env: { CGO_ENABLED: '0' },
    ldflags: (mod) => {
      // The Kubernetes version Helm lints and renders against is the one its client-go was cut from (v0.37 is 1.37).
      const [, minor] = /^v0\.(\d+)\./.exec(go(['list', '-m', '-f', '{{.Version}}', 'k8s.io/client-go'], mod).trim()) ?? [];
      if (!minor) throw new Error(`helm: cannot tell which k8s.io/client-go ${spec.module} ${spec.version} uses`);
      const version = (pkg, name, value) => `-X ${spec.module}/${pkg}.${name}=${value}`;
      return [
        '-s -w',
        version('internal/version', 'version', spec.version),
        version('internal/version', 'gitTreeState', 'clean'),
        ...['pkg/lint/rules', 'pkg/chartutil'].flatMap((pkg) => [version(pkg, 'k8sVersionMajor', 1), version(pkg, 'k8sVersionMinor', minor)]),
      ].join(' ');
    },
  });
}
