// What `rotor schedule create` asks of Temporal: when (--every <duration>, or --cron "<five fields>" in
// a --timezone) as a ScheduleSpec, and a Schedule whose action starts the same rotation `rotor start`
// would, with overlap SKIP; and the same back in words for `rotor schedule list`. Pure: `now` is given.
import type { ScheduleOptions, ScheduleSpec } from '@temporalio/client';
import { DURATION_HELP, formatDuration, parseDuration } from '../domain/duration';
import type { Plan } from '../domain/plan';
import { scheduleProblem } from '../domain/windows';
import type { rotationStartOptions } from './rotor-client';

/** When a schedule starts a rotation: every so long, or when a cron schedule fires in a time zone. */
export type When = { everyMs: number } | { cron: string; timeZone: string };

/** What rotor keeps in a schedule's memo, for `rotor schedule list`: the secret and when, as written. */
export interface ScheduleMemo {
  secret: string;
  namespace: string;
  when: When;
  createdBy: string;
}

export const SCHEDULE_MEMO = 'rotor.schedule';

/** A schedule's id: `rotor-<first namespace>-<secret>`, one schedule per secret where its rotation starts. */
export function rotationScheduleId(plan: Pick<Plan, 'secret' | 'stages'>): string {
  return `rotor-${plan.stages[0]?.namespace ?? 'default'}-${plan.secret}`;
}

/** `--every`: a duration rotor reads, a whole number of seconds (Temporal's unit), at least one. */
export function parseEvery(text: string): { ms: number } | { error: string } {
  const parsed = parseDuration(text);
  if ('error' in parsed) return { error: `${parsed.error}, e.g. --every 90d` };
  if (parsed.ms < 1000 || parsed.ms % 1000 !== 0) return { error: `must be a whole number of seconds, at least 1s; write ${DURATION_HELP}, e.g. --every 90d` };
  return parsed;
}

/** A cron field's token as Temporal reads it: `*`, a number or a name, a range of them, with a step. */
const CRON_TOKEN = /^(\*|\d+|[A-Za-z]{3})(-(\d+|[A-Za-z]{3}))?(\/\d+)?$/;

/** What is wrong with `--cron`, or null: five fields that both croner (rotor's windows) and Temporal's Schedules read alike. */
export function cronProblem(cron: string): string | null {
  const problem = scheduleProblem(cron);
  if (problem) return problem;
  const fields = cron.trim().split(/\s+/);
  if (fields.some((f) => f.split(',').some((token) => !CRON_TOKEN.test(token))))
    return 'uses what Temporal Schedules do not read: write each field as *, numbers or names (MON, JAN), ranges (1-5), lists (1,15) and steps (*/10); no L, W, # or ?';
  if (fields[2] !== '*' && fields[4] !== '*')
    return 'names both a day of the month and a day of the week: cron fires on either, Temporal Schedules only on days that are both; give one of them as *';
  return null;
}

/**
 * `when` as Temporal's spec. An interval is counted from the epoch: its offset puts the first run one
 * interval after `now` (the creation), not wherever the epoch's multiples fall.
 */
export function scheduleSpec(when: When, now: number): ScheduleSpec {
  if ('cron' in when) return { cronExpressions: [when.cron.trim()], timezone: when.timeZone };
  const everyS = when.everyMs / 1000;
  return { intervals: [{ every: when.everyMs, offset: (Math.floor(now / 1000) % everyS) * 1000 }] };
}

const DAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat', 'Sun'];
const dayNames = (field: string) => field.replace(/\d+/g, (n) => DAYS[Number(n)] ?? n).replace(/,/g, ', ');

/** A cron schedule in words where it is a simple one (`Mon at 03:00`); else its fields. */
function cronInWords(cron: string): string {
  const [minute, hour, dayOfMonth, month, dayOfWeek] = cron.trim().split(/\s+/);
  if (!/^\d+$/.test(minute) || !/^\d+$/.test(hour)) return cron;
  const at = `at ${hour.padStart(2, '0')}:${minute.padStart(2, '0')}`;
  const days = [dayOfWeek !== '*' && dayNames(dayOfWeek), dayOfMonth !== '*' && `day ${dayOfMonth} of the month`].filter(Boolean);
  const months = month !== '*' ? ` in month ${month}` : '';
  return `${days.length ? days.join(' ') : 'daily'}${months} ${at}`;
}

/** `every 90d`, or `Mon at 03:00 (cron "0 3 * * 1", Europe/Berlin)`. */
export function describeWhen(when: When): string {
  if ('everyMs' in when) return `every ${formatDuration(when.everyMs)}`;
  const words = cronInWords(when.cron);
  return words === when.cron ? `cron "${when.cron}" (${when.timeZone})` : `${words} (cron "${when.cron}", ${when.timeZone})`;
}

export interface CreateRequest {
  plan: Plan;
  when: When;
  createdBy: string;
  paused?: boolean;
  note?: string;
  now: number;
}

/**
 * The Schedule: its action starts exactly what `rotor start` starts (`start`, made for the schedule's
 * runs), overlap SKIP so a run never starts beside one still running, and the memo `schedule list` reads.
 */
export function rotationSchedule(start: ReturnType<typeof rotationStartOptions>, request: CreateRequest, workflowType: string): ScheduleOptions {
  const { plan, when } = request;
  const memo: ScheduleMemo = { secret: plan.secret, namespace: plan.stages[0].namespace, when, createdBy: request.createdBy };
  return {
    scheduleId: rotationScheduleId(plan),
    spec: scheduleSpec(when, request.now),
    action: { type: 'startWorkflow', workflowType, ...start },
    policies: { overlap: 'SKIP' },
    memo: { [SCHEDULE_MEMO]: memo },
    state: {
      paused: request.paused ?? false,
      note: request.note ?? `created by ${request.createdBy}: rotate ${plan.secret} ${describeWhen(when)}`,
    },
  };
}

/** The requester each scheduled run records: the schedule, and who created it. */
export function scheduledRequester(plan: Pick<Plan, 'secret' | 'stages'>, createdBy: string): string {
  return `schedule ${rotationScheduleId(plan)} (created by ${createdBy})`;
}
