// `rotor plan`'s look at the world: the cluster (PLANNING's own discovery and reference scan), the
// stores, the issuer and the metric providers, each read-only, through the worker's adapters
// (worker/deps.ts) and the activities the workflow calls, run here in-process. No Temporal server.
import { createActivities, type RotorActivities, type RotorDeps } from '../../activities';
import { discoverStages } from '../../activities/workloads';
import { measureOnce } from '../../activities/analysis-loop';
import type { KubernetesCluster } from '../../activities/kubernetes';
import type { DiscoveredStage, Holder, WorkloadUse } from '../../contract/activities';
import { splitBatches } from '../../domain/batches';
import { renderQuery } from '../../domain/analysis';
import { issuerSource, type Plan, type Stage } from '../../domain/plan';
import { parseHolder } from '../../domain/naming';
import { describeRoutes, resolveRoutes } from '../../domain/notify';
import { discoveryProblems, gitTargetOf, secretTypeVerdict, windowsRefusal } from '../../domain/planning';
import { scanSettings } from '../../workflows/scan-settings';
import { describeInstant, windowState } from '../../domain/windows';
import { canaryReplicas, leastStageMs, refersHow } from './facts';
import { preflightLines } from './preflight';
import { rollbackCommands, rollbackPreamble, type RollbackTarget } from './rollback';
import type { StageReport } from './report';

export interface World {
  deps: RotorDeps;
  cluster: KubernetesCluster;
  progress: (line: string) => void;
  now: number;
}

/** What the gathering found besides the stages: refusals, unknowns and notes, as PLANNING would say them. */
export interface Findings {
  refusals: string[];
  unknowns: string[];
  notes: string[];
}

/** An activity's error in words (ApplicationFailure or RotorError alike). */
const messageOf = (err: unknown) => (err instanceof Error ? err.message : String(err));
/** Whether an activity's error is the answer itself (PLANNING refuses on it), not a failure to ask. */
const isAnswer = (err: unknown) => ['RotorInputError', 'NotFound', 'Forbidden'].includes((err as { type?: string })?.type ?? '');

function holderLine(h: Holder) {
  return {
    kind: h.kind,
    namespace: h.namespace,
    name: h.name,
    refersBy: h.fields.map(refersHow),
    fields: h.fields,
    ...(h.unreadable ? { unreadable: h.unreadable } : {}),
  };
}

/** The stores, the issuer and Git, asked as PLANNING asks them. */
async function checkOutside(plan: Plan, discovered: DiscoveredStage[], acts: RotorActivities, world: World, found: Findings): Promise<void> {
  const ask = async (what: string, refusalPrefix: string, fn: () => Promise<void>) => {
    world.progress(`asking ${what} ...`);
    try {
      await fn();
    } catch (err) {
      if (isAnswer(err)) found.refusals.push(`${refusalPrefix} (nothing was changed): ${messageOf(err)}`);
      else found.unknowns.push(`${what}: ${messageOf(err)}`);
    }
  };
  if (plan.store !== 'kubernetes')
    await ask(`the ${plan.store} store`, `the ${plan.store} store cannot be used`, async () => {
      const { detail } = await acts.checkStore({
        store: plan.store,
        ...(plan.target ? { target: plan.target } : {}),
        ...(plan.store === 'external-secrets' ? { namespaces: plan.stages.map((s) => s.namespace) } : {}),
        value: plan.value,
      });
      found.notes.push(`store: ${detail}`);
    });
  if (issuerSource(plan.value)) {
    const ids = [...new Set(discovered.flatMap((d) => (d.previousVersion ? [d.previousIdentity?.credentialId ?? d.previousVersion] : [])))];
    if (!world.deps.issuer) found.unknowns.push('the credential issuer: ROTOR_ISSUER_URL (and its token) is not set here, as the worker has it');
    else
      await ask('the credential issuer', 'the credential issuer cannot be used', async () => {
        for (const o of await acts.inspectCredentials({ ids })) found.notes.push(`issuer: ${o.id} is ${o.state}`);
      });
  }
  checkNotify(plan, world.deps.notifier, found);
  const git = plan.stages
    .map((stage, i) => ({ stage, workloads: discovered[i].workloads.filter((w) => viaGit(stage, w)), from: discovered[i].previousVersion }))
    .filter((s) => s.workloads.length && s.from);
  if (git.length) {
    if (!world.deps.git) found.unknowns.push('Git mode: ROTOR_GIT_* is not set here, as the worker has it; the Git changes were not tried');
    else
      await ask('the GitOps repositories', 'the Git change cannot be made', async () => {
        const refusals = await acts.planGitChanges({
          stages: git.map((s) => ({
            stage: s.stage.name,
            namespace: s.stage.namespace,
            target: gitTargetOf(s.stage.gitops!),
            workloads: s.workloads,
            from: s.from!,
            ...(plan.store === 'external-secrets' ? { versionFile: true } : {}),
          })),
        });
        if (refusals.length) found.refusals.push(`the Git change cannot be made (nothing was changed): ${refusals.join('; ')}`);
      });
  }
}

