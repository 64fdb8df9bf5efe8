// What the forward path throws when the new version must go (forward.ts, gitops.ts); rotation.ts rolls back.

/** Thrown inside the forward path when a check or rollout says the new version must go. */
export class RollbackRequired extends Error {
  constructor(readonly reason: string) {
    super(reason);
    this.name = 'RollbackRequired';
  }
}
