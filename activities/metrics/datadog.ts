// Datadog, through the official client (@datadog/datadog-api-client). The default measurement is the
// v2 scalar query over the analysis window, reduced by Datadog: the stage's query is split into its
// metric terms (named a, b, ...) and a formula over them, so `errors / requests` is one value. The v1
// timeseries query is the alternative: one series, its last point. No data, null, NaN or ±Inf is no
// data (inconclusive, never a pass); several series are an error that says to aggregate. The keys go
// in the DD-API-KEY and DD-APPLICATION-KEY headers only, never into a message or a log line.
import type * as DatadogClient from '@datadog/datadog-api-client';
import type { client, v2 } from '@datadog/datadog-api-client';
import { RotorError } from '../errors';
import type { DatadogAggregator, EventSink, MeasureOptions, MetricProvider, RotorEvent } from '../ports';
import { reveal, type Credential } from '../credentials';

let loaded: typeof DatadogClient | undefined;
/** The client takes a second or more to load (thousands of generated models): only a worker that measures with Datadog pays for it. */
function datadogClient(): typeof DatadogClient {
  if (!loaded) {
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- loaded on first use, see above
    loaded = require('@datadog/datadog-api-client') as typeof DatadogClient;
    // The client prints its own stack trace for a failed connection; rotor reports the failure itself,
    // once, with what to check (and the worker's log stays rotor's).
    loaded.logger.setLevel('silent');
  }
  return loaded;
}

export interface DatadogSettings {
  apiKey: Credential;
  appKey: Credential;
  /** The Datadog site, e.g. datadoghq.eu (api.<site> answers); datadoghq.com when neither this nor url is set. */
  site?: string;
  /** A base URL that replaces the site's, e.g. the sandbox's emulator at http://127.0.0.1:40123 */
  url?: string;
  /** How long one HTTP request may take. */
  timeoutMs: number;
  /** Retries of a 429 or 5xx answer by the client (default 3). */
  maxRetries?: number;
  /** The longest wait before retrying a 429, whatever x-ratelimit-reset says (default MAX_RATE_LIMIT_WAIT_S). */
  maxRateLimitWaitSeconds?: number;
}

/** The window a measurement reduces over when the caller does not say (Datadog ingests with a delay of a minute or so). */
const DEFAULT_WINDOW_MS = 5 * 60_000;

/**
 * The client waits exactly x-ratelimit-reset seconds before retrying a 429, without a bound; a reset of
 * minutes would hold the measurement (and its activity's heartbeat) that long, so rotor caps each wait.
 */
const MAX_RATE_LIMIT_WAIT_S = 10;

export interface DatadogQuerySplit {
  queries: { name: string; query: string }[];
  formula: string;
}

// A metric term: [<space_agg>:]<metric>{<scope>} [by {<tags>}] and the modifiers chained after it
// (.as_count(), .as_rate(), .rollup(...), .fill(...) and the like stay with their term).
const TERM = /(?:[A-Za-z0-9_]+:)?[A-Za-z_][A-Za-z0-9_.]*\{[^{}]*\}(?:\s*by\s*\{[^{}]*\})?(?:\.[A-Za-z_]+\([^()]*\))*/g;

const queryName = (i: number) => (i < 26 ? String.fromCharCode(97 + i) : `q${i}`);

/**
 * Splits a classic Datadog query into its metric terms, named a, b, c ... in order of appearance (a
 * term written twice is one query), and the formula over those names: the v2 API's queries and formula.
 * `sum:x{env:a}.as_count() / sum:y{env:a}.as_count()` -> queries a, b and formula `a / b`.
 */
export function splitDatadogQuery(query: string): DatadogQuerySplit {
  const queries: { name: string; query: string }[] = [];
  const formula = query
    .replace(TERM, (term) => {
      const text = term.trim();
      const known = queries.find((q) => q.query === text);
      if (known) return known.name;
      const name = queryName(queries.length);
      queries.push({ name, query: text });
      return name;
    })
    .trim();
  if (queries.length === 0) {
    throw new RotorError('ProviderError', `the Datadog query "${query}" has no metric term; write it like sum:<metric>{<scope>}.as_count()`);
  }
  return { queries, formula };
}

interface RateLimit {
  name: string | null;
  limit: string | null;
  period: string | null;
  reset: string | null;
}

/** What one call saw of its HTTP exchanges: the client keeps the headers of its answers to itself. */
interface Exchange {
  attempts: number;
  rateLimit: RateLimit | null;
}

const finiteOrNull = (v: number | null | undefined): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);

export class DatadogProvider implements MetricProvider, EventSink {
  readonly name = 'datadog' as const;
  /** Where requests go, for messages: the override URL or the site's API host. */
  readonly where: string;

  constructor(
    private readonly settings: DatadogSettings,
    private readonly log?: (message: string, fields?: Record<string, unknown>) => void,
  ) {
    this.where = settings.url ? settings.url.replace(/\/+$/, '') : `https://api.${settings.site ?? 'datadoghq.com'}`;
  }

