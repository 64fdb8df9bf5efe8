// Builds the Prometheus server from the Go module proxy into the tools cache, once per version: a
// small module that requires github.com/prometheus/prometheus and builds its cmd/prometheus.
import { installGoTool } from './kube-tools.mjs';

export function installPrometheus(cacheDir, spec) {
  return installGoTool(cacheDir, spec, { name: 'prometheus', pkg: `${spec.module}/cmd/prometheus`, minutes: 2 });
}
