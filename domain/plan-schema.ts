// The plan's schema, in one place: the fields, their bounds, their defaults, what each says when it is
// wrong, and the cross-field rules each object runs (plan-rules.ts). validatePlan (plan.ts) parses a
// plan with it and reports its issues (plan-issues.ts); `planJsonSchema()` publishes it as
// `plan.schema.json` (`npm run schema`, `rotor schema`) for editors and CI linters.
import { z } from 'zod';
import { DURATION_HELP, formatDuration, parseDuration } from './duration';
import { VERSION_SUFFIX_LENGTH } from './naming';
import { choice, counted, fields, intercept, isRecord, whole, withRules, type Rule } from './plan-parsing';
import { analysisRules, notifyRules, preflightKeyRules, stageRules, stagesRules, storeRules } from './plan-rules';
import { MAX_WINDOW_DURATION_MS, scheduleProblem, timeZoneProblem, type ChangeWindow } from './windows';
import { NOTIFY_EVENTS, SINK_NAME, type NotifyRoute } from './notify';
import { templateProblem, type HttpPreflight, type JobPreflight, type PreflightCheck, type SecretMount } from './preflight';

export type StoreKind = 'kubernetes' | 'aws-secrets-manager' | 'external-secrets';
export type MetricsProvider = 'prometheus' | 'datadog';
export type WorkloadKind = 'Deployment' | 'StatefulSet' | 'DaemonSet' | 'ReplicaSet' | 'CronJob' | 'Job' | 'Pod';

export const STORE_KINDS: readonly StoreKind[] = ['kubernetes', 'aws-secrets-manager', 'external-secrets'];
const METRICS_PROVIDERS: readonly MetricsProvider[] = ['prometheus', 'datadog'];
export const WORKLOAD_KINDS: readonly WorkloadKind[] = ['Deployment', 'StatefulSet', 'DaemonSet', 'ReplicaSet', 'CronJob', 'Job', 'Pod'];

const DEFAULTS = {
  soak: '24h',
  watch: '24h',
  retention: '14d',
  interval: '1m',
  failureLimit: 1,
  consecutiveErrorLimit: 4,
  approvalTimeout: '7d',
  rolloutTimeout: '10m',
  cleanupRecheck: '1h',
  generateLength: 32,
  canarySteps: [10, 25, 50, 100] as readonly number[],
  canaryPause: '10m',
  datadogApi: 'v2',
  datadogAggregator: 'avg',
} as const;

export type DatadogApi = 'v1' | 'v2';
export type DatadogAggregator = 'avg' | 'sum' | 'min' | 'max' | 'last';
const DATADOG_APIS: readonly DatadogApi[] = ['v1', 'v2'];
const DATADOG_AGGREGATORS: readonly DatadogAggregator[] = ['avg', 'sum', 'min', 'max', 'last'];
type GitPushMode = 'direct' | 'branch';
const GIT_PUSH_MODES: readonly GitPushMode[] = ['direct', 'branch'];

/**
 * Bounds on a plan's size and rhythm. Every stage and canary step adds activities and events to the
 * workflow's history, measurements are kept in heartbeats, and a metrics backend is queried at the
 * interval: a plan outside these is a mistake, not a bigger rollout.
 */
