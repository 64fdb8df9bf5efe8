// Plays the kubelets of a few simulated nodes against the real apiserver: registers Ready nodes and
// renews their leases, binds pending pods, and writes pod status the way a kubelet would. A pod
// whose referenced Secret (or key) is missing stays Pending with CreateContainerConfigError; the
// others become Ready after `readyDelayMs`; pods of Jobs end after `jobDurationMs`, as their image's
// simulated program decides (activities/memory/programs.ts: `rotor.dev/sandbox/check` judges the value
// its Secret gives it; any other image succeeds), a failed one leaving its last log lines as the
// termination message, as kubelet does for FallbackToLogsOnError; a pod being deleted is removed at
// once (nothing runs to shut down).
import * as k8s from '@kubernetes/client-node';
import { resolveEnv, type StartedEnv } from './traffic';
import { PollLoop } from './poll-loop';
import { missingSecretReason } from '../activities/memory/kubelet';
import { runProgram, type ProgramRun } from '../activities/memory/programs';

export interface SimulatorOptions {
  kubeconfig: string;
  nodes?: number;
  readyDelayMs?: number;
  jobDurationMs?: number;
  pollMs?: number;
  log?: (line: string) => void;
  /** A pod's containers started (it became Ready), with the environment they started with. */
  onContainerStart?: (pod: k8s.V1Pod, env: StartedEnv) => void;
  /** A started pod stopped: deleted, or no longer running. */
  onContainerStop?: (uid: string) => void;
}

type SecretIndex = Map<string, Record<string, string>>;

function condition(type: string, status: boolean, now: Date): k8s.V1PodCondition {
  return { type, status: status ? 'True' : 'False', lastTransitionTime: now };
}

export class PodSimulator {
  private readonly core: k8s.CoreV1Api;
  private readonly leases: k8s.CoordinationV1Api;
  private readonly nodeNames: string[];
  private readonly scheduledAt = new Map<string, number>();
  private readonly loop: PollLoop;
  private nextNode = 0;
  private lastHeartbeat = 0;
  /** Pods whose containers run, by uid: a pod leaving this set stopped. */
  private readonly started = new Set<string>();
  /** A Job pod's program, by uid: running, then its exit code and log. */
  private readonly programs = new Map<string, { run?: ProgramRun }>();
  readonly options: Required<Omit<SimulatorOptions, 'log' | 'onContainerStart' | 'onContainerStop'>> &
    Pick<SimulatorOptions, 'log' | 'onContainerStart' | 'onContainerStop'>;

  constructor(options: SimulatorOptions) {
    this.options = { nodes: 2, readyDelayMs: 1000, jobDurationMs: 1000, pollMs: 250, ...options };
    this.loop = new PollLoop(
      () => this.tick(),
      this.options.pollMs,
      (line) => this.log(line),
    );
    const kc = new k8s.KubeConfig();
    kc.loadFromFile(options.kubeconfig);
    this.core = kc.makeApiClient(k8s.CoreV1Api);
    this.leases = kc.makeApiClient(k8s.CoordinationV1Api);
    this.nodeNames = Array.from({ length: this.options.nodes }, (_, i) => `sim-node-${i + 1}`);
  }

  private log(line: string): void {
    this.options.log?.(`[simulator] ${line}`);
  }

  async start(): Promise<void> {
    await this.heartbeat(true);
    this.loop.start();
  }

  async stop(): Promise<void> {
    await this.loop.stop();
  }

  /** Nodes Ready, their status and leases fresh (every 10 s, or at once when forced). */
  private async heartbeat(force = false): Promise<void> {
    const now = new Date();
    if (!force && now.getTime() - this.lastHeartbeat < 10_000) return;
    this.lastHeartbeat = now.getTime();
    for (const name of this.nodeNames) {
      let node: k8s.V1Node;
      try {
        node = await this.core.readNode({ name });
      } catch {
        node = await this.core.createNode({
          body: { metadata: { name, labels: { 'kubernetes.io/hostname': name, 'kubernetes.io/os': 'linux', 'rotor.dev/simulated': 'true' } } },
        });
      }
      // Admission taints new nodes not-ready; the node lifecycle controller (off here) would lift it once Ready.
      const taints = node.spec?.taints ?? [];
      const kept = taints.filter((t) => !['node.kubernetes.io/not-ready', 'node.kubernetes.io/unreachable'].includes(t.key));
      if (kept.length !== taints.length) node = await this.core.replaceNode({ name, body: { ...node, spec: { ...node.spec, taints: kept } } });
      node.status = {
        ...node.status,
        capacity: { cpu: '32', memory: '128Gi', pods: '250' },
        allocatable: { cpu: '32', memory: '128Gi', pods: '250' },
        conditions: [{ type: 'Ready', status: 'True', reason: 'KubeletReady', message: 'simulated by rotor', lastHeartbeatTime: now, lastTransitionTime: now }],
        nodeInfo: {
          architecture: 'amd64',
          bootID: name,
          containerRuntimeVersion: 'simulated://1',
          kernelVersion: 'simulated',
          kubeProxyVersion: '',
          kubeletVersion: 'v1.37.2',
          machineID: name,
          operatingSystem: 'linux',
          osImage: 'rotor pod simulator',
          systemUUID: name,
        },
      };
      await this.core.replaceNodeStatus({ name, body: node });
      const lease = {
        metadata: { name, namespace: 'kube-node-lease' },
        spec: { holderIdentity: name, leaseDurationSeconds: 40, renewTime: new k8s.V1MicroTime(now.toISOString()) },
      };
      try {
        const existing = await this.leases.readNamespacedLease({ name, namespace: 'kube-node-lease' });
        await this.leases.replaceNamespacedLease({ name, namespace: 'kube-node-lease', body: { ...existing, spec: lease.spec } });
      } catch {
        await this.leases.createNamespacedLease({ namespace: 'kube-node-lease', body: lease }).catch(() => undefined);
      }
    }
  }

