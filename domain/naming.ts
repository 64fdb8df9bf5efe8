// Version names: `<base>-<YYYYMMDDHHMMSS>` in UTC, taken from workflow time so replays agree; and a
// rotation's workflow id.
import type { Plan } from './plan';

/** "-" plus fourteen digits. */
export const VERSION_SUFFIX_LENGTH = 15;
const SUFFIX = /-(\d{14})$/;

function pad(n: number, width = 2): string {
  return String(n).padStart(width, '0');
}

export function versionTimestamp(at: Date): string {
  return (
    pad(at.getUTCFullYear(), 4) + pad(at.getUTCMonth() + 1) + pad(at.getUTCDate()) + pad(at.getUTCHours()) + pad(at.getUTCMinutes()) + pad(at.getUTCSeconds())
  );
}

export function versionName(base: string, at: Date): string {
  return `${base}-${versionTimestamp(at)}`;
}

/** When a versioned name was made (its UTC timestamp), or null when the name is no version. */
export function versionDate(name: string): Date | null {
  const m = SUFFIX.exec(name);
  if (!m) return null;
  const t = m[1];
  return new Date(Date.UTC(+t.slice(0, 4), +t.slice(4, 6) - 1, +t.slice(6, 8), +t.slice(8, 10), +t.slice(10, 12), +t.slice(12, 14)));
}

/** The base and timestamp of a versioned name, or null when the name is not a version of `base`. */
export function parseVersionName(name: string, base: string): { base: string; timestamp: string } | null {
  const m = SUFFIX.exec(name);
  if (!m || name.slice(0, -VERSION_SUFFIX_LENGTH) !== base) return null;
  return { base, timestamp: m[1] };
}

/** The base a name is a version of (`x-20250101000000` -> `x`), or the name itself when it is no version. */
export function baseOf(name: string): string {
  return SUFFIX.test(name) ? name.slice(0, -VERSION_SUFFIX_LENGTH) : name;
}

/** Orders names oldest first: the unversioned base name before every version, versions by timestamp. */
export function compareVersions(a: string, b: string, base: string): number {
  return a === b ? 0 : a === base ? -1 : b === base ? 1 : a.localeCompare(b);
}

/** The newest of the given names (each the base or one of its versions), or null when there is none. */
export function newestVersion(names: Iterable<string>, base: string): string | null {
  return [...new Set(names)].sort((a, b) => compareVersions(a, b, base)).pop() ?? null;
}

/**
 * A tag unique to one rotation (`<workflow id>/<first run id>`): twelve hex digits of FNV-1a (64 bit)
 * over it. Pure and deterministic, so the workflow and the activities derive the same tag.
 */
function rotationTag(rotationId: string): string {
  let hash = 0xcbf29ce484222325n;
  for (const byte of new TextEncoder().encode(rotationId)) {
    hash ^= BigInt(byte);
    hash = (hash * 0x100000001b3n) & 0xffffffffffffffffn;
  }
  return hash.toString(16).padStart(16, '0').slice(0, 12);
}

/**
 * The id a credential issuer knows a version's credential by: the version name and the rotation's
 * tag (`auth-api-secrets-20261206120000.3f9a1c2b7d10`), so two rotations that chose the same version
 * name (same second, another namespace or another rotor deployment) never share a credential.
 * Versions created before this (no `rotor.dev/credential-id` on the Secret) were issued under the
 * version name itself.
 */
export function credentialIdOf(version: string, rotationId: string): string {
  return `${version}.${rotationTag(rotationId)}`;
}

/** The version a credential id was issued for (the id without a rotation tag). */
export function versionOfCredential(id: string): string {
  return id.replace(/\.[0-9a-f]{12}$/, '');
}

/** A claim holder that names its Temporal deployment: `temporal://<cluster id>/<namespace>/<workflow id>`. */
export function qualifiedHolder(deployment: string, namespaceAndWorkflow: string): string {
  return `temporal://${deployment}/${namespaceAndWorkflow}`;
}

/**
 * The parts of a claim holder. `deployment` is null for a holder written by an older release
 * (`<namespace>/<workflow id>`), which does not say which Temporal deployment it belongs to.
 */
export function parseHolder(holder: string): { deployment: string | null; namespace: string; workflowId: string } | null {
  const qualified = /^temporal:\/\/([^/]+)\/([^/]+)\/(.+)$/.exec(holder);
  if (qualified) return { deployment: qualified[1], namespace: qualified[2], workflowId: qualified[3] };
  const legacy = /^([^/]+)\/(.+)$/.exec(holder);
  return legacy ? { deployment: null, namespace: legacy[1], workflowId: legacy[2] } : null;
}

/** The Lease that holds the claim on a Secret's rotation in a namespace. */
export function claimName(secret: string): string {
  return `rotor-${secret}`;
}

/** `rotate-<namespace of the first stage>-<secret>`: one running rotation per secret and namespace. */
export function rotationWorkflowId(plan: Pick<Plan, 'secret' | 'stages'>): string {
  return `rotate-${plan.stages[0]?.namespace ?? 'default'}-${plan.secret}`;
}
