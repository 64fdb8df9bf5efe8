// `rotor report`: one self-contained HTML page of a rotation from its status (the workflow's status
// query, or the status it ended with): the phases per stage over time, each stage's measurements
// against the threshold (and the old version's baseline) with the switch and rollback moments as
// rules, the holders cleanup found, the outcome and the events. Pure: the charts are Vega-Lite specs
// here, drawn to SVG by report-render.ts (vega loads only for this command); the page loads nothing.
import type { CheckResult } from '../contract/activities';
import { PHASES, TERMINAL_PHASES, type Phase, type RotationStatus } from '../contract/api';

/** A Vega-Lite spec, as far as this module builds one (report-render.ts hands it to vega-lite). */
export type ChartSpec = Record<string, unknown>;

/** A stretch of time the rotation spent in one phase of one stage (the lane `rotation`: no stage). */
interface PhaseSpan {
  lane: string;
  phase: Phase;
  from: string;
  to: string;
}

/** A moment marked on every chart: a switch to the new version, or the start of a rollback. */
export interface Moment {
  at: string;
  kind: 'switch' | 'rollback';
  stage: string | null;
  label: string;
}

/** One measurement as the charts plot it. */
interface Point {
  at: string;
  value: number | null;
  baseline: number | null;
  check: string;
  phase: string;
}

const ROTATION_LANE = 'rotation';
const AXIS_TIME = { title: 'time (UTC)', format: '%H:%M:%S', labelOverlap: true, tickCount: 8 };
/** The charts' width in pixels: the page's column less the legend. */
export const WIDTH = 760;
/** An x channel of times (ISO strings in `field`), shown in UTC. */
export const timeX = (field: string, paddingPx = 0) => ({ field, type: 'temporal', axis: AXIS_TIME, scale: { type: 'utc', padding: paddingPx } });
/** Colours of the phases, fixed so that a phase looks the same in every report. */
const PHASE_COLORS: Partial<Record<Phase, string>> = {
  PLANNING: '#9e9e9e',
  CREATING: '#7e57c2',
  AWAITING_APPROVAL: '#ffb300',
  DEPLOYING: '#1e88e5',
  VERIFYING: '#00acc1',
  SOAKING: '#43a047',
  WATCHING: '#2e7d32',
  RETAINING: '#8d6e63',
  CLEANING_UP: '#6d4c41',
  COMPLETED: '#1b5e20',
  ROLLING_BACK: '#e53935',
  ROLLED_BACK: '#b71c1c',
  FAILED: '#000000',
};
const SWITCH_COLOR = '#1565c0';
const ROLLBACK_COLOR = '#c62828';

/** What rotor records when it switches: a stage's workloads, a canary step, a GitOps commit applied. */
const SWITCH_EVENT = /^(switched |canary step |waiting for the GitOps controller to apply)/;

/** `text` safe inside HTML elements and quoted attributes. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

/** The phases per lane, from the events kept: each lasts until the next event in another phase or stage. */
function phaseSpans(status: RotationStatus, now: string): PhaseSpan[] {
  const spans: PhaseSpan[] = [];
  const events = status.events;
  events.forEach((e, i) => {
    const lane = e.stage ?? ROTATION_LANE;
    const to = events[i + 1]?.at ?? (isEnded(status) ? e.at : now);
    const last = spans.at(-1);
    if (last && last.lane === lane && last.phase === e.phase) last.to = to;
    else spans.push({ lane, phase: e.phase, from: e.at, to });
  });
  return spans;
}

function isEnded(status: RotationStatus): boolean {
  return TERMINAL_PHASES.includes(status.phase);
}

/** The switches (a stage's workloads, each canary step, a GitOps commit) and rollbacks in the events kept. */
export function moments(status: RotationStatus): Moment[] {
  const out: Moment[] = [];
  status.events.forEach((e, i) => {
    if (e.phase === 'DEPLOYING' && SWITCH_EVENT.test(e.message)) {
      const canary = /^canary step (\d+)%/.exec(e.message);
      out.push({ at: e.at, kind: 'switch', stage: e.stage, label: canary ? `${e.stage ?? ''} ${canary[1]}%` : `switch ${e.stage ?? ''}`.trim() });
    }
    if (e.phase === 'ROLLING_BACK' && status.events[i - 1]?.phase !== 'ROLLING_BACK') {
      out.push({ at: e.at, kind: 'rollback', stage: e.stage, label: 'rollback' });
    }
  });
  return out;
}

