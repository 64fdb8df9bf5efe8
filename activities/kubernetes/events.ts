// Kubernetes Events (events.k8s.io/v1) on the objects rotor acts on, as a controller posts them:
// reportingController rotor.dev/worker, the regarded object's uid (kubectl describe lists Events by
// it), one Event per name (a retried activity's second post is 409 AlreadyExists, reported as 'exists').
import * as k8s from '@kubernetes/client-node';
import { WORKLOAD_KINDS, type WorkloadKind } from '../../domain/plan';
import type { ClusterEvent } from '../ports';
import { readObject, statusCode, toRotorError, type KindApi } from './kinds';
import type { Secrets } from './secrets';
import { REPORTING_CONTROLLER } from './ownership';

/** events.k8s.io/v1's limits: note 1 kB; reportingInstance, action and reason 128 characters. */
const NOTE_LIMIT = 1024;
const FIELD_LIMIT = 128;

/** A MicroTime as the apiserver parses it (RFC 3339 with six fractional digits). */
function microTime(at: Date): string {
  return at.toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');
}

function clip(text: string, limit: number): string {
  return text.length <= limit ? text : `${text.slice(0, limit - 1)}…`;
}

export class ClusterEvents {
  constructor(
    private readonly api: k8s.EventsV1Api,
    private readonly kinds: Record<WorkloadKind, KindApi>,
    private readonly secrets: Secrets,
  ) {}

  async post(event: ClusterEvent): Promise<'created' | 'exists'> {
    const { namespace, regarding } = event;
    const uid = await this.uidOf(namespace, regarding.kind, regarding.name);
    const body = {
      apiVersion: 'events.k8s.io/v1',
      kind: 'Event',
      metadata: { name: event.name, namespace },
      eventTime: microTime(new Date()) as unknown as Date,
      reportingController: REPORTING_CONTROLLER,
      reportingInstance: clip(event.reportingInstance, FIELD_LIMIT),
      action: clip(event.action, FIELD_LIMIT),
      reason: event.reason,
      type: event.type,
      note: clip(event.note, NOTE_LIMIT),
      regarding: { ...regarding, namespace, ...(uid ? { uid } : {}) },
    } satisfies k8s.EventsV1Event;
    try {
      await this.api.createNamespacedEvent({ namespace, body });
      return 'created';
    } catch (err) {
      if (statusCode(err) === 409) return 'exists';
      throw toRotorError(err, 'create', `event ${namespace}/${event.name} (${event.reason} on ${regarding.kind}/${regarding.name})`);
    }
  }

  /** The regarded object's uid; none when it is gone (a deleted version) or is of a kind rotor does not read. */
  private async uidOf(namespace: string, kind: string, name: string): Promise<string | undefined> {
    if (kind === 'Secret') return this.secrets.uid(namespace, name);
    if (!(WORKLOAD_KINDS as readonly string[]).includes(kind)) return undefined;
    return (await readObject(this.kinds[kind as WorkloadKind], kind as WorkloadKind, namespace, name))?.metadata?.uid;
  }
}
