// The workflow tests' activities: rotor's own activities (createActivities) over the memory adapter,
// which test/cluster-contract.test.ts holds to the Kubernetes adapter's behaviour on a real
// apiserver, so the world a workflow test sees behaves like a cluster. What a test scripts is only
// what the cluster cannot decide by itself: the metrics' verdicts, faults (an apiserver that refuses,
// an outage), other people's workloads holding the previous version, and rollouts that never become
// ready. Every call is logged for assertions, and the world is there to inspect afterwards.
import { ApplicationFailure, Context } from '@temporalio/activity';
import { createActivities, type SecretStores } from '../../activities';
import type { RotorActivities } from '../../contract/activities';
import { ANNOTATION_ROTATION } from '../../activities/kubernetes/ownership';
import { MemoryCluster, type MemoryWorkload } from '../../activities/memory';
import { KubernetesSecretStore } from '../../activities/store-kubernetes';
import { MemoryCredentialIssuer } from '../../activities/issuers/memory';
import { recordText, recordValuesFrom } from './leak';
import type {
  CheckResult,
  GitCommitResult,
  GitSwitchInput,
  Holder,
  MonitorInput,
  RolloutInput,
  RolloutResult,
  SwitchInput,
  WorkloadUse,
} from '../../contract/activities';
import type { GitChanges } from '../../activities/git/changes';
import type { Notifier } from '../../activities/notify/sinks';

export type CheckOutcome = 'passed' | 'failed' | 'inconclusive' | 'block';

/** Where the default workload refers to the Secret, located by meaning as the adapters record it. */
export const ENV_FROM = 'containers[app].envFrom[].secretRef.name';
/** The value of the Secret's key in every version the world starts with; never to appear in history. */
export const OLD_VALUE = 'rotor-leak-canary-old-token-value';

export interface Script {
  /** Namespace -> the version in use there at the start (default `<secret>-20250101000000`; null: none). */
  previous?: Record<string, string | null>;
  /** Namespace -> the workloads that use it (default: Deployment auth-api, 4 replicas). */
  workloads?: Record<string, WorkloadUse[]>;
  /** Outcome of each analysis window; `block` runs until the workflow cancels it. */
  check?: (input: MonitorInput, nth: number) => CheckOutcome;
  /** A rollout outcome the cluster would not produce by itself (a pod that never becomes ready). */
  rollout?: (input: RolloutInput, nth: number) => RolloutResult | undefined;
  /** Others' workloads that hold the previous version at each successive scan; the last repeats. */
  holders?: Holder[][];
  /** This many version names are already taken by another rotation when rotor tries them. */
  conflicts?: number;
  /** createVersion does its work, then its answer is lost (a retryable failure), this many times. */
  createAnswersLost?: number;
  /** In this namespace the apiserver refuses the switch after the first workload was switched (half-way). */
  switchFailsIn?: string;
  /** In this namespace the apiserver refuses every revert (a rollback rotor cannot finish). */
  revertFailsIn?: string;
  /** The apiserver is unreachable for this many revert attempts first (an outage). */
  revertOutage?: number;
  /** scanReferences fails (as a 503 that outlasts its retries) from this scan on. */
  scanFailsFrom?: number;
  /** The credential issuer plans with `value: { issuer }` use (default: an overlapping one); null: the worker has none. */
  issuer?: MemoryCredentialIssuer | null;
  /** The previous version's credential was issued by the issuer (default: a value from elsewhere, unknown to it). */
  previousIssued?: boolean;
  /** The issuer does not answer this many revokes first (each one a failed activity attempt). */
  revokeFails?: number;
  /** Stores beside the kubernetes one (e.g. the real AWS store against moto). */
  stores?: SecretStores;
  /** store external-secrets: how long CREATING waits for the operator, per attempt (default the worker's 90 s). */
  externalSecretReadyMs?: number;
  /**
   * Someone else's edits between rotor's steps (a GitOps self-heal setting a reference back): called
   * after each switch (nth switch) and before each check of the switched references (nth check).
   */
  afterSwitch?: (d: Doubles, input: SwitchInput, nth: number) => void;
  /** Namespace -> labels of the workloads seeded there (e.g. a GitOps controller's). */
  labels?: Record<string, Record<string, string>>;
  /** Before the rotation's first activity that reads the world (e.g. a repository set back to its first commit). */
  beforeDiscover?: () => Promise<void>;
  /** Git mode: the repositories (over a real Git server), with the worker's credentials. */
  git?: GitChanges;
  /** Git mode: the GitOps controller, standing in for Flux: applies a pushed commit (or revert) to the world. */
  gitController?: (d: Doubles, input: GitSwitchInput & { commit?: string }, result: GitCommitResult) => void | Promise<void>;
  beforeCheckSwitched?: (d: Doubles, nth: number) => void;
  /** The memory cluster; share one between Doubles to make their rotations meet. */
  cluster?: MemoryCluster;
  /** The worker's notification sinks (default: none). */
  notifier?: Notifier;
  /** The rotor deployment these activities belong to (its Temporal cluster id); default deployment-a. */
  deployment?: string;
}

