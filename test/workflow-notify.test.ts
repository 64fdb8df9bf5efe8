// Notifications end to end on the time-skipping server, delivered over HTTP to a real receiver on
// 127.0.0.1 that checks each webhook's HMAC signature and CloudEvents fields: a rotation with an
// approval and a failing check tells awaiting_approval (with the approve command and the Web UI
// link) and rolled_back; a sink that answers 500 for over a minute gets its event once it recovers,
// exactly once, and the status says it was failing; a sink that never recovers is given up on, in the
// status, and the rotation completes all the same; a plan naming a sink the worker lacks is refused
// in PLANNING; a plan without notify gets the worker's defaults.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import type { WorkflowHandle } from '@temporalio/client';
import { approveSignal, endedStatusOf, statusQuery, type RotationStatus } from '../contract/api';
import { HttpNotifier, type NotifySettings } from '../activities/notify/sinks';
import { deliverNotification, rotateSecret } from '../workflows';
import { workflowBundle } from '../sandbox/time-skipping';
import { Doubles, type Script } from './helpers/doubles';
import { recordValues } from './helpers/leak';
import { NotifyReceiver } from './helpers/notify-receiver';
import { twoStagePlan } from './helpers/plans';
import { useTimeSkippingEnv } from './helpers/rotations';

/** The webhook sinks' signing key, and the token in the Slack URL: neither may reach a history, a status or a message. */
const KEY = 'rotor-notify-test-hmac-key-5f1c2b7e9a';
const SLACK_TOKEN = 'T0TEST/B0TEST/slack-leak-canary-token';
const UI = 'https://temporal.example.test';
recordValues([KEY, SLACK_TOKEN]);

const receiver = new NotifyReceiver(KEY, (path, nth) => (path === '/flaky' ? (nth <= 6 ? 500 : 200) : path === '/down' ? 500 : 200));
let env: TestWorkflowEnvironment;
/**
 * Each case on a time-skipping server of its own: a delivery that outlives its rotation (completed,
 * rolled_back) leaves the test server's time-skipping lock held once it completes (a test-server
 * quirk; the real server skips nothing), which would stall every later case's timers.
 */
const ownServer = () => useTimeSkippingEnv((e) => (env = e));
before(() => receiver.start());
after(() => receiver.stop());

function settings(defaults: NotifySettings['defaults'] = []): NotifySettings {
  const webhook = (path: string) => ({ type: 'webhook' as const, url: receiver.url(path), key: () => KEY });
  return {
    sinks: {
      'ops-webhook': webhook('/hook'),
      'ops-slack': { type: 'slack', url: () => receiver.url(`/slack/${SLACK_TOKEN}`) },
      flaky: webhook('/flaky'),
      down: webhook('/down'),
    },
    defaults,
    uiUrl: UI,
  };
}

let seq = 0;
/** A rotation to its end, then every delivery it started to theirs; `during`: what the operator does. */
async function rotate(plan: object, script: Script, during?: (handle: WorkflowHandle<typeof rotateSecret>) => Promise<void>) {
  const d = new Doubles(script);
  const taskQueue = `notify-${++seq}`;
  const worker = await Worker.create({ connection: env.nativeConnection, taskQueue, workflowBundle: await workflowBundle(), activities: d.activities() });
  const handle = await env.client.workflow.start(rotateSecret, { taskQueue, workflowId: `rotate-notify-${seq}`, args: [{ plan, requestedBy: 'test' }] });
  return worker.runUntil(async () => {
    await during?.(handle);
    const status: RotationStatus = await handle.result().catch((err) => endedStatusOf(err) ?? Promise.reject(err));
    const children = ((await handle.fetchHistory()).events ?? []).flatMap((e) =>
      e.startChildWorkflowExecutionInitiatedEventAttributes?.workflowId ? [e.startChildWorkflowExecutionInitiatedEventAttributes.workflowId] : [],
    );
    const deliveries = new Map<string, Awaited<ReturnType<typeof deliverNotification>>>();
    for (const id of children) deliveries.set(id, await env.client.workflow.getHandle<typeof deliverNotification>(id).result());
    return { d, status, handle, deliveries };
  });
}

async function approveWhenAsked(handle: WorkflowHandle<typeof rotateSecret>): Promise<void> {
  for (let i = 0; i < 300 && (await handle.query(statusQuery)).phase !== 'AWAITING_APPROVAL'; i++) await env.sleep('1m');
  await handle.signal(approveSignal, { by: 'alice' });
}

const messages = (status: RotationStatus) => status.events.map((e) => e.message);

