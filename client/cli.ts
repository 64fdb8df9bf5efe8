// The rotor CLI: start, status, approve, abort, rollback, list, worker.
import { userInfo } from 'node:os';
import { TERMINAL_PHASES, type RotationStatus } from '../contract/api';
import { formatStatus, progressLine } from './format';
import { loadPlanFile, PlanFileError } from './plan-file';
import { RotorClient, RotorClientError } from './rotor-client';

const USAGE = `rotor — rotate Kubernetes secrets without downtime

usage:
  rotor start -f plan.yaml [--watch]          start a rotation; prints its id (rotate-<namespace>-<secret>)
  rotor status <id> [--json] [--watch]        phase, stage, canary, checks and recent events
  rotor approve <id> [--comment "..."]        approve the stage that awaits approval
  rotor abort <id> --reason "..."             stop the rotation; what was switched is rolled back
  rotor rollback <id> [--reason "..."]        roll back now (DEPLOYING to WATCHING); waits until done
  rotor list                                  rotations on the server
  rotor versions <secret> -n <namespace>      every version of a secret, its age, and which workloads use it (KUBECONFIG)
  rotor worker                                run a worker (TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, ROTOR_BACKEND)

environment: TEMPORAL_ADDRESS (127.0.0.1:7233), TEMPORAL_NAMESPACE (default), ROTOR_TASK_QUEUE (rotor),
             TEMPORAL_UI_URL (http://localhost:8233), ROTOR_OPERATOR (your login name)`;

interface Args {
  positional: string[];
  flags: Map<string, string | true>;
}

const VALUE_FLAGS = new Set(['-f', '--file', '--reason', '--comment', '--by', '--interval', '--events', '-n', '--namespace']);

export function parseArgs(argv: string[]): Args {
  const positional: string[] = [];
  const flags = new Map<string, string | true>();
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a.startsWith('-')) {
      const [name, inline] = a.includes('=') ? [a.slice(0, a.indexOf('=')), a.slice(a.indexOf('=') + 1)] : [a, undefined];
      if (VALUE_FLAGS.has(name)) {
        const value = inline ?? argv[++i];
        if (value === undefined) throw new RotorClientError(`${name} needs a value`);
        flags.set(name, value);
      } else flags.set(name, true);
    } else positional.push(a);
  }
  return { positional, flags };
}

function operator(args: Args): string {
  const by = args.flags.get('--by');
  if (typeof by === 'string') return by;
  try {
    return process.env.ROTOR_OPERATOR ?? userInfo().username;
  } catch {
    return 'operator';
  }
}

function requireId(args: Args, command: string): string {
  const id = args.positional[1];
  if (!id) throw new RotorClientError(`rotor ${command} needs a rotation id, e.g. rotor ${command} rotate-staging-auth-api-secrets; \`rotor list\` shows them`);
  return id;
}

