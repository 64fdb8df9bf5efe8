// Notifications between the workflow, its delivery child workflows and the worker: what a notification
// says (built in the workflow, so it is the same at every attempt), the activities that resolve a
// plan's sinks and send one, and the signal a delivery reports a failing sink with.
import { defineSignal } from '@temporalio/workflow';
import type { NotifyEvent, NotifyRoute } from '../domain/notify';
import type { Phase } from './api';

/** One notification, the same at every attempt and to every sink; never a secret value. */
export interface Notification {
  /** Unique per rotation and event, stable across retries: a receiver dedupes by it (the CloudEvent id). */
  id: string;
  kind: NotifyEvent;
  /** `<workflow id>/<first run id>`: the rotation, across continue-as-new. */
  rotationId: string;
  workflowId: string;
  /** The Temporal namespace the rotation runs in (the Web UI link's). */
  namespace: string;
  secret: string;
  phase: Phase;
  stage: string | null;
  /** What happened, in the status's words. */
  message: string;
  newVersion: string | null;
  previousVersion: string | null;
  /** When it happened (workflow time). */
  time: string;
  /** awaiting_approval: the command that approves, exactly. */
  approveCommand?: string;
  /** cleanup_blocked: what still uses the previous version (`Kind/name in namespace`). */
  holders?: string[];
}

interface NotifyRoutesInput {
  /** The plan's `notify`; null: it has none, and the worker's defaults apply. */
  planned: NotifyRoute[] | null;
}

type NotifyRoutesResult = { routes: NotifyRoute[] } | { problems: string[] };

interface SendNotificationInput {
  sink: string;
  notification: Notification;
  attempt: number;
}

export interface NotifyActivities {
  /** PLANNING (a local activity): the routes a rotation notifies, checked against the worker's sinks. */
  notifyRoutes(input: NotifyRoutesInput): Promise<NotifyRoutesResult>;
  /** One attempt at delivering a notification to a sink; throws on anything but a 2xx (4xx other than 408/429: non-retryable). */
  sendNotification(input: SendNotificationInput): Promise<{ status: number }>;
}

/** A delivery child workflow's input. */
export interface DeliveryInput {
  sink: string;
  notification: Notification;
  /** The rotation's workflow, told of a sink that keeps failing and of the give-up. */
  parentWorkflowId: string;
  /** How long delivery keeps retrying (default one hour). */
  budgetMs?: number;
}

export interface DeliveryResult {
  delivered: boolean;
  attempts: number;
}

/** A delivery's report to its rotation: a sink failing, given up on, or recovered; `rotationId` guards against a later rotation of the same id. */
export const notificationReportSignal = defineSignal<[{ rotationId: string; message: string }]>('notificationReport');
