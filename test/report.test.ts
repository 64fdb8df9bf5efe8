// `rotor report`'s builder on a status built by hand (a rotation rolled back by its staging check):
// the charts' specs hold the threshold, the measurements, the baseline and the switch and rollback
// moments; the page drawn by vega in Node has them as SVG marks, escapes every word it shows, loads
// nothing from anywhere, and holds no secret value.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { escapeHtml, measurementSpec, moments, reportCharts, reportHtml, timelineSpec } from '../client/report';
import { buildReport } from '../client/report-render';
import { blankStatus } from '../contract/api';
import { HOSTILE, KNOWN_SECRET, rolledBackStatus } from './helpers/report-status';

type Layer = { name?: string; data: { values: Record<string, unknown>[] }; mark: { type: string } };
const layers = (spec: Record<string, unknown>) => spec.layer as Layer[];
const layer = (spec: Record<string, unknown>, name: string) => layers(spec).find((l) => l.name === name);

/** The group of SVG marks vega draws for a named layer, and how many shapes it holds. */
function marksOf(svg: string, name: string): number {
  const open = svg.indexOf(`${name}_marks"`);
  if (open < 0) return 0;
  const group = svg.slice(open, svg.indexOf('</g>', open));
  return (group.match(/<(path|line|text|rect)\b/g) ?? []).length;
}

