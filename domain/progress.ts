// Where a rotation stands on its happy path, for the CLI's progress bar. Pure.
import type { Plan } from './plan';

/** The steps of a rotation that succeeds, in order; each is `phase` or `phase:stage[:percent]`. */
export function plannedSteps(plan: Pick<Plan, 'stages'>): string[] {
  const steps = ['PLANNING', 'CREATING'];
  plan.stages.forEach((stage, i) => {
    if (stage.approval === 'required') steps.push(`AWAITING_APPROVAL:${stage.name}`);
    if (stage.strategy.type === 'canary') {
      for (const pct of stage.strategy.steps) steps.push(`DEPLOYING:${stage.name}:${pct}`, `VERIFYING:${stage.name}:${pct}`);
    } else {
      steps.push(`DEPLOYING:${stage.name}`);
      if (stage.analysis) steps.push(`VERIFYING:${stage.name}`);
    }
    if (i < plan.stages.length - 1 && stage.soakMs > 0) steps.push(`SOAKING:${stage.name}`);
  });
  const last = plan.stages[plan.stages.length - 1];
  if (last && last.watchMs > 0) steps.push(`WATCHING:${last.name}`);
  steps.push('RETAINING', 'CLEANING_UP', 'COMPLETED');
  return steps;
}

export function stepKey(phase: string, stage: string | null, canaryPercent: number | null): string {
  return [phase, stage, canaryPercent].filter((x) => x !== null && x !== undefined).join(':');
}
