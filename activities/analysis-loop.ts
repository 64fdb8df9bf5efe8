// A stage's analysis: one measurement (the provider's value, against a baseline and the stage's
// Datadog monitors), the loop that measures at each interval and judges (monitorAnalysis, heartbeating
// what a retry resumes from), and the measuring while a rollout goes on.
import { Context } from '@temporalio/activity';
import {
  classify,
  classifyAgainstBaseline,
  concludeAnalysis,
  judge,
  measurementsToKeep,
  renderQuery,
  type AnalysisLimits,
  type Measurement,
} from '../domain/analysis';
import type { Analysis, MetricsProvider } from '../domain/plan';
import type { CheckResult, MonitorInput, RolloutInput, RotorActivities } from '../contract/activities';
import { RotorError } from './errors';
import type { ActivityKit } from './kit';
import { pace, reportProgress } from './liveness';
import type { MetricProvider, MetricProviders, RotorDeps } from './ports';

/** Progress a long activity heartbeats, so a retry after a crash resumes instead of starting over. */
interface MonitorProgress {
  startedAt: string;
  recent: Measurement[];
  taken: number;
  successful: number;
}

/**
 * One measurement (`rotor plan` takes one too): the query for the new version, and with a baseline the same query for the old
 * version in the same window; then the stage's Datadog monitors, any in Alert failing it.
 */
export async function measureOnce(metrics: MetricProviders, input: MonitorInput): Promise<Measurement> {
  try {
    return await measureWith(metrics, input);
  } catch (err) {
    // A provider that cannot answer is an error measurement, judged by consecutiveErrorLimit.
    return { at: new Date().toISOString(), value: null, phase: 'error', message: err instanceof Error ? err.message : String(err) };
  }
}

async function measureWith(metrics: MetricProviders, input: MonitorInput): Promise<Measurement> {
  const { analysis } = input;
  const provider = providerFor(metrics, analysis.provider);
  const { windowMs = analysis.intervalMs, api, aggregator } = analysis.datadog ?? {};
  const options = { windowMs, ...(api && aggregator ? { datadog: { api, aggregator } } : {}) };
  const vars = { namespace: input.namespace, stage: input.stage, version: input.version };
  const at = new Date().toISOString();
  let measurement: Measurement;
  if (analysis.baseline && input.baselineVersion) {
    const [value, baseline] = await Promise.all([
      provider.measure(renderQuery(analysis.query, vars), options),
      provider.measure(renderQuery(analysis.query, { ...vars, version: input.baselineVersion }), options),
    ]);
    measurement = { at, value, baseline, ...classifyAgainstBaseline(value, baseline, { threshold: analysis.threshold, margin: analysis.baseline.margin }) };
  } else {
    const value = await provider.measure(renderQuery(analysis.query, vars), options);
    measurement = { at, value, phase: classify(value, analysis.threshold) };
    if (value === null) measurement.message = 'the query returned no data';
  }
  const monitors = analysis.datadog?.monitors ?? [];
  if (monitors.length && measurement.phase !== 'failed') {
    if (!provider.monitorStates) throw new RotorError('ProviderError', `the ${provider.name} provider cannot read monitors`);
    const alerting = (await provider.monitorStates(monitors)).filter((m) => m.state === 'Alert');
    if (alerting.length) {
      measurement.phase = 'failed';
      measurement.message = `monitor ${alerting.map((m) => `${m.id} (${m.name})`).join(', ')} in Alert`;
    }
  }
  return measurement;
}

/**
 * Measuring while a rollout goes on, at the analysis interval from its start: pods already on the
 * new version serve traffic, so a bad version is caught before the last pod is replaced. Only values
 * above the threshold count here (failureLimit in a row fails the stage); no data or a provider
 * error is expected while pods start and is left to the check after the rollout.
 */
