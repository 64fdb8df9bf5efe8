// The rotation workflow on the real time-skipping server, with activity doubles.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import { abortSignal, approveSignal, endedStatusOf, rollbackUpdate, statusQuery, type RotationStatus } from '../contract/api';
import { rotateSecret } from '../workflows';
import { Doubles, workload, type Script } from './helpers/doubles';
import { workflowBundle } from '../sandbox/time-skipping';
import { outcomeOf, useTimeSkippingEnv } from './helpers/rotations';
import { twoStagePlan } from './helpers/plans';
import { repoRoot } from './helpers/tools';

let env: TestWorkflowEnvironment;
let seq = 0;
useTimeSkippingEnv((e) => (env = e));

async function withWorker<T>(script: Script, fn: (doubles: Doubles, taskQueue: string) => Promise<T>): Promise<T> {
  const doubles = new Doubles(script);
  const taskQueue = `wf-${++seq}`;
  const worker = await Worker.create({
    connection: env.nativeConnection,
    taskQueue,
    workflowBundle: await workflowBundle(),
    activities: doubles.activities(),
    maxHeartbeatThrottleInterval: '100ms', // cancellation reaches a blocked double at once
  });
  return worker.runUntil(fn(doubles, taskQueue));
}

function start(taskQueue: string, plan: object, id = `rotate-staging-auth-api-secrets-${seq}`) {
  return env.client.workflow.start(rotateSecret, { taskQueue, workflowId: id, args: [{ plan, requestedBy: 'test' }] });
}

/** Workflow and update failures carry the workflow's own message as their cause. */
async function rejectsWithCause(p: Promise<unknown>, pattern: RegExp): Promise<void> {
  await assert.rejects(
    p,
    (err: any) =>
      pattern.test(String(err?.cause?.message ?? err?.message)) || assert.fail(`${String(err?.cause?.message ?? err?.message)} does not match ${pattern}`),
  );
}

async function historyLength(workflowId: string): Promise<number> {
  const history = await env.client.workflow.getHandle(workflowId).fetchHistory();
  return history.events?.length ?? 0;
}

/** What the world says of a workload: every Secret it names, its replicas, and whether rotor still records a switch on it. */
function state(d: Doubles, ns: string, name = 'auth-api') {
  const w = d.workload(ns, name)!;
  return {
    refs: [...new Set(Object.values(w.refs))],
    replicas: w.replicas,
    records: Object.keys(w.annotations ?? {}).filter((k) => k.startsWith('rotor.dev/switch-')),
    greens: d.cluster.world.workloads.filter((x) => x.namespace === ns && x.name.startsWith(`${name}-canary-`)).map((x) => x.name),
  };
}

const OLD = 'auth-api-secrets-20250101000000';

