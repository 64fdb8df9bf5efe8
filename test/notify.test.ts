// Notifications' pure parts: the webhook signature (what a receiver checks), the Slack and CloudEvents
// messages, the worker's sink settings (every problem named, never a URL or key echoed), and a plan's
// notify field and its routes.
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { cloudEvent, slackMessage } from '../activities/notify/messages';
import { SIGNATURE_HEADER, TIMESTAMP_HEADER, signatureHeaders, verifySignature } from '../activities/notify/signature';
import type { Notification } from '../contract/notify';
import { resolveRoutes, NOTIFY_EVENTS } from '../domain/notify';
import { validatePlan } from '../domain/plan';
import { notifySettings } from '../worker/notify-config';
import { HttpNotifier } from '../activities/notify/sinks';
import { checkNotify } from '../client/plan-dry-run/gather';
import { twoStagePlan } from './helpers/plans';

const KEY = 'unit-test-hmac-key-3b1f';
const NOW = 1_800_000_000;

const notification = (over: Partial<Notification> = {}): Notification => ({
  id: 'rotate-production-auth/run-1/awaiting_approval/12',
  kind: 'awaiting_approval',
  rotationId: 'rotate-production-auth/run-1',
  workflowId: 'rotate-production-auth',
  namespace: 'default',
  secret: 'auth-api-secrets',
  phase: 'AWAITING_APPROVAL',
  stage: 'production',
  message: 'waiting for `rotor approve rotate-production-auth` before production (up to 7d)',
  newVersion: 'auth-api-secrets-20261207101500',
  previousVersion: 'auth-api-secrets-20261101000000',
  time: '2026-12-07T10:20:00.000Z',
  approveCommand: 'rotor approve rotate-production-auth',
  ...over,
});

describe('the webhook signature', () => {
  const body = JSON.stringify(cloudEvent(notification(), 'rotor://prod-eu-1/default', null));
  const headers = signatureHeaders(body, KEY, NOW);
  const given = { signature: headers[SIGNATURE_HEADER], timestamp: headers[TIMESTAMP_HEADER] };

  it('is HMAC-SHA256 over `<timestamp>.<body>`, hex, prefixed sha256=, and verifies', () => {
    assert.equal(given.timestamp, String(NOW));
    assert.match(given.signature, /^sha256=[0-9a-f]{64}$/);
    assert.equal(verifySignature(body, KEY, given, NOW + 10), null);
  });

  it('fails for another body, another key, another timestamp, an old request, or none', () => {
    assert.equal(verifySignature(body.replace('production', 'staging'), KEY, given, NOW), 'signature does not match');
    assert.equal(verifySignature(body, `${KEY}x`, given, NOW), 'signature does not match');
    assert.equal(verifySignature(body, KEY, { ...given, timestamp: String(NOW + 1) }, NOW), 'signature does not match');
    assert.match(verifySignature(body, KEY, given, NOW + 301) ?? '', /not within 300 s/);
    assert.match(verifySignature(body, KEY, {}, NOW) ?? '', /missing/);
  });
});

describe('the messages', () => {
  it('a CloudEvent: the 1.0 structured fields, the approve command and the Web UI link in data', () => {
    const e = cloudEvent(notification(), 'rotor://prod-eu-1/default', 'https://temporal.example.com/');
    assert.deepEqual(
      { ...e, data: undefined },
      {
        specversion: '1.0',
        id: 'rotate-production-auth/run-1/awaiting_approval/12',
        source: 'rotor://prod-eu-1/default',
        type: 'dev.rotor.rotation.awaiting_approval',
        subject: 'rotate-production-auth',
        time: '2026-12-07T10:20:00.000Z',
        datacontenttype: 'application/json',
        data: undefined,
      },
    );
    const data = e.data as Record<string, unknown>;
    assert.equal(data.approveCommand, 'rotor approve rotate-production-auth');
    assert.equal(data.webUi, 'https://temporal.example.com/namespaces/default/workflows/rotate-production-auth');
    assert.equal(data.newVersion, 'auth-api-secrets-20261207101500');
  });

  it('Slack: text and blocks, the approve command and the link in both; holders of a blocked cleanup', () => {
    const m = slackMessage(notification(), 'https://temporal.example.com');
    assert.match(String(m.text), /^rotor: auth-api-secrets awaiting approval \(production\)\n/);
    for (const part of [String(m.text), JSON.stringify(m.blocks)]) {
      assert.ok(part.includes('rotor approve rotate-production-auth'));
      assert.ok(part.includes('https://temporal.example.com/namespaces/default/workflows/rotate-production-auth'));
    }
    const blocked = slackMessage(notification({ kind: 'cleanup_blocked', approveCommand: undefined, holders: ['CronJob/report in staging'] }), null);
    assert.ok(JSON.stringify(blocked.blocks).includes('CronJob/report in staging'));
    assert.ok(!String(blocked.text).includes('http'), 'no link without TEMPORAL_UI_URL');
  });
});

