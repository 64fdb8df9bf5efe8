// One rotation of a Secret per namespace at a time. The claim is a Lease in the namespace
// (`rotor-<secret>`, coordination.k8s.io/v1) whose holderIdentity is the rotation's workflow id:
// - created with `create`, so of two rotations racing for it exactly one wins (the other gets 409);
// - taken over only from a holder the caller found no longer running, with the Lease's
//   resourceVersion as precondition, so two rotations cannot both take over a stale claim;
// - released only by its holder, again under the resourceVersion precondition.
// The claim lives in the cluster it protects, so two rotor deployments (or two Temporal namespaces)
// that rotate the same Secret in one Kubernetes namespace refuse each other too.
import * as k8s from '@kubernetes/client-node';
import type { RotationClaim } from '../ports';
import { claimName } from '../../domain/naming';
import { missingNamespace } from '../errors';
import { namespaceNotFound, statusCode, toRotorError } from './kinds';
import { LABEL_SECRET } from './ownership';

export const ANNOTATION_CLAIMED_AT = 'rotor.dev/claimed-at';

export class Claims {
  constructor(private readonly api: k8s.CoordinationV1Api) {}

  private async read(namespace: string, name: string): Promise<k8s.V1Lease | null> {
    try {
      return await this.api.readNamespacedLease({ namespace, name });
    } catch (err) {
      if (statusCode(err) === 404) return null;
      throw toRotorError(err, 'read', `Lease ${namespace}/${name}`);
    }
  }

  private static held(lease: k8s.V1Lease): RotationClaim {
    return { holder: lease.spec?.holderIdentity ?? '', since: lease.metadata?.annotations?.[ANNOTATION_CLAIMED_AT] ?? null };
  }

  /** Who holds the claim on `secret` in `namespace` now (read only), or null when nobody does. */
  async current(namespace: string, secret: string): Promise<RotationClaim | null> {
    const lease = await this.read(namespace, claimName(secret));
    const held = lease ? Claims.held(lease) : null;
    return held?.holder ? held : null;
  }

  async claim(namespace: string, secret: string, holder: string, replacing?: string): Promise<RotationClaim> {
    const name = claimName(secret);
    const since = new Date().toISOString();
    const metadata = {
      name,
      namespace,
      labels: { 'app.kubernetes.io/managed-by': 'rotor' },
      annotations: { [LABEL_SECRET]: secret, [ANNOTATION_CLAIMED_AT]: since },
    };
    // A create or a takeover that lost a race reads the winner back on the next round.
    for (let round = 0; round < 3; round++) {
      const lease = await this.read(namespace, name);
      if (!lease) {
        try {
          await this.api.createNamespacedLease({ namespace, body: { metadata, spec: { holderIdentity: holder } } });
          return { holder, since };
        } catch (err) {
          if (statusCode(err) === 409) continue;
          if (namespaceNotFound(err)) throw missingNamespace(namespace);
          throw toRotorError(err, 'create', `Lease ${namespace}/${name}`);
        }
      }
      const current = Claims.held(lease);
      if (current.holder === holder) return current;
      if (current.holder !== '' && current.holder !== replacing) return current;
      try {
        await this.api.replaceNamespacedLease({
          namespace,
          name,
          body: {
            metadata: { ...metadata, resourceVersion: lease.metadata?.resourceVersion },
            spec: { holderIdentity: holder, leaseTransitions: (lease.spec?.leaseTransitions ?? 0) + 1 },
          },
        });
        return { holder, since };
      } catch (err) {
        if (statusCode(err) === 409 || statusCode(err) === 404) continue;
        throw toRotorError(err, 'update', `Lease ${namespace}/${name}`);
      }
    }
    const lease = await this.read(namespace, name);
    return lease ? Claims.held(lease) : { holder: '', since: null };
  }

  async release(namespace: string, secret: string, holder: string): Promise<void> {
    const name = claimName(secret);
    for (let round = 0; round < 3; round++) {
      const lease = await this.read(namespace, name);
      if (!lease || lease.spec?.holderIdentity !== holder) return;
      try {
        await this.api.deleteNamespacedLease({ namespace, name, body: { preconditions: { resourceVersion: lease.metadata?.resourceVersion } } });
        return;
      } catch (err) {
        if (statusCode(err) === 404) return;
        if (statusCode(err) === 409) continue;
        throw toRotorError(err, 'delete', `Lease ${namespace}/${name}`);
      }
    }
  }
}
