// Pre-flight checks (stages[].preflight): the new version tested in the stage's namespace before its
// first switch. The worker reads the version there, fills `{{secret.<key>}}` into an HTTP call's
// headers and body, or runs a Job whose pod reads it as the workloads do (the ClusterPort's
// runPreflightJob). What a check answers is redacted of every form of every value before it goes
// anywhere: a result, a log line, an error.
import { createHash } from 'node:crypto';
import { setTimeout as delay } from 'node:timers/promises';
import type { PreflightInput, RotorActivities } from '../contract/activities';
import { fillTemplate, redact, type HttpPreflight, type PreflightResult } from '../domain/preflight';
import { RotorError } from './errors';
import type { ActivityKit } from './kit';
import type { SecretData } from './ports';

/** How much of an answer's body a result quotes. */
const BODY_QUOTED = 300;

/** Why a fetch bounded by `timeoutMs` got no answer, in a word or two: `no answer within 10s`, `ECONNREFUSED`, a TLS code. */
export function fetchFailure(err: unknown, timeoutMs: number): string {
  const cause = (err as { cause?: { code?: string; message?: string } }).cause;
  return (err as Error).name === 'TimeoutError' ? `no answer within ${timeoutMs / 1000}s` : (cause?.code ?? cause?.message ?? (err as Error).message);
}

/** One attempt: the call made, its answer judged; a failure says what came back (redacted by the caller). */
async function attempt(http: HttpPreflight, data: SecretData): Promise<{ passed: boolean; message: string }> {
  const headers = Object.fromEntries(Object.entries(http.headers).map(([k, v]) => [k, fillTemplate(v, data, `headers.${k}`)]));
  const body = http.body === undefined ? undefined : fillTemplate(http.body, data, 'body');
  const call = `${http.method} ${http.url}`;
  let response: Response;
  try {
    response = await fetch(http.url, { method: http.method, headers, body, redirect: 'manual', signal: AbortSignal.timeout(http.timeoutMs) });
  } catch (err) {
    return { passed: false, message: `${call} failed: ${fetchFailure(err, http.timeoutMs)}` };
  }
  const text = http.method === 'HEAD' ? '' : await response.text().catch(() => '');
  const quoted = text.replace(/\s+/g, ' ').trim().slice(0, BODY_QUOTED);
  if (!http.expect.status.includes(response.status)) {
    return { passed: false, message: `HTTP ${response.status} from ${call} (expected ${http.expect.status.join(' or ')})${quoted ? `: ${quoted}` : ''}` };
  }
  if (http.expect.bodyContains && !text.includes(http.expect.bodyContains)) {
    return {
      passed: false,
      message: `HTTP ${response.status} from ${call}, but the body lacks ${JSON.stringify(http.expect.bodyContains)}${quoted ? `: ${quoted}` : ''}`,
    };
  }
  return { passed: true, message: `HTTP ${response.status} from ${call}` };
}

/** The HTTP check, with its retries a second apart; every message redacted. */
export async function runHttpCheck(name: string, http: HttpPreflight, data: SecretData): Promise<PreflightResult> {
  let last = { passed: false, message: '' };
  for (let i = 0; i <= http.retries; i++) {
    if (i > 0) await delay(1000);
    last = await attempt(http, data);
    if (last.passed) break;
  }
  const tries = http.retries > 0 && !last.passed ? ` (${http.retries + 1} attempts)` : '';
  return { name, passed: last.passed, message: redact(`${last.message}${tries}`, data) };
}

/** The Job of a check: one name per rotation, stage and check, so a retried activity finds its own. */
export function preflightJobName(input: Pick<PreflightInput, 'rotationId' | 'stage' | 'index'>): string {
  return `rotor-preflight-${createHash('sha256').update(`${input.rotationId}/${input.stage}/${input.index}`).digest('hex').slice(0, 12)}`;
}

export function preflightActivities(kit: ActivityKit): Pick<RotorActivities, 'preflightCheck'> {
  const { cluster, guarded } = kit;
  return {
    preflightCheck: (input) =>
      guarded(`pre-flight check ${input.check.name} in ${input.stage}`, async () => {
        const stored = await cluster.readVersion(input.namespace, input.version);
        if (!stored) throw new RotorError('NotFound', `the new version ${input.version} is not in ${input.namespace}; it cannot be tested`);
        const { check } = input;
        if ('http' in check) return runHttpCheck(check.name, check.http, stored.data);
        const ran = await cluster.runPreflightJob({
          namespace: input.namespace,
          name: preflightJobName(input),
          version: input.version,
          rotationId: input.rotationId,
          job: check.job,
        });
        const logs = ran.logs.map((l) => redact(l, stored.data));
        return { name: check.name, passed: ran.passed, message: redact(ran.message, stored.data), ...(logs.length ? { logs } : {}) };
      }),
  };
}
