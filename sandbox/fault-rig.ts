// The rig the fault-injection suite and the recovery bench share: the sandbox's real kube-apiserver
// (with the pod simulator) behind a fault proxy, a real Temporal dev server on a database file (so it
// can be killed and started again on the same port and state), rotor workers as real processes
// authenticated as its ServiceAccount (each scenario's plan granted by rotor rbac), and a client. Scenarios rotate `app-secrets` in
// their own pair of namespaces (`<tag>-stg`, `<tag>-prd`), so each starts from the same world.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as k8s from '@kubernetes/client-node';
import { RotorClient } from '../client/rotor-client';
import { TERMINAL_PHASES, type RotationStatus } from '../contract/api';
import { rotationWorkflowId, validatePlan, type Plan } from '../domain/plan';
import { grantPlans, startSandbox, workerKubeconfig, type Sandbox } from './index';
import { freePort } from './control-plane';
import { startFaultProxy, throughProxy, type FaultProxy } from './fault-proxy';
import { WorkerPool, type StepEvent } from './fault-workers';
import { authDeployment } from './objects';
import { startDevServer as startSandboxDevServer, type DevServer, type DevServerOptions } from './temporal';

export const SECRET = 'app-secrets';
export const OLD = `${SECRET}-20250101000000`;
const STAGING = ['api', 'worker'];
export const PRODUCTION = ['api', 'web', 'edge'];

/** What a scenario's plan changes from the rig's: the waits, and an approval before production. */
export interface PlanOverrides {
  soak?: string;
  retention?: string;
  pause?: string;
  watch?: string;
  approval?: boolean;
}

/** The plan of a scenario's rotation (as a plan file says it). */
export function planDoc(tag: string, overrides: PlanOverrides = {}): Record<string, unknown> {
  return {
    secret: SECRET,
    value: { generate: { keys: ['api_token'], length: 32 } },
    store: 'kubernetes',
    stages: [
      { name: 'staging', namespace: `${tag}-stg`, strategy: 'rolling', soak: overrides.soak ?? '3s', rolloutTimeout: '90s' },
      {
        name: 'production',
        namespace: `${tag}-prd`,
        strategy: { canary: { steps: [50, 100], pause: overrides.pause ?? '6s' } },
        watch: overrides.watch ?? '1s',
        rolloutTimeout: '90s',
        ...(overrides.approval ? { approval: 'required' } : {}),
      },
    ],
    retention: overrides.retention ?? '3s',
    cleanupRecheck: '1s',
  };
}

function scenarioPlan(doc: Record<string, unknown>): Plan {
  const { plan, issues } = validatePlan(doc);
  if (issues.length) throw new Error(`the scenario's plan is invalid: ${JSON.stringify(issues)}`);
  return plan;
}

export interface RigOptions {
  workers: number;
  /** How the dev server is started (the tests record its histories before it stops). */
  startDevServer?: (options: DevServerOptions) => Promise<DevServer>;
}

/** How a step came back after its worker was killed: how long after the kill, and on which worker. */
export interface Recovery {
  step: string;
  /** When the worker was killed (ms since the epoch). */
  killedAt: number;
  /** From the SIGKILL to the step's next attempt starting. */
  ms: number;
  /** From the restarted worker polling again to the step's next attempt starting (restart 'at-once' only). */
  sinceRestartMs: number | null;
  by: 'other' | 'restarted';
}

export class FaultRig {
  private constructor(
    readonly dir: string,
    readonly sandbox: Sandbox,
    readonly kc: k8s.KubeConfig,
    readonly proxy: FaultProxy,
    public server: DevServer,
    private readonly serverOptions: DevServerOptions,
    private readonly startServer: (options: DevServerOptions) => Promise<DevServer>,
    readonly pool: WorkerPool,
    readonly client: RotorClient,
    /** The workers' kubeconfig: the ServiceAccount granted each scenario's plan (rotor rbac --admission), through the fault proxy. */
    readonly workerKubeconfig: string,
  ) {}

