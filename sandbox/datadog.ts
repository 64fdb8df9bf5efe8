// A Datadog API emulator for the sandbox and the tests: real Datadog cannot be reached here, so this
// server speaks enough of Datadog's wire protocol (paths, auth headers, JSON shapes, error bodies,
// rate-limit headers) that the official client `@datadog/datadog-api-client` works against it
// unchanged. Its metrics come from the traffic model's counters (sandbox/traffic-counters.ts).
//
// Metrics, one point per label set and counter bucket in which that label set sent any request (so
// an interval without errors has errors 0, not a gap: a healthy error ratio is a value, not no data):
//   auth.requests          count of requests
//   auth.requests.errors   count of failed requests
// tagged env:<namespace>, kube_namespace:<namespace>, workload:<workload>, pod_name:<pod>,
// version:<version>. Any other metric name has no data, as in Datadog.
//
// The query language it understands, exactly (anything else is HTTP 400 {"errors": ["Error parsing
// query: ..."]} naming what is not understood):
//   query     := expr
//   expr      := product (('+' | '-') product)*
//   product   := unary (('*' | '/') unary)*
//   unary     := '-' unary | number | '(' expr ')' | term
//   term      := space_agg ':' metric '{' scope '}' [ 'by' '{' tag (',' tag)* '}' ] modifier*
//   space_agg := sum | avg | min | max         (across the label sets that match, per interval)
//   scope     := '*' | item (',' item)*        item := tag ':' value  (must match)
//                                                    | '!' tag ':' value  (must not match)
//   modifier  := '.as_count()'                 the interval's count (the default for these metrics)
//              | '.as_rate()'                  per second: the count over the seconds it covers (the
//                                              interval for a sum rollup, one bucket for avg/min/max)
//              | '.rollup(' method [',' seconds] ')'   method := sum | avg | min | max (default sum)
// Each term gives one series (or one per group with `by {...}`) of points per rollup interval: the
// counters' bucket size, grown in whole seconds so a window has at most 300 points, or the rollup's
// seconds if larger; intervals are aligned to multiples of the interval since the epoch. Arithmetic
// joins series on their timestamps (and groups on their tags; an ungrouped side applies to every
// group); a division by zero is null. v2 scalar queries reduce each query's series over [from, to]
// with its `aggregator` (avg or mean, sum, min, max, last) and evaluate the formulas (the same
// arithmetic over query names and numbers) on the reduced values.
//
// Endpoints: GET /api/v1/validate, GET /api/v1/query, POST /api/v2/query/scalar, GET
// /api/v1/monitor/{id}, GET /api/v1/monitor?monitor_ids=..., POST /api/v1/events. Every request
// needs DD-API-KEY; all but validate and events need DD-APPLICATION-KEY too (403 otherwise).
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { TrafficBucket, TrafficCounters, TrafficLabels } from './traffic-counters';

export type MonitorState = 'OK' | 'Alert' | 'Warn' | 'No Data';

export interface EmulatedMonitor {
  name: string;
  query: string;
  overall_state: MonitorState;
  /** Datadog's monitor type; 'query alert' when not given. */
  type?: string;
}

/** An event as posted to POST /api/v1/events, with the id the emulator gave it. */
export interface EmulatedEvent {
  id: number;
  title: string;
  text: string;
  tags: string[];
  alertType: string;
  priority: string;
  /** Seconds since the epoch, as Datadog keeps it. */
  dateHappened: number;
  aggregationKey?: string;
  sourceTypeName?: string;
}

export interface EmulatedRequest {
  method: string;
  path: string;
  status: number;
}

export interface DatadogEmulatorOptions {
  counters: TrafficCounters;
  apiKey: string;
  appKey: string;
  /** Data younger than this is not visible yet, like Datadog's ingestion delay. Default 0. */
  ingestDelayMs?: number;
  /** The fixed-window limit every rate-limit name allows (default 1000 requests per 60 s). */
  rateLimit?: { limit: number; periodSeconds: number };
  log?: (line: string) => void;
}