  /**
   * A configuration for one call: its own fetch records what the call saw (attempts, the last 429's
   * rate-limit headers) for the error message, and gives every attempt its own timeout.
   */
  private configuration(exchange: Exchange): client.Configuration {
    const { timeoutMs } = this.settings;
    const maxWait = this.settings.maxRateLimitWaitSeconds ?? MAX_RATE_LIMIT_WAIT_S;
    const log = this.log;
    const fetchOnce = async (input: string, init: RequestInit): Promise<Response> => {
      exchange.attempts += 1;
      const response = await fetch(input, { ...init, signal: AbortSignal.timeout(timeoutMs) });
      if (response.status !== 429) return response;
      const h = response.headers;
      exchange.rateLimit = {
        name: h.get('x-ratelimit-name'),
        limit: h.get('x-ratelimit-limit'),
        period: h.get('x-ratelimit-period'),
        reset: h.get('x-ratelimit-reset'),
      };
      const reset = Number(exchange.rateLimit.reset);
      log?.('Datadog rate limited a request; the client retries after the reset', {
        limit: exchange.rateLimit.name,
        resetSeconds: Number.isFinite(reset) ? reset : null,
        attempt: exchange.attempts,
      });
      if (!(reset > maxWait)) return response;
      const headers = new Headers(h);
      headers.set('x-ratelimit-reset', String(maxWait));
      return new Response(response.body, { status: response.status, statusText: response.statusText, headers });
    };
    const dd = datadogClient();
    const configuration = dd.client.createConfiguration({
      authMethods: { apiKeyAuth: reveal(this.settings.apiKey), appKeyAuth: reveal(this.settings.appKey) },
      // Plain answers (Accept-Encoding: identity): they are small. The timeout is per attempt, in fetchOnce.
      httpConfig: { compress: false },
      fetch: fetchOnce,
      enableRetry: true,
      maxRetries: this.settings.maxRetries ?? 3,
      ...(this.settings.url ? { baseServer: new dd.client.BaseServerConfiguration(this.settings.url.replace(/\/+$/, ''), {}) } : {}),
    });
    if (!this.settings.url && this.settings.site) configuration.setServerVariables({ site: this.settings.site });
    return configuration;
  }

  /** Runs one API call and turns whatever goes wrong into a ProviderError that says what to do. */
  private async call<T>(doing: string, run: (dd: typeof DatadogClient, configuration: client.Configuration) => Promise<T>): Promise<T> {
    const exchange: Exchange = { attempts: 0, rateLimit: null };
    try {
      return await run(datadogClient(), this.configuration(exchange));
    } catch (err) {
      throw this.redact(this.explain(err, doing, exchange));
    }
  }

  private explain(err: unknown, doing: string, exchange: Exchange): RotorError {
    if (err instanceof RotorError) return err;
    const where = `Datadog at ${this.where}`;
    if (err instanceof datadogClient().client.ApiException) {
      const status = err.code;
      const errors = (err.body as { errors?: unknown } | undefined)?.errors;
      const said = Array.isArray(errors) ? errors.map(String).join('; ') : typeof err.body === 'string' ? err.body.slice(0, 300) : '';
      if (status === 401 || status === 403) {
        return new RotorError(
          'ProviderError',
          `Datadog refused the API or application key (HTTP ${status}); check DD_API_KEY and DD_APP_KEY on the worker`,
          doing,
          status,
        );
      }
      if (status === 400) return new RotorError('ProviderError', `Datadog rejected ${doing} (HTTP 400): ${said || 'no reason given'}`, doing, status);
      if (status === 429) {
        const rl = exchange.rateLimit;
        const which = rl?.name ? ` (limit ${rl.name}${rl.limit ? `: ${rl.limit} requests per ${rl.period ?? '?'} s` : ''})` : '';
        const reset = rl?.reset ? `; the limit resets in ${rl.reset} s` : '';
        return new RotorError(
          'ProviderError',
          `Datadog rate limited ${doing}${which} and still did after ${exchange.attempts - 1} retries${reset}; measure less often or ask Datadog for a higher limit`,
          doing,
          status,
        );
      }
      if (status >= 500) {
        return new RotorError(
          'ProviderError',
          `${where} is unavailable (HTTP ${status}) after ${exchange.attempts} attempts at ${doing}; see https://status.datadoghq.com and try again`,
          doing,
          status,
        );
      }
      return new RotorError('ProviderError', `${where} answered ${doing} with HTTP ${status}${said ? `: ${said}` : ''}`, doing, status);
    }
    const e = err as Error & { cause?: { code?: string; message?: string } };
    if (e?.name === 'TimeoutError' || e?.name === 'AbortError') {
      return new RotorError(
        'ProviderError',
        `${where} did not answer ${doing} within ${this.settings.timeoutMs / 1000} s; check the network to it, or raise ROTOR_DATADOG_TIMEOUT`,
        doing,
      );
    }
    if (e?.name === 'TypeError' && e.message === 'fetch failed') {
      return new RotorError(
        'ProviderError',
        `cannot reach ${where} for ${doing} (${e.cause?.code ?? e.cause?.message ?? 'network error'}); check DD_SITE or ROTOR_DATADOG_URL and the network`,
        doing,
      );
    }
    return new RotorError('ProviderError', `${where} answered ${doing} in a way rotor cannot read (${e?.message ?? String(err)})`, doing);
  }

