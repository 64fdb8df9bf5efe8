// The rotation's public surface: phases, signals, the rollback update, the status query and the
// search attributes. Shared by the workflow, the worker and the client.
import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';
import type { CheckResult, Holder, SwitchRecord, VersionIdentity } from './activities';
import type { PlanIssue } from '../domain/plan';
import type { NotifyRoute } from '../domain/notify';
import type { Phase } from './phases';

export { PHASES, TERMINAL_PHASES, type Phase } from './phases';

/** Phases in which workloads may point at the new version and a rollback can move them back. */
export const ROLLBACK_PHASES: readonly Phase[] = ['DEPLOYING', 'VERIFYING', 'SOAKING', 'AWAITING_APPROVAL', 'WATCHING'];

/**
 * How a rotation that did not rotate ends its workflow: as a failure of one of these types carrying
 * its final status, so the Web UI, `temporal workflow list` and anything else that reads the
 * execution's status show it failed, never a green COMPLETED. (Runs before 'outcome-failure' ended a
 * rollback as a completion with the status as its result.)
 */
export const ENDING_FAILURES: Partial<Record<Phase, string>> = { ROLLED_BACK: 'RotationRolledBack', FAILED: 'RotationFailed' };

/** The final status a rotation's ending failure carries (from `result()`'s error), or null for any other error. */
export function endedStatusOf(err: unknown): RotationStatus | null {
  // WorkflowFailedError → ApplicationFailure (type, details); walked by shape, so client and tests need no SDK class.
  for (let e = err as { cause?: unknown; type?: unknown; details?: unknown[] } | undefined; e; e = e.cause as typeof e) {
    if (typeof e.type === 'string' && Object.values(ENDING_FAILURES).includes(e.type)) {
      const status = e.details?.[0];
      if (status && typeof status === 'object' && 'phase' in status) return status as RotationStatus;
    }
  }
  return null;
}

export const TASK_QUEUE = 'rotor';
export const WORKFLOW_TYPE = 'rotateSecret';

interface RotationEvent {
  at: string;
  phase: Phase;
  stage: string | null;
  message: string;
}

interface Approval {
  stage: string;
  by: string;
  comment: string;
  at: string;
}

export interface RotationStatus {
  workflowId: string;
  secret: string;
  phase: Phase;
  stage: string | null;
  stages: string[];
  newVersion: string | null;
  /**
   * The first stage's previous version, for display (`rotor status`, the Web UI) and for `status --json`
   * users; stages that started from different versions are in `previousVersions`, which rotor acts on.
   */
  previousVersion: string | null;
  /** Per namespace, the version rotor is moving away from (and retires at cleanup). */
  previousVersions: Record<string, string | null>;
  canaryPercent: number | null;
  /** A stage switched in batches: the batch in progress, n of `of` (absent or null otherwise, and in older runs). */
  batch?: { n: number; of: number } | null;
  /** Step on the happy path (1-based) of `total`, and its key, e.g. `DEPLOYING:production:25`. */
  progress: { step: number; total: number; key: string };
  checks: CheckResult[];
  /** What points at the new version right now, by rotor's own switching. */
  switched: SwitchRecord[];
  approvals: Approval[];
  /** Set while cleanup waits on workloads that still use the previous version. */
  holders: Holder[];
  /** Namespaces whose previous version cleanup has deleted. */
  cleaned: string[];
  /**
   * Previous versions deleted in the cluster whose credential is still to be revoked at the issuer
   * (plans with `value: { issuer }`); absent in runs carried from releases before it.
   */
  revokePending: string[];
  /** The holder written on the rotation's claims (absent: `<Temporal namespace>/<workflow id>`, as older releases wrote). */
  claimedAs?: string;
  /** The new version's credential id at the issuer (absent: the version name, as older releases issued). */
  newCredential?: string | null;
  /** Per previous version, what its Secret says of its identities outside and of its copies (absent in older runs). */
  previousIdentities?: Record<string, VersionIdentity>;
  /**
   * Notifications: the sinks this rotation notifies and the event kinds each gets, resolved in PLANNING
   * (the plan's `notify`, or the worker's defaults); `blockedBy`: the holders last notified as
   * cleanup_blocked. Absent in runs that predate notifications.
   */
  notify?: { routes: NotifyRoute[]; blockedBy?: string };
  /** When the current wait ends (soak, watch, retention, approval), if it is timed. */
  waitingUntil: string | null;
  /** How the rotation ended, and for FAILED what was left where and how to finish by hand. */
  outcome: string | null;
  leftovers: string[];
  planIssues: PlanIssue[];
  events: RotationEvent[];
  /** Total events recorded, including older ones no longer kept in `events`. */
  eventCount: number;
  startedAt: string;
  updatedAt: string;
}

