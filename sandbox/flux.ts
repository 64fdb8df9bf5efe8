// The REAL Flux (source-controller and kustomize-controller v1.9.6, built from their Go modules by
// `node scripts/bootstrap.mjs --flux` into ~/.cache/rotor) against the sandbox's kube-apiserver: their
// own CRDs applied, both controllers as child processes with the admin kubeconfig, leader election
// off, watching every namespace. source-controller serves its artifacts (tarballs of each fetched
// commit) from a temporary directory on a loopback port, where kustomize-controller fetches them.
// A GitRepository reads the sandbox's Git server (git-server.ts) with its token, as Flux reads GitHub.
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import * as k8s from '@kubernetes/client-node';
import { parse } from 'yaml';
import type { ControlPlane } from './control-plane';
import { freePort } from './control-plane';
import { answers, isRunning, startServer, stopChild, withFreshPorts, type Child } from './processes';
import { cacheDir, repoRoot } from './tools';

const run = promisify(execFile);

/** Where Flux runs and keeps its objects, as `flux install` has it. */
export const FLUX_NAMESPACE = 'flux-system';
const KINDS = {
  GitRepository: { group: 'source.toolkit.fluxcd.io', version: 'v1', plural: 'gitrepositories' },
  Kustomization: { group: 'kustomize.toolkit.fluxcd.io', version: 'v1', plural: 'kustomizations' },
} as const;
type FluxKind = keyof typeof KINDS;
const CONTROLLERS = ['source-controller', 'kustomize-controller'] as const;
type Controller = (typeof CONTROLLERS)[number];

interface FluxPin {
  key: string;
  crds: string;
  binaries: Record<Controller, string>;
}

/** The controllers and the CRD directory in the tools cache; `node scripts/bootstrap.mjs --flux` builds them. */
function fluxTools(): { crds: string; binaries: Record<Controller, string> } {
  const pin = (JSON.parse(readFileSync(join(repoRoot, 'tools.json'), 'utf8')) as { flux: FluxPin }).flux;
  const base = join(cacheDir, pin.key);
  if (!existsSync(join(base, '.installed'))) {
    throw new Error(`${base} is missing: run \`node scripts/bootstrap.mjs --flux\` (npm run test:e2e does it; 7 minutes on 2 cores the first time)`);
  }
  return {
    crds: join(base, pin.crds),
    binaries: { 'source-controller': join(base, pin.binaries['source-controller']), 'kustomize-controller': join(base, pin.binaries['kustomize-controller']) },
  };
}

/** A Kustomization's status as Flux writes it. */
export interface KustomizationStatus {
  /** e.g. `main@sha1:<commit>`: what is applied on the cluster; null before the first apply. */
  lastAppliedRevision: string | null;
  lastAttemptedRevision: string | null;
  /** The Ready condition's status, reason and message (e.g. "Applied revision: main@sha1:..."). */
  ready: { status: string; reason: string; message: string } | null;
  /** The last `reconcile.fluxcd.io/requestedAt` value the controller handled. */
  lastHandledReconcileAt: string | null;
}

interface GitRepositoryOptions {
  name: string;
  /** The clone URL (sandbox/git-server.ts's createRepository). */
  url: string;
  branch?: string;
  /** The Git server's token: kept in a Secret `<name>-auth` (username/password), which the GitRepository names. */
  token: string;
  namespace?: string;
  /** How often source-controller fetches, e.g. '10m' (reconcile() asks for one now). */
  interval?: string;
}

interface KustomizationOptions {
  name: string;
  /** The GitRepository's name (in the same namespace). */
  source: string;
  /** The directory in the repository, e.g. './apps/production'. */
  path: string;
  namespace?: string;
  targetNamespace?: string;
  interval?: string;
  /** Wait for the applied objects to be healthy before Ready (kstatus); false: Ready once applied. */
  wait?: boolean;
}

export interface Flux {
  pids: Record<Controller, number>;
  /** Where source-controller serves artifacts, e.g. http://127.0.0.1:40123 */
  storageUrl: string;
  /** A controller's last lines of output (JSON logs), for a failing test to show. */
  output(controller: Controller): string;
  /** The Secret with the token, then the GitRepository. */
  createGitRepository(opts: GitRepositoryOptions): Promise<void>;
  createKustomization(opts: KustomizationOptions): Promise<void>;
  /** Sets `reconcile.fluxcd.io/requestedAt`, as `flux reconcile` does; the value, which the status echoes once handled. */
  reconcile(kind: FluxKind, namespace: string, name: string): Promise<string>;
  kustomizationStatus(namespace: string, name: string): Promise<KustomizationStatus>;
  /** Polls the status until `done` says yes; throws after `timeoutMs` with the last status and the controllers' last lines. */
  waitForKustomization(namespace: string, name: string, done: (s: KustomizationStatus) => boolean, timeoutMs?: number): Promise<KustomizationStatus>;
  /** kustomize-controller, then source-controller, then the artifact directory. */
  stop(): Promise<void>;
}