  /** A key never leaves the provider, whatever a lower layer put in a message. */
  private redact(err: RotorError): RotorError {
    let message = err.message;
    for (const key of [this.settings.apiKey, this.settings.appKey].map(reveal)) if (key) message = message.split(key).join('[redacted]');
    return message === err.message ? err : new RotorError(err.type, message, err.object, err.status);
  }

  async measure(query: string, options?: MeasureOptions): Promise<number | null> {
    const windowMs = options?.windowMs ?? DEFAULT_WINDOW_MS;
    const { api, aggregator } = options?.datadog ?? { api: 'v2' as const, aggregator: 'avg' as DatadogAggregator };
    return api === 'v1' ? this.measureV1(query, windowMs) : this.measureV2(query, windowMs, aggregator ?? 'avg');
  }

  private async measureV2(query: string, windowMs: number, aggregator: DatadogAggregator): Promise<number | null> {
    const split = splitDatadogQuery(query);
    const to = Date.now();
    const response = await this.call('the query', (dd, configuration) =>
      new dd.v2.MetricsApi(configuration).queryScalarData({
        body: {
          data: {
            type: 'scalar_request',
            attributes: {
              from: to - windowMs,
              to,
              queries: split.queries.map((q) => ({ dataSource: 'metrics', name: q.name, query: q.query, aggregator })),
              formulas: [{ formula: split.formula }],
            },
          },
        },
      }),
    );
    if (response.errors) throw new RotorError('ProviderError', `Datadog rejected the query: ${response.errors}`, 'the query');
    const numbers = (response.data?.attributes?.columns ?? []).filter((c): c is v2.DataScalarColumn => (c as v2.DataScalarColumn).type === 'number');
    const column = numbers.length === 1 ? numbers[0] : (numbers.find((c) => c.name === split.formula) ?? numbers[numbers.length - 1]);
    const values = column?.values ?? [];
    if (values.length > 1) {
      throw new RotorError(
        'ProviderError',
        `the query returned ${values.length} values (one per group); aggregate it to one, e.g. remove "by {...}" or use sum:/max: over the scope`,
        'the query',
      );
    }
    return finiteOrNull(values[0]);
  }

  private async measureV1(query: string, windowMs: number): Promise<number | null> {
    const to = Math.floor(Date.now() / 1000);
    const from = to - Math.max(1, Math.round(windowMs / 1000));
    const response = await this.call('the query', (dd, configuration) => new dd.v1.MetricsApi(configuration).queryMetrics({ from, to, query }));
    if (response.status === 'error' || response.error) {
      throw new RotorError('ProviderError', `Datadog rejected the query: ${response.error ?? 'no reason given'}`, 'the query');
    }
    const series = response.series ?? [];
    if (series.length === 0) return null;
    if (series.length > 1) {
      throw new RotorError(
        'ProviderError',
        `the query returned ${series.length} series; aggregate it to one, e.g. remove "by {...}" (first: ${series[0].scope ?? series[0].tagSet?.join(',') ?? '?'})`,
        'the query',
      );
    }
    const points = series[0].pointlist ?? [];
    for (let i = points.length - 1; i >= 0; i--) {
      const value = finiteOrNull(points[i][1]);
      if (value !== null) return value;
    }
    return null;
  }

  /** The overall state of each monitor (OK, Alert, Warn, No Data, ...), by id. */
  async monitorStates(ids: number[]): Promise<{ id: number; name: string; state: string }[]> {
    return Promise.all(
      ids.map(async (id) => {
        const monitor = await this.call(`monitor ${id}`, (dd, configuration) => new dd.v1.MonitorsApi(configuration).getMonitor({ monitorId: id })).catch(
          (err: RotorError) => {
            if (err.status === 404)
              throw new RotorError('ProviderError', `Datadog has no monitor ${id} (HTTP 404); check the monitor ids in the plan`, `monitor ${id}`, 404);
            throw err;
          },
        );
        const state = monitor.overallState as unknown;
        // A state this client version does not know arrives unparsed; its raw text is still the state.
        const text = typeof state === 'string' ? state : String((state as { _data?: unknown } | undefined)?._data ?? 'Unknown');
        return { id, name: monitor.name ?? '', state: text };
      }),
    );
  }

  /** An event in Datadog's event stream (e.g. a rotation's stage switched or rolled back). */
  async postEvent(event: RotorEvent): Promise<void> {
    await this.call('the event', (dd, configuration) =>
      new dd.v1.EventsApi(configuration).createEvent({
        body: { title: event.title, text: event.text, tags: event.tags, alertType: event.alertType },
      }),
    );
  }
}
