// Kubernetes Events on what a rotation changed (docs/events.md): drafted here from what an activity
// did, posted through the cluster port. Best-effort: a post that fails (403 without RBAC, 500, no
// answer within EVENT_TIMEOUT_MS) is logged once per cause and never fails or holds up the step.
// Each Event's name is derived from the rotation, the reason, the object and the step, so a retried
// activity posts the same names and gets 409 AlreadyExists instead of a second Event.
import { createHash } from 'node:crypto';
import { hostname } from 'node:os';
import type { Holder, RevertInput, RevokeCredentialInput, SwitchInput, SwitchRecord } from '../contract/activities';
import { RotorError } from './errors';
import { activityContext, type StepLog } from './liveness';
import type { ClusterEvent, ClusterPort } from './ports';

/** The longest a step waits for its Events; a slower apiserver costs the Events, not the rotation. */
const EVENT_TIMEOUT_MS = 5_000;
/** Events one step posts at most (a stage of many workloads, a cleanup with many holders). */
const MAX_EVENTS_PER_STEP = 50;
/** Holders named in a CleanupWaiting Event. */
const MAX_HOLDERS = 5;

/** An Event before it is named: `key` says what makes it one (the versions, the step, the holder). */
export type EventDraft = Omit<ClusterEvent, 'name' | 'reportingInstance'> & { key: string[] };

const APPS = 'apps/v1';
const API_VERSION: Record<string, string> = { Deployment: APPS, StatefulSet: APPS, DaemonSet: APPS, ReplicaSet: APPS, CronJob: 'batch/v1', Job: 'batch/v1' };

function regardingWorkload(kind: string, name: string): ClusterEvent['regarding'] {
  return { apiVersion: API_VERSION[kind] ?? 'v1', kind, name };
}

const regardingSecret = (name: string): ClusterEvent['regarding'] => ({ apiVersion: 'v1', kind: 'Secret', name });

/**
 * The Event's name: the object's name and a hash of the rotation, reason, object and `key`, as
 * client-go names Events (`<object>.<suffix>`): the same inputs, the same name; a DNS subdomain.
 */
export function eventName(rotation: string, draft: Pick<EventDraft, 'namespace' | 'regarding' | 'reason' | 'key'>): string {
  const { namespace, regarding, reason, key } = draft;
  const hash = createHash('sha256')
    .update(JSON.stringify([rotation, reason, namespace, regarding.kind, regarding.name, ...key]))
    .digest('hex')
    .slice(0, 20);
  // Each dot-separated part starts and ends alphanumeric, as a DNS subdomain's must.
  const prefix = regarding.name
    .toLowerCase()
    .replace(/[^a-z0-9.-]/g, '-')
    .slice(0, 200)
    .split('.')
    .map((part) => part.replace(/^-+|-+$/g, ''))
    .filter(Boolean)
    .join('.');
  return prefix ? `${prefix}.${hash}` : hash;
}

/** The rotation an activity works for, as its workflow id says (stable across retries and continue-as-new). */
function currentRotation(): string {
  return activityContext()?.info?.workflowExecution?.workflowId ?? '';
}

function describeCause(err: unknown): { cause: string; message: string } {
  if (err instanceof EventTimeout) return { cause: 'timeout', message: err.message };
  if (err instanceof RotorError) return { cause: `${err.type}${err.status ? ` ${err.status}` : ''}`, message: err.message };
  return { cause: 'error', message: err instanceof Error ? err.message.split('\n')[0].slice(0, 200) : String(err) };
}

class EventTimeout extends Error {}

export class EventRecorder {
  /** Causes already logged: a worker without events RBAC says so once, not at every step. */
  private readonly reported = new Set<string>();

  constructor(
    private readonly cluster: ClusterPort,
    private readonly log: StepLog,
    private readonly instance = hostname(),
    private readonly timeoutMs = EVENT_TIMEOUT_MS,
  ) {}

  /** Post the drafts (at most MAX_EVENTS_PER_STEP), together; never throws, never waits past the timeout. */
  async post(drafts: EventDraft[]): Promise<void> {
    const rotation = currentRotation();
    await Promise.all(drafts.slice(0, MAX_EVENTS_PER_STEP).map((d) => this.postOne(rotation, d)));
  }

  private async postOne(rotation: string, { key, ...draft }: EventDraft): Promise<void> {
    const event: ClusterEvent = { ...draft, name: eventName(rotation, { ...draft, key }), reportingInstance: this.instance };
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new EventTimeout(`no answer in ${this.timeoutMs / 1000} s`)), this.timeoutMs);
    });
    try {
      await Promise.race([this.cluster.postEvent(event), timeout]);
    } catch (err) {
      const { cause, message } = describeCause(err);
      if (this.reported.has(cause)) return;
      this.reported.add(cause);
      this.log('kubernetes event not posted; the rotation goes on without it (logged once per cause)', {
        cause,
        reason: event.reason,
        object: `${event.regarding.kind}/${event.regarding.name} in ${event.namespace}`,
        error: message,
        ...(cause.startsWith('Forbidden') ? { fix: 'grant create on events.events.k8s.io (rotor rbac -f <plans> prints it)' } : {}),
      });
    } finally {
      clearTimeout(timer);
    }
  }
}