export interface DatadogEmulator {
  /** Base URL, e.g. http://127.0.0.1:40123: give it to the client as its base server. */
  url: string;
  setMonitor(id: number, monitor: EmulatedMonitor): void;
  /** The events posted so far, oldest first. */
  events(): EmulatedEvent[];
  /** The next `n` query requests (v1 query, v2 scalar) answer 429 with x-ratelimit-reset: resetSeconds. */
  throttle(n: number, resetSeconds: number): void;
  /** While true every request answers 503, as in an outage. */
  down(on: boolean): void;
  /** Every request answered so far, oldest first. */
  requests(): EmulatedRequest[];
  /** How many requests reached `path` (e.g. /api/v2/query/scalar). */
  requestCount(path: string): number;
  stop(): Promise<void>;
}

// ---------------------------------------------------------------------------------------------
// The query language: parser

type SpaceAgg = 'sum' | 'avg' | 'min' | 'max';
type Rollup = 'sum' | 'avg' | 'min' | 'max';
type Op = '+' | '-' | '*' | '/';

interface ScopeItem {
  tag: string;
  value: string;
  negated: boolean;
}

interface MetricTerm {
  spaceAgg: SpaceAgg;
  metric: string;
  scope: ScopeItem[];
  scopeText: string;
  by: string[];
  asRate: boolean;
  rollup: Rollup;
  rollupSeconds: number | null;
}

type Node =
  | { kind: 'number'; value: number }
  | { kind: 'negate'; operand: Node }
  | { kind: 'binary'; op: Op; left: Node; right: Node }
  | { kind: 'term'; term: MetricTerm }
  | { kind: 'name'; name: string };

/** A query the emulator does not understand: HTTP 400 with this text, as Datadog answers. */
class QueryError extends Error {}

const SPACE_AGGS: readonly string[] = ['sum', 'avg', 'min', 'max'];
const ROLLUPS: readonly string[] = ['sum', 'avg', 'min', 'max'];
const IDENT = /[A-Za-z_][A-Za-z0-9_.]*/y;
const NUMBER = /\d+(\.\d+)?([eE][+-]?\d+)?|\.\d+([eE][+-]?\d+)?/y;
const TAG = /^[A-Za-z][A-Za-z0-9_.\-/]*$/;
const TAG_VALUE = /^[^\s,!{}()*]+$/;
const UNDERSTOOD =
  'the emulator understands <sum|avg|min|max>:<metric>{<scope>} [by {<tags>}] with .as_count(), .as_rate(), .rollup(), numbers, + - * / and ( )';

class Parser {
  private pos = 0;

  /** `names`: the query names a v2 formula may refer to; null parses a metric query. */
  constructor(
    private readonly src: string,
    private readonly names: readonly string[] | null,
  ) {}

  parse(): Node {
    const node = this.expr();
    this.ws();
    if (this.pos < this.src.length) this.fail(`unexpected '${this.src.slice(this.pos, this.pos + 20)}'`);
    return node;
  }

  private fail(what: string): never {
    throw new QueryError(`Error parsing query: ${what} at position ${this.pos} of '${this.src}'; ${UNDERSTOOD}`);
  }

  private ws(): void {
    while (this.pos < this.src.length && /\s/.test(this.src[this.pos])) this.pos++;
  }

  private peek(): string {
    this.ws();
    return this.src[this.pos] ?? '';
  }

  private take(text: string): boolean {
    this.ws();
    if (!this.src.startsWith(text, this.pos)) return false;
    this.pos += text.length;
    return true;
  }

  private expect(text: string, what: string): void {
    if (!this.take(text)) this.fail(`expected '${text}' ${what}`);
  }

  private match(re: RegExp): string | null {
    this.ws();
    re.lastIndex = this.pos;
    const m = re.exec(this.src);
    if (!m) return null;
    this.pos += m[0].length;
    return m[0];
  }

