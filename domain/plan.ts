// The rotation plan: its shape, its defaults and its validation. Pure and deterministic, so the CLI
// validates before starting anything and the workflow validates again in PLANNING.
import { DURATION_HELP, parseDuration } from './duration';
import { VERSION_SUFFIX_LENGTH } from './naming';

export type StoreKind = 'kubernetes' | 'aws-secrets-manager' | 'external-secrets';
export type MetricsProvider = 'prometheus' | 'datadog';
export type WorkloadKind = 'Deployment' | 'StatefulSet' | 'DaemonSet' | 'ReplicaSet' | 'CronJob' | 'Job' | 'Pod';

export const STORE_KINDS: readonly StoreKind[] = ['kubernetes', 'aws-secrets-manager', 'external-secrets'];
export const METRICS_PROVIDERS: readonly MetricsProvider[] = ['prometheus', 'datadog'];
export const WORKLOAD_KINDS: readonly WorkloadKind[] = ['Deployment', 'StatefulSet', 'DaemonSet', 'ReplicaSet', 'CronJob', 'Job', 'Pod'];

/** Where the new value comes from. A plaintext value is never part of a plan. */
export type ValueSource = { generate: { keys: string[]; length: number } } | { fromFile: string } | { awsSecretsManager: { secretId: string } };

export interface WorkloadRef {
  kind: WorkloadKind;
  name: string;
}

export type Strategy = { type: 'rolling' } | { type: 'in-place' } | { type: 'canary'; steps: number[]; pauseMs: number };

export interface Analysis {
  provider: MetricsProvider;
  query: string;
  /** The measurement fails when its value is above the threshold. */
  threshold: number;
  intervalMs: number;
  /** Consecutive failed measurements that fail the stage. */
  failureLimit: number;
  /** Consecutive measurements without data that fail the stage: no data is never a pass. */
  inconclusiveLimit: number;
  /** How long VERIFYING measures right after a rollout. */
  verifyMs: number;
}

export interface Stage {
  name: string;
  namespace: string;
  workloads: 'auto' | WorkloadRef[];
  strategy: Strategy;
  analysis: Analysis | null;
  soakMs: number;
  watchMs: number;
  approval: 'required' | 'none';
  approvalTimeoutMs: number;
  rolloutTimeoutMs: number;
}

export interface Plan {
  secret: string;
  value: ValueSource;
  store: StoreKind;
  stages: Stage[];
  retentionMs: number;
  /** How long to wait before scanning again when cleanup finds workloads still using the old version. */
  cleanupRecheckMs: number;
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

export const DEFAULTS = {
  soak: '24h',
  watch: '24h',
  retention: '14d',
  interval: '1m',
  failureLimit: 1,
  approvalTimeout: '7d',
  rolloutTimeout: '10m',
  cleanupRecheck: '1h',
  generateLength: 32,
} as const;

export const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
export const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
export const SECRET_KEY = /^[-._a-zA-Z0-9]+$/;
const PRODUCTION = /^(prod|production)([-.].*)?$/;
/** Kubernetes caps object names at 253 characters and label values at 63. */
const MAX_SECRET_NAME = 253;
const MAX_LABEL_VALUE = 63;

/**
 * Bounds on a plan's size and rhythm. Every stage and canary step adds activities and events to the
 * workflow's history, measurements are kept in heartbeats, and a metrics backend is queried at the
 * interval: a plan outside these is a mistake, not a bigger rollout.
 */
export const LIMITS = {
  stages: 10,
  canarySteps: 10,
  /** Metrics are scraped every 15–60 s: a shorter interval measures the same data again. */
  minIntervalMs: 10_000,
  /** Consecutive-measurement limits; the last this many measurements ride in every heartbeat. */
  measurementLimit: 100,
  /** Secret keys of a generated value: up to 100 keys of 4096 characters stay far below a Secret's 1 MiB. */
  generateKeys: 100,
  /** Kubernetes refuses a Secret key longer than 253 characters. */
  secretKeyLength: 253,
  /** Any duration: a year. A wait longer than that is a typo, and timers overflow long before forever. */
  maxDurationMs: 365 * 86_400_000,
} as const;

/** The failureLimit and inconclusiveLimit cap before LIMITS, for replaying older rotations. */
const LEGACY_MEASUREMENT_CAP = 1000;

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

function oneOf(values: readonly string[]): string {
  return values.map((v) => `"${v}"`).join(', ');
}

class Checker {
  readonly issues: PlanIssue[] = [];

