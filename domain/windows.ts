// Change windows (a stage's `windows`): when a change may start. A window is a cron schedule read in
// an IANA time zone and a duration: each time the schedule fires there (croner's reading, daylight-
// saving changes included), an occurrence covers that much elapsed time from it. Allow windows say
// when a change may start (without any: at any time), deny windows when it may not, and a deny wins.
// Pure: every function is given the instant it judges, in epoch ms, and reads no clock.
import { Cron } from 'croner';
import { formatDuration } from './duration';

/** A window as rotor runs it: the plan's `duration` in ms, the zone's name as written. */
export interface ChangeWindow {
  kind: 'allow' | 'deny';
  /** Five fields: minute, hour, day of month, month, day of week (croner's syntax). */
  schedule: string;
  durationMs: number;
  /** An IANA time zone, e.g. Europe/Berlin; the schedule fires in its local time. */
  timeZone: string;
}

/** Whether a change may start at an instant, why in words, and when that next changes. */
export interface WindowState {
  open: boolean;
  /** Which window decides, with the local times of the next opening or closing: a timer's summary quotes it. */
  why: string;
  /** Closed only: the earliest instant after it that is open, within the horizon (366 days); null when none. */
  opensAt: number | null;
  /** Open only: the earliest instant after it that is closed, within the horizon; null when none. */
  closesAt: number | null;
}

const DAY_MS = 86_400_000;
/** The longest occurrence a window may have. */
export const MAX_WINDOW_DURATION_MS = 31 * DAY_MS;
/** How far ahead an opening or a closing is looked for. */
const HORIZON_DAYS = 366;
/**
 * Schedule look-ups one windowState may make. Realistic windows need a few dozen; only windows
 * that overlap at every turn (say an allow and a deny both starting every minute) need more, and
 * for those the search stops and says so rather than spend seconds.
 */
const MAX_LOOKUPS = 2_000;

const schedules = (schedule: string, timeZone: string) => new Cron(schedule, { mode: '5-part', timezone: timeZone, paused: true });
const label = (w: ChangeWindow) => `${w.kind} "${w.schedule}" for ${formatDuration(w.durationMs)}`;

/** An instant the search reached, and the window whose start or end it is. */
interface Edge {
  at: number;
  window: ChangeWindow;
}

class TooDense extends Error {}

/** The windows' occurrences around instants, each question a schedule look-up, at most MAX_LOOKUPS of them. */
class Occurrences {
  private lookups = 0;
  private readonly crons: Cron[];
  constructor(readonly windows: readonly ChangeWindow[]) {
    this.crons = windows.map((w) => schedules(w.schedule, w.timeZone));
  }

  private cron(i: number): Cron {
    if (++this.lookups > MAX_LOOKUPS) throw new TooDense();
    return this.crons[i];
  }

  private of(kind: ChangeWindow['kind']): number[] {
    return this.windows.flatMap((w, i) => (w.kind === kind ? [i] : []));
  }

  has(kind: ChangeWindow['kind']): boolean {
    return this.windows.some((w) => w.kind === kind);
  }

  /** Of the occurrences of `kind` that cover t, the one that ends last: its end. An occurrence covers [start, start + duration). */
  cover(kind: ChangeWindow['kind'], t: number): Edge | null {
    let last: Edge | null = null;
    for (const i of this.of(kind)) {
      // The latest start at or before t (croner's previous runs are before the reference, t + 1 ms).
      const [start] = this.cron(i).previousRuns(1, new Date(t + 1));
      const end = start ? start.getTime() + this.windows[i].durationMs : -Infinity;
      if (end > t && (!last || end > last.at)) last = { at: end, window: this.windows[i] };
    }
    return last;
  }

  /** The first start of a `kind` occurrence after t. */
  nextStart(kind: ChangeWindow['kind'], t: number): Edge | null {
    let first: Edge | null = null;
    for (const i of this.of(kind)) {
      const start = this.cron(i).nextRun(new Date(t))?.getTime();
      if (start !== undefined && (!first || start < first.at)) first = { at: start, window: this.windows[i] };
    }
    return first;
  }
}

/**
 * Whether a change may start at `now`: open when no deny occurrence covers it and, if there are
 * allow windows, an allow occurrence does. When closed, the earliest open instant after it; when
 * open, the earliest closed one (each within 366 days).
 */