// ---- the drafts, one function per step ------------------------------------------------------------

/** After a switch (or a canary step): SecretVersionSwitched on each workload switched, CanaryStep on each canary. */
export function switchEvents(input: SwitchInput, records: SwitchRecord[]): EventDraft[] {
  const drafts: EventDraft[] = [];
  for (const r of records) {
    const base = { namespace: r.namespace, regarding: regardingWorkload(r.kind, r.name), type: 'Normal' as const };
    if (r.canary) {
      const c = r.canary;
      drafts.push({
        ...base,
        reason: 'CanaryStep',
        action: 'CanaryStep',
        key: [r.from, r.to, String(c.weightPercent)],
        note: `canary at ${c.weightPercent}% on ${r.to} in stage ${input.stage}: ${c.greenReplicas} replica(s) on ${r.to} (Deployment ${c.green}), ${c.blueReplicas} on ${r.from}`,
      });
    }
    // A canary moves the workload itself at 100%; below, only its copy runs the new version.
    if (r.fields.length === 0 || (r.canary && r.canary.weightPercent < 100)) continue;
    drafts.push({
      ...base,
      reason: 'SecretVersionSwitched',
      action: 'Switch',
      key: [r.from, r.to],
      note: `switched from ${r.from} to ${r.to} in stage ${input.stage} (${input.strategy}): ${r.fields.join(', ')}`,
    });
  }
  return drafts;
}

/** After a revert: RolledBack (Warning) on each workload set back, with why the rotation rolled back. */
export function revertEvents(input: RevertInput, reverted: SwitchRecord[]): EventDraft[] {
  const why = input.reason ?? 'the rotation rolled back';
  return reverted.map((r) => {
    const what = [r.fields.length ? `${r.fields.length} reference(s) set back` : null, r.canary ? `canary ${r.canary.green} removed` : null].filter(Boolean);
    return {
      namespace: r.namespace,
      regarding: regardingWorkload(r.kind, r.name),
      type: 'Warning' as const,
      reason: 'RolledBack' as const,
      action: 'Revert',
      key: [input.from, input.to],
      note: `rolled back from ${input.from} to ${input.to} in stage ${input.stage}${what.length ? ` (${what.join(', ')})` : ''}: ${why}`,
    };
  });
}

/** After the guarded delete: SecretVersionDeleted on the version's Secret in each namespace it left. */
export function deletedEvents(version: string, namespaces: string[]): EventDraft[] {
  return namespaces.map((namespace) => ({
    namespace,
    regarding: regardingSecret(version),
    type: 'Normal' as const,
    reason: 'SecretVersionDeleted' as const,
    action: 'Delete',
    key: [],
    note: `deleted ${version}: a scan of every namespace found nothing that still refers to it`,
  }));
}

function holderText(h: Holder): string {
  if (h.unreadable) return `${h.kind} could not be read (${h.unreadable}), so any of them may refer to it`;
  const where = h.namespace === '(cluster-scoped)' ? '' : ` in ${h.namespace}`;
  return `${h.kind}/${h.name}${where} still refers to it${h.fields.length ? ` (${h.fields.join(', ')})` : ''}`;
}

/**
 * Cleanup found holders: one CleanupWaiting (Warning) on the version's Secret in each namespace, naming
 * them. The workloads are named when there are any (their Pods and ReplicaSets come and go, and are
 * only counted); the same holders in a later round make the same Event, so it is posted once.
 */
export function cleanupWaitingEvents(version: string, namespaces: string[], holders: Holder[]): EventDraft[] {
  const owned = (h: Holder) => h.kind === 'Pod' || h.kind === 'ReplicaSet';
  const workloads = holders.filter((h) => !owned(h));
  const named = workloads.length ? workloads : holders;
  const rest = holders.length - named.length;
  const parts = named.slice(0, MAX_HOLDERS).map(holderText);
  if (named.length > MAX_HOLDERS) parts.push(`${named.length - MAX_HOLDERS} more`);
  if (rest) parts.push(`${rest} Pod(s) or ReplicaSet(s)`);
  const key = named.map((h) => `${h.kind}/${h.namespace}/${h.name}`).sort();
  return namespaces.map((namespace) => ({
    namespace,
    regarding: regardingSecret(version),
    type: 'Warning' as const,
    reason: 'CleanupWaiting' as const,
    action: 'WaitForHolders',
    key,
    note: `${version} is kept: ${parts.join('; ')}; rotor deletes it once nothing refers to it`,
  }));
}

/** The issuer revoked a version's credential: CredentialRevoked on the version's Secret in the plan's namespaces (or where it was copied). */
export function revokedEvents(input: RevokeCredentialInput): EventDraft[] {
  const of = input.copiesOf;
  if (!of) return [];
  return (input.namespaces ?? of.copies ?? []).map((namespace) => ({
    namespace,
    regarding: regardingSecret(of.version),
    type: 'Normal' as const,
    reason: 'CredentialRevoked' as const,
    action: 'Revoke',
    key: [input.id],
    note: `credential ${input.id} of ${of.version} revoked at the issuer (${input.why}): nothing in any namespace refers to ${of.version}`,
  }));
}
