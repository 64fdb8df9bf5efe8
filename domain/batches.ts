// A stage's batches: its workloads in the order PLANNING found them, cut into runs of `size` (or of
// `percent` of them, rounded up, at least one); the last run may be shorter.
import type { Batch } from './plan-schema';

export function splitBatches<T>(items: readonly T[], batch: Pick<Batch, 'size' | 'percent'>): T[][] {
  const size = Math.max(1, batch.size ?? Math.ceil((items.length * (batch.percent ?? 100)) / 100));
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}
