// A real Kubernetes control plane on loopback: etcd, kube-apiserver (RBAC) and
// kube-controller-manager, built by the bootstrap from the Go module proxy, with certificates made
// here. No kubelet can run on this machine: the pod simulator (pod-simulator.ts) plays the nodes.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync, createWriteStream } from 'node:fs';
import { request } from 'node:https';
import { freePort } from '../worker/free-port';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isRunning, spawnChild, stopChild, withFreshPorts, type Child } from './processes';
import { cacheDir, repoRoot } from './tools';

interface KubePins {
  kubernetes: { key: string; version: string; binaries: Record<'kubeApiserver' | 'kubeControllerManager' | 'kubectl' | 'etcd', string> };
}

function kubeBinaries(): Record<'kubeApiserver' | 'kubeControllerManager' | 'kubectl' | 'etcd', string> {
  const pins = JSON.parse(readFileSync(join(repoRoot, 'tools.json'), 'utf8')) as KubePins;
  const base = join(cacheDir, pins.kubernetes.key);
  const out = {} as Record<keyof KubePins['kubernetes']['binaries'], string>;
  for (const [name, rel] of Object.entries(pins.kubernetes.binaries) as [keyof KubePins['kubernetes']['binaries'], string][]) {
    out[name] = join(base, rel);
    if (!existsSync(out[name])) {
      throw new Error(`${out[name]} is missing: run \`node scripts/bootstrap.mjs --kubernetes\` (it builds the control plane once, ~15 min)`);
    }
  }
  return out;
}

export { freePort };

function openssl(args: string[], cwd: string): void {
  execFileSync('openssl', args, { cwd, stdio: ['ignore', 'ignore', 'pipe'] });
}

