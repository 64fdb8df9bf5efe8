// The reference scan: which objects hold a Secret, and which of them rotor may switch.
//
// Read, page by page, in every namespace asked: Deployments, StatefulSets, DaemonSets, ReplicaSets,
// CronJobs, Jobs and Pods, every field of refs.ts's table. What holds a Secret (so it is never deleted):
// - Deployments, StatefulSets, DaemonSets, CronJobs (suspended ones too: they may resume);
// - ReplicaSets without a Deployment (a Deployment's own are judged through it and through their pods;
//   old ones at zero replicas are revision history: `kubectl rollout undo` past a deleted version fails);
// - Jobs that have not finished (Complete or Failed), suspended ones and those a CronJob made included:
//   they may still start pods;
// - Pods that have not finished (Succeeded or Failed).
// What rotor switches: Deployments, StatefulSets, DaemonSets, CronJobs (and refuses ReplicaSets with
// no Deployment, rollout.ts), never rotor's own canary copies; Jobs and Pods only hold.
import type { WorkloadKind } from '../../domain/plan';
import type { Obj } from './kinds';
import { isCanaryCopy } from './ownership';
import { workloadSecretRefs, type SecretRef } from './refs';
import { gitopsControllers, type GitOpsController, type GitOpsOptions } from './gitops';
import { rolloutRefusal, switchRefusal } from './rollout';

export const SCANNED_KINDS: readonly WorkloadKind[] = ['Deployment', 'StatefulSet', 'DaemonSet', 'ReplicaSet', 'CronJob', 'Job', 'Pod'];

function finishedJob(obj: Obj): boolean {
  return (obj.status?.conditions ?? []).some((c: { type: string; status: string }) => (c.type === 'Complete' || c.type === 'Failed') && c.status === 'True');
}

/** Whether this object's references keep a Secret alive. */
function holds(kind: WorkloadKind, obj: Obj): boolean {
  const owners = obj.metadata?.ownerReferences ?? [];
  if (kind === 'ReplicaSet' && owners.some((o) => o.kind === 'Deployment')) return false;
  if (kind === 'Job') return !finishedJob(obj);
  if (kind === 'Pod') return obj.status?.phase !== 'Succeeded' && obj.status?.phase !== 'Failed';
  return true;
}

/** Whether rotor switches this object itself (not through an owner, and not a canary copy). */
function switchable(kind: WorkloadKind, obj: Obj): boolean {
  if (isCanaryCopy(obj.metadata?.annotations)) return false;
  const owners = obj.metadata?.ownerReferences ?? [];
  if (kind === 'ReplicaSet') return !owners.some((o) => o.kind === 'Deployment');
  return kind !== 'Job' && kind !== 'Pod';
}

/** What is kept of a holder once judged: never the object itself (a scan keeps a few fields a holder, not its pod spec). */
export interface Found {
  kind: WorkloadKind;
  name: string;
  namespace: string;
  /** Whether it has an owner (a Deployment's ReplicaSet, a ReplicaSet's pod): listVersions shows it through its owner. */
  owned: boolean;
  refs: SecretRef[];
  switchable: boolean;
  /** Set when rotor refuses to switch it live (rollout.ts). */
  refusal: string | null;
  /** What rotor cannot roll out honestly, whoever applies it (rollout.ts): a refusal in Git mode too. */
  rolloutRefusal: string | null;
  /** The GitOps controllers that apply it (gitops.ts); empty when none. */
  managedBy: GitOpsController[];
}

export function examine(kind: WorkloadKind, obj: Obj, match: (name: string) => boolean, gitops?: GitOpsOptions): Found | null {
  if (!holds(kind, obj)) return null;
  const refs = workloadSecretRefs(kind, obj).filter((r) => match(r.name));
  if (refs.length === 0) return null;
  const canSwitch = switchable(kind, obj);
  const fields = workloadSecretRefs(kind, obj).map((r) => r.field);
  return {
    kind,
    name: obj.metadata?.name ?? '',
    namespace: obj.metadata?.namespace ?? '',
    owned: (obj.metadata?.ownerReferences ?? []).length > 0,
    refs,
    switchable: canSwitch,
    refusal: canSwitch ? switchRefusal(kind, obj, gitops, fields) : null,
    rolloutRefusal: canSwitch ? rolloutRefusal(kind, obj) : null,
    managedBy: gitopsControllers(kind, obj.metadata ?? {}, fields, gitops),
  };
}