  /** Whether LIMITS apply: off only to replay rotations started before they existed. */
  constructor(readonly limits: boolean) {}

  /** The largest failureLimit and inconclusiveLimit accepted. */
  get measurementCap(): number {
    return this.limits ? LIMITS.measurementLimit : LEGACY_MEASUREMENT_CAP;
  }

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

  duration(path: string, raw: unknown, fallback: string, opts: { positive?: boolean } = {}): number {
    const parsed = parseDuration(raw === undefined ? fallback : raw);
    if ('error' in parsed) {
      this.add(path, raw, parsed.error);
      return 0;
    }
    if (opts.positive && parsed.ms <= 0) {
      this.add(path, raw, `must be longer than zero; write ${DURATION_HELP}`);
      return 0;
    }
    if (this.limits && parsed.ms > LIMITS.maxDurationMs) {
      this.add(path, raw, `must be at most 365d; write ${DURATION_HELP}`);
      return LIMITS.maxDurationMs;
    }
    return parsed.ms;
  }

  positiveInt(path: string, raw: unknown, fallback: number, max = Number.MAX_SAFE_INTEGER): number {
    const value = raw === undefined ? fallback : raw;
    if (typeof value !== 'number' || !Number.isInteger(value) || value < 1 || value > max) {
      this.add(path, raw, `must be a whole number from 1 to ${max}`);
      return fallback;
    }
    return value;
  }
}

function checkSecretName(c: Checker, raw: unknown): string {
  if (raw === undefined || raw === null || raw === '') {
    c.add('secret', raw, 'is required: the base name of the Secret, e.g. "auth-api-secrets"');
    return '';
  }
  if (typeof raw !== 'string') {
    c.add('secret', raw, 'must be a string, e.g. "auth-api-secrets"');
    return '';
  }
  if (!DNS_SUBDOMAIN.test(raw)) {
    c.add('secret', raw, 'must be a Kubernetes name: lowercase letters, digits, "-" and ".", starting and ending with a letter or digit');
  }
  if (raw.length + VERSION_SUFFIX_LENGTH > MAX_SECRET_NAME) {
    c.add(
      'secret',
      raw,
      `is ${raw.length} characters; with the ${VERSION_SUFFIX_LENGTH}-character version suffix a Secret name must fit in ${MAX_SECRET_NAME}, so use at most ${MAX_SECRET_NAME - VERSION_SUFFIX_LENGTH}`,
    );
  } else if (raw.length > MAX_LABEL_VALUE) {
    c.add('secret', raw, `is ${raw.length} characters; versions carry the base name in a label, and label values hold at most ${MAX_LABEL_VALUE}`);
  }
  return raw;
}

function checkValue(c: Checker, raw: unknown): ValueSource {
  const fallback: ValueSource = { generate: { keys: ['value'], length: DEFAULTS.generateLength } };
  const sources = ['generate', 'fromFile', 'awsSecretsManager'];
  if (!isRecord(raw)) {
    c.add('value', raw, 'is required: one of `generate: { keys: [...], length: 48 }`, `fromFile: ./token.env` or `awsSecretsManager: { secretId: ... }`');
    return fallback;
  }
  c.keys('value', raw, sources);
  const given = sources.filter((s) => raw[s] !== undefined);
  if (given.length !== 1) {
    c.add('value', raw, `must name exactly one source of ${sources.join(', ')}`);
    return fallback;
  }
  if (given[0] === 'generate') {
    const gen = raw.generate;
    if (!isRecord(gen)) {
      c.add('value.generate', gen, 'must be an object such as { keys: [api_token], length: 48 }');
      return fallback;
    }
    c.keys('value.generate', gen, ['keys', 'length']);
    const keys = gen.keys;
    let validKeys: string[] = ['value'];
    if (!Array.isArray(keys) || keys.length === 0) {
      c.add('value.generate.keys', keys, 'must be a non-empty list of Secret keys, e.g. [api_token]');
    } else if (c.limits && keys.length > LIMITS.generateKeys) {
      c.tooMany('value.generate.keys', keys.length, 'keys', `must list at most ${LIMITS.generateKeys} keys; a Secret holds at most 1 MiB`);
    } else {
      keys.forEach((k, i) => {
        if (typeof k !== 'string' || !SECRET_KEY.test(k) || (c.limits && k.length > LIMITS.secretKeyLength)) {
          c.add(`value.generate.keys[${i}]`, k, `must be a Secret key: letters, digits, "-", "_" and ".", at most ${LIMITS.secretKeyLength} characters`);
        }
      });
      const dupes = keys.filter((k, i) => keys.indexOf(k) !== i);
      if (dupes.length) c.add('value.generate.keys', keys, `lists ${show(dupes[0])} twice; each key once`);
      validKeys = keys.map(String);
    }
    const length = c.positiveInt('value.generate.length', gen.length, DEFAULTS.generateLength, 4096);
    if (length < 16) c.add('value.generate.length', gen.length, 'must be at least 16 characters for a credential');
    return { generate: { keys: validKeys, length } };
  }
  if (given[0] === 'fromFile') {
    if (typeof raw.fromFile !== 'string' || raw.fromFile.trim() === '') {
      c.add('value.fromFile', raw.fromFile, 'must be the path of a KEY=value file, e.g. ./token.env');
      return fallback;
    }
    return { fromFile: raw.fromFile };
  }
  const aws = raw.awsSecretsManager;
  if (!isRecord(aws) || typeof aws.secretId !== 'string' || aws.secretId === '') {
    c.add('value.awsSecretsManager', aws, 'must be { secretId: <name or ARN> } of the secret whose AWSPENDING or AWSCURRENT value to use');
    return fallback;
  }
  c.keys('value.awsSecretsManager', aws, ['secretId']);
  return { awsSecretsManager: { secretId: aws.secretId } };
}

function checkStore(c: Checker, raw: unknown): StoreKind {
  if (raw === undefined) return 'kubernetes';
  if (typeof raw !== 'string' || !STORE_KINDS.includes(raw as StoreKind)) {
    c.add('store', raw, `unknown store; use one of ${oneOf(STORE_KINDS)}`);
    return 'kubernetes';
  }
  return raw as StoreKind;
}

function checkWorkloads(c: Checker, path: string, raw: unknown): 'auto' | WorkloadRef[] {
  if (raw === undefined || raw === 'auto') return 'auto';
  if (!Array.isArray(raw) || raw.length === 0) {
    c.add(path, raw, '"auto" (every workload that uses the current version) or a non-empty list such as [deployment/auth-api]');
    return 'auto';
  }
  const refs: WorkloadRef[] = [];
  raw.forEach((item, i) => {
    const m = typeof item === 'string' ? /^([A-Za-z]+)\/([a-z0-9]([-a-z0-9.]*[a-z0-9])?)$/.exec(item) : null;
    const kind = m ? WORKLOAD_KINDS.find((k) => k.toLowerCase() === m[1].toLowerCase()) : undefined;
    if (!m || !kind) {
      c.add(`${path}[${i}]`, item, `must be kind/name with kind one of ${WORKLOAD_KINDS.join(', ')}, e.g. deployment/auth-api`);
      return;
    }
    if (refs.some((r) => r.kind === kind && r.name === m[2])) c.add(`${path}[${i}]`, item, 'is listed twice; list each workload once');
    refs.push({ kind, name: m[2] });
  });
  return refs;
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
    c.keys(`${path}.canary`, canary, ['steps', 'pause']);
    const steps = canary.steps === undefined ? [10, 25, 50, 100] : canary.steps;
    let valid: number[] = [10, 25, 50, 100];
    if (!Array.isArray(steps) || steps.length === 0 || steps.some((s) => typeof s !== 'number' || !Number.isInteger(s) || s < 1 || s > 100)) {
      c.add(`${path}.canary.steps`, steps, 'must be a list of whole percentages from 1 to 100, e.g. [10, 25, 50, 100]');
    } else if (steps.some((s, i) => i > 0 && s <= steps[i - 1])) {
      c.add(`${path}.canary.steps`, steps, 'must increase strictly, e.g. [10, 25, 50, 100]');
    } else if (steps[steps.length - 1] !== 100) {
      c.add(`${path}.canary.steps`, steps, 'must end at 100 so the rollout completes, e.g. [10, 25, 50, 100]');
    } else if (c.limits && steps.length > LIMITS.canarySteps) {
      c.add(`${path}.canary.steps`, steps, `has ${steps.length} steps; use at most ${LIMITS.canarySteps}, e.g. [10, 25, 50, 100]`);
    } else {
      valid = steps as number[];
    }
    const pauseMs = c.duration(`${path}.canary.pause`, canary.pause, '10m');
    return { type: 'canary', steps: valid, pauseMs };
  }
  c.add(path, raw, 'unknown strategy; use "rolling", "in-place" or { canary: { steps: [10, 25, 50, 100], pause: 10m } }');
  return { type: 'rolling' };
}

