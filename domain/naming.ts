// Version names: `<base>-<YYYYMMDDHHMMSS>` in UTC, taken from workflow time so replays agree.

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

/** The base and timestamp of a versioned name, or null when the name is not a version of `base`. */
export function parseVersionName(name: string, base: string): { base: string; timestamp: string } | null {
  const m = SUFFIX.exec(name);
  if (!m || name.slice(0, -VERSION_SUFFIX_LENGTH) !== base) return null;
  return { base, timestamp: m[1] };
}

/** Orders names oldest first: the unversioned base name before every version, versions by timestamp. */
export function compareVersions(a: string, b: string, base: string): number {
  return a === b ? 0 : a === base ? -1 : b === base ? 1 : a.localeCompare(b);
}

/** The newest of the given names (each the base or one of its versions), or null when there is none. */
export function newestVersion(names: Iterable<string>, base: string): string | null {
  return [...new Set(names)].sort((a, b) => compareVersions(a, b, base)).pop() ?? null;
}
