// What each CLI command loads: only what it needs, so `rotor --help` starts at once (its time is in
// bench/cli-start.bench.ts). Each case runs bin/rotor.js in a child process with a preload that records
// every module file it loaded (test/helpers/module-trace.ts) and names the packages it must not reach:
// no SDK at all for help, no Kubernetes client or AWS SDK for `status`, no Temporal client for `versions`.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { repoRoot } from './helpers/tools';
import { rotorBin, runNode, type CliResult } from './helpers/cli';

const dir = mkdtempSync(join(tmpdir(), 'rotor-cli-modules-'));
const tracer = join(repoRoot, 'dist', 'test', 'helpers', 'module-trace.js');
// Nothing here may reach a server: a Temporal address and a cluster nobody listens on.
const kubeconfig = join(dir, 'kubeconfig.yaml');
writeFileSync(
  kubeconfig,
  'apiVersion: v1\nclusters: [{ name: c, cluster: { server: "https://127.0.0.1:1" } }]\nusers: [{ name: u, user: { token: t } }]\n' +
    'contexts: [{ name: dev, context: { cluster: c, user: u } }]\ncurrent-context: dev\n',
);
const env = { TEMPORAL_ADDRESS: '127.0.0.1:1', KUBECONFIG: kubeconfig, HOME: dir };

/** The SDKs and the chart renderer: what a command that does not talk to their service must not load. */
const KUBERNETES = '@kubernetes/client-node';
const AWS = '@aws-sdk/*';
const TEMPORAL_CLIENT = '@temporalio/client';
const TEMPORAL_WORKER = '@temporalio/worker';
const CHARTS = ['vega', 'vega-lite'];
/** What a command's help, or anything that only prints, needs none of: no SDK, no chart, no plan schema. */
const PRINTING_ONLY = [KUBERNETES, AWS, '@temporalio/*', ...CHARTS, 'zod'];

interface Traced extends CliResult {
  /** Every package a module was loaded from, by name (@scope/name). */
  packages: Set<string>;
}

/** The package a module file belongs to, from its innermost node_modules; null for rotor's own files and Node's. */
function packageOf(file: string): string | null {
  const m = /.*\/node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(file);
  return m ? m[1] : null;
}

let runs = 0;
/** `node <args>` with the tracer preloaded, in the repository, with `env`; resolves when it exits. */
async function traced(args: string[], extraEnv: NodeJS.ProcessEnv = {}): Promise<Traced> {
  const trace = join(dir, `trace-${++runs}.txt`);
  writeFileSync(trace, '');
  const run = await runNode(['--require', tracer, ...args], { ...env, ...extraEnv, ROTOR_MODULE_TRACE: trace }, `node ${args.join(' ')}`);
  const files = readFileSync(trace, 'utf8').split('\n').filter(Boolean);
  return { ...run, packages: new Set(files.map(packageOf).filter((p): p is string => p !== null)) };
}

const rotor = (args: string[], extraEnv: NodeJS.ProcessEnv = {}) => traced([rotorBin, ...args], extraEnv);

/** Those of `names` (a package, or `@scope/*` for any of a scope) that were loaded. */
function loaded(run: Traced, names: string[]): string[] {
  return names.filter((name) => (name.endsWith('/*') ? [...run.packages].some((p) => p.startsWith(name.slice(0, -1))) : run.packages.has(name)));
}

describe('what each rotor command loads', () => {
  it('the trace sees CommonJS packages, an ES module package required from CommonJS, and one loaded by import()', async () => {
    const run = await traced(['-e', "require('yaml'); require('@kubernetes/client-node'); import('vega').then(() => process.exit(0))"]);
    assert.equal(run.code, 0, run.stderr);
    assert.deepEqual(loaded(run, ['yaml', KUBERNETES, 'vega', AWS, TEMPORAL_CLIENT]), ['yaml', KUBERNETES, 'vega']);
  });

  it('help, for the program and each command, and completion load no SDK, no chart renderer and no plan schema', async () => {
    for (const args of [
      ['--help'],
      ['status', '--help'],
      ['versions', '--help'],
      ['plan', '--help'],
      ['schedule', 'create', '--help'],
      ['completion', 'bash'],
    ]) {
      const run = await rotor(args);
      assert.equal(run.code, 0, `rotor ${args.join(' ')}: ${run.stderr}`);
      assert.match(run.stdout, /rotor/);
      assert.deepEqual(loaded(run, PRINTING_ONLY), [], `rotor ${args.join(' ')} loaded them`);
    }
  });

  it('a usage error and the version load nothing either', async () => {
    for (const args of [['stauts'], ['status'], ['--version']]) {
      const run = await rotor(args);
      assert.deepEqual(loaded(run, PRINTING_ONLY), [], `rotor ${args.join(' ')} loaded them`);
    }
  });

  it('status, list and version load the Temporal client, and no Kubernetes client, AWS SDK or plan schema', async () => {
    for (const args of [['status', 'rotate-staging-auth-api-secrets'], ['list'], ['version']]) {
      const run = await rotor(args);
      if (args[0] === 'version') assert.match(run.stdout, /unreachable/, run.stderr);
      else assert.match(run.stderr, /^rotor: cannot reach the Temporal server at 127\.0\.0\.1:1 /, `rotor ${args.join(' ')}`);
      assert.deepEqual(loaded(run, [TEMPORAL_CLIENT]), [TEMPORAL_CLIENT], `rotor ${args.join(' ')} did not get to the client`);
      assert.deepEqual(loaded(run, [KUBERNETES, AWS, TEMPORAL_WORKER, ...CHARTS, 'zod']), [], `rotor ${args.join(' ')} loaded them`);
    }
  });

  it('versions loads the Kubernetes client, and no Temporal client or AWS SDK (no version there names a store)', async () => {
    const run = await rotor(['versions', 'auth-api-secrets']);
    assert.equal(run.code, 1);
    assert.match(run.stderr, /127\.0\.0\.1:1/);
    assert.deepEqual(loaded(run, [KUBERNETES]), [KUBERNETES]);
    assert.deepEqual(loaded(run, [TEMPORAL_CLIENT, TEMPORAL_WORKER, AWS, ...CHARTS]), []);
  });

  it('plan loads the Kubernetes client and no Temporal client; rbac and schema load no SDK', async () => {
    const plan = await rotor(['plan', '-f', 'examples/plan.yaml']);
    assert.equal(plan.code, 1, plan.stdout);
    assert.deepEqual(loaded(plan, [KUBERNETES]), [KUBERNETES]);
    assert.deepEqual(loaded(plan, [TEMPORAL_CLIENT, TEMPORAL_WORKER, ...CHARTS]), []);
    for (const args of [['rbac', '-f', 'examples/plan.yaml', '--admission'], ['schema']]) {
      const run = await rotor(args);
      assert.equal(run.code, 0, run.stderr);
      assert.deepEqual(loaded(run, [KUBERNETES, AWS, '@temporalio/*', ...CHARTS]), [], `rotor ${args.join(' ')} loaded them`);
    }
  });
});