  private async tick(): Promise<void> {
    await this.heartbeat();
    const [pods, secretList] = await Promise.all([this.core.listPodForAllNamespaces({}), this.core.listSecretForAllNamespaces({})]);
    const secrets: SecretIndex = new Map(secretList.items.map((s) => [`${s.metadata!.namespace}/${s.metadata!.name}`, s.data ?? {}]));
    const running = new Set<string>();
    for (const pod of pods.items) {
      await this.reconcile(pod, secrets, running).catch((err) => {
        if (err?.code !== 409 && err?.code !== 404) this.log(`pod ${pod.metadata?.namespace}/${pod.metadata?.name}: ${err?.message ?? err}`);
      });
    }
    for (const uid of this.started) {
      if (running.has(uid)) continue;
      this.started.delete(uid);
      this.options.onContainerStop?.(uid);
    }
  }

  /** A pod is Ready: the first time, its containers start with the environment its Secrets give now. */
  private markRunning(pod: k8s.V1Pod, secrets: SecretIndex, running: Set<string>): void {
    const uid = pod.metadata!.uid!;
    running.add(uid);
    if (this.started.has(uid)) return;
    this.started.add(uid);
    this.options.onContainerStart?.(pod, resolveEnv(pod, secrets));
  }

  private async reconcile(pod: k8s.V1Pod, secrets: SecretIndex, running: Set<string>): Promise<void> {
    const name = pod.metadata!.name!;
    const namespace = pod.metadata!.namespace!;
    const key = `${namespace}/${name}/${pod.metadata!.uid}`;
    if (pod.metadata!.deletionTimestamp) {
      await this.core.deleteNamespacedPod({ name, namespace, gracePeriodSeconds: 0 });
      this.scheduledAt.delete(key);
      this.programs.delete(pod.metadata!.uid!);
      return;
    }
    if (!pod.spec!.nodeName) {
      // DaemonSet pods name their node through required node affinity; honour it as a scheduler would.
      const pinned = pod
        .spec!.affinity?.nodeAffinity?.requiredDuringSchedulingIgnoredDuringExecution?.nodeSelectorTerms?.flatMap((t) => t.matchFields ?? [])
        .find((f) => f.key === 'metadata.name' && f.operator === 'In')?.values?.[0];
      const node = pinned ?? this.nodeNames[this.nextNode++ % this.nodeNames.length];
      await this.core.createNamespacedBinding({ namespace, body: { metadata: { name, namespace }, target: { apiVersion: 'v1', kind: 'Node', name: node } } });
      this.scheduledAt.set(key, Date.now());
      return;
    }
    const phase = pod.status?.phase;
    if (phase === 'Succeeded' || phase === 'Failed') return;
    if (!this.scheduledAt.has(key)) this.scheduledAt.set(key, Date.now());
    const now = new Date();
    const containers = pod.spec!.containers ?? [];
    const missing = missingSecretReason(pod, secrets);
    const base: k8s.V1PodStatus = {
      ...pod.status,
      hostIP: '10.0.0.1',
      podIP: pod.status?.podIP ?? `10.244.${this.nextNode % 250}.${(this.scheduledAt.size % 250) + 2}`,
      startTime: pod.status?.startTime ?? now,
    };
    // Scheduled, not running: every container waits, for the given reason.
    const pending = (waiting: k8s.V1ContainerStateWaiting): k8s.V1PodStatus => ({
      ...base,
      phase: 'Pending',
      conditions: [
        condition('PodScheduled', true, now),
        condition('Initialized', true, now),
        condition('ContainersReady', false, now),
        condition('Ready', false, now),
      ],
      containerStatuses: containers.map((c) => ({ name: c.name, image: c.image ?? '', imageID: '', ready: false, restartCount: 0, state: { waiting } })),
    });
    let desired: k8s.V1PodStatus;
    if (missing) {
      desired = pending({ reason: 'CreateContainerConfigError', message: missing });
    } else {
      const age = Date.now() - this.scheduledAt.get(key)!;
      const isJob = (pod.metadata!.ownerReferences ?? []).some((o) => o.kind === 'Job');
      if (age < this.options.readyDelayMs) {
        desired = pending({ reason: 'ContainerCreating' });
      } else if (isJob && age >= this.options.readyDelayMs + this.options.jobDurationMs && this.programOf(pod, secrets).run) {
        const run = this.programOf(pod, secrets).run!;
        const fallback = containers[0]?.terminationMessagePolicy === 'FallbackToLogsOnError' && run.exitCode !== 0;
        desired = {
          ...base,
          phase: run.exitCode === 0 ? 'Succeeded' : 'Failed',
          conditions: [
            condition('PodScheduled', true, now),
            condition('Initialized', true, now),
            condition('ContainersReady', false, now),
            condition('Ready', false, now),
          ],
          containerStatuses: containers.map((c) => ({
            name: c.name,
            image: c.image ?? '',
            imageID: '',
            ready: false,
            restartCount: 0,
            state: {
              terminated: {
                exitCode: run.exitCode,
                reason: run.exitCode === 0 ? 'Completed' : 'Error',
                finishedAt: now,
                ...(fallback ? { message: run.log.slice(-80).join('\n').slice(-2048) } : {}),
              },
            },
          })),
        };
      } else {
        desired = {
          ...base,
          phase: 'Running',
          conditions: [
            condition('PodScheduled', true, now),
            condition('Initialized', true, now),
            condition('ContainersReady', true, now),
            condition('Ready', true, now),
          ],
          containerStatuses: containers.map((c) => ({
            name: c.name,
            image: c.image ?? '',
            imageID: `simulated://${c.image}`,
            containerID: `simulated://${name}-${c.name}`,
            ready: true,
            started: true,
            restartCount: 0,
            state: { running: { startedAt: now } },
          })),
        };
      }
    }
    if (!this.sameStatus(pod.status, desired)) await this.core.replaceNamespacedPodStatus({ name, namespace, body: { ...pod, status: desired } });
    if (desired.phase === 'Running') this.markRunning(pod, secrets, running);
  }

