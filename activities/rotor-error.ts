// rotor's own error, in a module that loads nothing: the CLI knows it (exit code 1, rotor's own words)
// without loading Temporal's packages (activities/errors.ts re-exports it, with the activity failures).

export type RotorErrorType =
  | 'RotorInputError'
  | 'NotFound'
  | 'Forbidden'
  | 'Conflict'
  | 'VersionConflict'
  | 'VersionContentMismatch'
  | 'Unavailable'
  | 'ProviderError'
  /** An object rotor would change is not rotor's (e.g. a Deployment under a canary's name). */
  | 'OwnershipConflict';

/** Errors a retry cannot fix: the workflow should act on them at once. */
const NON_RETRYABLE: readonly RotorErrorType[] = ['RotorInputError', 'NotFound', 'Forbidden', 'VersionContentMismatch', 'OwnershipConflict'];

export class RotorError extends Error {
  constructor(
    readonly type: RotorErrorType,
    message: string,
    readonly object?: string,
    readonly status?: number,
  ) {
    super(message);
    this.name = type;
  }

  get retryable(): boolean {
    return !NON_RETRYABLE.includes(this.type);
  }
}
