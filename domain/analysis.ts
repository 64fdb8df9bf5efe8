// Judging a check from its measurements, after Argo Rollouts' analysis: a pure function over the
// list, with a failure limit and an inconclusive limit. No data is inconclusive, never a pass.

export type MeasurementPhase = 'successful' | 'failed' | 'inconclusive' | 'error';

export interface Measurement {
  /** ISO time the value was taken. */
  at: string;
  value: number | null;
  phase: MeasurementPhase;
  /** Why it was inconclusive or an error, e.g. "query returned no series". */
  message?: string;
  /** With a baseline: the old version's value in the same window (null: no data). */
  baseline?: number | null;
}

export type Verdict = 'passed' | 'failed' | 'inconclusive' | 'running';

export interface AnalysisLimits {
  threshold: number;
  failureLimit: number;
  inconclusiveLimit: number;
  /** Consecutive provider errors that fail the check (a metrics outage is not a pass). */
  errorLimit?: number;
}

/** Classify one value against the threshold. */
export function classify(value: number | null | undefined, threshold: number): MeasurementPhase {
  if (value === null || value === undefined || Number.isNaN(value)) return 'inconclusive';
  return value > threshold ? 'failed' : 'successful';
}

/**
 * One value judged against the old version's in the same window: failed when above the threshold
 * (the ceiling never accepted) or above the baseline plus the margin; no data on either side is
 * inconclusive, since nothing can be compared.
 */
export function classifyAgainstBaseline(
  value: number | null,
  baseline: number | null,
  limits: { threshold: number; margin: number },
): { phase: MeasurementPhase; message?: string } {
  if (value === null || Number.isNaN(value)) return { phase: 'inconclusive', message: 'the query returned no data for the new version' };
  if (value > limits.threshold) return { phase: 'failed', message: `${value} is above the threshold ${limits.threshold}` };
  if (baseline === null || Number.isNaN(baseline)) return { phase: 'inconclusive', message: 'the query returned no data for the old version (the baseline)' };
  if (value > baseline + limits.margin) {
    return { phase: 'failed', message: `the new version measures ${value}, the old ${baseline}: worse by more than the margin ${limits.margin}` };
  }
  return { phase: 'successful' };
}

/** The query with its {{namespace}}, {{stage}} and {{version}} filled in; others are refused by validatePlan. */
export function renderQuery(query: string, vars: Partial<Record<'namespace' | 'stage' | 'version', string>>): string {
  return query.replace(/\{\{\s*(namespace|stage|version)\s*\}\}/g, (whole, name: 'namespace' | 'stage' | 'version') => vars[name] ?? whole);
}

export interface Judgement {
  verdict: Verdict;
  reason: string;
  consecutiveFailed: number;
  consecutiveInconclusive: number;
  consecutiveErrors: number;
}

/**
 * `failed` as soon as a limit of consecutive bad measurements is reached; otherwise `running`.
 * Call `concludeAnalysis` when the window ends.
 */
export function judge(measurements: Measurement[], limits: AnalysisLimits): Judgement {
  let consecutiveFailed = 0;
  let consecutiveInconclusive = 0;
  let consecutiveErrors = 0;
  const errorLimit = limits.errorLimit ?? limits.inconclusiveLimit;
  for (const m of measurements) {
    consecutiveFailed = m.phase === 'failed' ? consecutiveFailed + 1 : 0;
    consecutiveInconclusive = m.phase === 'inconclusive' ? consecutiveInconclusive + 1 : 0;
    consecutiveErrors = m.phase === 'error' ? consecutiveErrors + 1 : 0;
    const counts = { consecutiveFailed, consecutiveInconclusive, consecutiveErrors };
    if (consecutiveFailed >= limits.failureLimit) {
      return {
        verdict: 'failed',
        // A plain threshold check says so; a baseline or monitor failure says why in its message.
        reason: m.message
          ? `${consecutiveFailed} consecutive failed measurement(s); last: ${m.message}`
          : `${consecutiveFailed} consecutive measurement(s) above the threshold ${limits.threshold} (last ${m.value})`,
        ...counts,
      };
    }
    if (consecutiveInconclusive >= limits.inconclusiveLimit) {
      return {
        verdict: 'failed',
        reason: `${consecutiveInconclusive} consecutive measurement(s) without data (${m.message ?? 'no value'}); no data is not a pass`,
        ...counts,
      };
    }
    if (consecutiveErrors >= errorLimit) {
      return { verdict: 'failed', reason: `${consecutiveErrors} consecutive metrics error(s): ${m.message ?? 'unknown error'}`, ...counts };
    }
  }
  return { verdict: 'running', reason: `${measurements.length} measurement(s) so far`, consecutiveFailed, consecutiveInconclusive, consecutiveErrors };
}

/**
 * The verdict of a finished window: passed only with at least one successful measurement and no
 * limit reached. `recent` may be the tail of a long window; `totals` count the whole window.
 */
export function concludeAnalysis(recent: Measurement[], limits: AnalysisLimits, totals?: { taken: number; successful: number }): Judgement {
  const j = judge(recent, limits);
  if (j.verdict === 'failed') return j;
  const taken = totals?.taken ?? recent.length;
  const successful = totals?.successful ?? recent.filter((m) => m.phase === 'successful').length;
  if (successful === 0) {
    return { ...j, verdict: 'inconclusive', reason: `no successful measurement in ${taken} taken; no data is not a pass` };
  }
  const last = recent[recent.length - 1];
  return { ...j, verdict: 'passed', reason: `${successful}/${taken} measurement(s) at or below ${limits.threshold} (last ${last.value})` };
}

/** How many trailing measurements decide `judge`: older ones can be dropped from long windows. */
export function measurementsToKeep(limits: AnalysisLimits): number {
  return Math.max(limits.failureLimit, limits.inconclusiveLimit, limits.errorLimit ?? 0, 10);
}