/** A name per check within its stage: its kind, numbered when the stage ran several of that kind (canary steps). */
function checkLabels(checks: CheckResult[]): Map<CheckResult, string> {
  const labels = new Map<CheckResult, string>();
  const seen = new Map<string, number>();
  const total = (c: CheckResult) => checks.filter((x) => x.stage === c.stage && x.check === c.check).length;
  for (const c of checks) {
    const key = `${c.stage}/${c.check}`;
    const n = (seen.get(key) ?? 0) + 1;
    seen.set(key, n);
    labels.set(c, total(c) > 1 ? `${c.check} ${n}` : c.check);
  }
  return labels;
}

function points(checks: CheckResult[]): Point[] {
  const labels = checkLabels(checks);
  return checks.flatMap((c) => c.recent.map((m) => ({ at: m.at, value: m.value, baseline: m.baseline ?? null, check: labels.get(c)!, phase: m.phase })));
}

/** Vertical rules (and their labels) for `marks`: switches dashed blue, rollbacks solid red. */
export function momentLayers(marks: Moment[]): ChartSpec[] {
  return (['switch', 'rollback'] as const).flatMap((kind) => {
    const values = marks.filter((m) => m.kind === kind);
    if (!values.length) return [];
    const color = kind === 'switch' ? SWITCH_COLOR : ROLLBACK_COLOR;
    const x = { field: 'at', type: 'temporal' };
    return [
      {
        name: `${kind}_rule`,
        data: { values },
        mark: { type: 'rule', color, strokeWidth: 2, ...(kind === 'switch' ? { strokeDash: [6, 3] } : {}) },
        encoding: { x },
      },
      {
        name: `${kind}_label`,
        data: { values },
        // A switch's label after its rule, the rollback's (late in the chart, as a rule) before it.
        mark: { type: 'text', color, align: kind === 'switch' ? 'left' : 'right', baseline: 'top', dx: kind === 'switch' ? 3 : -3, dy: 2, fontSize: 10 },
        encoding: { x, y: { value: 0 }, text: { field: 'label' } },
      },
    ];
  });
}

/** The phases of each stage (and of the rotation as a whole) over time, with the switches and rollbacks. */
export function timelineSpec(status: RotationStatus, now: string): ChartSpec {
  const spans = phaseSpans(status, now);
  const lanes = [ROTATION_LANE, ...status.stages.filter((s) => spans.some((x) => x.lane === s))];
  const used = PHASES.filter((p) => spans.some((s) => s.phase === p));
  return {
    width: WIDTH,
    height: 40 + 28 * lanes.length,
    layer: [
      {
        name: 'phases',
        data: { values: spans },
        mark: { type: 'bar', minBandWidth: 2, cornerRadius: 2 },
        encoding: {
          x: timeX('from'),
          x2: { field: 'to' },
          y: { field: 'lane', type: 'nominal', sort: lanes, title: null },
          color: {
            field: 'phase',
            type: 'nominal',
            title: 'phase',
            scale: { domain: used, range: used.map((p) => PHASE_COLORS[p] ?? '#607d8b') },
            legend: { orient: 'bottom', columns: 5 },
          },
        },
      },
      ...momentLayers(moments(status)),
    ],
  };
}

/** The stages whose checks kept measurements, in the plan's order. */
function measuredStages(status: RotationStatus): string[] {
  return status.stages.filter((s) => status.checks.some((c) => c.stage === s && c.recent.length > 0));
}

/**
 * One stage's measurements over time: each check's values (points on a line), the old version's
 * baseline where the analysis has one (dashed), the threshold (a horizontal rule), and the stage's
 * switches and rollback as vertical rules.
 */