/** `kubectl apply --server-side` of every CRD in `dir`, then waits until each is Established. */
async function installCrds(plane: ControlPlane, dir: string, log?: (line: string) => void, timeoutMs = 30_000): Promise<string[]> {
  const started = Date.now();
  const files = readdirSync(dir).filter((f) => f.endsWith('.yaml'));
  const names = files.map((f) => (parse(readFileSync(join(dir, f), 'utf8')) as { metadata: { name: string } }).metadata.name);
  await run(plane.binaries.kubectl, ['--kubeconfig', plane.kubeconfig, 'apply', '--server-side', '--field-manager', 'rotor-sandbox', '-f', dir], {
    maxBuffer: 16 * 1024 * 1024,
  });
  const kc = new k8s.KubeConfig();
  kc.loadFromFile(plane.kubeconfig);
  const ext = kc.makeApiClient(k8s.ApiextensionsV1Api);
  const deadline = Date.now() + timeoutMs;
  for (const name of names) {
    for (;;) {
      const crd = await ext.readCustomResourceDefinition({ name }).catch(() => null);
      if (crd?.status?.conditions?.some((c) => c.type === 'Established' && c.status === 'True')) break;
      if (Date.now() > deadline) throw new Error(`CRD ${name} not Established ${timeoutMs / 1000} s after apply`);
      await new Promise((r) => setTimeout(r, 200));
    }
  }
  log?.(`[flux] ${names.length} CRDs Established in ${Date.now() - started} ms: ${names.join(', ')}`);
  return names;
}

/** One controller on free loopback ports (metrics, health, and `extra` for `args` to use); ready once /readyz answers and `ready` says so. */
function startController(
  name: Controller,
  binary: string,
  args: (ports: { metrics: number; health: number; extra: number }) => string[],
  env: NodeJS.ProcessEnv,
  log?: (line: string) => void,
  ready: (extra: number) => Promise<boolean> = async () => true,
): Promise<{ child: Child; output: () => string; extra: number }> {
  return withFreshPorts(async () => {
    const [metrics, health, extra] = await Promise.all([freePort(), freePort(), freePort()]);
    const started = await startServer(
      name,
      binary,
      [
        `--metrics-addr=127.0.0.1:${metrics}`,
        `--health-addr=127.0.0.1:${health}`,
        '--enable-leader-election=false',
        '--watch-all-namespaces=true',
        '--log-level=info',
        '--log-encoding=json',
        ...args({ metrics, health, extra }),
      ],
      {
        env,
        ready: async () => (await answers(`http://127.0.0.1:${health}/readyz`)()) && ready(extra),
        where: `127.0.0.1:${health}`,
        log,
      },
    );
    log?.(`[flux] ${name} running (pid ${started.child.pid}, health 127.0.0.1:${health})`);
    return { ...started, extra };
  });
}

