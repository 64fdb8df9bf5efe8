// Change windows (domain/windows.ts): whether a change may start at an instant, when that next
// changes, and why in the zone's local time; daylight-saving days as croner reads them; and a seeded
// property over random windows and instants. Pure functions, no server.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { describeInstant, scheduleProblem, timeZoneProblem, windowState, type ChangeWindow, type WindowState } from '../domain/windows';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;
const at = (iso: string) => Date.parse(iso);
const allow = (schedule: string, durationMs: number, timeZone = 'UTC'): ChangeWindow => ({ kind: 'allow', schedule, durationMs, timeZone });
const deny = (schedule: string, durationMs: number, timeZone = 'UTC'): ChangeWindow => ({ kind: 'deny', schedule, durationMs, timeZone });

/** The state of a closed instant that opens at `opensAt`, and of an open one that closes at `closesAt`. */
const closedUntil = (opensAt: string, why: string): WindowState => ({ open: false, why, opensAt: at(opensAt), closesAt: null });
const openUntil = (closesAt: string, why: string): WindowState => ({ open: true, why, opensAt: null, closesAt: at(closesAt) });

/** windowState at `now` is `open` (or closed) until `until`, and its why matches. */
function assertState(windows: ChangeWindow[], now: string, expected: { open: boolean; until: string; why: RegExp }) {
  const state = windowState(windows, at(now));
  assert.deepEqual([state.open, state.open ? state.closesAt : state.opensAt], [expected.open, at(expected.until)]);
  assert.match(state.why, expected.why);
}

/** Saturday nights from 22:00 for 4h, Berlin time. */
const SATURDAY_NIGHT = allow('0 22 * * 6', 4 * HOUR, 'Europe/Berlin');
/** Weekdays from 09:00 for 8h, Berlin time. */
const OFFICE_HOURS = deny('0 9 * * 1-5', 8 * HOUR, 'Europe/Berlin');