  static async start(options: RigOptions): Promise<FaultRig> {
    const dir = mkdtempSync(join(tmpdir(), 'rotor-faults-'));
    const sandbox = await startSandbox({ readyDelayMs: 300 });
    const kc = new k8s.KubeConfig();
    kc.loadFromFile(sandbox.plane.kubeconfig);
    const worker = await workerKubeconfig(sandbox.plane, dir);
    const proxy = await startFaultProxy({ server: sandbox.plane.server, caFile: sandbox.plane.caFile });
    const serverOptions = { port: await freePort(), uiPort: await freePort(), db: join(dir, 'temporal.db') };
    const startServer = options.startDevServer ?? startSandboxDevServer;
    const server = await startServer(serverOptions);
    const proxied = throughProxy(worker, proxy.url, join(dir, 'proxied.kubeconfig'));
    const pool = new WorkerPool({
      TEMPORAL_ADDRESS: server.address,
      ROTOR_BACKEND: 'kubernetes',
      KUBECONFIG: proxied,
      // Small pages, so listings continue (and a continue token can expire).
      ROTOR_KUBE_PAGE_SIZE: '20',
    });
    await Promise.all(Array.from({ length: options.workers }, (_, i) => pool.start(i)));
    const client = await RotorClient.connect({ address: server.address });
    return new FaultRig(dir, sandbox, kc, proxy, server, serverOptions, startServer, pool, client, proxied);
  }

  async stop(): Promise<void> {
    await this.client.close();
    await this.pool.stop();
    await this.server.stop();
    await this.proxy.stop();
    await this.sandbox.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }

  /** SIGKILL the Temporal server (its process group), wait `downMs`, start it again on the same port and database. */
  async restartServer(downMs: number): Promise<void> {
    process.kill(-this.server.pid, 'SIGKILL');
    await new Promise((r) => setTimeout(r, downMs));
    this.server = await this.startServer(this.serverOptions);
  }

  /** Two namespaces for one scenario, each with the old version and its Deployments. */
  async prepare(tag: string): Promise<void> {
    const core = this.kc.makeApiClient(k8s.CoreV1Api);
    const apps = this.kc.makeApiClient(k8s.AppsV1Api);
    for (const [ns, names] of [
      [`${tag}-stg`, STAGING],
      [`${tag}-prd`, PRODUCTION],
    ] as const) {
      await core.createNamespace({ body: { metadata: { name: ns } } });
      await core.createNamespacedSecret({ namespace: ns, body: { metadata: { name: OLD }, stringData: { api_token: `faults-old-${tag}` } } });
      for (let i = 0; i < 100 && !(await core.listNamespacedServiceAccount({ namespace: ns })).items.length; i++) await new Promise((r) => setTimeout(r, 100));
      for (const name of names) await apps.createNamespacedDeployment({ namespace: ns, body: authDeployment(name, OLD) });
    }
    // What rotor rbac --admission grants the scenario's plan (its overrides change no verb).
    const { plan, issues } = validatePlan(planDoc(tag));
    if (issues.length) throw new Error(`the scenario's plan is invalid: ${JSON.stringify(issues)}`);
    await grantPlans(this.sandbox.plane, [plan]);
  }

  /** A rotation of the scenario's namespaces: staging rolling, production canary 50 → 100, short soak, watch and retention. */
  async rotate(tag: string, overrides: PlanOverrides = {}): Promise<string> {
    const doc = planDoc(tag, overrides);
    return this.client.start(doc, scenarioPlan(doc), 'faults');
  }

  /** The workflow id `rotate(tag)` will start (known before, to arm kills inside its first steps). */
  rotationId(tag: string): string {
    return rotationWorkflowId(scenarioPlan(planDoc(tag)));
  }

  /** The status once `pred` holds, asked through outages of workers and of the server. */
  async waitFor(id: string, pred: (s: RotationStatus) => boolean, timeoutMs = 240_000, everyMs = 250): Promise<RotationStatus> {
    const deadline = Date.now() + timeoutMs;
    let last: RotationStatus | null = null;
    for (;;) {
      try {
        last = await this.client.status(id);
        if (pred(last)) return last;
      } catch {
        // the server restarting, or no worker to answer: ask again
      }
      if (Date.now() > deadline)
        throw new Error(
          `${id}: timed out in ${last?.phase}: ${last?.events
            .slice(-3)
            .map((e) => e.message)
            .join(' | ')}`,
        );
      await new Promise((r) => setTimeout(r, everyMs));
    }
  }

  /** Its last phase, once the workflow has closed: what it does after entering that phase (releasing its claim) is done too. */
  async settled(id: string): Promise<RotationStatus> {
    const s = await this.waitFor(id, (x) => TERMINAL_PHASES.includes(x.phase));
    for (let i = 0; i < 600; i++) {
      const d = await this.client
        .handle(id)
        .describe()
        .catch(() => null);
      if (d && d.status.name !== 'RUNNING') return s;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`${id} is ${s.phase} but its workflow did not close within 60 s`);
  }

