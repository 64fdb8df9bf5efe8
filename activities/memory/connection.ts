// How the Kubernetes adapter reaches the memory apiserver: its generated clients' transport and the
// whole-cluster scan's raw reader answered in-process, and a kubeconfig that names no real server.
import * as k8s from '@kubernetes/client-node';
import type { ApiReader } from '../kubernetes/cluster-scan';
import type { MemoryApiServer } from './apiserver';

/** The client transport: every request of every generated API client answered here. */
export function httpLibraryOf(server: MemoryApiServer): k8s.HttpLibrary {
  return {
    send: (request) =>
      new k8s.Observable(
        (async () => {
          const headers = request.getHeaders();
          const body = request.getBody();
          const answer = await server.handle(
            request.getHttpMethod().toString(),
            new URL(request.getUrl()),
            headers['Accept'] ?? headers['accept'] ?? 'application/json',
            headers['Content-Type'] ?? headers['content-type'] ?? 'application/json',
            typeof body === 'string' ? body : undefined,
          );
          const text = JSON.stringify(answer.body);
          return new k8s.ResponseContext(
            answer.status,
            { 'content-type': 'application/json' },
            { text: async () => text, binary: async () => Buffer.from(text) },
          );
        })(),
      ),
  };
}

/** The raw reader the whole-cluster scan uses: errors carry `code` and the Status as `body`, as over HTTP. */
export function readerOf(server: MemoryApiServer): ApiReader {
  return {
    get: async (path) => {
      const answer = await server.handle('GET', new URL(path, 'http://memory.invalid'), 'application/json', 'application/json', undefined);
      if (answer.status >= 200 && answer.status < 300) return answer.body;
      throw Object.assign(new Error(`GET ${path}: HTTP ${answer.status}`), { code: answer.status, body: JSON.stringify(answer.body) });
    },
    close: () => undefined,
  };
}

/** A kubeconfig that names this server (its requests never leave the process). */
export function memoryKubeConfig(): k8s.KubeConfig {
  const kc = new k8s.KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: 'memory', server: 'http://memory.invalid', skipTLSVerify: true }],
    users: [{ name: 'memory' }],
    contexts: [{ name: 'memory', cluster: 'memory', user: 'memory' }],
    currentContext: 'memory',
  });
  return kc;
}
