// The demo's world: the sandbox control plane with the traffic model (auth API emulator and its
// credential issuer, a real Prometheus scraping it every second, the Datadog emulator), a Temporal dev
// server with its Web UI, and a real `rotor worker` as its own ServiceAccount (each act's plan
// granted as `rotor rbac --admission` prints it, sandbox/worker-identity.ts) and every provider
// configured; with `gitops`, also the real Git server and the real Flux (source- and
// kustomize-controller), the worker given the Git token in a file. `npm run demo` and its end-to-end
// test share it.
import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import * as k8s from '@kubernetes/client-node';
import { RotorClient } from '../client/rotor-client';
import { sandboxWorkerEnv, startSandbox, workerKubeconfig, type Sandbox, type SandboxTraffic } from './index';
import { startRotorWorker } from './rotor-worker';
import { startFlux, type Flux } from './flux';
import { startGitServer, type GitServer } from './git-server';
import { startDevServer, type DevServer } from './temporal';
import { repoRoot } from './tools';
import { startCodecServer, type CodecServer } from '../client/codec-server';
import { codecFromEnv, generateCodecKey, KEY_VAR } from '../temporal/codec';

export interface DemoWorld {
  sandbox: Sandbox;
  traffic: SandboxTraffic;
  server: DevServer;
  client: RotorClient;
  kc: k8s.KubeConfig;
  /** A directory for plan files. */
  dir: string;
  /** The Web UI's address. */
  ui: string;
  /** The codec server the Web UI decodes payloads through, when the codec is on. */
  codecServer: string | null;
  /** kubectl against the sandbox, as its admin (asynchronous: the pod simulator runs on this event loop). */
  kubectl(args: string[]): Promise<string>;
  /** The rotor CLI against the dev server; its output goes to `echo` line by line. Resolves with the exit code. */
  rotor(args: string[], echo?: (line: string) => void): Promise<number>;
  /** Prometheus's HTTP API. */
  prometheus: string;
  /** What the worker printed (the last 20 kB). */
  workerOutput(): string;
  /** Git mode's parts, when started with `gitops`: the Git server (the worker has its token) and Flux. */
  gitops: { git: GitServer; flux: Flux } | null;
  stop(): Promise<void>;
}

export interface DemoWorldOptions {
  log?: (line: string) => void;
  /** How long a simulated pod takes to become Ready (the pace of a rollout). */
  readyDelayMs?: number;
  /** Requests per second each auth-service pod sends. */
  ratePerPod?: number;
  /**
   * Encrypt every payload with the codec (default true): a fresh key in ROTOR_CODEC_KEY for the worker,
   * the CLI and this process, and `rotor codec-server`'s server for the Web UI, which decodes through it.
   */
  codec?: boolean;
  /** Called with each stop function as soon as the part is up, so a Ctrl-C during start-up stops it too. */
  onStarted?: (stop: () => Promise<void>) => void;
  /**
   * Start the real Git server and Flux too (`npm run demo -- --gitops`), and give the worker the Git
   * token in a file only this user reads (ROTOR_GIT_TOKEN_FILE) and a clone cache (ROTOR_GIT_CACHE_DIR).
   */
  gitops?: boolean;
}

export const SCRAPE_MS = 1000;