/** The sinks the rotation would notify, by the worker's settings here; a plan naming one it lacks is refused as PLANNING refuses it. */
export function checkNotify(plan: Pick<Plan, 'notify'>, notifier: RotorDeps['notifier'], found: Findings): void {
  if (!notifier) {
    if (plan.notify?.length) found.unknowns.push('notifications: ROTOR_NOTIFY_SINKS or ROTOR_NOTIFY_FILE is not set here, as the worker has it');
    return;
  }
  const result = resolveRoutes(plan.notify ?? null, { sinks: notifier.sinkNames, defaults: notifier.defaults });
  if ('problems' in result) found.refusals.push(...result.problems.map((p) => `${p} (nothing was changed)`));
  else found.notes.push(`notify: ${result.routes.length ? describeRoutes(result.routes) : 'nobody'}${plan.notify ? '' : " (the worker's defaults)"}`);
}

/**
 * The claims on the secret's rotation (one a namespace): a rotation that holds one makes the workflow
 * refuse to start while it runs, and take the claim over once it has ended. Which of the two, only the
 * Temporal server can say, and the dry run asks none: it cannot tell.
 */
async function checkClaims(plan: Plan, world: World, found: Findings): Promise<void> {
  world.progress(`reading the claims on ${plan.secret}'s rotation ...`);
  for (const namespace of [...new Set(plan.stages.map((s) => s.namespace))]) {
    try {
      const claim = await world.cluster.claimHolder(namespace, plan.secret);
      if (!claim) continue;
      const workflow = parseHolder(claim.holder)?.workflowId ?? claim.holder;
      found.unknowns.push(
        `the rotation of ${plan.secret} in ${namespace} is claimed by ${workflow}${claim.since ? ` since ${claim.since}` : ''}: PLANNING refuses while that rotation runs and takes the claim over once it has ended; \`rotor status ${workflow}\` says which`,
      );
    } catch (err) {
      found.unknowns.push(`the claim on ${plan.secret} in ${namespace}: ${messageOf(err)}`);
    }
  }
}

/** The stage's analysis query with its variables filled in, and one measurement of it now. */
async function analysisOf(stage: Stage, found: DiscoveredStage, world: World, findings: Findings): Promise<StageReport['analysis']> {
  const analysis = stage.analysis;
  if (!analysis) return undefined;
  world.progress(`measuring ${stage.name}'s analysis (${analysis.provider}) ...`);
  const version = found.previousVersion ?? undefined;
  const m = await measureOnce(world.deps.metrics, { stage: stage.name, check: 'verify', analysis, durationMs: 0, namespace: stage.namespace, version });
  // A provider that cannot answer would fail the stage's checks: the plan cannot be judged to pass.
  if (m.phase === 'error') findings.unknowns.push(`${stage.name}: the analysis could not be measured: ${m.message ?? 'error'}`);
  // One that fails now would fail the stage too, unless it falls by then: said, not a refusal (PLANNING does not measure).
  if (m.phase === 'failed')
    findings.notes.push(
      `${stage.name}: the analysis measures ${m.value} now, above its threshold ${analysis.threshold}: its checks would fail the stage unless that falls`,
    );
  return {
    provider: analysis.provider,
    query: renderQuery(analysis.query, { namespace: stage.namespace, stage: stage.name, version }),
    threshold: analysis.threshold,
    measured: { value: m.value, phase: m.phase, ...(m.message ? { message: m.message } : {}) },
  };
}

/** In a stage with gitops settings, a workload a GitOps controller applies is switched by a commit (workflows/gitops.ts). */
const viaGit = (stage: Stage, w: WorkloadUse) => !!stage.gitops && !!w.managedBy;