  private expr(): Node {
    let node = this.product();
    for (;;) {
      const c = this.peek();
      if (c !== '+' && c !== '-') return node;
      this.pos++;
      node = { kind: 'binary', op: c, left: node, right: this.product() };
    }
  }

  private product(): Node {
    let node = this.unary();
    for (;;) {
      const c = this.peek();
      if (c !== '*' && c !== '/') return node;
      this.pos++;
      node = { kind: 'binary', op: c, left: node, right: this.unary() };
    }
  }

  private unary(): Node {
    const c = this.peek();
    if (c === '-') {
      this.pos++;
      return { kind: 'negate', operand: this.unary() };
    }
    if (c === '(') {
      this.pos++;
      const inner = this.expr();
      this.expect(')', 'to close the parenthesis');
      return inner;
    }
    const number = this.match(NUMBER);
    if (number !== null) return { kind: 'number', value: Number(number) };
    const start = this.pos;
    const ident = this.match(IDENT);
    if (ident === null) this.fail(c ? `unexpected '${c}'` : 'unexpected end of query');
    const next = this.src[this.pos] ?? '';
    if (next === '(') {
      this.pos = start;
      this.fail(`the function '${ident}()' is not understood`);
    }
    if (this.names) {
      if (next === ':' || next === '{') this.fail('a formula refers to queries by name (a, b, ...), not to metric queries');
      if (!this.names.includes(ident)) {
        this.pos = start;
        this.fail(`the formula refers to '${ident}', which is not a query name (${this.names.join(', ') || 'none given'})`);
      }
      return { kind: 'name', name: ident };
    }
    if (next === '{') {
      this.pos = start;
      this.fail(`'${ident}{...}' has no space aggregator; write sum:${ident}{...} (or avg, min, max)`);
    }
    if (next !== ':') {
      this.pos = start;
      this.fail(`expected <space_agg>:<metric>{<scope>}, found '${ident}'`);
    }
    if (!SPACE_AGGS.includes(ident)) {
      this.pos = start;
      this.fail(`the space aggregator '${ident}' is not understood (sum, avg, min or max)`);
    }
    this.pos++;
    return { kind: 'term', term: this.term(ident as SpaceAgg) };
  }

  private term(spaceAgg: SpaceAgg): MetricTerm {
    if (/\s/.test(this.src[this.pos] ?? '')) this.fail('a space after the space aggregator');
    const metric = this.match(IDENT);
    if (metric === null) this.fail('expected a metric name after the space aggregator');
    if (this.src[this.pos] !== '{') this.fail(`expected '{<scope>}' right after the metric ${metric}`);
    const close = this.src.indexOf('}', this.pos);
    if (close < 0) this.fail(`the scope of ${metric} is not closed with '}'`);
    const scopeText = this.src.slice(this.pos + 1, close).trim();
    const scope = this.scope(scopeText);
    this.pos = close + 1;
    const term: MetricTerm = { spaceAgg, metric, scope, scopeText: scopeText || '*', by: [], asRate: false, rollup: 'sum', rollupSeconds: null };
    const save = this.pos;
    if (this.match(/by\b/y) !== null) {
      if (this.peek() !== '{') this.fail("expected '{<tags>}' after by");
      const end = this.src.indexOf('}', this.pos);
      if (end < 0) this.fail("the by {...} list is not closed with '}'");
      term.by = this.src
        .slice(this.pos + 1, end)
        .split(',')
        .map((t) => t.trim());
      if (term.by.some((t) => !TAG.test(t))) this.fail(`'by {${this.src.slice(this.pos + 1, end)}}' is not a list of tag names`);
      this.pos = end + 1;
    } else this.pos = save;
    // Modifiers follow the term directly: `.as_count()`, `.as_rate()`, `.rollup(...)`.
    while (this.src[this.pos] === '.') {
      const at = this.pos;
      this.pos++;
      const name = this.match(/[A-Za-z_]+/y) ?? '';
      if (this.src[this.pos] !== '(') this.fail(`expected '(' after .${name}`);
      const end = this.src.indexOf(')', this.pos);
      if (end < 0) this.fail(`.${name}( is not closed with ')'`);
      const args = this.src
        .slice(this.pos + 1, end)
        .split(',')
        .map((a) => a.trim())
        .filter((a) => a !== '');
      if (name === 'as_count' || name === 'as_rate') {
        if (args.length) this.fail(`.${name}() takes no arguments`);
        term.asRate = name === 'as_rate';
      } else if (name === 'rollup') {
        const [method, seconds, ...rest] = args;
        if (!method || !ROLLUPS.includes(method) || rest.length)
          this.fail(`.rollup() takes sum, avg, min or max and optional seconds, not '${args.join(', ')}'`);
        if (seconds !== undefined && !/^[1-9]\d*$/.test(seconds)) this.fail(`the rollup interval '${seconds}' is not a whole number of seconds`);
        term.rollup = method as Rollup;
        term.rollupSeconds = seconds === undefined ? null : Number(seconds);
      } else {
        this.pos = at;
        this.fail(`the function '.${name}()' is not understood`);
      }
      this.pos = end + 1;
    }
    return term;
  }