describe('notifications: approval and rollback', () => {
  ownServer();
  it('tells awaiting_approval (approve command, Web UI link) and rolled_back, signed, as CloudEvents and Slack messages', async () => {
    const plan = twoStagePlan({
      staging: { soak: '1h' },
      production: { approval: 'required', strategy: 'rolling', watch: '1h' },
      top: { retention: '1d', notify: [{ sink: 'ops-webhook' }, { sink: 'ops-slack', events: ['awaiting_approval', 'rolled_back'] }] },
    });
    const script: Script = {
      notifier: new HttpNotifier(settings()),
      check: (i) => (i.stage === 'production' && i.check === 'verify' ? 'failed' : 'passed'),
    };
    const { status, handle, deliveries } = await rotate(plan, script, approveWhenAsked);
    assert.equal(status.phase, 'ROLLED_BACK');
    assert.ok(messages(status).includes('notifying ops-webhook (every event), ops-slack (awaiting_approval, rolled_back)'), messages(status).join('\n'));
    assert.ok(
      [...deliveries.values()].every((x) => x.delivered && x.attempts === 1),
      JSON.stringify([...deliveries]),
    );

    const id = handle.workflowId;
    const events = receiver
      .delivered('/hook')
      .map((r) => r.body)
      .filter((e) => e.subject === id)
      .sort((a, b) => Number(a.id.split('/').pop()) - Number(b.id.split('/').pop()));
    assert.deepEqual(
      events.map((e) => e.type),
      ['started', 'stage_passed', 'awaiting_approval', 'rolled_back'].map((k) => `dev.rotor.rotation.${k}`),
    );
    for (const r of receiver.received.filter((x) => x.path === '/hook' && x.body.subject === id)) {
      assert.equal(r.signatureProblem, null, 'every webhook request is signed with the worker key');
      assert.equal(r.contentType, 'application/cloudevents+json');
    }
    const { runId } = await handle.describe();
    for (const e of events) {
      assert.equal(e.specversion, '1.0');
      assert.match(e.id, new RegExp(`^${id}/${runId}/${e.data.kind}/\\d+$`));
      assert.equal(e.source, 'rotor://deployment-a/default');
      assert.equal(e.datacontenttype, 'application/json');
      assert.ok(!Number.isNaN(Date.parse(e.time)));
      assert.equal(e.data.secret, 'auth-api-secrets');
      assert.equal(e.data.webUi, `${UI}/namespaces/default/workflows/${id}`);
    }
    assert.equal(new Set(events.map((e) => e.id)).size, events.length, 'one id per event');
    const approval = events.find((e) => e.data.kind === 'awaiting_approval');
    assert.equal(approval.data.approveCommand, `rotor approve ${id}`);
    assert.equal(approval.data.stage, 'production');
    const rolledBack = events.find((e) => e.data.kind === 'rolled_back');
    assert.match(rolledBack.data.message, /verify|check/);

    const slack = receiver
      .delivered(`/slack/${SLACK_TOKEN}`)
      .map((r) => r.body)
      .filter((b) => b.text.includes(id));
    assert.equal(slack.length, 2);
    assert.match(slack[0].text, /awaiting approval \(production\)/);
    assert.ok(slack[0].text.includes(`rotor approve ${id}`) && slack[0].text.includes(`${UI}/namespaces/default/workflows/${id}`));
    assert.ok(JSON.stringify(slack[0].blocks).includes(`rotor approve ${id}`));
    assert.match(slack[1].text, /ROLLED BACK/);

    // Nothing of a sink's URL or key in any message or history the rotation left.
    const everything = JSON.stringify([status, receiver.received.map((r) => r.body), (await handle.fetchHistory()).events]);
    for (const secret of [KEY, SLACK_TOKEN]) assert.ok(!everything.includes(secret));
  });
});

