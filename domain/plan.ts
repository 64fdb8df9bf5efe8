// The rotation plan: its types and its validation. Pure and deterministic, so the CLI validates before
// starting anything and the workflow validates again in PLANNING. The schema (plan-schema.ts: bounds,
// defaults, durations, messages and the cross-field rules, also published as plan.schema.json) checks a
// plan and makes the plan rotor runs; its issues are reported all at once, each with its path, the
// value found and what would be valid (plan-issues.ts).
import { planIssues, type PlanIssue } from './plan-issues';
import { isRecord } from './plan-parsing';
import type { z } from 'zod';
import { planSchema, SHAPES, toAnalysis, toCanary, toStage, type AnalysisFields, type PlanOutput, type StageFields } from './plan-schema';

export { STORE_KINDS, WORKLOAD_KINDS, WORKLOAD_RESOURCES } from './plan-schema';
export type { DatadogAggregator, DatadogApi, MetricsProvider, StoreKind, WorkloadKind } from './plan-schema';
export type { PlanIssue } from './plan-issues';
export { rotationWorkflowId } from './naming';

// The plan's types are what the schema's transforms make of a plan file (plan-schema.ts): durations
// in ms, defaults applied, the strategy tagged, the Datadog settings grouped, the store's target.

/** A plan as rotor runs it. */
export type Plan = PlanOutput;
export type Stage = Plan['stages'][number];
type Strategy = Stage['strategy'];
export type Analysis = NonNullable<Stage['analysis']>;
export type WorkloadRef = Exclude<Stage['workloads'], 'auto'>[number];
/** Where the new value comes from. A plaintext value is never part of a plan. */
export type ValueSource = Plan['value'];
/** A credential from the worker's issuer: the Secret key it goes into, and the scope to ask for. */
export type IssuerSource = Extract<ValueSource, { issuer: unknown }>['issuer'];
/** The secret a store outside the cluster writes each version to. */
export type StoreTarget = NonNullable<Plan['target']>;
export type ExternalSecretStoreRef = NonNullable<StoreTarget['externalSecrets']>['secretStoreRef'];

/** The issuer source of a plan's value, if it names one (the workflow then revokes at the issuer too). */
export function issuerSource(value: ValueSource): IssuerSource | null {
  return 'issuer' in value ? value.issuer : null;
}

export class PlanValidationError extends Error {
  constructor(readonly issues: PlanIssue[]) {
    super(`the plan has ${issues.length} error${issues.length === 1 ? '' : 's'}:\n${formatIssues(issues)}`);
    this.name = 'PlanValidationError';
  }
}

export function formatIssues(issues: PlanIssue[]): string {
  return issues.map((i) => `  - ${i.path}: ${i.message} (found: ${i.value})`).join('\n');
}

const text = (value: unknown) => (typeof value === 'string' ? value : '');
const schema = planSchema();
/** A plan's defaults. */
const DEFAULT_PLAN: Plan = schema.parse({ secret: 'x', value: { generate: { keys: ['value'] } }, stages: [{ name: 'x', namespace: 'x' }] });

/** The fields of `shape` in `raw`, each as its piece of the schema makes it where valid, as left out where not. */
function leniently(shape: Record<string, z.ZodType>, raw: Record<string, unknown>): Record<string, unknown> {
  const fields = Object.entries(shape).map(([key, piece]) => {
    const parsed = piece.safeParse(raw[key]);
    return [key, parsed.success ? parsed.data : piece.safeParse(undefined).data];
  });
  return Object.fromEntries(fields);
}

/**
 * What a plan with issues stands for meanwhile (the workflow shows it while it fails PLANNING): its
 * secret and its stages, each field as the schema makes it where valid, as left out where not.
 */
function meanwhile(raw: unknown): Plan {
  const doc = isRecord(raw) ? raw : {};
  const written = Array.isArray(doc.stages) ? doc.stages.filter(isRecord) : [];
  const stages = written.map((s, i) => {
    const stage = { ...leniently(SHAPES.stage, s), name: text(s.name), namespace: text(s.namespace) } as StageFields<Strategy, Analysis>;
    const canary = isRecord(s.strategy) && isRecord(s.strategy.canary) ? s.strategy.canary : null;
    if (canary && stage.strategy.type !== 'canary') stage.strategy = toCanary(leniently(SHAPES.canary, canary) as { steps: number[]; pause: number });
    if (!stage.analysis && isRecord(s.analysis)) stage.analysis = toAnalysis(leniently(SHAPES.analysis, s.analysis) as unknown as AnalysisFields);
    return toStage(stage, i === written.length - 1);
  });
  return { ...DEFAULT_PLAN, secret: text(doc.secret), stages };
}

/** Validates a parsed plan document; every problem is reported at once. */
export function validatePlan(raw: unknown): { plan: Plan; issues: PlanIssue[] } {
  const result = schema.safeParse(raw);
  if (result.success) return { plan: result.data, issues: [] };
  return { plan: meanwhile(raw), issues: planIssues(raw, result.error.issues) };
}

/** Validates and returns the plan, or throws PlanValidationError with every issue. */
export function parsePlan(raw: unknown): Plan {
  const { plan, issues } = validatePlan(raw);
  if (issues.length) throw new PlanValidationError(issues);
  return plan;
}
