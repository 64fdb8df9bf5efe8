// The Temporal Web UI shows a rotation as an operator finds it: a real dev server with its UI, an
// in-process worker (rotor's activities over the memory adapter), a rotation started by rotor's own
// client and left waiting for approval, and Debian's chromium driven headless by puppeteer-core
// (scripts/browser-tools.mjs installs it; no browser is downloaded). The workflow list shows the
// rotation; its page shows the summary rotor sets at start (on the Workflow Execution Started event,
// and in the User Metadata tab) and the approval wait's timer summary (Timeline and Event History).
// Screenshots, and the page's text when something is missing, go to test-artifacts/.
// puppeteer-core 25 declares Node >= 22.12 (npm warns EBADENGINE); it is an ES module that Node
// 20.19+ loads with require(), and it drives chromium on Node 20.20 here.
import assert from 'node:assert/strict';
import { mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { NativeConnection, Worker } from '@temporalio/worker';
import { launch, type Browser, type Page } from 'puppeteer-core';
import { RotorClient } from '../client/rotor-client';
import { RotorSchedules } from '../client/schedules';
import { TERMINAL_PHASES } from '../contract/api';
import { parsePlan } from '../domain/plan';
import { CHROMIUM_ARGS, chromiumPath } from '../sandbox/browser';
import { quietRuntime, workflowBundle } from '../sandbox/time-skipping';
import { repoRoot } from '../sandbox/tools';
import { pollStatus } from './helpers/cli';
import { startDevServer, type DevServer } from './helpers/dev-server';
import { Doubles } from './helpers/doubles';
import { stopEach, workerStep } from './helpers/stop-each';

const ARTIFACTS = join(repoRoot, 'test-artifacts');
/** How long any one page may take to show what it should. */
const PAGE_MS = 30_000;
/** How long the rotation may take to reach its approval wait. */
const PHASE_MS = 60_000;

const SUMMARY = 'rotate auth-api-secrets: staging → production';
const TIMER_SUMMARY = 'approval for production: up to 1h';

const plan = {
  secret: 'auth-api-secrets',
  value: { generate: { keys: ['api_token'], length: 32 } },
  stages: [
    { name: 'staging', namespace: 'staging', strategy: 'rolling', soak: '0s' },
    { name: 'production', namespace: 'production', strategy: 'rolling', approval: 'required', approvalTimeout: '1h' },
  ],
};

let server: DevServer | undefined;
let connection: NativeConnection | undefined;
let worker: Worker | undefined;
let running: Promise<void> | undefined;
let client: RotorClient | undefined;
let browser: Browser | undefined;
let page: Page;
let workflowId: string;
/** A second rotation, past its stages and retaining: a filter by phase must leave it out. */
let retainingId: string;
/** A third, rolled back: the list and its page must show it failed, not a green completion. */
let rolledBackId: string;
let runId: string;
let ui: string;

/** What the functions evaluated in the page use of it (tsconfig has no DOM library). */
type InPage = { document: { body?: { innerText: string } } };
const bodyText = () => (globalThis as unknown as InPage).document.body?.innerText ?? '';

/** The visible text of the page and of every frame in it (the UI renders user metadata in iframes). */
async function pageText(p: Page): Promise<string> {
  const parts: string[] = [];
  for (const frame of p.frames()) {
    let text: string;
    try {
      // A frame detached by a re-render throws at once, not as a rejection.
      text = await frame.evaluate(bodyText);
    } catch (err) {
      text = `(frame unreadable: ${(err as Error).message})`;
    }
    parts.push(frame === p.mainFrame() ? text : `\n--- frame ${frame.url().slice(0, 120)}\n${text}`);
  }
  return parts.join('\n');
}

/**
 * Opens `path` and waits until every text in `wanted` is on the page (`inFrames`: or in one of its
 * frames), `height` pixels tall; screenshots it to test-artifacts/<artifact>.png either way, and on failure saves the
 * page's text to test-artifacts/<artifact>.txt and names what was not found.
 */
async function expectOnPage(path: string, artifact: string, wanted: string[], opts: { inFrames?: boolean; height?: number } = {}): Promise<void> {
  const url = `${ui}${path}`;
  // The event history scrolls inside the page: a window tall enough shows all of it in the screenshot.
  await page.setViewport({ width: 1600, height: opts.height ?? 1200 });
  try {
    await page.goto(url, { waitUntil: 'domcontentloaded', timeout: PAGE_MS });
    const deadline = Date.now() + PAGE_MS;
    if (!opts.inFrames) {
      await page.waitForFunction(
        (texts: string[]) => texts.every((t) => ((globalThis as unknown as InPage).document.body?.innerText ?? '').includes(t)),
        { timeout: PAGE_MS, polling: 250 },
        wanted,
      );
    } else {
      // Frames come and go as the page renders: poll their text, bounded like the rest.
      for (;;) {
        const text = await pageText(page);
        if (wanted.every((t) => text.includes(t))) break;
        if (Date.now() > deadline) throw new Error(`waited ${PAGE_MS} ms, frames included`);
        await new Promise((r) => setTimeout(r, 250));
      }
    }
  } catch (err) {
    const text = await pageText(page).catch(() => '(page unreadable)');
    writeFileSync(join(ARTIFACTS, `${artifact}.txt`), `${url}\n\n${text}\n`);
    const missing = wanted.filter((t) => !text.includes(t));
    const why = (err as Error).message.split('\n')[0];
    const where = `its text is in test-artifacts/${artifact}.txt, its screenshot in test-artifacts/${artifact}.png`;
    assert.fail(
      missing.length
        ? `${url}: after ${PAGE_MS / 1000} s the page does not show ${missing.map((t) => JSON.stringify(t)).join(' nor ')} (${why}); ${where}`
        : `${url}: the page could not be read (${why}); ${where}`,
    );
  } finally {
    await page.screenshot({ path: join(ARTIFACTS, `${artifact}.png`), fullPage: true }).catch(() => undefined);
  }
}

describe('the Temporal Web UI shows a rotation', () => {
  before(
    async () => {
      mkdirSync(ARTIFACTS, { recursive: true });
      for (const f of readdirSync(ARTIFACTS)) if (f.startsWith('webui-')) rmSync(join(ARTIFACTS, f), { force: true });
      const executablePath = chromiumPath(); // fails first, with what to do, when there is no browser
      quietRuntime();
      server = await startDevServer({ ui: true });
      ui = `http://127.0.0.1:${server.uiPort}`;
      connection = await NativeConnection.connect({ address: server.address });
      const taskQueue = `webui-${process.pid}-${Date.now()}`;
      worker = await Worker.create({
        connection,
        taskQueue,
        workflowBundle: await workflowBundle(),
        activities: new Doubles({}).activities(),
      });
      running = worker.run();
      running.catch(() => undefined); // a worker that fails is reported when `after` awaits it
      client = await RotorClient.connect({ address: server.address, taskQueue });
      workflowId = await client.start(plan, parsePlan(plan), 'e2e-webui');
      const rotor = client;
      const status = await pollStatus(
        workflowId,
        () => rotor.status(workflowId),
        (s) => s.phase === 'AWAITING_APPROVAL' || TERMINAL_PHASES.includes(s.phase),
        PHASE_MS,
        200,
      );
      assert.equal(status.phase, 'AWAITING_APPROVAL', `${workflowId} ended ${status.phase} before its approval wait`);
      const other = { secret: 'billing-secrets', value: plan.value, stages: [{ name: 'staging', namespace: 'billing', strategy: 'rolling', watch: '0s' }] };
      retainingId = await client.start(other, parsePlan(other), 'e2e-webui');
      const retaining = await pollStatus(
        retainingId,
        () => rotor.status(retainingId),
        (s) => s.phase === 'RETAINING' || TERMINAL_PHASES.includes(s.phase),
        PHASE_MS,
        200,
      );
      assert.equal(retaining.phase, 'RETAINING');
      const aborted = {
        secret: 'payments-secrets',
        value: plan.value,
        stages: [{ name: 'staging', namespace: 'payments', strategy: 'rolling', approval: 'required', watch: '0s' }],
      };
      rolledBackId = await client.start(aborted, parsePlan(aborted), 'e2e-webui');
      await pollStatus(
        rolledBackId,
        () => rotor.status(rolledBackId),
        (s) => s.phase === 'AWAITING_APPROVAL',
        PHASE_MS,
        200,
      );
      await client.abort(rolledBackId, 'the new token was refused', 'e2e-webui');
      const rolledBack = await pollStatus(
        rolledBackId,
        () => rotor.status(rolledBackId),
        (s) => TERMINAL_PHASES.includes(s.phase),
        PHASE_MS,
        200,
      );
      assert.equal(rolledBack.phase, 'ROLLED_BACK');
      runId = (await client.handle(workflowId).describe()).runId;
      browser = await launch({ executablePath, headless: true, args: [...CHROMIUM_ARGS] });
      page = await browser.newPage();
    },
    { timeout: 150_000 },
  );

  after(
    async () => {
      // Each part stops on its own: one that fails to stop leaves the others to stop.
      const steps: [string, () => Promise<unknown> | undefined][] = [
        ['browser', () => browser?.close()],
        ['client', () => client?.close()],
        workerStep(
          () => worker,
          () => running,
        ),
        ['worker connection', () => connection?.close()],
        ['dev server', () => server?.stop()],
      ];
      await stopEach(steps);
    },
    { timeout: 60_000 },
  );

  it('lists the rotation among the workflows', async () => {
    await expectOnPage('/namespaces/default/workflows', 'webui-workflow-list', [workflowId, runId, 'rotateSecret']);
  });

  it('lists the rotations awaiting approval by the RotorPhase search attribute, in the Web UI and with rotor list --phase', async () => {
    const query = encodeURIComponent("RotorPhase IN ('AWAITING_APPROVAL', 'ROLLING_BACK')");
    await expectOnPage(`/namespaces/default/workflows?query=${query}`, 'webui-awaiting-approval', [workflowId]);
    assert.ok(!(await pageText(page)).includes(retainingId), `${retainingId} is RETAINING and must not be listed`);
    assert.deepEqual(
      (await client!.list(50, ['AWAITING_APPROVAL'])).map((r) => r.workflowId),
      [workflowId],
    );
    assert.deepEqual(
      (await client!.list(50, ['RETAINING'])).map((r) => r.workflowId),
      [retainingId],
    );
  });

  it('shows a rolled-back rotation as failed, never as completed, in the list and on its page', async () => {
    const only = encodeURIComponent(`WorkflowId = '${rolledBackId}'`);
    await expectOnPage(`/namespaces/default/workflows?query=${only}`, 'webui-rolled-back-list', [rolledBackId, 'FAILED']);
    assert.doesNotMatch(await pageText(page), /\bCompleted\b/i, 'the rolled-back rotation is not listed as Completed');
    await expectOnPage(`/namespaces/default/workflows/${rolledBackId}`, 'webui-rolled-back', [
      rolledBackId,
      'FAILED',
      'rotation of payments-secrets ROLLED_BACK: the new token was refused',
    ]);
    // The list by phase still finds it (the search attribute is what `rotor list` shows as its phase).
    const byPhase = encodeURIComponent("RotorPhase = 'ROLLED_BACK'");
    await expectOnPage(`/namespaces/default/workflows?query=${byPhase}`, 'webui-rolled-back-by-phase', [rolledBackId]);
    assert.ok(!(await pageText(page)).includes(workflowId), `${workflowId} awaits approval and must not be listed`);
  });

  it("shows the approval wait's timer summary on the timeline of the workflow's page", async () => {
    await expectOnPage(`/namespaces/default/workflows/${workflowId}`, 'webui-timeline', [workflowId, TIMER_SUMMARY]);
  });

  it('shows the summary and the timer summary in the event history', async () => {
    // Workflow Execution Started carries the summary, Timer Started the timer's.
    await expectOnPage(
      `/namespaces/default/workflows/${workflowId}/${runId}/history`,
      'webui-rotation',
      ['Workflow Execution Started', SUMMARY, 'Timer Started', TIMER_SUMMARY],
      { height: 2400 },
    );
  });

  it('lists a rotation schedule made by rotor schedule on the Schedules page, with the workflow it starts', async () => {
    const document = { secret: 'ledger-secrets', value: plan.value, stages: [{ name: 'staging', namespace: 'ledger', strategy: 'rolling', watch: '0s' }] };
    const { scheduleId } = await new RotorSchedules(client!).create(document, {
      plan: parsePlan(document),
      when: { cron: '0 3 * * 1', timeZone: 'Europe/Berlin' },
      createdBy: 'e2e-webui',
      paused: true,
      note: 'shown on the Schedules page',
      now: Date.now(),
    });
    await expectOnPage('/namespaces/default/schedules', 'webui-schedules', [scheduleId]);
    await expectOnPage(`/namespaces/default/schedules/${scheduleId}`, 'webui-schedule', [
      scheduleId,
      'rotateSecret',
      'PAUSED',
      'Overlap Policy',
      'Skip',
      'Europe/Berlin',
    ]);
  });

  it('shows the summary in the User Metadata tab', async () => {
    await expectOnPage(`/namespaces/default/workflows/${workflowId}/${runId}/user-metadata`, 'webui-user-metadata', ['Summary', SUMMARY], { inFrames: true });
  });
});
