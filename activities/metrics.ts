// Metrics sources shared by the backends.
import { RotorError } from './errors';
import type { MetricsPort } from './ports';

/** A worker without a metrics provider: every measurement is an error, so a check never passes on no data. */
export class UnconfiguredMetrics implements MetricsPort {
  async measure(provider: string): Promise<number | null> {
    throw new RotorError('ProviderError', `no ${provider} endpoint is configured on this worker; plans without analysis are checked by rollout health only`);
  }
}
