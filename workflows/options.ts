// How the workflow calls its activities: the retry policies, and the one proxy every step uses.
import { ActivityFailure, ApplicationFailure, proxyActivities } from '@temporalio/workflow';
import type { ActivityOptions } from '@temporalio/common';
import type { RotorActivities } from '../contract/activities';

/**
 * How long a dead worker can hide a step: every activity heartbeats each second while it runs
 * (activities/liveness.ts; the worker sends at most one every 5 s), so the server retries a step whose
 * worker died at most this long after its last heartbeat, on any worker that polls.
 */
const HEARTBEAT_TIMEOUT = '10s';

/** Every step but the rollback: a few minutes of retries, and no retry of what cannot succeed. */
export const quick: ActivityOptions = {
  // Bounds a step that hangs while its worker lives; each apiserver request has its own 30 s limit.
  startToCloseTimeout: '2m',
  heartbeatTimeout: HEARTBEAT_TIMEOUT,
  retry: {
    initialInterval: '1s',
    backoffCoefficient: 2,
    maximumInterval: '1m',
    maximumAttempts: 8,
    nonRetryableErrorTypes: ['RotorInputError', 'VersionContentMismatch', 'Forbidden', 'NotFound', 'OwnershipConflict'],
  },
};

/** Steps that read the whole cluster (discover, scan, the guarded delete, a revocation's copies check). */
export const scanning: ActivityOptions = { ...quick, startToCloseTimeout: '10m' };

/** One block of server-side retries of a revert; the workflow records each failed block in status. */
export const rollbackAttempts: ActivityOptions = {
  startToCloseTimeout: '2m',
  heartbeatTimeout: HEARTBEAT_TIMEOUT,
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
