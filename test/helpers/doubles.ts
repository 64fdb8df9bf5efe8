// Activity doubles for workflow tests: scripted outcomes, and a log of every call to assert on.
import { ApplicationFailure, Context } from '@temporalio/activity';
import type { RotorActivities } from '../../activities/contract';
import { createActivities } from '../../activities';
import { MemoryCluster } from '../../activities/memory';
import { KubernetesSecretStore } from '../../activities/store-kubernetes';
import type { CheckResult, Holder, MonitorInput, RolloutInput, RolloutResult, SwitchRecord, WorkloadUse } from '../../activities/types';

export type CheckOutcome = 'passed' | 'failed' | 'inconclusive' | 'block';

export interface Script {
  /** Namespace -> the version in use now. */
  previous?: Record<string, string | null>;
  /** Namespace -> workloads using it. */
  workloads?: Record<string, WorkloadUse[]>;
  /** Outcome of each analysis window; `block` runs until the workflow cancels it. */
  check?: (input: MonitorInput, nth: number) => CheckOutcome;
  rollout?: (input: RolloutInput, nth: number) => RolloutResult;
  /** Successive reference scans of the previous version; the last repeats. */
  holders?: Holder[][];
  /** createVersion answers `conflict` this many times first. */
  conflicts?: number;
  /** switchWorkloads throws for this namespace. */
  switchFailsIn?: string;
  /** revertWorkloads throws for this namespace (a rollback rotor cannot finish). */
  revertFailsIn?: string;
  /** revertWorkloads fails (retryably, as during an apiserver outage) this many times first. */
  revertOutage?: number;
  /** scanReferences fails (retryably) from this scan on. */
  scanFailsFrom?: number;
  /** The memory cluster that keeps the rotations' claims; share one to make rotations meet. */
  cluster?: MemoryCluster;
}

export interface Call {
  name: keyof RotorActivities;
  input: any;
}

export function workload(namespace: string, name: string, kind: WorkloadUse['kind'] = 'Deployment'): WorkloadUse {
  return { kind, namespace, name, fields: ['spec.template.spec.containers[0].envFrom[0].secretRef.name'] };
}

export class Doubles {
  readonly calls: Call[] = [];
  /** Resolves when a `block`ed check has started, so a test can signal at the right moment. */
  blocked: Promise<MonitorInput>;
  private unblock!: (input: MonitorInput) => void;

  /** The world the claims live in (the memory adapter, as `rotor worker` with ROTOR_BACKEND=memory). */
  readonly cluster: MemoryCluster;

  constructor(readonly script: Script = {}) {
    this.cluster = script.cluster ?? new MemoryCluster({ secrets: [], workloads: [] });
    this.blocked = new Promise((resolve) => (this.unblock = resolve));
  }

  called(name: keyof RotorActivities): any[] {
    return this.calls.filter((c) => c.name === name).map((c) => c.input);
  }

  activities(): RotorActivities {
    const s = this.script;
    const log = (name: keyof RotorActivities, input: unknown) => this.calls.push({ name, input: structuredClone(input) });
    let checks = 0;
    let rollouts = 0;
    let scans = 0;
    let conflicts = s.conflicts ?? 0;
    let outage = s.revertOutage ?? 0;
    const record = (ns: string, w: WorkloadUse, from: string, to: string, weightPercent?: number): SwitchRecord => ({
      namespace: ns,
      kind: w.kind,
      name: w.name,
      from,
      to,
      fields: w.fields,
      canary: weightPercent === undefined ? undefined : { green: `${w.name}-green`, weightPercent, blueReplicas: 0, greenReplicas: 0, originalReplicas: 0 },
    });
    const real = createActivities({ cluster: this.cluster, store: new KubernetesSecretStore(), metrics: { measure: async () => null } });
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
        return input.stages.map((st) => ({
          namespace: st.namespace,
          previousVersion: s.previous?.[st.namespace] !== undefined ? s.previous[st.namespace] : `${input.secret}-20250101000000`,
          workloads: s.workloads?.[st.namespace] ?? [workload(st.namespace, 'auth-api')],
          missing: [],
        }));
      },
      createVersion: async (input) => {
        log('createVersion', input);
        if (conflicts-- > 0) return { outcome: 'conflict', owner: 'rotate-other/run' };
        return { outcome: 'created', namespaces: input.namespaces, keys: ['api_token'] };
      },
      switchWorkloads: async (input) => {
        log('switchWorkloads', input);
        if (s.switchFailsIn === input.namespace) {
          throw ApplicationFailure.create({ message: `patch refused in ${input.namespace}`, type: 'Forbidden', nonRetryable: true });
        }
        return input.workloads.map((w) => record(input.namespace, w, input.from, input.to, input.weightPercent));
      },
      revertWorkloads: async (input) => {
        log('revertWorkloads', input);
        if (outage > 0) {
          outage -= 1;
          throw ApplicationFailure.create({ message: `connect ECONNREFUSED 127.0.0.1:6443 (apiserver unreachable)`, type: 'Unavailable' });
        }
        if (s.revertFailsIn === input.namespace) {
          throw ApplicationFailure.create({ message: `patch of Deployment/auth-api refused in ${input.namespace}: forbidden`, type: 'Forbidden', nonRetryable: true });
        }
        return input.records.length ? input.records.map((r) => ({ ...r, from: input.from, to: input.to })) : input.workloads.map((w) => record(input.namespace, w, input.from, input.to));
      },
      completeCanary: async (input) => {
        log('completeCanary', input);
      },
      waitForRollout: async (input) => {
        log('waitForRollout', input);
        return s.rollout?.(input, rollouts++) ?? { ready: true, message: 'all replicas updated and available' };
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
        const seq = s.holders ?? [[]];
        if (s.scanFailsFrom !== undefined && scans >= s.scanFailsFrom) {
          scans++;
          throw ApplicationFailure.create({ message: 'list Deployments in all namespaces: HTTP 503', type: 'Unavailable', nonRetryable: true });
        }
        return seq[Math.min(scans++, seq.length - 1)];
      },
      deleteVersion: async (input) => {
        log('deleteVersion', input);
        return { deleted: true, namespaces: input.namespaces };
      },
      finalizeVersion: async (input) => {
        log('finalizeVersion', input);
      },
    };
  }
}
