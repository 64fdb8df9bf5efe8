// Change windows (stages[].windows) on the time-skipping server, with rotor's activities over the memory
// adapter: production's switch waits for its allow window, named in the zone's local time; a window on a
// daylight-saving day opens when croner says (02:30 on Berlin's spring-forward day is 03:00 CEST, and on
// the fall-back day the first 02:30); a canary step that would start after the window closed waits for
// the next one, while the pause and the watch run on past it; a rollback never waits for a window; a
// stage whose windows never open is refused in PLANNING.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { abortSignal, statusQuery, type RotationStatus } from '../contract/api';
import { windowState, type ChangeWindow } from '../domain/windows';
import type { Doubles } from './helpers/doubles';
import { twoStagePlan } from './helpers/plans';
import { timeSkippingRotations } from './helpers/rotations';

const { run } = timeSkippingRotations('windows');
const BERLIN = 'Europe/Berlin';

/** When `d` was first asked to switch production (the workflow's clock), from the status's events. */
const eventAt = (status: RotationStatus, match: RegExp) => {
  const e = status.events.find((x) => match.test(x.message));
  assert.ok(e, `an event matching ${match}: ${status.events.map((x) => x.message).join(' | ')}`);
  return Date.parse(e.at);
};
/** A cron for one minute of one local day, `days` from now, in Berlin. */
function inDays(days: number, hour: number): string {
  const at = new Date(Date.now() + days * 86_400_000);
  const [month, day] = new Intl.DateTimeFormat('en-US', { timeZone: BERLIN, month: 'numeric', day: 'numeric' }).format(at).split('/');
  return `0 ${hour} ${day} ${month} *`;
}
const windowPlan = (windows: object[], production: object = {}) =>
  twoStagePlan({
    staging: { soak: '1h' },
    production: { strategy: 'rolling', windows, watch: '24h', ...production },
    top: { retention: '1d' },
  });
const productionCalls = (d: Doubles, name: 'switchWorkloads' | 'revertWorkloads') => d.called(name).filter((i) => i.namespace === 'production');