export function measurementSpec(status: RotationStatus, stage: string): ChartSpec {
  const checks = status.checks.filter((c) => c.stage === stage);
  const all = points(checks);
  const measured = all.filter((p) => p.value !== null && Number.isFinite(p.value));
  const baselines = all.filter((p) => p.baseline !== null && Number.isFinite(p.baseline));
  const thresholds = [...new Set(checks.map((c) => c.threshold))];
  // Room at each end, so that a measurement taken as the rollback began is not drawn on the edge.
  const x = timeX('at', 12);
  const layers: ChartSpec[] = [
    {
      name: 'threshold_rule',
      data: { values: thresholds.map((threshold) => ({ threshold, label: `threshold ${threshold}` })) },
      mark: { type: 'rule', color: '#ef6c00', strokeWidth: 2 },
      encoding: { y: { field: 'threshold', type: 'quantitative' } },
    },
    {
      name: 'threshold_label',
      data: { values: thresholds.map((threshold) => ({ threshold, label: `threshold ${threshold}` })) },
      mark: { type: 'text', color: '#ef6c00', align: 'right', baseline: 'bottom', dy: -2, fontSize: 10 },
      encoding: { y: { field: 'threshold', type: 'quantitative' }, x: { value: WIDTH }, text: { field: 'label' } },
    },
    ...(['line', 'point'] as const).map((type) => ({
      // The points apart from the line, so that a check of one measurement still shows (and a test can find it).
      name: type === 'line' ? 'measurements' : 'measurement_points',
      data: { values: measured },
      mark: type === 'line' ? { type } : { type, filled: true, size: 50 },
      encoding: {
        x,
        y: { field: 'value', type: 'quantitative', title: 'value', scale: { zero: true } },
        color: { field: 'check', type: 'nominal', title: 'check', sort: null, legend: { orient: 'bottom' } },
      },
    })),
  ];
  if (baselines.length) {
    layers.push({
      name: 'baseline',
      data: { values: baselines },
      mark: { type: 'line', color: '#757575', strokeDash: [4, 3], point: { shape: 'diamond', color: '#757575', size: 40 } },
      encoding: { x, y: { field: 'baseline', type: 'quantitative' }, detail: { field: 'check' } },
    });
  }
  // This stage's own switches and rollback: another stage's would stretch the time axis past its measurements.
  layers.push(...momentLayers(moments(status).filter((m) => m.stage === stage)));
  return { width: WIDTH, height: 220, layer: layers };
}

/** Every chart of a report, by a key the page places it under. */
export function reportCharts(status: RotationStatus, now: string): Record<string, ChartSpec> {
  const charts: Record<string, ChartSpec> = { timeline: timelineSpec(status, now) };
  for (const stage of measuredStages(status)) charts[`stage:${stage}`] = measurementSpec(status, stage);
  return charts;
}

export interface ReportPage {
  status: RotationStatus;
  /** The charts as SVG, by reportCharts' keys. */
  svgs: Record<string, string>;
  /** When the report was made (ISO). */
  generatedAt: string;
  /** The rotation in the Temporal Web UI, the one link the page has. */
  webUi?: string;
  /** Said at the top, e.g. that the status is a running rotation's as of now. */
  notes?: string[];
}

const STYLE = `
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:24px auto;max-width:900px;color:#212121;padding:0 12px}
h1{font-size:22px;margin:0 0 4px}h2{font-size:18px;margin:28px 0 8px;border-bottom:1px solid #ddd}h3{font-size:15px;margin:18px 0 6px}
.outcome{padding:8px 12px;border-radius:4px;background:#eceff1}.COMPLETED{background:#e8f5e9}.ROLLED_BACK,.FAILED{background:#ffebee}
table{border-collapse:collapse;width:100%;font-size:13px}th,td{text-align:left;border-bottom:1px solid #eee;padding:3px 6px;vertical-align:top}
dl{display:grid;grid-template-columns:max-content 1fr;gap:2px 12px}dt{color:#616161}dd{margin:0}
.note{color:#616161;font-size:13px}figure{margin:8px 0;overflow-x:auto}code{font-size:12px}`;

const e = escapeHtml;

function table(head: string[], rows: string[][]): string {
  const tr = (cells: string[], tag: string) => `<tr>${cells.map((c) => `<${tag}>${e(c)}</${tag}>`).join('')}</tr>`;
  return `<table><thead>${tr(head, 'th')}</thead><tbody>${rows.map((r) => tr(r, 'td')).join('')}</tbody></table>`;
}

export function figure(svg: string | undefined, caption: string): string {
  return svg ? `<figure>${svg}<figcaption class="note">${e(caption)}</figcaption></figure>` : '';
}

function checksSection(status: RotationStatus, svgs: Record<string, string>): string {
  if (!status.checks.length) return '<p class="note">No check has ended yet (a check shows here once it has a verdict).</p>';
  const labels = checkLabels(status.checks);
  const parts: string[] = [];
  for (const stage of [...new Set(status.checks.map((c) => c.stage))]) {
    const checks = status.checks.filter((c) => c.stage === stage);
    const kept = checks.reduce((n, c) => n + c.recent.length, 0);
    const taken = checks.reduce((n, c) => n + c.measurements, 0);
    parts.push(`<h3>${e(stage)}</h3>`);
    parts.push(
      figure(
        svgs[`stage:${stage}`],
        `${kept} of ${taken} measurement(s) shown: each check keeps its last few. Orange: the threshold (a value above it fails); dashed grey: the old version's value (baseline); dashed blue: switches; red: the rollback.`,
      ),
    );
    parts.push(
      table(
        ['check', 'verdict', 'measurements', 'last value', 'threshold', 'from', 'to', 'reason'],
        checks.map((c) => [
          labels.get(c)!,
          c.verdict,
          String(c.measurements),
          String(c.lastValue ?? '-'),
          String(c.threshold),
          c.startedAt,
          c.endedAt,
          c.reason,
        ]),
      ),
    );
  }
  return parts.join('\n');
}

