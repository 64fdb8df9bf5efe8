// deliverNotification: one notification to one sink, as a child workflow of its rotation that outlives
// it (workflows/notify.ts says why). Retries with exponential backoff for up to an hour, each attempt
// one short activity; tells the rotation when the sink keeps failing, when it gives up, and when a
// sink that was reported failing recovers. The rotation may have ended: then nobody is told.
import { ApplicationFailure, getExternalWorkflowHandle, proxyActivities, sleep } from '@temporalio/workflow';
import { notificationReportSignal, type DeliveryInput, type DeliveryResult, type NotifyActivities } from '../contract/notify';
import { formatDuration } from '../domain/duration';
import { describeError } from './options';

/** Each attempt is one try; the loop below retries, so the rotation can be told how it goes. */
const attempts = proxyActivities<Pick<NotifyActivities, 'sendNotification'>>({
  startToCloseTimeout: '30s',
  retry: { maximumAttempts: 1 },
});

const FIRST_WAIT_MS = 2_000;
const LONGEST_WAIT_MS = 10 * 60_000;
const DEFAULT_BUDGET_MS = 60 * 60_000;
/** At this failed attempt (about half a minute in) the rotation's status hears of the failing sink. */
const REPORT_AT = 5;

export async function deliverNotification(input: DeliveryInput): Promise<DeliveryResult> {
  const { sink, notification: n } = input;
  const budgetMs = input.budgetMs ?? DEFAULT_BUDGET_MS;
  const startedAt = Date.now();
  const what = `notification ${n.kind} to sink ${sink}`;
  for (let attempt = 1; ; attempt++) {
    try {
      await attempts.sendNotification({ sink, notification: n, attempt });
      if (attempt >= REPORT_AT) await report(input, `${what} delivered at attempt ${attempt}, after ${formatDuration(Date.now() - startedAt)}`);
      return { delivered: true, attempts: attempt };
    } catch (err) {
      const why = describeError(err).replace(/^notify \S+ of \S+ \(attempt \d+\): (sink \S+: )?/, '');
      const waitMs = Math.min(LONGEST_WAIT_MS, FIRST_WAIT_MS * 2 ** (attempt - 1));
      const final = isFinal(err);
      if (final || Date.now() - startedAt + waitMs > budgetMs) {
        await report(
          input,
          `${what} given up after ${attempt} attempt(s)${final ? ' (the sink refused it; a retry would not help)' : ` over ${formatDuration(Date.now() - startedAt)}`}: ${why}`,
        );
        return { delivered: false, attempts: attempt };
      }
      if (attempt === REPORT_AT) await report(input, `${what} failing: ${why} (attempt ${attempt}), still retrying for up to ${formatDuration(budgetMs)}`);
      await sleep(waitMs);
    }
  }
}

/** A 4xx other than 408 and 429: the sink will not take it, however often it is sent. */
function isFinal(err: unknown): boolean {
  for (let e = err as { cause?: unknown; nonRetryable?: boolean } | undefined; e; e = e.cause as typeof e) {
    if (e instanceof ApplicationFailure) return e.nonRetryable === true;
  }
  return false;
}

async function report(input: DeliveryInput, message: string): Promise<void> {
  try {
    await getExternalWorkflowHandle(input.parentWorkflowId).signal(notificationReportSignal, { rotationId: input.notification.rotationId, message });
  } catch {
    // The rotation has ended: its status is final, and the delivery's own history keeps the story.
  }
}
