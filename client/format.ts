// Rendering rotations for a terminal: a status, the list, the schedules, the versions of rotor and its server.
import type { RotationStatus } from '../contract/api';
import { age, table } from './output';
import { POLL_WINDOW_MS, type Liveness, type RotationSummary } from './rotor-client';
import type { ScheduleRow } from './schedules';

function bar(step: number, total: number, width = 24): string {
  const filled = Math.round((step / Math.max(total, 1)) * width);
  return `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}]`;
}

function until(iso: string, now: Date): string {
  const ms = Date.parse(iso) - now.getTime();
  if (ms <= 0) return iso;
  const h = Math.floor(ms / 3_600_000);
  const m = Math.floor((ms % 3_600_000) / 60_000);
  const s = Math.floor((ms % 60_000) / 1000);
  return `${iso} (in ${h ? `${h}h` : ''}${h || m ? `${m}m` : ''}${h ? '' : `${s}s`})`;
}

/** One line for --watch: phase, stage, step, percentage. */
export function progressLine(s: RotationStatus): string {
  // total 0: a status recorded without its step (a run from before the status memo, seen without a worker).
  if (s.progress.total === 0) return `step unknown  ${s.phase}${s.stage ? ` ${s.stage}` : ''}`;
  const pct = Math.round((s.progress.step / s.progress.total) * 100);
  const stage = s.stage ? ` ${s.stage}` : '';
  const canary = s.canaryPercent !== null ? ` canary ${s.canaryPercent}%` : '';
  const batch = s.batch ? ` batch ${s.batch.n}/${s.batch.of}` : '';
  return `${bar(s.progress.step, s.progress.total)} ${String(pct).padStart(3)}%  step ${s.progress.step}/${s.progress.total}  ${s.phase}${stage}${canary}${batch}`;
}

/** Since when no worker has polled the rotation's task queue, as an operator reads it. */
export function workerAbsence(l: Pick<Liveness, 'taskQueue' | 'workerSeen'>): string {
  const queue = l.taskQueue ?? '(unknown)';
  if (l.workerSeen === undefined) return `the server could not say when a worker last polled task queue ${queue}`;
  if (l.workerSeen === null) return `no worker has polled task queue ${queue} (none seen)`;
  return `no worker has polled task queue ${queue} since ${l.workerSeen}`;
}

/** What a status not answered by a worker is, where it comes from, and what to do. */
function notLiveLines(l: Partial<Liveness>, now: Date): string[] {
  const shown = l.recordedAt
    ? `what the rotation recorded at ${l.recordedAt}; checks, switched workloads and older events need a worker`
    : 'the phase and stage in its search attributes only (this run keeps no status memo)';
  const lines = [`NOT LIVE   ${l.reason ?? 'no worker answered'}: ${workerAbsence(l)}`, `           shown: ${shown}`];
  if (l.workerSeen && now.getTime() - Date.parse(l.workerSeen) < POLL_WINDOW_MS)
    lines.push('           a worker polled moments ago: it may be busy, or have just stopped; ask again shortly');
  lines.push(
    `           to see it live and let it go on, start a worker: rotor worker (ROTOR_TASK_QUEUE=${l.taskQueue ?? 'rotor'}, same server and namespace)`,
  );
  return lines;
}

