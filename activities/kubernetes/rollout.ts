// Rollout status exactly as `kubectl rollout status` judges it (kubectl/pkg/polymorphichelpers/
// rollout_status.go), plus kubelet's verdict on pods that cannot start. Where kubectl refuses to judge
// (OnDelete, a bare ReplicaSet), rotor refuses the workload before changing anything.
import type { WorkloadKind } from '../../domain/plan';
import { gitopsRefusal, type GitOpsOptions } from './gitops';
import type { Obj } from './kinds';
import { workloadSecretRefs } from './refs';

export interface Verdict {
  ready: boolean;
  failed: boolean;
  message: string;
}

/**
 * Why rotor cannot switch this workload and honestly say when its pods run the new version, or null.
 * Checked in PLANNING, so such a plan fails before anything changes.
 */
export function rolloutRefusal(kind: WorkloadKind, obj: Obj): string | null {
  const spec = obj.spec ?? {};
  if ((kind === 'StatefulSet' || kind === 'DaemonSet') && spec.updateStrategy?.type === 'OnDelete') {
    return `${kind}/${obj.metadata?.name} uses updateStrategy OnDelete: its pods keep the previous version until someone deletes them, and \`kubectl rollout status\` cannot judge it; set updateStrategy to RollingUpdate, or leave it out of the plan's workloads and move it by hand`;
  }
  if (kind === 'Deployment' && spec.paused) {
    return `Deployment/${obj.metadata?.name} is paused: a switch would not roll out until it is resumed; \`kubectl rollout resume deployment/${obj.metadata?.name}\` first, or leave it out of the plan's workloads`;
  }
  if (kind === 'ReplicaSet') {
    return `ReplicaSet/${obj.metadata?.name} has no Deployment: a ReplicaSet does not replace its pods when its template changes, so its pods would keep the previous version; manage it with a Deployment, or leave it out of the plan's workloads`;
  }
  return null;
}

/**
 * Why rotor will not switch this workload, or null: what it cannot roll out honestly (above), or a
 * GitOps controller that owns it (gitops.ts). Checked in PLANNING and again at the switch.
 */
export function switchRefusal(
  kind: WorkloadKind,
  obj: Obj,
  gitops?: GitOpsOptions,
  referenceFields: string[] = workloadSecretRefs(kind, obj).map((r) => r.field),
): string | null {
  return rolloutRefusal(kind, obj) ?? gitopsRefusal(kind, obj.metadata ?? {}, referenceFields, gitops);
}

export function rolloutOf(kind: WorkloadKind, obj: Obj): Verdict {
  const spec = obj.spec ?? {};
  const status = obj.status ?? {};
  const generation = obj.metadata?.generation ?? 0;
  const name = obj.metadata?.name;
  const waiting = (message: string): Verdict => ({ ready: false, failed: false, message });
  if (kind === 'CronJob' || kind === 'Job' || kind === 'Pod') {
    return { ready: true, failed: false, message: kind === 'CronJob' ? 'takes effect at its next run' : 'no rollout' };
  }
  const refusal = rolloutRefusal(kind, obj);
  if (refusal && kind !== 'Deployment') return { ready: false, failed: true, message: refusal };
  if (kind === 'Deployment') {
    if (generation > (status.observedGeneration ?? 0)) return waiting('Waiting for deployment spec update to be observed...');
    const progressing = (status.conditions ?? []).find((c: { type: string }) => c.type === 'Progressing');
    if (progressing?.reason === 'ProgressDeadlineExceeded')
      return { ready: false, failed: true, message: `deployment "${name}" exceeded its progress deadline` };
    const updated = status.updatedReplicas ?? 0;
    if (spec.replicas !== undefined && updated < spec.replicas)
      return waiting(`Waiting for deployment "${name}" rollout to finish: ${updated} out of ${spec.replicas} new replicas have been updated...`);
    if ((status.replicas ?? 0) > updated)
      return waiting(`Waiting for deployment "${name}" rollout to finish: ${(status.replicas ?? 0) - updated} old replicas are pending termination...`);
    if ((status.availableReplicas ?? 0) < updated)
      return waiting(`Waiting for deployment "${name}" rollout to finish: ${status.availableReplicas ?? 0} of ${updated} updated replicas are available...`);
    return { ready: true, failed: false, message: `deployment "${name}" successfully rolled out` };
  }
  if (kind === 'StatefulSet') {
    if (!status.observedGeneration || generation > status.observedGeneration) return waiting('Waiting for statefulset spec update to be observed...');
    if (spec.replicas !== undefined && (status.readyReplicas ?? 0) < spec.replicas)
      return waiting(`Waiting for ${spec.replicas - (status.readyReplicas ?? 0)} pods to be ready...`);
    const rolling = spec.updateStrategy?.rollingUpdate;
    if (rolling) {
      const partition = rolling.partition;
      if (spec.replicas !== undefined && partition !== undefined && partition !== null) {
        if ((status.updatedReplicas ?? 0) < spec.replicas - partition) {
          return waiting(
            `Waiting for partitioned roll out to finish: ${status.updatedReplicas ?? 0} out of ${spec.replicas - partition} new pods have been updated...`,
          );
        }
      }
      const kept = partition ? `; pods below ordinal ${partition} keep the previous version until the partition is lowered` : '';
      return { ready: true, failed: false, message: `partitioned roll out complete: ${status.updatedReplicas ?? 0} new pods have been updated${kept}` };
    }
    if (status.updateRevision !== status.currentRevision)
      return waiting(`waiting for statefulset rolling update to complete ${status.updatedReplicas ?? 0} pods at revision ${status.updateRevision}...`);
    return {
      ready: true,
      failed: false,
      message: `statefulset rolling update complete ${status.currentReplicas ?? 0} pods at revision ${status.currentRevision}`,
    };
  }
  if (kind === 'DaemonSet') {
    if (generation > (status.observedGeneration ?? 0)) return waiting('Waiting for daemon set spec update to be observed...');
    const desired = status.desiredNumberScheduled ?? 0;
    if ((status.updatedNumberScheduled ?? 0) < desired)
      return waiting(
        `Waiting for daemon set "${name}" rollout to finish: ${status.updatedNumberScheduled ?? 0} out of ${desired} new pods have been updated...`,
      );
    if ((status.numberAvailable ?? 0) < desired)
      return waiting(`Waiting for daemon set "${name}" rollout to finish: ${status.numberAvailable ?? 0} of ${desired} updated pods are available...`);
    return { ready: true, failed: false, message: `daemon set "${name}" successfully rolled out` };
  }
  return { ready: false, failed: true, message: refusal ?? `${kind} has no rollout status` };
}
