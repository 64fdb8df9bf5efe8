// Records workflow histories for the replay test: node dist/test/tools/record-histories.js <tag> [case ...]
// (files are named <case>-<tag>.json; older tags stay, so older histories keep replaying; with cases
// named, only those are recorded).
// Re-record only on purpose (a deliberate, versioned change of the workflow); CI replays the files.
import { writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { historyToJSON } from '@temporalio/common/lib/proto-utils';
import { Worker } from '@temporalio/worker';
import { abortSignal, approveSignal, statusQuery } from '../../contract/api';
import { rotateSecret } from '../../workflows';
import { Doubles, workload, type Script } from '../helpers/doubles';
import { timeSkippingEnv, workflowBundle } from '../../sandbox/time-skipping';
import { twoStagePlan } from '../helpers/plans';
import { repoRoot } from '../helpers/tools';
import type { SecretStorePort } from '../../activities/ports';
import { RotorError } from '../../activities/errors';
import { HttpNotifier } from '../../activities/notify/sinks';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { GitChanges } from '../../activities/git/changes';
import { startGitServer } from '../../sandbox/git-server';
import { FLUX_LABELS, fluxStandIn, productionManifest } from '../helpers/git-mode';
import { esoGitPlan, esoWorld, StandInGit } from '../helpers/git-external-secrets';

/** A store outside the cluster for recording only: what the workflow asks of it is what matters to its history. */
function recordedStore(failStaging: boolean): SecretStorePort {
  return {
    kind: 'aws-secrets-manager',
    check: async () => 'recorded store answers',
    stageVersion: async () => {
      if (failStaging) throw new RotorError('RotorInputError', 'the recorded store refuses the value');
      return { api_token: 'recorded-value-not-a-secret' };
    },
    promoteVersion: async () => undefined,
    markFailed: async () => undefined,
    deleteVersion: async () => undefined,
  };
}

async function main(): Promise<void> {
  const tag = process.argv[2];
  if (!tag) throw new Error('usage: record-histories <tag>, e.g. v2 (existing files are kept)');
  const only = process.argv.slice(3);
  const env = await timeSkippingEnv();
  // Git mode's cases: production's Deployment applied by Flux from a repository on a real Git server.
  const gitServer = await startGitServer();
  const url = await gitServer.createRepository('recorded', {
    'apps/production/auth.yaml': productionManifest('auth-api-secrets-20250101000000'),
    'apps/production/kustomization.yaml': 'resources: [auth.yaml]\n',
  });
  // Pre-flight's case: an API that accepts staging's calls and refuses production's.
  const verifierServer = createServer((req, res) => res.writeHead(req.url?.includes('env=staging') ? 200 : 403).end('{}'));
  await new Promise<void>((r) => verifierServer.listen(0, '127.0.0.1', r));
  const verifier = `http://127.0.0.1:${(verifierServer.address() as AddressInfo).port}`;
  const gitScript = (): Script => ({
    labels: { production: FLUX_LABELS },
    git: new GitChanges({ token: gitServer.token, cacheDir: mkdtempSync(join(tmpdir(), 'rotor-clones-')) }),
    gitController: fluxStandIn(gitServer),
    beforeDiscover: () => gitServer.resetRepository('recorded'),
  });
  const gitPlan = (strategy: object | string = 'rolling') =>
    twoStagePlan({
      production: { strategy, gitops: { path: 'apps/production' } },
      top: { gitops: { repo: url, author: { name: 'recorder', email: 'recorder@example.test' } } },
    });
  // store external-secrets in Git mode: the ExternalSecrets Flux applies, the memory cluster as the operator.
  const eso = await esoWorld(gitServer, 'recorded-eso');
  const esoUrl = eso.url;
  const esoScript = async (): Promise<Script> => ({
    cluster: eso.cluster,
    stores: { 'external-secrets': eso.store },
    previous: { staging: null, production: null },
    git: new StandInGit(gitServer, eso.cluster),
    gitController: fluxStandIn(gitServer),
  });
  // Notifications' case: a receiver that takes the webhook's events, and one that is always down.
  const notifyServer = createServer((req, res) => void req.resume().on('end', () => res.writeHead(req.url === '/down' ? 500 : 200).end()));
  await new Promise<void>((r) => notifyServer.listen(0, '127.0.0.1', r));
  const notifyAt = (path: string) => `http://127.0.0.1:${(notifyServer.address() as AddressInfo).port}${path}`;
  const notifier = new HttpNotifier({
    sinks: {
      'ops-webhook': { type: 'webhook', url: notifyAt('/hook'), key: 'recorder-key-not-a-secret' },
      down: { type: 'webhook', url: notifyAt('/down'), key: 'recorder-key-not-a-secret' },
    },
    defaults: [],
    uiUrl: 'https://temporal.example.test',
  });
  let productionVerifies = 0;
  const out = join(repoRoot, 'test', 'history_files');
  const cases: { name: string; script: Script; plan: object; drive?: (h: any, d: Doubles) => Promise<void> }[] = [
    {
      name: 'completed-canary-approval',
      script: {},
      plan: twoStagePlan({ production: { approval: 'required' } }),
      drive: async (h) => {
        while ((await h.query(statusQuery)).phase !== 'AWAITING_APPROVAL') await env.sleep('1h');
        await h.signal(approveSignal, { by: 'recorder' });
      },
    },
    { name: 'rolled-back-canary-25', script: { check: (i, n) => (i.check === 'canary' && n === 3 ? 'failed' : 'passed') }, plan: twoStagePlan() },
    {
      name: 'aborted-during-soak',
      script: { check: (i) => (i.check === 'soak' ? 'block' : 'passed') },
      plan: twoStagePlan(),
      drive: async (h, d) => {
        await d.blocked;
        await h.signal(abortSignal, { reason: 'recorded abort' });
      },
    },
    // Plans whose value comes from the credential issuer (v6 on): issued, then revoked after cleanup or by the rollback.
    {
      name: 'issuer-completed',
      script: { previousIssued: true },
      plan: twoStagePlan({ top: { value: { issuer: { key: 'api_token' } } } }),
    },
    {
      name: 'issuer-rolled-back',
      script: { previousIssued: true, check: (i) => (i.stage === 'staging' ? 'failed' : 'passed') },
      plan: twoStagePlan({ top: { value: { issuer: { key: 'api_token' } } } }),
    },
    // A store outside the cluster (v7 on): checked in PLANNING; a CREATING that fails after staging marks the version failed there.
    {
      name: 'store-completed',
      script: { stores: { 'aws-secrets-manager': recordedStore(false) } },
      plan: twoStagePlan({ top: { store: 'aws-secrets-manager', awsSecretsManager: { secretId: '/production/auth-api/token' } } }),
    },
    {
      name: 'store-create-failed',
      script: { stores: { 'aws-secrets-manager': recordedStore(true) } },
      plan: twoStagePlan({ top: { store: 'aws-secrets-manager', awsSecretsManager: { secretId: '/production/auth-api/token' } } }),
    },
    // Git mode (1.1.0 on): production switched by a commit, then rolled back by its revert.
    { name: 'gitops-completed', script: gitScript(), plan: gitPlan() },
    { name: 'gitops-rolled-back', script: { ...gitScript(), check: (i) => (i.stage === 'production' ? 'failed' : 'passed') }, plan: gitPlan() },
    { name: 'gitops-canary-completed', script: gitScript(), plan: gitPlan({ canary: { steps: [25, 100], pause: '10m' } }) },
    // store external-secrets in Git mode (1.2.0 on): the ExternalSecret committed, the old one's file removed before the delete.
    { name: 'gitops-external-secrets-completed', script: await esoScript(), plan: esoGitPlan(esoUrl) },
    // Batches within a stage (1.2.0 on): production's four Deployments two at a time; the second batch's check fails.
    {
      name: 'batches-rolled-back',
      script: {
        workloads: { production: ['api-1', 'api-2', 'api-3', 'api-4'].map((n) => workload('production', n)) },
        check: (i) => (i.stage === 'production' && i.check === 'verify' && ++productionVerifies === 2 ? 'failed' : 'passed'),
      },
      plan: twoStagePlan({ production: { strategy: 'rolling', batch: { size: 2, pause: '5m' } } }),
    },
    // Change windows (1.2.0 on): production's switch waits for its allow window.
    {
      name: 'windows-waited',
      script: {},
      plan: twoStagePlan({ production: { strategy: 'rolling', windows: [{ schedule: '0 4 * * *', duration: '1h', timeZone: 'Europe/Berlin' }] } }),
    },
    // pushMode branch (1.2.0 on): the switch pushed to rotor's branch, never merged, withdrawn by the rollback.
    {
      name: 'gitops-branch-withdrawn',
      script: { ...gitScript(), gitController: () => undefined },
      plan: twoStagePlan({
        production: { strategy: 'rolling', gitops: { path: 'apps/production', pushMode: 'branch', syncTimeout: '3s' } },
        top: { gitops: { repo: url, author: { name: 'recorder', email: 'recorder@example.test' } } },
      }),
    },
    // Pre-flight checks (1.3.0 on): staging's Job and HTTP checks pass, production's HTTP check is refused; staging rolls back.
    {
      name: 'preflight-rolled-back',
      script: {},
      plan: twoStagePlan({
        staging: {
          preflight: [
            { name: 'pod', job: { image: 'registry.example.test/check:1', timeout: '1m' } },
            { name: 'verify', http: { url: `${verifier}/verify?env=staging`, headers: { Authorization: 'Bearer {{secret.api_token}}' }, retries: 0 } },
          ],
        },
        production: {
          preflight: [
            { name: 'verify', http: { url: `${verifier}/verify?env=production`, headers: { Authorization: 'Bearer {{secret.api_token}}' }, retries: 0 } },
          ],
        },
      }),
    },
    // Notifications (1.3.0 on): deliveries started as child workflows; a sink that is down reports to the status, then is given up on.
    {
      name: 'notify-rolled-back',
      script: { notifier, check: (i) => (i.stage === 'production' ? 'failed' : 'passed') },
      plan: twoStagePlan({
        production: { approval: 'required' },
        top: { notify: [{ sink: 'ops-webhook' }, { sink: 'down', events: ['started'] }] },
      }),
      drive: async (h) => {
        while ((await h.query(statusQuery)).phase !== 'AWAITING_APPROVAL') await env.sleep('1h');
        await h.signal(approveSignal, { by: 'recorder' });
      },
    },
  ];
  try {
    for (const c of cases.filter((x) => !only.length || only.includes(x.name))) {
      const doubles = new Doubles(c.script);
      const worker = await Worker.create({
        connection: env.nativeConnection,
        taskQueue: c.name,
        workflowBundle: await workflowBundle(),
        activities: doubles.activities(),
        maxHeartbeatThrottleInterval: '100ms',
      });
      await worker.runUntil(async () => {
        const h = await env.client.workflow.start(rotateSecret, {
          taskQueue: c.name,
          workflowId: `record-${c.name}`,
          args: [{ plan: c.plan, requestedBy: 'recorder' }],
        });
        await c.drive?.(h, doubles);
        await h.result().catch(() => undefined);
        const history = await h.fetchHistory();
        writeFileSync(join(out, `${c.name}-${tag}.json`), JSON.stringify(JSON.parse(historyToJSON(history)), null, 1) + '\n');
        console.log(`${c.name}: ${history.events?.length} events`);
      });
    }
  } finally {
    await env.teardown();
    await gitServer.stop();
    verifierServer.close();
    notifyServer.close();
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
