// The CLI as a user of kubectl or git expects it, without a server: help per command, unknown
// commands and flags refused with a suggestion and exit code 2, required options named.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from '../sandbox/tools';
import { rotor } from './helpers/cli';

// Nothing here may reach a server: an address nobody listens on.
const env = { TEMPORAL_ADDRESS: '127.0.0.1:1' };

describe('rotor CLI', () => {
  it('prints help for the program and for each command, with the exit codes', async () => {
    const top = await rotor(['--help'], env);
    assert.equal(top.code, 0, top.stderr);
    for (const command of ['start', 'status', 'approve', 'abort', 'rollback', 'list', 'versions', 'worker'])
      assert.match(top.stdout, new RegExp(`^  ${command}\\b`, 'm'));
    for (const command of ['start', 'status', 'abort', 'versions']) {
      const help = await rotor([command, '--help'], env);
      assert.equal(help.code, 0, `${command}: ${help.stderr}`);
      assert.match(help.stdout, new RegExp(`^Usage: rotor ${command} `, 'm'));
      assert.match(help.stdout, /^  3 {2}with --watch or rollback: the rotation ended ROLLED_BACK$/m);
    }
    assert.match((await rotor(['start', '--help'], env)).stdout, /-f, --file <plan\.yaml>/);
    assert.match((await rotor(['abort', '--help'], env)).stdout, /--reason <text>/);
    const viaHelp = await rotor(['help', 'status'], env);
    assert.equal(viaHelp.code, 0);
    assert.match(viaHelp.stdout, /--events <n>/);
  });

  it('prints its version', async () => {
    const { version } = JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as { version: string };
    for (const flag of ['--version', '-V']) {
      const r = await rotor([flag], env);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout.trim(), version);
    }
  });

  it('refuses an unknown flag or command with a suggestion and exit code 2, before contacting anything', async () => {
    const flag = await rotor(['start', '-f', 'plan.yaml', '--wtch'], env);
    assert.equal(flag.code, 2);
    assert.match(flag.stderr, /^rotor: unknown option '--wtch'\n\(Did you mean --watch\?\)/);
    const command = await rotor(['stauts', 'rotate-x'], env);
    assert.equal(command.code, 2);
    assert.match(command.stderr, /unknown command 'stauts'\n\(Did you mean status\?\)/);
    const extra = await rotor(['list', 'production'], env);
    assert.equal(extra.code, 2);
    assert.match(extra.stderr, /too many arguments for 'list'\. Expected 0 arguments but got 1/);
    const none = await rotor([], env);
    assert.equal(none.code, 2);
    assert.match(none.stderr, /^Usage: rotor /m);
  });

  it('names a missing required option or argument, and refuses a bad value', async () => {
    const noPlan = await rotor(['start'], env);
    assert.equal(noPlan.code, 2);
    assert.match(noPlan.stderr, /required option '-f, --file <plan\.yaml>' not specified/);
    const noReason = await rotor(['abort', 'rotate-staging-x'], env);
    assert.equal(noReason.code, 2);
    assert.match(noReason.stderr, /required option '--reason <text>' not specified/);
    const noId = await rotor(['status'], env);
    assert.equal(noId.code, 2);
    assert.match(noId.stderr, /missing required argument 'id'/);
    const interval = await rotor(['status', 'rotate-x', '--watch', '--interval', 'soon'], env);
    assert.equal(interval.code, 2);
    assert.match(interval.stderr, /option '--interval <seconds>' argument 'soon' is invalid\. a number of seconds above 0/);
  });

  it('stops a worker with bad settings at start, naming every one, before connecting', async () => {
    const worker = await rotor(['worker'], { TEMPORAL_ADDRESS: 'temporal', ROTOR_BACKEND: 'kubernetse', ROTOR_VALUE_DIR: '/nonexistent/values' });
    assert.equal(worker.code, 1);
    assert.match(worker.stderr, /the worker cannot start; fix these 3 settings:/);
    assert.match(worker.stderr, /TEMPORAL_ADDRESS=temporal is not host:port/);
    assert.match(worker.stderr, /ROTOR_BACKEND=kubernetse is not a backend; use "kubernetes"/);
    assert.match(worker.stderr, /ROTOR_VALUE_DIR=\/nonexistent\/values cannot be used \(ENOENT\)/);
  });

  it('reports an invalid plan file with exit code 2, before contacting anything', async () => {
    const missing = await rotor(['start', '-f', '/nonexistent/plan.yaml'], env);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /cannot read plan file \/nonexistent\/plan\.yaml \(ENOENT\)/);
  });
});
