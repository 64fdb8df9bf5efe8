// Where the copies of a version are, and whether any is still used: a version's store version and
// its credential outlive every copy of it, in any namespace, whichever plan cleans up.
import { RotorError } from './errors';
import type { ClusterPort, VersionRecord } from './ports';

/**
 * Why the version's store version or credential must stay: a copy of it in any namespace (where the
 * creating rotation recorded them, and what a listing finds) is still referred to, or cannot be read,
 * or where its copies are is not known. Null when every copy is gone or unreferenced. `same` tells a
 * copy of this version from another rotation's version of the same name (same second, elsewhere);
 * a copy that records nothing counts, to be safe.
 */
export async function copiesStillUsed(
  cluster: ClusterPort,
  version: string,
  recorded: string[] | null | undefined,
  same: (record: VersionRecord) => boolean,
  ignore?: string[],
): Promise<string | null> {
  const listed = await cluster.findCopies(version);
  if (!recorded && listed === null) {
    // Where its copies are is not recorded (made by hand or by an older rotor) and this worker may not
    // read Secrets everywhere (namespaced RBAC): a copy may be anywhere, so nothing in any namespace may
    // name a Secret of that name. The reference scan may list everywhere what it may not read.
    const holders = await cluster.findReferences(null, version, ignore ? { ignore } : {});
    if (!holders.length) return null;
    return `where ${version} was copied is not recorded on it (made by hand or by an older rotor), this worker may not read Secrets in every namespace, and a Secret of that name is still named: ${holders
      .map((h) => `${h.kind}/${h.name} in ${h.namespace}`)
      .join(', ')}`;
  }
  const pending = [...new Set([...(recorded ?? []), ...(listed ?? [])])];
  const seen = new Set(pending);
  const used: string[] = [];
  const unreadable: string[] = [];
  while (pending.length) {
    const namespace = pending.shift()!;
    let record;
    try {
      record = await cluster.readVersionRecord(namespace, version);
    } catch (err) {
      if (!(err instanceof RotorError && (err.type === 'Forbidden' || err.type === 'NotFound'))) throw err;
      unreadable.push(`${namespace} (${err.message})`);
      continue;
    }
    if (!record || !same(record)) continue;
    // A copy lists the others its rotation made: those count too.
    for (const other of (record.copies ?? []).filter((c) => !seen.has(c))) {
      seen.add(other);
      pending.push(other);
    }
    const holders = await cluster.findReferences([namespace], version, ignore ? { ignore } : {});
    if (holders.length) used.push(`${namespace} by ${holders.map((h) => `${h.kind}/${h.name}`).join(', ')}`);
  }
  if (unreadable.length) return `a copy of ${version} may be in a namespace this worker cannot read: ${unreadable.join('; ')}`;
  if (used.length) return `${version} is still used in ${used.join('; ')}`;
  return null;
}
