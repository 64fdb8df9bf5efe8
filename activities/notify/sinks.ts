// The worker's notification sinks: a Slack incoming webhook or a signed CloudEvents webhook, each by
// name. A sink's URL (a Slack one is itself a credential) and key stay here: an error names the sink
// and what came back, never the URL, the key or a response body.
import type { Notification } from '../../contract/notify';
import type { NotifyRoute } from '../../domain/notify';
import { reveal, type Credential } from '../credentials';
import { RotorError } from '../errors';
import { fetchFailure } from '../preflight';
import { cloudEvent, slackMessage } from './messages';
import { signatureHeaders } from './signature';

export interface SinkSettings {
  type: 'slack' | 'webhook';
  url: Credential;
  /** webhook: the HMAC-SHA256 key the body is signed with. */
  key?: Credential;
}

/** ROTOR_NOTIFY_*: the sinks by name, the default routes, and the Web UI's address for links. */
export interface NotifySettings {
  sinks: Record<string, SinkSettings>;
  defaults: NotifyRoute[];
  uiUrl: string | null;
}

/** Where notifications go (the activities' port): the sinks by name, and one delivery attempt. */
export interface Notifier {
  readonly sinkNames: string[];
  readonly defaults: NotifyRoute[];
  /** One attempt; the HTTP status of a 2xx answer, else throws a RotorError (4xx other than 408 and 429: not worth retrying). */
  send(sink: string, notification: Notification, source: string): Promise<number>;
}

const SEND_TIMEOUT_MS = 10_000;

export class HttpNotifier implements Notifier {
  readonly sinkNames: string[];
  readonly defaults: NotifyRoute[];

  constructor(private readonly settings: NotifySettings) {
    this.sinkNames = Object.keys(settings.sinks).sort();
    this.defaults = settings.defaults;
  }

  async send(name: string, n: Notification, source: string): Promise<number> {
    const sink = this.settings.sinks[name];
    if (!sink) throw new RotorError('RotorInputError', `sink ${name} is not defined on this worker (ROTOR_NOTIFY_SINKS or ROTOR_NOTIFY_FILE)`);
    const { body, headers } = this.request(sink, n, source);
    let response: Response;
    try {
      response = await fetch(reveal(sink.url), { method: 'POST', headers, body, redirect: 'manual', signal: AbortSignal.timeout(SEND_TIMEOUT_MS) });
    } catch (err) {
      throw new RotorError('Unavailable', `sink ${name}: ${fetchFailure(err, SEND_TIMEOUT_MS)}`);
    }
    // The body is the receiver's; only its status is kept.
    await response.body?.cancel().catch(() => undefined);
    if (response.ok) return response.status;
    const retryable = response.status >= 500 || response.status === 408 || response.status === 429;
    throw new RotorError(retryable ? 'Unavailable' : 'RotorInputError', `sink ${name}: HTTP ${response.status}`, `sink ${name}`, response.status);
  }

  /** What goes over the wire: Slack's JSON, or the CloudEvent signed with the sink's key. */
  private request(sink: SinkSettings, n: Notification, source: string): { body: string; headers: Record<string, string> } {
    if (sink.type === 'slack') return { body: JSON.stringify(slackMessage(n, this.settings.uiUrl)), headers: { 'Content-Type': 'application/json' } };
    const body = JSON.stringify(cloudEvent(n, source, this.settings.uiUrl));
    const signed = sink.key ? signatureHeaders(body, reveal(sink.key), Date.now() / 1000) : {};
    return { body, headers: { 'Content-Type': 'application/cloudevents+json', ...signed } };
  }
}
