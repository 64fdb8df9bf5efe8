// TEMPORARY (plan-one-source): the validator before the schema held the cross-field rules, to compare with. Deleted before merging.
// The rotation plan: its types and its validation. Pure and deterministic, so the CLI validates before
// starting anything and the workflow validates again in PLANNING. The types are the schema's output
// (plan-schema.ts: bounds, defaults, durations and messages in one place, also published as
// plan.schema.json); every field is checked against its piece of the schema and the plan is built by
// the schema's own transforms, so a plan with issues still has a best-effort shape; what needs more
// than one field is checked here. All issues are reported at once, each with its path, the value
// found and what would be valid.
import type { z } from 'zod';
import { parseDuration } from '../../domain/duration';
import {
  DEFAULTS,
  FIELDS,
  LIMITS,
  approval as approvalSchema,
  awsSecretsManager as awsSchema,
  externalSecrets as externalSecretsSchema,
  awsTarget as awsTargetSchema,
  baseline as baselineSchema,
  canarySteps,
  datadogAggregator as aggregatorSchema,
  datadogApi as apiSchema,
  fromFile as fromFileSchema,
  issuer as issuerSchema,
  generateKeys,
  generateLength,
  monitors as monitorsSchema,
  namespaceName,
  QUERY_VARIABLES,
  provider as providerSchema,
  query as querySchema,
  scanIgnore as scanIgnoreSchema,
  secretName,
  stageName,
  storeKind,
  threshold as thresholdSchema,
  workloadList,
  workloadRef,
  workloads as workloadsSchema,
  SHAPES,
  toAnalysis,
  toCanary,
  toPlan,
  toStage,
  type AnalysisFields,
  type MetricsProvider,
  type PlanOutput,
  type StoreKind,
} from './plan-schema';

export { DEFAULTS, LIMITS, METRICS_PROVIDERS, STORE_KINDS, WORKLOAD_KINDS, WORKLOAD_RESOURCES } from './plan-schema';
export { QUERY_VARIABLES } from './plan-schema';
export type { DatadogAggregator, DatadogApi, MetricsProvider, QueryVariable, StoreKind, WorkloadKind } from './plan-schema';

// The plan's types are what the schema's transforms make of a plan file (plan-schema.ts): durations
// in ms, defaults applied, the strategy tagged, the Datadog settings grouped, the store's target.

/** A plan as rotor runs it. */
export type Plan = PlanOutput;
export type Stage = Plan['stages'][number];
export type Strategy = Stage['strategy'];
export type Analysis = NonNullable<Stage['analysis']>;
export type WorkloadRef = Exclude<Stage['workloads'], 'auto'>[number];
/** Where the new value comes from. A plaintext value is never part of a plan. */
export type ValueSource = Plan['value'];
/** A credential from the worker's issuer: the Secret key it goes into, and the scope to ask for. */
export type IssuerSource = Extract<ValueSource, { issuer: unknown }>['issuer'];
/** The secret a store outside the cluster writes each version to. */
export type StoreTarget = NonNullable<Plan['target']>;
export type ExternalSecretStoreRef = NonNullable<StoreTarget['externalSecrets']>['secretStoreRef'];
export type ScanSettings = NonNullable<Plan['scan']>;

/** The issuer source of a plan's value, if it names one (the workflow then revokes at the issuer too). */
export function issuerSource(value: ValueSource): IssuerSource | null {
  return 'issuer' in value ? value.issuer : null;
}