/** Each workload's canary replicas per step (a canary's Deployments) and the commands that roll it back by hand. */
async function byWorkload(stage: Stage, found: DiscoveredStage, world: World): Promise<{ canary: NonNullable<StageReport['canary']>; commands: string[] }> {
  const canary: NonNullable<StageReport['canary']> = [];
  const commands: string[] = [];
  const previous = found.previousVersion;
  if (!previous) return { canary, commands };
  for (const w of found.workloads) {
    if (viaGit(stage, w)) {
      commands.push(
        `# ${stage.namespace}: ${w.kind}/${w.name} is applied from Git: revert rotor's commit in ${stage.gitops!.repo} ${stage.gitops!.branch} (git log --grep Rotor-Change), and the controller applies ${previous} again`,
      );
      continue;
    }
    const obj = await world.cluster.readWorkload(w.kind, stage.namespace, w.name);
    if (!obj) continue;
    const steps = stage.strategy.type === 'canary' && w.kind === 'Deployment' ? stage.strategy.steps : null;
    const replicas = (obj.spec?.replicas as number | undefined) ?? 1;
    if (steps) canary.push({ workload: `Deployment/${w.name}`, replicas, steps: canaryReplicas(replicas, steps) });
    const target: RollbackTarget = { kind: w.kind, namespace: stage.namespace, name: w.name, previous, ...(steps ? { canaryReplicas: replicas } : {}) };
    commands.push(...rollbackCommands(target, obj));
  }
  return { canary, commands };
}

/** Each stage: what uses the Secret, what rotor switches or refuses, the canary, batches, analysis and windows. */
export async function gatherStages(
  plan: Plan,
  world: World,
  findings: Findings,
): Promise<{ stages: StageReport[]; rollback: string[]; discovered: DiscoveredStage[] }> {
  const acts = createActivities(world.deps);
  world.progress(`discovering the workloads that use ${plan.secret} in ${plan.stages.map((s) => s.namespace).join(', ')} ...`);
  const { stages: discovered, refused } = await discoverStages(world.cluster, {
    secret: plan.secret,
    stages: plan.stages.map((s) => ({ name: s.name, namespace: s.namespace, workloads: s.workloads, ...(s.gitops ? { throughGit: true } : {}) })),
  });
  if (refused.length) findings.refusals.push(`rotor will not switch ${refused.length} workload(s): ${refused.join('; ')}`);
  findings.refusals.push(...discoveryProblems(plan.secret, plan.stages, discovered).map((p) => `nothing to rotate (nothing was changed): ${p}`));
  const type = secretTypeVerdict(discovered, plan.value);
  if ('refusal' in type) findings.refusals.push(type.refusal);
  else findings.notes.push(`the new version keeps the Secret type ${type.type}`);
  await checkOutside(plan, discovered, acts, world, findings);
  await checkClaims(plan, world, findings);

  const reports: StageReport[] = [];
  const rollback: string[][] = [];
  let offsetMs = 0;
  for (const [i, stage] of plan.stages.entries()) {
    const found = discovered[i];
    world.progress(`scanning every reference to ${found.previousVersion ?? plan.secret} in ${stage.namespace} ...`);
    const holders = found.previousVersion
      ? await acts.scanReferences({ secretName: found.previousVersion, namespaces: [stage.namespace], ...scanSettings(plan) })
      : [];
    const live = found.workloads.filter((w) => !viaGit(stage, w));
    const report: StageReport = {
      name: stage.name,
      namespace: stage.namespace,
      strategy: stage.strategy.type === 'canary' ? `canary ${stage.strategy.steps.join('/')}%` : stage.strategy.type,
      versionInUse: found.previousVersion,
      holders: holders.map(holderLine),
      switches: found.workloads.map((w) => ({ kind: w.kind, name: w.name, fields: w.fields, ...(viaGit(stage, w) ? { throughGit: true } : {}) })),
      refused: refused.filter((r) => r.startsWith(`${stage.namespace}: `)).map((r) => r.slice(stage.namespace.length + 2)),
      preflight: await preflightLines(stage),
    };
    const { canary, commands } = await byWorkload(stage, found, world);
    if (canary.length) report.canary = canary;
    rollback.push(commands);
    if (stage.batch && stage.strategy.type !== 'canary' && live.length > 1)
      report.batches = splitBatches(live, stage.batch).map((b) => b.map((w) => `${w.kind}/${w.name}`));
    report.analysis = await analysisOf(stage, found, world, findings);
    if (stage.windows?.length) {
      const now = windowState(stage.windows, world.now);
      const refusal = windowsRefusal(stage.name, now);
      if (refusal) findings.refusals.push(refusal);
      const at = world.now + offsetMs;
      const then = windowState(stage.windows, at);
      const zone = stage.windows[0].timeZone;
      const start = then.open ? at : then.opensAt;
      report.windows = {
        openNow: now.open,
        why: now.why,
        earliestStart:
          start === null
            ? 'never (no window opens)'
            : `${describeInstant(start, zone)}${offsetMs ? ', if the stages before pass at once after their checks and soak' : ''}`,
        refusal,
      };
    }
    offsetMs += leastStageMs(stage);
    reports.push(report);
  }
  // Rolled back in the reverse order of the stages, as rotor's rollback does.
  const commands = rollback.reverse().flat();
  const first = plan.stages[0].namespace;
  return { stages: reports, rollback: commands.length ? [...rollbackPreamble(plan.secret, first), ...commands] : [], discovered };
}