function checkInterval(c: Checker, path: string, raw: unknown): number {
  const ms = c.duration(path, raw, DEFAULTS.interval, { positive: true });
  if (c.limits && ms > 0 && ms < LIMITS.minIntervalMs) {
    c.add(path, raw, `must be at least 10s: metrics change at their scrape interval, so measuring more often repeats the same data; write e.g. 30s or 1m`);
    return LIMITS.minIntervalMs;
  }
  return ms;
}

function checkAnalysis(c: Checker, path: string, raw: unknown): Analysis | null {
  if (raw === undefined || raw === null) return null;
  if (!isRecord(raw)) {
    c.add(path, raw, 'must be { provider, query, threshold, interval, failureLimit }');
    return null;
  }
  c.keys(path, raw, ['provider', 'query', 'threshold', 'interval', 'failureLimit', 'inconclusiveLimit', 'verify']);
  const provider = raw.provider;
  if (typeof provider !== 'string' || !METRICS_PROVIDERS.includes(provider as MetricsProvider)) {
    c.add(`${path}.provider`, provider, `unknown metrics provider; use one of ${oneOf(METRICS_PROVIDERS)}`);
  }
  if (typeof raw.query !== 'string' || raw.query.trim() === '') {
    c.add(`${path}.query`, raw.query, 'is required: the query whose value is compared with the threshold');
  }
  const threshold = raw.threshold;
  if (typeof threshold !== 'number' || !Number.isFinite(threshold)) {
    c.add(`${path}.threshold`, threshold, 'must be a number (the check fails when the measured value is above it), e.g. 0.01');
  }
  const intervalMs = checkInterval(c, `${path}.interval`, raw.interval);
  const failureLimit = c.positiveInt(`${path}.failureLimit`, raw.failureLimit, DEFAULTS.failureLimit, c.measurementCap);
  // The derived default stays within the cap, so a failureLimit of 100 alone is valid.
  const inconclusiveDefault = c.limits ? Math.min(failureLimit + 2, LIMITS.measurementLimit) : failureLimit + 2;
  const inconclusiveLimit = c.positiveInt(`${path}.inconclusiveLimit`, raw.inconclusiveLimit, inconclusiveDefault, c.measurementCap);
  const verifyMs = c.duration(`${path}.verify`, raw.verify, '0s') || intervalMs * (failureLimit + 2);
  return {
    provider: provider as MetricsProvider,
    query: typeof raw.query === 'string' ? raw.query : '',
    threshold: typeof threshold === 'number' ? threshold : 0,
    intervalMs,
    failureLimit,
    inconclusiveLimit,
    verifyMs,
  };
}

