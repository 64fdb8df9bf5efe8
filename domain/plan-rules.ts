// The plan's cross-field rules: what needs more than one field (the store and its target, a stage's
// place among the others, canary and analysis together), run by the schema (plan-schema.ts) on each
// object as written, even where some of its fields failed their own checks. Pure and deterministic.
import { parseDuration } from './duration';
import { show } from './plan-issues';
import { isRecord, type Rule } from './plan-parsing';
import { placeholderKeys } from './preflight';

/** The variables a query may name as {{name}}: filled in by the worker for each measurement. */
const QUERY_VARIABLES = ['namespace', 'stage', 'version'] as const;

// --- the plan: its store ---------------------------------------------------------------------

/**
 * A store outside the cluster needs the AWS secret it writes each version to (and External Secrets
 * the store it reads through); the others refuse them. A value read from AWS needs the AWS store.
 */
export const storeRules: Rule = (plan, c) => {
  const store = plan.store === undefined || c.failed('store') ? 'kubernetes' : plan.store;
  const outside = store === 'aws-secrets-manager' || store === 'external-secrets';
  if (plan.awsSecretsManager === undefined) {
    if (outside)
      c.report({
        path: ['awsSecretsManager'],
        message: `is required with store: ${String(store)}: { secretId: <the secret rotor writes each version to>, region: <optional> }`,
      });
  } else if (!outside) {
    c.report({
      path: ['awsSecretsManager'],
      message: 'is only for store: aws-secrets-manager or external-secrets; remove it, or set the store',
      replaces: true,
    });
  }
  if (plan.externalSecrets === undefined) {
    if (store === 'external-secrets')
      c.report({
        path: ['externalSecrets'],
        message:
          'is required with store: external-secrets: { secretStoreRef: { name: <SecretStore or ClusterSecretStore reading awsSecretsManager.secretId>, kind: ClusterSecretStore } }',
      });
  } else if (store !== 'external-secrets') {
    c.report({ path: ['externalSecrets'], message: 'is only for store: external-secrets; remove it, or set store: external-secrets', replaces: true });
  }
  if (isRecord(plan.value) && plan.value.awsSecretsManager !== undefined && store === 'kubernetes') {
    c.report({
      path: ['value', 'awsSecretsManager'],
      slot: 'value-store',
      message:
        "is read by the worker's AWS store: set store: aws-secrets-manager and awsSecretsManager: { secretId } (the secret each version is written to), or take the value from generate, fromFile or issuer",
    });
  }
};

// --- the stages: each in its place, and among the others -----------------------------------------

const PRODUCTION = /^(prod|production)([-.].*)?$/;
const text = (value: unknown) => (typeof value === 'string' ? value : '');

/**
 * Soak waits before the next stage, watch measures after the last one: each only where it has an
 * effect. Names and namespaces are each the stage's own, production comes after a stage that proves
 * the new version, and in-place is for dev namespaces. Issues name the index the user wrote.
 */
export const stagesRules: Rule<unknown[]> = (stages, c) => {
  const written: { i: number; name: string; namespace: string; inPlace: boolean }[] = [];
  stages.forEach((stage, i) => {
    if (!isRecord(stage)) return;
    const last = i === stages.length - 1;
    if (!last && stage.watch !== undefined) {
      c.report({ path: [i, 'watch'], slot: 'watch-not-last', message: 'only the last stage watches after its rollout; use soak for earlier stages' });
    }
    if (last && stage.soak !== undefined) {
      c.report({
        path: [i, 'soak'],
        slot: 'soak-on-last',
        message: 'the last stage has no next stage to soak before; use watch (how long to keep measuring after its rollout)',
      });
    }
    written.push({ i, name: text(stage.name), namespace: text(stage.namespace), inPlace: stage.strategy === 'in-place' });
  });
  for (const [j, stage] of written.entries()) {
    const { i } = stage;
    const earlierName = written.findIndex((s) => s.name === stage.name);
    if (stage.name && earlierName < j) {
      c.report({
        path: [i, 'name'],
        slot: 'across-stages',
        message: `duplicates stages[${written[earlierName].i}].name; every stage needs its own name`,
      });
    }
    const earlierNs = written.findIndex((s) => s.namespace === stage.namespace);
    if (stage.namespace && earlierNs < j) {
      c.report({
        path: [i, 'namespace'],
        slot: 'across-stages',
        message: `is already rolled by stages[${written[earlierNs].i}]; each stage rolls its own namespace`,
      });
    }
    const isProduction = PRODUCTION.test(stage.name) || PRODUCTION.test(stage.namespace);
    if (isProduction && i === 0) {
      c.report({
        path: [i],
        slot: 'across-stages',
        found: show(stage.name || stage.namespace),
        message: 'production needs a prior stage (e.g. staging) that proves the new version first; add one before it',
      });
    }
    if (isProduction && stage.inPlace) {
      c.report({
        path: [i, 'strategy'],
        slot: 'across-stages',
        message: 'in-place is for dev namespaces only; production uses "rolling" or a canary',
      });
    }
  }
};

/**
 * A stage's fields that act only together: approvalTimeout with approval; a canary judged over its
 * pauses, so each pause measures (with an analysis) and there is no verify window; a baseline, which
 * compares the canary's new version with the old one while both run, by a query that tells them apart.
 */