/** The memo key under which a running rotation keeps its last status, for readers when no worker answers. */
export const STATUS_MEMO = 'rotor.status';

/**
 * What the workflow keeps in its memo at each phase change and wait (workflows/state.ts): enough for
 * `rotor status` to show where a rotation stands while no worker can answer the status query. Small
 * on purpose (the server stores it with every change) and never a secret value.
 */
export interface StatusMemo {
  phase: Phase;
  stage: string | null;
  newVersion: string | null;
  previousVersion: string | null;
  canaryPercent: number | null;
  waitingUntil: string | null;
  progress: { step: number; total: number; key: string };
  /** The last event when the memo was written, its message cut to a few hundred characters. */
  last: { at: string; message: string } | null;
  /** The rotation's eventCount when the memo was written. */
  eventCount: number;
  updatedAt: string;
}

export interface ApproveInput {
  by: string;
  comment?: string;
}

export interface AbortInput {
  reason: string;
  by?: string;
}

export interface RollbackInput {
  reason: string;
  by?: string;
}

export const approveSignal = defineSignal<[ApproveInput]>('approve');
export const abortSignal = defineSignal<[AbortInput]>('abort');
export const rollbackUpdate = defineUpdate<RotationStatus, [RollbackInput]>('rollback');
export const statusQuery = defineQuery<RotationStatus>('status');

/**
 * A status with nothing recorded yet beyond `base`: the workflow's first, and the one the client
 * rebuilds from what the server keeps when no worker answers.
 */
export function blankStatus(
  base: Pick<RotationStatus, 'workflowId' | 'secret' | 'phase' | 'stage' | 'stages' | 'progress' | 'planIssues' | 'startedAt'>,
): RotationStatus {
  return {
    workflowId: base.workflowId,
    secret: base.secret,
    phase: base.phase,
    stage: base.stage,
    stages: base.stages,
    newVersion: null,
    previousVersion: null,
    previousVersions: {},
    canaryPercent: null,
    progress: base.progress,
    checks: [],
    switched: [],
    approvals: [],
    holders: [],
    cleaned: [],
    revokePending: [],
    waitingUntil: null,
    outcome: null,
    leftovers: [],
    planIssues: base.planIssues,
    events: [],
    eventCount: 0,
    startedAt: base.startedAt,
    updatedAt: base.startedAt,
  };
}

export const SA_SECRET = defineSearchAttributeKey('RotorSecret', SearchAttributeType.KEYWORD);
export const SA_PHASE = defineSearchAttributeKey('RotorPhase', SearchAttributeType.KEYWORD);
export const SA_STAGE = defineSearchAttributeKey('RotorStage', SearchAttributeType.KEYWORD);
export const SEARCH_ATTRIBUTES = [SA_SECRET, SA_PHASE, SA_STAGE];

/** The workflow's input: `rotor start` sends the plan; a run that continues as new carries its state. */
export interface RotationInput {
  /** The plan as written (YAML parsed to JSON); validated again here. */
  plan: unknown;
  requestedBy?: string;
  /** State carried across continue-as-new; absent on the first run. */
  carry?: CarriedState;
  /** History events a cleanup run may reach before it continues as new (default HISTORY_BUDGET). */
  historyBudget?: number;
}

interface CarriedState {
  status: RotationStatus;
  cleanupScans: number;
  /** An abort received by an earlier run (absent from runs carried by releases before it was added). */
  abort?: AbortRequest | null;
}

/** An abort or rollback an operator asked for. */
export interface AbortRequest {
  reason: string;
  by: string;
}
