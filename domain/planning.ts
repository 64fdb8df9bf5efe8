// What PLANNING refuses, as pure rules over what the cluster answered: the workflow (workflows/prepare.ts,
// workflows/windows.ts) fails the rotation with them, and `rotor plan` names them without starting one.
import { nothingInUseText, type Absence } from './absent';
import type { Stage, ValueSource } from './plan';
import { planSecretType, sourceRefusal } from './secret-types';
import type { WindowState } from './windows';

/** What discovery found in a stage's namespace, as far as these rules read it. */
interface FoundInStage {
  previousVersion: string | null;
  workloads: readonly unknown[];
  missing: string[];
  absence?: Absence;
  previousType?: string;
}

/** Why the discovered stages leave nothing to rotate: one sentence per cause, each naming the fix. */
export function discoveryProblems(secret: string, stages: readonly { namespace: string }[], discovered: readonly FoundInStage[]): string[] {
  const problems: string[] = [];
  stages.forEach((stage, i) => {
    const found = discovered[i];
    if (!found.previousVersion) problems.push(nothingInUseText(secret, stage.namespace, found.absence));
    else if (found.workloads.length === 0) problems.push(`no workload in ${stage.namespace} uses ${found.previousVersion}`);
    if (found.missing.length) problems.push(`listed workload(s) ${found.missing.join(', ')} in ${stage.namespace} do not use ${found.previousVersion}`);
  });
  return problems;
}

/**
 * The new version keeps the previous versions' Secret type: previous versions of different types, or a
 * value source that cannot make that type, are refused (the sentence PLANNING fails with); else the type.
 */
export function secretTypeVerdict(
  discovered: readonly { namespace: string; previousType?: string }[],
  value: ValueSource,
): { type: string } | { refusal: string } {
  const planned = planSecretType([...discovered]);
  if ('refusal' in planned) return { refusal: `the Secret's type cannot be kept (nothing was changed): ${planned.refusal}` };
  const refusal = sourceRefusal(planned.type, value);
  if (refusal) return { refusal: `the plan's value cannot make a ${planned.type} Secret (nothing was changed): ${refusal}` };
  return planned;
}

/** A stage whose change windows never open (within the horizon) is refused; null when they open. */
export function windowsRefusal(stage: string, state: WindowState): string | null {
  return !state.open && state.opensAt === null ? `${stage}: no change window opens (nothing was changed): ${state.why}; fix stages[].windows` : null;
}

/** A stage's Git target (its gitops settings without the wait); pushMode only when branch, so direct's inputs stay as they were. */
export function gitTargetOf(g: NonNullable<Stage['gitops']>): {
  repo: string;
  branch: string;
  path: string;
  author: { name: string; email: string };
  pushMode?: 'branch';
} {
  return { repo: g.repo, branch: g.branch, path: g.path, author: g.author, ...(g.pushMode === 'branch' ? { pushMode: g.pushMode } : {}) };
}
