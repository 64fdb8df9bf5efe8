// What each sink receives, built from a Notification (which never holds a secret value): Slack's
// incoming-webhook JSON (text and blocks), and a CloudEvents 1.0 structured-mode JSON event, written
// here by hand (a plain object; the `cloudevents` package would add a dependency for one object).
import type { Notification } from '../../contract/notify';

/** The CloudEvents `type` of each kind, e.g. dev.rotor.rotation.rolled_back. */
const CLOUDEVENT_TYPE_PREFIX = 'dev.rotor.rotation.';

/** The rotation's page in the Temporal Web UI, when the worker knows the UI's address (TEMPORAL_UI_URL). */
function webUiLink(uiUrl: string | null, n: Pick<Notification, 'namespace' | 'workflowId'>): string | null {
  if (!uiUrl) return null;
  return `${uiUrl.replace(/\/+$/, '')}/namespaces/${encodeURIComponent(n.namespace)}/workflows/${encodeURIComponent(n.workflowId)}`;
}

const HEADLINES: Record<Notification['kind'], string> = {
  started: 'rotation started',
  awaiting_approval: 'awaiting approval',
  stage_passed: 'stage passed',
  rolled_back: 'ROLLED BACK',
  failed: 'FAILED',
  completed: 'completed',
  cleanup_blocked: 'cleanup blocked',
};

/** One line that says what happened, for a chat message's text and a notification's preview. */
function headline(n: Notification): string {
  return `rotor: ${n.secret} ${HEADLINES[n.kind]}${n.stage ? ` (${n.stage})` : ''}`;
}

/** Slack incoming webhook: `text` (the notification preview and fallback) and blocks. */
export function slackMessage(n: Notification, uiUrl: string | null): Record<string, unknown> {
  const link = webUiLink(uiUrl, n);
  const facts = [
    `*rotation* \`${n.workflowId}\``,
    ...(n.newVersion ? [`*new version* \`${n.newVersion}\``] : []),
    ...(n.previousVersion ? [`*previous* \`${n.previousVersion}\``] : []),
  ];
  const blocks: Record<string, unknown>[] = [
    { type: 'section', text: { type: 'mrkdwn', text: `*${headline(n)}*\n${n.message}` } },
    { type: 'context', elements: [{ type: 'mrkdwn', text: facts.join(' · ') }] },
  ];
  if (n.approveCommand) blocks.push({ type: 'section', text: { type: 'mrkdwn', text: `To approve: \`${n.approveCommand}\`` } });
  if (n.holders?.length) blocks.push({ type: 'section', text: { type: 'mrkdwn', text: `Still in use by: ${n.holders.join(', ')}` } });
  if (link) blocks.push({ type: 'section', text: { type: 'mrkdwn', text: `<${link}|Open in the Temporal Web UI>` } });
  const text = [headline(n), n.message, ...(n.approveCommand ? [`approve: ${n.approveCommand}`] : []), ...(link ? [link] : [])].join('\n');
  return { text, blocks };
}

/** A CloudEvents 1.0 event in structured mode (Content-Type application/cloudevents+json). */
export function cloudEvent(n: Notification, source: string, uiUrl: string | null): Record<string, unknown> {
  const link = webUiLink(uiUrl, n);
  return {
    specversion: '1.0',
    id: n.id,
    source,
    type: `${CLOUDEVENT_TYPE_PREFIX}${n.kind}`,
    subject: n.workflowId,
    time: n.time,
    datacontenttype: 'application/json',
    data: {
      kind: n.kind,
      summary: headline(n),
      message: n.message,
      rotation: { workflowId: n.workflowId, rotationId: n.rotationId, namespace: n.namespace },
      secret: n.secret,
      phase: n.phase,
      stage: n.stage,
      newVersion: n.newVersion,
      previousVersion: n.previousVersion,
      ...(n.approveCommand ? { approveCommand: n.approveCommand } : {}),
      ...(n.holders ? { holders: n.holders } : {}),
      ...(link ? { webUi: link } : {}),
    },
  };
}
