// The Kubernetes Events a whole rotation leaves, on the time-skipping server with rotor's own
// activities over the memory backend (its apiserver keeps the Events as kube-apiserver would): what
// `kubectl events` would list after a rotation that completes, one that rolls back, and one whose
// worker may not post Events at all (it completes the same).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import { MemoryCluster } from '../activities/memory';
import { MemoryCredentialIssuer } from '../activities/issuers/memory';
import { rotateSecret } from '../workflows';
import { Doubles, type Script } from './helpers/doubles';
import { workflowBundle } from '../sandbox/time-skipping';
import { outcomeOf, useTimeSkippingEnv } from './helpers/rotations';
import { twoStagePlan } from './helpers/plans';

let env: TestWorkflowEnvironment;
let seq = 0;
useTimeSkippingEnv((e) => (env = e));

const OLD = 'auth-api-secrets-20250101000000';

async function rotate(script: Script, plan: object) {
  const doubles = new Doubles(script);
  const taskQueue = `wf-events-${++seq}`;
  const worker = await Worker.create({ connection: env.nativeConnection, taskQueue, workflowBundle: await workflowBundle(), activities: doubles.activities() });
  const result = await worker.runUntil(async () =>
    outcomeOf(
      await env.client.workflow.start(rotateSecret, { taskQueue, workflowId: `rotate-staging-auth-api-secrets-${seq}`, args: [{ plan, requestedBy: 'test' }] }),
    ),
  );
  return { result, events: doubles.cluster.world.events ?? [] };
}

/** `<namespace> <type> <reason> <kind>/<name>`, in the order they were posted. */
const listed = (events: { metadata: { namespace: string }; type: string; reason: string; regarding: { kind: string; name: string } }[]) =>
  events.map((e) => `${e.metadata.namespace} ${e.type} ${e.reason} ${e.regarding.kind}/${e.regarding.name}`);

describe('Kubernetes Events of a rotation', () => {
  it('completes: switched, each canary step, the old version kept while a CronJob holds it (said once), then deleted', async () => {
    const cron = { kind: 'CronJob', namespace: 'staging', name: 'weekly-report', fields: ['volumes[data].secret.secretName'] };
    const plan = twoStagePlan({ staging: { soak: '1h' }, production: { watch: '1h' }, top: { retention: '1h', cleanupRecheck: '6h' } });
    const { result, events } = await rotate({ holders: [[cron], [cron], []] }, plan);
    assert.equal(result.phase, 'COMPLETED', result.outcome ?? '');
    const fresh = result.newVersion!;
    assert.deepEqual(listed(events), [
      'staging Normal SecretVersionSwitched Deployment/auth-api',
      'production Normal CanaryStep Deployment/auth-api',
      'production Normal CanaryStep Deployment/auth-api',
      'production Normal CanaryStep Deployment/auth-api',
      'production Normal CanaryStep Deployment/auth-api',
      'production Normal SecretVersionSwitched Deployment/auth-api',
      `staging Warning CleanupWaiting Secret/${OLD}`,
      `production Warning CleanupWaiting Secret/${OLD}`,
      `staging Normal SecretVersionDeleted Secret/${OLD}`,
      `production Normal SecretVersionDeleted Secret/${OLD}`,
    ]);
    const notes = events.map((e) => e.note);
    assert.deepEqual(
      notes.filter((n) => n?.startsWith('canary at')).map((n) => n!.split(' on ')[0]),
      ['canary at 10%', 'canary at 25%', 'canary at 50%', 'canary at 100%'],
    );
    assert.equal(
      events[6].note,
      `${OLD} is kept: CronJob/weekly-report in staging still refers to it (volumes[data].secret.secretName); rotor deletes it once nothing refers to it`,
    );
    assert.match(events[0].note!, new RegExp(`^switched from ${OLD} to ${fresh} in stage staging \\(rolling\\): `));
    for (const e of events) {
      assert.equal(e.reportingController, 'rotor.dev/worker');
      assert.match(e.metadata.name, /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/);
    }
  });

  it('rolls back: RolledBack (Warning) after SecretVersionSwitched, on the same Deployment, with the failed check', async () => {
    const script: Script = { check: (i) => (i.stage === 'staging' && i.check === 'verify' ? 'failed' : 'passed') };
    const { result, events } = await rotate(script, twoStagePlan());
    assert.equal(result.phase, 'ROLLED_BACK');
    const reason = result.outcome!.replace(/^rolled back: /, '');
    assert.match(reason, /^verify check in staging failed/);
    assert.deepEqual(listed(events), ['staging Normal SecretVersionSwitched Deployment/auth-api', 'staging Warning RolledBack Deployment/auth-api']);
    assert.equal(events[1].note, `rolled back from ${result.newVersion} to ${OLD} in stage staging (1 reference(s) set back): ${reason}`);
    assert.equal(events[1].action, 'Revert');
  });

  it('says CredentialRevoked on the retired version once the issuer revoked its credential, after its deletion', async () => {
    const plan = twoStagePlan({
      staging: { soak: '1h' },
      production: { watch: '1h' },
      top: { retention: '1h', value: { issuer: { key: 'api_token', scope: 'auth:verify' } } },
    });
    const { result, events } = await rotate({ issuer: new MemoryCredentialIssuer({ mode: 'overlapping' }), previousIssued: true }, plan);
    assert.equal(result.phase, 'COMPLETED', result.outcome ?? '');
    assert.deepEqual(listed(events).slice(-4), [
      `staging Normal SecretVersionDeleted Secret/${OLD}`,
      `production Normal SecretVersionDeleted Secret/${OLD}`,
      `staging Normal CredentialRevoked Secret/${OLD}`,
      `production Normal CredentialRevoked Secret/${OLD}`,
    ]);
    assert.equal(events.at(-1)!.note, `credential ${OLD} of ${OLD} revoked at the issuer (cleanup): nothing in any namespace refers to ${OLD}`);
  });

  it('completes as usual when the worker may not post Events', async () => {
    const cluster = new MemoryCluster({ secrets: [], workloads: [], uncreatable: { 'events.events.k8s.io': 'events.events.k8s.io is forbidden' } });
    const plan = twoStagePlan({ staging: { soak: '1h' }, production: { watch: '1h' }, top: { retention: '1h' } });
    const { result, events } = await rotate({ cluster }, plan);
    assert.equal(result.phase, 'COMPLETED', result.outcome ?? '');
    assert.deepEqual(events, []);
  });
});
