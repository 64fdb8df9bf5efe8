// The two test tiers: `npm test` runs what needs only Node and the Temporal binaries, `npm run test:e2e`
// the rest. A file's tier is judged from what it loads (scripts/test-tiers.mjs), through any module.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { describe, it } from 'node:test';
import { repoRoot } from './helpers/tools';

type Tiered = { file: string; tier: 'fast' | 'e2e'; why: string | null };

function tiers(dist: string): Map<string, Tiered> {
  const run = spawnSync(process.execPath, [join(repoRoot, 'scripts', 'test-tiers.mjs'), dist], { encoding: 'utf8' });
  assert.equal(run.status, 0, run.stderr);
  const lines = run.stdout
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as Tiered);
  return new Map(lines.map((t) => [t.file, t]));
}

describe('test tiers', () => {
  it('puts a test in e2e when any module it reaches starts a part the fast tier lacks, however deep', () => {
    const dist = mkdtempSync(join(tmpdir(), 'rotor-tiers-'));
    const write = (rel: string, body: string) => {
      mkdirSync(dirname(join(dist, rel)), { recursive: true });
      writeFileSync(join(dist, rel), body);
    };
    write('sandbox/tools.js', `exports.${'helm'}Binary = () => "helm"; exports.temporalCli = () => "temporal";`);
    write('sandbox/control-plane.js', 'module.exports = {};');
    write('test/helpers/deep.js', 'require("./deeper");');
    write('test/helpers/deeper.js', 'require("../../sandbox/control-plane");');
    write('test/helpers/plain.js', 'const t = require("../../sandbox/tools"); t.temporalCli();');
    write('test/cluster.test.js', 'require("./helpers/deep");');
    // Spelled in two parts, so this file's own text does not read as such a call.
    write('test/helm.test.js', `const t = require("../sandbox/tools"); (0, t.${'helm'}Binary)();`);
    write('test/workflow.test.js', 'require("./helpers/plain"); require("node:assert");');
    write('test/cycle.test.js', 'require("./helpers/a");');
    write('test/helpers/a.js', 'require("./b");');
    write('test/helpers/b.js', 'require("./a");');
    const t = tiers(dist);
    assert.deepEqual(t.get('test/cluster.test.js'), { file: 'test/cluster.test.js', tier: 'e2e', why: 'sandbox/control-plane.js' });
    assert.deepEqual(t.get('test/helm.test.js'), { file: 'test/helm.test.js', tier: 'e2e', why: 'test/helm.test.js' });
    assert.equal(t.get('test/workflow.test.js')?.tier, 'fast', 'the Temporal binaries are the fast tier’s own');
    assert.equal(t.get('test/cycle.test.js')?.tier, 'fast', 'a require cycle ends');
  });

  it('keeps this repository’s workflow, plan and unit tests fast, and its end-to-end and fault tests e2e', () => {
    const t = tiers(join(repoRoot, 'dist'));
    // e2e-postgres too: the Temporal server on PostgreSQL is the fast tier's (npm test bootstraps it), no control plane.
    for (const file of ['workflow', 'plan', 'plan-schema', 'replay', 'activities', 'cli', 'lint', 'e2e-postgres'])
      assert.equal(t.get(`test/${file}.test.js`)?.tier, 'fast', file);
    const e2e = [...t.values()].filter((x) => /^test\/(e2e|faults)-/.test(x.file) && x.file !== 'test/e2e-postgres.test.js');
    assert.ok(e2e.length >= 10, `${e2e.length} e2e and fault files`);
    for (const x of e2e) assert.equal(x.tier, 'e2e', x.file);
  });
});