  private scope(text: string): ScopeItem[] {
    if (text === '' || text === '*') return [];
    return text.split(',').map((raw) => {
      const item = raw.trim();
      const negated = item.startsWith('!');
      const body = negated ? item.slice(1) : item;
      const colon = body.indexOf(':');
      const tag = colon < 0 ? body : body.slice(0, colon);
      const value = colon < 0 ? '' : body.slice(colon + 1);
      if (colon < 0 || !TAG.test(tag) || !TAG_VALUE.test(value)) {
        this.fail(`the scope item '${item}' is not understood (use comma-separated tag:value and !tag:value, or *)`);
      }
      return { tag, value, negated };
    });
  }
}

function parseQuery(query: string): Node {
  return new Parser(query, null).parse();
}

// ---------------------------------------------------------------------------------------------
// Evaluation

/** Points by interval start (ms); null where the value is not a number (e.g. a division by zero). */
type Points = Map<number, number | null>;

interface Group {
  tags: string[];
  points: Points;
}

type Value = { kind: 'number'; value: number } | { kind: 'series'; by: string[]; groups: Map<string, Group> };

interface Window {
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

function termInterval(term: MetricTerm, window: Window): number {
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
function evaluate(node: Node, window: Window, names: Record<string, Value> = {}): Value {
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

function terms(node: Node): MetricTerm[] {
  switch (node.kind) {
    case 'term':
      return [node.term];
    case 'negate':
      return terms(node.operand);
    case 'binary':
      return [...terms(node.left), ...terms(node.right)];
    default:
      return [];
  }
}

const V2_AGGREGATORS: Record<string, Rollup | 'last'> = { avg: 'avg', mean: 'avg', sum: 'sum', min: 'min', max: 'max', last: 'last' };

/** A series reduced to one value per group (kept as a single point at 0, so formulas reuse the series arithmetic). */
function reduceSeries(value: Value, aggregator: Rollup | 'last'): Value {
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

// ---------------------------------------------------------------------------------------------
// The server

class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly errors: string[],
  ) {
    super(errors.join('; '));
  }
}

interface Answer {
  status: number;
  body: unknown;
}

/** Which requests need which keys, and which rate limit counts them. */
interface Route {
  name: string;
  appKey: boolean;
  query: boolean;
  handle(url: URL, body: unknown): Answer;
}

const MAX_BODY = 1 << 20;

async function readJson(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY) throw new HttpError(413, ['Request entity too large']);
    chunks.push(chunk as Buffer);
  }
  const text = Buffer.concat(chunks).toString('utf8');
  if (text.trim() === '') return undefined;
  try {
    return JSON.parse(text);
  } catch {
    throw new HttpError(400, ['Invalid JSON in the request body']);
  }
}

