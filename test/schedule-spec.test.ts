// What `rotor schedule create` asks of Temporal (client/schedule-spec.ts): the schedule's id, --every and
// --cron as a ScheduleSpec and in words, and a Schedule whose action starts exactly what `rotor start`
// starts; and the table `rotor schedule list` prints. Pure functions, no server.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { WORKFLOW_TYPE } from '../contract/api';
import { parsePlan } from '../domain/plan';
import { schedulesTable } from '../client/format';
import { rotationStartOptions } from '../client/rotor-client';
import { cronProblem, describeWhen, parseEvery, rotationSchedule, rotationScheduleId, scheduledRequester, scheduleSpec } from '../client/schedule-spec';
import type { ScheduleRow } from '../client/schedules';
import { twoStagePlan } from './helpers/plans';

const DAY = 86_400_000;

describe('rotor schedule create: when', () => {
  it('reads --every as rotor reads durations, in whole seconds, and says what to write otherwise', () => {
    assert.deepEqual(parseEvery('90d'), { ms: 90 * DAY });
    assert.deepEqual(parseEvery('1h30m'), { ms: 5_400_000 });
    assert.deepEqual(parseEvery('10s'), { ms: 10_000 });
    for (const bad of ['90', '5x', '-1d', ''])
      assert.match((parseEvery(bad) as { error: string }).error, /a duration such as 30s, .* e\.g\. --every 90d$/, bad);
    for (const bad of ['500ms', '1s500ms', '0s'])
      assert.match((parseEvery(bad) as { error: string }).error, /^must be a whole number of seconds, at least 1s/, bad);
  });

  it('takes five cron fields that croner and Temporal read alike, and names what is wrong with others', () => {
    for (const good of ['0 3 * * 1', '*/15 * * * *', '0 22 * * MON-FRI', '30 2 1,15 * *', '0 0 1 JAN *']) assert.equal(cronProblem(good), null, good);
    assert.match(cronProblem('0 3 * *')!, /^is not a cron schedule of five fields/);
    assert.match(cronProblem('0 3 30 2 *')!, /^never fires/);
    for (const bad of ['0 3 L * *', '0 3 * * 5#3', '0 3 ? * 1', '0 3 15W * *']) assert.match(cronProblem(bad)!, /no L, W, # or \?$/, bad);
    assert.match(cronProblem('0 3 1 * 1')!, /both a day of the month and a day of the week.*give one of them as \*$/);
  });

  it('starts an interval one interval after its creation, not at the multiples of the epoch', () => {
    const now = Date.parse('2026-12-07T16:20:33.700Z');
    const spec = scheduleSpec({ everyMs: 90 * DAY }, now);
    const { every, offset } = spec.intervals![0] as { every: number; offset: number };
    assert.equal(every, 90 * DAY);
    // Temporal fires at epoch + n * every + offset: the first after now is now + every, to the second.
    const first = Math.ceil((now - offset) / every) * every + offset;
    assert.equal(first, Math.floor(now / 1000) * 1000 + every);
    assert.deepEqual(scheduleSpec({ cron: ' 0 3 * * 1 ', timeZone: 'Europe/Berlin' }, now), { cronExpressions: ['0 3 * * 1'], timezone: 'Europe/Berlin' });
  });

  it('says when in words', () => {
    assert.equal(describeWhen({ everyMs: 90 * DAY }), 'every 90d');
    assert.equal(describeWhen({ everyMs: 5_400_000 }), 'every 1h30m');
    assert.equal(describeWhen({ cron: '0 3 * * 1', timeZone: 'Europe/Berlin' }), 'Mon at 03:00 (cron "0 3 * * 1", Europe/Berlin)');
    assert.equal(describeWhen({ cron: '30 22 * * 1-5', timeZone: 'UTC' }), 'Mon-Fri at 22:30 (cron "30 22 * * 1-5", UTC)');
    assert.equal(describeWhen({ cron: '0 4 1 * *', timeZone: 'UTC' }), 'day 1 of the month at 04:00 (cron "0 4 1 * *", UTC)');
    assert.equal(describeWhen({ cron: '0 4 * * *', timeZone: 'UTC' }), 'daily at 04:00 (cron "0 4 * * *", UTC)');
    assert.equal(describeWhen({ cron: '*/15 * * * *', timeZone: 'UTC' }), 'cron "*/15 * * * *" (UTC)');
  });
});

describe('rotor schedule create: the schedule', () => {
  const plan = parsePlan(twoStagePlan());
  const document = twoStagePlan();

  it('is named after the first namespace and the secret, as the rotation is', () => {
    assert.equal(rotationScheduleId(plan), 'rotor-staging-auth-api-secrets');
    assert.equal(scheduledRequester(plan, 'alice'), 'schedule rotor-staging-auth-api-secrets (created by alice)');
  });

  it('starts what rotor start starts, never beside a run still running, and keeps the secret and when in its memo', () => {
    const requestedBy = scheduledRequester(plan, 'alice');
    const start = rotationStartOptions(document, plan, requestedBy, 'rotor');
    const now = Date.parse('2026-12-07T00:00:00Z');
    const schedule = rotationSchedule(start, { plan, when: { everyMs: 90 * DAY }, createdBy: 'alice', now }, WORKFLOW_TYPE);
    assert.equal(schedule.scheduleId, 'rotor-staging-auth-api-secrets');
    assert.deepEqual(schedule.action, { type: 'startWorkflow', workflowType: WORKFLOW_TYPE, ...start });
    // Temporal appends each run's time to this id: rotate-staging-auth-api-secrets-2026-12-08T00:00:00Z.
    assert.equal(schedule.action.workflowId, 'rotate-staging-auth-api-secrets');
    assert.deepEqual(schedule.action.args, [{ plan: document, requestedBy }]);
    assert.equal(schedule.action.taskQueue, 'rotor');
    assert.deepEqual(
      (schedule.action.typedSearchAttributes as { key: { name: string }; value: unknown }[]).map((a) => [a.key.name, a.value]),
      [
        ['RotorSecret', 'auth-api-secrets'],
        ['RotorPhase', 'PLANNING'],
        ['RotorStage', '-'],
      ],
    );
    assert.deepEqual(schedule.policies, { overlap: 'SKIP' });
    assert.deepEqual(schedule.memo, {
      'rotor.schedule': { secret: 'auth-api-secrets', namespace: 'staging', when: { everyMs: 90 * DAY }, createdBy: 'alice' },
    });
    assert.deepEqual(schedule.state, { paused: false, note: 'created by alice: rotate auth-api-secrets every 90d' });
    const paused = rotationSchedule(start, { plan, when: { everyMs: DAY }, createdBy: 'bob', now, paused: true, note: 'after the freeze' }, WORKFLOW_TYPE);
    assert.deepEqual(paused.state, { paused: true, note: 'after the freeze' });
  });
});

describe('rotor schedule list', () => {
  const row: ScheduleRow = {
    scheduleId: 'rotor-staging-auth-api-secrets',
    secret: 'auth-api-secrets',
    spec: 'every 90d',
    paused: false,
    note: 'created by alice',
    nextRuns: ['2027-03-07T00:00:00Z', '2027-06-05T00:00:00Z'],
    lastRun: { workflowId: 'rotate-staging-auth-api-secrets-2026-12-07T00:00:00Z', startedAt: '2026-12-07T00:00:00Z', result: 'COMPLETED' },
    runs: 1,
    skipped: 0,
  };

  it('prints a header row and one schedule a line; wide adds counts, later runs and the note', () => {
    const idle: ScheduleRow = { ...row, scheduleId: 'rotor-qa-x', secret: 'x', paused: true, nextRuns: [], lastRun: null, runs: 0 };
    assert.equal(
      schedulesTable([row, idle]),
      [
        'ID                              SECRET            SPEC       PAUSED  NEXT RUN              LAST RUN                                              RESULT',
        'rotor-staging-auth-api-secrets  auth-api-secrets  every 90d  no      2027-03-07T00:00:00Z  rotate-staging-auth-api-secrets-2026-12-07T00:00:00Z  COMPLETED',
        'rotor-qa-x                      x                 every 90d  yes     -                     -                                                     -',
      ].join('\n'),
    );
    assert.match(schedulesTable([row], { wide: true }), /RESULT +RUNS +SKIPPED +LATER RUNS +NOTE\n.*COMPLETED +1 +0 +2027-06-05T00:00:00Z +created by alice$/);
  });
});