export const stageRules: Rule = (stage, c) => {
  if (stage.approvalTimeout !== undefined && stage.approval !== 'required' && stage.approval !== true) {
    c.report({
      path: ['approvalTimeout'],
      slot: 'approval-timeout',
      message: 'applies only to a stage with approval: required; add that, or remove approvalTimeout',
    });
  }
  const canary = isRecord(stage.strategy) && isRecord(stage.strategy.canary) ? stage.strategy.canary : null;
  const analysis = isRecord(stage.analysis) ? stage.analysis : null;
  if (canary && stage.batch !== undefined) {
    c.report({
      path: ['batch'],
      slot: 'stage-batch',
      message: 'applies to rolling and in-place stages: a canary already moves by replica weight, step by step; remove batch, or use strategy: rolling',
    });
  }
  if (stage.batch !== undefined && stage.gitops !== undefined) {
    c.report({
      path: ['batch'],
      slot: 'stage-batch',
      message: 'does not combine with gitops: what Git applies changes by one commit; give the live workloads a stage of their own, or remove batch',
    });
  }
  // Without an analysis a zero pause is allowed: each step still waits for its rollout to be healthy.
  const pause = canary && parseDuration(canary.pause);
  if (analysis && pause && 'ms' in pause && pause.ms === 0) {
    c.report({
      path: ['strategy', 'canary', 'pause'],
      slot: 'stage-analysis',
      message:
        'must be longer than zero when the stage has an analysis: each canary step is judged by measuring over its pause; write e.g. 10m, or remove the analysis to step on rollout health alone',
    });
  }
  if (canary && analysis?.verify !== undefined) {
    c.report({
      path: ['analysis', 'verify'],
      slot: 'stage-analysis',
      message: "a canary stage is judged over each step's pause, not a verify window; remove verify, or set strategy.canary.pause",
    });
  }
  if (!analysis || analysis.baseline === undefined || c.failed('analysis', 'baseline')) return;
  if (!canary) {
    c.report({
      path: ['analysis', 'baseline'],
      slot: 'stage-analysis',
      message: 'compares the new version with the old one while both run, which only a canary does; use strategy { canary: ... }, or remove baseline',
    });
  }
  const query = text(analysis.query);
  if (!/\{\{\s*version\s*\}\}/.test(query)) {
    c.report({
      path: ['analysis', 'query'],
      slot: 'stage-analysis',
      found: show(query),
      message:
        'must select by {{version}} when the analysis has a baseline, so the new and the old version are measured apart, e.g. ...{version="{{version}}"}',
    });
  }
};

// --- an analysis -------------------------------------------------------------------------------

const DATADOG_SETTINGS = ['api', 'aggregator', 'monitors', 'window'] as const;

/**
 * `{{name}}` in a query must be one the worker fills in. api, aggregator, monitors and window speak
 * Datadog's language: on another provider they are a mistake; aggregator reduces v2's answer only.
 */
export const analysisRules: Rule = (analysis, c) => {
  if (typeof analysis.query === 'string') {
    for (const [, name] of analysis.query.matchAll(/\{\{\s*([^}]*?)\s*\}\}/g)) {
      if ((QUERY_VARIABLES as readonly string[]).includes(name)) continue;
      c.report({
        path: ['query'],
        slot: 'query-variables',
        message: `names {{${name}}}, which rotor does not fill in; use ${QUERY_VARIABLES.map((v) => `{{${v}}}`).join(', ')}`,
      });
    }
  }
  if (analysis.provider !== 'datadog') {
    for (const f of DATADOG_SETTINGS) {
      if (analysis[f] !== undefined) c.report({ path: [f], message: 'is a Datadog setting; remove it, or use provider: datadog', replaces: true });
    }
    return;
  }
  if (analysis.api === 'v1' && analysis.aggregator !== undefined) {
    c.report({ path: ['aggregator'], message: 'applies to api v2 only (v1 takes the last point); remove it, or use api: v2' });
  }
};

/**
 * A pre-flight template names keys the new version will have: with `generate`, one of its keys; with
 * an `issuer`, its key. (A value read from a file or a store is known only to the worker, which says
 * which keys it has when one is missing.)
 */
export const preflightKeyRules: Rule = (plan, c) => {
  const value = isRecord(plan.value) ? plan.value : {};
  const generated = isRecord(value.generate) && Array.isArray(value.generate.keys) ? value.generate.keys.map(String) : null;
  const issued = isRecord(value.issuer) && typeof value.issuer.key === 'string' ? [value.issuer.key] : null;
  const known = generated ?? issued;
  if (!known || !Array.isArray(plan.stages)) return;
  plan.stages.forEach((stage, i) => {
    if (!isRecord(stage) || !Array.isArray(stage.preflight)) return;
    stage.preflight.forEach((check, j) => {
      if (!isRecord(check) || !isRecord(check.http)) return;
      const http = check.http;
      const places: [PropertyKey[], unknown][] = [
        [['body'], http.body],
        ...(isRecord(http.headers) ? Object.entries(http.headers).map(([k, v]): [PropertyKey[], unknown] => [['headers', k], v]) : []),
      ];
      for (const [path, text] of places) {
        if (typeof text !== 'string') continue;
        const missing = placeholderKeys(text).filter((k) => !known.includes(k));
        if (missing.length)
          c.report({
            path: ['stages', i, 'preflight', j, 'http', ...path],
            message: `names {{secret.${missing[0]}}}, but the new version's keys are ${known.join(', ')}; name one of those`,
          });
      }
    });
  });
};

// --- the plan: its notifications -------------------------------------------------------------

/** Each sink once in `notify` (its events in one list), so what a sink gets is read in one place. */
export const notifyRules: Rule<unknown[]> = (routes, c) => {
  const seen = new Set<string>();
  routes.forEach((route, i) => {
    if (!isRecord(route) || typeof route.sink !== 'string') return;
    if (seen.has(route.sink))
      c.report({ path: [i, 'sink'], message: `names ${route.sink} a second time; list each sink once, with all its events in one list` });
    seen.add(route.sink);
  });
};
