// `rotor plan -f plan.yaml`: a dry run of PLANNING and of what would follow, against the cluster of the
// kubeconfig kubectl would use and the stores, issuer and metric providers of the worker's settings
// (read-only); no Temporal server. Loaded only by that command.
//   gather.ts    the world, asked through the worker's adapters and PLANNING's own functions
//   facts.ts     how a holder refers; canary replicas per step; a stage's least duration
//   rollback.ts  the kubectl commands that undo each switch, for when rotor itself is down
//   preflight.ts the stages' pre-flight checks, and whether each HTTP check's endpoint answers
//   report.ts    the report, its text, and the exit codes
import { KubernetesCluster, loadKubeConfig, type KubeConfigOptions } from '../../activities/kubernetes';
import type { Plan } from '../../domain/plan';
import { formatDuration } from '../../domain/duration';
import { workerConfig } from '../../worker/config';
import { buildDeps } from '../../worker/deps';
import { structured } from '../output';
import { isStructured, type OutputFormat } from '../output-format';
import { explainClusterError } from '../versions';
import { gatherStages, type Findings } from './gather';
import { leastStageMs } from './facts';
import { formatPlanReport, PLAN_EXIT, type PlanReport, type StageReport } from './report';
import type { DiscoveredStage } from '../../contract/activities';

export interface PlanOptions extends KubeConfigOptions {
  output?: OutputFormat;
  /** Where progress goes (stderr). */
  progress?: (line: string) => void;
  now?: number;
}

/** What cleanup deletes and when: each previous version where it was used, after watch and retention, once nothing holds it. */
function cleanupOf(plan: Plan, stages: StageReport[], discovered: DiscoveredStage[], now: number): PlanReport['cleanup'] {
  const last = plan.stages[plan.stages.length - 1];
  const at = now + plan.stages.reduce((ms, s) => ms + leastStageMs(s), 0) + last.watchMs + plan.retentionMs;
  const byVersion = new Map<string, { namespaces: string[]; waitsFor: string[] }>();
  stages.forEach((s, i) => {
    const version = discovered[i].previousVersion;
    if (!version) return;
    const entry = byVersion.get(version) ?? { namespaces: [], waitsFor: [] };
    entry.namespaces.push(s.namespace);
    // What rotor does not switch keeps the version; pods and ReplicaSets go with their workload's rollout.
    const switched = (h: { kind: string; name: string }) => s.switches.some((w) => w.kind === h.kind && w.name === h.name);
    for (const h of s.holders)
      if (!switched(h) && h.kind !== 'Pod' && h.kind !== 'ReplicaSet')
        entry.waitsFor.push(h.unreadable ? `${h.kind} (unreadable)` : `${h.kind}/${h.name} in ${h.namespace}`);
    byVersion.set(version, entry);
  });
  return {
    at: `${new Date(at).toISOString()} (after ${formatDuration(at - now)}: the stages' checks and soaks, ${formatDuration(last.watchMs)} of watch, ${formatDuration(plan.retentionMs)} of retention)`,
    deletes: [...byVersion].map(([version, e]) => ({
      version,
      namespaces: e.namespaces,
      store: plan.store === 'kubernetes' ? null : plan.store,
      waitsFor: e.waitsFor,
    })),
  };
}

/** The dry run: the report, printed as asked, and the exit code (PLAN_EXIT). */
export async function planCommand(plan: Plan, options: PlanOptions = {}, env: NodeJS.ProcessEnv = process.env): Promise<{ text: string; code: number }> {
  const progress = options.progress ?? (() => undefined);
  const now = options.now ?? Date.now();
  const kube = { kubeconfig: options.kubeconfig, context: options.context };
  const loaded = loadKubeConfig(kube, env);
  // The worker's adapters, from this environment (ROTOR_PROMETHEUS_URL, DD_*, ROTOR_STORES, ROTOR_ISSUER_URL, ROTOR_GIT_*).
  const deps = buildDeps(workerConfig(env, { backend: 'kubernetes', kube }), () => undefined);
  const findings: Findings = { refusals: [], unknowns: [], notes: [] };
  const { stages, rollback, discovered } = await gatherStages(plan, { deps, cluster: deps.cluster as KubernetesCluster, progress, now }, findings).catch(
    explainClusterError(loaded, options.kubeconfig, plan.stages[0].namespace),
  );
  const code = findings.refusals.length ? PLAN_EXIT.refused : findings.unknowns.length ? PLAN_EXIT.cannotTell : PLAN_EXIT.runs;
  const report: PlanReport = {
    secret: plan.secret,
    context: loaded.context,
    cluster: loaded.kc.getCurrentCluster()?.server ?? '(unknown)',
    checkedAt: new Date(now).toISOString(),
    verdict: code === PLAN_EXIT.refused ? 'refused' : code === PLAN_EXIT.cannotTell ? 'cannot tell' : 'would run',
    exitCode: code,
    ...findings,
    stages,
    cleanup: cleanupOf(plan, stages, discovered, now),
    rollback: {
      note: 'run in order; each patch sets exactly the fields rotor switches back to the previous version (whatever they name then), and fails rather than touch another field if a list was reordered',
      commands: rollback,
    },
  };
  return { text: isStructured(options.output) ? structured(report, options.output) : formatPlanReport(report), code };
}
