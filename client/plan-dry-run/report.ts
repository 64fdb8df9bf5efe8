// What `rotor plan` found, as one object (printed whole by -o json|yaml), and its text for a person.
import type { CanaryStep } from './facts';

/** Exit codes of `rotor plan`: the plan would run; PLANNING would refuse it; rotor could not tell. */
export const PLAN_EXIT = { runs: 0, cannotTell: 1, refused: 2 } as const;

interface HolderLine {
  kind: string;
  namespace: string;
  name: string;
  /** How it refers: env, envFrom, volume, projected volume, CSI volume, imagePullSecrets, or the field. */
  refersBy: string[];
  fields: string[];
  /** Set when the scan could not read this resource (it may refer). */
  unreadable?: string;
}

export interface StageReport {
  name: string;
  namespace: string;
  strategy: string;
  /** The version the namespace's workloads use now. */
  versionInUse: string | null;
  holders: HolderLine[];
  /** What rotor would switch: `Kind/name` and the fields. */
  switches: { kind: string; name: string; fields: string[]; throughGit?: boolean }[];
  /** What PLANNING refuses in this stage, each with why. */
  refused: string[];
  canary?: { workload: string; replicas: number; steps: CanaryStep[] }[];
  batches?: string[][];
  analysis?: { provider: string; query: string; threshold: number; measured: { value: number | null; phase: string; message?: string } };
  windows?: { openNow: boolean; why: string; earliestStart: string; refusal: string | null };
  /** Pre-flight checks (preflight.ts). */
  preflight: string[];
}

export interface PlanReport {
  secret: string;
  context: string;
  cluster: string;
  checkedAt: string;
  verdict: 'would run' | 'refused' | 'cannot tell';
  exitCode: number;
  /** Why PLANNING would refuse the plan, each named. */
  refusals: string[];
  /** What could not be told (a store, an issuer or a metric provider that did not answer here). */
  unknowns: string[];
  /** What PLANNING would note (store and issuer answers, the Secret type kept). */
  notes: string[];
  stages: StageReport[];
  cleanup: { at: string; deletes: { version: string; namespaces: string[]; store: string | null; waitsFor: string[] }[] };
  rollback: { note: string; commands: string[] };
}

const indent = (lines: string[], by = '    ') => lines.map((l) => `${by}${l}`);

function holderText(h: HolderLine, namespace: string): string {
  if (h.unreadable) return `${h.kind} (could not be read: ${h.unreadable})`;
  const where = h.namespace === namespace ? '' : ` in ${h.namespace}`;
  return `${h.kind}/${h.name}${where}: ${[...new Set(h.refersBy)].join(', ')} (${h.fields.join(', ')})`;
}

function stageText(s: StageReport): string[] {
  const lines = [`stage ${s.name} (namespace ${s.namespace}, ${s.strategy}): ${s.versionInUse ? `uses ${s.versionInUse}` : 'no version in use'}`];
  lines.push('  holders (every object the reference scan finds):', ...indent(s.holders.length ? s.holders.map((h) => holderText(h, s.namespace)) : ['(none)']));
  lines.push(
    '  rotor switches:',
    ...indent(
      s.switches.length ? s.switches.map((w) => `${w.kind}/${w.name}${w.throughGit ? ' (by a commit to Git)' : ''}: ${w.fields.join(', ')}`) : ['(nothing)'],
    ),
  );
  if (s.refused.length) lines.push('  rotor refuses:', ...indent(s.refused));
  for (const c of s.canary ?? [])
    lines.push(
      `  canary of ${c.workload} (${c.replicas} replica${c.replicas === 1 ? '' : 's'}):`,
      ...indent(
        c.steps.map(
          (st) =>
            `${String(st.weightPercent).padStart(3)}%: blue ${st.blue}, green ${st.green}${st.weightPercent >= 100 ? ' (blue on the new version; green removed when the canary completes)' : ''}`,
        ),
      ),
    );
  if (s.batches) lines.push(`  batches (${s.batches.length}):`, ...indent(s.batches.map((b, i) => `${i + 1}: ${b.join(', ')}`)));
  if (s.analysis) {
    const m = s.analysis.measured;
    lines.push(
      `  analysis (${s.analysis.provider}, fails above ${s.analysis.threshold}): ${s.analysis.query}`,
      `    measured now: ${m.value ?? 'no data'} (${m.phase}${m.message ? `: ${m.message}` : ''})`,
    );
  }
  if (s.windows) lines.push(`  windows: ${s.windows.openNow ? 'open now' : 'closed now'}: ${s.windows.why}`, `    earliest start: ${s.windows.earliestStart}`);
  lines.push(`  pre-flight checks:`, ...indent(s.preflight.length ? s.preflight : ['(none)']));
  return lines;
}

/** The report as a person reads it: per stage, then cleanup, the rollback procedure, and the verdict last. */
export function formatPlanReport(r: PlanReport): string {
  const lines = [`rotor plan for ${r.secret} (context ${r.context}, cluster ${r.cluster}, ${r.checkedAt}); nothing was changed`, ''];
  for (const s of r.stages) lines.push(...stageText(s), '');
  lines.push(`cleanup, at the earliest ${r.cleanup.at}:`);
  for (const d of r.cleanup.deletes)
    lines.push(
      `    delete ${d.version} in ${d.namespaces.join(', ')}${d.store ? ` and its version in the ${d.store} store` : ''}, once nothing refers to it${d.waitsFor.length ? `; waits for: ${d.waitsFor.join(', ')}` : ''}`,
    );
  lines.push('', `rollback by hand (if rotor itself is down): ${r.rollback.note}`, ...indent(r.rollback.commands), '');
  if (r.notes.length) lines.push('notes:', ...indent(r.notes));
  if (r.unknowns.length) lines.push('could not tell:', ...indent(r.unknowns));
  if (r.refusals.length) lines.push('PLANNING would refuse this plan:', ...indent(r.refusals.map((x, i) => `${i + 1}. ${x}`)));
  lines.push(`verdict: ${r.verdict} (exit ${r.exitCode})`);
  return lines.join('\n');
}