export function windowState(windows: readonly ChangeWindow[], now: number): WindowState {
  if (!windows.length) return { open: true, why: 'no change windows', opensAt: null, closesAt: null };
  const o = new Occurrences(windows);
  const limit = now + HORIZON_DAYS * DAY_MS;
  const within = (edge: Edge | null) => (edge && edge.at <= limit ? edge : null);
  const deny = o.cover('deny', now);
  const allow = deny ? null : o.cover('allow', now);
  if (deny || (o.has('allow') && !allow)) {
    const why = deny ? `${label(deny.window)} covers now` : 'outside every allow window';
    const opens = search(() => within(opening(o, now, limit)));
    if (opens === 'too dense') return { open: false, why: `${why}; ${TOO_DENSE}`, opensAt: null, closesAt: null };
    if (!opens) return { open: false, why: `${why}; no window opens within ${HORIZON_DAYS} days`, opensAt: null, closesAt: null };
    const cause = opens.window.kind === 'allow' ? `when ${label(opens.window)} starts` : `when ${label(opens.window)} ends`;
    return { open: false, why: `${why}; opens ${describeInstant(opens.at, opens.window.timeZone)}, ${cause}`, opensAt: opens.at, closesAt: null };
  }
  const why = allow ? `inside ${label(allow.window)}` : 'no deny window covers now';
  const closes = search(() => within(closing(o, now, limit)));
  if (closes === 'too dense') return { open: true, why: `${why}; ${TOO_DENSE}`, opensAt: null, closesAt: null };
  if (!closes) return { open: true, why: `${why}; stays open for the next ${HORIZON_DAYS} days`, opensAt: null, closesAt: null };
  const cause = closes.window.kind === 'allow' ? `when ${label(closes.window)} ends` : `when ${label(closes.window)} starts`;
  return { open: true, why: `${why}; closes ${describeInstant(closes.at, closes.window.timeZone)}, ${cause}`, opensAt: null, closesAt: closes.at };
}

const TOO_DENSE = `the windows overlap too often to search further (${MAX_LOOKUPS} schedule look-ups)`;

function search(find: () => Edge | null): Edge | null | 'too dense' {
  try {
    return find();
  } catch (e) {
    if (e instanceof TooDense) return 'too dense';
    throw e;
  }
}

/**
 * The earliest open instant at or after t (closed there): every instant before a deny's end is
 * closed, and so is every instant before the next allow start when no allow covers it, so the
 * search jumps from edge to edge.
 */
function opening(o: Occurrences, t: number, limit: number): Edge | null {
  let edge: Edge | null = null;
  while (t <= limit) {
    const deny = o.cover('deny', t);
    if (deny) {
      [t, edge] = [deny.at, deny];
      continue;
    }
    if (!o.has('allow') || o.cover('allow', t)) return edge;
    const start = o.nextStart('allow', t);
    if (!start) return null;
    [t, edge] = [start.at, start];
  }
  return null;
}

/** The earliest closed instant after t (open there): the next deny start, or the end of the allow occurrences that cover t one after another. */
function closing(o: Occurrences, t: number, limit: number): Edge | null {
  const deny = o.nextStart('deny', t);
  const until = Math.min(deny?.at ?? Infinity, limit + 1);
  let end = o.has('allow') ? o.cover('allow', t) : null;
  while (end && end.at < until) {
    const next = o.cover('allow', end.at);
    if (!next) return end;
    end = next;
  }
  return deny;
}

const formats = new Map<string, Intl.DateTimeFormat>();
function format(timeZone: string): Intl.DateTimeFormat {
  let f = formats.get(timeZone);
  if (!f) {
    const fields = { weekday: 'short', year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit' } as const;
    f = new Intl.DateTimeFormat('en-GB', { ...fields, hourCycle: 'h23', timeZone, timeZoneName: 'short' });
    formats.set(timeZone, f);
  }
  return f;
}

/** An instant in a zone's local time, with the zone: `Sat 2026-12-12 22:00 CET (Europe/Berlin)`; seconds only when not zero. */
export function describeInstant(ms: number, timeZone: string): string {
  const part = Object.fromEntries(
    format(timeZone)
      .formatToParts(ms)
      .map((p) => [p.type, p.value]),
  );
  const time = `${part.hour}:${part.minute}${part.second === '00' ? '' : `:${part.second}`}`;
  const zone = part.timeZoneName === timeZone ? timeZone : `${part.timeZoneName} (${timeZone})`;
  return `${part.weekday} ${part.year}-${part.month}-${part.day} ${time} ${zone}`;
}

/** What is wrong with a window's schedule, or null: five cron fields croner reads, that fire at some time. */
export function scheduleProblem(schedule: string): string | null {
  let cron: Cron;
  try {
    cron = schedules(schedule, 'UTC');
  } catch (e) {
    const reason = (e instanceof Error ? e.message : String(e)).replace(/^CronPattern: /, '');
    return `is not a cron schedule of five fields (minute hour day-of-month month day-of-week), e.g. "0 22 * * 6" for Saturdays at 22:00: ${reason}`;
  }
  // From a fixed instant, not a clock: a schedule that never fires never fires from any instant.
  if (!cron.nextRun(new Date(Date.UTC(2000, 0, 1)))) return 'never fires (a date that does not exist, such as 30 February); fix the day or the month';
  return null;
}

/** What is wrong with a window's time zone, or null: an IANA name the runtime knows. */
export function timeZoneProblem(timeZone: string): string | null {
  const problem = 'is not a time zone this runtime knows; use an IANA name such as Europe/Berlin, America/New_York or UTC';
  if (!/^[A-Za-z]/.test(timeZone)) return problem;
  try {
    new Intl.DateTimeFormat('en', { timeZone });
    return null;
  } catch {
    return problem;
  }
}
