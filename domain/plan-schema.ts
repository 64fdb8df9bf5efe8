// The plan's JSON Schema, for editors and CI linters: `plan.schema.json` is generated from this
// (`npm run schema`), and plan files point at it with `# yaml-language-server: $schema=...`.
// It says the shape, the bounds and the defaults; what only the validator can judge (a canary's steps
// increase and end at 100, production comes after a prior stage, every stage has its own name and
// namespace, a canary with analysis pauses) is in the descriptions and in validatePlan, which the
// CLI and the workflow run. test/plan-schema.test.ts holds the two to the same verdict on every plan
// of the plan tests the schema can judge.
import { z } from 'zod';
import { DURATION_HELP } from './duration';
import { DEFAULTS, DNS_LABEL, DNS_SUBDOMAIN, LIMITS, METRICS_PROVIDERS, SECRET_KEY, STORE_KINDS, WORKLOAD_KINDS } from './plan';

const DURATION = /^(\d+(ms|s|m|h|d))+$/;
const WORKLOAD_REF = new RegExp(
  `^(${WORKLOAD_KINDS.map((k) => `[${k[0].toLowerCase()}${k[0]}]${k.slice(1).replace(/[a-zA-Z]/g, (c) => `[${c.toLowerCase()}${c.toUpperCase()}]`)}`).join('|')})/[a-z0-9]([-a-z0-9.]*[a-z0-9])?$`,
);

const duration = (description: string, fallback?: string) => {
  const d = z
    .string()
    .regex(DURATION)
    .meta({ description: `${description}; ${DURATION_HELP}, at most 365d`, examples: ['30s', '10m', '24h', '14d'] });
  return fallback === undefined ? d.optional() : d.default(fallback);
};
const limit = (description: string) => z.number().int().min(1).max(LIMITS.measurementLimit).meta({ description });

const generate = z
  .strictObject({
    keys: z
      .array(z.string().regex(SECRET_KEY).max(LIMITS.secretKeyLength))
      .min(1)
      .max(LIMITS.generateKeys)
      .meta({ description: 'the Secret keys to fill, each once (letters, digits, "-", "_", ".")', uniqueItems: true }),
    length: z.number().int().min(16).max(4096).default(DEFAULTS.generateLength).meta({ description: 'characters per generated value' }),
  })
  .meta({ description: 'a random value per key, generated inside the worker' });

const value = z
  .union([
    z.strictObject({ generate }),
    z.strictObject({ fromFile: z.string().min(1).meta({ description: "a KEY=value file in the worker's ROTOR_VALUE_DIR, relative to it" }) }),
    z.strictObject({ awsSecretsManager: z.strictObject({ secretId: z.string().min(1).meta({ description: 'name or ARN' }) }) }),
  ])
  .meta({ description: 'where the new value comes from: exactly one source; a plaintext value is never part of a plan' });

const canary = z
  .strictObject({
    steps: z
      .array(z.number().int().min(1).max(100))
      .min(1)
      .max(LIMITS.canarySteps)
      .default([10, 25, 50, 100])
      .meta({ description: 'percent of replicas on the new version at each step: strictly increasing, ending at 100' }),
    pause: duration('analysis window after each step; longer than zero when the stage has analysis', '10m'),
  })
  .meta({ description: 'canary by replica weight, with an analysis over the pause after each step' });

const strategy = z
  .union([z.literal('rolling'), z.literal('in-place'), z.strictObject({ canary })])
  .default('rolling')
  .meta({ description: '"rolling", "in-place" (not in production) or { canary: { steps, pause } }' });

const analysis = z
  .strictObject({
    provider: z.enum(METRICS_PROVIDERS as [string, ...string[]]).meta({ description: 'the metrics backend that answers the query' }),
    query: z.string().min(1).meta({ description: 'the query whose value is compared with the threshold' }),
    threshold: z.number().meta({ description: 'a measurement fails when its value is above it' }),
    interval: duration('how often to measure, at least 10s', DEFAULTS.interval),
    failureLimit: limit('consecutive failed measurements that fail the stage').default(DEFAULTS.failureLimit),
    inconclusiveLimit: limit('consecutive measurements without data that fail the stage (default failureLimit + 2)').optional(),
    verify: duration('how long to measure right after the rollout (default interval × (failureLimit + 2))'),
  })
  .meta({ description: 'error-rate analysis; without it only rollout health is checked' });

const name = (description: string) => z.string().regex(DNS_LABEL).max(63).meta({ description });

const stage = z.strictObject({
  name: name('a short lowercase name such as staging or production; unique in the plan'),
  namespace: name('the Kubernetes namespace this stage rolls; unique in the plan'),
  workloads: z
    .union([z.literal('auto'), z.array(z.string().regex(WORKLOAD_REF)).min(1)])
    .default('auto')
    .meta({ description: `"auto" (every workload that uses the current version) or a list of kind/name, kind one of ${WORKLOAD_KINDS.join(', ')}` }),
  strategy,
  analysis: analysis.optional(),
  soak: duration(`how long to keep measuring before the next stage (default ${DEFAULTS.soak}; 0s on the last stage)`),
  watch: duration(`only on the last stage: how long to keep measuring after the rollout (default ${DEFAULTS.watch})`),
  approval: z
    .union([z.enum(['required', 'none']), z.boolean()])
    .default('none')
    .meta({ description: '"required": wait for `rotor approve` before this stage deploys' }),
  approvalTimeout: duration('after it without approval, the rotation rolls back; longer than zero', DEFAULTS.approvalTimeout),
  rolloutTimeout: duration('a rollout not ready by then fails the stage; longer than zero', DEFAULTS.rolloutTimeout),
});

export const planSchema = z
  .strictObject({
    secret: z
      .string()
      .regex(DNS_SUBDOMAIN)
      .max(63)
      .meta({ description: 'the base name; versions are <secret>-<YYYYMMDDHHMMSS> (UTC)', examples: ['auth-api-secrets'] }),
    value,
    store: z.enum(STORE_KINDS as [string, ...string[]]).default('kubernetes'),
    stages: z
      .array(stage)
      .min(1)
      .max(LIMITS.stages)
      .meta({ description: 'rolled in order; production needs a stage before it; each stage its own name and namespace' }),
    retention: duration('how long the previous version is kept after the rotation commits', DEFAULTS.retention),
    cleanupRecheck: duration('how often cleanup scans again while something still uses the previous version; longer than zero', DEFAULTS.cleanupRecheck),
  })
  .meta({ title: 'rotor rotation plan', description: 'A rotation of a Kubernetes Secret, stage by stage: README, "The plan".' });

/** The JSON Schema of a plan file as written (draft 2020-12). */
export function planJsonSchema(): Record<string, unknown> {
  return z.toJSONSchema(planSchema, { io: 'input' }) as Record<string, unknown>;
}
