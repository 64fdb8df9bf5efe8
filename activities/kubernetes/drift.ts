// Drift: a reference rotor switched that names something other than the new version now, because
// someone set it back (a GitOps self-heal or sync, a hand edit, a script). A rollout judged on a
// set-back template, or a commit after one, would call a version done that the workload does not use.
// Pure: judged from what each field names now.
import type { SwitchDrift, SwitchRecord } from '../../contract/activities';
import type { WorkloadKind } from '../../domain/plan';
import { readOwnership } from './ownership';

export interface DriftTarget {
  namespace: string;
  kind: WorkloadKind;
  name: string;
}

/**
 * The switched fields of one object that no longer name `version`. The fields are those the workflow
 * recorded and those rotor's ownership record on the object lists (either may be missing: an older
 * release, or an annotation someone removed). A field that names nothing now (its entry was removed)
 * refers to no version at all: not a drift. `namesAt`: the Secret names a field holds now.
 */
export function objectDrift(
  target: DriftTarget,
  recorded: { fields: string[]; from?: string },
  annotations: Record<string, string> | undefined,
  version: string,
  namesAt: (field: string) => string[],
): SwitchDrift[] {
  const owned = readOwnership(annotations, version);
  const previous = recorded.from ?? owned?.from;
  const out: SwitchDrift[] = [];
  for (const field of new Set([...recorded.fields, ...(owned?.fields ?? [])])) {
    const now = [...new Set(namesAt(field))];
    if (now.length === 0 || now.includes(version)) continue;
    const names = now.map((n) => (n === previous ? `${n} (the previous version)` : n)).join(', ');
    out.push({
      namespace: target.namespace,
      kind: target.kind,
      name: target.name,
      field,
      now,
      message: `${target.kind} ${target.namespace}/${target.name}: ${field} names ${names} now, not ${version}`,
    });
  }
  return out;
}

/** The objects of a set of switch records, once each (a canary's records name blue once per step). */
export function switchedObjects(records: SwitchRecord[]): (DriftTarget & { fields: string[]; from: string })[] {
  const out = new Map<string, DriftTarget & { fields: string[]; from: string }>();
  for (const r of records) {
    const key = `${r.namespace}/${r.kind}/${r.name}`;
    const seen = out.get(key);
    if (seen) seen.fields = [...new Set([...seen.fields, ...r.fields])];
    else out.set(key, { namespace: r.namespace, kind: r.kind, name: r.name, fields: [...r.fields], from: r.from });
  }
  return [...out.values()];
}

/** One line for a rollout's verdict: every drifted reference, and why rotor stops. */
export function driftMessage(drift: SwitchDrift[]): string {
  return `set back by someone else since rotor switched it (a GitOps sync or self-heal, or a hand edit): ${drift.map((d) => d.message).join('; ')}`;
}