/**
 * A canary step is judged by measuring over its pause: with an analysis, a zero pause would move on
 * with no measurement at all. Without one, a zero pause is allowed: each step still waits for its
 * rollout to be healthy before the next.
 */
function checkCanaryPause(c: Checker, path: string, raw: Record<string, unknown>, strategy: Strategy, analysis: Analysis | null): void {
  if (!c.limits || strategy.type !== 'canary' || !analysis || strategy.pauseMs > 0) return;
  const pause = (raw.strategy as { canary: Record<string, unknown> }).canary.pause;
  // An unparsable pause is already reported; only a pause written as zero is this issue.
  if (!('ms' in parseDuration(pause))) return;
  c.add(
    `${path}.strategy.canary.pause`,
    pause,
    'must be longer than zero when the stage has an analysis: each canary step is judged by measuring over its pause; write e.g. 10m, or remove the analysis to step on rollout health alone',
  );
}

const STAGE_FIELDS = ['name', 'namespace', 'workloads', 'strategy', 'analysis', 'soak', 'watch', 'approval', 'approvalTimeout', 'rolloutTimeout'];

function checkStage(c: Checker, raw: unknown, index: number, last: boolean): Stage | null {
  const path = `stages[${index}]`;
  if (!isRecord(raw)) {
    c.add(path, raw, 'must be a stage such as { name: staging, namespace: staging, strategy: rolling }');
    return null;
  }
  c.keys(path, raw, STAGE_FIELDS);
  const name = raw.name;
  if (typeof name !== 'string' || !DNS_LABEL.test(name) || name.length > 63) {
    c.add(`${path}.name`, name, 'is required: a short lowercase name such as "staging" or "production"');
  }
  const namespace = raw.namespace;
  if (typeof namespace !== 'string' || !DNS_LABEL.test(namespace) || namespace.length > 63) {
    c.add(`${path}.namespace`, namespace, 'is required: a Kubernetes namespace name (lowercase letters, digits and "-", at most 63)');
  }
  let approval: 'required' | 'none' = 'none';
  if (raw.approval === 'required' || raw.approval === true) approval = 'required';
  else if (raw.approval !== undefined && raw.approval !== 'none' && raw.approval !== false) {
    c.add(`${path}.approval`, raw.approval, 'use "required" (wait for `rotor approve` before this stage) or "none"');
  }
  const soak = raw.soak !== undefined ? raw.soak : last ? '0s' : DEFAULTS.soak;
  const watch = raw.watch !== undefined ? raw.watch : last ? DEFAULTS.watch : '0s';
  if (!last && raw.watch !== undefined) {
    c.add(`${path}.watch`, raw.watch, 'only the last stage watches after its rollout; use soak for earlier stages');
  }
  const workloads = checkWorkloads(c, `${path}.workloads`, raw.workloads);
  const strategy = checkStrategy(c, `${path}.strategy`, raw.strategy);
  const analysis = checkAnalysis(c, `${path}.analysis`, raw.analysis);
  checkCanaryPause(c, path, raw, strategy, analysis);
  return {
    name: typeof name === 'string' ? name : '',
    namespace: typeof namespace === 'string' ? namespace : '',
    workloads,
    strategy,
    analysis,
    soakMs: c.duration(`${path}.soak`, soak, DEFAULTS.soak),
    watchMs: c.duration(`${path}.watch`, watch, DEFAULTS.watch),
    approval,
    approvalTimeoutMs: c.duration(`${path}.approvalTimeout`, raw.approvalTimeout, DEFAULTS.approvalTimeout, { positive: true }),
    rolloutTimeoutMs: c.duration(`${path}.rolloutTimeout`, raw.rolloutTimeout, DEFAULTS.rolloutTimeout, { positive: true }),
  };
}

