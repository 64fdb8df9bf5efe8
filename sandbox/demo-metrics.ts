// What the sandbox's Prometheus scraped from the demo's worker (job rotor-worker): the phases
// rotor_rotation_info showed over an act, in the order they first appeared.
import type { ActResult } from './demo-acts';
import { promRange } from './prom-query';

/** The phases of `act`'s rotation that Prometheus saw, first appearance first; [] for an act without rotor. */
export async function phasesScraped(prometheusUrl: string, act: Pick<ActResult, 'status' | 'window'>): Promise<string[]> {
  if (!act.status) return [];
  // This act's rotation only: the version it created, or none yet (an act before on the same secret
  // may still have a last sample inside this act's window, e.g. its COMPLETED just before it ended).
  const version = act.status.newVersion ? `,version=~"${act.status.newVersion}|"` : '';
  const query = `max by (phase) (rotor_rotation_info{secret="${act.status.secret}"${version}})`;
  const { error, result } = await promRange(prometheusUrl, query, act.window.from, act.window.to + 2000);
  if (error) throw new Error(`Prometheus: ${error}`);
  return result
    .map((s) => ({ phase: s.metric.phase, first: Math.min(...s.values.map(([t]) => t)) }))
    .sort((a, b) => a.first - b.first)
    .map((s) => s.phase);
}
