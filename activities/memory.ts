// The memory backend: the real Kubernetes adapter (activities/kubernetes/) over an in-memory
// kube-apiserver (memory/apiserver.ts) whose state is a memory world (memory/world.ts). `rotor worker`
// with ROTOR_BACKEND=memory rehearses a plan against a described world without touching a cluster,
// and the workflow tests run on it; every cluster rule and message is the adapter's, once.
import type { GitOpsOptions } from './kubernetes/gitops';
import { KubernetesCluster } from './kubernetes';
import { MemoryApiServer } from './memory/apiserver';
import { httpLibraryOf, memoryKubeConfig, readerOf } from './memory/connection';
import type { MemoryProvider, MemoryWorld } from './memory/world';
import { runProgram } from './memory/programs';
import type { PreflightJobRun, PreflightJobSpec } from './ports';

export * from './memory/world';

export class MemoryCluster extends KubernetesCluster {
  /** The apiserver the adapter talks to; the world is its state. */
  readonly api: MemoryApiServer;

  constructor(
    readonly world: MemoryWorld,
    /** What External Secrets Operator would read for an ExternalSecret (without it, none syncs). */
    provider?: MemoryProvider,
    /** How GitOps controllers mark what they own, as the Kubernetes adapter is told. */
    gitops: GitOpsOptions = {},
    pageSize?: number,
  ) {
    const api = new MemoryApiServer(world, provider);
    super(memoryKubeConfig(), pageSize, gitops, undefined, { http: httpLibraryOf(api), reader: async () => readerOf(api) });
    this.api = api;
  }

  /**
   * A pre-flight Job, run as the sandbox's pod simulator runs one (memory/programs.ts): its pod cannot
   * start without the version, and the simulated image decides from the value it reads.
   */
  override async runPreflightJob(spec: PreflightJobSpec): Promise<PreflightJobRun> {
    const stored = await this.readVersion(spec.namespace, spec.version);
    if (!stored) return { passed: false, message: `Job ${spec.name} cannot start: CreateContainerConfigError: secret "${spec.version}" not found`, logs: [] };
    const mount = spec.job.secretAs;
    const inputs =
      'volume' in mount
        ? { env: {}, files: Object.fromEntries(Object.entries(stored.data).map(([k, v]) => [`${mount.volume.replace(/\/$/, '')}/${k}`, v])) }
        : { env: { ...stored.data }, files: {} };
    // The Job's deadline, as the Job controller keeps it.
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<null>((r) => (timer = setTimeout(() => r(null), spec.job.timeoutMs)));
    const run = await Promise.race([runProgram(spec.job.image, [...(spec.job.command ?? []), ...(spec.job.args ?? [])], inputs), deadline]);
    clearTimeout(timer);
    if (!run) return { passed: false, message: `Job ${spec.name} failed: DeadlineExceeded: Job was active longer than specified deadline`, logs: [] };
    return run.exitCode === 0
      ? { passed: true, message: `Job ${spec.name} succeeded`, logs: run.log }
      : { passed: false, message: `Job ${spec.name} failed: its container exited ${run.exitCode} (Error)`, logs: run.log };
  }

  get provider(): MemoryProvider | undefined {
    return this.api.provider;
  }

  set provider(provider: MemoryProvider | undefined) {
    this.api.provider = provider;
  }
}
