// Prometheus: the HTTP API's instant query (POST /api/v1/query) with the stage's PromQL. A scalar or a
// one-element vector is the value; an empty result, NaN or ±Inf is no data (inconclusive, never a
// pass); several series are an error that says to aggregate the query. Credentials (a bearer token
// or basic auth) go in the Authorization header only, never into a message.
import { RotorError } from '../errors';
import type { MetricProvider } from '../ports';
import { reveal, type Credential } from '../credentials';

export interface PrometheusSettings {
  /** Base URL of the server (or of its path prefix), e.g. http://prometheus.monitoring:9090 */
  url: string;
  timeoutMs: number;
  bearerToken?: Credential;
  basicAuth?: { username: string; password: Credential };
}

type Sample = [number, string];
interface QueryResponse {
  status: 'success' | 'error';
  errorType?: string;
  error?: string;
  data?: { resultType: 'scalar' | 'vector' | 'matrix' | 'string'; result: Sample | { metric: Record<string, string>; value: Sample }[] };
}

function number(sample: Sample): number | null {
  const value = Number(sample[1]);
  return Number.isFinite(value) ? value : null;
}

export class PrometheusProvider implements MetricProvider {
  readonly name = 'prometheus' as const;
  private readonly endpoint: URL;

  constructor(private readonly settings: PrometheusSettings) {
    this.endpoint = new URL('api/v1/query', settings.url.endsWith('/') ? settings.url : `${settings.url}/`);
  }

  private headers(): Record<string, string> {
    const headers: Record<string, string> = { 'Content-Type': 'application/x-www-form-urlencoded', Accept: 'application/json' };
    const { bearerToken, basicAuth } = this.settings;
    if (bearerToken) headers.Authorization = `Bearer ${reveal(bearerToken)}`;
    else if (basicAuth) headers.Authorization = `Basic ${Buffer.from(`${basicAuth.username}:${reveal(basicAuth.password)}`).toString('base64')}`;
    return headers;
  }

  async measure(query: string): Promise<number | null> {
    const where = `prometheus at ${this.settings.url}`;
    let response: Response;
    try {
      response = await fetch(this.endpoint, {
        method: 'POST',
        headers: this.headers(),
        body: new URLSearchParams({ query }).toString(),
        signal: AbortSignal.timeout(this.settings.timeoutMs),
      });
    } catch (err) {
      const e = err as Error & { cause?: { code?: string } };
      if (e.name === 'TimeoutError') throw new RotorError('ProviderError', `${where} did not answer within ${this.settings.timeoutMs / 1000} s`);
      throw new RotorError('ProviderError', `cannot reach ${where} (${e.cause?.code ?? e.message})`);
    }
    if (response.status === 401 || response.status === 403) {
      throw new RotorError(
        'ProviderError',
        `${where} refused rotor's credentials (HTTP ${response.status}); check ROTOR_PROMETHEUS_TOKEN or ROTOR_PROMETHEUS_USERNAME/PASSWORD on the worker`,
      );
    }
    let body: QueryResponse;
    try {
      body = (await response.json()) as QueryResponse;
    } catch {
      throw new RotorError('ProviderError', `${where} answered HTTP ${response.status} without a JSON body; is ROTOR_PROMETHEUS_URL the Prometheus API?`);
    }
    if (body.status !== 'success' || !body.data) {
      throw new RotorError('ProviderError', `${where} rejected the query (${body.errorType ?? `HTTP ${response.status}`}): ${body.error ?? 'no reason given'}`);
    }
    const { resultType, result } = body.data;
    if (resultType === 'scalar') return number(result as Sample);
    if (resultType === 'vector') {
      const series = result as { metric: Record<string, string>; value: Sample }[];
      if (series.length === 0) return null;
      if (series.length > 1) {
        throw new RotorError(
          'ProviderError',
          `the query returned ${series.length} series; aggregate it to one value, e.g. sum(...) or max(...) (first: ${JSON.stringify(series[0].metric)})`,
        );
      }
      return number(series[0].value);
    }
    throw new RotorError(
      'ProviderError',
      `the query returned a ${resultType}; write an instant query that returns a scalar or one series (no [range] selector)`,
    );
  }
}