  /**
   * Abort while production's canary is analysed at 50% (after `then`, e.g. slowing writes for the
   * revert): always in the same phase, so every run's phases match the undisturbed run's.
   */
  async abortAtCanary(id: string, then: () => void = () => undefined): Promise<void> {
    await this.waitFor(id, (s) => s.canaryPercent === 50 && s.phase === 'VERIFYING', 240_000, 100);
    then();
    await this.client.abort(id, 'faults: abort at the canary', 'faults');
  }

  /** While the steps to kill run, slow every request, so a kill lands inside them. */
  slowRequests(): void {
    this.proxy.rules = [
      { method: 'PATCH', fault: { kind: 'delay', ms: 1200 } },
      { method: 'DELETE', fault: { kind: 'delay', ms: 1200 } },
      { method: 'POST', fault: { kind: 'delay', ms: 600 } },
      { method: 'PUT', fault: { kind: 'delay', ms: 600 } },
      { method: 'GET', path: /limit=/, fault: { kind: 'delay', ms: 50 } },
      { method: 'GET', fault: { kind: 'delay', ms: 600 } },
    ];
  }

  /**
   * Arms a SIGKILL inside each of `steps` of `id`, in order, before any of them can start (call it
   * before the rotation, or the abort, that runs them): as each step first starts, the worker running
   * it is seen to start it and the apiserver proxy holds every request at once, synchronously, so the
   * step cannot end before its worker is killed, however loaded the machine (a step may begin while
   * the rig still restarts the worker killed in the step before). `run` then kills each one and
   * releases the proxy; `restart`: 'after-retry' leaves the step to another worker and starts the
   * killed one once it ran; 'at-once' starts the killed one right away (with one worker, only it can
   * take the step again).
   */
  armKills(id: string, steps: string[]): { run(restart?: 'after-retry' | 'at-once'): Promise<Recovery[]> } {
    const { pool, proxy } = this;
    const starts = steps.map(
      (step) =>
        new Promise<StepEvent>((resolve) =>
          pool.onNext(
            (e) => e.event === 'started' && e.step === step && e.workflowId === id,
            (e) => {
              proxy.hold();
              resolve(e);
            },
          ),
        ),
    );
    const within = (p: Promise<StepEvent>, step: string) =>
      Promise.race([
        p,
        new Promise<never>((_, reject) =>
          setTimeout(
            () => reject(new Error(`no start of ${step} of ${id} within 240 s; last steps: ${JSON.stringify(pool.events.slice(-5))}`)),
            240_000,
          ).unref(),
        ),
      ]);
    return {
      run: async (restart = 'after-retry') => {
        const out: Recovery[] = [];
        for (const [i, step] of steps.entries()) out.push(await this.killIn(id, step, await within(starts[i], step), restart));
        return out;
      },
    };
  }

  /** SIGKILL the worker that `started` `step` (the proxy holding it), and wait for the step to run again. */
  private async killIn(id: string, step: string, started: StepEvent, restart: 'after-retry' | 'at-once'): Promise<Recovery> {
    const { pool } = this;
    const retried = pool.next(
      (e) => e.event === 'started' && e.step === step && e.workflowId === id && e.attempt > started.attempt,
      120_000,
      `retry of ${step}`,
    );
    let killedAt: number;
    try {
      killedAt = await pool.kill(started.worker);
      if (pool.events.some((e) => e.pid === started.pid && e.workflowId === id && e.step === step && e.event !== 'started' && e.attempt === started.attempt))
        throw new Error(`${step} ended before the kill: the scenario did not kill inside it`);
    } finally {
      this.proxy.release();
    }
    let readyAt: number | null = null;
    if (restart === 'at-once') {
      await pool.start(started.worker);
      readyAt = pool.readyAt(started.worker);
    }
    const again = await retried;
    if (restart === 'after-retry') await pool.start(started.worker);
    return {
      step,
      killedAt,
      ms: again.at - killedAt,
      sinceRestartMs: readyAt === null ? null : again.at - readyAt,
      by: again.worker === started.worker && again.pid !== started.pid ? 'restarted' : 'other',
    };
  }
}
