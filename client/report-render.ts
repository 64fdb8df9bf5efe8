// `rotor report`'s drawing and fetching: Vega-Lite compiled and run by vega in Node, headless (no
// canvas: SVG only), loaded on first use so that no other command pays for it; and the status a report
// is made of, the rotation's own (a worker's answer, or the status it ended with).
import { decodeArrayFromPayloads } from '@temporalio/common/lib/internal-non-workflow/codec-helpers';
import { optionalTsToDate } from '@temporalio/common/lib/time';
import type { temporal } from '@temporalio/proto';
import type { CheckResult, MonitorInput } from '../contract/activities';
import { TERMINAL_PHASES, type RotationStatus } from '../contract/api';
import type { Measurement } from '../domain/analysis';
import { reportCharts, reportHtml, type ChartSpec } from './report';
import { RotorClientError, type RotorClient } from './rotor-client';

/** A Vega-Lite spec drawn as an SVG element. */
export async function renderSvg(spec: ChartSpec): Promise<string> {
  const [vega, vegaLite] = await Promise.all([import('vega'), import('vega-lite')]);
  const compiled = vegaLite.compile({ config: { font: 'sans-serif', view: { stroke: null } }, ...spec } as Parameters<typeof vegaLite.compile>[0]);
  // No loader reaches out: every chart carries its data inline.
  const view = new vega.View(vega.parse(compiled.spec), { renderer: 'none' });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

export interface ReportOptions {
  webUi?: string;
  notes?: string[];
  /** When the report is made (default now): a running rotation's current phase lasts until then. */
  now?: Date;
}

/** The report of `status` as one HTML page, its charts drawn. */
export async function buildReport(status: RotationStatus, options: ReportOptions = {}): Promise<string> {
  const now = (options.now ?? new Date()).toISOString();
  const svgs: Record<string, string> = {};
  for (const [key, spec] of Object.entries(reportCharts(status, now))) svgs[key] = await renderSvg(spec);
  return reportHtml({ status, svgs, generatedAt: now, webUi: options.webUi, notes: options.notes });
}

/** What the analysis activity heartbeats (activities/analysis-loop.ts): its measurements so far. */
interface HeartbeatProgress {
  startedAt: string;
  recent: Measurement[];
  taken: number;
}

/**
 * The analyses under way (a pending monitorAnalysis of the latest run) as running checks: the
 * measurements so far from the activity's last heartbeat (its worker sends one at least every 5 s),
 * the stage, kind and threshold from the input it was scheduled with. Read-only: describe and the
 * history, decoded with the client's codec; a check ends in the status once it has a verdict.
 */
async function checksUnderWay(client: RotorClient, id: string, now: Date): Promise<CheckResult[]> {
  const handle = client.handle(id);
  const pending = ((await handle.describe()).raw.pendingActivities ?? []).filter(
    (a) => a.activityType?.name === 'monitorAnalysis' && a.activityId && a.heartbeatDetails?.payloads?.length,
  );
  if (!pending.length) return [];
  const converter = client.client.options.loadedDataConverter;
  const scheduled = new Map<string, temporal.api.common.v1.IPayloads>();
  for (const e of (await handle.fetchHistory()).events ?? []) {
    const a = e.activityTaskScheduledEventAttributes;
    if (a?.activityId && a.input) scheduled.set(a.activityId, a.input);
  }
  const checks: CheckResult[] = [];
  for (const a of pending) {
    const input = scheduled.get(a.activityId!);
    if (!input) continue;
    const [monitor] = (await decodeArrayFromPayloads(converter, input.payloads)) as [MonitorInput];
    const [progress] = (await decodeArrayFromPayloads(converter, a.heartbeatDetails!.payloads)) as [HeartbeatProgress | undefined];
    if (!monitor?.analysis || !Array.isArray(progress?.recent) || !progress.recent.length) continue;
    const beat = optionalTsToDate(a.lastHeartbeatTime)?.toISOString() ?? 'unknown';
    checks.push({
      stage: monitor.stage,
      check: monitor.check,
      verdict: 'running',
      reason: `measuring: ${progress.taken} measurement(s) so far, as of the last heartbeat at ${beat}`,
      measurements: progress.taken,
      lastValue: progress.recent.at(-1)?.value ?? null,
      threshold: monitor.analysis.threshold,
      recent: progress.recent,
      startedAt: progress.startedAt,
      endedAt: now.toISOString(),
    });
  }
  return checks;
}

/**
 * The status to report on: the rotation's own, live or final (a run that continued as new goes on in
 * its latest run, which carries the status), with a running rotation's analyses under way as running
 * checks. The server's summary without a worker lacks the checks and events, so it is refused with
 * what to do rather than drawn half.
 */
export async function reportStatus(client: RotorClient, id: string, now = new Date()): Promise<{ status: RotationStatus; notes: string[] }> {
  const { live, reason, taskQueue, workerSeen, recordedAt, ...status } = await client.status(id);
  if (!live) {
    throw new RotorClientError(
      `${id} is running but no worker answered (${reason ?? 'no answer'}; task queue ${taskQueue ?? '?'}, last poll ${workerSeen ?? 'unknown'}, recorded ${recordedAt ?? 'unknown'}): ` +
        `a report needs its checks and events, which only a worker can give. Start \`rotor worker\`, then run \`rotor report ${id}\` again (\`rotor status ${id}\` shows the recorded phase now)`,
    );
  }
  if (TERMINAL_PHASES.includes(status.phase)) return { status, notes: [] };
  const underWay = await checksUnderWay(client, id, now);
  const notes = [`Running: this is the rotation as of the report's making, in ${status.phase}; run rotor report again for a later view.`];
  if (underWay.length) notes.push(`The analysis under way (${underWay.map((c) => `${c.check} in ${c.stage}`).join(', ')}) is shown as a running check.`);
  return { status: { ...status, checks: [...status.checks, ...underWay] }, notes };
}
