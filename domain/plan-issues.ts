// How the plan schema's issues reach a user: each with its path in the plan, the value found there and
// what would be valid, one per unknown field, in the order the plan reads (REPORT). Pure.
import type { z } from 'zod';

export interface PlanIssue {
  /** Where in the plan, e.g. `stages[1].strategy.canary.steps`. */
  path: string;
  /** What was found, rendered for a human (never a secret value: plans hold none). */
  value: string;
  /** What is wrong and what would be valid. */
  message: string;
}

/** A found value for a human: JSON, at most 80 characters of it; `nothing` for a field left out. */
export function show(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (typeof value === 'string') return JSON.stringify(value.length > 80 ? `${value.slice(0, 77)}...` : value);
  try {
    const json = JSON.stringify(value);
    return json.length > 80 ? `${json.slice(0, 77)}...` : json;
  } catch {
    return String(value);
  }
}

/** The message of an object's unknown fields (almost always typos): the valid ones, named. Each is reported on its own. */
export function unknownFieldMessage(fields: readonly string[]): string {
  return `${UNKNOWN_FIELD}${fields.join(', ')}`;
}
const UNKNOWN_FIELD = 'unknown field; valid fields here are ';

/**
 * Where a rule's issue goes in the report, when not with the issues of the field at its path: a
 * name in REPORT's order of the object the rule is about.
 */
type Slot = 'value-store' | 'watch-not-last' | 'soak-on-last' | 'approval-timeout' | 'stage-analysis' | 'stage-batch' | 'query-variables' | 'across-stages';

/** What a rule's issue (plan-rules.ts) says besides its path and message. */
export interface RuleParams {
  rule: true;
  slot?: Slot;
  /** The value found, rendered, when not the one written at the issue's path. */
  found?: string;
  /** It takes the place of what the schema of the field at its path says about it (a field that has no place there). */
  replaces?: boolean;
}

/**
 * The order of each object's issues: its unknown fields, then the object itself, then its fields in
 * this order (a field's own issues before what a rule adds at the same place); an object without an
 * order keeps the schema's. `items`: an array's entries, by index; `after`: what comes after them.
 */
interface Report {
  order?: readonly string[];
  fields?: Record<string, Report>;
  items?: Report;
  after?: readonly Slot[];
}
const STAGE: Report = {
  order: [
    'name',
    'namespace',
    'approval',
    'watch-not-last',
    'soak-on-last',
    'approval-timeout',
    'workloads',
    'strategy',
    'analysis',
    'stage-analysis',
    'soak',
    'watch',
    'approvalTimeout',
    'rolloutTimeout',
    'batch',
    'stage-batch',
  ] satisfies (string | Slot)[],
  fields: {
    strategy: { fields: { canary: {} } },
    analysis: {
      order: [
        'provider',
        'query',
        'threshold',
        'interval',
        'failureLimit',
        'inconclusiveLimit',
        'consecutiveErrorLimit',
        'verify',
        'query-variables',
        'api',
        'aggregator',
        'monitors',
        'window',
        'baseline',
      ] satisfies (string | Slot)[],
    },
  },
};
const REPORT: Report = {
  order: ['store', 'awsSecretsManager', 'externalSecrets', 'value-store', 'secret', 'value', 'stages', 'retention', 'cleanupRecheck', 'scan'] satisfies (
    string | Slot
  )[],
  fields: { value: { fields: { generate: {} } }, stages: { items: STAGE, after: ['across-stages'] }, scan: {} },
};

type Issue = z.core.$ZodIssue & { params?: RuleParams; keys?: string[] };

/** The rank of an issue in the report (compared entry by entry): where it is in each object on its path. */
function rank(issue: Issue, unknownField: boolean): number[] {
  const { path } = issue;
  const slot = issue.params?.slot;
  const ranks: number[] = [];
  let report: Report | undefined = REPORT;
  for (let i = 0; report; i++) {
    if (slot && report.order?.includes(slot)) return [...ranks, 2 + report.order.indexOf(slot)];
    if (slot && report.after?.includes(slot)) return [...ranks, Number.MAX_SAFE_INTEGER];
    if (unknownField && i === path.length - 1) return [...ranks, 0];
    if (i === path.length) return [...ranks, 1];
    const key = path[i];
    if (typeof key === 'number') {
      ranks.push(2 + key);
      report = report.items;
    } else {
      ranks.push(2 + Math.max(0, report.order?.indexOf(String(key)) ?? 0));
      report = report.fields?.[String(key)];
    }
  }
  return ranks;
}

function compare(a: number[], b: number[]): number {
  for (let i = 0; i < Math.min(a.length, b.length); i++) if (a[i] !== b[i]) return a[i] - b[i];
  return a.length - b.length;
}

function startsWith(path: readonly PropertyKey[], prefix: readonly PropertyKey[]): boolean {
  return prefix.every((key, i) => path[i] === key);
}

/** What is written at `path`: a list's entries by index, a mapping's fields by name. */
function pick(raw: unknown, path: readonly PropertyKey[]): unknown {
  let cur = raw;
  for (const key of path) {
    const fits = Array.isArray(cur) ? typeof key === 'number' : typeof cur === 'object' && cur !== null && typeof key === 'string';
    cur = fits ? (cur as Record<PropertyKey, unknown>)[key] : undefined;
  }
  return cur;
}

/** `stages[1].analysis.interval`; `(plan)` for the plan itself. */
function render(path: readonly PropertyKey[]): string {
  if (!path.length) return '(plan)';
  return path.reduce<string>((out, key) => (typeof key === 'number' ? `${out}[${key}]` : out ? `${out}.${String(key)}` : String(key)), '');
}

/** The schema's issues about `raw` (a plan document as written), as rotor reports them. */
export function planIssues(raw: unknown, zodIssues: readonly z.core.$ZodIssue[]): PlanIssue[] {
  const issues = (zodIssues as Issue[]).flatMap((issue) =>
    issue.code === 'unrecognized_keys' && issue.message.startsWith(UNKNOWN_FIELD)
      ? issue.keys!.map((key) => ({ issue: { ...issue, path: [...issue.path, key] }, unknownField: true }))
      : [{ issue, unknownField: false }],
  );
  const replacing = issues.filter(({ issue }) => issue.params?.replaces).map(({ issue }) => issue.path);
  return issues
    .filter(({ issue }) => issue.params?.rule || !replacing.some((path) => startsWith(issue.path, path)))
    .map(({ issue, unknownField }) => ({ issue, rank: rank(issue, unknownField) }))
    .sort((a, b) => compare(a.rank, b.rank))
    .map(({ issue }) => ({ path: render(issue.path), value: issue.params?.found ?? show(pick(raw, issue.path)), message: issue.message }));
}