/** A status for a terminal; `events` and `checks`: how many of the last ones to show (wide: every one kept). */
export function formatStatus(s: RotationStatus & Partial<Liveness>, opts: { events?: number; checks?: number; now?: Date } = {}): string {
  const now = opts.now ?? new Date();
  const lines: string[] = s.live === false ? notLiveLines(s, now) : [];
  const row = (k: string, v: string) => lines.push(`${k.padEnd(10)} ${v}`);
  row('rotation', `${s.workflowId} (secret ${s.secret})`);
  row('phase', `${s.phase}${s.stage ? ` — stage ${s.stage}` : ''}`);
  row('progress', progressLine(s));
  row('new', s.newVersion ?? '-');
  row(
    'previous',
    Object.entries(s.previousVersions)
      .map(([ns, v]) => `${v ?? '-'} (${ns})`)
      .join(', ') ||
      (s.previousVersion ?? '-'),
  );
  if (s.canaryPercent !== null) row('canary', `${s.canaryPercent}% of replicas on ${s.newVersion}`);
  if (s.batch) row('batch', `${s.batch.n} of ${s.batch.of}`);
  if (s.waitingUntil) row('waiting', `until ${until(s.waitingUntil, now)}`);
  if (s.switched.length) row('switched', s.switched.map((r) => `${r.kind}/${r.name} in ${r.namespace} (${r.fields.length} ref)`).join(', '));
  if (s.holders.length) row('holders', s.holders.map((h) => `${h.kind}/${h.name} in ${h.namespace}`).join(', '));
  for (const a of s.approvals) row('approved', `${a.stage} by ${a.by} at ${a.at}${a.comment ? `: ${a.comment}` : ''}`);
  const checks = s.checks.slice(-(opts.checks ?? 5));
  if (checks.length) {
    lines.push('checks');
    for (const c of checks) {
      lines.push(
        c.check === 'preflight'
          ? `  ${c.verdict.toUpperCase().padEnd(12)} pre-flight ${c.stage}: ${c.reason}`
          : `  ${c.verdict.toUpperCase().padEnd(12)} ${c.check} ${c.stage}: ${c.measurements} measurement(s), last ${c.lastValue ?? 'n/a'} vs threshold ${c.threshold} — ${c.reason}`,
      );
      // The last measurements: time, value (or why there is none) and phase.
      if (c.recent.length)
        lines.push(
          `               ${c.recent.map((m) => `${m.at.slice(11, 19)} ${m.value ?? (m.phase === 'error' ? 'error' : 'no data')}${m.baseline !== undefined ? ` (old ${m.baseline ?? 'no data'})` : ''} ${m.phase}`).join(' · ')}`,
        );
    }
  }
  if (s.outcome) row('outcome', s.outcome);
  for (const l of s.leftovers) row('LEFT', l);
  const events = s.events.slice(-(opts.events ?? 8));
  if (events.length) {
    lines.push(`events (last ${events.length} of ${s.eventCount})`);
    for (const e of events) lines.push(`  ${e.at}  ${e.phase.padEnd(17)} ${e.stage ? `${e.stage}: ` : ''}${e.message}`);
  }
  return lines.join('\n');
}

/** `rotor list`: a header row, one rotation a line; wide adds when each started and its outcome or last event. */
export function rotationsTable(rows: RotationSummary[], opts: { wide?: boolean; now?: Date } = {}): string {
  const now = opts.now ?? new Date();
  const header = ['ID', 'SECRET', 'PHASE', 'STAGE', 'AGE', ...(opts.wide ? ['STARTED', 'SUMMARY'] : [])];
  const cells = rows.map((r) => [
    r.workflowId,
    r.secret,
    r.phase,
    r.stage ?? '-',
    age(r.startedAt, now),
    ...(opts.wide ? [r.startedAt, r.summary ?? '-'] : []),
  ]);
  return table(header, cells);
}

/** `rotor schedule list`: a header row, one schedule a line; wide adds its counts, its note and the runs after the next. */
export function schedulesTable(rows: ScheduleRow[], opts: { wide?: boolean } = {}): string {
  const header = ['ID', 'SECRET', 'SPEC', 'PAUSED', 'NEXT RUN', 'LAST RUN', 'RESULT', ...(opts.wide ? ['RUNS', 'SKIPPED', 'LATER RUNS', 'NOTE'] : [])];
  const cells = rows.map((r) => [
    r.scheduleId,
    r.secret,
    r.spec,
    r.paused ? 'yes' : 'no',
    r.nextRuns[0] ?? '-',
    r.lastRun?.workflowId ?? '-',
    r.lastRun?.result ?? '-',
    ...(opts.wide ? [String(r.runs), String(r.skipped), r.nextRuns.slice(1, 3).join(', ') || '-', r.note ?? '-'] : []),
  ]);
  return table(header, cells);
}
