// The stages' pre-flight checks in `rotor plan`: each as it will run (an HTTP call's method, URL, the
// keys its headers and body name and what passes; a Job's image, command, how its pod reads the version
// and its deadline), and, for an HTTP check, whether its endpoint answers now: one call without the
// credential (no placeholder is filled in: the new version does not exist yet, and the dry run reads no
// Secret's value), which also proves TLS verifies.
import { fetchFailure } from '../../activities/preflight';
import { formatDuration } from '../../domain/duration';
import type { Stage } from '../../domain/plan';
import { placeholderKeys, type HttpPreflight, type PreflightCheck } from '../../domain/preflight';

/** How long the reachability probe waits. */
const PROBE_MS = 5000;

function describe(check: PreflightCheck): string {
  if ('job' in check) {
    const { job } = check;
    const command = [...(job.command ?? []), ...(job.args ?? [])].join(' ');
    const reads = 'volume' in job.secretAs ? `a volume at ${job.secretAs.volume}` : 'envFrom';
    return `${check.name}: Job ${job.image}${command ? ` (${command})` : ''}, reading the new version by ${reads}, deadline ${formatDuration(job.timeoutMs)}`;
  }
  const { http } = check;
  const keys = [...new Set([...Object.values(http.headers), http.body ?? ''].flatMap(placeholderKeys))];
  const passes = `status ${http.expect.status.join(' or ')}${http.expect.bodyContains ? ` and a body containing ${JSON.stringify(http.expect.bodyContains)}` : ''}`;
  return `${check.name}: ${http.method} ${http.url} with ${keys.length ? keys.map((k) => `{{secret.${k}}}`).join(', ') : 'no key of the version'}; passes on ${passes}; ${formatDuration(http.timeoutMs)} an attempt, ${http.retries + 1} attempt(s)`;
}

/** One call of the endpoint without the credential: that it answers (any status), or why not. */
async function probe(http: HttpPreflight): Promise<string> {
  try {
    const res = await fetch(http.url, { method: http.method === 'HEAD' ? 'HEAD' : 'GET', redirect: 'manual', signal: AbortSignal.timeout(PROBE_MS) });
    await res.body?.cancel();
    return `endpoint answers now: HTTP ${res.status} to a call without the credential`;
  } catch (err) {
    return `endpoint does not answer now (${fetchFailure(err, PROBE_MS)}): the check would fail`;
  }
}

/** The pre-flight checks of `stage`, a line each (and its probe's, for an HTTP check), as `rotor plan` prints them. */
export async function preflightLines(stage: Stage): Promise<string[]> {
  const lines: string[] = [];
  for (const check of stage.preflight ?? []) {
    lines.push(describe(check));
    if ('http' in check) lines.push(`  ${await probe(check.http)}`);
  }
  return lines;
}
