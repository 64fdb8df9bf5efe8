// The CLI's argument parsers: each value checked as commander reads it, so a bad one is refused (exit
// code 2) before anything is loaded or contacted. Only what the definitions need: no SDK, no plan schema.
import { InvalidArgumentError } from 'commander';
import { PHASES, type Phase } from '../contract/phases';
import { timeZoneProblem } from '../domain/windows';
import { cronProblem, parseEvery } from './schedule-spec';

export function seconds(value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0) throw new InvalidArgumentError('a number of seconds above 0, e.g. 2 or 0.5');
  return n;
}

export function count(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError('a whole number, e.g. 8');
  return n;
}

export function port(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new InvalidArgumentError('a port number from 0 to 65535 (0: any free port), e.g. 8081');
  return n;
}

/** `--every 90d`: a duration in whole seconds. */
export function every(value: string): number {
  const parsed = parseEvery(value);
  if ('error' in parsed) throw new InvalidArgumentError(parsed.error);
  return parsed.ms;
}

/** `--cron "0 3 * * 1"` and `--timezone Europe/Berlin`, checked as a window's schedule and zone are. */
const checked = (problem: (value: string) => string | null) => (value: string) => {
  const why = problem(value);
  if (why) throw new InvalidArgumentError(why);
  return value;
};
export const cron = checked(cronProblem);
export const timeZone = checked(timeZoneProblem);

/** `--origin` values: scheme://host[:port], nothing after it; trailing slash forgiven. */
export function normalizeOrigin(value: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new Error(`${value} is not an origin; write it as scheme://host:port, e.g. http://localhost:8233`);
  }
  if ((url.protocol !== 'http:' && url.protocol !== 'https:') || value.replace(/\/$/, '') !== url.origin)
    throw new Error(`${value} is not an origin; write it as scheme://host:port with nothing after it, e.g. http://localhost:8233`);
  return url.origin;
}

export const DEFAULT_ORIGINS = ['http://localhost:8233'];

/** Repeated `--origin`: the first one replaces the default, the others add to it. */
export function origins(value: string, previous: string[]): string[] {
  let origin: string;
  try {
    origin = normalizeOrigin(value);
  } catch (err) {
    throw new InvalidArgumentError((err as Error).message);
  }
  return previous === DEFAULT_ORIGINS ? [origin] : [...previous, origin];
}

/** `--phase AWAITING_APPROVAL,ROLLING_BACK`: phases by name, any case; an unknown one names the valid ones. */
export function parsePhases(value: string): Phase[] {
  const phases = value
    .split(',')
    .map((p) => p.trim().toUpperCase().replace(/-/g, '_'))
    .filter(Boolean);
  const unknown = phases.filter((p) => !(PHASES as readonly string[]).includes(p));
  if (unknown.length || phases.length === 0) {
    throw new InvalidArgumentError(`unknown phase ${unknown.join(', ') || '(none)'}; use one or more of ${PHASES.join(', ')}`);
  }
  return phases as Phase[];
}

/** `namespace/name` of a ServiceAccount, or why not. */
export function parseServiceAccount(raw: string): { namespace: string; name: string } | { error: string } {
  const m = /^([a-z0-9]([-a-z0-9]*[a-z0-9])?)\/([a-z0-9]([-a-z0-9.]*[a-z0-9])?)$/.exec(raw);
  if (!m) return { error: `--service-account ${JSON.stringify(raw)} is not <namespace>/<name>; write it like rotor-system/rotor-worker` };
  return { namespace: m[1], name: m[3] };
}

/**
 * An API group for `--scan-group`, or why not. Never the core group (''): its resources are listed one
 * by one, since `*` there would list Secrets, values and all.
 */
export function parseScanGroup(raw: string): string | { error: string } {
  if (/^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/.test(raw) && raw.length <= 253) return raw;
  return {
    error: `--scan-group ${JSON.stringify(raw)} is not an API group: give a custom resource's group as \`kubectl api-resources\` shows it, e.g. --scan-group example.com (the core group is listed already, without Secrets)`,
  };
}
