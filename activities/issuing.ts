// The credential issuer (docs/issuer-protocol.md): which one the worker has, what it says of a
// credential, and the activities that ask it (inspectCredentials) and revoke at it (revokeCredential,
// only once no copy of the credential's version is used).
import type { CredentialOutcome, RotorActivities } from '../contract/activities';
import { copiesStillUsed } from './copies';
import { RotorError } from './errors';
import { revokedEvents } from './events';
import type { ActivityKit } from './kit';
import type { CredentialIssuer, IssuedCredential, RotorDeps } from './ports';

/** The worker's credential issuer; a plan naming one on a worker without it is refused in PLANNING. */
export function issuerOf(deps: RotorDeps): CredentialIssuer {
  if (!deps.issuer) {
    throw new RotorError(
      'RotorInputError',
      "the plan's value comes from a credential issuer, but this worker has none; set ROTOR_ISSUER_URL and ROTOR_ISSUER_TOKEN on the worker (docs/issuer-protocol.md), or use another value source",
    );
  }
  return deps.issuer;
}

/** What the issuer knows of `id`; a 404 is `unknown`, any other error is thrown. */
export async function credentialOf(id: string, read: (id: string) => Promise<IssuedCredential>): Promise<CredentialOutcome> {
  try {
    const c = await read(id);
    return { id, state: c.state, issuedAt: c.issuedAt || null, revokedAt: c.revokedAt };
  } catch (err) {
    if (err instanceof RotorError && err.type === 'NotFound') return { id, state: 'unknown', issuedAt: null, revokedAt: null };
    throw err;
  }
}

export function issuingActivities({ deps, cluster, log, guarded, events }: ActivityKit): Pick<RotorActivities, 'inspectCredentials' | 'revokeCredential'> {
  return {
    inspectCredentials: (input) =>
      guarded('ask the credential issuer', async () => {
        const issuer = issuerOf(deps);
        const out: CredentialOutcome[] = [];
        for (const id of input.ids) out.push(await credentialOf(id, (x) => issuer.status(x)));
        return out;
      }),

    revokeCredential: (input) =>
      guarded(`revoke the credential ${input.id} at the issuer`, async () => {
        // A credential lives wherever copies of its version live: revoked only once none is used.
        const kept = input.copiesOf
          ? await copiesStillUsed(
              cluster,
              input.copiesOf.version,
              input.copiesOf.copies,
              (record) => (record.credentialId ?? input.id) === input.id,
              input.copiesOf.ignore,
            )
          : null;
        if (kept) {
          log('credential kept live: a copy of its version is still used', { id: input.id, why: input.why, kept });
          return { ...(await credentialOf(input.id, (id) => issuerOf(deps).status(id))), kept };
        }
        const outcome = await credentialOf(input.id, (id) => issuerOf(deps).revoke(id));
        log('credential revoked at the issuer', { id: input.id, why: input.why, state: outcome.state });
        if (outcome.state === 'revoked') await events.post(revokedEvents(input));
        return outcome;
      }),
  };
}
