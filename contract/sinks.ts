// What a rotation tells the worker it runs on, outside its history: Temporal sinks, called once when the
// workflow task that reaches the point runs for the first time, never while a history is replayed (so a
// worker that takes over a rotation does not count its past again). They carry no secret value.
import type { Sinks } from '@temporalio/workflow';

/** How a rotation ended, as rotor_rotations_total{result} counts it. */
export type RotationResult = 'completed' | 'rolled_back' | 'failed';

/** Why a rotation rolled back, a small fixed set (rotor_rollbacks_total{reason}). */
export const ROLLBACK_REASONS = ['check_failed', 'rollout_timeout', 'preflight', 'approval_timeout', 'window', 'gitops', 'abort', 'error'] as const;
export type RollbackReason = (typeof ROLLBACK_REASONS)[number];

export interface RotorSinks extends Sinks {
  rotorMetrics: {
    /** The rotation ended (not a run continuing as new): its result and seconds since it was requested. */
    rotationEnded(secret: string, result: RotationResult, seconds: number): void;
    /** The rotation began rolling back. */
    rolledBack(secret: string, reason: RollbackReason): void;
  };
}
