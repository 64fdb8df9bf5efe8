// Changes to workloads as JSON patches that test the object's resourceVersion and every value they
// replace, and that write rotor's ownership record (ownership.ts) in the same patch: the object and
// the record of what rotor changed on it can never disagree, whatever fails afterwards.
import type { WorkloadKind } from '../../domain/plan';
import { RotorError } from '../errors';
import { statusCode, toRotorError, type KindApi, type Obj } from './kinds';
import {
  afterRevert,
  blueReplicasAt,
  ownershipKey,
  readOwnership,
  replicasAtLastStep,
  replicasHeldByOther,
  replicasOnRevert,
  type OwnershipRecord,
  type RevertDone,
} from './ownership';
import { pointerSegment, refsTo, resolveField, type SecretRef } from './refs';

const PATCH_ATTEMPTS = 6;

interface Planned<T> {
  /** Replace/test operations on the object; empty when it already is as wanted. */
  ops: object[];
  /** The ownership record to leave on the object (null: remove it). */
  record: OwnershipRecord | null;
  result: T;
}

function annotationOps(obj: Obj, key: string, record: OwnershipRecord | null): object[] {
  const annotations = obj.metadata?.annotations;
  const current = annotations?.[key];
  const path = `/metadata/annotations/${pointerSegment(key)}`;
  if (record === null) return current === undefined ? [] : [{ op: 'remove', path }];
  const value = JSON.stringify(record);
  if (current === value) return [];
  if (!annotations) return [{ op: 'add', path: '/metadata/annotations', value: { [key]: value } }];
  return [{ op: 'add', path, value }];
}

/** Read, plan, patch with tests; a conflict (409) or a failed test (422) reads again and plans again. */
async function patchOwned<T>(
  api: KindApi,
  kind: WorkloadKind,
  namespace: string,
  name: string,
  to: string,
  plan: (obj: Obj, record: OwnershipRecord | null) => Planned<T>,
): Promise<T> {
  const object = `${kind} ${namespace}/${name}`;
  const key = ownershipKey(to);
  for (let attempt = 1; ; attempt++) {
    let obj: Obj;
    try {
      obj = await api.read(namespace, name);
    } catch (err) {
      throw toRotorError(err, 'read', object);
    }
    const planned = plan(obj, readOwnership(obj.metadata?.annotations, to));
    const ops = [...planned.ops, ...annotationOps(obj, key, planned.record)];
    if (ops.length === 0) return planned.result;
    try {
      await api.patch(namespace, name, [{ op: 'test', path: '/metadata/resourceVersion', value: obj.metadata!.resourceVersion }, ...ops]);
      return planned.result;
    } catch (err) {
      const code = statusCode(err);
      if ((code === 409 || code === 422) && attempt < PATCH_ATTEMPTS) continue;
      throw toRotorError(err, 'patch', object);
    }
  }
}

/** Set replicas only if they are still what was read. */
function replicaOps(current: number, set: number): object[] {
  return [
    { op: 'test', path: '/spec/replicas', value: current },
    { op: 'replace', path: '/spec/replicas', value: set },
  ];
}

function replaceOps(paths: string[], from: string, to: string): object[] {
  return paths.flatMap((path) => [
    { op: 'test', path, value: from },
    { op: 'replace', path, value: to },
  ]);
}

export interface SwitchOutcome {
  /** Every field this rotation has switched on the object, this call and earlier ones. */
  fields: string[];
  replicas?: OwnershipRecord['replicas'];
}

/**
 * The switch of one object, as the JSON patch that points every reference to `from` at `to` (each value
 * tested first): the references it changes, and its operations. switchObject sends it; `rotor plan`
 * prints its inverse for a person to run (client/plan-dry-run/rollback.ts).
 */
export function switchPatch(kind: WorkloadKind, obj: Obj, from: string, to: string): { refs: SecretRef[]; ops: object[] } {
  const refs = refsTo(kind, obj, from);
  return {
    refs,
    ops: replaceOps(
      refs.map((r) => r.path),
      from,
      to,
    ),
  };
}