describe('rotor report: the charts of a rolled-back rotation', () => {
  const status = rolledBackStatus();
  const now = '2026-12-07T10:05:00.000Z';

  it('marks the switch to the new version and the start of the rollback, from the events', () => {
    assert.deepEqual(
      moments(status).map((m) => [m.kind, m.stage, m.at]),
      [
        ['switch', 'staging', '2026-12-07T10:00:06.000Z'],
        ['rollback', 'staging', '2026-12-07T10:00:33.000Z'],
      ],
    );
  });

  it("draws staging's measurements against the threshold and the baseline, with the switch and rollback rules", () => {
    const spec = measurementSpec(status, 'staging');
    assert.deepEqual(
      layer(spec, 'threshold_rule')!.data.values.map((v) => v.threshold),
      [0.05],
    );
    assert.deepEqual(
      layer(spec, 'measurements')!.data.values.map((v) => v.value),
      [0.01, 0.31, 0.4],
    );
    assert.deepEqual(
      layer(spec, 'baseline')!.data.values.map((v) => v.baseline),
      [0, 0, 0.01],
    );
    assert.equal(layer(spec, 'switch_rule')!.mark.type, 'rule');
    assert.equal(layer(spec, 'rollback_rule')!.data.values.length, 1);
    // Only stages with measurements get a chart: production never ran.
    assert.deepEqual(Object.keys(reportCharts(status, now)), ['timeline', 'stage:staging']);
  });

  it("a stage's chart marks its own switches only; the timeline marks every stage's, a canary step by its weight", () => {
    const later = {
      ...status,
      events: [
        ...status.events,
        { at: '2026-12-07T10:01:00.000Z', phase: 'DEPLOYING' as const, stage: 'production', message: 'canary step 10% in production' },
      ],
    };
    assert.deepEqual(
      layer(measurementSpec(later, 'staging'), 'switch_rule')!.data.values.map((v) => v.stage),
      ['staging'],
    );
    assert.deepEqual(
      layer(timelineSpec(later, now), 'switch_rule')!.data.values.map((v) => v.label),
      ['switch staging', 'production 10%'],
    );
  });

  it('lays the phases out per stage: the rotation lane, then staging from DEPLOYING to ROLLED_BACK', () => {
    const spans = layer(timelineSpec(status, now), 'phases')!.data.values;
    assert.deepEqual(
      spans.map((s) => `${s.lane}:${s.phase}`),
      ['rotation:PLANNING', 'rotation:CREATING', 'staging:DEPLOYING', 'staging:VERIFYING', 'staging:ROLLING_BACK', 'staging:ROLLED_BACK'],
    );
    const deploying = spans[2];
    assert.equal(deploying.from, '2026-12-07T10:00:05.000Z');
    assert.equal(deploying.to, '2026-12-07T10:00:12.000Z', 'a phase lasts until the next event in another phase');
  });

  it('a running rotation: its current phase lasts until the report is made', () => {
    const running = { ...status, phase: 'VERIFYING' as const, events: status.events.slice(0, 6) };
    const spans = layer(timelineSpec(running, now), 'phases')!.data.values;
    assert.equal(spans.at(-1)!.to, now);
    assert.equal(layer(timelineSpec(running, now), 'rollback_rule'), undefined, 'no rollback yet, no rule');
  });

  it('renders every chart as inline SVG with its marks: bars, line and points, threshold, switch and rollback rules', async () => {
    const html = await buildReport(status, { now: new Date(now), webUi: 'http://localhost:8233/namespaces/default/workflows/rotate-staging-auth-api-secrets' });
    assert.equal((html.match(/<svg\b/g) ?? []).length, 2);
    for (const name of ['phases', 'measurements', 'measurement_points', 'baseline', 'threshold_rule', 'switch_rule', 'rollback_rule']) {
      assert.ok(marksOf(html, name) > 0, `${name} drawn`);
    }
    assert.match(html, /ROLLED_BACK<\/strong> \(stage staging\): rolled back: the verify check failed in staging/);
    assert.match(html, /3 of 3 measurement\(s\) shown/);
    assert.match(html, /<td>CronJob<\/td><td>staging<\/td><td>nightly-report<\/td>/);
  });

  it('loads nothing: no script, and no http(s) src or href but the Web UI link', async () => {
    const webUi = 'http://localhost:8233/namespaces/default/workflows/rotate-staging-auth-api-secrets';
    const html = await buildReport(rolledBackStatus({ hostile: true }), { webUi });
    assert.doesNotMatch(html, /<script\b/i);
    // Attributes of the page's tags (escaped text has no tag in it), SVG's xlink:href included.
    const tags = html.match(/<[a-z][^>]*>/gi) ?? [];
    const links = tags.flatMap((tag) => [...tag.matchAll(/\s(?:[\w-]+:)?(?:src|href)\s*=\s*["']?([^"'\s>]+)/gi)].map((m) => m[1]));
    assert.deepEqual(links, [webUi]);
    assert.doesNotMatch(html, /@import|url\(/i, 'no stylesheet or font fetched by CSS');
    assert.match(html, /Content-Security-Policy" content="default-src 'none'/);
  });

  it("escapes every word it shows: an event's, a holder's or an approval's markup stays text", async () => {
    const html = await buildReport(rolledBackStatus({ hostile: true }));
    assert.ok(!html.includes(HOSTILE));
    assert.ok(html.includes(escapeHtml(HOSTILE)));
    assert.doesNotMatch(html, /<img\b/i);
    assert.equal(escapeHtml(`a<b>&"'`), 'a&lt;b&gt;&amp;&quot;&#39;');
  });

  it('holds no secret value: not raw, not base64', async () => {
    // The status never carries one; the report adds nothing else: a value slipped into it would show.
    const html = await buildReport(rolledBackStatus());
    for (const form of [KNOWN_SECRET, Buffer.from(KNOWN_SECRET).toString('base64')]) assert.ok(!html.includes(form));
    const leaky = { ...rolledBackStatus(), outcome: `failed: ${KNOWN_SECRET}` };
    assert.ok(reportHtml({ status: leaky, svgs: {}, generatedAt: now }).includes(KNOWN_SECRET), 'the check above could fail');
  });

  it('says when no check has ended and when older events are no longer kept', () => {
    const fresh = blankStatus({
      workflowId: 'rotate-staging-x',
      secret: 'x',
      phase: 'CREATING',
      stage: null,
      stages: ['staging'],
      progress: { step: 2, total: 5, key: 'CREATING' },
      planIssues: [],
      startedAt: now,
    });
    const html = reportHtml({
      status: { ...fresh, eventCount: 70, events: [{ at: now, phase: 'CREATING', stage: null, message: 'creating' }] },
      svgs: {},
      generatedAt: now,
    });
    assert.match(html, /No check has ended yet/);
    assert.match(html, /keeps its last 1 of 70 events/);
  });
});
