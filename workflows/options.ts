// How the workflow calls its activities: the retry policies, and the one proxy every step uses.
import { ActivityFailure, ApplicationFailure, proxyActivities } from '@temporalio/workflow';
import type { ActivityOptions } from '@temporalio/common';
import type { RotorActivities } from '../contract/activities';

/** Every step but the rollback: a few minutes of retries, and no retry of what cannot succeed. */
export const quick: ActivityOptions = {
  startToCloseTimeout: '2m',
  retry: {
    initialInterval: '1s',
    backoffCoefficient: 2,
    maximumInterval: '1m',
    maximumAttempts: 8,
    nonRetryableErrorTypes: ['RotorInputError', 'VersionContentMismatch', 'Forbidden', 'NotFound', 'OwnershipConflict'],
  },
};

/** One block of server-side retries of a revert; the workflow records each failed block in status. */
export const rollbackAttempts: ActivityOptions = {
  startToCloseTimeout: '2m',
  scheduleToCloseTimeout: '1h',
  retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '5m', nonRetryableErrorTypes: ['RotorInputError', 'Forbidden', 'OwnershipConflict'] },
};

export const acts = proxyActivities<RotorActivities>(quick);

/** The message of an error, from the activity's own failure when there is one. */
export function describeError(err: unknown): string {
  if (err instanceof ActivityFailure && err.cause) return describeError(err.cause);
  if (err instanceof Error) return err.message;
  return String(err);
}

/** The RotorError type an activity failed with, if it failed with one. */
export function failureType(err: unknown): string | null {
  return err instanceof ActivityFailure && err.cause instanceof ApplicationFailure ? (err.cause.type ?? null) : null;
}
