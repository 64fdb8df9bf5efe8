// rotor's own errors. Adapters translate every client exception into one of these at their boundary,
// with the API status, reason and object, and never a response body (a Secret's body is its value).
import { ApplicationFailure, CancelledFailure } from '@temporalio/common';
import { missingNamespaceText } from '../domain/absent';
import { RotorError } from './rotor-error';

export { RotorError, type RotorErrorType } from './rotor-error';

/** A plan's stage names a namespace the cluster does not have: said the same by every adapter. */
export function missingNamespace(namespace: string): RotorError {
  return new RotorError('NotFound', missingNamespaceText(namespace), `Namespace ${namespace}`, 404);
}

/**
 * The failure an activity throws: a RotorError keeps its type; anything else says only its message.
 * Cancellation passes through untouched, so the workflow sees the activity cancelled, not failed.
 */
export function toActivityFailure(err: unknown, doing: string): ApplicationFailure | CancelledFailure {
  if (err instanceof ApplicationFailure || err instanceof CancelledFailure) return err;
  if (err instanceof RotorError) {
    return ApplicationFailure.create({
      message: `${doing}: ${err.message}`,
      type: err.type,
      nonRetryable: !err.retryable,
      details: [{ object: err.object ?? null, status: err.status ?? null }],
    });
  }
  const message = err instanceof Error ? err.message : String(err);
  return ApplicationFailure.create({ message: `${doing}: ${message}`, type: 'ProviderError' });
}
