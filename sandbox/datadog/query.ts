// The Datadog emulator's query language (sandbox/datadog/server.ts serves it): the parser. It
// understands exactly this; anything else is a QueryError naming what is not understood, which the
// server answers as HTTP 400 {"errors": ["Error parsing query: ..."]}:
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

type SpaceAgg = 'sum' | 'avg' | 'min' | 'max';
export type Rollup = 'sum' | 'avg' | 'min' | 'max';
export type Op = '+' | '-' | '*' | '/';

interface ScopeItem {
  tag: string;
  value: string;
  negated: boolean;
}

export interface MetricTerm {
  spaceAgg: SpaceAgg;
  metric: string;
  scope: ScopeItem[];
  scopeText: string;
  by: string[];
  asRate: boolean;
  rollup: Rollup;
  rollupSeconds: number | null;
}

export type Node =
  | { kind: 'number'; value: number }
  | { kind: 'negate'; operand: Node }
  | { kind: 'binary'; op: Op; left: Node; right: Node }
  | { kind: 'term'; term: MetricTerm }
  | { kind: 'name'; name: string };

/** A query the emulator does not understand: HTTP 400 with this text, as Datadog answers. */
export class QueryError extends Error {}

const SPACE_AGGS: readonly string[] = ['sum', 'avg', 'min', 'max'];
const ROLLUPS: readonly string[] = ['sum', 'avg', 'min', 'max'];
const IDENT = /[A-Za-z_][A-Za-z0-9_.]*/y;
const NUMBER = /\d+(\.\d+)?([eE][+-]?\d+)?|\.\d+([eE][+-]?\d+)?/y;
const TAG = /^[A-Za-z][A-Za-z0-9_.\-/]*$/;
const TAG_VALUE = /^[^\s,!{}()*]+$/;
export const UNDERSTOOD =
  'the emulator understands <sum|avg|min|max>:<metric>{<scope>} [by {<tags>}] with .as_count(), .as_rate(), .rollup(), numbers, + - * / and ( )';

export class Parser {
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

export function parseQuery(query: string): Node {
  return new Parser(query, null).parse();
}

/** The metric terms of a query, left to right. */
export function terms(node: Node): MetricTerm[] {
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
