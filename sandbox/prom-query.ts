// Reading the sandbox's Prometheus over its HTTP API (instant and range queries), as the demo's figures,
// its pages and the tests read it. Each answer keeps Prometheus' error, for a caller that must not take
// an empty result for "nothing happened".

export interface PromSeries {
  metric: Record<string, string>;
  values: [number, string][];
}

export interface PromAnswer<T> {
  /** Prometheus' error when it refused the query; null when it answered. */
  error: string | null;
  result: T[];
}

async function get<T>(url: string): Promise<PromAnswer<T>> {
  const body = (await (await fetch(url, { signal: AbortSignal.timeout(10_000) })).json()) as { status?: string; error?: string; data?: { result?: T[] } };
  return { error: body.status === 'success' ? null : (body.error ?? `status ${body.status}`), result: body.data?.result ?? [] };
}

/** An instant query at `atMs` (now when absent). */
export function promInstant(base: string, query: string, atMs?: number): Promise<PromAnswer<{ metric: Record<string, string>; value: [number, string] }>> {
  return get(`${base}/api/v1/query?query=${encodeURIComponent(query)}${atMs === undefined ? '' : `&time=${atMs / 1000}`}`);
}

/** A range query over [fromMs, toMs] every `stepS` seconds. */
export function promRange(base: string, query: string, fromMs: number, toMs: number, stepS = 1): Promise<PromAnswer<PromSeries>> {
  return get(`${base}/api/v1/query_range?query=${encodeURIComponent(query)}&start=${fromMs / 1000}&end=${toMs / 1000}&step=${stepS}`);
}
