// What the forward path throws when the new version must go (forward.ts, gitops.ts); rotation.ts rolls back.

import type { RollbackReason } from '../contract/sinks';

/** Thrown inside the forward path when a check or rollout says the new version must go; `kind` is what the metrics count. */
export class RollbackRequired extends Error {
  constructor(
    readonly reason: string,
    readonly kind: RollbackReason,
  ) {
    super(reason);
    this.name = 'RollbackRequired';
  }
}