describe('windowState', () => {
  it('is open without windows', () => {
    assert.deepEqual(windowState([], at('2026-12-12T12:00:00Z')), { open: true, why: 'no change windows', opensAt: null, closesAt: null });
  });

  it('allow only: closed outside it, opening at its next start; open inside it, closing at its end', () => {
    // Saturday 12:00 CET: the window opens at 22:00 CET, 21:00 UTC.
    assert.deepEqual(
      windowState([SATURDAY_NIGHT], at('2026-12-12T11:00:00Z')),
      closedUntil('2026-12-12T21:00:00Z', 'outside every allow window; opens Sat 2026-12-12 22:00 CET (Europe/Berlin), when allow "0 22 * * 6" for 4h starts'),
    );
    assert.deepEqual(
      windowState([SATURDAY_NIGHT], at('2026-12-12T21:00:00Z')),
      openUntil(
        '2026-12-13T01:00:00Z',
        'inside allow "0 22 * * 6" for 4h; closes Sun 2026-12-13 02:00 CET (Europe/Berlin), when allow "0 22 * * 6" for 4h ends',
      ),
    );
    // The end is not in the window: the next opens a week later.
    assert.equal(windowState([SATURDAY_NIGHT], at('2026-12-13T01:00:00Z')).opensAt, at('2026-12-19T21:00:00Z'));
    assert.equal(windowState([SATURDAY_NIGHT], at('2026-12-13T00:59:59.999Z')).open, true);
  });

  it('deny only: open outside it, closing at its next start; closed inside it, opening at its end', () => {
    // Monday 10:00 CET, in office hours: opens at 17:00 CET.
    assert.deepEqual(
      windowState([OFFICE_HOURS], at('2026-12-14T09:00:00Z')),
      closedUntil(
        '2026-12-14T16:00:00Z',
        'deny "0 9 * * 1-5" for 8h covers now; opens Mon 2026-12-14 17:00 CET (Europe/Berlin), when deny "0 9 * * 1-5" for 8h ends',
      ),
    );
    // Saturday: open until Monday 09:00 CET.
    assert.deepEqual(
      windowState([OFFICE_HOURS], at('2026-12-12T11:00:00Z')),
      openUntil('2026-12-14T08:00:00Z', 'no deny window covers now; closes Mon 2026-12-14 09:00 CET (Europe/Berlin), when deny "0 9 * * 1-5" for 8h starts'),
    );
  });

  it('allow and deny: a deny wins, and the opening is where the deny ends inside an allow', () => {
    const daytime = allow('0 6 * * *', 14 * HOUR); // 06:00 to 20:00 UTC, every day
    const windows = [daytime, OFFICE_HOURS];
    // Monday 09:00 UTC (10:00 CET): inside the allow, and inside the deny: closed until 16:00 UTC.
    assertState(windows, '2026-12-14T09:00:00Z', {
      open: false,
      until: '2026-12-14T16:00:00Z',
      why: /^deny "0 9 \* \* 1-5" for 8h covers now; opens Mon 2026-12-14 17:00 CET \(Europe\/Berlin\), when deny .* ends$/,
    });
    // Monday 07:30 UTC: open, until the deny starts at 08:00 UTC.
    assertState(windows, '2026-12-14T07:30:00Z', {
      open: true,
      until: '2026-12-14T08:00:00Z',
      why: /^inside allow "0 6 \* \* \*" for 14h; closes Mon 2026-12-14 09:00 CET \(Europe\/Berlin\), when deny "0 9 \* \* 1-5" for 8h starts$/,
    });
    // Monday 19:00 UTC: open until the allow ends at 20:00 UTC, described in its own zone.
    assertState(windows, '2026-12-14T19:00:00Z', {
      open: true,
      until: '2026-12-14T20:00:00Z',
      why: /closes Mon 2026-12-14 20:00 UTC, when allow "0 6 \* \* \*" for 14h ends$/,
    });
    // An allow and a deny with the same occurrences: never open, whatever the order.
    for (const pair of [
      [allow('0 22 * * *', HOUR), deny('0 22 * * *', HOUR)],
      [deny('0 22 * * *', HOUR), allow('0 22 * * *', HOUR)],
    ]) {
      const state = windowState(pair, at('2026-12-14T22:30:00Z'));
      assert.deepEqual([state.open, state.opensAt], [false, null]);
      assert.match(state.why, /covers now; no window opens within 366 days$/);
    }
  });

  it('an occurrence that started yesterday still covers now', () => {
    // Fridays from 22:00 UTC for 60h: the weekend, until Monday 10:00 UTC.
    const weekend = allow('0 22 * * 5', 60 * HOUR);
    assertState([weekend], '2026-12-13T12:00:00Z', {
      open: true,
      until: '2026-12-14T10:00:00Z',
      why: /^inside allow "0 22 \* \* 5" for 2d12h; closes Mon 2026-12-14 10:00 UTC/,
    });
    // A deny from the 1st of each month for 3 days covers the 3rd, and ends on the 4th.
    assertState([deny('0 0 1 * *', 3 * DAY)], '2027-01-03T23:00:00Z', {
      open: false,
      until: '2027-01-04T00:00:00Z',
      why: /^deny "0 0 1 \* \*" for 3d covers now; opens Mon 2027-01-04 00:00 UTC/,
    });
  });

  it('occurrences that overlap or touch are one stretch: it closes at the end of the last', () => {
    // Every 6 hours for 6h: each occurrence ends where the next starts, so it never closes.
    const always = windowState([allow('0 */6 * * *', 6 * HOUR)], at('2026-12-14T01:00:00Z'));
    assert.deepEqual([always.open, always.closesAt], [true, null]);
    assert.match(always.why, /stays open for the next 366 days$/);
    // Two windows, one starting where the other ends: closed only after both.
    const touching = [allow('0 8 * * *', 2 * HOUR), allow('0 10 * * *', 3 * HOUR)];
    assert.equal(windowState(touching, at('2026-12-14T08:30:00Z')).closesAt, at('2026-12-14T13:00:00Z'));
  });

  it('no allow occurrence within the horizon: opensAt null, and why says so', () => {
    // 29 February: the next is in 2028, more than 366 days after 1 March 2026.
    const leap = windowState([allow('0 0 29 2 *', DAY)], at('2026-03-01T00:00:00Z'));
    assert.deepEqual([leap.open, leap.opensAt, leap.closesAt], [false, null, null]);
    assert.equal(leap.why, 'outside every allow window; no window opens within 366 days');
    // Within the horizon, it is found.
    assert.equal(windowState([allow('0 0 29 2 *', DAY)], at('2027-03-01T00:00:00Z')).opensAt, at('2028-02-29T00:00:00Z'));
  });

  it('windows that overlap at every turn: the search stops and says so', () => {
    // A deny every minute for a minute, across every allow start: closed for good, found only minute by minute.
    const state = windowState([allow('0 * * * *', 30 * MINUTE), deny('* * * * *', MINUTE)], at('2026-12-14T00:00:00Z'));
    assert.deepEqual([state.open, state.opensAt], [false, null]);
    assert.match(state.why, /^deny "\* \* \* \* \*" for 1m covers now; the windows overlap too often to search further \(2000 schedule look-ups\)$/);
  });
});

