// The Datadog emulator's evaluator: a parsed query (query.ts) over the traffic model's counters
// (sandbox/traffic-counters.ts).
//
// Metrics, one point per label set and counter bucket in which that label set sent any request (so
// an interval without errors has errors 0, not a gap: a healthy error ratio is a value, not no data):
//   auth.requests          count of requests
//   auth.requests.errors   count of failed requests
// tagged env:<namespace>, kube_namespace:<namespace>, workload:<workload>, pod_name:<pod>,
// version:<version>. Any other metric name has no data, as in Datadog.
//
// Each term gives one series (or one per group with `by {...}`) of points per rollup interval: the
// counters' bucket size, grown in whole seconds so a window has at most 300 points, or the rollup's
// seconds if larger; intervals are aligned to multiples of the interval since the epoch. Arithmetic
// joins series on their timestamps (and groups on their tags; an ungrouped side applies to every
// group); a division by zero is null. v2 scalar queries reduce each query's series over [from, to]
// with its `aggregator` (avg or mean, sum, min, max, last) and evaluate the formulas (the same
// arithmetic over query names and numbers) on the reduced values.
import type { TrafficBucket, TrafficLabels } from '../traffic-counters';
import { QueryError, type MetricTerm, type Node, type Op, type Rollup } from './query';

/** Points by interval start (ms); null where the value is not a number (e.g. a division by zero). */
type Points = Map<number, number | null>;

interface Group {
  tags: string[];
  points: Points;
}

export type Value = { kind: 'number'; value: number } | { kind: 'series'; by: string[]; groups: Map<string, Group> };

export interface Window {
  buckets: TrafficBucket[];
  bucketMs: number;
  /** The interval when no rollup asks for a larger one. */
  intervalMs: number;
}

const tagsOf = (l: TrafficLabels): Record<string, string> => ({
  env: l.namespace,
  kube_namespace: l.namespace,
  workload: l.workload,
  pod_name: l.pod,
  version: l.version,
});

const METRICS: Record<string, (b: TrafficBucket) => number> = {
  'auth.requests': (b) => b.requests,
  'auth.requests.errors': (b) => b.errors,
};

function reduce(method: Rollup | 'last', values: number[]): number {
  switch (method) {
    case 'sum':
      return values.reduce((s, v) => s + v, 0);
    case 'avg':
      return values.reduce((s, v) => s + v, 0) / values.length;
    case 'min':
      return Math.min(...values);
    case 'max':
      return Math.max(...values);
    case 'last':
      return values[values.length - 1];
  }
}

const finite = (v: number): number | null => (Number.isFinite(v) ? v : null);

export function termInterval(term: MetricTerm, window: Window): number {
  return Math.max(window.intervalMs, (term.rollupSeconds ?? 0) * 1000);
}

function evalTerm(term: MetricTerm, window: Window): Value {
  const read = METRICS[term.metric];
  const groups = new Map<string, Group>();
  if (!read) return { kind: 'series', by: term.by, groups };
  const interval = termInterval(term, window);
  // group -> label set -> interval start -> the raw bucket values
  const raw = new Map<string, { tags: string[]; sets: Map<string, Map<number, number[]>> }>();
  for (const bucket of window.buckets) {
    const tags = tagsOf(bucket.labels);
    if (!term.scope.every((s) => (tags[s.tag] === s.value) !== s.negated)) continue;
    const groupTags = term.by.map((t) => `${t}:${tags[t] ?? 'N/A'}`);
    const groupKey = groupTags.join(',');
    const group = raw.get(groupKey) ?? { tags: groupTags, sets: new Map() };
    raw.set(groupKey, group);
    const setKey = Object.values(tags).join('\u0000');
    const set = group.sets.get(setKey) ?? new Map<number, number[]>();
    group.sets.set(setKey, set);
    const at = bucket.atMs - (bucket.atMs % interval);
    const values = set.get(at) ?? [];
    values.push(read(bucket));
    set.set(at, values);
  }
  // A rate is the count over the seconds the rolled-up value covers: the interval when summed, a bucket otherwise.
  const rateSeconds = (term.rollup === 'sum' ? interval : window.bucketMs) / 1000;
  for (const [key, group] of raw) {
    const perInterval = new Map<number, number[]>();
    for (const set of group.sets.values()) {
      for (const [at, values] of set) {
        const sets = perInterval.get(at) ?? [];
        sets.push(reduce(term.rollup, values) / (term.asRate ? rateSeconds : 1));
        perInterval.set(at, sets);
      }
    }
    const points: Points = new Map([...perInterval.entries()].sort(([a], [b]) => a - b).map(([at, values]) => [at, reduce(term.spaceAgg, values)]));
    groups.set(key, { tags: group.tags, points });
  }
  return { kind: 'series', by: term.by, groups };
}