describe("the worker's sinks", () => {
  const dir = mkdtempSync(join(tmpdir(), 'rotor-notify-'));
  const keyFile = join(dir, 'key');
  writeFileSync(keyFile, `${KEY}\n`);
  chmodSync(keyFile, 0o600);
  const slackFile = join(dir, 'slack-url');
  writeFileSync(slackFile, 'https://hooks.slack.example/services/T0/B0/secret-token-zz\n');
  chmodSync(slackFile, 0o600);
  const sinks = { 'ops-webhook': { type: 'webhook', url: 'https://hooks.example.com/rotor', keyFile }, 'ops-slack': { type: 'slack', urlFile: slackFile } };

  it('from ROTOR_NOTIFY_SINKS, with default routes and the Web UI', () => {
    const problems: string[] = [];
    const s = notifySettings(
      {
        ROTOR_NOTIFY_SINKS: JSON.stringify(sinks),
        ROTOR_NOTIFY_DEFAULT: 'ops-slack, ops-webhook=rolled_back+failed',
        TEMPORAL_UI_URL: 'https://t.example.com',
      },
      problems,
    );
    assert.deepEqual(problems, []);
    assert.deepEqual(Object.keys(s!.sinks).sort(), ['ops-slack', 'ops-webhook']);
    assert.deepEqual(s!.defaults, [
      { sink: 'ops-slack', events: [...NOTIFY_EVENTS] },
      { sink: 'ops-webhook', events: ['rolled_back', 'failed'] },
    ]);
    const key = s!.sinks['ops-webhook'].key;
    assert.equal(typeof key === 'function' ? key() : key, KEY, 'the key is read from its file');
    assert.equal(s!.uiUrl, 'https://t.example.com');
  });

  it('from ROTOR_NOTIFY_FILE (YAML)', () => {
    const file = join(dir, 'sinks.yaml');
    writeFileSync(file, `ops-webhook:\n  type: webhook\n  url: https://hooks.example.com/rotor\n  keyFile: ${keyFile}\n`);
    const problems: string[] = [];
    assert.deepEqual(Object.keys(notifySettings({ ROTOR_NOTIFY_FILE: file }, problems)!.sinks), ['ops-webhook']);
    assert.deepEqual(problems, []);
  });

  it('none: null, and nothing to say', () => {
    const problems: string[] = [];
    assert.equal(notifySettings({}, problems), null);
    assert.deepEqual(problems, []);
  });

  it('every problem named with its variable and the fix, never a URL or key', () => {
    const open = join(dir, 'open-key');
    writeFileSync(open, KEY);
    chmodSync(open, 0o644);
    const problems: string[] = [];
    notifySettings(
      {
        ROTOR_NOTIFY_SINKS: JSON.stringify({
          a: { type: 'webhook', url: 'https://hooks.example.com/a' },
          b: { type: 'pager', url: 'https://x' },
          c: { type: 'webhook', url: 'https://user:pw-secret@hooks.example.com/c', keyFile: open },
          Bad_Name: { type: 'slack', url: 'https://hooks.slack.example/services/T0/B0/tok-in-url', colour: 'red' },
        }),
        ROTOR_NOTIFY_DEFAULT: 'nope,a=started+exploded',
      },
      problems,
    );
    const text = problems.join('\n');
    for (const expected of [
      /sink a \(webhook\) needs keyFile/,
      /sink b needs type slack or webhook/,
      /sink c's url is not an http\(s\) URL without credentials/,
      /sink c: keyFile=\S+ is readable by every user/,
      /sink name "Bad_Name" is not a name/,
      /sink Bad_Name has unknown field\(s\) colour/,
      /ROTOR_NOTIFY_DEFAULT names sink nope, which is not defined/,
      /ROTOR_NOTIFY_DEFAULT: a=started\+exploded names unknown event kind\(s\) exploded/,
    ])
      assert.match(text, expected);
    for (const secret of ['pw-secret', 'tok-in-url', KEY]) assert.ok(!text.includes(secret), `no ${secret} in:\n${text}`);
    const both: string[] = [];
    notifySettings({ ROTOR_NOTIFY_SINKS: '{}', ROTOR_NOTIFY_FILE: '/x' }, both);
    assert.deepEqual(both, ['set ROTOR_NOTIFY_SINKS or ROTOR_NOTIFY_FILE, not both']);
  });
});