describe('windowState on daylight-saving days (Europe/Berlin, 2027)', () => {
  // 28 March: 02:00 CET becomes 03:00 CEST (01:00 UTC). 31 October: 03:00 CEST becomes 02:00 CET (01:00 UTC).
  const halfPastTwo = allow('30 2 * * *', HOUR, 'Europe/Berlin');

  it('30 2 * * * on 28 March, when 02:30 does not exist: croner starts it at 03:00 CEST, when the clock has jumped', () => {
    // 01:45 CET: opens at 03:00 CEST.
    assertState([halfPastTwo], '2027-03-28T00:45:00Z', {
      open: false,
      until: '2027-03-28T01:00:00Z',
      why: /opens Sun 2027-03-28 03:00 CEST \(Europe\/Berlin\)/,
    });
    assertState([halfPastTwo], '2027-03-28T01:00:00Z', { open: true, until: '2027-03-28T02:00:00Z', why: /closes Sun 2027-03-28 04:00 CEST/ });
    // The day before and the day after, 02:30 local: 01:30 UTC in winter, 00:30 UTC in summer.
    assert.equal(windowState([halfPastTwo], at('2027-03-27T00:00:00Z')).opensAt, at('2027-03-27T01:30:00Z'));
    assert.equal(windowState([halfPastTwo], at('2027-03-28T02:00:00Z')).opensAt, at('2027-03-29T00:30:00Z'));
  });

  it('30 2 * * * on 31 October, when 02:30 happens twice: croner starts it once, at the first (CEST)', () => {
    // 00:00 CEST: opens at the first 02:30.
    assertState([halfPastTwo], '2027-10-30T22:00:00Z', {
      open: false,
      until: '2027-10-31T00:30:00Z',
      why: /opens Sun 2027-10-31 02:30 CEST \(Europe\/Berlin\)/,
    });
    // An hour of elapsed time from 02:30 CEST ends at the second 02:30, in CET (seen from 02:00 CET, the second pass).
    assertState([halfPastTwo], '2027-10-31T01:00:00Z', {
      open: true,
      until: '2027-10-31T01:30:00Z',
      why: /closes Sun 2027-10-31 02:30 CET \(Europe\/Berlin\)/,
    });
    // The second 02:30 starts nothing: the next start is 02:30 CET the next day.
    assertState([halfPastTwo], '2027-10-31T01:30:00Z', { open: false, until: '2027-11-01T01:30:00Z', why: /opens Mon 2027-11-01 02:30 CET/ });
  });

  it('*/30 2 * * * (not a single minute and hour): croner skips the times that do not exist, and starts at both of a repeated one', () => {
    const everyHalfHour = allow('*/30 2 * * *', 10 * MINUTE, 'Europe/Berlin');
    // 28 March: no 02:00 or 02:30 at all; the next start is 02:00 CEST the next day.
    assert.equal(windowState([everyHalfHour], at('2027-03-28T00:30:00Z')).opensAt, at('2027-03-29T00:00:00Z'));
    // 31 October: 02:00 and 02:30 in CEST, then again in CET.
    const starts: string[] = [];
    let state = windowState([everyHalfHour], at('2027-10-30T23:00:00Z'));
    while (state.opensAt !== null && state.opensAt < at('2027-10-31T12:00:00Z')) {
      starts.push(new Date(state.opensAt).toISOString());
      state = windowState([everyHalfHour], state.opensAt + 10 * MINUTE);
    }
    assert.deepEqual(starts, ['2027-10-31T00:00:00.000Z', '2027-10-31T00:30:00.000Z', '2027-10-31T01:00:00.000Z', '2027-10-31T01:30:00.000Z']);
  });

  it('0 1 * * * for 3h across each change: the end is 3h of elapsed time after the start, whatever the clock says', () => {
    const night = allow('0 1 * * *', 3 * HOUR, 'Europe/Berlin');
    // 28 March: 01:00 CET (00:00 UTC) to 03:00 UTC, which the clock calls 05:00 CEST.
    assertState([night], '2027-03-28T00:00:00Z', { open: true, until: '2027-03-28T03:00:00Z', why: /closes Sun 2027-03-28 05:00 CEST/ });
    // 31 October: 01:00 CEST (23:00 UTC the day before) to 02:00 UTC, which the clock calls 03:00 CET.
    assertState([night], '2027-10-30T23:00:00Z', { open: true, until: '2027-10-31T02:00:00Z', why: /closes Sun 2027-10-31 03:00 CET/ });
    // And seen from inside its last hour, after each change.
    assert.equal(windowState([night], at('2027-03-28T02:30:00Z')).closesAt, at('2027-03-28T03:00:00Z'));
    assert.equal(windowState([night], at('2027-10-31T01:30:00Z')).closesAt, at('2027-10-31T02:00:00Z'));
  });
});