export async function startDatadogEmulator(opts: DatadogEmulatorOptions): Promise<DatadogEmulator> {
  const { counters, apiKey, appKey } = opts;
  const ingestDelayMs = opts.ingestDelayMs ?? 0;
  const rateLimit = opts.rateLimit ?? { limit: 1000, periodSeconds: 60 };
  const monitors = new Map<number, EmulatedMonitor & { created: string }>();
  const events: EmulatedEvent[] = [];
  const seen: EmulatedRequest[] = [];
  const windows = new Map<string, { start: number; used: number }>();
  let throttled = 0;
  let throttleReset = 0;
  let isDown = false;
  let nextEventId = 1_000_001;

  // Set once listening: a port of the kernel's choosing, taken at once (a probed one could be lost first).
  let url = '';

  /** The buckets Datadog would have ingested by now in [fromMs, toMs], and the interval for the window. */
  function visible(fromMs: number, toMs: number): Window {
    const visibleUntil = Date.now() - ingestDelayMs;
    const buckets = counters.range(fromMs, toMs + 1).filter((b) => b.atMs >= fromMs && b.atMs <= toMs && b.atMs <= visibleUntil);
    const seconds = Math.max(Math.ceil(counters.bucketMs / 1000), Math.ceil((toMs - fromMs) / 1000 / 300), 1);
    return { buckets, bucketMs: counters.bucketMs, intervalMs: seconds * 1000 };
  }

  function parseOrFail(query: string): Node {
    try {
      return parseQuery(query);
    } catch (err) {
      if (err instanceof QueryError) throw new HttpError(400, [err.message]);
      throw err;
    }
  }

  function evaluateOrFail<T>(f: () => T): T {
    try {
      return f();
    } catch (err) {
      if (err instanceof QueryError) throw new HttpError(400, [err.message]);
      throw err;
    }
  }

  function queryV1(u: URL): Answer {
    const from = Number(u.searchParams.get('from'));
    const to = Number(u.searchParams.get('to'));
    const query = u.searchParams.get('query');
    if (!query) throw new HttpError(400, ["Missing 'query' parameter"]);
    if (!u.searchParams.get('from') || !Number.isInteger(from)) throw new HttpError(400, ["Missing or invalid 'from' parameter (seconds since the epoch)"]);
    if (!u.searchParams.get('to') || !Number.isInteger(to)) throw new HttpError(400, ["Missing or invalid 'to' parameter (seconds since the epoch)"]);
    if (to < from) throw new HttpError(400, ["'to' is before 'from'"]);
    const node = parseOrFail(query);
    const found = terms(node);
    if (found.length === 0) throw new HttpError(400, [`Error parsing query: '${query}' has no metric term; ${UNDERSTOOD}`]);
    const w = visible(from * 1000, to * 1000);
    const result = evaluateOrFail(() => evaluate(node, w));
    const series =
      result.kind === 'number'
        ? []
        : [...result.groups.entries()]
            .sort(([a], [b]) => a.localeCompare(b))
            .filter(([, g]) => g.points.size > 0)
            .map(([, g]) => {
              const interval = Math.max(...found.map((t) => termInterval(t, w)));
              const pointlist = [...g.points.entries()].sort(([a], [b]) => a - b);
              const single = node.kind === 'term';
              const scope = [found[0].scopeText === '*' && g.tags.length ? '' : found[0].scopeText, ...g.tags].filter(Boolean).join(',');
              return {
                metric: single ? found[0].metric : query.trim(),
                display_name: single ? found[0].metric : query.trim(),
                pointlist,
                scope,
                expression: query.trim(),
                interval: interval / 1000,
                length: pointlist.length,
                start: pointlist[0][0],
                end: pointlist[pointlist.length - 1][0] + interval - 1,
                aggr: single ? found[0].spaceAgg : null,
                tag_set: g.tags,
                unit: null,
                query_index: 0,
                attributes: {},
              };
            });
    return {
      status: 200,
      body: {
        status: 'ok',
        res_type: 'time_series',
        resp_version: 1,
        query,
        from_date: from * 1000,
        to_date: to * 1000,
        series,
        values: [],
        times: [],
        message: '',
        group_by: result.kind === 'series' ? result.by : [],
      },
    };
  }

  function queryScalar(_u: URL, body: unknown): Answer {
    const data = (body as { data?: { type?: unknown; attributes?: Record<string, unknown> } } | undefined)?.data;
    if (!data || data.type !== 'scalar_request' || !data.attributes)
      throw new HttpError(400, ["The body needs data.type 'scalar_request' and data.attributes"]);
    const { from, to, queries, formulas } = data.attributes as { from?: unknown; to?: unknown; queries?: unknown; formulas?: unknown };
    if (typeof from !== 'number' || typeof to !== 'number' || to < from)
      throw new HttpError(400, ['attributes.from and attributes.to must be milliseconds, from <= to']);
    if (!Array.isArray(queries) || queries.length === 0) throw new HttpError(400, ['attributes.queries must list at least one query']);
    const w = visible(from, to);
    const reduced: Record<string, Value> = {};
    const names: string[] = [];
    for (const [i, q] of (queries as Record<string, unknown>[]).entries()) {
      if (q.data_source !== 'metrics')
        throw new HttpError(400, [`queries[${i}].data_source '${String(q.data_source)}' is not understood by the emulator (metrics only)`]);
      if (typeof q.query !== 'string' || q.query === '') throw new HttpError(400, [`queries[${i}].query is missing`]);
      const name = typeof q.name === 'string' && q.name ? q.name : `query${i + 1}`;
      const aggregator = V2_AGGREGATORS[String(q.aggregator ?? 'avg')];
      if (!aggregator)
        throw new HttpError(400, [`queries[${i}].aggregator '${String(q.aggregator)}' is not understood by the emulator (avg, mean, sum, min, max, last)`]);
      const node = parseOrFail(q.query);
      if (terms(node).length === 0) throw new HttpError(400, [`Error parsing query: '${q.query}' has no metric term; ${UNDERSTOOD}`]);
      reduced[name] = reduceSeries(
        evaluateOrFail(() => evaluate(node, w)),
        aggregator,
      );
      names.push(name);
    }
    const asked = Array.isArray(formulas) && formulas.length ? (formulas as { formula?: unknown }[]) : names.map((n) => ({ formula: n }));
    const results = asked.map((f, i) => {
      if (typeof f.formula !== 'string' || f.formula.trim() === '') throw new HttpError(400, [`formulas[${i}].formula is missing`]);
      const formula = f.formula;
      let node: Node;
      try {
        node = new Parser(formula, names).parse();
      } catch (err) {
        if (err instanceof QueryError) throw new HttpError(400, [err.message.replace('Error parsing query', 'Error parsing formula')]);
        throw err;
      }
      return { name: formula, value: evaluateOrFail(() => evaluate(node, w, reduced)) };
    });
    // One row per group, in the order of the first grouped result; a number applies to every row.
    const grouped = results.find((r) => r.value.kind === 'series')?.value as Extract<Value, { kind: 'series' }> | undefined;
    const rows = grouped ? [...grouped.groups.entries()].sort(([a], [b]) => a.localeCompare(b)) : [];
    const columns: unknown[] = (grouped?.by ?? []).map((tag, i) => ({
      name: tag,
      type: 'group',
      values: rows.map(([, g]) => [g.tags[i].slice(tag.length + 1)]),
    }));
    for (const r of results) {
      const values =
        r.value.kind === 'number'
          ? [r.value.value]
          : rows.map(([key]) => (r.value as Extract<Value, { kind: 'series' }>).groups.get(key)?.points.get(0) ?? null);
      columns.push({ name: r.name, type: 'number', values, meta: { unit: null } });
    }
    return { status: 200, body: { data: { type: 'scalar_response', attributes: { columns } } } };
  }

  function monitorBody(id: number) {
    const m = monitors.get(id)!;
    return {
      id,
      name: m.name,
      type: m.type ?? 'query alert',
      query: m.query,
      message: '',
      tags: [],
      options: { notify_no_data: false, include_tags: true },
      overall_state: m.overall_state,
      overall_state_modified: m.created,
      created: m.created,
      modified: m.created,
      multi: false,
      priority: null,
      restricted_roles: null,
      deleted: null,
      org_id: 1,
      creator: { email: 'rotor@sandbox.invalid', handle: 'rotor@sandbox.invalid', name: 'rotor sandbox' },
    };
  }

  function getMonitor(u: URL): Answer {
    const raw = decodeURIComponent(u.pathname.slice('/api/v1/monitor/'.length));
    if (!/^\d+$/.test(raw)) throw new HttpError(400, [`Invalid monitor_id '${raw}': it must be an integer`]);
    const id = Number(raw);
    if (!monitors.has(id)) throw new HttpError(404, ['Monitor not found']);
    return { status: 200, body: monitorBody(id) };
  }

  function listMonitors(u: URL): Answer {
    const wanted = u.searchParams.get('monitor_ids');
    const ids = wanted === null ? [...monitors.keys()] : wanted.split(',').map((s) => Number(s.trim()));
    if (ids.some((id) => !Number.isInteger(id))) throw new HttpError(400, ['monitor_ids must be a comma-separated list of integers']);
    return { status: 200, body: ids.filter((id) => monitors.has(id)).map(monitorBody) };
  }

  function postEvent(_u: URL, body: unknown): Answer {
    const e = (body ?? {}) as Record<string, unknown>;
    if (typeof e.title !== 'string' || e.title === '' || typeof e.text !== 'string') throw new HttpError(400, ['Event title and text are required']);
    const tags = Array.isArray(e.tags) ? e.tags.map(String) : [];
    const event: EmulatedEvent = {
      id: nextEventId++,
      title: e.title,
      text: e.text,
      tags,
      alertType: typeof e.alert_type === 'string' ? e.alert_type : 'info',
      priority: typeof e.priority === 'string' ? e.priority : 'normal',
      dateHappened: typeof e.date_happened === 'number' ? e.date_happened : Math.floor(Date.now() / 1000),
      ...(typeof e.aggregation_key === 'string' ? { aggregationKey: e.aggregation_key } : {}),
      ...(typeof e.source_type_name === 'string' ? { sourceTypeName: e.source_type_name } : {}),
    };
    events.push(event);
    return {
      status: 202,
      body: {
        status: 'ok',
        event: {
          id: event.id,
          id_str: String(event.id),
          title: event.title,
          text: event.text,
          tags: event.tags,
          date_happened: event.dateHappened,
          alert_type: event.alertType,
          priority: event.priority,
          handle: null,
          related_event_id: null,
          url: `${url}/event/event?id=${event.id}`,
        },
      },
    };
  }

  function route(method: string, path: string): Route | null {
    if (method === 'GET' && path === '/api/v1/validate')
      return { name: 'validate', appKey: false, query: false, handle: () => ({ status: 200, body: { valid: true } }) };
    if (method === 'GET' && path === '/api/v1/query') return { name: 'query', appKey: true, query: true, handle: queryV1 };
    if (method === 'POST' && path === '/api/v2/query/scalar') return { name: 'query_scalar', appKey: true, query: true, handle: queryScalar };
    if (method === 'GET' && path === '/api/v1/monitor') return { name: 'monitor_list', appKey: true, query: false, handle: listMonitors };
    if (method === 'GET' && path.startsWith('/api/v1/monitor/')) return { name: 'monitor_get', appKey: true, query: false, handle: getMonitor };
    if (method === 'POST' && path === '/api/v1/events') return { name: 'events', appKey: false, query: false, handle: postEvent };
    return null;
  }

  /** Datadog's rate-limit headers for `name`, counting this request in a fixed window. */
  function rateHeaders(name: string, now: number): { headers: Record<string, string>; exceeded: boolean } {
    const periodMs = rateLimit.periodSeconds * 1000;
    const start = now - (now % periodMs);
    const w = windows.get(name)?.start === start ? windows.get(name)! : { start, used: 0 };
    w.used += 1;
    windows.set(name, w);
    return {
      exceeded: w.used > rateLimit.limit,
      headers: {
        'x-ratelimit-limit': String(rateLimit.limit),
        'x-ratelimit-period': String(rateLimit.periodSeconds),
        'x-ratelimit-remaining': String(Math.max(0, rateLimit.limit - w.used)),
        'x-ratelimit-reset': String(Math.ceil((start + periodMs - now) / 1000)),
        'x-ratelimit-name': name,
      },
    };
  }

  function answer(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
    res.writeHead(status, { 'Content-Type': 'application/json', ...headers }).end(JSON.stringify(body));
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const u = new URL(req.url ?? '/', url);
    const method = req.method ?? 'GET';
    const record = (status: number) => {
      seen.push({ method, path: u.pathname, status });
      if (status >= 300) opts.log?.(`datadog emulator: ${method} ${u.pathname} -> ${status}`);
    };
    // An outage answers before anything else, and without rate-limit headers (they come from the API,
    // which is down; the client would otherwise wait the period's reset before each retry).
    if (isDown) {
      record(503);
      return answer(res, 503, { errors: ['Service Unavailable'] });
    }
    const r = route(method, u.pathname);
    const limits = rateHeaders(r?.name ?? 'other', Date.now());
    if (!r) {
      record(404);
      return answer(res, 404, { errors: ['Not found'] }, limits.headers);
    }
    if (req.headers['dd-api-key'] !== apiKey || (r.appKey && req.headers['dd-application-key'] !== appKey)) {
      record(403);
      return answer(res, 403, { errors: ['Forbidden'] }, limits.headers);
    }
    if (r.query && throttled > 0) {
      throttled -= 1;
      record(429);
      return answer(
        res,
        429,
        { errors: ['Too many requests'] },
        { ...limits.headers, 'x-ratelimit-remaining': '0', 'x-ratelimit-reset': String(throttleReset) },
      );
    }
    if (limits.exceeded) {
      record(429);
      return answer(res, 429, { errors: ['Too many requests'] }, limits.headers);
    }
    try {
      const body = method === 'POST' ? await readJson(req) : undefined;
      const out = r.handle(u, body);
      record(out.status);
      answer(res, out.status, out.body, limits.headers);
    } catch (err) {
      if (!(err instanceof HttpError)) throw err;
      record(err.status);
      answer(res, err.status, { errors: err.errors }, limits.headers);
    }
  }

  const server = createServer((req, res) => {
    handle(req, res).catch((err: Error) => {
      seen.push({ method: req.method ?? 'GET', path: req.url ?? '/', status: 500 });
      opts.log?.(`datadog emulator: ${req.method} ${req.url} failed: ${err.message}`);
      if (!res.headersSent) answer(res, 500, { errors: ['Internal Server Error'] });
      else res.end();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  url = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  opts.log?.(`datadog emulator on ${url}${ingestDelayMs ? `, ingestion delay ${ingestDelayMs / 1000} s` : ''}`);

  return {
    url,
    setMonitor(id, monitor) {
      monitors.set(id, { ...monitor, created: monitors.get(id)?.created ?? new Date().toISOString() });
    },
    events: () => events.map((e) => ({ ...e, tags: [...e.tags] })),
    throttle(n, resetSeconds) {
      throttled = n;
      throttleReset = resetSeconds;
    },
    down(on) {
      isDown = on;
    },
    requests: () => seen.map((r) => ({ ...r })),
    requestCount: (path) => seen.filter((r) => r.path === path).length,
    async stop() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
