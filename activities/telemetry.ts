// The worker's own metrics, as activities see them (worker/metrics.ts implements it).

/**
 * What activities tell the worker's own metrics (worker/metrics.ts): each analysis measurement and each
 * cleanup scan's findings. Never a secret value: names of secrets, versions, stages and namespaces only.
 */
export interface Telemetry {
  measured(at: { version: string | null; stage: string; check: string }, measurement: { value: number | null; phase: string }): void;
  referencesFound(version: string, holders: { namespace: string }[]): void;
}
