// Pre-flight checks (stages[].preflight): after CREATING and before a stage's first switch (before its
// approval too, so nobody approves a version a test has refused), each check of the stage runs in
// order against the new version in the stage's namespace. A failed one throws RollbackRequired: what
// earlier stages switched goes back, and an issued credential is revoked, as for any failed check.
// Rotations started before pre-flight checks replay as they ran: every path here is behind one patch.
import { patched } from '@temporalio/workflow';
import type { CheckResult } from '../contract/activities';
import { describeCheck, type PreflightCheck } from '../domain/preflight';
import type { Stage } from '../domain/plan';
import { RollbackRequired } from './forward-errors';
import { acts, quick } from './options';
import type { Rotation } from './state';

const PATCH = 'stage-preflight';
/** Log lines of a Job kept in the rotation's events. */
const LOG_LINES_RECORDED = 3;

/** How long one check may take: its own bounds, and a minute for the rest. */
function timeoutOf(check: PreflightCheck): number {
  if ('http' in check) return (check.http.timeoutMs + 1000) * (check.http.retries + 1) + 60_000;
  return check.job.timeoutMs + 2 * 60_000;
}

export async function preflight(r: Rotation, stage: Stage): Promise<void> {
  if (!stage.preflight?.length || !patched(PATCH)) return;
  const { status } = r;
  const version = status.newVersion!;
  r.enter('VERIFYING', stage.name, `pre-flight: ${stage.preflight.length} check(s) of ${version} in ${stage.namespace} before anything there is switched`);
  for (const [index, check] of stage.preflight.entries()) {
    const startedAt = new Date().toISOString();
    const result = await acts.preflightCheck.executeWithOptions(
      {
        ...quick,
        startToCloseTimeout: timeoutOf(check),
        retry: { ...quick.retry, maximumAttempts: 3 },
        summary: `pre-flight ${describeCheck(check)} in ${stage.namespace}`,
      },
      [{ stage: stage.name, namespace: stage.namespace, version, check, rotationId: r.rotationId, index }],
    );
    const entry: CheckResult = {
      stage: stage.name,
      check: 'preflight',
      verdict: result.passed ? 'passed' : 'failed',
      reason: `${check.name}: ${result.message}`,
      measurements: 1,
      lastValue: null,
      threshold: 0,
      recent: [],
      startedAt,
      endedAt: new Date().toISOString(),
    };
    r.addCheck(entry);
    if (result.logs?.length) r.record(`pre-flight ${check.name} logs: ${result.logs.slice(-LOG_LINES_RECORDED).join(' | ')}`);
    if (!result.passed) throw new RollbackRequired(`pre-flight check ${check.name} in ${stage.name} failed: ${result.message}`, 'preflight');
  }
}