describe('notifications: a failing sink', () => {
  ownServer();
  it('a sink down for over a minute gets its event once it is back, exactly once; one that never recovers is given up on; the rotation completes', async () => {
    const plan = twoStagePlan({
      staging: { soak: '1h' },
      production: { strategy: 'rolling', watch: '2h' },
      top: {
        retention: '1d',
        notify: [
          { sink: 'flaky', events: ['started'] },
          { sink: 'down', events: ['started'] },
        ],
      },
    });
    const { status, handle, deliveries } = await rotate(plan, { notifier: new HttpNotifier(settings()), check: () => 'passed' });
    assert.equal(status.phase, 'COMPLETED', 'a failing sink never holds up nor fails the rotation');
    const said = messages(status);
    assert.ok(said.includes('notification started to sink flaky failing: HTTP 500 (attempt 5), still retrying for up to 1h'), said.join('\n'));
    assert.ok(
      said.some((m) => /^notification started to sink flaky delivered at attempt 7, after /.test(m)),
      said.join('\n'),
    );
    assert.ok(said.includes('notification started to sink down failing: HTTP 500 (attempt 5), still retrying for up to 1h'), said.join('\n'));
    assert.ok(
      said.some((m) => /^notification started to sink down given up after \d+ attempt\(s\) over .*: HTTP 500$/.test(m)),
      said.join('\n'),
    );

    const id = handle.workflowId;
    const flaky = receiver.received.filter((r) => r.path === '/flaky' && r.body.subject === id);
    assert.deepEqual(
      flaky.map((r) => r.status),
      [500, 500, 500, 500, 500, 500, 200],
    );
    assert.equal(new Set(flaky.map((r) => r.body.id)).size, 1, 'every attempt carries the same id, for a receiver to dedupe');
    assert.ok(flaky.every((r) => r.signatureProblem === null));
    assert.equal(receiver.delivered('/flaky').filter((r) => r.body.subject === id).length, 1, 'exactly one successful delivery');
    const [flakyId] = [...deliveries.keys()].filter((k) => k.endsWith('/flaky'));
    assert.deepEqual(deliveries.get(flakyId), { delivered: true, attempts: 7 });
    // The sink answered 500 for over a minute of the rotation's time.
    const history = (await env.client.workflow.getHandle(flakyId).fetchHistory()).events ?? [];
    const at = (e: (typeof history)[number]) => Number(e.eventTime?.seconds ?? 0);
    assert.ok(at(history[history.length - 1]) - at(history[0]) >= 60, 'delivered after more than a minute of failures');
    const [downId] = [...deliveries.keys()].filter((k) => k.endsWith('/down'));
    assert.equal(deliveries.get(downId)?.delivered, false);
    assert.equal(receiver.delivered('/down').length, 0);
  });

  it('tells cleanup_blocked once per set of holders, naming them, while cleanup waits', async () => {
    const plan = twoStagePlan({
      staging: { soak: '10m' },
      production: { strategy: 'rolling', watch: '10m' },
      top: { retention: '1h', cleanupRecheck: '1h', notify: [{ sink: 'ops-webhook', events: ['cleanup_blocked'] }] },
    });
    const cron = { kind: 'CronJob', namespace: 'staging', name: 'weekly-report', fields: ['volumes[data].secret.secretName'] };
    const job = { kind: 'Job', namespace: 'production', name: 'backfill', fields: ['volumes[data].secret.secretName'] };
    // Three scans held by the CronJob (told once), one by the CronJob and a Job (told again), then none.
    const script: Script = { notifier: new HttpNotifier(settings()), check: () => 'passed', holders: [[cron], [cron], [cron], [cron, job], []] };
    const { status, handle } = await rotate(plan, script);
    assert.equal(status.phase, 'COMPLETED');
    const told = receiver
      .delivered('/hook')
      .map((r) => r.body)
      .filter((e) => e.subject === handle.workflowId)
      .sort((a, b) => Number(a.id.split('/').pop()) - Number(b.id.split('/').pop()));
    assert.deepEqual(
      told.map((e) => e.data.holders),
      [['CronJob/weekly-report in staging'], ['CronJob/weekly-report in staging', 'Job/backfill in production']],
    );
    assert.ok(told.every((e) => e.type === 'dev.rotor.rotation.cleanup_blocked'));
  });
});

describe("notifications: the worker's defaults, and a sink it lacks", () => {
  ownServer();
  it("a plan without notify gets the worker's default sinks", async () => {
    const plan = twoStagePlan({ staging: { soak: '10m' }, production: { strategy: 'rolling', watch: '10m' }, top: { retention: '1h' } });
    const script: Script = { notifier: new HttpNotifier(settings([{ sink: 'ops-webhook', events: ['completed'] }])), check: () => 'passed' };
    const { status, handle } = await rotate(plan, script);
    assert.equal(status.phase, 'COMPLETED');
    assert.ok(messages(status).includes("notifying ops-webhook (completed), the worker's defaults"));
    const got = receiver.delivered('/hook').filter((r) => r.body.subject === handle.workflowId);
    assert.deepEqual(
      got.map((r) => r.body.type),
      ['dev.rotor.rotation.completed'],
    );
  });

  it('a plan naming a sink the worker lacks is refused in PLANNING, naming the sink and the fix, before anything is claimed', async () => {
    const plan = twoStagePlan({ top: { notify: [{ sink: 'ops-pager' }] } });
    const { status, d } = await rotate(plan, { notifier: new HttpNotifier(settings()) });
    assert.equal(status.phase, 'FAILED');
    assert.match(status.outcome ?? '', /notify names sink ops-pager, which this worker does not have \(it has down, flaky, ops-slack, ops-webhook\)/);
    assert.match(status.outcome ?? '', /ROTOR_NOTIFY_SINKS or ROTOR_NOTIFY_FILE, or remove it from the plan/);
    assert.deepEqual(d.called('claimRotation'), []);
  });
});