export async function startDemoWorld(options: DemoWorldOptions = {}): Promise<DemoWorld> {
  const log = options.log ?? (() => undefined);
  const stops: (() => Promise<void>)[] = [];
  const started = (stop: () => Promise<void>) => {
    stops.push(stop);
    options.onStarted?.(stop);
  };
  const stopAll = async () => {
    for (const stop of stops.reverse()) await stop().catch((err: Error) => log(`stopping failed: ${err.message}`));
  };
  try {
    const sandbox = await startSandbox({
      log,
      readyDelayMs: options.readyDelayMs ?? 2000,
      traffic: {
        prometheus: true,
        scrapeIntervalMs: SCRAPE_MS,
        ratePerPod: options.ratePerPod ?? 5,
        datadog: { ingestDelayMs: 1000 },
        issuer: { mode: 'overlapping', maxLive: 2 },
      },
    });
    started(() => sandbox.stop());
    const traffic = sandbox.traffic!;
    const dir = mkdtempSync(join(tmpdir(), 'rotor-demo-'));
    const workerConfig = await workerKubeconfig(sandbox.plane, dir);
    let gitops: DemoWorld['gitops'] = null;
    let gitEnv: Record<string, string> = {};
    if (options.gitops) {
      const git = await startGitServer({ log });
      started(() => git.stop());
      const flux = await startFlux(sandbox.plane, { log });
      started(() => flux.stop());
      gitops = { git, flux };
      // The token in a file only this user reads, never on a command line or in the worker's environment.
      const tokenFile = join(dir, 'git-token');
      writeFileSync(tokenFile, git.token, { mode: 0o600 });
      gitEnv = { ROTOR_GIT_TOKEN_FILE: tokenFile, ROTOR_GIT_CACHE_DIR: join(dir, 'git-clones') };
    }
    // The codec: a fresh key (in the environment the worker, the CLI and this process's client read,
    // never on a command line) and the codec server the Web UI decodes through.
    let codecServer: CodecServer | null = null;
    if (options.codec ?? true) {
      process.env[KEY_VAR] = generateCodecKey(`demo-${Date.now()}`);
      codecServer = await startCodecServer({ codec: codecFromEnv(process.env)!, port: 0, host: '127.0.0.1', origins: [], log });
      const codecStop = codecServer.close;
      started(() => codecStop());
    }
    const server = await startDevServer({ ui: true, log, ...(codecServer ? { codecEndpoint: codecServer.url } : {}) });
    started(() => server.stop());
    const ui = `http://localhost:${server.uiPort}`;
    codecServer?.allowOrigin(ui);
    codecServer?.allowOrigin(`http://127.0.0.1:${server.uiPort}`);
    const env = {
      TEMPORAL_ADDRESS: server.address,
      TEMPORAL_UI_URL: ui,
      ROTOR_BACKEND: 'kubernetes',
      KUBECONFIG: workerConfig,
      ROTOR_OPERATOR: 'demo',
      ...sandboxWorkerEnv(traffic),
      ...gitEnv,
    };
    const worker = await startRotorWorker(env, log);
    started(() => worker.stop());
    const client = await RotorClient.connect({ address: server.address });
    started(() => client.close());
    const kc = new k8s.KubeConfig();
    kc.loadFromFile(sandbox.plane.kubeconfig);
    // The CLI needs only the server's address: no worker secret reaches its environment or command line.
    const cliEnv = { ...process.env, TEMPORAL_ADDRESS: server.address, TEMPORAL_UI_URL: ui, ROTOR_OPERATOR: 'demo' };
    return {
      sandbox,
      traffic,
      server,
      client,
      kc,
      dir,
      ui,
      codecServer: codecServer?.url ?? null,
      prometheus: traffic.prometheus!.url,
      workerOutput: () => worker.output(),
      gitops,
      kubectl: async (args) =>
        (await promisify(execFile)(sandbox.plane.binaries.kubectl, ['--kubeconfig', sandbox.plane.kubeconfig, ...args], { encoding: 'utf8' })).stdout,
      rotor: (args, echo) =>
        new Promise((resolve) => {
          const proc = spawn(process.execPath, [join(repoRoot, 'bin', 'rotor.js'), ...args], { env: cliEnv, stdio: ['ignore', 'pipe', 'pipe'] });
          let partial = '';
          const lines = (d: Buffer) => {
            partial += d;
            const parts = partial.split('\n');
            partial = parts.pop()!;
            for (const line of parts) echo?.(line);
          };
          proc.stdout!.on('data', lines);
          proc.stderr!.on('data', lines);
          proc.on('close', (code) => {
            if (partial) echo?.(partial);
            resolve(code ?? 1);
          });
        }),
      stop: stopAll,
    };
  } catch (err) {
    await stopAll();
    throw err;
  }
}
