// The import rules of eslint.config.mjs catch what they are for: each case is a line that breaks a
// layer's rule, linted as if it were in that layer, and one that keeps it. And one concern a file:
// no file of activities/ or sandbox/ grows past 350 lines without saying why at its top. And no
// unused exports: knip.jsonc, run over a small tree, fails on an export nothing imports.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { describe, it } from 'node:test';
import { ESLint } from 'eslint';
import { repoRoot } from '../sandbox/tools';

const eslint = new ESLint({ cwd: repoRoot });

async function restricted(file: string, code: string): Promise<string[]> {
  const [result] = await eslint.lintText(`${code}\nexport const x = 1;\n`, { filePath: join(repoRoot, file) });
  return result.messages.filter((m) => m.ruleId === 'no-restricted-imports').map((m) => m.message);
}

describe('import rules', () => {
  const cases: [string, string, RegExp | null][] = [
    ['domain/x.ts', "import { readFileSync } from 'node:fs';", /no Node APIs here/],
    ['domain/x.ts', "import { join } from 'path';", /no Node APIs here/],
    ['domain/x.ts', "import { proxyActivities } from '@temporalio/workflow';", /knows nothing of Temporal/],
    ['domain/x.ts', "import type { RotationStatus } from '../contract/api';", /imports only the domain/],
    ['domain/x.ts', "import { parse } from 'yaml';", /uses no packages/],
    ['domain/x.ts', "import { parseDuration } from './duration';", null],
    ['contract/x.ts', "import type { KubernetesCluster } from '../activities/kubernetes';", /contract imports only the domain/],
    ['contract/x.ts', "import { Client } from '@temporalio/client';", /only @temporalio\/workflow/],
    ['contract/x.ts', "import { defineSignal } from '@temporalio/workflow';", null],
    ['workflows/x.ts', "import type { MemoryCluster } from '../activities/memory';", /bundle must stay free of adapters/],
    ['workflows/x.ts', "import { createHash } from 'node:crypto';", /no Node APIs here/],
    ['workflows/x.ts', "import * as k8s from '@kubernetes/client-node';", /never talks to a cluster/],
    ['workflows/x.ts', "import { Context } from '@temporalio/activity';", /@temporalio\/workflow only/],
    ['workflows/x.ts', "import type { RotorActivities } from '../contract/activities';", null],
    ['activities/x.ts', "import { startSandbox } from '../sandbox';", /product code never imports it/],
    ['client/x.ts', "import { Doubles } from '../test/helpers/doubles';", /for tests only/],
    ['activities/kubernetes/x.ts', "import { twoStagePlan } from '../../test/helpers/plans';", /for tests only/],
    ['bench/x.ts', "import { Doubles } from '../test/helpers/doubles';", /for tests only/],
    ['bench/x.ts', "import { timeSkippingEnv } from '../sandbox/time-skipping';", null],
  ];
  for (const [file, code, expected] of cases) {
    it(`${file}: ${code}`, async () => {
      const messages = await restricted(file, code);
      if (expected)
        assert.ok(
          messages.some((m) => expected.test(m)),
          `expected ${expected}, got ${JSON.stringify(messages)}`,
        );
      else assert.deepEqual(messages, []);
    });
  }
});

describe('one concern a file', () => {
  const LIMIT = 350;
  const tsFiles = (dir: string): string[] =>
    readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
      e.isDirectory() ? tsFiles(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : [],
    );

  it(`keeps each file of activities/ and sandbox/ within ${LIMIT} lines, or its first line says why not`, () => {
    const long = ['activities', 'sandbox'].flatMap((dir) =>
      tsFiles(join(repoRoot, dir)).flatMap((file) => {
        const text = readFileSync(file, 'utf8');
        const lines = text.split('\n').length - (text.endsWith('\n') ? 1 : 0);
        return lines > LIMIT && !/^\/\/ Over \d+ lines: \S/.test(text) ? [`${relative(repoRoot, file)} (${lines} lines)`] : [];
      }),
    );
    assert.deepEqual(long, [], `split these by concern, or give the reason in a first line "// Over ${LIMIT} lines: ..."`);
  });
});

describe('no unused exports', () => {
  /** knip, with the repository's knip.jsonc, over a tree of the given files: its exit code and report. */
  function knip(files: Record<string, string>): { status: number | null; report: string } {
    const root = mkdtempSync(join(tmpdir(), 'rotor-knip-'));
    try {
      writeFileSync(join(root, 'package.json'), '{ "name": "fixture", "private": true }\n');
      copyFileSync(join(repoRoot, 'knip.jsonc'), join(root, 'knip.jsonc'));
      for (const [file, text] of Object.entries(files)) {
        mkdirSync(dirname(join(root, file)), { recursive: true });
        writeFileSync(join(root, file), text);
      }
      const run = spawnSync(process.execPath, [join(repoRoot, 'node_modules', 'knip', 'bin', 'knip.js')], { cwd: root, encoding: 'utf8' });
      return { status: run.status, report: run.stdout };
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  }
  const cli = "import { used } from '../domain/a';\nconsole.log(used);\n";
  const domain = 'export const used = 1;\nexport const unused = 2;\n';

  it('runs in npm run lint', () => {
    const pkg = JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as { scripts: Record<string, string> };
    assert.match(pkg.scripts.lint, /&& knip$/);
  });

  it('fails on an export no module imports, and names it', () => {
    const { status, report } = knip({ 'client/cli.ts': cli, 'domain/a.ts': domain });
    assert.equal(status, 1, report);
    assert.match(report, /Unused exports \(1\)\n\s*unused\s+domain\/a\.ts:2:14/);
  });

  it('counts an import by a test as a use, and does not check what tests export', () => {
    const test = "import { unused } from '../domain/a';\nexport const helper = unused;\n";
    const { status, report } = knip({ 'client/cli.ts': cli, 'domain/a.ts': domain, 'test/a.test.ts': test });
    assert.equal(status, 0, report);
  });

  it('checks the exports of an entry point too', () => {
    const { status, report } = knip({ 'client/cli.ts': `${cli}export const EXIT = 0;\n`, 'domain/a.ts': 'export const used = 1;\n' });
    assert.equal(status, 1, report);
    assert.match(report, /EXIT\s+client\/cli\.ts:3:14/);
  });

  it('fails on a product module nothing imports', () => {
    const { status, report } = knip({ 'client/cli.ts': cli, 'domain/a.ts': 'export const used = 1;\n', 'activities/orphan.ts': 'export const orphan = 1;\n' });
    assert.equal(status, 1, report);
    assert.match(report, /Unused files \(1\)\n\s*activities\/orphan\.ts/);
  });
});