export interface PlanIssue {
  /** Where in the plan, e.g. `stages[1].strategy.canary.steps`. */
  path: string;
  /** What was found, rendered for a human (never a secret value: plans hold none). */
  value: string;
  /** What is wrong and what would be valid. */
  message: string;
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

const PRODUCTION = /^(prod|production)([-.].*)?$/;

function show(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (typeof value === 'string') return JSON.stringify(value.length > 80 ? `${value.slice(0, 77)}...` : value);
  try {
    const json = JSON.stringify(value);
    return json.length > 80 ? `${json.slice(0, 77)}...` : json;
  } catch {
    return String(value);
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** `base` followed by a zod issue path: `stages[1]` + ['analysis', 'interval']. */
function joinPath(base: string, path: readonly PropertyKey[]): string {
  return path.reduce<string>((out, key) => (typeof key === 'number' ? `${out}[${key}]` : out ? `${out}.${String(key)}` : String(key)), base);
}

function pick(raw: unknown, path: readonly PropertyKey[]): unknown {
  let cur = raw;
  for (const key of path) cur = isRecord(cur) || Array.isArray(cur) ? (cur as Record<PropertyKey, unknown>)[key] : undefined;
  return cur;
}

class Checker {
  readonly issues: PlanIssue[] = [];

  add(path: string, value: unknown, message: string): void {
    this.issues.push({ path, value: show(value), message });
  }

  /** For a list too long to show: the value found is its length. */
  tooMany(path: string, count: number, noun: string, message: string): void {
    this.issues.push({ path, value: `${count} ${noun}`, message });
  }

  /** Unknown keys are almost always typos; name the valid ones. */
  keys(path: string, obj: Record<string, unknown>, allowed: readonly string[]): void {
    for (const key of Object.keys(obj)) {
      if (!allowed.includes(key)) this.add(path ? `${path}.${key}` : key, obj[key], `unknown field; valid fields here are ${allowed.join(', ')}`);
    }
  }

  /**
   * `raw` checked against one piece of the schema, its issues reported with the schema's messages;
   * undefined when invalid. `whole`: a value judged as a whole (canary steps, a source object) is
   * reported once, at its own path.
   */
  field<T>(schema: z.ZodType<T>, path: string, raw: unknown, whole = false): T | undefined {
    const result = schema.safeParse(raw);
    if (result.success) return result.data;
    if (whole) this.add(path, raw, result.error.issues[0].message);
    else for (const issue of result.error.issues) this.add(joinPath(path, issue.path), pick(raw, issue.path), issue.message);
    return undefined;
  }

  /**
   * A duration checked by its piece of the schema, which converts it and gives the default of a
   * field left out (or undefined, for a field whose default depends on others).
   */
  duration<T>(schema: z.ZodType<T>, path: string, raw: unknown): T | number {
    const ms = this.field(schema, path, raw);
    if (ms !== undefined || raw === undefined) return ms as T;
    // An out-of-range duration still stands for what it says, capped; an unparsable one for nothing.
    const parsed = parseDuration(raw);
    return 'ms' in parsed && parsed.ms > LIMITS.maxDurationMs ? LIMITS.maxDurationMs : 0;
  }
}

function checkSecretName(c: Checker, raw: unknown): string {
  c.field(secretName, 'secret', raw);
  return typeof raw === 'string' ? raw : '';
}

function checkValue(c: Checker, raw: unknown): ValueSource {
  const fallback: ValueSource = { generate: { keys: ['value'], length: DEFAULTS.generateLength } };
  if (!isRecord(raw)) {
    c.add(
      'value',
      raw,
      'is required: one of `generate: { keys: [...], length: 48 }`, `fromFile: ./token.env`, `awsSecretsManager: { secretId: ... }` or `issuer: { key: api_token }`',
    );
    return fallback;
  }
  c.keys('value', raw, FIELDS.value);
  const given = FIELDS.value.filter((s) => raw[s] !== undefined);
  if (given.length !== 1) {
    c.add('value', raw, `must name exactly one source of ${FIELDS.value.join(', ')}`);
    return fallback;
  }
  if (given[0] === 'generate') {
    const gen = raw.generate;
    if (!isRecord(gen)) {
      c.add('value.generate', gen, 'must be an object such as { keys: [api_token], length: 48 }');
      return fallback;
    }
    c.keys('value.generate', gen, FIELDS.generate);
    const keys = c.field(generateKeys(), 'value.generate.keys', gen.keys);
    if (keys === undefined && Array.isArray(gen.keys) && gen.keys.length > LIMITS.generateKeys) {
      // A list too long to show is reported by its length.
      const last = c.issues.pop()!;
      c.tooMany(last.path, gen.keys.length, 'keys', last.message);
    }
    const length = c.field(generateLength, 'value.generate.length', gen.length) ?? DEFAULTS.generateLength;
    return { generate: { keys: keys ?? (Array.isArray(gen.keys) && gen.keys.length ? gen.keys.map(String) : ['value']), length } };
  }
  if (given[0] === 'fromFile') {
    const file = c.field(fromFileSchema, 'value.fromFile', raw.fromFile);
    return file === undefined ? fallback : { fromFile: file };
  }
  if (given[0] === 'issuer') {
    const source = c.field(issuerSchema, 'value.issuer', raw.issuer);
    return source === undefined ? fallback : { issuer: { key: source.key, ...(source.scope !== undefined ? { scope: source.scope } : {}) } };
  }
  const aws = c.field(awsSchema, 'value.awsSecretsManager', raw.awsSecretsManager);
  if (aws === undefined) return fallback;
  const { secretId, versionStage, region } = aws;
  return { awsSecretsManager: { secretId, ...(versionStage ? { versionStage } : {}), ...(region ? { region } : {}) } };
}

function checkStore(c: Checker, raw: unknown): StoreKind {
  if (raw === undefined) return 'kubernetes';
  return c.field(storeKind, 'store', raw) ?? 'kubernetes';
}

/** The AWS secret a store outside the cluster writes to: required by those stores, refused by the others. */
function checkStoreTarget(c: Checker, store: StoreKind, raw: unknown): z.output<typeof awsTargetSchema> | undefined {
  const outside = store === 'aws-secrets-manager' || store === 'external-secrets';
  if (raw === undefined) {
    if (outside)
      c.add('awsSecretsManager', raw, `is required with store: ${store}: { secretId: <the secret rotor writes each version to>, region: <optional> }`);
    return undefined;
  }
  if (!outside) {
    c.add('awsSecretsManager', raw, 'is only for store: aws-secrets-manager or external-secrets; remove it, or set the store');
    return undefined;
  }
  return c.field(awsTargetSchema, 'awsSecretsManager', raw);
}

/** The External Secrets Operator store an ExternalSecret reads through: required by store external-secrets, refused by the others. */
function checkExternalSecrets(c: Checker, store: StoreKind, raw: unknown): StoreTarget['externalSecrets'] {
  if (raw === undefined) {
    if (store === 'external-secrets')
      c.add(
        'externalSecrets',
        raw,
        'is required with store: external-secrets: { secretStoreRef: { name: <SecretStore or ClusterSecretStore reading awsSecretsManager.secretId>, kind: ClusterSecretStore } }',
      );
    return undefined;
  }
  if (store !== 'external-secrets') {
    c.add('externalSecrets', raw, 'is only for store: external-secrets; remove it, or set store: external-secrets');
    return undefined;
  }
  return c.field(externalSecretsSchema, 'externalSecrets', raw);
}

function checkWorkloads(c: Checker, path: string, raw: unknown): 'auto' | string[] {
  const listed = c.field(Array.isArray(raw) ? workloadList : workloadsSchema, path, raw);
  if (listed === undefined || listed === 'auto') return 'auto';
  const refs: WorkloadRef[] = [];
  listed.forEach((item, i) => {
    const ref = workloadRef(item);
    if (refs.some((r) => r.kind === ref.kind && r.name === ref.name)) c.add(`${path}[${i}]`, item, 'is listed twice; list each workload once');
    refs.push(ref);
  });
  return listed;
}

function checkStrategy(c: Checker, path: string, raw: unknown): Strategy {
  if (raw === undefined || raw === 'rolling') return { type: 'rolling' };
  if (raw === 'in-place') return { type: 'in-place' };
  if (isRecord(raw) && raw.canary !== undefined) {
    c.keys(path, raw, ['canary']);
    const canary = raw.canary;
    if (!isRecord(canary)) {
      c.add(`${path}.canary`, canary, 'must be { steps: [10, 25, 50, 100], pause: 10m }');
      return { type: 'rolling' };
    }
    c.keys(`${path}.canary`, canary, FIELDS.canary);
    const steps = c.field(canarySteps(), `${path}.canary.steps`, canary.steps, true) ?? [...DEFAULTS.canarySteps];
    return toCanary({ steps, pause: c.duration(SHAPES.canary.pause, `${path}.canary.pause`, canary.pause) });
  }
  c.add(path, raw, 'unknown strategy; use "rolling", "in-place" or { canary: { steps: [10, 25, 50, 100], pause: 10m } }');
  return { type: 'rolling' };
}

function checkAnalysis(c: Checker, path: string, raw: unknown): Analysis | null {
  if (raw === undefined || raw === null) return null;
  if (!isRecord(raw)) {
    c.add(path, raw, 'must be { provider, query, threshold, interval, failureLimit }');
    return null;
  }
  c.keys(path, raw, FIELDS.analysis);
  const provider = c.field(providerSchema, `${path}.provider`, raw.provider);
  const query = c.field(querySchema, `${path}.query`, raw.query);
  const threshold = c.field(thresholdSchema, `${path}.threshold`, raw.threshold);
  const interval = c.field(SHAPES.analysis.interval, `${path}.interval`, raw.interval) ?? ('ms' in parseDuration(raw.interval) ? LIMITS.minIntervalMs : 0);
  // Each limit by its piece of the schema, with its default; an invalid one counts as left out.
  const failureLimit = c.field(SHAPES.analysis.failureLimit, `${path}.failureLimit`, raw.failureLimit) ?? DEFAULTS.failureLimit;
  const inconclusiveLimit = c.field(SHAPES.analysis.inconclusiveLimit, `${path}.inconclusiveLimit`, raw.inconclusiveLimit);
  const consecutiveErrorLimit =
    c.field(SHAPES.analysis.consecutiveErrorLimit, `${path}.consecutiveErrorLimit`, raw.consecutiveErrorLimit) ?? DEFAULTS.consecutiveErrorLimit;
  const verify = c.duration(SHAPES.analysis.verify, `${path}.verify`, raw.verify);
  if (typeof raw.query === 'string') checkQueryVariables(c, `${path}.query`, raw.query);
  const datadog = checkDatadogFields(c, path, raw, provider);
  const baseline = raw.baseline === undefined ? undefined : c.field(baselineSchema, `${path}.baseline`, raw.baseline);
  return toAnalysis({
    provider: provider ?? (raw.provider as MetricsProvider),
    query: query ?? (typeof raw.query === 'string' ? raw.query : ''),
    threshold: threshold ?? 0,
    interval,
    failureLimit,
    inconclusiveLimit,
    consecutiveErrorLimit,
    verify,
    ...datadog,
    baseline,
  });
}

/** `{{name}}` in a query must be one the worker fills in. */
function checkQueryVariables(c: Checker, path: string, query: string): void {
  for (const [, name] of query.matchAll(/\{\{\s*([^}]*?)\s*\}\}/g)) {
    if (!(QUERY_VARIABLES as readonly string[]).includes(name)) {
      c.add(path, query, `names {{${name}}}, which rotor does not fill in; use ${QUERY_VARIABLES.map((v) => `{{${v}}}`).join(', ')}`);
    }
  }
}

/** api, aggregator, monitors and window speak Datadog's language: on another provider they are a mistake. */
function checkDatadogFields(
  c: Checker,
  path: string,
  raw: Record<string, unknown>,
  provider: MetricsProvider | undefined,
): Pick<AnalysisFields, 'api' | 'aggregator' | 'monitors' | 'window'> {
  const given = (['api', 'aggregator', 'monitors', 'window'] as const).filter((f) => raw[f] !== undefined);
  if (provider !== 'datadog') {
    for (const f of given) c.add(`${path}.${f}`, raw[f], `is a Datadog setting; remove it, or use provider: datadog`);
    return {};
  }
  const api = raw.api === undefined ? undefined : c.field(apiSchema, `${path}.api`, raw.api);
  const aggregator = raw.aggregator === undefined ? undefined : c.field(aggregatorSchema, `${path}.aggregator`, raw.aggregator);
  if (api === 'v1' && raw.aggregator !== undefined) {
    c.add(`${path}.aggregator`, raw.aggregator, 'applies to api v2 only (v1 takes the last point); remove it, or use api: v2');
  }
  const monitors = raw.monitors === undefined ? undefined : c.field(monitorsSchema, `${path}.monitors`, raw.monitors);
  return { api, aggregator, monitors, window: c.duration(SHAPES.analysis.window, `${path}.window`, raw.window) };
}

/**
 * A baseline compares the canary's new version with the old one while both run: only a canary has
 * both, and only a query that selects by {{version}} can tell them apart.
 */
function checkBaseline(c: Checker, path: string, strategy: Strategy, analysis: Analysis | null): void {
  if (!analysis?.baseline) return;
  if (strategy.type !== 'canary') {
    c.add(
      `${path}.analysis.baseline`,
      analysis.baseline,
      'compares the new version with the old one while both run, which only a canary does; use strategy { canary: ... }, or remove baseline',
    );
  }
  if (!/\{\{\s*version\s*\}\}/.test(analysis.query)) {
    c.add(
      `${path}.analysis.query`,
      analysis.query,
      'must select by {{version}} when the analysis has a baseline, so the new and the old version are measured apart, e.g. ...{version="{{version}}"}',
    );
  }
}

/**
 * A canary step is judged by measuring over its pause: with an analysis, a zero pause would move on
 * with no measurement at all. Without one, a zero pause is allowed: each step still waits for its
 * rollout to be healthy before the next.
 */
function checkCanaryPause(c: Checker, path: string, raw: Record<string, unknown>, strategy: Strategy, analysis: Analysis | null): void {
  if (strategy.type !== 'canary' || !analysis || strategy.pauseMs > 0) return;
  const pause = (raw.strategy as { canary: Record<string, unknown> }).canary.pause;
  // An unparsable pause is already reported; only a pause written as zero is this issue.
  if (!('ms' in parseDuration(pause))) return;
  c.add(
    `${path}.strategy.canary.pause`,
    pause,
    'must be longer than zero when the stage has an analysis: each canary step is judged by measuring over its pause; write e.g. 10m, or remove the analysis to step on rollout health alone',
  );
}

function checkStage(c: Checker, raw: unknown, index: number, last: boolean): Stage | null {
  const path = `stages[${index}]`;
  if (!isRecord(raw)) {
    c.add(path, raw, 'must be a stage such as { name: staging, namespace: staging, strategy: rolling }');
    return null;
  }
  c.keys(path, raw, FIELDS.stage);
  const name = c.field(stageName, `${path}.name`, raw.name);
  const namespace = c.field(namespaceName, `${path}.namespace`, raw.namespace);
  const approval = c.field(approvalSchema, `${path}.approval`, raw.approval) ?? 'none';
  if (!last && raw.watch !== undefined) {
    c.add(`${path}.watch`, raw.watch, 'only the last stage watches after its rollout; use soak for earlier stages');
  }
  if (last && raw.soak !== undefined) {
    c.add(`${path}.soak`, raw.soak, 'the last stage has no next stage to soak before; use watch (how long to keep measuring after its rollout)');
  }
  if (raw.approvalTimeout !== undefined && approval !== 'required' && approval !== true) {
    c.add(`${path}.approvalTimeout`, raw.approvalTimeout, 'applies only to a stage with approval: required; add that, or remove approvalTimeout');
  }
  const workloads = checkWorkloads(c, `${path}.workloads`, raw.workloads);
  const strategy = checkStrategy(c, `${path}.strategy`, raw.strategy);
  const analysis = checkAnalysis(c, `${path}.analysis`, raw.analysis);
  checkCanaryPause(c, path, raw, strategy, analysis);
  if (strategy.type === 'canary' && isRecord(raw.analysis) && raw.analysis.verify !== undefined) {
    c.add(
      `${path}.analysis.verify`,
      raw.analysis.verify,
      "a canary stage is judged over each step's pause, not a verify window; remove verify, or set strategy.canary.pause",
    );
  }
  checkBaseline(c, path, strategy, analysis);
  const shape = SHAPES.stage;
  const stage = {
    name: name ?? (typeof raw.name === 'string' ? raw.name : ''),
    namespace: namespace ?? (typeof raw.namespace === 'string' ? raw.namespace : ''),
    workloads,
    strategy,
    analysis,
    soak: c.duration(shape.soak, `${path}.soak`, raw.soak),
    watch: c.duration(shape.watch, `${path}.watch`, raw.watch),
    approval,
    approvalTimeout: c.duration(shape.approvalTimeout, `${path}.approvalTimeout`, raw.approvalTimeout),
    rolloutTimeout: c.duration(shape.rolloutTimeout, `${path}.rolloutTimeout`, raw.rolloutTimeout),
  };
  return toStage(stage, last);
}

function checkStages(c: Checker, raw: unknown): Stage[] {
  if (!Array.isArray(raw) || raw.length === 0) {
    c.add('stages', raw, 'is required: a list of stages, e.g. staging then production');
    return [];
  }
  if (raw.length > LIMITS.stages) {
    c.tooMany('stages', raw.length, 'stages', `must be at most ${LIMITS.stages} stages; roll more namespaces with one rotation per group of them`);
  }
  const stages: Stage[] = [];
  // Where each checked stage is in the plan: a stage that is not an object is skipped, and the
  // issues below must still name the index the user wrote.
  const at: number[] = [];
  raw.forEach((item, i) => {
    const stage = checkStage(c, item, i, i === raw.length - 1);
    if (stage) {
      stages.push(stage);
      at.push(i);
    }
  });
  stages.forEach((stage, j) => {
    const i = at[j];
    const earlierName = stages.findIndex((s) => s.name === stage.name);
    if (stage.name && earlierName < j) c.add(`stages[${i}].name`, stage.name, `duplicates stages[${at[earlierName]}].name; every stage needs its own name`);
    const earlierNs = stages.findIndex((s) => s.namespace === stage.namespace);
    if (stage.namespace && earlierNs < j) {
      c.add(`stages[${i}].namespace`, stage.namespace, `is already rolled by stages[${at[earlierNs]}]; each stage rolls its own namespace`);
    }
    const isProduction = PRODUCTION.test(stage.name) || PRODUCTION.test(stage.namespace);
    if (isProduction && i === 0) {
      c.add(
        `stages[${i}]`,
        stage.name || stage.namespace,
        'production needs a prior stage (e.g. staging) that proves the new version first; add one before it',
      );
    }
    if (isProduction && stage.strategy.type === 'in-place') {
      c.add(`stages[${i}].strategy`, 'in-place', 'in-place is for dev namespaces only; production uses "rolling" or a canary');
    }
  });
  return stages;
}

function checkScan(c: Checker, raw: unknown): { ignore?: string[] } | undefined {
  if (raw === undefined) return undefined;
  if (!isRecord(raw)) {
    c.add('scan', raw, 'must be { ignore: [<resource>.<group>, ...] }, e.g. { ignore: [widgets.example.com] }');
    return undefined;
  }
  c.keys('scan', raw, FIELDS.scan);
  return { ignore: raw.ignore === undefined ? undefined : c.field(scanIgnoreSchema, 'scan.ignore', raw.ignore) };
}

/** Validates a parsed plan document; every problem is reported at once. */
export function validatePlan(raw: unknown): { plan: Plan; issues: PlanIssue[] } {
  const c = new Checker();
  const doc = isRecord(raw) ? raw : {};
  if (!isRecord(raw)) c.add('(plan)', raw, 'must be a YAML mapping with secret, value, stages and retention');
  else c.keys('', doc, FIELDS.plan);
  const store = checkStore(c, doc.store);
  const awsSecretsManager = checkStoreTarget(c, store, doc.awsSecretsManager);
  const externalSecrets = checkExternalSecrets(c, store, doc.externalSecrets);
  if (isRecord(doc.value) && doc.value.awsSecretsManager !== undefined && store === 'kubernetes') {
    c.add(
      'value.awsSecretsManager',
      doc.value.awsSecretsManager,
      "is read by the worker's AWS store: set store: aws-secrets-manager and awsSecretsManager: { secretId } (the secret each version is written to), or take the value from generate, fromFile or issuer",
    );
  }
  const fields = {
    secret: checkSecretName(c, doc.secret),
    value: checkValue(c, doc.value),
    store,
    awsSecretsManager,
    externalSecrets,
    stages: checkStages(c, doc.stages),
    retention: c.duration(SHAPES.plan.retention, 'retention', doc.retention),
    cleanupRecheck: c.duration(SHAPES.plan.cleanupRecheck, 'cleanupRecheck', doc.cleanupRecheck),
  };
  const plan: Plan = toPlan({ ...fields, scan: checkScan(c, doc.scan) });
  return { plan, issues: c.issues };
}

/** Validates and returns the plan, or throws PlanValidationError with every issue. */
export function parsePlan(raw: unknown): Plan {
  const { plan, issues } = validatePlan(raw);
  if (issues.length) throw new PlanValidationError(issues);
  return plan;
}

/** `rotate-<namespace of the first stage>-<secret>`: one running rotation per secret and namespace. */
export function rotationWorkflowId(plan: Pick<Plan, 'secret' | 'stages'>): string {
  return `rotate-${plan.stages[0]?.namespace ?? 'default'}-${plan.secret}`;
}