function checkStages(c: Checker, raw: unknown): Stage[] {
  if (!Array.isArray(raw) || raw.length === 0) {
    c.add('stages', raw, 'is required: a list of stages, e.g. staging then production');
    return [];
  }
  if (c.limits && raw.length > LIMITS.stages) {
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

const PLAN_FIELDS = ['secret', 'value', 'store', 'stages', 'retention', 'cleanupRecheck'];

export interface ValidateOptions {
  /**
   * Apply LIMITS (the default). The workflow validates its plan again on every replay, so a rotation
   * started before the limits existed must replay with `limits: false` (behind `patched()`), or a
   * newly refused plan would take another path than its history.
   */
  limits?: boolean;
}

/** Validates a parsed plan document; every problem is reported at once. */
export function validatePlan(raw: unknown, options: ValidateOptions = {}): { plan: Plan; issues: PlanIssue[] } {
  const c = new Checker(options.limits ?? true);
  const doc = isRecord(raw) ? raw : {};
  if (!isRecord(raw)) c.add('(plan)', raw, 'must be a YAML mapping with secret, value, stages and retention');
  else c.keys('', doc, PLAN_FIELDS);
  const plan: Plan = {
    secret: checkSecretName(c, doc.secret),
    value: checkValue(c, doc.value),
    store: checkStore(c, doc.store),
    stages: checkStages(c, doc.stages),
    retentionMs: c.duration('retention', doc.retention, DEFAULTS.retention),
    cleanupRecheckMs: c.duration('cleanupRecheck', doc.cleanupRecheck, DEFAULTS.cleanupRecheck, { positive: true }),
  };
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