  /** A Job pod's program, started once with what its Secrets give it now; `run` once it ended. */
  private programOf(pod: k8s.V1Pod, secrets: SecretIndex): { run?: ProgramRun } {
    const uid = pod.metadata!.uid!;
    let entry = this.programs.get(uid);
    if (entry) return entry;
    entry = {};
    this.programs.set(uid, entry);
    const container = pod.spec!.containers[0];
    const inputs = { env: resolveEnv(pod, secrets).values, files: mountedFiles(pod, secrets) };
    const done = entry;
    void runProgram(container.image ?? '', [...(container.command ?? []), ...(container.args ?? [])], inputs).then((run) => (done.run = run));
    return entry;
  }

  /** Only write when something an observer would see changes (phase, readiness, waiting reason). */
  private sameStatus(current: k8s.V1PodStatus | undefined, desired: k8s.V1PodStatus): boolean {
    if (!current) return false;
    const summary = (s: k8s.V1PodStatus) =>
      JSON.stringify([
        s.phase,
        (s.conditions ?? []).map((c) => `${c.type}=${c.status}`).sort(),
        (s.containerStatuses ?? []).map((c) => [c.name, c.ready, Object.keys(c.state ?? {})[0], c.state?.waiting?.reason, c.state?.waiting?.message]),
      ]);
    return summary(current) === summary(desired);
  }
}

/** The files a pod's first container sees from its Secret volumes: `<mountPath>/<key>` -> the value. */
function mountedFiles(pod: k8s.V1Pod, secrets: SecretIndex): Record<string, string> {
  const ns = pod.metadata?.namespace ?? 'default';
  const files: Record<string, string> = {};
  for (const mount of pod.spec?.containers?.[0]?.volumeMounts ?? []) {
    const name = pod.spec?.volumes?.find((v) => v.name === mount.name)?.secret?.secretName;
    const data = name ? secrets.get(`${ns}/${name}`) : undefined;
    for (const [key, b64] of Object.entries(data ?? {})) files[`${mount.mountPath.replace(/\/$/, '')}/${key}`] = Buffer.from(b64, 'base64').toString('utf8');
  }
  return files;
}