export function analysisDuringRollout(
  { metrics, telemetry }: Pick<RotorDeps, 'metrics' | 'telemetry'>,
  input: RolloutInput,
  analysis: Analysis,
  startedAt: number,
) {
  const limits: AnalysisLimits = { threshold: analysis.threshold, failureLimit: analysis.failureLimit, inconclusiveLimit: Infinity, errorLimit: Infinity };
  const recent: Measurement[] = [];
  let taken = 0;
  let due = startedAt + analysis.intervalMs;
  return {
    async measureIfDue(): Promise<CheckResult | null> {
      if (Date.now() < due) return null;
      due += analysis.intervalMs;
      const monitor: MonitorInput = { stage: input.stage, check: 'rollout', analysis, durationMs: 0, namespace: input.namespace, version: input.version };
      const m = await measureOnce(metrics, monitor);
      telemetry?.measured({ version: input.version ?? null, stage: input.stage, check: 'rollout' }, m);
      taken += 1;
      recent.push(m);
      // Only failures in a row decide here: the last failureLimit (or 10) measurements are enough.
      recent.splice(0, Math.max(0, recent.length - Math.max(analysis.failureLimit, 10)));
      const j = judge(recent, limits);
      if (j.verdict !== 'failed') return null;
      return checkResult({ ...monitor, startedAt: new Date(startedAt).toISOString(), taken, recent }, 'failed', j.reason);
    },
  };
}

/** The provider a stage's analysis names; one this worker lacks makes every measurement an error, never a pass. */
function providerFor(metrics: MetricProviders, name: MetricsProvider): MetricProvider {
  const provider = metrics[name];
  if (!provider) {
    const has = Object.keys(metrics).join(', ') || 'none';
    throw new RotorError(
      'ProviderError',
      `no ${name} provider is configured on this worker (it has: ${has}); plans without analysis are checked by rollout health only`,
    );
  }
  return provider;
}

export function analysisActivities({ guarded, deps }: ActivityKit): Pick<RotorActivities, 'monitorAnalysis'> {
  return {
    monitorAnalysis: (input: MonitorInput) =>
      guarded(`${input.check} analysis in ${input.stage}`, async () => {
        const ctx = Context.current();
        const { analysis } = input;
        const limits: AnalysisLimits = {
          threshold: analysis.threshold,
          failureLimit: analysis.failureLimit,
          inconclusiveLimit: analysis.inconclusiveLimit,
          // Analyses planned before consecutiveErrorLimit counted provider errors against inconclusiveLimit.
          errorLimit: analysis.consecutiveErrorLimit ?? analysis.inconclusiveLimit,
        };
        const keep = measurementsToKeep(limits);
        const progress: MonitorProgress = (ctx.info.heartbeatDetails as MonitorProgress | undefined) ?? {
          startedAt: new Date().toISOString(),
          recent: [],
          taken: 0,
          successful: 0,
        };
        const start = Date.parse(progress.startedAt);
        const deadline = start + input.durationMs;
        const result = (verdict: CheckResult['verdict'], reason: string) => checkResult({ ...input, ...progress }, verdict, reason);
        // Measure at the end of each interval (metrics need an interval to reflect the new version), and
        // once at the deadline when the window is shorter than an interval.
        for (;;) {
          const first = input.firstMeasurementAfterMs ?? analysis.intervalMs;
          const due = Math.min(start + first + progress.taken * analysis.intervalMs, deadline);
          await pace(due - Date.now(), progress);
          const measurement = await measureOnce(deps.metrics, input);
          deps.telemetry?.measured({ version: input.version ?? null, stage: input.stage, check: input.check }, measurement);
          progress.taken += 1;
          if (measurement.phase === 'successful') progress.successful += 1;
          progress.recent = [...progress.recent, measurement].slice(-keep);
          reportProgress(progress);
          const j = judge(progress.recent, limits);
          if (j.verdict === 'failed') return result('failed', j.reason);
          if (due >= deadline) break;
        }
        const end = concludeAnalysis(progress.recent, limits, progress);
        return result(end.verdict, end.reason);
      }),
  };
}

/** A check's verdict with its count and last five measurements, as status and the CLI show it. */
function checkResult(
  check: Pick<MonitorInput, 'stage' | 'check' | 'analysis'> & { startedAt: string; taken: number; recent: Measurement[] },
  verdict: CheckResult['verdict'],
  reason: string,
): CheckResult {
  return {
    stage: check.stage,
    check: check.check,
    verdict,
    reason,
    measurements: check.taken,
    lastValue: check.recent.at(-1)?.value ?? null,
    threshold: check.analysis.threshold,
    recent: check.recent.slice(-5),
    startedAt: check.startedAt,
    endedAt: new Date().toISOString(),
  };
}