function apply(op: Op, a: number | null, b: number | null): number | null {
  if (a === null || b === null) return null;
  switch (op) {
    case '+':
      return finite(a + b);
    case '-':
      return finite(a - b);
    case '*':
      return finite(a * b);
    case '/':
      return b === 0 ? null : finite(a / b);
  }
}

function joinPoints(op: Op, a: Points, b: Points): Points {
  const out: Points = new Map();
  for (const [at, va] of a) if (b.has(at)) out.set(at, apply(op, va, b.get(at)!));
  return out;
}

function mapPoints(points: Points, f: (v: number | null) => number | null): Points {
  return new Map([...points.entries()].map(([at, v]) => [at, f(v)]));
}

function mapSeries(series: Extract<Value, { kind: 'series' }>, f: (v: number | null) => number | null): Value {
  const groups = new Map<string, Group>();
  for (const [key, g] of series.groups) groups.set(key, { tags: g.tags, points: mapPoints(g.points, f) });
  return { kind: 'series', by: series.by, groups };
}

function combine(op: Op, left: Value, right: Value): Value {
  if (left.kind === 'number') {
    if (right.kind === 'series') return mapSeries(right, (v) => apply(op, left.value, v));
    const v = apply(op, left.value, right.value);
    if (v === null) throw new QueryError(`Error parsing query: ${left.value} ${op} ${right.value} is not a number`);
    return { kind: 'number', value: v };
  }
  if (right.kind === 'number') return mapSeries(left, (v) => apply(op, v, right.value));
  // Two series: groups join on their tags; an ungrouped side applies to every group of the other.
  const sameBy = left.by.join(',') === right.by.join(',');
  if (!sameBy && left.by.length && right.by.length) {
    throw new QueryError(`Error parsing query: cannot combine series grouped by {${left.by.join(',')}} with series grouped by {${right.by.join(',')}}`);
  }
  const by = left.by.length ? left.by : right.by;
  const groups = new Map<string, Group>();
  for (const [lk, lg] of left.groups) {
    for (const [rk, rg] of right.groups) {
      if (sameBy ? lk !== rk : false) continue;
      const key = left.by.length ? lk : rk;
      groups.set(key, { tags: left.by.length ? lg.tags : rg.tags, points: joinPoints(op, lg.points, rg.points) });
    }
  }
  return { kind: 'series', by, groups };
}

/** Evaluates a node; `names` holds the reduced v2 queries a formula refers to. */
export function evaluate(node: Node, window: Window, names: Record<string, Value> = {}): Value {
  switch (node.kind) {
    case 'number':
      return { kind: 'number', value: node.value };
    case 'term':
      return evalTerm(node.term, window);
    case 'name':
      return names[node.name];
    case 'negate':
      return combine('*', { kind: 'number', value: -1 }, evaluate(node.operand, window, names));
    case 'binary':
      return combine(node.op, evaluate(node.left, window, names), evaluate(node.right, window, names));
  }
}

export const V2_AGGREGATORS: Record<string, Rollup | 'last'> = { avg: 'avg', mean: 'avg', sum: 'sum', min: 'min', max: 'max', last: 'last' };

/** A series reduced to one value per group (kept as a single point at 0, so formulas reuse the series arithmetic). */
export function reduceSeries(value: Value, aggregator: Rollup | 'last'): Value {
  if (value.kind === 'number') return value;
  const groups = new Map<string, Group>();
  for (const [key, g] of value.groups) {
    const values = [...g.points.entries()]
      .sort(([a], [b]) => a - b)
      .map(([, v]) => v)
      .filter((v): v is number => v !== null);
    groups.set(key, { tags: g.tags, points: new Map([[0, values.length ? finite(reduce(aggregator, values)) : null]]) });
  }
  return { kind: 'series', by: value.by, groups };
}
