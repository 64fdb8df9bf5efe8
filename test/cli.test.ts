// The CLI as a user of kubectl or git expects it, without a server: help per command, unknown
// commands and flags refused with a suggestion and exit code 2, required options named; messages that
// name the cause and the next step; -o, completion, tables.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { describe, it } from 'node:test';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ApplicationFailure, RetryState, TerminatedFailure } from '@temporalio/common';
import { WorkflowFailedError } from '@temporalio/client';
import { blankStatus, type RotationStatus } from '../contract/api';
import { rotationsTable } from '../client/format';
import { finalStatus } from '../client/rotor-client';
import { age } from '../client/output';
import { repoRoot } from '../sandbox/tools';
import { rotor, rotorBin } from './helpers/cli';

// Nothing here may reach a server: an address nobody listens on.
const env = { TEMPORAL_ADDRESS: '127.0.0.1:1' };

describe('rotor CLI', () => {
  it('prints help for the program and for each command, with the exit codes', async () => {
    const top = await rotor(['--help'], env);
    assert.equal(top.code, 0, top.stderr);
    for (const command of ['start', 'status', 'approve', 'abort', 'rollback', 'list', 'schedule', 'versions', 'version', 'worker', 'completion'])
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

  it('rotor schedule: names the flag at fault and its fix with exit code 2, and reads the plan before contacting the server', async () => {
    const file = join(repoRoot, 'examples', 'plan.yaml');
    const create = (...flags: string[]) => rotor(['schedule', 'create', '-f', file, ...flags], env);
    const cases: [string[], RegExp][] = [
      [[], /^rotor: rotor schedule create needs when to rotate: --every <duration> \(e\.g\. --every 90d\) or --cron "<five fields>"/],
      [['--every', '90'], /option '--every <duration>' argument '90' is invalid\. cannot parse; write a duration such as 30s/],
      [['--every', '1500ms'], /option '--every <duration>' argument '1500ms' is invalid\. must be a whole number of seconds, at least 1s/],
      [['--every', '1d', '--cron', '0 3 * * 1'], /option '--every <duration>' cannot be used with option '--cron <expression>'/],
      [['--every', '1d', '--timezone', 'UTC'], /--timezone is the zone --cron is read in; --every needs none: drop --timezone, or use --cron/],
      [['--cron', '0 3 * *'], /option '--cron <expression>' argument '0 3 \* \*' is invalid\. is not a cron schedule of five fields/],
      [['--cron', '0 3 L * *'], /no L, W, # or \?/],
      [
        ['--cron', '0 3 * * 1', '--timezone', 'Europe/Berln'],
        /option '--timezone <zone>' argument 'Europe\/Berln' is invalid\. is not a time zone this runtime knows; use an IANA name/,
      ],
    ];
    for (const [flags, message] of cases) {
      const r = await create(...flags);
      assert.equal(r.code, 2, `${flags.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, message, flags.join(' '));
    }
    const badPlan = await rotor(['schedule', 'create', '-f', '/nonexistent/plan.yaml', '--every', '90d'], env);
    assert.equal(badPlan.code, 2);
    assert.match(badPlan.stderr, /cannot read plan file \/nonexistent\/plan\.yaml/);
    // A good plan and good flags: only now is the server asked (and here, none answers).
    const good = await create('--cron', '0 3 * * MON', '--timezone', 'Europe/Berlin');
    assert.equal(good.code, 1);
    assert.match(good.stderr, /cannot reach the Temporal server at 127\.0\.0\.1:1/);
    const alone = await rotor(['schedule'], env);
    assert.equal(alone.code, 2);
    assert.match(alone.stderr, /^Usage: rotor schedule \[options\] \[command\]/);
    const noId = await rotor(['schedule', 'pause'], env);
    assert.equal(noId.code, 2);
    assert.match(noId.stderr, /missing required argument 'id'/);
    for (const sub of ['create', 'list', 'pause', 'unpause', 'delete', 'trigger']) {
      const help = await rotor(['schedule', sub, '--help'], env);
      assert.equal(help.code, 0, `${sub}: ${help.stderr}`);
      assert.match(help.stdout, new RegExp(`^Usage: rotor schedule ${sub} `, 'm'));
      assert.match(help.stdout, /^Exit codes:$/m, sub);
    }
  });

  it('takes -o json|yaml|wide and its alias --json, and refuses another format or both at once', async () => {
    const xml = await rotor(['list', '-o', 'xml'], env);
    assert.equal(xml.code, 2);
    assert.match(xml.stderr, /option '-o, --output <format>' argument 'xml' is invalid\. Allowed choices are json, yaml, wide/);
    const both = await rotor(['status', 'rotate-x', '--json', '-o', 'yaml'], env);
    assert.equal(both.code, 2);
    assert.match(both.stderr, /option '--json' cannot be used with option '-o, --output <format>'/);
    for (const command of ['status', 'list', 'versions', 'version']) {
      const help = await rotor([command, '--help'], env);
      assert.match(help.stdout, /-o, --output <format>\s+the output format; wide: /, command);
      assert.match(help.stdout, /--json\s+the same as -o json/, command);
    }
    assert.match((await rotor(['status', '--help'], env)).stdout, /-w, --watch/);
    assert.match((await rotor(['start', '--help'], env)).stdout, /-w, --watch/);
  });
});

describe('rotor CLI: every failure says its cause and the next step', () => {
  const dir = mkdtempSync(join(tmpdir(), 'rotor-cli-'));
  const home = join(dir, 'home');
  mkdirSync(home);
  // KUBECONFIG '' is unset for the client library and for rotor; HOME has no .kube/config.
  const noKube = { ...env, HOME: home, KUBECONFIG: '' };

  it('says why the kubeconfig cannot be used: missing, pointing nowhere, unreadable, malformed, not a kubeconfig, unknown context', async () => {
    const missing = await rotor(['versions', 'auth-api-secrets'], noKube);
    assert.equal(missing.code, 1, missing.stderr);
    assert.equal(
      missing.stderr,
      `rotor: no kubeconfig: KUBECONFIG is not set, ${home}/.kube/config does not exist, and this is not a pod with a ServiceAccount; set KUBECONFIG=<file> or pass --kubeconfig <file> (the file kubectl uses)\n`,
    );

    const nowhere = await rotor(['versions', 'auth-api-secrets'], { ...noKube, KUBECONFIG: '/nonexistent' });
    assert.equal(nowhere.code, 1);
    assert.match(
      nowhere.stderr,
      /^rotor: the kubeconfig \/nonexistent \(from KUBECONFIG\) does not exist; set KUBECONFIG to your kubeconfig file, or unset it/,
    );
    const flag = await rotor(['versions', 'auth-api-secrets', '--kubeconfig', join(dir, 'nope.yaml')], noKube);
    assert.match(flag.stderr, /^rotor: the kubeconfig \S+nope\.yaml \(from --kubeconfig\) does not exist; pass the path of a kubeconfig file\n$/);

    // A directory cannot be read as a file, even by root (whom a chmod 000 does not stop).
    const unreadable = await rotor(['versions', 'x'], { ...noKube, KUBECONFIG: dir });
    assert.equal(unreadable.code, 1);
    assert.match(unreadable.stderr, /^rotor: the kubeconfig \S+ \(from KUBECONFIG\) is a directory, not a file; set KUBECONFIG to your kubeconfig file/);
    if (process.getuid?.() !== 0) {
      const locked = join(dir, 'locked.yaml');
      writeFileSync(locked, 'clusters: []\n');
      chmodSync(locked, 0);
      assert.match(
        (await rotor(['versions', 'x', '--kubeconfig', locked], noKube)).stderr,
        /cannot read the kubeconfig \S+locked\.yaml \(from --kubeconfig\): EACCES/,
      );
    }

    const broken = join(dir, 'broken.yaml');
    writeFileSync(broken, 'apiVersion: v1\nclusters: [ {\n');
    const malformed = await rotor(['versions', 'x'], { ...noKube, KUBECONFIG: broken });
    assert.equal(malformed.code, 1);
    assert.match(
      malformed.stderr,
      /^rotor: the kubeconfig \S+broken\.yaml \(from KUBECONFIG\) is not valid YAML: .* at line 3, column 1; fix it, or point KUBECONFIG at another kubeconfig\n$/,
    );

    const other = join(dir, 'other.yaml');
    writeFileSync(other, 'apiVersion: v1\nkind: ConfigMap\n');
    assert.match((await rotor(['versions', 'x'], { ...noKube, KUBECONFIG: other })).stderr, /is not a kubeconfig: it has no clusters/);

    const kubeconfig = join(dir, 'kubeconfig.yaml');
    writeFileSync(
      kubeconfig,
      'apiVersion: v1\nclusters: [{ name: c, cluster: { server: "https://127.0.0.1:1" } }]\nusers: [{ name: u, user: { token: t } }]\n' +
        'contexts: [{ name: dev, context: { cluster: c, user: u } }, { name: prod, context: { cluster: c, user: u } }]\n',
    );
    const noCurrent = await rotor(['versions', 'x', '--kubeconfig', kubeconfig], noKube);
    assert.match(noCurrent.stderr, /sets no current-context; pass --context <name> \(its contexts: dev, prod\)/);
    const unknown = await rotor(['versions', 'x', '--kubeconfig', kubeconfig, '--context', 'staging'], noKube);
    assert.match(unknown.stderr, /^rotor: context staging is not in \S+kubeconfig\.yaml \(from --kubeconfig\); its contexts: dev, prod/);

    // The worker reads the same kubeconfig the same way, before it connects to anything.
    const worker = await rotor(['worker', '--kubeconfig', '/nonexistent'], { ...noKube, ROTOR_BACKEND: 'kubernetes' });
    assert.equal(worker.code, 1);
    assert.match(worker.stderr, /^rotor: the kubeconfig \/nonexistent \(from --kubeconfig\) does not exist/);
    assert.doesNotMatch(`${missing.stderr}${malformed.stderr}${worker.stderr}`, /ENOENT|HTTP protocol|skipTLSVerify|\n {4}at /);
  });

  it('says the Temporal server is unreachable, for client commands and rotor worker, with no transport dump', async () => {
    const hint = /\nStart a local one with `npm run dev-server` in rotor's clone .*, or set TEMPORAL_ADDRESS to your server's host:port\.\n$/;
    const list = await rotor(['list'], env);
    assert.equal(list.code, 1);
    assert.match(list.stderr, /^rotor: cannot reach the Temporal server at 127\.0\.0\.1:1 \(/);
    assert.match(list.stderr, hint);
    const worker = await rotor(['worker'], { ...env, ROTOR_BACKEND: 'memory', ROTOR_MEMORY_WORLD: join(repoRoot, 'examples', 'world.json') });
    assert.equal(worker.code, 1);
    assert.match(worker.stderr, /^rotor: cannot reach the Temporal server at 127\.0\.0\.1:1 \(Connection refused\)\.\n/);
    assert.match(worker.stderr, hint);
    assert.doesNotMatch(worker.stderr, /tonic|ConnectError|\n {4}at /);
    assert.doesNotMatch(list.stderr, /temporal server start-dev/);
  });

  it('prints the full error, stack and causes, only with --debug', async () => {
    const args = ['worker', '--debug'];
    const worldEnv = { ...env, ROTOR_BACKEND: 'memory', ROTOR_MEMORY_WORLD: join(repoRoot, 'examples', 'world.json') };
    const debug = await rotor(args, worldEnv);
    assert.equal(debug.code, 1);
    assert.match(debug.stderr, /^rotor: cannot reach the Temporal server/);
    assert.match(debug.stderr, /\nTemporalUnreachableError: cannot reach[\s\S]*\n {4}at [\s\S]*\ncaused by: TransportError: tonic::transport::Error/);
    // After the command works too (a program option), and for an error that is not rotor's own.
    const late = await rotor(['start', '-f', '/nonexistent/plan.yaml', '--debug'], env);
    assert.equal(late.code, 2);
    assert.match(late.stderr, /\nPlanFileError: cannot read plan file[\s\S]*\n {4}at /);
  });

  it('refuses a file that is not a plan in one short line naming it', async () => {
    const readme = await rotor(['start', '-f', 'README.md'], env);
    assert.equal(readme.code, 2);
    assert.equal(readme.stderr.split('\n').filter(Boolean).length, 1, readme.stderr.slice(0, 2000));
    assert.ok(readme.stderr.length < 400, `${readme.stderr.length} characters`);
    assert.match(
      readme.stderr,
      /^rotor: README\.md is not valid YAML: .* at line \d+, column \d+ \(and \d+ more\); nothing was started; a plan is a YAML mapping/,
    );
    const json = await rotor(['start', '-f', 'package.json'], env);
    assert.match(json.stderr, /^rotor: package\.json is not a plan: it has none of secret, value, stages \(its keys: name, version, /);
    const list = join(dir, 'list.yaml');
    writeFileSync(list, '- a\n- b\n');
    assert.match((await rotor(['start', '-f', list], env)).stderr, /is not a plan: it holds a list; nothing was started/);
    const empty = join(dir, 'empty.yaml');
    writeFileSync(empty, '# nothing yet\n');
    assert.match((await rotor(['start', '-f', empty], env)).stderr, /empty\.yaml is not a plan: it is empty/);
  });

  it('stops quietly when the reader of its output goes away (rotor ... | head)', async () => {
    // `true` exits without reading: every write rotor makes meets a closed pipe.
    for (const args of [
      ['start', '--help'],
      ['completion', 'bash'],
    ]) {
      const run = spawnSync('bash', ['-c', `"${process.execPath}" "${rotorBin}" ${args.join(' ')} | true; echo "exit \${PIPESTATUS[0]}" >&2`], {
        encoding: 'utf8',
        env: { ...process.env, ...env },
      });
      assert.equal(run.stderr, 'exit 0\n', args.join(' '));
    }
  });
});

describe('rotor CLI: kubectl habits', () => {
  it('rotor version says the client version and, within its deadline, that the server is unreachable', async () => {
    const { version } = JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as { version: string };
    const began = Date.now();
    const r = await rotor(['version'], env);
    const took = Date.now() - began;
    assert.equal(r.code, 0, r.stderr);
    assert.match(
      r.stdout,
      new RegExp(`^client {3}rotor ${version.replace(/\./g, '\\.')}\nserver {3}unreachable at 127\\.0\\.0\\.1:1 \\(.+\\)\nworkers {2}unknown: `),
    );
    assert.ok(took < 6000, `rotor version took ${took} ms`);
    const json = JSON.parse((await rotor(['version', '-o', 'json'], env)).stdout);
    assert.equal(json.client.version, version);
    assert.equal(json.server.version, null);
    assert.equal(json.workers.pollers, null);
  });

  it("completion scripts name every command and each one's options, and complete in bash and zsh", async () => {
    const help = (await rotor(['--help'], env)).stdout;
    const commands = [...help.slice(help.indexOf('Commands:')).matchAll(/^ {2}([a-z-]+)/gm)].map((m) => m[1]);
    assert.ok(commands.length >= 12 && commands.includes('completion') && commands.includes('version'), commands.join(' '));
    const bash = (await rotor(['completion', 'bash'], env)).stdout;
    const zsh = (await rotor(['completion', 'zsh'], env)).stdout;
    for (const command of commands) {
      assert.match(bash, new RegExp(`^ {4}${command}\\) COMPREPLY`, 'm'), `bash: ${command}`);
      assert.match(zsh, new RegExp(`^ {4}'${command}:`, 'm'), `zsh: ${command}`);
      if (command === 'help') continue;
      const options = [...(await rotor([command, '--help'], env)).stdout.matchAll(/^ {2}(?:(-\w), )?(--[a-z-]+)/gm)];
      const offered = /compgen -W "([^"]*)"/.exec(bash.split('\n').find((l) => l.startsWith(`    ${command}) `))!)![1].split(' ');
      assert.ok(options.length >= 3, `${command}: ${options.length} options`);
      for (const [, short, long] of options) {
        for (const flag of [short, long].filter(Boolean)) assert.ok(offered.includes(flag), `bash ${command}: ${flag}`);
        assert.ok(zsh.includes(long), `zsh ${command}: ${long}`);
      }
    }
    // What bash offers after a Tab, from the script itself.
    const dir = mkdtempSync(join(tmpdir(), 'rotor-completion-'));
    writeFileSync(join(dir, 'rotor.bash'), bash);
    const complete = (words: string[]) =>
      spawnSync(
        'bash',
        ['-c', `source rotor.bash; COMP_WORDS=(${words.map((w) => `'${w}'`).join(' ')}); COMP_CWORD=${words.length - 1}; _rotor; echo "\${COMPREPLY[*]}"`],
        {
          cwd: dir,
          encoding: 'utf8',
        },
      ).stdout.trim();
    assert.equal(complete(['rotor', 'st']), 'start status');
    assert.equal(complete(['rotor', 'list', '-o', '']), 'json yaml wide');
    assert.equal(complete(['rotor', 'list', '--phase', 'ROLL']), 'ROLLING_BACK ROLLED_BACK');
    assert.equal(complete(['rotor', '--debug', 'versions', 'x', '--kube']), '--kubeconfig');
    assert.equal(complete(['rotor', 'completion', 'z']), 'zsh');
    assert.equal(complete(['rotor', 'start', '-f', 'rotor.b']), 'rotor.bash');
    assert.equal(complete(['rotor', 'help', 'versio']), 'versions version');
    // A command of commands: its subcommands, then each one's flags and values.
    assert.equal(complete(['rotor', 'schedule', 'p']), 'pause');
    assert.equal(complete(['rotor', 'schedule', 'create', '--ev']), '--every');
    assert.equal(complete(['rotor', 'schedule', 'create', '-f', 'rotor.b']), 'rotor.bash');
    assert.equal(complete(['rotor', 'schedule', 'list', '-o', '']), 'json yaml wide');
    assert.equal(complete(['rotor', 'schedule', 'pause', 'rotor-x', '--r']), '--reason');

    // zsh, when installed: what the completion system offers after a Tab in an interactive shell.
    if (spawnSync('zsh', ['--version']).status !== 0) return;
    writeFileSync(join(dir, '_rotor'), zsh);
    writeFileSync(join(dir, 'capture.zsh'), ZSH_CAPTURE);
    const zcomplete = async (typed: string) => {
      const proc = spawn('zsh', ['capture.zsh', join(dir, '_rotor'), typed], { cwd: dir });
      let output = '';
      proc.stdout.on('data', (d) => (output += d));
      const timer = setTimeout(() => proc.kill('SIGKILL'), 15_000);
      await new Promise((r) => proc.on('close', r));
      clearTimeout(timer);
      return output.trim().split('\n').sort().join(' ');
    };
    assert.equal(await zcomplete('rotor st'), 'start status');
    assert.equal(await zcomplete('rotor list -o '), 'json wide yaml');
    assert.equal(await zcomplete('rotor completion '), 'bash zsh');
    assert.equal(await zcomplete('rotor status x --w'), '--watch');
    assert.equal(await zcomplete('rotor schedule p'), 'pause');
    assert.equal(await zcomplete('rotor schedule create --ev'), '--every');
    assert.equal(await zcomplete('rotor schedule list -o '), 'json wide yaml');
  });

  it('lists rotations under a header row, with kubectl ages; wide adds when each started and its outcome', () => {
    const now = new Date('2026-01-10T12:00:00Z');
    assert.deepEqual(
      ['2026-01-10T11:59:15Z', '2026-01-10T11:55:00Z', '2026-01-10T09:00:00Z', '2026-01-08T12:00:00Z', null].map((t) => age(t, now)),
      ['45s', '5m', '3h', '2d', '-'],
    );
    const rows = [
      {
        workflowId: 'rotate-staging-billing-secrets',
        runId: 'r2',
        secret: 'billing-secrets',
        phase: 'ROLLED_BACK',
        stage: 'staging',
        status: 'COMPLETED',
        startedAt: '2026-01-10T11:55:00.000Z',
        closedAt: '2026-01-10T11:56:00.000Z',
        summary: 'rolled back: verify check in staging failed',
      },
      {
        workflowId: 'rotate-staging-auth-api-secrets',
        runId: 'r1',
        secret: 'auth-api-secrets',
        phase: 'SOAKING',
        stage: 'staging',
        status: 'RUNNING',
        startedAt: '2026-01-10T09:00:00.000Z',
        closedAt: null,
        summary: null,
      },
    ];
    assert.equal(
      rotationsTable(rows, { now }),
      [
        'ID                               SECRET            PHASE        STAGE    AGE',
        'rotate-staging-billing-secrets   billing-secrets   ROLLED_BACK  staging  5m',
        'rotate-staging-auth-api-secrets  auth-api-secrets  SOAKING      staging  3h',
      ].join('\n'),
    );
    const wide = rotationsTable(rows, { now, wide: true }).split('\n');
    assert.match(wide[0], /^ID +SECRET +PHASE +STAGE +AGE +STARTED +SUMMARY$/);
    assert.match(wide[1], /5m {3}2026-01-10T11:55:00\.000Z {2}rolled back: verify check in staging failed$/);
    assert.match(wide[2], /3h {3}2026-01-10T09:00:00\.000Z {2}-$/);
  });

  it("reads an ended rotation's status alike from a result and from a RotationFailed or RotationRolledBack failure", async () => {
    const ended = (phase: RotationStatus['phase']): RotationStatus => ({
      ...blankStatus({
        workflowId: 'rotate-x',
        secret: 'x',
        phase,
        stage: 'staging',
        stages: ['staging'],
        progress: { step: 4, total: 9, key: phase },
        planIssues: [],
        startedAt: '2026-01-10T11:00:00Z',
      }),
      outcome: `${phase.toLowerCase()}: why`,
    });
    const failedWith = (type: string, status: RotationStatus) =>
      new WorkflowFailedError(
        'Workflow execution failed',
        ApplicationFailure.create({ message: `rotation of x ${status.phase}`, type, nonRetryable: true, details: [status] }),
        RetryState.NON_RETRYABLE_FAILURE,
      );
    const read = (result: () => Promise<unknown>) => finalStatus({ result } as Parameters<typeof finalStatus>[0]);
    assert.deepEqual(await read(async () => ended('COMPLETED')), { status: ended('COMPLETED') });
    assert.deepEqual(await read(() => Promise.reject(failedWith('RotationRolledBack', ended('ROLLED_BACK')))), { status: ended('ROLLED_BACK') });
    assert.deepEqual(await read(() => Promise.reject(failedWith('RotationFailed', ended('FAILED')))), { status: ended('FAILED') });
    // A run someone terminated carries no status: the error, for the caller to say so.
    const terminated = new WorkflowFailedError('Workflow execution terminated', new TerminatedFailure('by hand'), RetryState.NON_RETRYABLE_FAILURE);
    assert.deepEqual(await read(() => Promise.reject(terminated)), { error: terminated });
  });
});

/** Types `typed` and a Tab into an interactive zsh with the completion loaded; prints each candidate offered. */
const ZSH_CAPTURE = `zmodload zsh/zpty
zpty z zsh -f -i
zpty -w z "PS1=''; autoload -U compinit; compinit -u -D; source \${(q)1}"
zpty -w z 'compadd () { local -a hits; builtin compadd -O hits "$@"; (( $#hits )) && print -rl -- "HI""T:"\${^hits}; builtin compadd "$@" }'
zpty -w z "$2"$'\\t'
zpty -w z $'\\C-u''print "END""MARK"'
zpty -r z out '*ENDMARK*'
print -r -- "$out" | tr '\\r' '\\n' | grep -ao 'HIT:[^[:space:]]*' | cut -c5- | sort -u
zpty -d z
`;
