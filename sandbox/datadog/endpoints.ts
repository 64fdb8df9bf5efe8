// The Datadog emulator's answers (server.ts routes to them and checks keys and rate limits first):
// v1 query, v2 scalar, monitors and events, over the traffic counters as Datadog would have
// ingested them by now.
import type { TrafficCounters } from '../traffic-counters';
import { evaluate, reduceSeries, termInterval, V2_AGGREGATORS, type Value, type Window } from './evaluate';
import { Parser, parseQuery, QueryError, terms, UNDERSTOOD, type Node } from './query';

type MonitorState = 'OK' | 'Alert' | 'Warn' | 'No Data';

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

/** An error answer: its status and Datadog's `errors` body. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly errors: string[],
  ) {
    super(errors.join('; '));
  }
}

export interface Answer {
  status: number;
  body: unknown;
}

/** The API's state (monitors, events) and its endpoints; `url`: the emulator's, once it listens (an event's link). */
export function datadogApi(options: { counters: TrafficCounters; ingestDelayMs: number; url: () => string }) {
  const { counters, ingestDelayMs } = options;
  const monitors = new Map<number, EmulatedMonitor & { created: string }>();
  const events: EmulatedEvent[] = [];
  let nextEventId = 1_000_001;

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
          url: `${options.url()}/event/event?id=${event.id}`,
        },
      },
    };
  }

  return {
    queryV1,
    queryScalar,
    getMonitor,
    listMonitors,
    postEvent,
    setMonitor(id: number, monitor: EmulatedMonitor) {
      monitors.set(id, { ...monitor, created: monitors.get(id)?.created ?? new Date().toISOString() });
    },
    events: () => events.map((e) => ({ ...e, tags: [...e.tags] })),
  };
}
