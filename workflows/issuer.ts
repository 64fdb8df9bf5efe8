// The credential's life at its issuer, for plans whose value comes from one (`value: { issuer }`):
// PLANNING asks what the issuer knows of the previous versions, CREATING issues inside the activity,
// a rollback revokes the new credential once nothing refers to it, and cleanup revokes the previous
// one only after its guarded delete. Every call and its outcome is an event in status; what rotor
// could not revoke is a leftover that says how to finish by hand. Plans without an issuer make none
// of these calls.
import { sleep } from '@temporalio/workflow';
import type { CredentialOutcome } from '../contract/activities';
import { formatDuration } from '../domain/duration';
import { issuerSource } from '../domain/plan';
import { acts, describeError, quick, scanning } from './options';
import { scanSettings } from './scan-settings';
import type { Rotation } from './state';

/** Scans before a rolled-back credential is left live, and the pause between them (pods shutting down). */
const ROLLBACK_SCANS = 6;
const ROLLBACK_RESCAN_MS = 10_000;

export function usesIssuer(r: Rotation): boolean {
  return issuerSource(r.plan.value) !== null;
}

/** How to finish a revocation by hand, named for the operator. */
export function revokeByHand(id: string): string {
  return `revoke it at the issuer by hand: POST $ROTOR_ISSUER_URL/v1/credentials/${id}/revoke (docs/issuer-protocol.md)`;
}

/** PLANNING: the issuer answers (or the rotation fails before anything changed), and what it holds of each previous version. */
export async function inspectIssuer(r: Rotation): Promise<void> {
  const ids = [...new Set(Object.values(r.status.previousVersions).filter((v): v is string => !!v))].map((v) => previousCredential(r, v));
  let outcomes: CredentialOutcome[];
  try {
    outcomes = await acts.inspectCredentials.executeWithOptions({ ...quick, summary: `ask the credential issuer about ${ids.join(', ')}` }, [{ ids }]);
  } catch (err) {
    r.fail(`the credential issuer cannot be used (nothing was changed): ${describeError(err)}`);
  }
  for (const o of outcomes) {
    if (o.state === 'active') r.record(`issuer: ${o.id} is live (issued ${o.issuedAt ?? 'at an unknown time'}); rotor revokes it after cleanup deletes it`);
    else if (o.state === 'revoked')
      r.record(`issuer: ${o.id} was already revoked at ${o.revokedAt ?? 'an unknown time'}; workloads still on it fail until switched`);
    else r.record(`issuer: ${o.id} was not issued by the issuer; rotor will not revoke it there (revoke it where it came from once cleanup deletes it)`);
  }
}

/** CREATING: what the issuer did, as status tells it. */
export function recordIssued(r: Rotation, credential: CredentialOutcome | undefined): void {
  if (!credential) return;
  const scope = issuerSource(r.plan.value)?.scope;
  r.record(
    credential.created === false
      ? `issuer: ${credential.id} was issued by an earlier attempt (${credential.state}); the same credential is used, nothing issued twice`
      : `issuer: issued ${credential.id}${scope ? ` (scope ${scope})` : ''}; the previous credential stays valid`,
  );
}

/**
 * The issuer's id of a previous version's credential, as its Secret records it; a version made before
 * rotor recorded it was issued under its own name.
 */
export function previousCredential(r: Rotation, version: string): string {
  return r.status.previousIdentities?.[version]?.credentialId ?? version;
}

/**
 * Revoke `id` at the issuer, recording the outcome; throws what the activity failed with. With
 * `copiesOf`, the credential stays live while any copy of its version, in any namespace, is still used
 * (or cannot be seen): `kept` then, with where it is still used.
 */
export async function revoke(
  r: Rotation,
  id: string,
  why: 'rollback' | 'cleanup' | 'creation failed',
  copiesOf?: { version: string; copies: string[] | null },
): Promise<CredentialOutcome['state'] | 'kept'> {
  const o = await acts.revokeCredential.executeWithOptions({ ...scanning, summary: `revoke ${id} at the issuer (${why})` }, [
    {
      id,
      why,
      ...(copiesOf
        ? { copiesOf: { secret: r.plan.secret, ...copiesOf, ...scanSettings(r.plan) }, namespaces: [...new Set(r.plan.stages.map((s) => s.namespace))] }
        : {}),
    },
  ]);
  if (o.kept) {
    r.record(`issuer: ${id} stays live: ${o.kept}; the rotation that retires its last copy revokes it`);
    return 'kept';
  }
  if (o.state === 'unknown') r.record(`issuer: ${id} was not issued by the issuer; nothing to revoke there`);
  else r.record(`issuer: revoked ${id}${why === 'cleanup' ? ' after its guarded delete (nothing in any namespace referred to it)' : ` (${why})`}`);
  return o.state;
}

/**
 * After a rollback: revoke the new credential, but only when rotor reverted everything and a scan of
 * every namespace finds nothing on it; otherwise it stays live and the leftover says so.
 */
export async function revokeRolledBack(r: Rotation): Promise<void> {
  const { status, plan } = r;
  const version = status.newVersion;
  if (!version) return;
  const id = status.newCredential ?? version;
  if (status.leftovers.length) {
    status.leftovers.push(`issuer: ${id} is still live, since what rotor could not revert may still use it; once nothing refers to ${id}, ${revokeByHand(id)}`);
    return;
  }
  try {
    const namespaces = [...new Set(plan.stages.map((s) => s.namespace))];
    // Pods of the reverted rollout may still be shutting down on the new credential: scan a few
    // times, a short while apart, before leaving it to the operator.
    for (let scan = 1; ; scan++) {
      const holders = await acts.scanReferences.executeWithOptions({ ...scanning, summary: `scan for references to ${version} before revoking it` }, [
        { secretName: version, namespaces, ...scanSettings(plan) },
      ]);
      if (holders.length === 0) break;
      const who = holders.map((h) => `${h.kind}/${h.name} in ${h.namespace}`).join(', ');
      if (scan >= ROLLBACK_SCANS) {
        status.leftovers.push(`issuer: ${id} is still live: ${who} still refer to it; once they are gone, ${revokeByHand(id)}`);
        return;
      }
      r.record(`issuer: ${id} is still referred to by ${who}; scanning again in ${formatDuration(ROLLBACK_RESCAN_MS)} before revoking it`);
      await sleep(ROLLBACK_RESCAN_MS, { summary: `wait for ${who} to let go of ${id}` });
    }
    const state = await revoke(r, id, 'rollback', { version, copies: namespaces });
    if (state === 'kept')
      status.leftovers.push(`issuer: ${id} is still live (a copy of ${version} is still used); once nothing refers to it, ${revokeByHand(id)}`);
  } catch (err) {
    status.leftovers.push(`issuer: could not revoke ${id} (${describeError(err)}); ${revokeByHand(id)}`);
  }
}
