// A `rotor report` page as an operator opens it: written to test-artifacts/, opened from the file in
// Debian's chromium (headless, puppeteer-core), its charts checked as drawn (the SVG marks of the
// phases, the measurements, the baseline, the threshold, the switch and rollback rules, each with a
// size on the page), nothing asked of the network, and screenshotted to test-artifacts/report-rolled-back.png.
// The demo's act c report is opened the same way in e2e-demo.test.ts.
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, it } from 'node:test';
import { buildReport } from '../client/report-render';
import { repoRoot } from '../sandbox/tools';
import { openInChromium } from './helpers/report-browser';
import { HOSTILE, rolledBackStatus } from './helpers/report-status';

describe('rotor report in chromium', () => {
  it('draws the timeline and the check chart, with the threshold, switch and rollback rules, from the file alone', async () => {
    const html = await buildReport(rolledBackStatus({ hostile: true }), { webUi: 'http://localhost:8233/namespaces/default/workflows/x' });
    const dir = join(repoRoot, 'test-artifacts');
    mkdirSync(dir, { recursive: true });
    const file = join(dir, 'report-rolled-back.html');
    writeFileSync(file, html);
    const page = await openInChromium(file, 'report-rolled-back', [
      'phases',
      'measurements',
      'measurement_points',
      'baseline',
      'threshold_rule',
      'switch_rule',
      'rollback_rule',
    ]);
    for (const [name, m] of Object.entries(page.marks)) assert.ok(m.sized > 0, `${name}: ${m.shapes} shape(s), ${m.sized} with a size`);
    assert.equal(page.svgs, 2);
    // The hostile words are text on the page, never an element, and nothing is fetched.
    assert.equal(page.scriptsOrImages, 0);
    assert.ok(page.text.includes(HOSTILE), 'the markup shows as text');
    assert.deepEqual(page.requests, [pathToFileURL(file).href], 'the page asked for nothing but itself');
  });
});