describe('windowState over random windows and instants', () => {
  const field = (...values: string[]) => fc.constantFrom(...values);
  const schedule = fc
    .tuple(
      field('0', '30', '*/15', '0,30', '45'),
      field('*', '1', '2', '9-17', '22', '*/6'),
      field('*', '*', '1', '15', '28'),
      field('*', '*', '3', '10', '*/2'),
      field('*', '*', '1-5', '6', '0'),
    )
    .map((parts) => parts.join(' '));
  const zone = field('UTC', 'Europe/Berlin', 'America/New_York', 'Australia/Lord_Howe', 'Asia/Kolkata', 'America/Sao_Paulo', 'Pacific/Chatham');
  const duration = fc.oneof(fc.constantFrom(MINUTE, 15 * MINUTE, HOUR, 3 * HOUR, 8 * HOUR, DAY, 3 * DAY), fc.integer({ min: 1, max: 14 * DAY }));
  const changeWindow: fc.Arbitrary<ChangeWindow> = fc.record({ kind: fc.constantFrom('allow', 'deny'), schedule, durationMs: duration, timeZone: zone });
  // Instants in 2026–2028, and near the daylight-saving changes of Europe/Berlin and America/New_York in 2027.
  const near = (iso: string) => fc.integer({ min: -6 * HOUR, max: 6 * HOUR }).map((d) => at(iso) + d);
  const instant = fc.oneof(
    fc.integer({ min: at('2026-01-01T00:00:00Z'), max: at('2028-12-31T00:00:00Z') }),
    near('2027-03-28T01:00:00Z'),
    near('2027-10-31T01:00:00Z'),
    near('2027-03-14T07:00:00Z'),
    near('2027-11-07T06:00:00Z'),
  );
  const SEED = process.env.ROTOR_SEED ? Number(process.env.ROTOR_SEED) : 20_270_328;

  it('opensAt is the first open instant after a closed one, closesAt the first closed one after an open one', () => {
    const isOpen = (windows: ChangeWindow[], t: number) => windowState(windows, t).open;
    const seen = { opens: 0, closes: 0, never: 0, tooDense: 0 };
    fc.assert(
      fc.property(fc.array(changeWindow, { minLength: 1, maxLength: 4 }), instant, (windows, now) => {
        const state = windowState(windows, now);
        assert.ok(state.why, 'says why');
        const edge = state.open ? state.closesAt : state.opensAt;
        seen[edge !== null ? (state.open ? 'closes' : 'opens') : /too often/.test(state.why) ? 'tooDense' : 'never']++;
        assert.equal(state.open ? state.opensAt : state.closesAt, null, 'only the change that can come next');
        if (edge === null) return;
        assert.ok(edge > now, 'after now');
        assert.equal(isOpen(windows, edge), !state.open, 'changed at the edge');
        // Unchanged from now until just before it (sampled: a minute before, a millisecond before, halfway).
        for (const t of [edge - MINUTE, edge - 1, Math.floor((now + edge) / 2)])
          if (t >= now) assert.equal(isOpen(windows, t), state.open, `unchanged at ${t}`);
      }),
      { numRuns: 200, seed: SEED },
    );
    console.log(`[windows] seed ${SEED} (ROTOR_SEED=${SEED} replays it): ${JSON.stringify(seen)}`);
    // Most runs have an edge to check.
    assert.ok(seen.opens >= 40 && seen.closes >= 40, JSON.stringify(seen));
  });
});