/** A CA, the apiserver's serving certificate, client certificates and the service-account key pair. */
function makeCertificates(dir: string): void {
  const days = '3650';
  openssl(['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'ca.key', '-out', 'ca.crt', '-days', days, '-subj', '/CN=rotor-sandbox-ca'], dir);
  const sign = (name: string, subject: string, ext: string) => {
    writeFileSync(join(dir, `${name}.ext`), ext);
    openssl(['req', '-newkey', 'rsa:2048', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', subject], dir);
    openssl(
      [
        'x509',
        '-req',
        '-in',
        `${name}.csr`,
        '-CA',
        'ca.crt',
        '-CAkey',
        'ca.key',
        '-CAcreateserial',
        '-out',
        `${name}.crt`,
        '-days',
        days,
        '-extfile',
        `${name}.ext`,
      ],
      dir,
    );
  };
  sign(
    'apiserver',
    '/CN=kube-apiserver',
    'subjectAltName=IP:127.0.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc\nextendedKeyUsage=serverAuth\n',
  );
  sign('admin', '/O=system:masters/CN=rotor-sandbox-admin', 'extendedKeyUsage=clientAuth\n');
  sign('controller-manager', '/CN=system:kube-controller-manager', 'extendedKeyUsage=clientAuth\n');
  sign('simulator', '/O=system:masters/CN=rotor-pod-simulator', 'extendedKeyUsage=clientAuth\n');
  openssl(['genrsa', '-out', 'sa.key', '2048'], dir);
  openssl(['rsa', '-in', 'sa.key', '-pubout', '-out', 'sa.pub'], dir);
}

export function kubeconfigYaml(server: string, caFile: string, user: { name: string; cert?: string; key?: string; token?: string }): string {
  const auth = user.token ? `    token: ${user.token}` : `    client-certificate: ${user.cert}\n    client-key: ${user.key}`;
  return `apiVersion: v1
kind: Config
clusters:
- name: rotor-sandbox
  cluster:
    server: ${server}
    certificate-authority: ${caFile}
users:
- name: ${user.name}
  user:
${auth}
contexts:
- name: rotor-sandbox
  context:
    cluster: rotor-sandbox
    user: ${user.name}
current-context: rotor-sandbox
`;
}

function httpsGet(url: string, dir: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      { ca: readFileSync(join(dir, 'ca.crt')), cert: readFileSync(join(dir, 'admin.crt')), key: readFileSync(join(dir, 'admin.key')), timeout: 2000 },
      (res) => {
        let body = '';
        res.on('data', (d) => (body += d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      },
    );
    req.on('error', reject);
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.end();
  });
}

export interface ControlPlane {
  dir: string;
  server: string;
  /** Cluster-admin kubeconfig (system:masters). */
  kubeconfig: string;
  /** For the pod simulator, which acts for the nodes. */
  simulatorKubeconfig: string;
  caFile: string;
  /** etcd's client URL (loopback, plain HTTP), for tests that compact it to provoke 410 Gone. */
  etcdUrl: string;
  binaries: ReturnType<typeof kubeBinaries>;
  startedInMs: number;
  /** etcd, kube-apiserver and kube-controller-manager, each the leader of its own process group. */
  pids: Record<string, number>;
  /** Stops controller-manager, apiserver, then etcd: SIGTERM, SIGKILL after 5 s each. */
  stop(): Promise<void>;
}

export interface ControlPlaneOptions {
  dir?: string;
  log?: (line: string) => void;
  /** Keep the directory (etcd data, certificates, logs) after stop. */
  keep?: boolean;
  /** Extra kube-apiserver flags, e.g. `--watch-cache=false` to serve every list from etcd. */
  apiserverArgs?: string[];
}

/** The control plane on ports probed free, again on new ones if etcd or the apiserver lost one before binding it. */
export function startControlPlane(options: ControlPlaneOptions = {}): Promise<ControlPlane> {
  return withFreshPorts(() => startOnce(options));
}

async function startOnce(options: ControlPlaneOptions): Promise<ControlPlane> {
  const started = Date.now();
  const log = options.log ?? (() => undefined);
  const bins = kubeBinaries();
  const dir = options.dir ?? mkdtempSync(join(tmpdir(), 'rotor-kube-'));
  mkdirSync(join(dir, 'logs'), { recursive: true });
  const children: Child[] = [];
  const spawnLogged = (name: string, bin: string, args: string[]) => {
    const out = createWriteStream(join(dir, 'logs', `${name}.log`));
    // Own process group: a terminal's Ctrl-C must not reach etcd before the apiserver has stopped.
    // Watched here until the control plane is ready (an exit fails the start), by a supervisor after.
    const child = spawnChild(name, bin, args, { stdio: ['ignore', 'pipe', 'pipe'], awaitsReady: true });
    child.proc.stdout!.pipe(out);
    child.proc.stderr!.pipe(out);
    children.push(child);
    return child;
  };
  const stop = async () => {
    for (const child of [...children].reverse()) await stopChild(child, { log });
    if (!options.keep) rmSync(dir, { recursive: true, force: true });
  };
  const failWith = async (what: string, name: string) => {
    const tail = existsSync(join(dir, 'logs', `${name}.log`)) ? readFileSync(join(dir, 'logs', `${name}.log`), 'utf8').slice(-3000) : '';
    await stop();
    return new Error(`${what}\n--- ${name}.log (tail) ---\n${tail}`);
  };

  try {
    log('certificates ...');
    makeCertificates(dir);
    const [etcdPort, peerPort, apiPort, cmPort] = await Promise.all([freePort(), freePort(), freePort(), freePort()]);

    log(`etcd on 127.0.0.1:${etcdPort} ...`);
    const etcdUrl = `http://127.0.0.1:${etcdPort}`;
    const etcd = spawnLogged('etcd', bins.etcd, [
      '--name',
      'rotor',
      '--data-dir',
      join(dir, 'etcd'),
      '--listen-client-urls',
      etcdUrl,
      '--advertise-client-urls',
      etcdUrl,
      '--listen-peer-urls',
      `http://127.0.0.1:${peerPort}`,
      '--initial-advertise-peer-urls',
      `http://127.0.0.1:${peerPort}`,
      '--initial-cluster',
      `rotor=http://127.0.0.1:${peerPort}`,
      '--log-level',
      'error',
    ]);

    const server = `https://127.0.0.1:${apiPort}`;
    log(`kube-apiserver on ${server} ...`);
    const apiserver = spawnLogged('kube-apiserver', bins.kubeApiserver, [
      '--etcd-servers',
      etcdUrl,
      '--bind-address',
      '127.0.0.1',
      '--advertise-address',
      '127.0.0.1',
      '--secure-port',
      String(apiPort),
      '--endpoint-reconciler-type',
      'none',
      '--tls-cert-file',
      join(dir, 'apiserver.crt'),
      '--tls-private-key-file',
      join(dir, 'apiserver.key'),
      '--client-ca-file',
      join(dir, 'ca.crt'),
      '--service-account-key-file',
      join(dir, 'sa.pub'),
      '--service-account-signing-key-file',
      join(dir, 'sa.key'),
      '--service-account-issuer',
      'https://kubernetes.default.svc',
      '--authorization-mode',
      'Node,RBAC',
      '--service-cluster-ip-range',
      '10.96.0.0/16',
      '--allow-privileged=true',
      '--v',
      '0',
      ...(options.apiserverArgs ?? []),
    ]);
    const deadline = Date.now() + 90_000;
    for (;;) {
      for (const child of [etcd, apiserver]) {
        if (!isRunning(child)) throw await failWith(`${child.name} exited (${child.proc.exitCode ?? child.proc.signalCode})`, child.name);
      }
      const ready = await httpsGet(`${server}/readyz`, dir).catch(() => null);
      if (ready?.status === 200) break;
      if (Date.now() > deadline)
        throw await failWith(`kube-apiserver not ready after 90 s (last: ${ready?.status} ${ready?.body.slice(0, 300)})`, 'kube-apiserver');
      await new Promise((r) => setTimeout(r, 200));
    }

    const caFile = join(dir, 'ca.crt');
    const kubeconfig = join(dir, 'admin.kubeconfig');
    writeFileSync(kubeconfig, kubeconfigYaml(server, caFile, { name: 'admin', cert: join(dir, 'admin.crt'), key: join(dir, 'admin.key') }));
    const simulatorKubeconfig = join(dir, 'simulator.kubeconfig');
    writeFileSync(
      simulatorKubeconfig,
      kubeconfigYaml(server, caFile, { name: 'simulator', cert: join(dir, 'simulator.crt'), key: join(dir, 'simulator.key') }),
    );
    const cmKubeconfig = join(dir, 'controller-manager.kubeconfig');
    writeFileSync(
      cmKubeconfig,
      kubeconfigYaml(server, caFile, { name: 'controller-manager', cert: join(dir, 'controller-manager.crt'), key: join(dir, 'controller-manager.key') }),
    );

    log('kube-controller-manager ...');
    spawnLogged('kube-controller-manager', bins.kubeControllerManager, [
      '--kubeconfig',
      cmKubeconfig,
      '--authentication-kubeconfig',
      cmKubeconfig,
      '--authorization-kubeconfig',
      cmKubeconfig,
      '--bind-address',
      '127.0.0.1',
      '--secure-port',
      String(cmPort),
      '--use-service-account-credentials',
      '--service-account-private-key-file',
      join(dir, 'sa.key'),
      '--root-ca-file',
      caFile,
      '--cluster-signing-cert-file',
      caFile,
      '--cluster-signing-key-file',
      join(dir, 'ca.key'),
      '--leader-elect=false',
      // No real nodes: the simulator renews its nodes' leases, but never let a slow renewal evict pods.
      '--controllers',
      '*,-nodelifecycle',
      '--v',
      '0',
    ]);
    for (const child of children) child.up = true;
    log(`control plane ready in ${((Date.now() - started) / 1000).toFixed(1)} s`);
    const pids = Object.fromEntries(children.map((c) => [c.name, c.pid]));
    return { dir, server, kubeconfig, simulatorKubeconfig, caFile, etcdUrl, binaries: bins, startedInMs: Date.now() - started, pids, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}