const LIMITS = {
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

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const SECRET_KEY = /^[-._a-zA-Z0-9]+$/;
/** `kind/name`, the kind in any case. */
const WORKLOAD_REF = /^([A-Za-z]+)\/([a-z0-9]([-a-z0-9.]*[a-z0-9])?)$/;
/** Kubernetes caps object names at 253 characters and label values at 63. */
const MAX_SECRET_NAME = 253;
const MAX_LABEL_VALUE = 63;
const DURATION_PATTERN = '^\\s*(\\d+(ms|s|m|h|d))+\\s*$';

const oneOf = (values: readonly string[]) => values.map((v) => `"${v}"`).join(', ');

// --- leaves: one field each, with its bounds and its message ------------------------------------

const SECRET_REQUIRED = 'is required: the base name of the Secret, e.g. "auth-api-secrets"';
const secretName = z
  .string({ error: (iss) => (iss.input === undefined || iss.input === null ? SECRET_REQUIRED : 'must be a string, e.g. "auth-api-secrets"') })
  .min(1, { error: SECRET_REQUIRED, abort: true })
  .regex(DNS_SUBDOMAIN, { error: 'must be a Kubernetes name: lowercase letters, digits, "-" and ".", starting and ending with a letter or digit' })
  .max(MAX_LABEL_VALUE, {
    error: (iss) => {
      const length = String(iss.input).length;
      return length + VERSION_SUFFIX_LENGTH > MAX_SECRET_NAME
        ? `is ${length} characters; with the ${VERSION_SUFFIX_LENGTH}-character version suffix a Secret name must fit in ${MAX_SECRET_NAME}, so use at most ${MAX_SECRET_NAME - VERSION_SUFFIX_LENGTH}`
        : `is ${length} characters; versions carry the base name in a label, and label values hold at most ${MAX_LABEL_VALUE}`;
    },
  })
  .meta({ description: 'the base name; versions are <secret>-<YYYYMMDDHHMMSS> (UTC)', examples: ['auth-api-secrets'] });

const storeKind = z
  .enum(STORE_KINDS as [StoreKind, ...StoreKind[]], { error: `unknown store; use one of ${oneOf(STORE_KINDS)}` })
  .meta({ description: 'where the value is kept besides the versioned Secret' });

/**
 * A duration such as `10m`, at most 365d. `positive`: longer than zero; `min`: at least that many ms
 * (with its own message); `max`: at most that many ms instead of 365d.
 */
function duration(description: string, bounds: { positive?: boolean; min?: { ms: number; message: string }; max?: number } = {}) {
  const error = (iss: { input?: unknown }) => {
    const parsed = parseDuration(iss.input);
    return 'error' in parsed ? parsed.error : `expected ${DURATION_HELP}`;
  };
  let d = z
    .string({ error })
    .refine((v) => 'ms' in parseDuration(v), { error, abort: true })
    .transform((v) => (parseDuration(v) as { ms: number }).ms);
  if (bounds.positive) d = d.refine((ms) => ms > 0, { error: `must be longer than zero; write ${DURATION_HELP}`, abort: true });
  if (bounds.min) {
    const min = bounds.min;
    d = d.refine((ms) => ms <= 0 || ms >= min.ms, { error: min.message, abort: true });
  }
  const max = formatDuration(bounds.max ?? LIMITS.maxDurationMs);
  d = d.refine((ms) => ms <= (bounds.max ?? LIMITS.maxDurationMs), { error: `must be at most ${max}; write ${DURATION_HELP}`, abort: true });
  return d.meta({ pattern: DURATION_PATTERN, description: `${description}; ${DURATION_HELP}, at most ${max}` });
}

/** A whole number from 1 to `max`. */
function wholeNumber(max: number, description: string) {
  const error = `must be a whole number from 1 to ${max}`;
  return z.number({ error }).int({ error, abort: true }).min(1, { error, abort: true }).max(max, { error, abort: true }).meta({ description });
}

const generateLength = wholeNumber(4096, 'characters per generated value')
  .min(16, { error: 'must be at least 16 characters for a credential' })
  .default(DEFAULTS.generateLength);

function generateKeys() {
  const listError = 'must be a non-empty list of Secret keys, e.g. [api_token]';
  const keyError = `must be a Secret key: letters, digits, "-", "_" and ".", at most ${LIMITS.secretKeyLength} characters`;
  const key = z.string({ error: keyError }).regex(SECRET_KEY, { error: keyError }).max(LIMITS.secretKeyLength, { error: keyError });
  const keys = z
    .array(key, { error: listError })
    .min(1, { error: listError, abort: true })
    .max(LIMITS.generateKeys, { error: `must list at most ${LIMITS.generateKeys} keys; a Secret holds at most 1 MiB`, abort: true })
    .refine((keys) => new Set(keys).size === keys.length, {
      error: (iss) => {
        const keys = iss.input as string[];
        return `lists ${JSON.stringify(keys.find((k, i) => keys.indexOf(k) !== i))} twice; each key once`;
      },
    })
    .meta({ description: 'the Secret keys to fill, each once (letters, digits, "-", "_", ".")' });
  return counted(keys, 'keys');
}

const fromFile = z
  .string({ error: 'must be the path of a KEY=value file, e.g. ./token.env' })
  .refine((s) => s.trim() !== '', { error: 'must be the path of a KEY=value file, e.g. ./token.env' })
  .meta({ description: "a KEY=value file in the worker's ROTOR_VALUE_DIR, relative to it" });

const AWS_REGION_ERROR = "must be an AWS region such as us-east-1 or eu-west-1 (or leave it out: the worker's AWS_REGION)";
const awsRegion = z
  .string({ error: AWS_REGION_ERROR })
  .regex(/^[a-z]{2}(-[a-z]+)+-\d{1,2}$/, { error: AWS_REGION_ERROR })
  .meta({ description: "the secret's region (default the worker's AWS_REGION)" });
const SECRET_ID_ERROR = 'must be the name or ARN of the secret in AWS Secrets Manager, e.g. /production/auth-api/token';
const secretId = z
  .string({ error: SECRET_ID_ERROR })
  .min(1, { error: SECRET_ID_ERROR })
  .max(2048, { error: SECRET_ID_ERROR })
  .meta({ description: 'name or ARN' });
const AWS_STAGES = ['AWSPENDING', 'AWSCURRENT'] as const;
const AWS_SOURCE = `must be { secretId: <name or ARN>, versionStage: ${AWS_STAGES.join(' or ')} } of the secret whose staged value to use`;
const awsSecretsManager = z
  .strictObject(
    {
      secretId,
      versionStage: z
        .enum(AWS_STAGES, { error: `must be ${AWS_STAGES.join(' or ')}: the stage whose value to use (default AWSPENDING, where a rotation Lambda puts it)` })
        .optional()
        .meta({ description: 'the stage whose value to use (default AWSPENDING)' }),
      region: awsRegion.optional(),
    },
    { error: AWS_SOURCE },
  )
  .meta({ description: 'a value someone else staged in AWS Secrets Manager (e.g. their rotation Lambda), read inside the worker' });

const AWS_TARGET = 'must be { secretId: <name or ARN>, region: <optional> } of the AWS Secrets Manager secret rotor writes each version to';
const awsTarget = z
  .strictObject({ secretId, region: awsRegion.optional() }, { error: AWS_TARGET })
  .meta({ description: 'with store aws-secrets-manager or external-secrets: the secret in AWS Secrets Manager rotor writes each version to' });

const ESO_KINDS = ['SecretStore', 'ClusterSecretStore'] as const;
const ESO_TARGET = 'must be { secretStoreRef: { name: <the SecretStore or ClusterSecretStore for the AWS secret>, kind: SecretStore or ClusterSecretStore } }';
const externalSecrets = z
  .strictObject(
    {
      secretStoreRef: z
        .strictObject(
          {
            name: z
              .string({ error: 'must name the SecretStore or ClusterSecretStore External Secrets Operator reads the AWS secret through' })
              .regex(/^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/, {
                error: 'must be the name of a SecretStore or ClusterSecretStore (lowercase letters, digits, "-" and "."), e.g. aws',
              }),
            kind: z.enum(ESO_KINDS, { error: `must be ${ESO_KINDS.join(' or ')} (default SecretStore, in each stage's namespace)` }).optional(),
          },
          { error: ESO_TARGET },
        )
        .meta({ description: "the store each versioned ExternalSecret reads through; a SecretStore must exist in every stage's namespace" })
        .transform(({ name, kind }) => ({ name, kind: kind ?? 'SecretStore' })),
    },
    { error: ESO_TARGET },
  )
  .meta({
    description:
      'with store external-secrets: rotor writes each version to awsSecretsManager and creates an ExternalSecret per namespace, pinned to that version, instead of writing the Secret',
  });

const ISSUER_SOURCE = 'must be { key: <the Secret key the credential goes into>, scope: <optional> }, e.g. { key: api_token }';
const ISSUER_KEY = `must name the Secret key the issued credential goes into (letters, digits, "-", "_" and ".", at most ${LIMITS.secretKeyLength} characters), e.g. key: api_token`;
const ISSUER_SCOPE = "must be the scope to ask the issuer for: 1 to 256 printable characters, e.g. auth:verify (or leave it out for the issuer's default)";
const issuer = z
  .strictObject(
    {
      key: z
        .string({ error: ISSUER_KEY })
        .regex(SECRET_KEY, { error: ISSUER_KEY })
        .max(LIMITS.secretKeyLength, { error: ISSUER_KEY })
        .meta({ description: 'the Secret key the credential goes into' }),
      scope: z
        .string({ error: ISSUER_SCOPE })
        .regex(/^[\x21-\x7e][\x20-\x7e]{0,255}$/, { error: ISSUER_SCOPE })
        .optional()
        .meta({ description: "the scope to ask for (default: the issuer's)" }),
    },
    { error: ISSUER_SOURCE },
  )
  .meta({
    description:
      "a new credential from the worker's credential issuer (ROTOR_ISSUER_URL, docs/issuer-protocol.md): issued under the new version's name, revoked on rollback, and the previous one revoked after cleanup",
  });

const stageName = z
  .string({ error: 'is required: a short lowercase name such as "staging" or "production"' })
  .regex(DNS_LABEL, { error: 'is required: a short lowercase name such as "staging" or "production"', abort: true })
  .max(63, { error: 'is required: a short lowercase name such as "staging" or "production"' })
  .meta({ description: 'a short lowercase name such as staging or production; unique in the plan' });

const namespaceName = z
  .string({ error: 'is required: a Kubernetes namespace name (lowercase letters, digits and "-", at most 63)' })
  .regex(DNS_LABEL, { error: 'is required: a Kubernetes namespace name (lowercase letters, digits and "-", at most 63)', abort: true })
  .max(63, { error: 'is required: a Kubernetes namespace name (lowercase letters, digits and "-", at most 63)' })
  .meta({ description: 'the Kubernetes namespace this stage rolls; unique in the plan' });

const approval = z
  .union([z.enum(['required', 'none']), z.boolean()], { error: 'use "required" (wait for `rotor approve` before this stage) or "none"' })
  .default('none')
  .meta({ description: '"required": wait for `rotor approve` before this stage deploys' });

const WORKLOAD_ENTRY = `must be kind/name with kind one of ${WORKLOAD_KINDS.join(', ')}, e.g. deployment/auth-api`;
/** WORKLOAD_REF with the kinds spelled out, in any case (JSON Schema patterns take no flags). */
const anyCase = (word: string) => [...word].map((ch) => `[${ch.toLowerCase()}${ch.toUpperCase()}]`).join('');
const KNOWN_WORKLOAD_REF = new RegExp(`^(${WORKLOAD_KINDS.map(anyCase).join('|')})/[a-z0-9]([-a-z0-9.]*[a-z0-9])?$`);
const workloadEntry = z.string({ error: WORKLOAD_ENTRY }).regex(KNOWN_WORKLOAD_REF, { error: WORKLOAD_ENTRY });
const WORKLOADS = '"auto" (every workload that uses the current version) or a non-empty list such as [deployment/auth-api]';
/** `kind/name` as a reference: the kind spelled as Kubernetes does, the name as written. */
function workloadRef(entry: string) {
  const m = WORKLOAD_REF.exec(entry)!;
  return { kind: WORKLOAD_KINDS.find((k) => k.toLowerCase() === m[1].toLowerCase())!, name: m[2] };
}
/** Each workload once: `deployment/auth-api` and `Deployment/auth-api` are one. */
const listedOnce: Rule<unknown[]> = (entries, c) => {
  if (c.failed()) return;
  const refs: ReturnType<typeof workloadRef>[] = [];
  entries.forEach((entry, i) => {
    const ref = workloadRef(entry as string);
    if (refs.some((r) => r.kind === ref.kind && r.name === ref.name)) c.report({ path: [i], message: 'is listed twice; list each workload once' });
    refs.push(ref);
  });
};
const workloadList = withRules(z.array(workloadEntry, { error: WORKLOADS }).min(1, { error: WORKLOADS }), listedOnce);
const workloadsUnion = z.union([z.literal('auto'), workloadList], { error: WORKLOADS });
const notWorkloads = z.never({ error: WORKLOADS });
const workloads = choice(workloadsUnion, (input) => (input === 'auto' ? workloadsUnion.options[0] : Array.isArray(input) ? workloadList : notWorkloads))
  .default('auto')
  .meta({ description: `"auto" (every workload that uses the current version) or a list of kind/name, kind one of ${WORKLOAD_KINDS.join(', ')}` });

function canarySteps() {
  const percentages = 'must be a list of whole percentages from 1 to 100, e.g. [10, 25, 50, 100]';
  const steps = z
    .array(z.number({ error: percentages }).int({ error: percentages }).min(1, { error: percentages }).max(100, { error: percentages }), {
      error: percentages,
    })
    .min(1, { error: percentages, abort: true })
    .refine((s) => s.every((x, i) => i === 0 || x > s[i - 1]), { error: 'must increase strictly, e.g. [10, 25, 50, 100]', abort: true })
    .refine((s) => s[s.length - 1] === 100, { error: 'must end at 100 so the rollout completes, e.g. [10, 25, 50, 100]', abort: true });
  const bounded = steps.max(LIMITS.canarySteps, {
    error: (iss) => `has ${(iss.input as number[]).length} steps; use at most ${LIMITS.canarySteps}, e.g. [10, 25, 50, 100]`,
  });
  return whole(bounded)
    .default([...DEFAULTS.canarySteps])
    .meta({ description: 'percent of replicas on the new version at each step: strictly increasing, ending at 100' });
}

const provider = z
  .enum(METRICS_PROVIDERS as [MetricsProvider, ...MetricsProvider[]], { error: `unknown metrics provider; use one of ${oneOf(METRICS_PROVIDERS)}` })
  .meta({ description: 'the metrics backend that answers the query' });

const query = z
  .string({ error: 'is required: the query whose value is compared with the threshold' })
  .refine((s) => s.trim() !== '', { error: 'is required: the query whose value is compared with the threshold' })
  .meta({ description: 'the query whose value is compared with the threshold' });

const threshold = z
  .number({ error: 'must be a number (the check fails when the measured value is above it), e.g. 0.01' })
  .meta({ description: 'a measurement fails when its value is above it' });

const datadogApi = z
  .enum(DATADOG_APIS as [DatadogApi, ...DatadogApi[]], { error: `must be ${oneOf(DATADOG_APIS)}: v2 reduces the window server-side, v1 takes the last point` })
  .meta({ description: 'datadog only: v2 (scalar query, the default) or v1 (time series, last point)' });

const datadogAggregator = z
  .enum(DATADOG_AGGREGATORS as [DatadogAggregator, ...DatadogAggregator[]], { error: `must be ${oneOf(DATADOG_AGGREGATORS)}` })
  .meta({ description: 'datadog v2 only: how each query is reduced over the interval (default avg)' });

const monitors = z
  .array(z.number({ error: 'must be a Datadog monitor id (a whole number)' }).int({ error: 'must be a Datadog monitor id (a whole number)' }).positive(), {
    error: 'must be a list of Datadog monitor ids, e.g. [1234567]',
  })
  .min(1, { error: 'must name at least one monitor; remove the field for none' })
  .max(20, { error: 'names more than 20 monitors; gate on a composite monitor instead' })
  .meta({ description: 'datadog only: monitors whose overall state Alert fails each measurement' });

const baseline = z
  .strictObject({
    margin: z
      .number({ error: 'must be a number: how much worse than the old version the new one may measure, e.g. 0.01' })
      .min(0, { error: 'must be zero or more, e.g. 0.01' })
      .meta({ description: 'the new version fails when it measures above the old one plus this margin' }),
  })
  .meta({
    description:
      'canary only: measure the query for the new version ({{version}}) and the old one side by side, and fail when the new one is worse by more than margin',
  });

function interval() {
  return duration('how often to measure, at least 10s', {
    positive: true,
    min: {
      ms: LIMITS.minIntervalMs,
      message: 'must be at least 10s: metrics change at their scrape interval, so measuring more often repeats the same data; write e.g. 30s or 1m',
    },
  });
}

function measurementLimit(description: string) {
  return wholeNumber(LIMITS.measurementLimit, description);
}

/**
 * The resources the workload scan reads (the pod-bearing kinds, as `kubectl api-resources` names them):
 * what holds a Secret there is judged by their own rules, and never skipped.
 */
export const WORKLOAD_RESOURCES: readonly string[] = [
  'deployments.apps',
  'statefulsets.apps',
  'daemonsets.apps',
  'replicasets.apps',
  'cronjobs.batch',
  'jobs.batch',
  'pods',
];
/** At most this many resources in `scan.ignore`: a longer list is a cluster the worker should be allowed to read. */
const MAX_SCAN_IGNORE = 100;
const SCAN_RESOURCE =
  'must name a resource as `kubectl api-resources` does: its plural and API group, e.g. widgets.example.com (a core resource by its plural alone, e.g. configmaps)';
const SCAN = 'must be { ignore: [<resource>.<group>, ...] }: the resources cleanup need not wait for when the worker cannot read them';
const scanIgnore = z
  .array(
    z
      .string({ error: SCAN_RESOURCE })
      .max(253, { error: SCAN_RESOURCE })
      .regex(DNS_SUBDOMAIN, { error: SCAN_RESOURCE, abort: true })
      .refine((id) => !WORKLOAD_RESOURCES.includes(id), {
        error: (iss) =>
          `${String(iss.input)} is read by the workload scan, which cannot be skipped (a workload there keeps the version alive); remove it, and let the worker list it (deploy/rbac.yaml)`,
      }),
    { error: SCAN },
  )
  .max(MAX_SCAN_IGNORE, { error: `must list at most ${MAX_SCAN_IGNORE} resources; let the worker read the rest (deploy/rbac.yaml)` })
  .refine((ids) => new Set(ids).size === ids.length, {
    error: (iss) => {
      const ids = iss.input as string[];
      return `lists ${JSON.stringify(ids.find((x, i) => ids.indexOf(x) !== i))} twice; each resource once`;
    },
  })
  .meta({
    description:
      'resources (<resource>.<group>, e.g. widgets.example.com) that need not hold a version when the worker cannot list them; what it can read there is still scanned. Without it, a resource the worker may not list holds every version until it can',
  });
// `scan: {}` (every setting left out) is no scan settings, as a plan without scan.
const scan = fields({ ignore: scanIgnore.optional() }, 'must be { ignore: [<resource>.<group>, ...] }, e.g. { ignore: [widgets.example.com] }').meta({
  description: 'the reference scan before a version is deleted or its credential revoked: which unreadable resources it may pass over',
});

// --- notify: which of the worker's sinks hear of which moments -----------------------------------

const SINK = "must name a sink the worker defines (ROTOR_NOTIFY_SINKS or ROTOR_NOTIFY_FILE): lower-case letters, digits and '-', e.g. ops-webhook";
const notifyEvent = z
  .enum(NOTIFY_EVENTS, { error: `unknown event kind; use ${NOTIFY_EVENTS.join(', ')}` })
  .meta({ description: 'a moment of the rotation: docs/notifications.md' });
const notifyRoute = fields(
  {
    sink: z.string({ error: SINK }).regex(SINK_NAME, { error: SINK }).meta({ description: 'a sink the worker defines; its URL and key stay on the worker' }),
    events: z
      .array(notifyEvent, { error: `must be a list of event kinds such as [awaiting_approval, rolled_back]` })
      .min(1, { error: 'must name at least one event kind; leave events out for all of them' })
      .optional()
      .meta({ description: `the event kinds this sink gets (default: all, ${NOTIFY_EVENTS.join(', ')})` }),
  },
  'must be { sink: <name>, events: [<kind>, ...] }, e.g. { sink: ops-slack, events: [awaiting_approval, rolled_back] }',
).transform((r): NotifyRoute => ({ sink: r.sink, events: r.events ?? [...NOTIFY_EVENTS] }));
// The rules go on last: meta() makes a copy of the schema, without them.
const notify = withRules(
  z
    .array(notifyRoute, { error: 'must be a list of { sink, events }, e.g. [{ sink: ops-slack }]; [] for no notifications' })
    .max(10, { error: 'must list at most 10 sinks' })
    .meta({
      description:
        "the worker's sinks (by name) that hear of the rotation's moments; [] for none; left out: the worker's default sinks (ROTOR_NOTIFY_DEFAULT). docs/notifications.md",
    }),
  notifyRules,
);

// --- windows: when a stage may start a change ---------------------------------------------------

/** At most this many windows in a list: more is a calendar, better written as fewer, wider schedules. */
const MAX_WINDOWS = 20;
const WINDOW_EXAMPLE = '{ kind: allow, schedule: "0 22 * * 6", duration: 4h, timeZone: Europe/Berlin }';
const WINDOW_KINDS = ['allow', 'deny'] as const;
const windowKind = z
  .enum(WINDOW_KINDS, { error: `unknown kind; use ${oneOf(WINDOW_KINDS)}: a change starts only inside an allow window, never inside a deny one` })
  .meta({ description: 'allow (default): changes start only inside one of the allow windows; deny: never inside one (a deny wins over an allow)' });
const SCHEDULE = 'must be a cron schedule of five fields in quotes (minute hour day-of-month month day-of-week), e.g. "0 22 * * 6" for Saturdays at 22:00';
const windowSchedule = z
  .string({ error: (iss) => (iss.input === undefined ? `is required: ${SCHEDULE.replace(/^must be /, '')}` : SCHEDULE) })
  .refine((s) => !scheduleProblem(s), { error: (iss) => scheduleProblem(String(iss.input)) ?? SCHEDULE })
  .meta({ description: "when each occurrence starts: five cron fields, read in the window's timeZone", examples: ['0 22 * * 6', '0 9 * * 1-5'] });
const TIME_ZONE = 'must be an IANA time zone such as Europe/Berlin, America/New_York or UTC';
const windowTimeZone = z
  .string({ error: TIME_ZONE })
  .refine((tz) => !timeZoneProblem(tz), { error: (iss) => timeZoneProblem(String(iss.input)) ?? TIME_ZONE })
  .meta({ description: 'the IANA time zone the schedule fires in, daylight-saving changes included (default UTC)', examples: ['Europe/Berlin'] });
const changeWindow = fields(
  {
    kind: windowKind.default('allow'),
    schedule: windowSchedule,
    duration: duration('how long each occurrence lasts from its start, in elapsed time', { positive: true, max: MAX_WINDOW_DURATION_MS }),
    timeZone: windowTimeZone.default('UTC'),
  },
  `must be a window such as ${WINDOW_EXAMPLE}`,
)
  .transform((w): ChangeWindow => ({ kind: w.kind, schedule: w.schedule, durationMs: w.duration, timeZone: w.timeZone }))
  .meta({ description: 'a cron schedule, a duration and a time zone: each time the schedule fires, the window is open for the duration' });
const WINDOWS = `must be a list of windows, e.g. [${WINDOW_EXAMPLE}]`;
const windows = counted(
  z
    .array(changeWindow, { error: WINDOWS })
    .max(MAX_WINDOWS, { error: `must list at most ${MAX_WINDOWS} windows; merge them into fewer, wider schedules`, abort: true }),
  'windows',
);

// --- preflight: the new version tested before a stage's first switch ----------------------------

const MAX_PREFLIGHT = 10;
const HTTP_METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD'] as const;
const PREFLIGHT_URL =
  'must be an http:// or https:// URL with no credential in it, e.g. https://auth.example.com/v1/verify (the credential goes in a header or the body as {{secret.<key>}})';
const preflightUrl = z
  .string({ error: PREFLIGHT_URL })
  .refine(
    (u) => {
      try {
        const url = new URL(u);
        return (url.protocol === 'http:' || url.protocol === 'https:') && !url.username && !url.password;
      } catch {
        return false;
      }
    },
    { error: PREFLIGHT_URL, abort: true },
  )
  .refine((u) => !/\{\{/.test(u), {
    error: 'must not name a placeholder: a URL is shown in the status and the logs; send the credential in a header or the body as {{secret.<key>}}',
  })
  .meta({ description: 'the endpoint to call; TLS is verified (the worker trusts its CA bundle, NODE_EXTRA_CA_CERTS)' });
/** A header value or body: text whose only placeholders are {{secret.<key>}}. */
function template(description: string) {
  return z
    .string({ error: 'must be text, e.g. "Bearer {{secret.api_token}}"' })
    .refine((t) => !templateProblem(t), { error: (iss) => `${templateProblem(String(iss.input))}` })
    .meta({ description });
}
const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
const headers = z
  .record(z.string().regex(HEADER_NAME, { error: 'must be an HTTP header name, e.g. Authorization' }), template('a header value; may name {{secret.<key>}}'), {
    error: 'must be a mapping of header names to values, e.g. { Authorization: "Bearer {{secret.api_token}}" }',
  })
  .meta({ description: 'request headers; a value may name {{secret.<key>}}, filled in by the worker' });
const STATUS = 'must be a list of HTTP status codes from 100 to 599, e.g. [200, 204]';
const expectStatus = z
  .array(z.number({ error: STATUS }).int({ error: STATUS }).min(100, { error: STATUS }).max(599, { error: STATUS }), { error: STATUS })
  .min(1, { error: STATUS })
  .default([200])
  .meta({ description: 'the status codes that pass (default [200])' });
const expectation = fields(
  {
    status: expectStatus,
    bodyContains: z
      .string({ error: 'must be text the answer must contain, e.g. "ok"' })
      .min(1, { error: 'must be text the answer must contain, e.g. "ok"' })
      .optional()
      .meta({ description: "text the answer's body must contain" }),
  },
  'must be { status: [200], bodyContains: "..." }',
).meta({ description: 'what a passing answer looks like' });
const httpPreflight = fields(
  {
    url: preflightUrl,
    method: z
      .enum(HTTP_METHODS, { error: `must be one of ${oneOf(HTTP_METHODS)}` })
      .default('GET')
      .meta({ description: 'the HTTP method (default GET)' }),
    headers: headers.optional(),
    body: template('the request body; may name {{secret.<key>}}').optional(),
    expect: expectation.prefault({}),
    timeout: duration('each attempt is given up after this long (default 10s)', { positive: true, max: 120_000 }).prefault('10s'),
    retries: z
      .number({ error: 'must be a whole number from 0 to 5' })
      .int({ error: 'must be a whole number from 0 to 5' })
      .min(0, { error: 'must be a whole number from 0 to 5' })
      .max(5, { error: 'must be a whole number from 0 to 5' })
      .default(2)
      .meta({ description: 'further attempts, a second apart, after an error or an unexpected answer (default 2)' }),
  },
  'must be { url, method, headers, body, expect: { status: [200] } }',
).transform((h): HttpPreflight => ({
  url: h.url,
  method: h.method,
  headers: h.headers ?? {},
  ...(h.body !== undefined ? { body: h.body } : {}),
  expect: { status: h.expect.status, ...(h.expect.bodyContains ? { bodyContains: h.expect.bodyContains } : {}) },
  timeoutMs: h.timeout,
  retries: h.retries,
}));
const IMAGE = 'must be a container image, e.g. curlimages/curl:8.11.1 or registry.example.com/tools/check@sha256:...';
const STRINGS = 'must be a list of strings, e.g. ["sh", "-c", "check"]';
const SECRET_AS = 'must be envFrom (every key a variable) or { volume: /etc/secret } (every key a file under that absolute path)';
const secretAs = z
  .union(
    [
      z.literal('envFrom').transform((): SecretMount => ({ envFrom: true })),
      fields({ volume: z.string({ error: SECRET_AS }).regex(/^\/[^\0:]*$/, { error: SECRET_AS }) }, SECRET_AS).transform((v): SecretMount => ({
        volume: v.volume,
      })),
    ],
    { error: SECRET_AS },
  )
  .default(() => ({ envFrom: true as const }))
  .meta({ description: "how the Job's pod reads the new version, as the stage's workloads do: envFrom (default) or { volume: <path> }" });
const jobPreflight = fields(
  {
    image: z
      .string({ error: IMAGE })
      .regex(/^[a-z0-9][-a-z0-9._/:@]*[a-zA-Z0-9]$/, { error: IMAGE })
      .max(500, { error: IMAGE })
      .meta({ description: 'the image that runs the test; pin it by tag or digest' }),
    command: z
      .array(z.string({ error: STRINGS }), { error: STRINGS })
      .max(50, { error: STRINGS })
      .optional()
      .meta({ description: "the container's command" }),
    args: z
      .array(z.string({ error: STRINGS }), { error: STRINGS })
      .max(50, { error: STRINGS })
      .optional()
      .meta({ description: "the container's arguments" }),
    timeout: duration('a Job not finished by then fails the check (default 5m)', { positive: true, max: 3_600_000 }).prefault('5m'),
    secretAs,
  },
  'must be { image, command, args, timeout, secretAs }',
).transform((j): JobPreflight => ({
  image: j.image,
  ...(j.command ? { command: j.command } : {}),
  ...(j.args ? { args: j.args } : {}),
  timeoutMs: j.timeout,
  secretAs: j.secretAs,
}));
const PREFLIGHT = 'must be { http: { url, ... } } or { job: { image, ... } }, with an optional name';
const checkName = z
  .string({ error: 'must be a short name such as verify-token' })
  .regex(/^[a-z0-9]([-a-z0-9]{0,40}[a-z0-9])?$/, { error: 'must be a short name such as verify-token (lowercase letters, digits and "-", at most 42)' })
  .meta({ description: 'how the status and events name the check (default http-<n> or job-<n>)' });
const preflightKinds = ['http', 'job'] as const;
const preflightChecks = z
  .union([
    fields({ name: checkName.optional(), http: httpPreflight }, PREFLIGHT, ['name', ...preflightKinds]),
    fields({ name: checkName.optional(), job: jobPreflight }, PREFLIGHT, ['name', ...preflightKinds]),
  ])
  .meta({ description: 'a test of the new version before the stage switches: an HTTP call carrying it, or a Job whose pod reads it' });
const noCheck = withRules(fields({ name: z.unknown().optional(), http: z.unknown().optional(), job: z.unknown().optional() }, PREFLIGHT), (_, c) =>
  c.report({ path: [], message: 'must name exactly one of http or job' }),
);
const preflightCheck = choice(preflightChecks, (input) => {
  const given = isRecord(input) ? preflightKinds.filter((k) => input[k] !== undefined) : [];
  return given.length === 1 ? preflightChecks.options[preflightKinds.indexOf(given[0])] : noCheck;
});
const preflight = counted(
  z
    .array(preflightCheck, {
      error: `must be a list of checks, e.g. [{ http: { url: https://auth.example.com/verify, headers: { Authorization: "Bearer {{secret.api_token}}" } } }]`,
    })
    .max(MAX_PREFLIGHT, { error: `must list at most ${MAX_PREFLIGHT} checks`, abort: true })
    .refine((checks) => new Set(checks.map((c) => c.name).filter(Boolean)).size === checks.filter((c) => c.name).length, {
      error: 'must give each check its own name',
    }),
  'checks',
).transform((checks): PreflightCheck[] =>
  checks.map((c, i) => ('http' in c ? { name: c.name ?? `http-${i + 1}`, http: c.http } : { name: c.name ?? `job-${i + 1}`, job: c.job })),
);

// --- gitops: workloads a GitOps controller applies change through a commit ----------------------

const GIT_REPO =
  "must be the repository's clone URL, https://git.example.com/platform/apps.git or git@git.example.com:platform/apps.git, with no credential in it (the worker has the token: ROTOR_GIT_TOKEN_FILE)";
const gitRepo = z
  .string({ error: GIT_REPO })
  .regex(/^(https?:\/\/[^/\s@]+\/\S+|ssh:\/\/[^\s]+|[A-Za-z0-9._-]+@[A-Za-z0-9.-]+:[^\s]+)$/, { error: GIT_REPO })
  .meta({ description: 'the GitOps repository the controller applies from (https or ssh); credentials come from the worker, never the plan' });
const GIT_BRANCH = 'must be a branch name such as main or clusters/production (letters, digits, ".", "_", "-", "/"; no "..", no leading or trailing "/")';
const gitBranch = z
  .string({ error: GIT_BRANCH })
  .regex(/^(?!\/)(?!.*\/\/)(?!.*\.\.)(?!.*\/$)(?!.*\.lock$)[A-Za-z0-9._/-]{1,200}$/, { error: GIT_BRANCH })
  .meta({ description: 'the branch the controller applies (default main)' });
const GIT_PATH = 'must be a directory of the repository, relative to its root and inside it, e.g. apps/production or . (default)';
const gitPath = z
  .string({ error: GIT_PATH })
  .regex(/^(?!\/)(?!(.*\/)?\.\.(\/|$))[^\0\n]{1,500}$/, { error: GIT_PATH })
  .meta({ description: "the directory (or kustomization) the controller applies the stage's workloads from" });
const gitAuthor = fields(
  {
    name: z.string({ error: "must be the commit author's name, e.g. rotor" }).min(1, { error: "must be the commit author's name, e.g. rotor" }),
    email: z
      .string({ error: 'must be an email address, e.g. rotor@example.com' })
      .regex(/^[^\s@<>]+@[^\s@<>]+$/, { error: 'must be an email address, e.g. rotor@example.com' }),
  },
  'must be { name: rotor, email: rotor@example.com }',
).meta({ description: "the commits' author (default rotor <rotor@localhost>)" });
const gitPushMode = z
  .enum(GIT_PUSH_MODES as [GitPushMode, ...GitPushMode[]], {
    error: `must be ${oneOf(GIT_PUSH_MODES)}: direct pushes rotor's commit to the branch, branch pushes it to a branch of rotor's own for a person to merge`,
  })
  .meta({
    description:
      'direct (default): rotor pushes its commit to the branch; branch: rotor never pushes to the branch, it pushes its commit to a branch of its own (rotor/<secret>/<stage>-<id>) for a person to merge, and waits for the controller to apply it (give syncTimeout the time a merge takes)',
  });
const GITOPS = 'must be { repo, branch, path, author, syncTimeout, pushMode }, e.g. { repo: https://git.example.com/platform/apps.git, path: apps/production }';
/** The settings as a plan writes them, every one optional on a stage (which takes the rest from the plan's). */
const gitopsShape = {
  repo: gitRepo,
  branch: gitBranch,
  path: gitPath,
  author: gitAuthor,
  syncTimeout: duration("how long to wait for the controller to apply rotor's commit (default 10m)", { positive: true }),
  pushMode: gitPushMode,
};
const gitopsPartial = fields(
  Object.fromEntries(Object.entries(gitopsShape).map(([k, v]) => [k, v.optional()])) as {
    [K in keyof typeof gitopsShape]: z.ZodOptional<(typeof gitopsShape)[K]>;
  },
  GITOPS,
);
const gitops = gitopsPartial.meta({
  description:
    'workloads a GitOps controller (Flux, Argo CD) applies get the new version through a commit to this repository, not a live patch; a rollback is a revert (docs/gitops.md)',
});

/** A stage's Git settings: its own over the plan's, with the defaults; none when neither has a repository. */
type GitopsWritten = z.output<typeof gitopsPartial>;
interface GitopsSettings {
  repo: string;
  branch: string;
  path: string;
  author: { name: string; email: string };
  syncTimeoutMs: number;
  /** Absent in plans made before it: direct. */
  pushMode?: GitPushMode;
}
function toGitops(plan: GitopsWritten | undefined, stage: GitopsWritten | undefined): GitopsSettings | undefined {
  const merged = { ...plan, ...stage };
  if (!merged.repo) return undefined;
  return {
    repo: merged.repo,
    branch: merged.branch ?? 'main',
    path: merged.path ?? '.',
    author: merged.author ?? { name: 'rotor', email: 'rotor@localhost' },
    syncTimeoutMs: merged.syncTimeout ?? ms('10m'),
    ...added({ pushMode: merged.pushMode ?? 'direct' }),
  };
}

/** A stage's gitops needs a repository, its own or the plan's. */
const gitopsRules: Rule = (plan, c) => {
  const planRepo = isRecord(plan.gitops) && plan.gitops.repo !== undefined;
  if (!Array.isArray(plan.stages)) return;
  plan.stages.forEach((stage, i) => {
    if (isRecord(stage) && isRecord(stage.gitops) && stage.gitops.repo === undefined && !planRepo)
      c.report({ path: ['stages', i, 'gitops'], message: 'needs a repository: set gitops.repo on the plan, or repo here' });
  });
};

// --- the whole plan: as written (the JSON Schema) and as rotor uses it (the types) -------------

/** A default duration's milliseconds (DEFAULTS keeps them as a plan writes them). */
const ms = (text: string) => (parseDuration(text) as { ms: number }).ms;

/**
 * Fields that records written before them lack (activity inputs, workflow histories): always set
 * by the schema, optional in the type so the code that reads an older record handles their absence.
 */
function added<T extends object>(fields: T): Partial<T> {
  return fields;
}

/** A canary as rotor runs it: the percentages, and the pause after each in ms. */
export function toCanary(canary: { steps: number[]; pause: number }) {
  return { type: 'canary' as const, steps: canary.steps, pauseMs: canary.pause };
}

/** An analysis as written, after each field's own checks and defaults. */
export interface AnalysisFields {
  provider: MetricsProvider;
  query: string;
  threshold: number;
  interval: number;
  failureLimit: number;
  inconclusiveLimit?: number;
  consecutiveErrorLimit: number;
  verify?: number;
  api?: DatadogApi;
  aggregator?: DatadogAggregator;
  window?: number;
  monitors?: number[];
  baseline?: { margin: number };
}

/** An analysis as rotor runs it: durations in ms, the derived defaults, the Datadog settings together. */
export function toAnalysis(a: AnalysisFields) {
  const { provider, query, failureLimit } = a;
  const intervalMs = a.interval;
  const datadog =
    provider === 'datadog'
      ? {
          api: a.api ?? DEFAULTS.datadogApi,
          aggregator: a.aggregator ?? DEFAULTS.datadogAggregator,
          monitors: a.monitors ?? [],
          /** The time range each measurement queries; absent in activity inputs scheduled before it existed (then the interval). */
          ...added({ windowMs: a.window || intervalMs }),
        }
      : undefined;
  return {
    provider,
    query,
    /** The measurement fails when its value is above the threshold. */
    threshold: a.threshold,
    intervalMs,
    /** Consecutive failed measurements that fail the stage. */
    failureLimit,
    /** Consecutive measurements without data that fail the stage: no data is never a pass. The derived default stays within the cap. */
    inconclusiveLimit: a.inconclusiveLimit ?? Math.min(failureLimit + 2, LIMITS.measurementLimit),
    /**
     * Consecutive measurements the provider could not answer (an outage, a refused query) that fail the
     * stage. Absent from analyses planned by releases before it, which used inconclusiveLimit for it.
     */
    ...added({ consecutiveErrorLimit: a.consecutiveErrorLimit }),
    /** How long VERIFYING measures right after a rollout. */
    verifyMs: a.verify || intervalMs * (failureLimit + 2),
    /** Datadog only: the API that answers, its reducer, and the monitors that gate each measurement. */
    ...(datadog ? { datadog } : {}),
    /** Canary only: the new version measured against the old one, side by side. */
    ...(a.baseline ? { baseline: { margin: a.baseline.margin } } : {}),
  };
}

// --- batch: a rolling stage's workloads switched a batch at a time ----------------------------------

const BATCH = 'must be { size: 5 } or { percent: 25 } (one of them), with an optional pause, e.g. { size: 5, pause: 5m }';
const batch = fields(
  {
    size: wholeNumber(1000, 'workloads per batch').optional(),
    percent: wholeNumber(100, "per batch: this share of the stage's workloads, rounded up (at least one)").optional(),
    pause: duration('after each batch but the last, once its rollout and analysis passed: a wait before the next (default none)').optional(),
  },
  BATCH,
)
  .refine((b) => (b.size === undefined) !== (b.percent === undefined), { error: BATCH })
  .meta({
    description:
      "rolling and in-place stages: switch the stage's workloads a batch at a time (in the order PLANNING found them), each batch's rollout and analysis passing before the next; a rollback reverts every batch switched so far",
  });

/** A stage's batches as rotor runs them. */
export interface Batch {
  size?: number;
  percent?: number;
  pauseMs: number;
}

/** A stage as written, after each field's own checks and defaults. */
export interface StageFields<Strategy, Analysis> {
  name: string;
  namespace: string;
  workloads: 'auto' | string[];
  strategy: Strategy;
  analysis?: Analysis;
  soak?: number;
  watch?: number;
  approval: 'required' | 'none' | boolean;
  approvalTimeout: number;
  rolloutTimeout: number;
  gitops?: GitopsWritten;
  batch?: { size?: number; percent?: number; pause?: number };
  preflight?: PreflightCheck[];
}

/** A stage as rotor runs it: the last one watches (24h by default) and does not soak, the others soak (24h) and do not watch. */
export function toStage<S, A>(stage: StageFields<S, A>, last: boolean) {
  return {
    name: stage.name,
    namespace: stage.namespace,
    workloads: stage.workloads === 'auto' ? ('auto' as const) : stage.workloads.map(workloadRef),
    strategy: stage.strategy,
    analysis: stage.analysis ?? null,
    soakMs: stage.soak ?? (last ? 0 : ms(DEFAULTS.soak)),
    watchMs: stage.watch ?? (last ? ms(DEFAULTS.watch) : 0),
    approval: stage.approval === 'required' || stage.approval === true ? ('required' as const) : ('none' as const),
    approvalTimeoutMs: stage.approvalTimeout,
    rolloutTimeoutMs: stage.rolloutTimeout,
    /** batch: the stage's workloads switched a batch at a time (rolling and in-place only). */
    ...(stage.batch
      ? {
          batch: {
            ...(stage.batch.size ? { size: stage.batch.size } : {}),
            ...(stage.batch.percent ? { percent: stage.batch.percent } : {}),
            pauseMs: stage.batch.pause ?? 0,
          } satisfies Batch,
        }
      : {}),
    /** preflight: tests of the new version before the stage's first switch (absent: none). */
    ...(stage.preflight?.length ? { preflight: stage.preflight } : {}),
  };
}

/** The secret a store outside the cluster writes each version to, and the store External Secrets Operator reads it through. */
function toStoreTarget<E>(aws: { secretId: string; region?: string } | undefined, externalSecrets: E | undefined) {
  return {
    ...(aws ? { awsSecretsManager: { secretId: aws.secretId, ...(aws.region ? { region: aws.region } : {}) } } : {}),
    /** store external-secrets: the SecretStore or ClusterSecretStore each versioned ExternalSecret reads through. */
    ...(externalSecrets ? { externalSecrets } : {}),
  };
}

/** A plan as written, after each field's own checks and defaults. */
interface PlanFields<Value, Store, ExternalSecrets, Stage> {
  secret: string;
  value: Value;
  store: Store;
  awsSecretsManager?: { secretId: string; region?: string };
  externalSecrets?: ExternalSecrets;
  stages: { stage: Stage; gitops?: GitopsWritten; windows?: ChangeWindow[] }[];
  retention: number;
  cleanupRecheck: number;
  scan?: { ignore?: string[] };
  gitops?: GitopsWritten;
  windows?: ChangeWindow[];
  notify?: NotifyRoute[];
}

/** A plan as rotor runs it. */
function toPlan<V, St, E, S>(plan: PlanFields<V, St, E, S>) {
  const target = plan.awsSecretsManager ? toStoreTarget(plan.awsSecretsManager, plan.externalSecrets) : undefined;
  const ignore = plan.scan?.ignore;
  return {
    secret: plan.secret,
    value: plan.value,
    store: plan.store,
    /** Where a store outside the cluster keeps the versions (plan field `awsSecretsManager`). */
    ...(target ? { target } : {}),
    stages: plan.stages.map(({ stage, gitops, windows }) => {
      const settings = toGitops(plan.gitops, gitops);
      const own = windows ?? plan.windows ?? [];
      return {
        ...stage,
        /** gitops: the stage's workloads that a GitOps controller applies change through a commit to this repository. */
        ...(settings ? { gitops: settings } : {}),
        /** windows: when the stage's switch and each canary step may start (domain/windows.ts); absent: at any time. */
        ...(own.length ? { windows: own } : {}),
      };
    }),
    retentionMs: plan.retention,
    /** How long to wait before scanning again when cleanup finds workloads still using the old version. */
    cleanupRecheckMs: plan.cleanupRecheck,
    /**
     * The reference scan's settings; absent when the plan has none (and in rotations planned before them).
     * `ignore`: resources (`<resource>.<group>`) that hold no version when the worker cannot list them (readable ones are still scanned).
     */
    ...(ignore?.length ? { scan: { ignore } } : {}),
    /** notify: the sinks and the event kinds each gets; absent: the worker's defaults ([]: none). */
    ...(plan.notify ? { notify: plan.notify } : {}),
  };
}

const NOT_A_PLAN = 'must be a YAML mapping with secret, value, stages and retention';
const VALUE_REQUIRED =
  'is required: one of `generate: { keys: [...], length: 48 }`, `fromFile: ./token.env`, `awsSecretsManager: { secretId: ... }` or `issuer: { key: api_token }`';
const UNKNOWN_STRATEGY = 'unknown strategy; use "rolling", "in-place" or { canary: { steps: [10, 25, 50, 100], pause: 10m } }';
const STAGES_REQUIRED = 'is required: a list of stages, e.g. staging then production';

/**
 * The stages' bounds (published as minItems and maxItems): at least one, at most LIMITS.stages,
 * reported by their count, and each stage still checked (zod's own bounds would check none of a
 * longer list, and read a string's length as a list's).
 */
const stageBounds: Rule<unknown[]> = (stages, c) => {
  if (!stages.length) c.report({ path: [], message: STAGES_REQUIRED });
  if (stages.length <= LIMITS.stages) return;
  c.report({
    path: [],
    found: `${stages.length} stages`,
    message: `must be at most ${LIMITS.stages} stages; roll more namespaces with one rotation per group of them`,
  });
};

/** A plan that is not a mapping is refused, and checked as an empty one so its required fields are named too. */
function asMapping<S extends z.ZodType>(plan: S): S {
  return intercept(plan, (payload, next) => {
    if (isRecord(payload.value)) return next(payload);
    payload.issues.push({ code: 'custom', path: [], message: NOT_A_PLAN, input: payload.value, params: { rule: true } });
    return next({ value: {}, issues: payload.issues });
  });
}

/** `analysis:` left empty (null in YAML) is no analysis, as one left out. */
function orNone<S extends z.ZodType>(analysis: S) {
  return intercept(analysis.optional(), (payload, next) => next(payload.value === null ? { ...payload, value: undefined } : payload));
}

/** The pieces above put together, as a plan file is written: each object with its rules, and the whole plan. */
function planParts() {
  const generate = fields({ keys: generateKeys(), length: generateLength }, 'must be an object such as { keys: [api_token], length: 48 }').meta({
    description: 'a random value per key, generated inside the worker',
  });
  // The value: exactly one source, parsed with its option; anything else is told so, with its unknown fields.
  const sources = ['generate', 'fromFile', 'awsSecretsManager', 'issuer'] as const;
  const valueSources = z
    .union([
      fields({ generate }, VALUE_REQUIRED, sources),
      fields({ fromFile }, VALUE_REQUIRED, sources),
      fields({ awsSecretsManager }, VALUE_REQUIRED, sources),
      fields({ issuer }, VALUE_REQUIRED, sources),
    ])
    .meta({ description: 'where the new value comes from: exactly one source; a plaintext value is never part of a plan' });
  const noSource = withRules(fields(Object.fromEntries(sources.map((s) => [s, z.unknown().optional()])), VALUE_REQUIRED), (_, c) =>
    c.report({ path: [], message: `must name exactly one source of ${sources.join(', ')}` }),
  );
  const value = choice(valueSources, (input) => {
    const given = isRecord(input) ? sources.filter((s) => input[s] !== undefined) : [];
    return given.length === 1 ? valueSources.options[sources.indexOf(given[0])] : noSource;
  });
  const canary = fields(
    {
      steps: canarySteps(),
      pause: duration('analysis window after each step; longer than zero when the stage has analysis').prefault(DEFAULTS.canaryPause),
    },
    'must be { steps: [10, 25, 50, 100], pause: 10m }',
  ).meta({ description: 'canary by replica weight, with an analysis over the pause after each step' });
  const strategies = z.union([
    z.literal('rolling').transform(() => ({ type: 'rolling' as const })),
    z.literal('in-place').transform(() => ({ type: 'in-place' as const })),
    fields({ canary }, UNKNOWN_STRATEGY).transform((s) => toCanary(s.canary)),
  ]);
  const unknownStrategy = z.never({ error: UNKNOWN_STRATEGY });
  const [rolling, inPlace, canaryStrategy] = strategies.options;
  const strategy = choice(strategies, (input) =>
    input === 'rolling' ? rolling : input === 'in-place' ? inPlace : isRecord(input) && input.canary !== undefined ? canaryStrategy : unknownStrategy,
  )
    // An output default: the JSON Schema shows none for a union whose canary converts a duration.
    .default(() => ({ type: 'rolling' as const }))
    .meta({ description: '"rolling", "in-place" (not in production) or { canary: { steps, pause } }' });
  const analysisFields = fields(
    {
      provider,
      query,
      threshold,
      interval: interval().prefault(DEFAULTS.interval),
      failureLimit: measurementLimit('consecutive failed measurements that fail the stage').default(DEFAULTS.failureLimit),
      inconclusiveLimit: measurementLimit('consecutive measurements without data that fail the stage (default failureLimit + 2)').optional(),
      consecutiveErrorLimit: measurementLimit(
        'consecutive measurements the provider could not answer (an outage, a refused query) that fail the stage',
      ).default(DEFAULTS.consecutiveErrorLimit),
      verify: duration(
        'rolling and in-place stages only (a canary is judged over its pauses): how long to measure right after the rollout (default interval × (failureLimit + 2))',
      ).optional(),
      api: datadogApi.optional(),
      aggregator: datadogAggregator.optional(),
      window: duration('datadog only: the time range each measurement queries and reduces (default the interval); longer than the ingestion delay', {
        positive: true,
      }).optional(),
      monitors: monitors.optional(),
      baseline: baseline.optional(),
    },
    'must be { provider, query, threshold, interval, failureLimit }',
  ).meta({ description: 'error-rate analysis; without it only rollout health is checked', type: ['object', 'null'] });
  const analysis = withRules(analysisFields, analysisRules).transform(toAnalysis);
  const stageFields = fields(
    {
      name: stageName,
      namespace: namespaceName,
      workloads,
      strategy,
      analysis: orNone(analysis),
      soak: duration(`not on the last stage (use watch): how long to keep measuring before the next stage (default ${DEFAULTS.soak})`).optional(),
      watch: duration(`only on the last stage: how long to keep measuring after the rollout (default ${DEFAULTS.watch})`).optional(),
      approval,
      approvalTimeout: duration('only with approval: required: after it without approval, the rotation rolls back', { positive: true }).prefault(
        DEFAULTS.approvalTimeout,
      ),
      rolloutTimeout: duration('a rollout not ready by then fails the stage', { positive: true }).prefault(DEFAULTS.rolloutTimeout),
      gitops: gitopsPartial.optional().meta({ description: "this stage's Git settings over the plan's gitops, e.g. another path" }),
      batch: batch.optional(),
      windows: windows.optional().meta({
        description:
          "when this stage's switch and each canary step may start (instead of the plan's windows; [] for none): inside an allow window and no deny window. A soak or watch runs on past a window's end, and a rollback never waits for one",
      }),
      preflight: preflight.optional().meta({
        description:
          "tests of the new version after it is created and before this stage's first switch, in order: a failed one rolls back what earlier stages switched and revokes an issued credential",
      }),
    },
    'must be a stage such as { name: staging, namespace: staging, strategy: rolling }',
  );
  const stage = withRules(stageFields, stageRules);
  const stages = z
    .array(stage, { error: STAGES_REQUIRED })
    .meta({ minItems: 1, maxItems: LIMITS.stages, description: 'rolled in order; production needs a stage before it; each stage its own name and namespace' });
  const planFields = fields(
    {
      secret: secretName,
      value,
      store: storeKind.default('kubernetes'),
      awsSecretsManager: awsTarget.optional(),
      externalSecrets: externalSecrets.optional(),
      // Each stage as rotor runs it, beside its Git settings as written: the plan's own merge under them (toPlan).
      stages: withRules(stages, stageBounds, stagesRules).transform((stages) =>
        stages.map((s, i) => ({ stage: toStage(s, i === stages.length - 1), gitops: s.gitops, windows: s.windows })),
      ),
      retention: duration('how long the previous version is kept after the rotation commits').prefault(DEFAULTS.retention),
      cleanupRecheck: duration('how often cleanup scans again while something still uses the previous version', { positive: true }).prefault(
        DEFAULTS.cleanupRecheck,
      ),
      scan: scan.optional(),
      gitops: gitops.optional(),
      windows: windows.optional().meta({ description: 'the change windows of every stage that has no windows of its own (stages[].windows)' }),
      notify: notify.optional(),
    },
    NOT_A_PLAN,
  ).meta({ title: 'rotor rotation plan', description: 'A rotation of a Kubernetes Secret, stage by stage: docs/plan.md.' });
  const plan = asMapping(withRules(planFields, storeRules, gitopsRules, preflightKeyRules)).transform(toPlan);
  return { stage, canary, analysisFields, plan };
}

const parts = planParts();

/** The plan as one zod schema: it validates a plan file (every issue at once), applies the defaults and makes the plan rotor runs. */
export function planSchema() {
  return parts.plan;
}

/** The fields of a stage, its canary and its analysis, each with its piece of the schema (validatePlan's best effort for a plan with issues). */
export const SHAPES = { stage: parts.stage.shape, canary: parts.canary.shape, analysis: parts.analysisFields.shape };

/** The plan as rotor runs it: what the schema's transforms make of a plan file. */
export type PlanOutput = z.output<ReturnType<typeof planSchema>>;

/** The JSON Schema of a plan file as written (draft 2020-12). */
export function planJsonSchema(): Record<string, unknown> {
  return z.toJSONSchema(planSchema(), { io: 'input', unrepresentable: 'any' }) as Record<string, unknown>;
}