describe("a plan's notify", () => {
  it('takes sinks by name with their events (default all); names each problem', () => {
    const ok = validatePlan(twoStagePlan({ top: { notify: [{ sink: 'ops-slack', events: ['awaiting_approval'] }, { sink: 'ops-webhook' }] } }));
    assert.deepEqual(ok.issues, []);
    assert.deepEqual(ok.plan.notify, [
      { sink: 'ops-slack', events: ['awaiting_approval'] },
      { sink: 'ops-webhook', events: [...NOTIFY_EVENTS] },
    ]);
    assert.equal(validatePlan(twoStagePlan()).plan.notify, undefined, 'left out: the worker decides');
    const bad = validatePlan(
      twoStagePlan({ top: { notify: [{ sink: 'ops-slack', events: ['exploded'] }, { sink: 'ops-slack' }, { sink: 'https://hooks.example.com/x' }] } }),
    );
    const said = bad.issues.map((i) => `${i.path}: ${i.message}`).join('\n');
    assert.match(said, /notify\[0\]\.events\[0\]: unknown event kind; use started, awaiting_approval/);
    assert.match(said, /notify\[1\]\.sink: names ops-slack a second time/);
    assert.match(said, /notify\[2\]\.sink: must name a sink the worker defines/);
  });

  it('rotor plan says whom the rotation would notify, and refuses a sink the worker lacks, as PLANNING does', () => {
    const notifier = new HttpNotifier({ sinks: { 'ops-slack': { type: 'slack', url: 'https://hooks.example.com/x' } }, defaults: [], uiUrl: null });
    const found = () => ({ refusals: [] as string[], unknowns: [] as string[], notes: [] as string[] });
    const ok = found();
    checkNotify({ notify: [{ sink: 'ops-slack', events: ['awaiting_approval', 'failed'] }] }, notifier, ok);
    assert.deepEqual(ok, { refusals: [], unknowns: [], notes: ['notify: ops-slack (awaiting_approval, failed)'] });
    const refused = found();
    checkNotify({ notify: [{ sink: 'pager', events: [...NOTIFY_EVENTS] }] }, notifier, refused);
    assert.match(refused.refusals[0], /^notify names sink pager, which this worker does not have \(it has ops-slack\).*\(nothing was changed\)$/);
    const unknown = found();
    checkNotify({ notify: [{ sink: 'pager', events: [...NOTIFY_EVENTS] }] }, undefined, unknown);
    assert.match(unknown.unknowns[0], /ROTOR_NOTIFY_SINKS or ROTOR_NOTIFY_FILE is not set here/);
    const defaults = found();
    checkNotify({}, notifier, defaults);
    assert.deepEqual(defaults.notes, ["notify: nobody (the worker's defaults)"]);
  });

  it("routes: the plan's, checked against the worker's sinks; or the worker's defaults", () => {
    const worker = { sinks: ['ops-slack'], defaults: [{ sink: 'ops-slack', events: ['failed' as const] }] };
    assert.deepEqual(resolveRoutes(null, worker), { routes: worker.defaults });
    assert.deepEqual(resolveRoutes([], worker), { routes: [] }, 'notify: [] is none, whatever the defaults');
    const refused = resolveRoutes([{ sink: 'pager', events: ['failed'] }], worker);
    assert.ok('problems' in refused);
    assert.match(
      refused.problems[0],
      /notify names sink pager, which this worker does not have \(it has ops-slack\); define it in the worker's ROTOR_NOTIFY_SINKS/,
    );
  });
});
