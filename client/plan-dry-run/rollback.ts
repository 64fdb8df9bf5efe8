// The rollback procedure `rotor plan` prints: the kubectl commands a person runs when rotor itself is
// down. Each workload's patch is the inverse of the switch rotor would send (patching.ts switchPatch,
// computed from the same object): it sets exactly the fields the switch changes back to the previous
// version. Each replace is pinned by tests of the named entries on its path (container, env var,
// volume), so a list someone reordered since fails the patch rather than change another field.
import type { WorkloadKind } from '../../domain/plan';
import type { Obj } from '../../activities/kubernetes/kinds';
import { switchPatch } from '../../activities/kubernetes/patching';
import { NAMED_LISTS, valueAt } from '../../activities/kubernetes/refs';

/** What the rollback of one workload restores: its kind, where, its fields and (a canary's blue) its replicas. */
export interface RollbackTarget {
  kind: WorkloadKind;
  namespace: string;
  name: string;
  /** The version rotor switches it from, and the rollback back to. */
  previous: string;
  /** Canary: blue's replicas before the canary, given back, and its green copy removed. */
  canaryReplicas?: number;
}

/** The shell variable the procedure names the new version by (a person sets it), and its hash's. */
const NEW_VAR = 'NEW';
const TAG_VAR = 'TAG';

/**
 * The JSON patch that undoes the switch of `obj` from `previous`: the pinning tests, then each replace.
 * Computed from the object before the switch; applied after it (or half-way through), it restores it.
 */
export function rollbackPatch(kind: WorkloadKind, obj: Obj, previous: string): object[] {
  const { refs } = switchPatch(kind, obj, previous, previous);
  const pins = new Map<string, string>();
  for (const ref of refs) {
    const segments = ref.path.split('/').slice(1);
    for (let i = 0; i + 1 < segments.length; i++) {
      if (!NAMED_LISTS.has(segments[i]) || !/^\d+$/.test(segments[i + 1])) continue;
      const at = `/${segments.slice(0, i + 2).join('/')}/name`;
      const name = valueAt(obj, at);
      if (typeof name === 'string') pins.set(at, name);
    }
  }
  return [...[...pins].map(([path, value]) => ({ op: 'test', path, value })), ...refs.map((r) => ({ op: 'replace', path: r.path, value: previous }))];
}

/** `text` as one word for a POSIX shell. */
export function shellQuote(text: string): string {
  return /^[\w@%+=:,./-]+$/.test(text) ? text : `'${text.replace(/'/g, `'\\''`)}'`;
}

/** kubectl's resource name for a kind. */
const resource = (kind: WorkloadKind) => kind.toLowerCase();

/** The lines that set the new version's tag: the hash rotor names its canary copies and its record on each object by. */
export function rollbackPreamble(secret: string, firstNamespace: string): string[] {
  return [
    `# ${NEW_VAR}: the version the rotation created (the newest: kubectl -n ${firstNamespace} get secrets -l rotor.dev/secret=${secret} --sort-by=.metadata.creationTimestamp)`,
    `${NEW_VAR}=${secret}-YYYYMMDDHHMMSS`,
    `${TAG_VAR}=$(printf %s "$${NEW_VAR}" | sha256sum | cut -c1-12)`,
  ];
}

/**
 * The commands that roll one workload back: its patch, and for a canary's Deployment its replicas
 * given back and its green copy removed; then rotor's record of the switch on it removed.
 */
export function rollbackCommands(target: RollbackTarget, obj: Obj): string[] {
  const { kind, namespace, name } = target;
  const kubectl = `kubectl -n ${shellQuote(namespace)}`;
  const object = `${resource(kind)} ${shellQuote(name)}`;
  const patch = rollbackPatch(kind, obj, target.previous);
  const commands = patch.length ? [`${kubectl} patch ${object} --type=json -p ${shellQuote(JSON.stringify(patch))}`] : [];
  if (target.canaryReplicas !== undefined) {
    commands.push(`${kubectl} scale ${object} --replicas=${target.canaryReplicas}`);
    // The green copy's name: greenName (ownership.ts), the tag's first 8 characters.
    commands.push(`${kubectl} delete deployment "${name}-canary-\${${TAG_VAR}%????}" --ignore-not-found`);
  }
  // The record rotor keeps on the object (ownershipKey): `rotor.dev/switch-<tag>`.
  commands.push(`${kubectl} annotate ${object} "rotor.dev/switch-$${TAG_VAR}-"`);
  return commands;
}
