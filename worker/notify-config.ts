// The worker's notification sinks, from ROTOR_NOTIFY_SINKS (JSON) or ROTOR_NOTIFY_FILE (a YAML or JSON
// file), each `name: { type: slack | webhook, url | urlFile, keyFile }`; ROTOR_NOTIFY_DEFAULT: the
// routes of plans without `notify`; TEMPORAL_UI_URL: the Web UI the messages link to. A URL or key
// read from a file is read again when the file changes. Every problem names its variable and the fix,
// never a URL or key.
import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { NOTIFY_EVENTS, SINK_NAME, type NotifyEvent, type NotifyRoute } from '../domain/notify';
import type { NotifySettings, SinkSettings } from '../activities/notify/sinks';
import type { Credential } from '../activities/credentials';
import { credentialSetting } from './credentials';

const SINK_EXAMPLE = '{"ops-webhook": {"type": "webhook", "url": "https://hooks.example.com/rotor", "keyFile": "/etc/rotor/webhook-key"}}';

function isRecord(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

/** The sinks document: from the variable, or the file it names. */
function sinksDocument(env: NodeJS.ProcessEnv, problems: string[]): { from: string; doc: unknown } | null {
  const inline = env.ROTOR_NOTIFY_SINKS?.trim();
  const file = env.ROTOR_NOTIFY_FILE?.trim();
  if (inline && file) {
    problems.push('set ROTOR_NOTIFY_SINKS or ROTOR_NOTIFY_FILE, not both');
    return null;
  }
  if (inline) {
    try {
      return { from: 'ROTOR_NOTIFY_SINKS', doc: JSON.parse(inline) };
    } catch {
      problems.push(`ROTOR_NOTIFY_SINKS is not JSON; set it like ${SINK_EXAMPLE}`);
      return null;
    }
  }
  if (!file) return null;
  try {
    return { from: `ROTOR_NOTIFY_FILE=${file}`, doc: parseYaml(readFileSync(file, 'utf8')) };
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    problems.push(
      `ROTOR_NOTIFY_FILE=${file} ${code ? `cannot be read (${code})` : 'is not YAML or JSON'}; point it at a file mapping each sink's name to { type, url, keyFile }`,
    );
    return null;
  }
}

/** A URL or key given by value or by file: read with the worker's credential rules (a file: private, read again when it changes). */
function secretField(from: string, name: string, raw: Record<string, unknown>, field: 'url' | 'key', problems: string[]): Credential | undefined {
  const env = {
    [field]: typeof raw[field] === 'string' ? (raw[field] as string) : undefined,
    [`${field}_FILE`]: typeof raw[`${field}File`] === 'string' ? (raw[`${field}File`] as string) : undefined,
  };
  const before = problems.length;
  const found: string[] = [];
  const value = credentialSetting(env, field, found);
  // The credential rules word problems by variable; here they are fields of a sink.
  problems.push(...found.map((p) => `${from}: sink ${name}: ${p.replaceAll(`${field}_FILE`, `${field}File`)}`));
  return problems.length === before ? value : undefined;
}

function sinkSettings(from: string, name: string, raw: unknown, problems: string[]): SinkSettings | null {
  if (!SINK_NAME.test(name))
    problems.push(`${from}: sink name ${JSON.stringify(name)} is not a name; use lower-case letters, digits and '-', e.g. ops-webhook`);
  if (!isRecord(raw) || (raw.type !== 'slack' && raw.type !== 'webhook')) {
    problems.push(`${from}: sink ${name} needs type slack or webhook, e.g. ${SINK_EXAMPLE}`);
    return null;
  }
  const unknown = Object.keys(raw).filter((k) => !['type', 'url', 'urlFile', 'keyFile'].includes(k));
  if (unknown.length) problems.push(`${from}: sink ${name} has unknown field(s) ${unknown.join(', ')}; a sink has type, url or urlFile, and (webhook) keyFile`);
  if (raw.url === undefined && raw.urlFile === undefined) problems.push(`${from}: sink ${name} needs url (or urlFile, a file holding it)`);
  const url = secretField(from, name, raw, 'url', problems);
  if (typeof url === 'string' && !/^https?:\/\/[^/@]+(\/|$)/.test(url))
    problems.push(`${from}: sink ${name}'s url is not an http(s) URL without credentials in it; for a URL that is itself a secret (Slack's), use urlFile`);
  let key: Credential | undefined;
  if (raw.type === 'webhook') {
    if (raw.keyFile === undefined)
      problems.push(`${from}: sink ${name} (webhook) needs keyFile: a private file holding the HMAC-SHA256 key its receiver checks`);
    else key = secretField(from, name, raw, 'key', problems);
  } else if (raw.keyFile !== undefined) problems.push(`${from}: sink ${name} is slack, which takes no keyFile (Slack's URL is its secret: use urlFile)`);
  if (url === undefined) return null;
  return { type: raw.type, url, ...(key !== undefined ? { key } : {}) };
}

/** ROTOR_NOTIFY_DEFAULT=ops-slack,ops-webhook=rolled_back+failed: each sink with its events (default all). */
function defaultRoutes(raw: string | undefined, sinks: string[], problems: string[]): NotifyRoute[] {
  const routes: NotifyRoute[] = [];
  for (const entry of (raw ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)) {
    const [sink, kinds] = entry.split('=', 2).map((s) => s.trim());
    const events = kinds ? kinds.split('+').map((k) => k.trim()) : [...NOTIFY_EVENTS];
    const unknown = events.filter((k) => !(NOTIFY_EVENTS as readonly string[]).includes(k));
    if (!sinks.includes(sink))
      problems.push(
        `ROTOR_NOTIFY_DEFAULT names sink ${sink}, which is not defined (${sinks.length ? `defined: ${sinks.join(', ')}` : 'none is'}); define it in ROTOR_NOTIFY_SINKS or ROTOR_NOTIFY_FILE`,
      );
    else if (unknown.length)
      problems.push(`ROTOR_NOTIFY_DEFAULT: ${entry} names unknown event kind(s) ${unknown.join(', ')}; use ${NOTIFY_EVENTS.join(', ')}, joined by +`);
    else if (routes.some((r) => r.sink === sink)) problems.push(`ROTOR_NOTIFY_DEFAULT names ${sink} twice; name each sink once`);
    else routes.push({ sink, events: events as NotifyEvent[] });
  }
  return routes;
}

/** The worker's notification settings; null when it has no sinks (and no defaults). */
export function notifySettings(env: NodeJS.ProcessEnv, problems: string[]): NotifySettings | null {
  const found = sinksDocument(env, problems);
  const sinks: Record<string, SinkSettings> = {};
  if (found) {
    if (!isRecord(found.doc)) problems.push(`${found.from} must map each sink's name to { type, url, keyFile }, e.g. ${SINK_EXAMPLE}`);
    else
      for (const [name, raw] of Object.entries(found.doc)) {
        const sink = sinkSettings(found.from, name, raw, problems);
        if (sink) sinks[name] = sink;
      }
  }
  const names = Object.keys(sinks);
  const defaults = defaultRoutes(env.ROTOR_NOTIFY_DEFAULT, found ? Object.keys(isRecord(found.doc) ? found.doc : {}) : [], problems);
  const uiUrl = env.TEMPORAL_UI_URL?.trim() || null;
  if (uiUrl && !/^https?:\/\//.test(uiUrl))
    problems.push(`TEMPORAL_UI_URL=${uiUrl} is not an http(s) URL; set it to the Web UI's address, e.g. https://temporal.example.com`);
  if (!names.length && !defaults.length) return null;
  return { sinks, defaults, uiUrl };
}