describe('rotateSecret', () => {
  it('runs the happy path with a 24h soak and 14d retention in seconds, within the history bound', async () => {
    await withWorker({}, async (d, tq) => {
      const plan = twoStagePlan({ production: { approval: 'required' } });
      const handle = await start(tq, plan);
      // Approval is awaited after staging's soak, before production deploys.
      for (;;) {
        const s = await handle.query(statusQuery);
        if (s.phase === 'AWAITING_APPROVAL') break;
        assert.notEqual(s.phase, 'FAILED');
        await env.sleep('1h');
      }
      await handle.signal(approveSignal, { by: 'alice', comment: 'staging looks good' });
      const result = await outcomeOf(handle);
      assert.equal(result.phase, 'COMPLETED');
      assert.match(result.newVersion!, /^auth-api-secrets-\d{14}$/);
      assert.equal(result.previousVersion, 'auth-api-secrets-20250101000000');
      assert.deepEqual(
        result.approvals.map((a) => [a.stage, a.by]),
        [['production', 'alice']],
      );
      // Canary steps in order, each followed by an analysis over the pause.
      assert.deepEqual(
        d.called('switchWorkloads').map((i) => [i.namespace, i.weightPercent ?? 100]),
        [
          ['staging', 100],
          ['production', 10],
          ['production', 25],
          ['production', 50],
          ['production', 100],
        ],
      );
      const checks = d.called('monitorAnalysis').map((i) => `${i.stage}:${i.check}:${i.durationMs}`);
      assert.deepEqual(checks, [
        'staging:verify:240000',
        'staging:soak:86400000',
        'production:canary:600000',
        'production:canary:600000',
        'production:canary:600000',
        'production:canary:600000',
        'production:watch:86400000',
      ]);
      assert.equal(d.called('revertWorkloads').length, 0);
      assert.deepEqual(
        d.called('deleteVersion').map((i) => i.version),
        ['auth-api-secrets-20250101000000'],
      );
      // The world: everything on the new version at full size, no green copy, no record left, the old version gone.
      for (const ns of ['staging', 'production']) {
        assert.deepEqual(state(d, ns), { refs: [result.newVersion], replicas: 4, records: [], greens: [] }, ns);
        assert.deepEqual(d.secretNames(ns), [result.newVersion]);
      }
      const phases = result.events.map((e) => e.phase);
      for (const p of ['PLANNING', 'CREATING', 'DEPLOYING', 'VERIFYING', 'SOAKING', 'AWAITING_APPROVAL', 'WATCHING', 'RETAINING', 'CLEANING_UP', 'COMPLETED']) {
        assert.ok(phases.includes(p as never), `phase ${p} recorded`);
      }
      // 14 days of retention went by in workflow time.
      const retaining = result.events.find((e) => e.phase === 'RETAINING')!;
      const cleaning = result.events.find((e) => e.phase === 'CLEANING_UP')!;
      assert.ok(Date.parse(cleaning.at) - Date.parse(retaining.at) >= 14 * 86_400_000);
      const events = await historyLength(handle.workflowId);
      assert.ok(events <= 300, `history has ${events} events, bound is 300`);
    });
  });

  it('aborts during soak and rolls back what was switched', async () => {
    await withWorker({ check: (i) => (i.check === 'soak' ? 'block' : 'passed') }, async (d, tq) => {
      const handle = await start(tq, twoStagePlan());
      await d.blocked;
      assert.equal((await handle.query(statusQuery)).phase, 'SOAKING');
      await handle.signal(abortSignal, { reason: 'upstream incident', by: 'bob' });
      const result = await outcomeOf(handle);
      assert.equal(result.phase, 'ROLLED_BACK');
      assert.match(result.outcome!, /upstream incident/);
      assert.deepEqual(
        d.called('revertWorkloads').map((i) => i.namespace),
        ['staging'],
      );
      assert.equal(d.called('switchWorkloads').filter((i) => i.namespace === 'production').length, 0);
      assert.deepEqual(
        d.called('finalizeVersion').map((i) => i.outcome),
        ['failed'],
      );
      for (const ns of ['staging', 'production']) assert.deepEqual(state(d, ns), { refs: [OLD], replicas: 4, records: [], greens: [] }, ns);
    });
  });

  it('rolls back staging when its verification fails, and never touches production', async () => {
    await withWorker({ check: (i) => (i.stage === 'staging' && i.check === 'verify' ? 'failed' : 'passed') }, async (d, tq) => {
      const result = await outcomeOf(await start(tq, twoStagePlan()));
      assert.equal(result.phase, 'ROLLED_BACK');
      assert.match(result.outcome!, /verify check in staging failed/);
      assert.deepEqual(
        d.called('revertWorkloads').map((i) => [i.namespace, i.from, i.to]),
        [['staging', result.newVersion, 'auth-api-secrets-20250101000000']],
      );
      assert.ok(d.called('switchWorkloads').every((i) => i.namespace === 'staging'));
      assert.equal(result.checks.at(-1)!.verdict, 'failed');
      assert.deepEqual(result.switched, []);
    });
  });

  it('rolls back a failed canary step in production, then staging, undoing exactly what was switched', async () => {
    const script: Script = { check: (i, n) => (i.check === 'canary' && n === 3 ? 'failed' : 'passed') }; // 2nd canary step (25%)
    await withWorker(script, async (d, tq) => {
      const result = await outcomeOf(await start(tq, twoStagePlan({ staging: { soak: '1h' } })));
      assert.equal(result.phase, 'ROLLED_BACK');
      assert.deepEqual(
        d.called('switchWorkloads').map((i) => `${i.namespace}:${i.weightPercent ?? 100}`),
        ['staging:100', 'production:10', 'production:25'],
      );
      const reverts = d.called('revertWorkloads');
      assert.deepEqual(
        reverts.map((i) => i.namespace),
        ['production', 'staging'],
      );
      // The production undo carries the records of the last step: the canary at 25%.
      assert.deepEqual(
        reverts[0].records.map((r: any) => r.canary.weightPercent),
        [25],
      );
      assert.equal(result.canaryPercent, null);
      // Blue back on the old version at its size, its green copy gone; staging back too.
      for (const ns of ['staging', 'production']) assert.deepEqual(state(d, ns), { refs: [OLD], replicas: 4, records: [], greens: [] }, ns);
      assert.match(result.outcome!, /canary check in production failed/);
    });
  });

  it('rolls back when a rollout never becomes ready', async () => {
    const script: Script = {
      rollout: (i, n) =>
        i.namespace === 'staging' && n === 0 ? { ready: false, message: 'CreateContainerConfigError: key api_token missing' } : { ready: true, message: 'ok' },
    };
    await withWorker(script, async (d, tq) => {
      const result = await outcomeOf(await start(tq, twoStagePlan()));
      assert.equal(result.phase, 'ROLLED_BACK');
      assert.match(result.outcome!, /CreateContainerConfigError/);
      assert.deepEqual(
        d.called('revertWorkloads').map((i) => i.namespace),
        ['staging'],
      );
    });
  });

  it('reverts by the targeted workloads when a switch fails half-way', async () => {
    const script: Script = { switchFailsIn: 'production', workloads: { production: [workload('production', 'auth-api'), workload('production', 'billing')] } };
    await withWorker(script, async (d, tq) => {
      const result = await outcomeOf(await start(tq, twoStagePlan({ staging: { soak: '0s' }, production: { strategy: 'rolling' } })));
      assert.equal(result.phase, 'ROLLED_BACK');
      const reverts = d.called('revertWorkloads');
      assert.deepEqual(
        reverts.map((i) => i.namespace),
        ['production', 'staging'],
      );
      assert.deepEqual(reverts[0].records, [], 'the workflow never got a record of the half-way switch');
      assert.deepEqual(
        reverts[0].workloads.map((w: any) => w.name),
        ['auth-api', 'billing'],
      );
      // ...and still it is reverted, from the record on the object itself.
      assert.ok(
        result.events.some((e) => /^reverted in production to auth-api-secrets-20250101000000: Deployment\/auth-api: 1 field\(s\)/.test(e.message)),
        result.events.map((e) => e.message).join('\n'),
      );
      for (const [ns, name] of [
        ['staging', 'auth-api'],
        ['production', 'auth-api'],
        ['production', 'billing'],
      ]) {
        assert.deepEqual(state(d, ns, name), { refs: [OLD], replicas: 4, records: [], greens: [] }, `${ns}/${name}`);
      }
    });
  });

  it('keeps trying a rollback it cannot finish for a day, visibly, then ends FAILED saying what was left where', async () => {
    const script: Script = { check: (i) => (i.check === 'watch' ? 'failed' : 'passed'), revertFailsIn: 'production' };
    await withWorker(script, async (d, tq) => {
      const handle = await start(tq, twoStagePlan({ staging: { soak: '1h' }, production: { strategy: 'rolling' } }));
      await rejectsWithCause(handle.result(), /FAILED: rollback incomplete after: watch check in production failed/);
      const s = await handle.query(statusQuery);
      assert.equal(s.phase, 'FAILED');
      // Production was retried in blocks for a day, each visible in status; staging was still reverted after.
      const namespaces = d.called('revertWorkloads').map((i) => i.namespace);
      assert.equal(namespaces.at(-1), 'staging');
      assert.ok(namespaces.filter((n) => n === 'production').length > 10, `production reverts: ${namespaces.length}`);
      assert.ok(s.events.some((e) => /revert in production failed .*rotor keeps trying until/.test(e.message)));
      const tried = s.events.filter((e) => e.phase === 'ROLLING_BACK').map((e) => Date.parse(e.at));
      assert.ok(Math.max(...tried) - Math.min(...tried) >= 23 * 3_600_000, 'kept trying for about a day');
      assert.equal(s.leftovers.length, 1);
      assert.match(
        s.leftovers[0],
        new RegExp(
          `^production: could not revert to auth-api-secrets-20250101000000 .*forbidden.*may still point at ${s.newVersion}: Deployment/auth-api — set their Secret references back`,
        ),
      );
      assert.deepEqual(
        d.called('finalizeVersion').map((i) => i.outcome),
        ['failed'],
      );
      assert.equal((await handle.describe()).searchAttributes.RotorPhase?.[0], 'FAILED');
    });
  });

  it('rides out an apiserver outage during a rollback and ends ROLLED_BACK', async () => {
    const script: Script = { check: (i) => (i.check === 'watch' ? 'failed' : 'passed'), revertOutage: 12 };
    await withWorker(script, async (d, tq) => {
      const result = await outcomeOf(await start(tq, twoStagePlan({ staging: { soak: '1h' }, production: { strategy: 'rolling' } })));
      assert.equal(result.phase, 'ROLLED_BACK');
      assert.deepEqual(result.leftovers, []);
      assert.equal(d.called('revertWorkloads').length, 12 + 2);
      assert.ok(
        result.events.some((e) => /^reverted in production to auth-api-secrets-20250101000000: Deployment\/auth-api/.test(e.message)),
        result.events.map((e) => e.message).join('\n'),
      );
    });
  });

  it('honours an abort that arrives in cleanup right before the run continues as new', async () => {
    const cron = { kind: 'CronJob' as const, namespace: 'staging', name: 'weekly-report', fields: ['volumes[data].secret.secretName'] };
    // Holders for a while, then none: a lost abort would let a later run delete the previous version.
    await withWorker({ holders: [...Array.from({ length: 6 }, () => [cron]), []] }, async (d, tq) => {
      const plan = twoStagePlan({ staging: { soak: '1h' }, production: { watch: '1h' }, top: { retention: '0s', cleanupRecheck: '1h' } });
      // Budget 0: every cleanup round ends by continuing as new, so the abort always races the hand-over.
      const handle = await env.client.workflow.start(rotateSecret, {
        taskQueue: tq,
        workflowId: `rotate-staging-abort-can-${seq}`,
        args: [{ plan, requestedBy: 'test', historyBudget: 0 }],
      });
      for (;;) {
        const s = await handle.query(statusQuery);
        if (s.phase === 'CLEANING_UP' && s.holders.length) break;
        await env.sleep('10m');
      }
      await handle.signal(abortSignal, { reason: 'keep the old token for the audit', by: 'carol' });
      const result = await outcomeOf(handle);
      assert.equal(result.phase, 'COMPLETED');
      assert.match(result.outcome!, /kept \(cleanup stopped by abort: keep the old token for the audit\)/);
      assert.equal(d.called('deleteVersion').length, 0, 'the previous version was not deleted');
    });
  });

  it('ends FAILED with what is left when cleanup keeps failing, instead of a bare workflow failure', async () => {
    await withWorker({ scanFailsFrom: 0 }, async (d, tq) => {
      // Production rolling: a run this short stays far from the history budget, so all three rounds fall in one run.
      const plan = twoStagePlan({ staging: { soak: '0s' }, production: { watch: '0s', strategy: 'rolling' }, top: { retention: '0s', cleanupRecheck: '1h' } });
      const handle = await start(tq, plan);
      await rejectsWithCause(handle.result(), /FAILED: cleanup failed 3 rounds in a row/);
      const s = await handle.query(statusQuery);
      assert.equal(s.phase, 'FAILED');
      assert.equal(d.called('scanReferences').length, 3);
      assert.match(s.leftovers.join('\n'), /auth-api-secrets-20250101000000 is still in staging, production; delete it by hand once nothing refers to it/);
    });
  });

  it('completes a run carried across continue-as-new by the previous release, even with fields missing', async () => {
    const dir = join(repoRoot, 'test', 'fixtures');
    const releases = readdirSync(dir)
      .filter((f) => /^carried-v\d+\.json$/.test(f))
      .map((f) => JSON.parse(readFileSync(join(dir, f), 'utf8')));
    assert.ok(releases.length >= 2, 'carried state of at least two releases');
    // As a release older still would carry it: without fields added since (the cleanup loop uses them).
    const older = structuredClone(releases[0]);
    delete older.carry.status.cleaned;
    delete older.carry.status.holders;
    delete older.carry.status.leftovers;
    for (const [i, input] of [...releases, older].entries()) {
      await withWorker({}, async (d, tq) => {
        const handle = await env.client.workflow.start(rotateSecret, { taskQueue: tq, workflowId: `rotate-carried-${i}-${seq}`, args: [input] });
        const result = await outcomeOf(handle);
        assert.equal(result.phase, 'COMPLETED');
        assert.deepEqual(result.cleaned, ['staging', 'production']);
        assert.deepEqual(
          d.called('deleteVersion').map((x) => x.version),
          ['auth-api-secrets-20250101000000'],
        );
        assert.ok(result.events.some((e) => /resumed cleanup in a new run/.test(e.message)));
      });
    }
  });

  it('rolls back when approval never comes, after the approval timeout', async () => {
    await withWorker({}, async (d, tq) => {
      const plan = twoStagePlan({ production: { approval: 'required', approvalTimeout: '2d' } });
      const handle = await start(tq, plan);
      const result = await outcomeOf(handle);
      assert.equal(result.phase, 'ROLLED_BACK');
      assert.match(result.outcome!, /no approval for production within 2d/);
      assert.equal(d.called('switchWorkloads').filter((i) => i.namespace === 'production').length, 0);
      assert.deepEqual(
        d.called('revertWorkloads').map((i) => i.namespace),
        ['staging'],
      );
      const waited = result.events.find((e) => e.phase === 'AWAITING_APPROVAL')!;
      const rolled = result.events.find((e) => e.phase === 'ROLLING_BACK')!;
      assert.ok(Date.parse(rolled.at) - Date.parse(waited.at) >= 2 * 86_400_000);
    });
  });

  it('posts each phase change of a plan that measures with Datadog, a rollback too, and nothing for one that does not', async () => {
    await withWorker({ check: (i, n) => (i.check === 'canary' && n === 2 ? 'failed' : 'passed') }, async (d, tq) => {
      const result = await outcomeOf(await start(tq, twoStagePlan()));
      assert.equal(result.phase, 'ROLLED_BACK');
      const posted = d.called('announce');
      const phases = posted.map((a) => a.phase);
      assert.deepEqual(phases.slice(0, 3), ['CREATING', 'DEPLOYING', 'VERIFYING']);
      assert.deepEqual(phases.slice(-2), ['ROLLING_BACK', 'ROLLED_BACK']);
      // A phase entered again without a change (each cleanup round) is not posted again.
      for (let i = 1; i < posted.length; i++) {
        assert.ok(posted[i].phase !== posted[i - 1].phase || posted[i].stage !== posted[i - 1].stage, `posted twice: ${JSON.stringify(posted[i])}`);
      }
      const rollingBack = posted.find((a) => a.phase === 'ROLLING_BACK')!;
      assert.equal(rollingBack.secret, 'auth-api-secrets');
      assert.equal(rollingBack.newVersion, result.newVersion);
      assert.match(rollingBack.message, /canary check in production failed|rolling back/);
    });
    await withWorker({}, async (d, tq) => {
      const plan = twoStagePlan({ staging: { soak: '0s' }, production: { analysis: undefined, strategy: 'rolling', watch: '0s' }, top: { retention: '0s' } });
      assert.equal((await outcomeOf(await start(tq, plan))).phase, 'COMPLETED');
      assert.deepEqual(d.called('announce'), [], 'a Prometheus-only plan posts nothing');
    });
  });

  it('rolls back when the analysis during the rollout fails, with the check in status, production untouched', async () => {
    const failedDuringRollout = (i: { stage: string }) => ({
      ready: false,
      message: 'the analysis failed while the rollout went on (1 of 2 pods updated): 1 consecutive measurement(s) above the threshold 0.01 (last 0.5)',
      check: {
        stage: i.stage,
        check: 'rollout' as const,
        verdict: 'failed' as const,
        reason: '1 consecutive measurement(s) above the threshold 0.01 (last 0.5)',
        measurements: 1,
        lastValue: 0.5,
        threshold: 0.01,
        recent: [{ at: '2026-11-30T12:00:00.000Z', value: 0.5, phase: 'failed' as const }],
        startedAt: '2026-11-30T12:00:00.000Z',
        endedAt: '2026-11-30T12:00:10.000Z',
      },
    });
    await withWorker({ rollout: (i, n) => (n === 0 ? failedDuringRollout(i) : undefined) }, async (d, tq) => {
      const result = await outcomeOf(await start(tq, twoStagePlan()));
      assert.equal(result.phase, 'ROLLED_BACK');
      assert.match(result.outcome!, /rollout check in staging failed: 1 consecutive measurement\(s\) above the threshold/);
      assert.deepEqual(
        result.checks.map((c) => [c.check, c.stage, c.verdict]),
        [['rollout', 'staging', 'failed']],
      );
      assert.ok(d.called('waitForRollout')[0].analysis, 'the stage`s analysis goes with the rollout wait');
      assert.equal(d.called('switchWorkloads').filter((i) => i.namespace === 'production').length, 0);
      assert.deepEqual(
        d.called('revertWorkloads').map((i) => i.namespace),
        ['staging'],
      );
    });
  });

  it('ignores an approval given before anything awaits it', async () => {
    await withWorker({ check: (i) => (i.check === 'soak' ? 'block' : 'passed') }, async (d, tq) => {
      const plan = twoStagePlan({ production: { approval: 'required', approvalTimeout: '1h' } });
      const handle = await start(tq, plan);
      await d.blocked;
      await handle.signal(approveSignal, { by: 'eve' });
      const s = await handle.query(statusQuery);
      assert.equal(s.approvals.length, 0);
      assert.match(s.events.at(-1)!.message, /approval by eve ignored/);
      await handle.signal(abortSignal, { reason: 'end of test' });
      assert.equal((await outcomeOf(handle)).phase, 'ROLLED_BACK');
    });
  });

  it("shows in the workflow's current details its phase and what it waits for, updated at each phase change", async () => {
    await withWorker({ check: (i) => (i.check === 'soak' ? 'block' : 'passed') }, async (d, tq) => {
      const handle = await start(tq, twoStagePlan({ production: { approval: 'required', approvalTimeout: '1h' } }));
      const details = async () => ((await handle.query('__temporal_workflow_metadata')) as { currentDetails?: string }).currentDetails ?? '';
      await d.blocked;
      const soaking = await details();
      assert.match(soaking, /^\*\*auth-api-secrets\*\* — SOAKING \(stage staging\)$/m);
      assert.match(soaking, /^waiting for the soak of staging to end \(measuring\) until \d{4}-\d\d-\d\dT/m);
      assert.match(soaking, /^new: auth-api-secrets-\d{14} · previous: auth-api-secrets-\d{14}$/m);
      await handle.signal(abortSignal, { reason: 'end of test' });
      await outcomeOf(handle);
      const ended = await details();
      assert.match(ended, /— ROLLED_BACK/);
      assert.doesNotMatch(ended, /waiting for/, 'a rotation that has ended waits for nothing');
    });
  });

  it('ends a rolled-back rotation as a failed workflow of type RotationRolledBack that carries its status', async () => {
    await withWorker({ check: (i) => (i.check === 'soak' ? 'block' : 'passed') }, async (d, tq) => {
      const handle = await start(tq, twoStagePlan());
      await d.blocked;
      await handle.signal(abortSignal, { reason: 'bad token scope', by: 'dana' });
      let failure: unknown;
      await assert.rejects(handle.result(), (err: unknown) => ((failure = err), true));
      const cause = (failure as { cause?: { type?: string; message?: string } }).cause;
      assert.equal(cause?.type, 'RotationRolledBack');
      assert.equal(cause?.message, 'rotation of auth-api-secrets ROLLED_BACK: bad token scope');
      const status = endedStatusOf(failure);
      assert.equal(status?.phase, 'ROLLED_BACK');
      assert.equal(status?.outcome, 'rolled back: bad token scope');
      assert.deepEqual(status, await handle.query(statusQuery));
      // What the Web UI and `temporal workflow list` show: failed, not completed.
      assert.equal((await handle.describe()).status.name, 'FAILED');
    });
  });

  it('takes the rollback update during WATCHING and refuses it once committed', async () => {
    await withWorker({ check: (i) => (i.check === 'watch' ? 'block' : 'passed') }, async (d, tq) => {
      const handle = await start(tq, twoStagePlan({ staging: { soak: '1h' } }));
      await d.blocked;
      assert.equal((await handle.query(statusQuery)).phase, 'WATCHING');
      await rejectsWithCause(handle.executeUpdate(rollbackUpdate, { args: [{ reason: '' }] }), /rollback needs a reason/);
      const after = await handle.executeUpdate(rollbackUpdate, { args: [{ reason: 'latency regression', by: 'carol' }] });
      assert.equal(after.phase, 'ROLLED_BACK');
      assert.deepEqual(
        d.called('revertWorkloads').map((i) => i.namespace),
        ['production', 'staging'],
      );
      assert.equal((await outcomeOf(handle)).phase, 'ROLLED_BACK');
    });
    await withWorker(
      { holders: [[{ kind: 'CronJob', namespace: 'staging', name: 'weekly-report', fields: ['volumes[data].secret.secretName'] }]] },
      async (_d, tq) => {
        const handle = await start(tq, twoStagePlan({ staging: { soak: '1h' }, production: { watch: '1h' } }));
        for (;;) {
          const s = await handle.query(statusQuery);
          if (s.phase === 'RETAINING' || s.phase === 'CLEANING_UP') break;
          await env.sleep('30m');
        }
        await rejectsWithCause(handle.executeUpdate(rollbackUpdate, { args: [{ reason: 'too late' }] }), /already committed/);
        await handle.signal(abortSignal, { reason: 'keep the old version' });
        const result = await outcomeOf(handle);
        assert.equal(result.phase, 'COMPLETED');
        assert.match(result.outcome!, /kept/);
      },
    );
  });

  it('keeps the previous version while a workload holds it, then deletes it once freed', async () => {
    const cron = {
      kind: 'CronJob' as const,
      namespace: 'staging',
      name: 'weekly-report',
      fields: ['spec.jobTemplate.spec.template.spec.volumes[0].secret.secretName'],
    };
    await withWorker({ holders: [[cron], [cron], []] }, async (d, tq) => {
      const plan = twoStagePlan({ staging: { soak: '1h' }, production: { watch: '1h' }, top: { cleanupRecheck: '6h' } });
      const result = await outcomeOf(await start(tq, plan));
      assert.equal(result.phase, 'COMPLETED');
      assert.equal(d.called('scanReferences').length, 3);
      assert.equal(d.called('deleteVersion').length, 1);
      const waits = result.events.filter((e) => /still used by CronJob\/weekly-report in staging/.test(e.message));
      assert.equal(waits.length, 2);
      assert.deepEqual(result.holders, []);
    });
  });

  it("waits for a resource the worker cannot read, naming it, and passes over it once the plan's scan.ignore names it", async () => {
    const why = 'HTTP 403 Forbidden: widgets.example.com is forbidden';
    await withWorker({}, async (d, tq) => {
      d.cluster.world.unreadable = { 'widgets.example.com': why };
      const handle = await start(tq, twoStagePlan({ staging: { soak: '1h' }, production: { watch: '1h' }, top: { retention: '0s', cleanupRecheck: '6h' } }));
      let holders: any[] = [];
      for (;;) {
        const s = await handle.query(statusQuery);
        if (s.phase === 'CLEANING_UP' && s.holders.length) {
          holders = s.holders;
          break;
        }
        await env.sleep('30m');
      }
      assert.deepEqual(
        holders.map((h) => [h.kind, h.name]),
        [['widgets.example.com', '*']],
      );
      assert.match(holders[0].unreadable, /could not be read.*403 Forbidden/);
      assert.equal(d.called('scanReferences')[0].ignore, undefined, 'a plan without scan.ignore sends none');
      await handle.signal(abortSignal, { reason: 'grant the worker first' });
      assert.equal((await outcomeOf(handle)).phase, 'COMPLETED');
      assert.equal(d.called('deleteVersion').length, 0);
    });
    await withWorker({}, async (d, tq) => {
      d.cluster.world.unreadable = { 'widgets.example.com': why };
      const plan = twoStagePlan({ staging: { soak: '1h' }, production: { watch: '1h' }, top: { retention: '0s', scan: { ignore: ['widgets.example.com'] } } });
      const result = await outcomeOf(await start(tq, plan));
      assert.equal(result.phase, 'COMPLETED', result.outcome ?? '');
      assert.deepEqual(
        d.called('scanReferences').map((i) => i.ignore),
        [['widgets.example.com']],
      );
      assert.deepEqual(d.called('deleteVersion')[0].ignore, ['widgets.example.com']);
      assert.match(result.outcome!, /deleted from/);
    });
  });

  it('retires in each namespace the version that namespace used before', async () => {
    const previous = { staging: 'auth-api-secrets-20250101000000', production: 'auth-api-secrets-20240601000000' };
    await withWorker({ previous }, async (d, tq) => {
      const result = await outcomeOf(await start(tq, twoStagePlan({ staging: { soak: '1h' }, production: { watch: '1h', strategy: 'rolling' } })));
      assert.equal(result.phase, 'COMPLETED');
      assert.deepEqual(
        d.called('switchWorkloads').map((i) => [i.namespace, i.from]),
        [
          ['staging', previous.staging],
          ['production', previous.production],
        ],
      );
      assert.deepEqual(
        d.called('deleteVersion').map((i) => [i.version, i.namespaces]),
        [
          [previous.staging, ['staging']],
          [previous.production, ['production']],
        ],
      );
      assert.deepEqual(result.cleaned, ['staging', 'production']);
      assert.match(result.outcome!, /auth-api-secrets-20250101000000, auth-api-secrets-20240601000000 deleted from staging, production/);
    });
  });

  it('continues as new while cleanup waits for weeks, each run within the history bound', async () => {
    const cron = { kind: 'CronJob' as const, namespace: 'staging', name: 'weekly-report', fields: ['volumes[data].secret.secretName'] };
    const scans: any[][] = [...Array.from({ length: 60 }, () => [cron]), []];
    await withWorker({ holders: scans }, async (d, tq) => {
      const plan = twoStagePlan({ staging: { soak: '1h' }, production: { watch: '1h' }, top: { cleanupRecheck: '1h' } });
      const handle = await start(tq, plan);
      const result = await outcomeOf(handle);
      assert.equal(result.phase, 'COMPLETED');
      assert.equal(d.called('scanReferences').length, 61);
      assert.ok(result.events.some((e) => /resumed cleanup in a new run/.test(e.message)));
      // The claim is taken once, kept across every hand-over, and given up at the end.
      assert.equal(d.called('claimRotation').length, 1);
      assert.equal(d.called('releaseRotation').length, 1);
      assert.deepEqual(d.cluster.world.claims, {});
      const desc = await env.client.workflow.getHandle(handle.workflowId).describe();
      assert.notEqual(desc.runId, handle.firstExecutionRunId, 'continued as new at least once');
      for (const runId of [handle.firstExecutionRunId, desc.runId]) {
        const events = (await env.client.workflow.getHandle(handle.workflowId, runId).fetchHistory()).events?.length ?? 0;
        assert.ok(events <= 300, `run ${runId} has ${events} events`);
      }
    });
  });

  it('refuses a second rotation of the same Secret that shares a namespace, changes nothing, and frees the namespace however the first ends', async () => {
    await withWorker({ check: (i) => (i.check === 'soak' ? 'block' : 'passed') }, async (d, tq) => {
      const first = await start(tq, twoStagePlan(), 'rotate-staging-auth-api-secrets-overlap');
      await d.blocked;
      assert.deepEqual(Object.keys(d.cluster.world.claims ?? {}).sort(), ['production/auth-api-secrets', 'staging/auth-api-secrets']);
      // [dev, production] shares production with [staging, production]: its workflow id differs, the namespace does not.
      const devPlan = twoStagePlan({ staging: { name: 'dev', namespace: 'dev' } });
      const second = start(tq, devPlan, 'rotate-dev-auth-api-secrets-overlap');
      await rejectsWithCause(
        (await second).result(),
        /another rotation of auth-api-secrets is in progress in production \(rotate-staging-auth-api-secrets-overlap, since .*\); nothing was changed/,
      );
      const refused = await (await second).query(statusQuery);
      assert.equal(refused.phase, 'FAILED');
      assert.equal(refused.newVersion, null);
      assert.equal(d.called('discover').length, 3, 'the refused rotation only read (once, before its claim): the first read twice');
      assert.equal(d.called('createVersion').length, 1);
      assert.deepEqual(
        Object.keys(d.cluster.world.claims ?? {}).sort(),
        ['production/auth-api-secrets', 'staging/auth-api-secrets'],
        'and took nothing: dev is not held',
      );
      // Another Secret in the same namespaces is not held back (short times: a running activity stops time-skipping).
      const other = await start(
        tq,
        twoStagePlan({ top: { secret: 'payments-secrets', retention: '1s' }, staging: { analysis: undefined, soak: '1s' }, production: { watch: '1s' } }),
        'rotate-staging-payments-overlap',
      );
      assert.equal((await outcomeOf(other)).phase, 'COMPLETED');
      // The first ends (by abort here); its namespaces are free again and the second plan runs.
      await first.signal(abortSignal, { reason: 'make room', by: 'test' });
      assert.equal((await outcomeOf(first)).phase, 'ROLLED_BACK');
      assert.deepEqual(d.cluster.world.claims, {});
      const retry = await start(
        tq,
        twoStagePlan({ staging: { name: 'dev', namespace: 'dev', analysis: undefined, soak: '1s' }, production: { analysis: undefined, watch: '1s' } }),
        'rotate-dev-auth-api-secrets-overlap-2',
      );
      assert.equal((await outcomeOf(retry)).phase, 'COMPLETED');
      assert.deepEqual(d.cluster.world.claims, {});
    });
  });

  it('takes over the claim of a rotation that no longer runs, never one it cannot see', async () => {
    await withWorker({}, async (d, tq) => {
      const quick = twoStagePlan({ staging: { analysis: undefined, soak: '1s' }, production: { analysis: undefined, watch: '1s' }, top: { retention: '1s' } });
      // Terminated by hand, so it never released its claim.
      const gone = await start(tq, twoStagePlan(), 'rotate-staging-auth-api-secrets-gone');
      await env.sleep('1h');
      await gone.terminate('operator terminated it from the Web UI');
      assert.equal(d.cluster.world.claims?.['production/auth-api-secrets']?.holder, 'temporal://deployment-a/default/rotate-staging-auth-api-secrets-gone');
      const next = await start(tq, quick, 'rotate-staging-auth-api-secrets-next');
      const done = await outcomeOf(next);
      assert.equal(done.phase, 'COMPLETED', done.outcome ?? '');
      assert.deepEqual(d.cluster.world.claims, {});
      // A holder in another Temporal namespace (another rotor deployment on this cluster) cannot be asked: it counts as running.
      d.cluster.world.claims = { 'staging/auth-api-secrets': { holder: 'elsewhere/rotate-staging-auth-api-secrets', since: '2026-11-30T00:00:00.000Z' } };
      const blocked = await start(tq, quick, 'rotate-staging-auth-api-secrets-blocked');
      await rejectsWithCause(
        outcomeOf(blocked),
        /in progress in staging \(rotate-staging-auth-api-secrets, claimed by an older rotor in Temporal namespace elsewhere, since 2026-11-30T00:00:00.000Z\)/,
      );
    });
  });

  it('takes the next second when a version name is taken', async () => {
    await withWorker({ conflicts: 2 }, async (d, tq) => {
      const result = await outcomeOf(await start(tq, twoStagePlan({ staging: { soak: '0s' }, production: { watch: '0s' }, top: { retention: '0s' } })));
      assert.equal(result.phase, 'COMPLETED');
      const names = d.called('createVersion').map((i) => i.version as string);
      assert.equal(names.length, 3);
      assert.equal(new Set(names).size, 3, 'three distinct names');
      assert.equal(result.newVersion, names[2]);
      assert.ok(result.events.some((e) => /already belongs to rotate-other/.test(e.message)));
    });
  });

  it('fails an invalid plan before any activity runs, naming every field', async () => {
    await withWorker({}, async (d, tq) => {
      const plan = twoStagePlan({ top: { retention: '-3d' }, production: { strategy: { canary: { steps: [50, 25] } } } });
      const handle = await start(tq, plan);
      await rejectsWithCause(handle.result(), /plan is invalid/);
      const s = await handle.query(statusQuery);
      assert.equal(s.phase, 'FAILED');
      assert.deepEqual(s.planIssues.map((i) => i.path).sort(), ['retention', 'stages[1].strategy.canary.steps']);
      assert.equal(d.calls.length, 0);
    });
  });

  // Each a plan that cannot run on this cluster: refused from what PLANNING reads before the claim, so
  // no claim is taken, nothing is changed, and the message names the cause and the fix.
  const cannotRun: { name: string; script: Script; world?: (d: Doubles) => void; expect: RegExp }[] = [
    {
      name: 'a stage namespace the cluster does not have',
      script: {},
      world: (d) => (d.cluster.world.namespaces = ['production']),
      expect: /namespace staging does not exist in this cluster: correct the stage's namespace in the plan, or create the namespace/,
    },
    {
      name: 'a Secret that does not exist in a stage namespace',
      script: { previous: { production: null } },
      expect:
        /no workload in namespace production uses auth-api-secrets or a version of it \(auth-api-secrets-<14 digits>\), and no Secret auth-api-secrets exists there: correct the plan's secret or this stage's namespace, or point a workload at the Secret first \(creating it if it does not exist: kubectl create secret generic auth-api-secrets -n production/,
    },
    {
      name: 'a Secret that exists, unused by any workload',
      script: { previous: { production: 'auth-api-secrets' }, workloads: { production: [] } },
      expect: /Secret auth-api-secrets exists in namespace production, but no workload there uses it or a version of it: point a workload at it first/,
    },
    {
      // Only a version exists (the worker may not list Secrets to find it): said without claiming the base exists.
      name: 'a version nothing uses any more, its base name long deleted',
      script: { workloads: { staging: [] } },
      expect: /no workload in namespace staging uses auth-api-secrets or a version of it .*, and no Secret auth-api-secrets exists there/,
    },
  ];
  for (const c of cannotRun) {
    it(`fails in PLANNING before its claim, changing nothing, on ${c.name}`, async () => {
      await withWorker(c.script, async (d, tq) => {
        c.world?.(d);
        const handle = await start(tq, twoStagePlan());
        await rejectsWithCause(handle.result(), new RegExp(`nothing to rotate \\(nothing was changed\\): .*${c.expect.source}`));
        const s = await handle.query(statusQuery);
        assert.equal(s.phase, 'FAILED');
        assert.equal(s.newVersion, null);
        assert.deepEqual(
          d.calls.map((c) => c.name).filter((n) => n !== 'announce'),
          ['discover'],
          'it read, and neither claimed nor changed anything',
        );
        assert.deepEqual(d.cluster.world.claims ?? {}, {});
        assert.equal((await handle.describe()).searchAttributes.RotorPhase?.[0], 'FAILED');
      });
    });
  }

  it('gives its claims up when a namespace disappears between the check and the claim', async () => {
    await withWorker({}, async (d, tq) => {
      // Claimed in name order: production first, then staging, which is deleted after PLANNING looked.
      const real = d.cluster.findCurrentUse.bind(d.cluster);
      d.cluster.findCurrentUse = async (ns, secret) => {
        const found = await real(ns, secret);
        if (ns === 'production') d.cluster.world.namespaces = ['production'];
        return found;
      };
      const handle = await start(tq, twoStagePlan());
      await rejectsWithCause(
        handle.result(),
        /could not claim the rotation of auth-api-secrets \(nothing was changed\): .*namespace staging does not exist in this cluster: correct the stage's namespace in the plan, or create the namespace/,
      );
      assert.deepEqual(
        d.calls.map((c) => c.name).filter((n) => n !== 'announce'),
        ['discover', 'claimRotation', 'releaseRotation'],
      );
      assert.deepEqual(d.cluster.world.claims ?? {}, {}, "production's claim is given up");
    });
  });

  it('shows the rotation at a glance: search attributes and activity summaries', async () => {
    await withWorker({}, async (_d, tq) => {
      const handle = await start(tq, twoStagePlan({ staging: { soak: '0s' }, production: { watch: '0s', strategy: 'rolling' }, top: { retention: '0s' } }));
      const result: RotationStatus = await outcomeOf(handle);
      const desc = await handle.describe();
      assert.equal(desc.searchAttributes.RotorSecret?.[0], 'auth-api-secrets');
      assert.equal(desc.searchAttributes.RotorPhase?.[0], 'COMPLETED');
      const history = await handle.fetchHistory();
      const summaries = (history.events ?? [])
        .filter((e) => e.activityTaskScheduledEventAttributes)
        .map((e) => Buffer.from(e.userMetadata?.summary?.data ?? []).toString());
      assert.ok(
        summaries.some((s) => s.includes(`switch 1 workload(s) in production to ${result.newVersion}`)),
        summaries.join('\n'),
      );
    });
  });
});