function cleanupSection(status: RotationStatus): string {
  const parts: string[] = [];
  if (status.holders.length) {
    parts.push(
      table(
        ['kind', 'namespace', 'name', 'refers by'],
        status.holders.map((h) => [h.kind, h.namespace, h.name, h.fields.join(', ')]),
      ),
    );
  } else parts.push('<p>No holder of the previous version is waited on.</p>');
  const found = status.events.filter((x) => x.phase === 'CLEANING_UP' && /still|refer/i.test(x.message));
  if (found.length)
    parts.push(
      `<h3>What cleanup found on the way</h3>${table(
        ['at', 'event'],
        found.map((x) => [x.at, x.message]),
      )}`,
    );
  if (status.cleaned.length) parts.push(`<p>Previous version deleted in: ${e(status.cleaned.join(', '))}</p>`);
  if (status.revokePending.length) parts.push(`<p>Still to revoke at the issuer: ${e(status.revokePending.join(', '))}</p>`);
  if (status.leftovers.length) parts.push(`<h3>Left behind</h3><ul>${status.leftovers.map((l) => `<li>${e(l)}</li>`).join('')}</ul>`);
  return parts.join('\n');
}

/** The report as one HTML page: no script, no external font, style or image (a CSP forbids them too). */
export function reportHtml(page: ReportPage): string {
  const { status, svgs } = page;
  const previous = Object.entries(status.previousVersions)
    .map(([ns, v]) => `${ns}: ${v ?? '(none)'}`)
    .join(', ');
  const facts: [string, string][] = [
    ['secret', status.secret],
    ['stages', status.stages.join(' → ')],
    ['new version', status.newVersion ?? '-'],
    ['previous versions', previous || (status.previousVersion ?? '-')],
    ['started', status.startedAt],
    ['last change', status.updatedAt],
    ['report made', page.generatedAt],
  ];
  const dropped = status.eventCount - status.events.length;
  const notes = [
    ...(page.notes ?? []),
    ...(dropped > 0 ? [`The rotation keeps its last ${status.events.length} of ${status.eventCount} events: the timeline starts at the first one kept.`] : []),
  ];
  return htmlPage(`rotor report: ${status.workflowId}`, [
    `<h1>${e(status.workflowId)}</h1>`,
    `<p class="outcome ${e(status.phase)}"><strong>${e(status.phase)}</strong>${status.stage ? ` (stage ${e(status.stage)})` : ''}${status.outcome ? `: ${e(status.outcome)}` : ''}</p>`,
    ...notes.map((n) => `<p class="note">${e(n)}</p>`),
    `<dl>${facts.map(([k, v]) => `<dt>${e(k)}</dt><dd>${e(v)}</dd>`).join('')}${
      page.webUi ? `<dt>Web UI</dt><dd><a href="${e(page.webUi)}">${e(page.webUi)}</a></dd>` : ''
    }</dl>`,
    '<h2>Timeline</h2>',
    figure(svgs.timeline, 'The phases of each stage (and of the rotation as a whole) over time; dashed blue: switches to the new version; red: the rollback.'),
    '<h2>Checks</h2>',
    checksSection(status, svgs),
    status.approvals.length
      ? `<h2>Approvals</h2>${table(
          ['stage', 'by', 'at', 'comment'],
          status.approvals.map((a) => [a.stage, a.by, a.at, a.comment]),
        )}`
      : '',
    '<h2>Cleanup</h2>',
    cleanupSection(status),
    '<h2>Events</h2>',
    table(
      ['at', 'phase', 'stage', 'message'],
      status.events.map((x) => [x.at, x.phase, x.stage ?? '', x.message]),
    ),
  ]);
}

/**
 * A page around `body` (HTML already escaped): its own style, no script, and a Content-Security-Policy
 * that lets it load nothing from anywhere, so it opens the same offline.
 */
export function htmlPage(title: string, body: string[]): string {
  return [
    '<!doctype html>',
    '<html lang="en"><head><meta charset="utf-8">',
    `<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:">`,
    '<meta name="viewport" content="width=device-width,initial-scale=1">',
    `<title>${e(title)}</title><style>${STYLE}</style></head><body>`,
    ...body,
    '</body></html>',
    '',
  ].join('\n');
}
