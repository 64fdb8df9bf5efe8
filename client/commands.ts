// The commands that talk to Temporal: start, status, report, approve, abort, rollback, list and
// schedule's. cli.ts defines them and loads this module in their actions only, so `rotor --help` and
// the commands that never reach Temporal (versions, plan, rbac, ...) load no Temporal client; a plan
// file (and the plan schema) is loaded only by the commands that read one.
import { writeFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import { resolve } from 'node:path';
import type { RotationStatus } from '../contract/api';
import { TERMINAL_PHASES, type Phase } from '../contract/phases';
import { EXIT, out } from './cli-common';
import { RotorClientError } from './errors';
import { formatStatus, progressLine, rotationsTable, schedulesTable, workerAbsence } from './format';
import { isStructured, outputFormat, type OutputFormat } from './output-format';
import { structured } from './output';
import { POLL_WINDOW_MS, RotorClient, type ObservedStatus } from './rotor-client';
import { describeWhen, type When } from './schedule-spec';
import { RotorSchedules } from './schedules';
import { rotationWorkflowId } from '../domain/naming';

/** `rotor status` answers within this long of its start, even while no worker can answer its query. */
const ANSWER_WITHIN_MS = 2000;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function operator(by: string | undefined): string {
  if (by) return by;
  try {
    return process.env.ROTOR_OPERATOR ?? userInfo().username;
  } catch {
    return 'operator';
  }
}

/** A page of the Temporal Web UI, in TEMPORAL_UI_URL's namespace TEMPORAL_NAMESPACE. */
function webUi(path: string): string {
  return `${process.env.TEMPORAL_UI_URL ?? 'http://localhost:8233'}/namespaces/${process.env.TEMPORAL_NAMESPACE ?? 'default'}/${path}`;
}

function exitCodeFor(s: RotationStatus): number {
  return s.phase === 'ROLLED_BACK' ? EXIT.rolledBack : s.phase === 'FAILED' ? EXIT.failed : EXIT.ok;
}

/** The plan file, read and validated before anything is contacted: a bad plan never reaches the server. */
async function readPlan(file: string) {
  const { loadPlanFile } = await import('./plan-file.js');
  return loadPlanFile(file);
}

/**
 * Says once when workers go down (the status shown is then the last recorded one) and once when a
 * worker answers again; returns whether they are down now.
 */
function reportOutage(s: ObservedStatus, wasDown: boolean): boolean {
  if (!s.live && !wasDown) {
    const since = s.workerSeen ? `since ${s.workerSeen} (the last poll of task queue ${s.taskQueue})` : `(${workerAbsence(s)})`;
    out(`workers down ${since}, showing the last recorded status; still watching (start \`rotor worker\` to go on)`);
  }
  if (s.live && wasDown) out('a worker answers again; following the live status');
  return !s.live;
}

/** What --watch prints as the status changes: text (new events, progress), or each changed status as JSON or YAML. */
type WatchView = (s: ObservedStatus) => void;

function textView(): WatchView {
  let seen = -1;
  let lastLine = '';
  let down = false;
  return (s) => {
    if (seen < 0) out(formatStatus(s));
    down = reportOutage(s, down);
    const fresh = seen >= 0 && s.eventCount > seen ? s.events.slice(-Math.min(s.eventCount - seen, s.events.length)) : [];
    for (const e of fresh) out(`  ${e.at}  ${e.phase.padEnd(17)} ${e.stage ? `${e.stage}: ` : ''}${e.message}`);
    // A recorded status may count fewer events than a live one seen before: never print those again.
    seen = Math.max(seen, s.eventCount);
    const line = progressLine(s);
    if (line !== lastLine) out(line);
    lastLine = line;
    if (s.live && TERMINAL_PHASES.includes(s.phase)) {
      out(`${s.phase}: ${s.outcome ?? ''}`);
      for (const l of s.leftovers) out(`LEFT ${l}`);
    }
  };
}

/** As kubectl -w -o json: one JSON object a line (one YAML document each) whenever the status changes. */
function structuredView(format: 'json' | 'yaml'): WatchView {
  let last = '';
  return (s) => {
    const key = JSON.stringify([s.live, s.phase, s.stage, s.updatedAt, s.eventCount]);
    if (key !== last) out(structured(s, format, true));
    last = key;
  };
}

async function watch(client: RotorClient, id: string, intervalSeconds: number, format?: OutputFormat): Promise<number> {
  const view = isStructured(format) ? structuredView(format) : textView();
  for (;;) {
    const s = await client.status(id);
    view(s);
    // Only the workflow's own status ends the watch: a recorded phase may be a step behind its end.
    if (s.live && TERMINAL_PHASES.includes(s.phase)) return exitCodeFor(s);
    await sleep(intervalSeconds * 1000);
  }
}

/** Under `rotor list`: when no worker polls, running rotations stand still at the phase shown. */
async function noteIdleWorkers(client: RotorClient): Promise<void> {
  const workerSeen = await client.workerSeen();
  if (workerSeen === undefined || (workerSeen && Date.now() - Date.parse(workerSeen) < POLL_WINDOW_MS)) return;
  out(`note: ${workerAbsence({ taskQueue: client.taskQueue, workerSeen })}; running rotations wait in the phase shown until \`rotor worker\` runs`);
}

/** Run `fn` with a connected client, closed afterwards. */
async function withClient(fn: (client: RotorClient) => Promise<number>): Promise<number> {
  const client = await RotorClient.connect();
  try {
    return await fn(client);
  } finally {
    await client.close();
  }
}

/** -o json|yaml|wide and --json, as the commands that take them receive them. */
export type Formatted = { output?: OutputFormat; json?: boolean };

export async function start(opts: { file: string; watch?: boolean; interval: number; by?: string }): Promise<number> {
  const loaded = await readPlan(opts.file);
  return withClient(async (client) => {
    const id = await client.start(loaded.document, loaded.plan, operator(opts.by));
    out(`started ${id}`);
    out(`follow it: rotor status ${id} --watch   (Web UI: ${webUi(`workflows/${id}`)})`);
    return opts.watch ? watch(client, id, opts.interval) : EXIT.ok;
  });
}

export async function status(id: string, opts: Formatted & { watch?: boolean; interval: number; events: number }): Promise<number> {
  const format = outputFormat(opts);
  return withClient(async (client) => {
    if (opts.watch) return watch(client, id, opts.interval, format);
    // Due 2 s after the command started, worker or not (a recorded status, NOT LIVE, without one).
    const s = await client.status(id, { answerBy: performance.timeOrigin + ANSWER_WITHIN_MS });
    if (isStructured(format)) out(structured(s, format));
    else out(format === 'wide' ? formatStatus(s, { events: s.events.length, checks: s.checks.length }) : formatStatus(s, { events: opts.events }));
    return EXIT.ok;
  });
}

export async function report(id: string, opts: { out?: string }): Promise<number> {
  return withClient(async (client) => {
    const { buildReport, reportStatus } = await import('./report-render.js');
    const { status, notes } = await reportStatus(client, id);
    const html = await buildReport(status, { webUi: webUi(`workflows/${id}`), notes });
    if (opts.out === '-') {
      process.stdout.write(html);
      return EXIT.ok;
    }
    const file = resolve(opts.out ?? `${id}.html`);
    try {
      writeFileSync(file, html);
    } catch (err) {
      throw new RotorClientError(`cannot write the report to ${file} (${(err as Error).message}); choose another place with --out <file>`);
    }
    out(`wrote ${file}: ${status.phase}${status.stage ? ` (${status.stage})` : ''}; open it in a browser (it needs no network)`);
    return EXIT.ok;
  });
}

export async function approve(id: string, opts: { comment?: string; by?: string }): Promise<number> {
  return withClient(async (client) => {
    await client.approve(id, operator(opts.by), opts.comment);
    const s = await client.status(id);
    if (!s.live) out(`approval sent to ${id} (phase ${s.phase}); ${workerAbsence(s)}: it takes effect once \`rotor worker\` runs`);
    else out(`approval sent to ${id} (phase ${s.phase}): ${s.events.at(-1)?.message ?? ''}`);
    return EXIT.ok;
  });
}

export async function abort(id: string, opts: { reason: string; by?: string }): Promise<number> {
  if (!opts.reason.trim()) throw new RotorClientError('rotor abort needs --reason "why", recorded in the rotation\'s events');
  return withClient(async (client) => {
    await client.abort(id, opts.reason, operator(opts.by));
    out(`abort sent to ${id}; follow the rollback with: rotor status ${id} --watch`);
    return EXIT.ok;
  });
}

export async function rollback(id: string, opts: { reason?: string; by?: string }): Promise<number> {
  return withClient(async (client) => {
    const s = await client.rollback(id, opts.reason ?? `requested from the CLI by ${operator(opts.by)}`, operator(opts.by), () =>
      out(`rolling back ${id} ...`),
    );
    out(formatStatus(s));
    return exitCodeFor(s);
  });
}

export async function list(opts: Formatted & { phase?: Phase[]; limit: number }): Promise<number> {
  const phases = opts.phase;
  const format = outputFormat(opts);
  return withClient(async (client) => {
    const rows = await client.list(opts.limit, phases, { summaries: format !== undefined });
    if (isStructured(format)) out(structured(rows, format));
    else if (rows.length === 0) out(phases ? `no rotation is in ${phases.join(' or ')}` : 'no rotations yet; start one with rotor start -f plan.yaml');
    else out(rotationsTable(rows, { wide: format === 'wide' }));
    if (!isStructured(format) && rows.some((r) => r.status === 'RUNNING')) await noteIdleWorkers(client);
    return EXIT.ok;
  });
}

const withSchedules = (fn: (schedules: RotorSchedules) => Promise<void>) =>
  withClient(async (client) => {
    await fn(new RotorSchedules(client));
    return EXIT.ok;
  });

export async function createSchedule(when: When, opts: { file: string; paused?: boolean; note?: string; by?: string }): Promise<number> {
  const { document, plan } = await readPlan(opts.file);
  return withSchedules(async (schedules) => {
    const request = { plan, when, createdBy: operator(opts.by), paused: opts.paused, note: opts.note, now: Date.now() };
    const { scheduleId, nextRuns } = await schedules.create(document, request);
    out(`created schedule ${scheduleId}${opts.paused ? ' (paused)' : ''}: rotate ${plan.secret} ${describeWhen(when)}, never two at once (overlap skip)`);
    out(opts.paused ? `nothing starts until: rotor schedule unpause ${scheduleId}` : `next runs: ${nextRuns.slice(0, 3).join(', ') || '(none)'}`);
    out(`each run is a rotation ${rotationWorkflowId(plan)}-<time>: rotor schedule list shows the last one   (Web UI: ${webUi(`schedules/${scheduleId}`)})`);
  });
}

export async function listSchedules(opts: Formatted): Promise<number> {
  const format = outputFormat(opts);
  return withSchedules(async (schedules) => {
    const rows = await schedules.list();
    if (isStructured(format)) out(structured(rows, format));
    else if (rows.length === 0) out('no schedules yet; create one with rotor schedule create -f plan.yaml --every 90d');
    else out(schedulesTable(rows, { wide: format === 'wide' }));
  });
}

/** What each subcommand on one schedule does, and what it says it did. */
const ON_SCHEDULE = {
  pause: async (schedules: RotorSchedules, id: string, opts: { reason?: string; by?: string }) => {
    await schedules.pause(id, `paused by ${operator(opts.by)}${opts.reason ? `: ${opts.reason}` : ''}`);
    return `paused ${id}; no rotation starts until: rotor schedule unpause ${id}`;
  },
  unpause: async (schedules: RotorSchedules, id: string, opts: { by?: string }) => {
    await schedules.unpause(id, `unpaused by ${operator(opts.by)}`);
    return `unpaused ${id}; rotor schedule list shows its next run`;
  },
  delete: async (schedules: RotorSchedules, id: string) => {
    await schedules.delete(id);
    return `deleted schedule ${id}; rotations it started go on (rotor list shows them)`;
  },
  trigger: async (schedules: RotorSchedules, id: string) => {
    const workflowId = await schedules.trigger(id);
    return workflowId ? `started ${workflowId}; follow it: rotor status ${workflowId} --watch` : `triggered ${id}; rotor schedule list shows its run`;
  },
};

export type ScheduleAction = keyof typeof ON_SCHEDULE;

export async function onSchedule(action: ScheduleAction, id: string, opts: { reason?: string; by?: string }): Promise<number> {
  return withSchedules(async (schedules) => {
    out(await ON_SCHEDULE[action](schedules, id, opts));
  });
}
