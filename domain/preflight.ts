// Pre-flight checks (stages[].preflight): the new version tested before any of a stage's workloads gets
// it, by an HTTP call that carries it or by a Job whose pod reads it as the workloads do. A header or
// body names a key as `{{secret.<key>}}`; only the worker fills it in, inside the activity, so the value
// never reaches the plan, the history, the status, a log or an error. Pure: the templates, the filling
// and the redaction of whatever a check answers.

/** A pre-flight check's HTTP call as rotor runs it (durations in ms). */
export interface HttpPreflight {
  url: string;
  method: string;
  headers: Record<string, string>;
  body?: string;
  expect: { status: number[]; bodyContains?: string };
  timeoutMs: number;
  /** Further attempts after a failed one (an error or an unexpected answer), a second apart. */
  retries: number;
}

/** How a pre-flight Job's pod reads the version: all keys as variables, or each key a file under `path`. */
export type SecretMount = { envFrom: true } | { volume: string };

/** A pre-flight Job as rotor runs it. */
export interface JobPreflight {
  image: string;
  command?: string[];
  args?: string[];
  timeoutMs: number;
  secretAs: SecretMount;
}

export type PreflightCheck = { name: string } & ({ http: HttpPreflight } | { job: JobPreflight });

/** What a pre-flight check found, in words an operator reads (every value of the version redacted). */
export interface PreflightResult {
  name: string;
  passed: boolean;
  /** Why it passed or failed, e.g. `HTTP 403 from POST https://auth/verify (expected 200): {"error":"scope"}`. */
  message: string;
  /** A Job's last log lines, redacted. */
  logs?: string[];
}

/** `{{secret.<key>}}`, the key a Secret key (letters, digits, "-", "_", "."), spaces inside the braces allowed. */
const PLACEHOLDER = /\{\{\s*secret\.([-._a-zA-Z0-9]+)\s*\}\}/g;
/** Anything that looks like a placeholder, to refuse the ones rotor would not fill. */
const ANY_PLACEHOLDER = /\{\{([^}]*)\}\}/g;

/** The keys a template names, in order, each once. */
export function placeholderKeys(template: string): string[] {
  return [...new Set([...template.matchAll(PLACEHOLDER)].map((m) => m[1]))];
}

/** Why a template cannot be filled (a placeholder rotor does not know), or null. */
export function templateProblem(template: string): string | null {
  for (const m of template.matchAll(ANY_PLACEHOLDER)) {
    if (!/^\s*secret\.[-._a-zA-Z0-9]+\s*$/.test(m[1])) return `names ${m[0]}; the only placeholder is {{secret.<key>}}, a key of the new version`;
  }
  return null;
}

/**
 * The template with each `{{secret.<key>}}` replaced by that key of `data`. A key the version lacks
 * throws, naming the key and the keys it has (never a value).
 */
export function fillTemplate(template: string, data: Record<string, string>, where: string): string {
  return template.replace(PLACEHOLDER, (_, key: string) => {
    if (!(key in data))
      throw new Error(`${where} names {{secret.${key}}}, but the new version has no key ${key} (its keys: ${Object.keys(data).sort().join(', ')})`);
    return data[key];
  });
}

function base64(value: string): string {
  return btoa(String.fromCharCode(...new TextEncoder().encode(value)));
}

/** Shorter values than this are not redacted: a one-character value would blank every message. */
const MIN_REDACTED = 4;

/**
 * `text` with every value of `data` (as is, base64-encoded, and URL-encoded) replaced by
 * `[redacted]`: what a check answers may echo the credential it was given.
 */
export function redact(text: string, data: Record<string, string>): string {
  const forms = Object.values(data)
    .flatMap((v) => [v, base64(v), encodeURIComponent(v)])
    .filter((v) => v.length >= MIN_REDACTED)
    .sort((a, b) => b.length - a.length);
  let out = text;
  for (const form of new Set(forms)) out = out.split(form).join('[redacted]');
  return out;
}

/** A check in words, for summaries and events: `http POST https://auth/verify` or `job curlimages/curl:8`. */
export function describeCheck(check: PreflightCheck): string {
  return 'http' in check ? `${check.name} (HTTP ${check.http.method} ${check.http.url})` : `${check.name} (Job ${check.job.image})`;
}
