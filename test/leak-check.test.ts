// The leak check itself (scripts/leak-check.mjs) can fail: a value planted in a history as base64 at
// any alignment, as hex or raw, or in a log, is found and named without being shown; a clean run passes.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { repoRoot } from './helpers/tools';

const VALUE = 'rotor-leak-canary-Xq93kLm2';

function check(files: Record<string, string>): { code: number; out: string } {
  const dir = mkdtempSync(join(tmpdir(), 'rotor-leak-'));
  writeFileSync(join(dir, 'values-1.json'), JSON.stringify([VALUE, 'short']));
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  const run = spawnSync(process.execPath, [join(repoRoot, 'scripts', 'leak-check.mjs'), dir], { encoding: 'utf8' });
  return { code: run.status ?? -1, out: `${run.stdout}${run.stderr}` };
}

/** A payload as a history holds it: the JSON of the value, base64, after `pad` other bytes. */
const payload = (pad: number) => Buffer.from(`${'x'.repeat(pad)}{"api_token":"${VALUE}"}`).toString('base64');

describe('leak check', () => {
  for (const pad of [0, 1, 2, 3]) {
    it(`finds a value inside a base64 payload (${pad} bytes before it)`, () => {
      const { code, out } = check({ 'history-1.json': JSON.stringify({ events: [{ payloads: [{ data: payload(pad) }] }] }) });
      assert.equal(code, 1, out);
      assert.match(out, /history-1\.json: roto\.\.\. \(26 characters\) as base64/);
      assert.ok(!out.includes(VALUE), 'the report never shows the value');
    });
  }

  it('finds a value as hex or raw in a log', () => {
    assert.match(check({ 'text-1.log': `token ${Buffer.from(VALUE).toString('hex')}` }).out, /text-1\.log: .* as hex/);
    assert.match(check({ 'text-2.log': `error: bad token ${VALUE}` }).out, /text-2\.log: .* as raw/);
  });

  it('finds a value in an error a test provoked (assert.rejects or assert.throws, causes included), through the preloaded recorder', () => {
    const dir = mkdtempSync(join(tmpdir(), 'rotor-leak-errors-'));
    const helpers = join(repoRoot, 'dist', 'test', 'helpers');
    const script = [
      "const assert = require('node:assert/strict');",
      `require(${JSON.stringify(join(helpers, 'leak-evidence.js'))}).recordValues([${JSON.stringify(VALUE)}, 'rotor-leak-canary-cause-Pw47']);`,
      `assert.rejects(Promise.reject(new Error('refused token ' + ${JSON.stringify(VALUE)})), /refused/).then(() =>`,
      "  assert.throws(() => { throw new Error('outer', { cause: new Error('inner rotor-leak-canary-cause-Pw47') }); }, /outer/));",
    ].join('\n');
    const run = spawnSync(process.execPath, ['--require', join(helpers, 'record-errors.js'), '-e', script], {
      encoding: 'utf8',
      env: { ...process.env, ROTOR_LEAK_DIR: dir },
    });
    assert.equal(run.status, 0, run.stderr);
    const found = spawnSync(process.execPath, [join(repoRoot, 'scripts', 'leak-check.mjs'), dir], { encoding: 'utf8' });
    const out = `${found.stdout}${found.stderr}`;
    assert.equal(found.status, 1, out);
    assert.match(out, /text-\d+\.log: roto\.\.\. \(26 characters\) as raw/);
    assert.match(out, /text-\d+\.log: roto\.\.\. \(28 characters\) as raw/, 'the cause of an error is evidence too');
  });

  it('passes evidence without the values, and ignores values too short to mean anything', () => {
    const { code, out } = check({ 'history-1.json': '{"events":[{"data":"c2hvcnQ="}]}', 'text-1.log': 'short and clean' });
    assert.equal(code, 0, out);
    assert.match(out, /1 secret value\(s\) searched in 2 histories and logs: none found/);
  });
});
