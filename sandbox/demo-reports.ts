// The demo's pages, in test-artifacts/demo/: each rotor act's `rotor report` (through the CLI, as an
// operator makes it), and one chart of the auth API's error rate per namespace over all the acts, from
// the sandbox's Prometheus (query_range), each act's window shaded and its switches and rollbacks marked.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { escapeHtml, figure, htmlPage, momentLayers, moments, timeX, WIDTH, type ChartSpec } from '../client/report';
import { renderSvg } from '../client/report-render';
import type { ActResult, Say } from './demo-acts';
import type { DemoWorld } from './demo-world';
import { repoRoot } from './tools';
import { promRange } from './prom-query';

const DEMO_REPORTS = join(repoRoot, 'test-artifacts', 'demo');

/** `rotor report <id> --out test-artifacts/demo/act-<act>.html`; the file, or null when the CLI failed (it said why). */
export async function actReport(world: DemoWorld, say: Say, act: string, id: string): Promise<string | null> {
  mkdirSync(DEMO_REPORTS, { recursive: true });
  const file = join(DEMO_REPORTS, `act-${act}.html`);
  const lines: string[] = [];
  const code = await world.rotor(['report', id, '--out', file], (line) => lines.push(line));
  say(`$ rotor report ${id} --out ${file}`);
  for (const line of lines) say(`  ${line}`);
  return code === 0 ? file : null;
}

/** The demo's namespaces, each in its own colour: act a's, then staging and production. */
const NAMESPACES = ['inplace', 'staging', 'production'];

/** The auth API's error ratio per namespace, every `stepS` seconds over [fromMs, toMs]. */
async function errorRatio(world: DemoWorld, fromMs: number, toMs: number, stepS: number) {
  const query = 'sum by (namespace) (rate(auth_requests_errors_total[3s])) / sum by (namespace) (rate(auth_requests_total[3s]))';
  const { result } = await promRange(world.prometheus, query, fromMs, toMs, stepS);
  return result.flatMap((r) =>
    r.values
      .map(([t, v]) => ({ at: new Date(t * 1000).toISOString(), namespace: r.metric.namespace ?? '-', value: Number(v) }))
      .filter((p) => Number.isFinite(p.value)),
  );
}

/** The error-rate chart over `results` (their windows, switches and rollbacks), written to test-artifacts/demo/error-rate.html. */
export async function errorRateReport(world: DemoWorld, results: ActResult[], threshold: number): Promise<string> {
  mkdirSync(DEMO_REPORTS, { recursive: true });
  const from = Math.min(...results.map((r) => r.window.from));
  const to = Math.max(...results.map((r) => r.window.to));
  const stepS = Math.max(1, Math.ceil((to - from) / 1000 / 600));
  const points = await errorRatio(world, from, to, stepS);
  const acts = results.map((r) => ({ from: new Date(r.window.from).toISOString(), to: new Date(r.window.to).toISOString(), label: `act ${r.act}` }));
  // Every switch a rule; only the rollbacks labelled, or a canary's steps would write over each other.
  const marks = results.flatMap((r) => (r.status ? moments(r.status).map((m) => ({ ...m, label: m.kind === 'rollback' ? `${r.act}: rollback` : '' })) : []));
  const spec: ChartSpec = {
    width: WIDTH,
    height: 260,
    layer: [
      { name: 'acts', data: { values: acts }, mark: { type: 'rect', color: '#90a4ae', opacity: 0.15 }, encoding: { x: timeX('from'), x2: { field: 'to' } } },
      {
        name: 'act_label',
        data: { values: acts },
        mark: { type: 'text', align: 'left', baseline: 'bottom', dx: 2, fontSize: 11, color: '#455a64' },
        encoding: { x: timeX('from'), y: { value: 260 }, text: { field: 'label' } },
      },
      {
        name: 'error_rate',
        data: { values: points },
        mark: { type: 'line', interpolate: 'step-after' },
        encoding: {
          x: timeX('at'),
          y: { field: 'value', type: 'quantitative', title: 'error ratio (rate over 3 s)', scale: { domain: [0, 1] } },
          color: {
            field: 'namespace',
            type: 'nominal',
            title: 'namespace',
            scale: { domain: NAMESPACES, range: ['#6a1b9a', '#00897b', '#3949ab'] },
            legend: { orient: 'bottom' },
          },
        },
      },
      {
        name: 'threshold_rule',
        data: { values: [{ threshold }] },
        mark: { type: 'rule', color: '#ef6c00', strokeDash: [2, 2] },
        encoding: { y: { field: 'threshold', type: 'quantitative' } },
      },
      ...momentLayers(marks),
    ],
  };
  const svg = await renderSvg(spec);
  const rows = results
    .map(
      (r) =>
        `<tr><td>${r.report ? `<a href="${escapeHtml(`act-${r.act}.html`)}">act ${escapeHtml(r.act)}</a>` : `act ${escapeHtml(r.act)}`}</td><td>${escapeHtml(r.title)}</td><td>${escapeHtml(
          r.status?.phase ?? '-',
        )}</td><td>${r.failed} of ${r.requests}</td></tr>`,
    )
    .join('');
  const html = htmlPage("rotor demo: the auth API's error rate", [
    "<h1>The auth API's error rate over the demo</h1>",
    `<p>From the sandbox's Prometheus, per namespace, every ${stepS} s from ${escapeHtml(new Date(from).toISOString())} to ${escapeHtml(new Date(to).toISOString())}.</p>`,
    figure(svg, "Shaded: each act's window; dotted orange: the analysis threshold; dashed blue: rotor's switches (each canary step one); red: its rollbacks."),
    `<table><thead><tr><th>act</th><th>what</th><th>ended</th><th>failed requests</th></tr></thead><tbody>${rows}</tbody></table>`,
  ]);
  const file = join(DEMO_REPORTS, 'error-rate.html');
  writeFileSync(file, html);
  return file;
}