describe('describeInstant', () => {
  it('is the local time with the zone, seconds only when not zero', () => {
    assert.equal(describeInstant(at('2026-12-12T21:00:00Z'), 'Europe/Berlin'), 'Sat 2026-12-12 22:00 CET (Europe/Berlin)');
    assert.equal(describeInstant(at('2027-07-01T12:00:30Z'), 'Europe/Berlin'), 'Thu 2027-07-01 14:00:30 CEST (Europe/Berlin)');
    assert.equal(describeInstant(at('2026-12-12T21:00:00Z'), 'UTC'), 'Sat 2026-12-12 21:00 UTC');
    assert.equal(describeInstant(at('2026-12-12T23:00:00Z'), 'Asia/Tokyo'), 'Sun 2026-12-13 08:00 GMT+9 (Asia/Tokyo)');
  });
});

describe('validation helpers', () => {
  it('scheduleProblem: five cron fields that fire at some time', () => {
    for (const ok of ['0 22 * * 6', '*/15 9-17 * * 1-5', '0 0 29 2 *', '0 22 * * sat']) assert.equal(scheduleProblem(ok), null, ok);
    assert.match(scheduleProblem('0 24 * * *') ?? '', /^is not a cron schedule of five fields .*e\.g\. "0 22 \* \* 6".*hour/);
    assert.match(scheduleProblem('0 0 22 * * 6') ?? '', /five fields.*6 parts/);
    assert.match(scheduleProblem('weekends') ?? '', /five fields/);
    assert.match(scheduleProblem('0 0 30 2 *') ?? '', /^never fires/);
  });

  it('timeZoneProblem: an IANA name the runtime knows', () => {
    for (const ok of ['UTC', 'Europe/Berlin', 'America/Argentina/Buenos_Aires', 'Etc/GMT+1']) assert.equal(timeZoneProblem(ok), null, ok);
    for (const bad of ['Mars/Olympus_Mons', '+01:00', '', 'Europe/Berlin ']) assert.match(timeZoneProblem(bad) ?? '', /IANA name such as Europe\/Berlin/, bad);
  });
});