/** Applies Flux's CRDs, creates flux-system, and starts source-controller then kustomize-controller. */
export async function startFlux(plane: ControlPlane, opts: { log?: (line: string) => void } = {}): Promise<Flux> {
  const { log } = opts;
  const tools = fluxTools();
  await installCrds(plane, tools.crds, log);
  const kc = new k8s.KubeConfig();
  kc.loadFromFile(plane.kubeconfig);
  const core = kc.makeApiClient(k8s.CoreV1Api);
  const custom = kc.makeApiClient(k8s.CustomObjectsApi);
  await core.createNamespace({ body: { metadata: { name: FLUX_NAMESPACE } } }).catch((err) => {
    if ((err as { code?: number }).code !== 409) throw err;
  });
  // The artifact store, and a HOME of their own: no Docker or cloud configuration of this machine's is read.
  const dir = mkdtempSync(join(tmpdir(), 'rotor-flux-'));
  mkdirSync(join(dir, 'artifacts'));
  const env = { PATH: process.env.PATH ?? '', HOME: dir, TMPDIR: tmpdir(), KUBECONFIG: plane.kubeconfig };
  const started: Child[] = [];
  const stop = async () => {
    for (const child of [...started].reverse()) await stopChild(child, { log });
    rmSync(dir, { recursive: true, force: true });
  };
  let storageUrl = '';
  const outputs = {} as Record<Controller, () => string>;
  try {
    const source = await startController(
      'source-controller',
      tools.binaries['source-controller'],
      ({ extra }) => [`--storage-path=${join(dir, 'artifacts')}`, `--storage-addr=127.0.0.1:${extra}`, `--storage-adv-addr=127.0.0.1:${extra}`],
      env,
      log,
      // The artifact server starts once the manager runs: kustomize-controller fetches from it.
      (extra) =>
        fetch(`http://127.0.0.1:${extra}/`, { signal: AbortSignal.timeout(1000) }).then(
          () => true,
          () => false,
        ),
    );
    started.push(source.child);
    outputs['source-controller'] = source.output;
    storageUrl = `http://127.0.0.1:${source.extra}`;
    // No remote bases: everything it builds comes from the artifact, nothing from the network.
    const kustomize = await startController('kustomize-controller', tools.binaries['kustomize-controller'], () => ['--no-remote-bases=true'], env, log);
    started.push(kustomize.child);
    outputs['kustomize-controller'] = kustomize.output;
  } catch (err) {
    await stop();
    throw err;
  }

  const kustomizationStatus = async (namespace: string, name: string): Promise<KustomizationStatus> => {
    const got = (await custom.getNamespacedCustomObject({ ...KINDS.Kustomization, namespace, name })) as {
      status?: {
        lastAppliedRevision?: string;
        lastAttemptedRevision?: string;
        lastHandledReconcileAt?: string;
        conditions?: { type: string; status: string; reason: string; message: string }[];
      };
    };
    const ready = got.status?.conditions?.find((c) => c.type === 'Ready');
    return {
      lastAppliedRevision: got.status?.lastAppliedRevision || null,
      lastAttemptedRevision: got.status?.lastAttemptedRevision || null,
      ready: ready ? { status: ready.status, reason: ready.reason, message: ready.message } : null,
      lastHandledReconcileAt: got.status?.lastHandledReconcileAt || null,
    };
  };
  const create = (kind: FluxKind, namespace: string, name: string, spec: object) =>
    custom.createNamespacedCustomObject({
      ...KINDS[kind],
      namespace,
      body: { apiVersion: `${KINDS[kind].group}/${KINDS[kind].version}`, kind, metadata: { name, namespace }, spec },
    });
  const tail = (controller: Controller) => outputs[controller]().trimEnd().split('\n').slice(-8).join('\n');

  return {
    pids: { 'source-controller': started[0].pid, 'kustomize-controller': started[1].pid },
    storageUrl,
    output: (controller) => outputs[controller](),
    async createGitRepository(o) {
      const namespace = o.namespace ?? FLUX_NAMESPACE;
      const secret = `${o.name}-auth`;
      // HTTP Basic: any user name, the token as password (sandbox/git-server.ts).
      await core.createNamespacedSecret({ namespace, body: { metadata: { name: secret }, stringData: { username: 'flux', password: o.token } } });
      await create('GitRepository', namespace, o.name, {
        url: o.url,
        ref: { branch: o.branch ?? 'main' },
        interval: o.interval ?? '10m',
        timeout: '30s',
        secretRef: { name: secret },
      });
    },
    async createKustomization(o) {
      await create('Kustomization', o.namespace ?? FLUX_NAMESPACE, o.name, {
        interval: o.interval ?? '10m',
        path: o.path,
        prune: false,
        wait: o.wait ?? false,
        timeout: '1m',
        sourceRef: { kind: 'GitRepository', name: o.source },
        ...(o.targetNamespace ? { targetNamespace: o.targetNamespace } : {}),
      });
    },
    async reconcile(kind, namespace, name) {
      const requestedAt = new Date().toISOString();
      await custom.patchNamespacedCustomObject(
        { ...KINDS[kind], namespace, name, body: { metadata: { annotations: { 'reconcile.fluxcd.io/requestedAt': requestedAt } } } },
        k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch),
      );
      return requestedAt;
    },
    kustomizationStatus,
    async waitForKustomization(namespace, name, done, timeoutMs = 60_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const status = await kustomizationStatus(namespace, name);
        if (done(status)) return status;
        const gone = started.filter((c) => !isRunning(c)).map((c) => c.name);
        if (gone.length || Date.now() > deadline) {
          throw new Error(
            `Kustomization ${namespace}/${name}: ${gone.length ? `${gone.join(' and ')} exited` : `still not as asked after ${timeoutMs / 1000} s`}; ` +
              `its status: ${JSON.stringify(status)}\n${CONTROLLERS.map((c) => `--- ${c} (last lines) ---\n${tail(c)}`).join('\n')}`,
          );
        }
        await new Promise((r) => setTimeout(r, 100));
      }
    },
    stop,
  };
}