describe('change windows', () => {
  it("waits for production's allow window, says when it opens in local time, then switches inside it", async () => {
    const window: ChangeWindow = { kind: 'allow', schedule: inDays(3, 3), durationMs: 2 * 3_600_000, timeZone: BERLIN };
    const { status } = await run({}, windowPlan([{ kind: 'allow', schedule: window.schedule, duration: '2h', timeZone: BERLIN }]));
    assert.equal(status.phase, 'COMPLETED', status.outcome ?? '');
    const waiting = status.events.find((e) => e.message.startsWith('waiting for a change window before the switch in production'));
    assert.ok(waiting, 'the wait is said');
    const opensAt = windowState([window], Date.parse(waiting.at)).opensAt!;
    assert.match(waiting.message, /opens \w{3} \d{4}-\d{2}-\d{2} 03:00 CET \(Europe\/Berlin\)/);
    const switched = eventAt(status, /^switched \d+ workload\(s\), \d+ reference\(s\), in production/);
    assert.ok(
      switched >= opensAt && switched < opensAt + window.durationMs,
      `switched at ${new Date(switched).toISOString()}, window from ${new Date(opensAt).toISOString()}`,
    );
    // Staging had no windows: it went at once.
    assert.ok(eventAt(status, /^switched \d+ workload\(s\), \d+ reference\(s\), in staging/) < opensAt);
  });

  // The last Sunday of March and of October: the nights Berlin's clocks change, whatever the year.
  for (const [day, schedule, local] of [
    ['spring-forward', '30 2 * 3 0L', /^Sun, 3\/\d+, 03:00 GMT\+2$/], // 02:30 does not exist that night: 03:00 CEST
    ['fall-back', '30 2 * 10 0L', /^Sun, 10\/\d+, 02:30 GMT\+2$/], // 02:30 happens twice: the first, still CEST
  ] as const) {
    it(`opens on Berlin's ${day} night when the zone's rules say`, async () => {
      const { status } = await run({}, windowPlan([{ schedule, duration: '1h', timeZone: BERLIN }]));
      assert.equal(status.phase, 'COMPLETED', status.outcome ?? '');
      const opened = eventAt(status, /^change window open for the switch in production/);
      const shown = new Intl.DateTimeFormat('en-US', {
        timeZone: BERLIN,
        weekday: 'short',
        month: 'numeric',
        day: 'numeric',
        hour: '2-digit',
        minute: '2-digit',
        hourCycle: 'h23',
        timeZoneName: 'short',
      }).format(opened);
      assert.match(shown, local, `opened at ${new Date(opened).toISOString()}`);
      assert.ok(eventAt(status, /^switched \d+ workload\(s\), \d+ reference\(s\), in production/) - opened < 60_000, 'switched as it opened');
    });
  }

  // Without an analysis a canary's pause is a timer, so the workflow's clock moves through it.
  const slowCanary = { strategy: { canary: { steps: [50, 100], pause: '70m' } }, analysis: null, watch: '24h' };

  it('holds a canary step that would start after the window closed until the next one; the pause and the watch run past it', async () => {
    const { d, status } = await run({}, windowPlan([{ schedule: '0 4 * * *', duration: '1h', timeZone: BERLIN }], slowCanary));
    assert.equal(status.phase, 'COMPLETED', status.outcome ?? '');
    assert.equal(productionCalls(d, 'switchWorkloads').length, 2);
    const fifty = eventAt(status, /^canary at 50% in production/);
    const hundred = eventAt(status, /^canary at 100% in production/);
    assert.ok(hundred - fifty >= 86_400_000 - 2 * 3_600_000, `100% waited for the next day's window (${(hundred - fifty) / 3_600_000} h later)`);
    assert.ok(status.events.some((e) => e.message.startsWith('waiting for a change window before canary step 100% in production')));
    // The watch (24h) ran far past the window's end without waiting for another.
    const waits = status.events.filter((e) => e.message.startsWith('waiting for a change window'));
    assert.equal(waits.length, 2, waits.map((e) => e.message).join(' | '));
  });

  it('never holds a rollback: an abort while a step waits for its window rolls back at once', async () => {
    let abortedAt = 0;
    const { d, status } = await run({}, windowPlan([{ schedule: '0 4 * * *', duration: '1h', timeZone: BERLIN }], slowCanary), async (handle, env) => {
      for (let i = 0; i < 400; i++) {
        const s = await handle.query(statusQuery);
        if (s.events.some((e) => e.message.startsWith('waiting for a change window before canary step 100%'))) {
          abortedAt = Date.parse(s.updatedAt);
          await handle.signal(abortSignal, { reason: 'change freeze', by: 'ops' });
          return;
        }
        await env.sleep('10m');
      }
    });
    assert.equal(status.phase, 'ROLLED_BACK', status.outcome ?? '');
    assert.ok(abortedAt > 0, 'the step waited for its window');
    const reverted = eventAt(status, /^reverted|rolled back/i);
    assert.ok(reverted - abortedAt < 30 * 60_000, `rolled back ${(reverted - abortedAt) / 60_000} min after the abort, not at the next window`);
    assert.ok(productionCalls(d, 'revertWorkloads').length >= 1);
  });

  it('refuses in PLANNING a stage whose windows never open, nothing changed', async () => {
    const { d, status } = await run(
      {},
      windowPlan([
        { schedule: '0 3 * * *', duration: '1h', timeZone: BERLIN },
        { kind: 'deny', schedule: '0 0 * * *', duration: '31d', timeZone: BERLIN },
      ]),
    );
    assert.equal(status.phase, 'FAILED');
    assert.match(status.outcome!, /production: no change window opens \(nothing was changed\): .*; fix stages\[\]\.windows/);
    assert.equal(d.called('createVersion').length, 0);
  });
});
