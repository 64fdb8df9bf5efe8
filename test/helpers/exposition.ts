// Reading Prometheus' text exposition format (what a worker's /metrics serves) in tests: sandbox/exposition.ts's
// reader, and one sample by its labels.
import { samples } from '../../sandbox/exposition';

export { samples, scrape, type Sample } from '../../sandbox/exposition';

/** The value of the one sample of `name` whose labels include `want`, or undefined when none does. */
export function sampleValue(text: string, name: string, want: Record<string, string | RegExp>): number | undefined {
  const hit = samples(text, name).filter((s) =>
    Object.entries(want).every(([k, v]) => (typeof v === 'string' ? s.labels[k] === v : v.test(s.labels[k] ?? ''))),
  );
  if (hit.length > 1) throw new Error(`${name}: ${hit.length} samples match ${JSON.stringify(want)}, expected one`);
  return hit[0]?.value;
}