export interface Call {
  name: keyof RotorActivities;
  input: any;
}

export function workload(namespace: string, name: string, kind: WorkloadUse['kind'] = 'Deployment'): WorkloadUse {
  return { kind, namespace, name, fields: [ENV_FROM] };
}

export class Doubles {
  readonly calls: Call[] = [];
  /** The world the rotations change, to inspect after a run. */
  readonly cluster: MemoryCluster;
  /** The worker's credential issuer (null when the script gives it none). */
  readonly issuer: MemoryCredentialIssuer | null;
  /** Resolves when a `block`ed check has started, so a test can signal at the right moment. */
  blocked: Promise<MonitorInput>;
  private unblock!: (input: MonitorInput) => void;
  private readonly seeded = new Set<string>();
  /** Others' holders currently placed in the world by `script.holders`. */
  private placed: MemoryWorkload[] = [];

  constructor(readonly script: Script = {}) {
    this.cluster = script.cluster ?? new MemoryCluster({ secrets: [], workloads: [] });
    this.issuer = script.issuer === undefined ? new MemoryCredentialIssuer({ mode: 'overlapping' }) : script.issuer;
    this.blocked = new Promise((resolve) => (this.unblock = resolve));
    // The leak check searches every history for the values this world held (generated, issued, seeded).
    recordValuesFrom(() => [...this.cluster.world.secrets.flatMap((s) => Object.values(s.data)), ...(this.issuer?.tokensForLeakCheck() ?? [])]);
  }

  called(name: keyof RotorActivities): any[] {
    return this.calls.filter((c) => c.name === name).map((c) => c.input);
  }

  /** The order of the calls to `names`, each with what it acted on (`deleteVersion:<version>`, `revokeCredential:<id>`). */
  callOrder(names: (keyof RotorActivities)[]): string[] {
    return this.calls
      .filter((c) => names.includes(c.name))
      .map((c) => `${c.name}${c.input?.id ? `:${c.input.id}` : c.input?.version ? `:${c.input.version}` : ''}`);
  }

  /** The workload as the world holds it now. */
  workload(namespace: string, name: string, kind: WorkloadUse['kind'] = 'Deployment'): MemoryWorkload | undefined {
    return this.cluster.world.workloads.find((w) => w.namespace === namespace && w.name === name && w.kind === kind);
  }

  secretNames(namespace: string): string[] {
    return this.cluster.world.secrets
      .filter((s) => s.namespace === namespace)
      .map((s) => s.name)
      .sort();
  }

  /**
   * The script's starting point for `secret` in `namespace`, placed in the world the first time a
   * rotation looks there. A second Secret used by a workload already there is added to it as one more
   * env reference (two rotations sharing a Deployment).
   */
  private async seed(namespace: string, secret: string): Promise<void> {
    if (this.seeded.has(`${namespace}/${secret}`)) return;
    this.seeded.add(`${namespace}/${secret}`);
    // Nothing lives in a namespace the cluster does not have.
    if (this.cluster.world.namespaces && !this.cluster.world.namespaces.includes(namespace)) return;
    const previous = this.script.previous?.[namespace] !== undefined ? this.script.previous[namespace] : `${secret}-20250101000000`;
    if (!previous) return;
    const token = this.script.previousIssued && this.issuer ? (await this.issuer.issue({ id: previous })).token : OLD_VALUE;
    this.cluster.world.secrets.push({ namespace, name: previous, data: { api_token: token }, immutable: true });
    for (const w of this.script.workloads?.[namespace] ?? [workload(namespace, 'auth-api')]) {
      const there = this.workload(namespace, w.name, w.kind);
      if (there) {
        there.refs[`containers[app].env[${secret.toUpperCase()}].valueFrom.secretKeyRef.name`] = previous;
        continue;
      }
      this.cluster.world.workloads.push({
        kind: w.kind,
        namespace,
        name: w.name,
        replicas: ['Deployment', 'StatefulSet'].includes(w.kind) ? 4 : undefined,
        refs: Object.fromEntries(w.fields.map((f) => [f, previous])),
        ...(this.script.labels?.[namespace] ? { labels: { ...this.script.labels[namespace] } } : {}),
      });
    }
  }

