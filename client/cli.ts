// The rotor CLI on commander: start, status, report, approve, abort, rollback, list, schedule (create, list,
// pause, unpause, delete, trigger), versions, plan (a dry run), version, rbac, schema, worker, codec-server,
// completion. `rotor <command> --help` for each; unknown commands and flags are
// refused with a suggestion; kubectl's habits (-o, -w, -n, --context, --kubeconfig) where they fit.
// Only the definitions are here, and they load commander and little else: each command loads what it
// runs in its action (commands.ts for those that talk to Temporal), so `rotor --help` loads no SDK and
// each command no other's (test/cli-modules.test.ts holds it; bench/cli-start.bench.ts times it).
// Errors are told apart by classes from modules that load nothing.
import { Argument, Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import type { Phase } from '../contract/phases';
import { RotorError } from '../activities/rotor-error';
import { CodecKeyError } from '../temporal/codec-key-error';
import { TemporalUnreachableError } from '../temporal/unreachable';
import { rotorVersion } from '../temporal/version';
import { completionScript, SHELLS, type Shell } from './completion';
import { EXIT, out } from './cli-common';
import { count, cron, DEFAULT_ORIGINS, every, origins, parsePhases, parseScanGroup, parseServiceAccount, port, seconds, timeZone } from './cli-args';
import type { Formatted, ScheduleAction } from './commands';
import { PlanFileError, RotorClientError } from './errors';
import { isStructured, outputFormat, outputOptions } from './output-format';
import type { When } from './schedule-spec';

const EXIT_HELP = `
Exit codes:
  0  done (or started, when not watching); with --watch: COMPLETED
  1  an error talking to Temporal or the cluster (the message says what to do)
  2  bad usage, an invalid plan or unusable codec keys (nothing was started)
  3  with --watch or rollback: the rotation ended ROLLED_BACK
  4  with --watch or rollback: the rotation ended FAILED
  2  rotor plan: PLANNING would refuse the plan (each refusal named); 0 it would run, 1 it could not tell

Environment:
  TEMPORAL_ADDRESS (127.0.0.1:7233), TEMPORAL_NAMESPACE (default), ROTOR_TASK_QUEUE (rotor),
  TEMPORAL_UI_URL (http://localhost:8233), ROTOR_OPERATOR (your login name), KUBECONFIG (versions, plan, worker),
  ROTOR_CODEC_KEYS_FILE or ROTOR_CODEC_KEY (payload encryption: worker, client and codec-server alike)`;

const byOption = () => new Option('--by <name>', 'who is acting, recorded in the events (default: ROTOR_OPERATOR or your login name)');
const intervalOption = () => new Option('--interval <seconds>', 'how often --watch polls').argParser(seconds).default(2);
const watchOption = () => new Option('-w, --watch', 'follow the rotation until it ends; the exit code says how it ended');
/** For the commands that read the cluster (versions, worker): kubectl's flags. */
const kubeOptions = () => [
  new Option('--kubeconfig <file>', 'the kubeconfig to use (default: KUBECONFIG, then ~/.kube/config, then the in-cluster ServiceAccount)'),
  new Option('--context <name>', "the kubeconfig context to use (default: the kubeconfig's current-context)"),
];

/** Adds every option of `options` to `command`. */
function withOptions(command: Command, options: Option[]): Command {
  for (const o of options) command.addOption(o);
  return command;
}

function program(result: { code: number }): Command {
  const set = (code: number) => {
    result.code = code;
  };
  const rotor = new Command('rotor')
    .description('rotate Kubernetes secrets without downtime: versioned, staged, verified, reversible rotations on Temporal')
    .version(rotorVersion(), '-V, --version', "print the client's version (rotor version: the server's and the workers' too)")
    .option('--debug', 'when a command fails, print the full error (stack trace and causes)')
    .configureHelp({ showGlobalOptions: true })
    .showHelpAfterError('(add --help for usage)')
    .showSuggestionAfterError(true)
    .addHelpText('after', EXIT_HELP)
    .exitOverride()
    .configureOutput({ writeOut: (t) => process.stdout.write(t), writeErr: (t) => process.stderr.write(t.replace(/^error: /, 'rotor: ')) });

  rotor
    .command('start')
    .description('validate a plan (every error at once, before anything is contacted) and start a rotation; prints its id, rotate-<first namespace>-<secret>')
    .requiredOption('-f, --file <plan.yaml>', 'the plan file')
    .addOption(watchOption())
    .addOption(intervalOption())
    .addOption(byOption())
    .action(async (opts: { file: string; watch?: boolean; interval: number; by?: string }) => {
      const { start } = await import('./commands.js');
      set(await start(opts));
    });

  const status = rotor
    .command('status')
    .description('phase, stage, canary, checks and recent events of a rotation')
    .argument('<id>', 'the rotation id, e.g. rotate-staging-auth-api-secrets (`rotor list` shows them)')
    .addOption(watchOption())
    .addOption(intervalOption())
    .addOption(new Option('--events <n>', 'how many recent events to show').argParser(count).default(8));
  withOptions(status, outputOptions('every check and event the rotation keeps')).action(
    async (id: string, opts: Formatted & { watch?: boolean; interval: number; events: number }) => {
      const { status } = await import('./commands.js');
      set(await status(id, opts));
    },
  );

  rotor
    .command('report')
    .description(
      "write one self-contained HTML page of a rotation, running or ended: the phases per stage over time, each check's measurements against its threshold with the switches and rollback marked, cleanup's holders and the outcome (opens offline)",
    )
    .argument('<id>', 'the rotation id (`rotor list` shows them)')
    .option('--out <file>', 'where to write it; - for stdout (default: <id>.html in the current directory)')
    .action(async (id: string, opts: { out?: string }) => {
      const { report } = await import('./commands.js');
      set(await report(id, opts));
    });

  rotor
    .command('approve')
    .description('approve the stage that awaits approval')
    .argument('<id>', 'the rotation id')
    .option('--comment <text>', 'recorded with the approval')
    .addOption(byOption())
    .action(async (id: string, opts: { comment?: string; by?: string }) => {
      const { approve } = await import('./commands.js');
      set(await approve(id, opts));
    });

  rotor
    .command('abort')
    .description('stop the rotation; what was switched is rolled back (during cleanup: the previous version is kept)')
    .argument('<id>', 'the rotation id')
    .requiredOption('--reason <text>', "why, recorded in the rotation's events")
    .addOption(byOption())
    .action(async (id: string, opts: { reason: string; by?: string }) => {
      const { abort } = await import('./commands.js');
      set(await abort(id, opts));
    });

  rotor
    .command('rollback')
    .description('roll back now (DEPLOYING to WATCHING) and wait until it is done; refused, with why, anywhere else')
    .argument('<id>', 'the rotation id')
    .option('--reason <text>', "why, recorded in the rotation's events")
    .addOption(byOption())
    .action(async (id: string, opts: { reason?: string; by?: string }) => {
      const { rollback } = await import('./commands.js');
      set(await rollback(id, opts));
    });

  const list = rotor
    .command('list')
    .description('rotations on the server, newest first: id, secret, phase, stage, age')
    .addOption(
      new Option('--phase <phases>', 'only rotations in these phases (comma-separated), e.g. AWAITING_APPROVAL or ROLLING_BACK,FAILED').argParser(parsePhases),
    )
    .addOption(new Option('--limit <n>', 'at most this many rotations').argParser(count).default(50));
  withOptions(list, outputOptions('when each started, and its outcome or last event')).action(async (opts: Formatted & { phase?: Phase[]; limit: number }) => {
    const { list } = await import('./commands.js');
    set(await list(opts));
  });

  addScheduleCommands(rotor, set);

  const versions = rotor
    .command('versions')
    .description('every version of a secret in a namespace, its age, and which workloads use it (from the kubeconfig, as kubectl)')
    .argument('<secret>', 'the base name, e.g. auth-api-secrets')
    .addOption(new Option('-n, --namespace <namespace>', "the namespace to look in (default: the kubeconfig context's namespace, then default)"));
  withOptions(versions, [...kubeOptions(), ...outputOptions('when each was created, and its type')]).action(
    async (secret: string, opts: Formatted & { namespace?: string; kubeconfig?: string; context?: string }) => {
      const { versionsCommand } = await import('./versions.js');
      out(await versionsCommand(secret, { namespace: opts.namespace, kubeconfig: opts.kubeconfig, context: opts.context, output: outputFormat(opts) }));
    },
  );

  const dryRun = rotor
    .command('plan')
    .description(
      'a dry run, without Temporal: per stage, the version in use, every holder and how it refers, what rotor would switch or refuse (and why), canary replicas, batches, the analysis measured once, windows, cleanup, and the kubectl commands that roll it back by hand; exit 0: it would run, 2: PLANNING would refuse it, 1: could not tell',
    )
    .requiredOption('-f, --file <plan.yaml>', 'the plan file');
  withOptions(dryRun, [...kubeOptions(), ...outputOptions('the same as the default')]).action(
    async (opts: Formatted & { file: string; kubeconfig?: string; context?: string }) => {
      const { loadPlanFile } = await import('./plan-file.js');
      const loaded = loadPlanFile(opts.file);
      const { planCommand } = await import('./plan-dry-run/index.js');
      const result = await planCommand(loaded.plan, {
        kubeconfig: opts.kubeconfig,
        context: opts.context,
        output: outputFormat(opts),
        progress: (line) => process.stderr.write(`${line}\n`),
      });
      out(result.text);
      set(result.code);
    },
  );

  const version = rotor
    .command('version')
    .description(`rotor's version, the Temporal server's and the workers' (the task queue's pollers); what does not answer within 2 s is said unreachable`);
  withOptions(version, outputOptions('the same as the default')).action(async (opts: Formatted) => {
    const [{ versionReport, formatVersionReport }, { structured }] = await Promise.all([import('./version-report.js'), import('./output.js')]);
    const format = outputFormat(opts);
    const report = await versionReport();
    out(isStructured(format) ? structured(report, format) : formatVersionReport(report));
  });

  rotor
    .command('rbac')
    .description(
      'print the least RBAC the worker needs for these plans: a Role and RoleBinding in each namespace they touch, with only the verbs their stages use, and ClusterRoles for the reference scan (list, never Secrets) and any ClusterSecretStore they name; with --admission, also the ValidatingAdmissionPolicy that confines the worker to what rotor makes (docs/kubernetes.md); apply it with kubectl apply -f -, or give it to the Helm chart with --output helm-values',
    )
    .option('-f, --file <plan.yaml>', 'a plan file; repeat for every plan the worker runs', (file: string, files: string[]) => [...files, file], [] as string[])
    .option(
      '--scan-group <group>',
      "an API group the reference scan also lists (list only, never Secrets), e.g. a custom resource's that names Secrets; repeat for more",
      (raw: string, groups: string[]) => {
        const group = parseScanGroup(raw);
        if (typeof group !== 'string') throw new InvalidArgumentError(group.error);
        return [...groups, group];
      },
      [] as string[],
    )
    .option('--admission', "also print the ValidatingAdmissionPolicy and its binding that confine the worker's ServiceAccount (alone, without -f)")
    .addOption(
      new Option('--scope <scope>', "namespaced: Roles in the plans' namespaces only; cluster: one ClusterRole for every namespace (opt-in, no -f needed)")
        .choices(['namespaced', 'cluster'])
        .default('namespaced'),
    )
    .addOption(
      new Option('--output <form>', 'manifests for kubectl apply, or values for the Helm chart (helm install -f)')
        .choices(['manifests', 'helm-values'])
        .default('manifests'),
    )
    .addOption(
      new Option('--service-account <namespace/name>', "the worker's ServiceAccount").default('rotor-system/rotor-worker').argParser((raw: string) => {
        const parsed = parseServiceAccount(raw);
        if ('error' in parsed) throw new InvalidArgumentError(parsed.error);
        return raw;
      }),
    )
    .action(
      async (opts: {
        file: string[];
        scanGroup: string[];
        admission?: boolean;
        serviceAccount: string;
        scope: 'namespaced' | 'cluster';
        output: 'manifests' | 'helm-values';
      }) => {
        const cluster = opts.scope === 'cluster';
        if (opts.file.length === 0 && !opts.admission && !cluster)
          throw new PlanFileError(
            '',
            'rotor rbac needs the plans the worker runs: -f plan.yaml (repeat for more), --scope cluster for one ClusterRole in every namespace, or --admission for the admission policy alone',
          );
        if (opts.scanGroup.length && opts.file.length === 0 && !cluster)
          throw new PlanFileError(
            '',
            "--scan-group adds to the reference scan's ClusterRole, which --admission alone does not print: add the plans (-f plan.yaml) or --scope cluster",
          );
        const [{ loadPlanFile }, { planNamespaces, rbacManifests, rbacValues, rbacYaml }] = await Promise.all([import('./plan-file.js'), import('./rbac.js')]);
        const plans = opts.file.map((file) => loadPlanFile(file).plan);
        const serviceAccount = parseServiceAccount(opts.serviceAccount) as { namespace: string; name: string };
        const manifests =
          plans.length || cluster ? rbacManifests(plans, { serviceAccount, adopt: !!opts.admission, scope: opts.scope, scanGroups: opts.scanGroup }) : [];
        const { admissionManifests } = await import('./admission.js');
        const policy = opts.admission ? admissionManifests(serviceAccount, plans.length && !cluster ? planNamespaces(plans) : undefined) : [];
        const what = cluster ? '--scope cluster' : `for ${opts.file.join(', ')}`;
        out((opts.output === 'helm-values' ? rbacValues(serviceAccount, manifests, policy) : rbacYaml(what, serviceAccount, manifests, policy)).trimEnd());
      },
    );

  rotor
    .command('schema')
    .description('print the JSON Schema of a plan file (plan.schema.json), for editors and CI linters')
    .action(async () => {
      const { planJsonSchema } = await import('../domain/plan-schema.js');
      out(JSON.stringify(planJsonSchema(), null, 2));
    });

  const worker = rotor
    .command('worker')
    .description('run a worker: TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, ROTOR_TASK_QUEUE, ROTOR_BACKEND, ROTOR_VALUE_DIR (docs/cli.md)');
  withOptions(worker, kubeOptions()).action(async (opts: { kubeconfig?: string; context?: string }) => {
    const { runWorker } = await import('../worker/index.js');
    await runWorker(opts.kubeconfig || opts.context ? { kube: { kubeconfig: opts.kubeconfig, context: opts.context } } : {});
  });

  rotor
    .command('codec-server')
    .description(
      "serve the payload codec to the Temporal Web UI and CLI (POST /encode, /decode) with the worker's ROTOR_CODEC_KEYS_FILE or ROTOR_CODEC_KEY; Ctrl-C stops it",
    )
    .addOption(new Option('--port <port>', 'the port to listen on (0: any free one)').argParser(port).default(8081))
    .addOption(new Option('--host <address>', 'the address to listen on; keep it local: whoever reaches it can decrypt').default('127.0.0.1'))
    .addOption(
      new Option('--origin <url>', "the Web UI's origin, the only one whose pages may call it (repeat for more)")
        .argParser(origins)
        .default(DEFAULT_ORIGINS, DEFAULT_ORIGINS.join(', ')),
    )
    .action(async (opts: { port: number; host: string; origin: string[] }) => {
      const { runCodecServer } = await import('./codec-server.js');
      await runCodecServer(opts);
    });

  rotor
    .command('completion')
    .description('print a shell completion script: source <(rotor completion bash), or zsh (after compinit)')
    .addArgument(new Argument('<shell>', 'bash or zsh').choices(SHELLS))
    .action((shell: Shell) => {
      out(completionScript(rotor, shell).trimEnd());
    });

  // Every command's help ends with the exit codes and the environment, as the top-level help does.
  for (const command of rotor.commands) for (const c of [command, ...command.commands]) c.addHelpText('after', EXIT_HELP);
  return rotor;
}

/** `rotor schedule create|list|pause|unpause|delete|trigger`: rotations on Temporal Schedules. */
function addScheduleCommands(rotor: Command, set: (code: number) => void): void {
  const schedule = rotor
    .command('schedule')
    .description("rotations on a schedule, as Temporal Schedules (the Web UI's Schedules page): create, list, pause, unpause, delete, trigger");
  schedule
    .command('create')
    .description(
      'validate a plan (before anything is contacted) and create a schedule that starts its rotation --every <duration> or at each --cron time, never beside one still running (overlap skip); prints its id, rotor-<first namespace>-<secret>',
    )
    .requiredOption('-f, --file <plan.yaml>', 'the plan file')
    .addOption(new Option('--every <duration>', 'start a rotation this often, the first one interval from now, e.g. 90d').argParser(every).conflicts('cron'))
    .addOption(
      new Option('--cron <expression>', 'start one each time this five-field cron schedule fires, e.g. "0 3 * * 1" (Mondays at 03:00)').argParser(cron),
    )
    .addOption(new Option('--timezone <zone>', 'the IANA time zone --cron is read in (default UTC), e.g. Europe/Berlin').argParser(timeZone))
    .option('--paused', 'create it paused: nothing starts until `rotor schedule unpause <id>`')
    .option('--note <text>', 'a note the schedule keeps (rotor schedule list -o wide, the Web UI)')
    .addOption(byOption())
    .action(
      async (opts: { file: string; every?: number; cron?: string; timezone?: string; paused?: boolean; note?: string; by?: string }, command: Command) => {
        if (opts.every === undefined && opts.cron === undefined)
          command.error(
            'error: rotor schedule create needs when to rotate: --every <duration> (e.g. --every 90d) or --cron "<five fields>" (e.g. --cron "0 3 * * 1")',
          );
        if (opts.timezone && opts.cron === undefined)
          command.error('error: --timezone is the zone --cron is read in; --every needs none: drop --timezone, or use --cron');
        const when: When = opts.cron !== undefined ? { cron: opts.cron, timeZone: opts.timezone ?? 'UTC' } : { everyMs: opts.every! };
        const { createSchedule } = await import('./commands.js');
        set(await createSchedule(when, opts));
      },
    );

  const list = schedule.command('list').description("rotor's schedules: id, secret, when, paused, the next run, the last run's rotation and how it ended");
  withOptions(list, outputOptions('how many runs each started and skipped, the runs after the next, its note')).action(async (opts: Formatted) => {
    const { listSchedules } = await import('./commands.js');
    set(await listSchedules(opts));
  });

  /** A subcommand on one schedule, by id (commands.ts does it and says what it did). */
  const onSchedule = (name: ScheduleAction, description: string, options: Option[]) => {
    const command = schedule
      .command(name)
      .description(description)
      .addArgument(new Argument('<id>', 'the schedule id, e.g. rotor-staging-auth-api-secrets (`rotor schedule list` shows them)'));
    withOptions(command, options).action(async (id: string, opts: { reason?: string; by?: string }) => {
      const { onSchedule } = await import('./commands.js');
      set(await onSchedule(name, id, opts));
    });
  };
  onSchedule('pause', 'start no more rotations until unpaused (one already running goes on)', [
    new Option('--reason <text>', "why, kept as the schedule's note"),
    byOption(),
  ]);
  onSchedule('unpause', 'start rotations on the schedule again, from its next time on', [byOption()]);
  onSchedule('delete', 'delete the schedule; a rotation it started goes on (rotor list shows it)', []);
  onSchedule('trigger', "start the schedule's rotation now, paused or not; refused while one it started still runs", []);
}

/** Errors written for the operator, and the exit code of each kind; anything else is not rotor's own words. */
function exitCodeOf(err: unknown): number | null {
  if (err instanceof PlanFileError || err instanceof CodecKeyError) return EXIT.usage;
  if (err instanceof RotorClientError || err instanceof TemporalUnreachableError || err instanceof RotorError) return EXIT.error;
  // By name: their modules load the Kubernetes client, which most commands never need (the classes
  // above are in modules that load nothing, so that `rotor --help` loads no SDK).
  if (err instanceof Error && (err.name === 'KubeConfigError' || err.name === 'WorkerConfigError')) return EXIT.error;
  return null;
}

/** The whole error for --debug: each stack, then each cause's. */
function fullError(err: unknown): string {
  const parts: string[] = [];
  for (let e: unknown = err; e !== undefined && e !== null && parts.length < 10; e = (e as { cause?: unknown }).cause) {
    parts.push(e instanceof Error ? (e.stack ?? `${e.name}: ${e.message}`) : String(e));
  }
  return parts.join('\ncaused by: ');
}

/** Says what went wrong (rotor's own message; else the first line of the error's) and returns the exit code. */
function report(err: unknown, debug: boolean): number {
  const code = exitCodeOf(err);
  const message = err instanceof Error ? err.message : String(err);
  if (code !== null) process.stderr.write(`rotor: ${message}\n`);
  else {
    const first = message.split('\n')[0].slice(0, 300);
    process.stderr.write(`rotor: ${first}${debug ? '' : '\n(add --debug for the full error)'}\n`);
  }
  if (debug) process.stderr.write(`${fullError(err)}\n`);
  return code ?? EXIT.error;
}

/** @public bin/rotor.js requires the compiled module and calls `main`: knip cannot follow that. */
export async function main(argv: string[]): Promise<number> {
  const result = { code: EXIT.ok as number };
  const rotor = program(result);
  if (argv.length === 0) {
    rotor.outputHelp({ error: true });
    return EXIT.usage;
  }
  try {
    await rotor.parseAsync(argv, { from: 'user' });
    return result.code;
  } catch (err) {
    if (err instanceof CommanderError) {
      // Help and version are answers; anything else commander refuses is a usage error.
      // `rotor schedule` without its subcommand shows the help as an error (exitCode 1): usage too.
      const answer = err.code === 'commander.helpDisplayed' || err.code === 'commander.help' || err.code === 'commander.version';
      return answer && err.exitCode === 0 ? EXIT.ok : EXIT.usage;
    }
    return report(err, rotor.opts<{ debug?: boolean }>().debug === true);
  }
}