const out = (text: string) => process.stdout.write(`${text}\n`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Exit codes: 0 completed (or still running when not watching), 3 rolled back, 4 failed. */
function exitCodeFor(s: RotationStatus): number {
  return s.phase === 'ROLLED_BACK' ? 3 : s.phase === 'FAILED' ? 4 : 0;
}

async function watch(client: RotorClient, id: string, args: Args): Promise<number> {
  const interval = Number(args.flags.get('--interval') ?? 2) * 1000;
  let seen = -1;
  let lastLine = '';
  for (;;) {
    const s = await client.status(id);
    if (seen < 0) out(formatStatus(s));
    else
      for (const e of s.eventCount > seen ? s.events.slice(-Math.min(s.eventCount - seen, s.events.length)) : [])
        out(`  ${e.at}  ${e.phase.padEnd(17)} ${e.stage ? `${e.stage}: ` : ''}${e.message}`);
    seen = s.eventCount;
    const line = progressLine(s);
    if (line !== lastLine) out(line);
    lastLine = line;
    if (TERMINAL_PHASES.includes(s.phase)) {
      out(`${s.phase}: ${s.outcome ?? ''}`);
      for (const l of s.leftovers) out(`LEFT ${l}`);
      return exitCodeFor(s);
    }
    await sleep(interval);
  }
}

export async function main(argv: string[]): Promise<number> {
  const args = parseArgs(argv);
  const command = args.positional[0];
  if (!command || command === 'help' || args.flags.has('--help') || args.flags.has('-h')) {
    out(USAGE);
    return command ? 0 : 2;
  }
  if (command === 'worker') {
    const { runWorker } = await import('../worker/index.js');
    await runWorker();
    return 0;
  }
  if (command === 'versions') {
    const { versionsCommand } = await import('./versions.js');
    try {
      out(await versionsCommand(args.positional[1], args.flags.get('-n') ?? args.flags.get('--namespace')));
      return 0;
    } catch (err) {
      process.stderr.write(`rotor: ${(err as Error).message}\n`);
      return 1;
    }
  }
  const known = ['start', 'status', 'approve', 'abort', 'rollback', 'list'];
  if (!known.includes(command)) {
    process.stderr.write(`rotor: unknown command "${command}"\n\n${USAGE}\n`);
    return 2;
  }
  try {
    // Validate a plan before connecting: a bad plan never reaches the server.
    const loaded = command === 'start' ? loadStartPlan(args) : null;
    const client = await RotorClient.connect();
    try {
      switch (command) {
        case 'start': {
          const id = await client.start(loaded!.document, loaded!.plan, operator(args));
          out(`started ${id}`);
          const ui = process.env.TEMPORAL_UI_URL ?? 'http://localhost:8233';
          out(`follow it: rotor status ${id} --watch   (Web UI: ${ui}/namespaces/${process.env.TEMPORAL_NAMESPACE ?? 'default'}/workflows/${id})`);
          return args.flags.has('--watch') ? await watch(client, id, args) : 0;
        }
        case 'status': {
          const id = requireId(args, 'status');
          if (args.flags.has('--watch')) return await watch(client, id, args);
          const s = await client.status(id);
          out(args.flags.has('--json') ? JSON.stringify(s, null, 2) : formatStatus(s, { events: Number(args.flags.get('--events') ?? 8) }));
          return 0;
        }
        case 'approve': {
          const id = requireId(args, 'approve');
          const comment = args.flags.get('--comment');
          await client.approve(id, operator(args), typeof comment === 'string' ? comment : undefined);
          const s = await client.status(id);
          out(`approval sent to ${id} (phase ${s.phase}): ${s.events.at(-1)?.message ?? ''}`);
          return 0;
        }
        case 'abort': {
          const id = requireId(args, 'abort');
          const reason = args.flags.get('--reason');
          if (typeof reason !== 'string' || !reason.trim()) throw new RotorClientError('rotor abort needs --reason "why", recorded in the rotation\'s events');
          await client.abort(id, reason, operator(args));
          out(`abort sent to ${id}; follow the rollback with: rotor status ${id} --watch`);
          return 0;
        }
        case 'rollback': {
          const id = requireId(args, 'rollback');
          const reason = args.flags.get('--reason');
          out(`rolling back ${id} ...`);
          const s = await client.rollback(id, typeof reason === 'string' ? reason : `requested from the CLI by ${operator(args)}`, operator(args));
          out(formatStatus(s));
          return exitCodeFor(s);
        }
        case 'list': {
          const rows = await client.list();
          if (rows.length === 0) out('no rotations yet; start one with rotor start -f plan.yaml');
          for (const r of rows) out(`${r.workflowId.padEnd(48)} ${r.secret.padEnd(28)} ${r.phase.padEnd(18)} ${r.status.padEnd(16)} ${r.startedAt}`);
          return 0;
        }
      }
    } finally {
      await client.close();
    }
  } catch (err) {
    if (err instanceof RotorClientError || err instanceof PlanFileError) {
      process.stderr.write(`rotor: ${err.message}\n`);
      return err instanceof PlanFileError ? 2 : 1;
    }
    throw err;
  }
  return 0;
}

function loadStartPlan(args: Args) {
  const file = args.flags.get('-f') ?? args.flags.get('--file');
  if (typeof file !== 'string') throw new RotorClientError('rotor start needs a plan: rotor start -f plan.yaml');
  return loadPlanFile(file);
}