  /** Others' workloads holding `secretName` at this scan, as the script says. */
  private placeHolders(secretName: string, nth: number): void {
    const seq = this.script.holders;
    if (!seq?.length) return;
    const world = this.cluster.world;
    world.workloads = world.workloads.filter((w) => !this.placed.includes(w));
    this.placed = seq[Math.min(nth, seq.length - 1)].map((h) => ({
      kind: h.kind as MemoryWorkload['kind'],
      namespace: h.namespace,
      name: h.name,
      refs: { [h.fields[0] ?? 'volumes[data].secret.secretName']: secretName },
    }));
    world.workloads.push(...this.placed);
  }

  activities(): RotorActivities {
    const s = this.script;
    const real = createActivities({
      cluster: this.cluster,
      externalSecrets: this.cluster.externalSecrets,
      stores: { kubernetes: new KubernetesSecretStore(), ...this.script.stores },
      metrics: {},
      ...(this.issuer ? { issuer: this.issuer } : {}),
      ...(this.script.externalSecretReadyMs ? { externalSecretReadyMs: this.script.externalSecretReadyMs } : {}),
      ...(this.script.git ? { git: this.script.git } : {}),
      ...(this.script.notifier ? { notifier: this.script.notifier } : {}),
      // The Temporal deployment the claims name (the time-skipping server has no cluster id to ask).
      deploymentId: async () => this.script.deployment ?? 'deployment-a',
      // What a worker would log (every failed activity's error): leak-check evidence.
      log: (message, fields) => recordText('activity log (workflow test)', `${message} ${JSON.stringify(fields ?? {})}`),
    });
    const log = (name: keyof RotorActivities, input: unknown) => this.calls.push({ name, input: structuredClone(input) });
    let checks = 0;
    let checksSwitched = 0;
    let switches = 0;
    let rollouts = 0;
    let scans = 0;
    let conflicts = s.conflicts ?? 0;
    let answersLost = s.createAnswersLost ?? 0;
    let outage = s.revertOutage ?? 0;
    let revokeFails = s.revokeFails ?? 0;
    let discovered = 0;
    return {
      claimRotation: async (input) => {
        log('claimRotation', input);
        return real.claimRotation(input);
      },
      releaseRotation: async (input) => {
        log('releaseRotation', input);
        return real.releaseRotation(input);
      },
      discover: async (input) => {
        log('discover', input);
        if (!discovered++) await s.beforeDiscover?.();
        for (const stage of input.stages) await this.seed(stage.namespace, input.secret);
        return real.discover(input);
      },
      createVersion: async (input) => {
        log('createVersion', input);
        if (conflicts-- > 0) {
          // Another rotation created this name in the same second.
          this.cluster.world.secrets.push({
            namespace: input.namespaces[0],
            name: input.version,
            annotations: { [ANNOTATION_ROTATION]: 'rotate-other/run' },
            data: { api_token: 'theirs' },
          });
        }
        const created = await real.createVersion(input);
        if (answersLost-- > 0) throw new Error('createVersion: the connection was reset before the answer arrived');
        return created;
      },
      switchWorkloads: async (input) => {
        log('switchWorkloads', input);
        if (s.switchFailsIn === input.namespace) {
          // Half-way: the first workload switched, then the apiserver refused the next patch.
          await real.switchWorkloads({ ...input, workloads: input.workloads.slice(0, 1) });
          throw ApplicationFailure.create({ message: `patch refused in ${input.namespace}`, type: 'Forbidden', nonRetryable: true });
        }
        const records = await real.switchWorkloads(input);
        s.afterSwitch?.(this, input, switches++);
        return records;
      },
      revertWorkloads: async (input) => {
        log('revertWorkloads', input);
        if (outage > 0) {
          outage -= 1;
          throw ApplicationFailure.create({ message: `connect ECONNREFUSED 127.0.0.1:6443 (apiserver unreachable)`, type: 'Unavailable' });
        }
        if (s.revertFailsIn === input.namespace) {
          throw ApplicationFailure.create({
            message: `patch of Deployment/auth-api refused in ${input.namespace}: forbidden`,
            type: 'Forbidden',
            nonRetryable: true,
          });
        }
        return real.revertWorkloads(input);
      },
      announce: async (input) => {
        log('announce', input);
        return real.announce(input);
      },
      completeCanary: async (input) => {
        log('completeCanary', input);
        return real.completeCanary(input);
      },
      waitForRollout: async (input) => {
        log('waitForRollout', input);
        const scripted = s.rollout?.(input, rollouts++);
        return scripted ?? real.waitForRollout(input);
      },
      checkSwitched: async (input) => {
        log('checkSwitched', input);
        s.beforeCheckSwitched?.(this, checksSwitched++);
        return real.checkSwitched(input);
      },
      monitorAnalysis: async (input) => {
        log('monitorAnalysis', input);
        const outcome = s.check?.(input, checks++) ?? 'passed';
        if (outcome === 'block') {
          this.unblock(input);
          const ctx = Context.current();
          for (;;) {
            ctx.heartbeat();
            await ctx.sleep(50); // throws CancelledFailure once the workflow cancels
          }
        }
        const result: CheckResult = {
          stage: input.stage,
          check: input.check,
          verdict: outcome,
          reason: outcome === 'passed' ? 'error rate 0.001 at or below 0.01' : 'error rate 0.2 above 0.01',
          measurements: Math.max(1, Math.floor(input.durationMs / input.analysis.intervalMs)),
          lastValue: outcome === 'passed' ? 0.001 : 0.2,
          threshold: input.analysis.threshold,
          recent: [],
          startedAt: new Date().toISOString(),
          endedAt: new Date().toISOString(),
        };
        return result;
      },
      scanReferences: async (input) => {
        log('scanReferences', input);
        const nth = scans++;
        if (s.scanFailsFrom !== undefined && nth >= s.scanFailsFrom) {
          throw ApplicationFailure.create({ message: 'list Deployments in all namespaces: HTTP 503', type: 'Unavailable', nonRetryable: true });
        }
        this.placeHolders(input.secretName, nth);
        return real.scanReferences(input);
      },
      deleteVersion: async (input) => {
        log('deleteVersion', input);
        return real.deleteVersion(input);
      },
      finalizeVersion: async (input) => {
        log('finalizeVersion', input);
        return real.finalizeVersion(input);
      },
      checkStore: async (input) => {
        log('checkStore', input);
        return real.checkStore(input);
      },
      inspectCredentials: async (input) => {
        log('inspectCredentials', input);
        return real.inspectCredentials(input);
      },
      planGitChanges: async (input) => {
        log('planGitChanges', input);
        return real.planGitChanges(input);
      },
      commitToGit: async (input) => {
        log('commitToGit', input);
        const result = await real.commitToGit(input);
        await s.gitController?.(this, input, result);
        return result;
      },
      revertInGit: async (input) => {
        log('revertInGit', input);
        const result = await real.revertInGit(input);
        await s.gitController?.(this, input, result);
        return result;
      },
      waitForGitSync: async (input) => {
        log('waitForGitSync', input);
        return real.waitForGitSync(input);
      },
      namedInGit: async (input) => {
        log('namedInGit', input);
        return real.namedInGit(input);
      },
      removeFromGit: async (input) => {
        log('removeFromGit', input);
        return real.removeFromGit(input);
      },
      restoreInGit: async (input) => {
        log('restoreInGit', input);
        return real.restoreInGit(input);
      },
      changeWindow: async (input) => {
        log('changeWindow', input);
        return real.changeWindow(input);
      },
      preflightCheck: async (input) => {
        log('preflightCheck', input);
        return real.preflightCheck(input);
      },
      notifyRoutes: async (input) => {
        // Logged when there is something to resolve (a plan's notify, or sinks on this worker): every other
        // rotation asks it too, as a local read, and the call lists other tests assert stay as they were.
        if (input.planned !== null || s.notifier) log('notifyRoutes', input);
        return real.notifyRoutes(input);
      },
      sendNotification: async (input) => {
        log('sendNotification', input);
        return real.sendNotification(input);
      },
      revokeCredential: async (input) => {
        log('revokeCredential', input);
        if (revokeFails > 0) {
          revokeFails -= 1;
          throw ApplicationFailure.create({ message: `cannot reach the issuer to revoke the credential ${input.id} (ECONNREFUSED)`, type: 'Unavailable' });
        }
        return real.revokeCredential(input);
      },
    };
  }
}
