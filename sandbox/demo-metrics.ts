// What the sandbox's Prometheus scraped from the demo's worker (job rotor-worker): the phases
// rotor_rotation_info showed over an act, in the order they first appeared.
import type { ActResult } from './demo-acts';

/** The phases of `act`'s rotation that Prometheus saw, first appearance first; [] for an act without rotor. */
export async function phasesScraped(prometheusUrl: string, act: Pick<ActResult, 'status' | 'window'>): Promise<string[]> {
  if (!act.status) return [];
  const params = new URLSearchParams({
    query: `max by (phase) (rotor_rotation_info{secret="${act.status.secret}"})`,
    start: String(act.window.from / 1000),
    end: String(act.window.to / 1000 + 2),
    step: '1',
  });
  const res = await fetch(`${prometheusUrl}/api/v1/query_range?${params}`, { signal: AbortSignal.timeout(10_000) });
  const body = (await res.json()) as { status: string; error?: string; data?: { result: { metric: { phase: string }; values: [number, string][] }[] } };
  if (body.status !== 'success') throw new Error(`Prometheus: ${body.error}`);
  return body
    .data!.result.map((s) => ({ phase: s.metric.phase, first: Math.min(...s.values.map(([t]) => t)) }))
    .sort((a, b) => a.first - b.first)
    .map((s) => s.phase);
}