/**
 * Point every reference to `from` at `to` and record them as rotor's. With `restoreReplicas` (a
 * canary's last step), blue gets back the replicas it had before the canary, if rotor still owns them.
 */
export function switchObject(
  api: KindApi,
  kind: WorkloadKind,
  namespace: string,
  name: string,
  from: string,
  to: string,
  restoreReplicas = false,
): Promise<SwitchOutcome> {
  return patchOwned(api, kind, namespace, name, to, (obj, owned) => {
    const { refs, ops } = switchPatch(kind, obj, from, to);
    const fields = [...new Set([...(owned?.fields ?? []), ...refs.map((r) => r.field)])];
    let replicas = owned?.replicas;
    if (restoreReplicas) {
      const last = replicasAtLastStep(obj.spec?.replicas ?? 1, replicas);
      if (last.set !== null) ops.push(...replicaOps(obj.spec?.replicas ?? 1, last.set));
      replicas = last.replicas;
    }
    const record: OwnershipRecord = { from, to, fields, ...(replicas ? { replicas } : {}) };
    return { ops, record, result: { fields, replicas } };
  });
}

/** A canary step on blue: its replicas only (its references stay on `from` until the last step). */
export function scaleBlue(api: KindApi, namespace: string, name: string, from: string, to: string, previousWeight: number): Promise<SwitchOutcome> {
  return patchOwned(api, 'Deployment', namespace, name, to, (obj, owned) => {
    const current = obj.spec?.replicas ?? 1;
    const { replicas, set } = blueReplicasAt(current, owned?.replicas, previousWeight, replicasHeldByOther(obj.metadata?.annotations, to));
    const ops = set === null ? [] : replicaOps(current, set);
    const fields = owned?.fields ?? [];
    return { ops, record: { from, to, fields, replicas }, result: { fields, replicas } };
  });
}

/** Fields moved back, replicas handed back and the green copy removed, by this revert and earlier attempts of it. */
export type RevertOutcome = RevertDone;

export interface RevertOptions {
  /** Leave a record of what was reverted on the object (afterRevert): rotations since 'revert-record'. */
  mark?: boolean;
  /** The green copy the revert removes next (a canary's blue): recorded before it goes. */
  green?: string;
}

/**
 * Undo what this rotation recorded on the object (plus fields an older release recorded in the
 * workflow), by meaning: a field still on `newVersion` goes back to `previous`; anything someone else
 * changed since stays as they left it. In the same patch the ownership record is removed, or with
 * `mark` replaced by the record of what was reverted.
 */
export function revertObject(
  api: KindApi,
  kind: WorkloadKind,
  namespace: string,
  name: string,
  newVersion: string,
  previous: string,
  alsoFields: string[],
  options: RevertOptions = {},
): Promise<RevertOutcome> {
  return patchOwned(api, kind, namespace, name, newVersion, (obj, owned) => {
    const fields = [...new Set([...(owned?.fields ?? []), ...alsoFields])];
    const moved = fields.filter((f) => resolveField(kind, obj, f, newVersion).length > 0);
    const paths = [...new Set(fields.flatMap((f) => resolveField(kind, obj, f, newVersion)))];
    const ops = replaceOps(paths, newVersion, previous);
    const current = obj.spec?.replicas ?? 1;
    const { set, outcome } = replicasOnRevert(current, owned?.replicas);
    if (set !== null) ops.push(...replicaOps(current, set));
    const done = { fields: moved, ...(outcome ? { replicas: outcome } : {}), ...(options.green ? { green: options.green } : {}) };
    const after = afterRevert(owned, { from: previous, to: newVersion }, done, !!options.mark);
    return { ops, record: after.record, result: after.outcome };
  });
}

/** Remove this rotation's ownership record once the new version is committed (nothing left to undo). */
export function releaseObject(api: KindApi, kind: WorkloadKind, namespace: string, name: string, to: string): Promise<void> {
  return patchOwned(api, kind, namespace, name, to, () => ({ ops: [], record: null, result: undefined })).catch((err) => {
    if (err instanceof RotorError && err.type === 'NotFound') return;
    throw err;
  });
}
