// End to end on real parts: the rotor CLI, a real Temporal dev server, a real `rotor worker` process
// with the Kubernetes backend, authenticated as a ServiceAccount granted what `rotor rbac --admission`
// prints for the plans it runs (namespaced Roles, the scan's ClusterRole, the admission policy), against the sandbox's real kube-apiserver and controller-manager (pods played by the simulator).
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import * as k8s from '@kubernetes/client-node';
import type { RotationStatus } from '../contract/api';
import { grantPlanFile, startSandbox, workerKubeconfig as workerKubeconfigFor, type Sandbox } from '../sandbox';
import { repoRoot } from '../sandbox/tools';
import { rotor, rotorStatus, startWorker, waitForStatus } from './helpers/cli';
import { authDeployment, tokenSecretOf, writePlan } from './helpers/e2e-objects';
import { startDevServer, type DevServer } from './helpers/dev-server';
import { recordClusterSecrets, recordValues } from './helpers/leak';
import { CreateSecretCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { AwsSecretsManager } from '../activities/stores/aws-secrets-manager';
import { startMoto, type MotoServer } from '../sandbox/moto';
import { createAwsSecretStore, startEsoOperator, type EsoOperator } from '../sandbox/eso-operator';
import { KubernetesCluster } from '../activities/kubernetes';
import { ExternalSecretsStore } from '../activities/stores/aws-store';

const OLD = 'auth-api-secrets-20250101000000';
let sandbox: Sandbox;
let server: DevServer;
let worker: Awaited<ReturnType<typeof startWorker>>;
let env: NodeJS.ProcessEnv;
let dir: string;
let core: k8s.CoreV1Api;
let apps: k8s.AppsV1Api;
let batch: k8s.BatchV1Api;
let workerKubeconfig: string;
let moto: MotoServer;
let operator: EsoOperator;
let awsSdk: SecretsManagerClient;
/** Where the worker and the CLI find moto, with the fake credentials it takes. */
let awsEnv: Record<string, string>;
const AWS_SECRET = '/production/billing/token';
const AWS_OLD = 'billing-secrets-20250101000000';
const AWS_OLD_VALUE = 'rotor-leak-canary-billing-old-7Hq2';
// External Secrets mode: ledger-secrets, kept in AWS (moto) and synced by the real operator.
const ESO_SECRET = '/production/ledger/token';
const ESO_OLD = 'ledger-secrets-20250101000000';
const ESO_OLD_VALUE = 'rotor-leak-canary-ledger-old-4Kd8';

async function kubectlAs(args: string[]): Promise<{ code: number; out: string }> {
  try {
    // Asynchronous: the pod simulator shares this process's event loop.
    return {
      code: 0,
      out: (await promisify(execFile)(sandbox.plane.binaries.kubectl, ['--kubeconfig', workerKubeconfig, ...args], { encoding: 'utf8' })).stdout,
    };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === 'number' ? e.code : 1, out: `${e.stdout ?? ''}${e.stderr ?? ''}` };
  }
}

/** A plan file, and the worker granted what it needs (rotor rbac's output); a plan rotor refuses gets nothing. */
const plan = (name: string, body: object) => writePlan(sandbox.plane, dir, name, body);

const status = (id: string) => rotorStatus(id, env);
const waitFor = (id: string, pred: (s: RotationStatus) => boolean) => waitForStatus(id, env, pred);

const envRef = (ns: string, name: string) => tokenSecretOf(apps, ns, name);

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'rotor-e2e-k8s-'));
  sandbox = await startSandbox({ readyDelayMs: 300 });
  const kc = new k8s.KubeConfig();
  kc.loadFromFile(sandbox.plane.kubeconfig);
  core = kc.makeApiClient(k8s.CoreV1Api);
  apps = kc.makeApiClient(k8s.AppsV1Api);
  batch = kc.makeApiClient(k8s.BatchV1Api);

  // The worker's identity: a ServiceAccount and a token; each plan below grants it what it needs.
  workerKubeconfig = await workerKubeconfigFor(sandbox.plane, dir);

  for (const ns of ['staging', 'production']) {
    await core.createNamespace({ body: { metadata: { name: ns } } });
    await core.createNamespacedSecret({ namespace: ns, body: { metadata: { name: OLD }, stringData: { api_token: 'old-token-value' } } });
    for (let i = 0; i < 100; i++) {
      if ((await core.listNamespacedServiceAccount({ namespace: ns })).items.length) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    await apps.createNamespacedDeployment({ namespace: ns, body: authDeployment('auth-api', OLD) });
  }
  // What a platform team applies for its plans: rotor rbac -f examples/plan.yaml --admission | kubectl apply -f -
  await grantPlanFile(sandbox.plane, join(repoRoot, 'examples', 'plan.yaml'));
  // A weekly job that the plan's workload list leaves out, still on the old version.
  await batch.createNamespacedCronJob({
    namespace: 'staging',
    body: {
      metadata: { name: 'weekly-report' },
      spec: {
        schedule: '0 3 * * 1',
        jobTemplate: {
          spec: {
            template: { spec: { restartPolicy: 'Never', containers: [{ name: 'c', image: 'x' }], volumes: [{ name: 's', secret: { secretName: OLD } }] } },
          },
        },
      },
    },
  });

  // AWS Secrets Manager (moto) behind the aws-secrets-manager store, for billing-secrets in their own namespaces.
  moto = await startMoto();
  awsSdk = new SecretsManagerClient({ region: 'us-east-1', endpoint: moto.url, credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' } });
  await awsSdk.send(
    new CreateSecretCommand({
      Name: AWS_SECRET,
      SecretString: JSON.stringify({ api_token: AWS_OLD_VALUE }),
      ClientRequestToken: new AwsSecretsManager().versionToken(AWS_OLD),
    }),
  );
  for (const ns of ['aws-staging', 'aws-production']) {
    await core.createNamespace({ body: { metadata: { name: ns } } });
    await core.createNamespacedSecret({ namespace: ns, body: { metadata: { name: AWS_OLD }, stringData: { api_token: AWS_OLD_VALUE } } });
    for (let i = 0; i < 100 && !(await core.listNamespacedServiceAccount({ namespace: ns })).items.length; i++) await new Promise((r) => setTimeout(r, 100));
    await apps.createNamespacedDeployment({ namespace: ns, body: authDeployment('billing', AWS_OLD) });
  }
  recordValues([AWS_OLD_VALUE, 'old-token-value']);

  // The real External Secrets Operator, reading moto through a ClusterSecretStore; ledger-secrets'
  // old version is an ExternalSecret as a previous rotation in this mode left it.
  operator = await startEsoOperator(sandbox.plane, { awsEndpoint: moto.url });
  await createAwsSecretStore(sandbox.plane.kubeconfig, { kind: 'ClusterSecretStore', name: 'aws', namespace: 'default', region: 'us-east-1' });
  await awsSdk.send(
    new CreateSecretCommand({
      Name: ESO_SECRET,
      SecretString: JSON.stringify({ api_token: ESO_OLD_VALUE }),
      ClientRequestToken: new AwsSecretsManager().versionToken(ESO_OLD),
    }),
  );
  const admin = new KubernetesCluster(kc);
  const eso = new ExternalSecretsStore({ region: 'us-east-1' });
  for (const ns of ['eso-staging', 'eso-production']) {
    await core.createNamespace({ body: { metadata: { name: ns } } });
    await admin.externalSecrets.createExternalVersion({
      namespace: ns,
      name: ESO_OLD,
      base: 'ledger-secrets',
      rotationId: 'earlier',
      store: { kind: 'external-secrets', secretId: ESO_SECRET, region: 'us-east-1' },
      secretStoreRef: { name: 'aws', kind: 'ClusterSecretStore' },
      remoteRef: eso.remoteRef({ version: ESO_OLD, target: { awsSecretsManager: { secretId: ESO_SECRET } } }),
    });
    for (let i = 0; i < 150 && !(await admin.externalSecrets.externalVersionState(ns, ESO_OLD)).ready; i++) await new Promise((r) => setTimeout(r, 200));
    for (let i = 0; i < 100 && !(await core.listNamespacedServiceAccount({ namespace: ns })).items.length; i++) await new Promise((r) => setTimeout(r, 100));
    await apps.createNamespacedDeployment({ namespace: ns, body: authDeployment('ledger', ESO_OLD) });
  }
  recordValues([ESO_OLD_VALUE]);

  server = await startDevServer();
  env = { TEMPORAL_ADDRESS: server.address, ROTOR_BACKEND: 'kubernetes', KUBECONFIG: workerKubeconfig, ROTOR_OPERATOR: 'e2e' };
  awsEnv = {
    ROTOR_AWS_ENDPOINT: moto.url,
    AWS_REGION: 'us-east-1',
    AWS_ACCESS_KEY_ID: 'testing',
    AWS_SECRET_ACCESS_KEY: 'testing',
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
  };
  worker = await startWorker({ ...env, ROTOR_STORES: 'kubernetes,aws-secrets-manager,external-secrets', ...awsEnv });
});

after(async () => {
  if (sandbox) await recordClusterSecrets(sandbox.plane.kubeconfig);
  await worker?.stop();
  await server?.stop();
  awsSdk?.destroy();
  await operator?.stop();
  await moto?.stop();
  await sandbox?.stop();
});

/** The store version id a version's Secret records (`rotor.dev/store-version-id`): the rotation's own. */
async function storeVersionOf(namespace: string, version: string): Promise<string> {
  const secret = await core.readNamespacedSecret({ namespace, name: version });
  const id = secret.metadata?.annotations?.['rotor.dev/store-version-id'];
  assert.ok(id, `${namespace}/${version} records its store version id`);
  return id;
}

describe('rotor on a real control plane', () => {
  describe('with store aws-secrets-manager (moto)', () => {
    const aws = () => new AwsSecretsManager({ region: 'us-east-1', endpoint: moto.url, credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' } });
    const awsPlan = (name: string, value: object) =>
      plan(name, {
        secret: 'billing-secrets',
        value,
        store: 'aws-secrets-manager',
        awsSecretsManager: { secretId: AWS_SECRET, region: 'us-east-1' },
        stages: [
          { name: 'staging', namespace: 'aws-staging', strategy: 'rolling', soak: '1s', rolloutTimeout: '60s' },
          { name: 'production', namespace: 'aws-production', strategy: 'rolling', watch: '1s', rolloutTimeout: '60s' },
        ],
        retention: '1s',
        cleanupRecheck: '1s',
      });

    it('completes a two-stage rotation with the AWS labels where AWS leaves them, the old version retired with its deletion', async () => {
      const started = await rotor(['start', '-f', await awsPlan('aws-good', { generate: { keys: ['api_token'], length: 40 } })], env);
      assert.equal(started.code, 0, started.stderr);
      const s = await waitFor('rotate-aws-staging-billing-secrets', (x) => ['COMPLETED', 'ROLLED_BACK', 'FAILED'].includes(x.phase));
      assert.equal(s.phase, 'COMPLETED', `${s.outcome}; ${s.leftovers.join('; ')}`);
      const fresh = s.newVersion!;
      // AWS: after the promotion AWSCURRENT is on the new version alone, AWSPENDING on none; the old
      // version lost its labels when cleanup deleted it in the cluster (AWS then lists it nowhere).
      // Its VersionId is this rotation's own, as its Secret records it (never the name-only id).
      const versionId = await storeVersionOf('aws-production', fresh);
      assert.notEqual(versionId, aws().versionToken(fresh));
      assert.deepEqual(await aws().labels(AWS_SECRET), { [versionId]: ['AWSCURRENT'] });
      // AWS: AWSCURRENT, read by stage, holds what the cluster's new version holds.
      const secret = await core.readNamespacedSecret({ namespace: 'aws-production', name: fresh });
      const data = Object.fromEntries(Object.entries(secret.data!).map(([k, v]) => [k, Buffer.from(v, 'base64').toString('utf8')]));
      assert.deepEqual(await aws().read({ secretId: AWS_SECRET, versionStage: 'AWSCURRENT' }), data);
      recordValues(Object.values(data));
      assert.equal(await envRef('aws-production', 'billing'), fresh);
      assert.ok(s.events.some((e) => e.message.startsWith(`store: AWS Secrets Manager secret ${AWS_SECRET} answers`)));
    });

    it('rolls back with AWSCURRENT never moved, and the failed version unlabelled', async () => {
      const current = (await aws().describe(AWS_SECRET)).versions.find((v) => v.stages.includes('AWSCURRENT'))!.versionId;
      const before = await aws().read({ secretId: AWS_SECRET, versionStage: 'AWSCURRENT' });
      const started = await rotor(['start', '-f', await awsPlan('aws-bad', { generate: { keys: ['wrong_key'], length: 40 } })], env);
      assert.equal(started.code, 0, started.stderr);
      const s = await waitFor(
        'rotate-aws-staging-billing-secrets',
        (x) =>
          x.newVersion !== null &&
          ['COMPLETED', 'ROLLED_BACK', 'FAILED'].includes(x.phase) &&
          x.events.some((e) => e.message.includes('wrong_key') || e.phase === 'ROLLING_BACK'),
      );
      assert.equal(s.phase, 'ROLLED_BACK', `${s.outcome}; ${s.leftovers.join('; ')}`);
      // AWS: AWSCURRENT stays where it was, with the same value; the failed version keeps no label.
      assert.deepEqual(await aws().labels(AWS_SECRET), { [current]: ['AWSCURRENT'] });
      assert.deepEqual(await aws().read({ secretId: AWS_SECRET, versionStage: 'AWSCURRENT' }), before);
      recordValues(Object.values(await aws().read({ secretId: AWS_SECRET, versionId: await storeVersionOf('aws-staging', s.newVersion!) })));
      // The operator's view: each version beside its labels in the store that keeps it too.
      const versions = await rotor(['versions', 'billing-secrets', '-n', 'aws-staging'], { ...env, ...awsEnv, KUBECONFIG: sandbox.plane.kubeconfig });
      assert.equal(versions.code, 0, versions.stderr);
      const lines = versions.stdout.trim().split('\n');
      assert.match(lines[0], /^VERSION\s+AGE\s+STATE\s+STORE\s+USED BY$/);
      assert.match(lines[1], new RegExp(`^${s.newVersion}\\s+\\d+s\\s+-\\s+aws:\\(no label\\)\\s+\\(none\\)$`), 'the rolled-back version');
      assert.match(lines[2], /^billing-secrets-\d{14}\s+\d+s\s+current\s+aws:AWSCURRENT\s+Deployment\/billing$/, 'the one in use');
    });
  });

  describe('with store external-secrets (the real External Secrets Operator, moto)', () => {
    const aws = () => new AwsSecretsManager({ region: 'us-east-1', endpoint: moto.url, credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' } });
    const custom = () => {
      const kc = new k8s.KubeConfig();
      kc.loadFromFile(sandbox.plane.kubeconfig);
      return kc.makeApiClient(k8s.CustomObjectsApi);
    };
    const esoPlan = (name: string, secretStoreRef: object) =>
      plan(name, {
        secret: 'ledger-secrets',
        value: { generate: { keys: ['api_token'], length: 40 } },
        store: 'external-secrets',
        awsSecretsManager: { secretId: ESO_SECRET, region: 'us-east-1' },
        externalSecrets: { secretStoreRef },
        stages: [
          { name: 'staging', namespace: 'eso-staging', strategy: 'rolling', soak: '1s', rolloutTimeout: '60s' },
          { name: 'production', namespace: 'eso-production', strategy: 'rolling', watch: '1s', rolloutTimeout: '60s' },
        ],
        retention: '1s',
      });
    const readEs = (ns: string, name: string) =>
      custom()
        .getNamespacedCustomObject({ group: 'external-secrets.io', version: 'v1', namespace: ns, plural: 'externalsecrets', name })
        .then(
          (o) => o as { spec: { dataFrom: { extract: { key: string; version: string } }[]; target: { immutable: boolean } } },
          () => null,
        );

    it('completes a two-stage rotation through pinned ExternalSecrets, the old ones deleted with their Secrets, AWS labels where AWS leaves them', async () => {
      const file = await esoPlan('eso-good', { name: 'aws', kind: 'ClusterSecretStore' });
      const started = await rotor(['start', '-f', file], env);
      assert.equal(started.code, 0, started.stderr);
      const s = await waitFor('rotate-eso-staging-ledger-secrets', (x) => ['COMPLETED', 'ROLLED_BACK', 'FAILED'].includes(x.phase));
      assert.equal(s.phase, 'COMPLETED', `${s.outcome}; ${s.leftovers.join('; ')}; operator: ${operator.output().slice(-1500)}`);
      const fresh = s.newVersion!;
      assert.ok(s.events.some((e) => /^store: AWS Secrets Manager secret .* answers; .*; ClusterSecretStore aws is Ready$/.test(e.message)));
      const current = await aws().read({ secretId: ESO_SECRET, versionStage: 'AWSCURRENT' });
      recordValues(Object.values(current));
      const versionId = await storeVersionOf('eso-production', fresh);
      for (const ns of ['eso-staging', 'eso-production']) {
        // Pinned by VersionId (this rotation's own): AWSCURRENT moved, and the ExternalSecret did not follow a stage.
        const es = await readEs(ns, fresh);
        assert.deepEqual(es?.spec.dataFrom[0].extract, {
          key: ESO_SECRET,
          version: `uuid/${versionId}`,
          conversionStrategy: 'Default',
          decodingStrategy: 'None',
          metadataPolicy: 'None',
        });
        assert.equal(es?.spec.target.immutable, true);
        // The operator wrote it: owned by the ExternalSecret, immutable, holding what AWSCURRENT holds.
        const secret = await core.readNamespacedSecret({ namespace: ns, name: fresh });
        assert.equal(secret.immutable, true);
        assert.deepEqual(
          secret.metadata?.ownerReferences?.map((o) => `${o.kind}/${o.name}`),
          [`ExternalSecret/${fresh}`],
        );
        const data = Object.fromEntries(Object.entries(secret.data!).map(([k, v]) => [k, Buffer.from(v, 'base64').toString('utf8')]));
        assert.deepEqual(data, current);
        assert.equal(await envRef(ns, 'ledger'), fresh);
        // The old version: its ExternalSecret deleted, then its Secret, which the operator did not write again.
        assert.equal(await readEs(ns, ESO_OLD), null);
        await assert.rejects(core.readNamespacedSecret({ namespace: ns, name: ESO_OLD }), (err: { code?: number }) => err.code === 404);
      }
      // AWS: AWSCURRENT on the new version alone; the old one retired with its deletion in the cluster.
      assert.deepEqual(await aws().labels(ESO_SECRET), { [versionId]: ['AWSCURRENT'] });
      const versions = await rotor(['versions', 'ledger-secrets', '-n', 'eso-production'], { ...env, ...awsEnv, KUBECONFIG: sandbox.plane.kubeconfig });
      assert.equal(versions.code, 0, versions.stderr);
      assert.match(versions.stdout.trim().split('\n')[1], new RegExp(`^${fresh}\\s+\\d+s\\s+current\\s+eso\\+aws:AWSCURRENT\\s+Deployment/ledger$`));
    });

    it('fails in PLANNING, nothing created, when the plan names a SecretStore that is not there', async () => {
      // A SecretStore (the default kind) must be in each stage's namespace; there is only the ClusterSecretStore.
      const file = await esoPlan('eso-no-store', { name: 'aws' });
      const before = await aws().labels(ESO_SECRET);
      const started = await rotor(['start', '-f', file], env);
      assert.equal(started.code, 0, started.stderr);
      const s = await waitFor('rotate-eso-staging-ledger-secrets', (x) => x.phase === 'FAILED');
      assert.match(s.outcome!, /the external-secrets store cannot be used \(nothing was changed\): .*there is no SecretStore eso-staging\/aws/);
      assert.equal(s.newVersion, null);
      assert.deepEqual(await aws().labels(ESO_SECRET), before);
    });
  });

  it("runs with what rotor rbac grants its plans, and the apiserver refuses the rest, by RBAC or by rotor's admission policy", async () => {
    assert.equal((await kubectlAs(['auth', 'can-i', 'create', 'secrets', '-n', 'staging'])).out.trim(), 'yes');
    assert.equal((await kubectlAs(['auth', 'can-i', 'patch', 'deployments', '-n', 'production'])).out.trim(), 'yes');
    const list = await kubectlAs(['get', 'secrets', '-n', 'staging']);
    assert.notEqual(list.code, 0);
    assert.match(list.out, /forbidden/i);
    assert.match((await kubectlAs(['auth', 'can-i', 'watch', 'secrets', '-n', 'staging'])).out, /^no/);
    // Outside the plans' namespaces, RBAC grants nothing but the scan's listing.
    await core.createNamespacedSecret({ namespace: 'kube-system', body: { metadata: { name: 'signing-key' }, stringData: { k: 'v' } } });
    await core.createNamespacedSecret({ namespace: 'default', body: { metadata: { name: 'db-password' }, stringData: { k: 'v' } } });
    for (const [args, why] of [
      [['delete', 'secret', 'signing-key', '-n', 'kube-system'], "delete kube-system's Secrets"],
      [['get', 'secret', 'db-password', '-n', 'default'], 'read a Secret where no plan runs'],
    ] as const) {
      const got = await kubectlAs([...args]);
      assert.notEqual(got.code, 0, why);
      assert.match(got.out, /is forbidden: User "system:serviceaccount:rotor-system:rotor-worker" cannot/, why);
    }
    // Inside them, what RBAC allows but rotor never does is refused by the policy, naming the rule.
    const deniedBy = async (args: string[], rule: string) => {
      const got = await kubectlAs(args);
      assert.notEqual(got.code, 0, `${args.join(' ')} went through`);
      assert.match(got.out, /ValidatingAdmissionPolicy 'rotor-worker-confinement'/, args.join(' '));
      assert.match(got.out, new RegExp(`rotor's worker .*\\(rule ${rule}\\)`), args.join(' '));
    };
    await deniedBy(['delete', 'secret', OLD, '-n', 'staging'], 'secret-delete'); // made by hand, never adopted
    await deniedBy(['label', 'secret', OLD, '-n', 'staging', 'team=payments'], 'secret-update');
    await deniedBy(['set', 'image', 'deployment/auth-api', '-n', 'staging', '*=registry.example/evil:1'], 'workload-template');
    await deniedBy(['create', 'deployment', 'rogue', '--image=registry.example/evil:1', '-n', 'production'], 'workload-create');
    await deniedBy(
      ['patch', 'deployment/auth-api', '-n', 'production', '--type=json', '-p', '[{"op":"replace","path":"/spec/replicas","value":0}]'],
      'workload-replicas',
    );
    assert.ok(await core.readNamespacedSecret({ namespace: 'staging', name: OLD }), 'the hand-made version is still there');
  });

  it('fails in PLANNING before any claim when a stage namespace or the Secret does not exist, naming it and the fix', async () => {
    const kc = new k8s.KubeConfig();
    kc.loadFromFile(sandbox.plane.kubeconfig);
    const leases = kc.makeApiClient(k8s.CoordinationV1Api);
    const leaseNames = async () =>
      (await leases.listNamespacedLease({ namespace: 'production' })).items.map((l) => l.metadata!.name!).filter((n) => n.startsWith('rotor-'));
    const before = await leaseNames();
    const cases = [
      {
        id: 'rotate-qa-missing-auth-api-secrets',
        body: {
          secret: 'auth-api-secrets',
          stages: [
            { name: 'qa', namespace: 'qa-missing' },
            { name: 'production', namespace: 'production', watch: '1s' },
          ],
        },
        outcome:
          /nothing to rotate \(nothing was changed\): namespace qa-missing does not exist in this cluster: correct the stage's namespace in the plan, or create the namespace/,
      },
      {
        id: 'rotate-staging-payments-secrets',
        body: {
          secret: 'payments-secrets',
          stages: [
            { name: 'staging', namespace: 'staging' },
            { name: 'production', namespace: 'production', watch: '1s' },
          ],
        },
        outcome:
          /no workload in namespace staging uses payments-secrets or a version of it \(payments-secrets-<14 digits>\), and no Secret payments-secrets exists there: .*; no workload in namespace production uses payments-secrets/,
      },
    ];
    for (const c of cases) {
      const started = await rotor(['start', '-f', await plan(c.id, { value: { generate: { keys: ['api_token'] } }, ...c.body })], env);
      assert.equal(started.code, 0, started.stderr);
      const s = await waitFor(c.id, (x) => x.phase === 'FAILED');
      assert.match(s.outcome!, c.outcome);
      assert.equal(s.newVersion, null);
      assert.ok(!s.events.some((e) => /claimed the rotation/.test(e.message)), 'no claim was taken');
    }
    assert.deepEqual(await leaseNames(), before, 'no claim taken or left in production');
  });

  it('rolls back a stage whose new Secret lacks a key the workloads read, exactly what it switched', async () => {
    const file = await plan('missing-key', {
      secret: 'auth-api-secrets',
      value: { generate: { keys: ['wrong_key'], length: 32 } },
      stages: [
        { name: 'staging', namespace: 'staging', workloads: ['deployment/auth-api'], strategy: 'rolling', soak: '1s', rolloutTimeout: '60s' },
        { name: 'production', namespace: 'production', workloads: ['deployment/auth-api'], strategy: 'rolling', watch: '1s' },
      ],
      retention: '1s',
    });
    const r = await rotor(['start', '-f', file, '--watch', '--interval', '0.5'], env, 180_000);
    assert.equal(r.code, 3, `${r.stdout}\n${r.stderr}\n${worker.output()}`);
    const s = await status('rotate-staging-auth-api-secrets');
    assert.equal(s.phase, 'ROLLED_BACK');
    assert.match(s.outcome!, /CreateContainerConfigError: couldn't find key api_token/);
    assert.equal(await envRef('staging', 'auth-api'), OLD);
    assert.equal(await envRef('production', 'auth-api'), OLD, 'production never switched');
  });

  it('completes a two-stage rotation (production by canary): immutable labelled copies per namespace, workloads switched, old version deleted only once nothing holds it', async () => {
    const file = await plan('rotation', {
      secret: 'auth-api-secrets',
      value: { generate: { keys: ['api_token'], length: 32 } },
      stages: [
        { name: 'staging', namespace: 'staging', workloads: ['deployment/auth-api'], strategy: 'rolling', soak: '2s', rolloutTimeout: '60s' },
        {
          name: 'production',
          namespace: 'production',
          workloads: ['deployment/auth-api'],
          strategy: { canary: { steps: [50, 100], pause: '1s' } },
          watch: '2s',
          rolloutTimeout: '60s',
        },
      ],
      retention: '3s',
      cleanupRecheck: '1s',
    });
    const started = await rotor(['start', '-f', file], env);
    assert.equal(started.code, 0, started.stderr);
    const id = 'rotate-staging-auth-api-secrets';
    const retaining = await waitFor(id, (s) => ['RETAINING', 'CLEANING_UP', 'COMPLETED', 'ROLLED_BACK', 'FAILED'].includes(s.phase));
    assert.ok(['RETAINING', 'CLEANING_UP'].includes(retaining.phase), `${retaining.phase}: ${retaining.outcome}`);
    const version = retaining.newVersion!;
    // The rotation holds production: a second plan of the same Secret that shares it is refused in
    // PLANNING, names the holder, and changes nothing.
    const holder = async (ns: string) =>
      (await kubectlAs(['get', 'lease', 'rotor-auth-api-secrets', '-n', ns, '-o', 'jsonpath={.spec.holderIdentity}'])).out.trim();
    // The holder names this rotor deployment (the dev server's cluster id), so another deployment never takes it.
    assert.match(await holder('production'), new RegExp(`^temporal://[0-9a-f-]{36}/default/${id}$`));
    const held = await holder('production');
    // dev uses the Secret too, so the second plan passes PLANNING's read and meets the claim.
    await core.createNamespace({ body: { metadata: { name: 'dev' } } });
    await core.createNamespacedSecret({ namespace: 'dev', body: { metadata: { name: OLD }, stringData: { api_token: 'old-token-value' } } });
    for (let i = 0; i < 100 && !(await core.listNamespacedServiceAccount({ namespace: 'dev' })).items.length; i++) await new Promise((r) => setTimeout(r, 100));
    await apps.createNamespacedDeployment({ namespace: 'dev', body: authDeployment('auth-api', OLD) });
    const overlapping = await plan('overlapping', {
      secret: 'auth-api-secrets',
      value: { generate: { keys: ['api_token'], length: 32 } },
      stages: [
        { name: 'dev', namespace: 'dev', workloads: 'auto', strategy: 'rolling', soak: '1s' },
        { name: 'production', namespace: 'production', workloads: 'auto', strategy: 'rolling', watch: '1s' },
      ],
      retention: '1s',
    });
    const second = await rotor(['start', '-f', overlapping], env);
    assert.equal(second.code, 0, second.stderr);
    const refused = await waitFor('rotate-dev-auth-api-secrets', (s) => s.phase === 'FAILED' || s.phase === 'COMPLETED');
    assert.equal(refused.phase, 'FAILED');
    assert.match(
      (await kubectlAs(['get', 'lease', 'rotor-auth-api-secrets', '-n', 'dev'])).out,
      /NotFound/,
      'refused in production, it holds nothing in dev either',
    );
    assert.match(refused.outcome!, new RegExp(`another rotation of auth-api-secrets is in progress in production \\(${id}, since `));
    assert.equal(refused.newVersion, null, 'nothing was created');
    assert.equal(await holder('production'), held, 'the refused rotation took nothing and released nothing');
    assert.ok(retaining.events.some((e) => e.message === 'canary at 50% in production'));
    assert.ok(retaining.events.some((e) => /canary complete in production/.test(e.message)));
    await assert.rejects(apps.readNamespacedDeployment({ namespace: 'production', name: 'auth-api-canary' }), (err: { code?: number }) => err.code === 404);
    assert.equal((await apps.readNamespacedDeployment({ namespace: 'production', name: 'auth-api' })).spec!.replicas, 2);
    for (const ns of ['staging', 'production']) {
      const secret = await core.readNamespacedSecret({ namespace: ns, name: version });
      assert.equal(secret.immutable, true);
      assert.equal(secret.metadata?.labels?.['rotor.dev/secret'], 'auth-api-secrets');
      assert.equal(secret.metadata?.labels?.['rotor.dev/version'], version.slice(-14));
      assert.equal(await envRef(ns, 'auth-api'), version);
      assert.ok(await core.readNamespacedSecret({ namespace: ns, name: OLD }), 'old version kept during retention');
    }
    // The CronJob still holds the old version in staging: cleanup waits and says who holds it.
    const blocked = await waitFor(id, (s) => s.holders.length > 0);
    assert.deepEqual(
      blocked.holders.map((h) => `${h.kind}/${h.name} in ${h.namespace}`),
      ['CronJob/weekly-report in staging'],
    );
    assert.ok(await core.readNamespacedSecret({ namespace: 'staging', name: OLD }));
    // Its owner moves it; the next scan frees the old version, which goes from both namespaces.
    await batch.patchNamespacedCronJob(
      {
        namespace: 'staging',
        name: 'weekly-report',
        body: [{ op: 'replace', path: '/spec/jobTemplate/spec/template/spec/volumes/0/secret/secretName', value: version }],
      },
      k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.JsonPatch),
    );
    const done = await waitFor(id, (s) => s.phase === 'COMPLETED');
    assert.match(done.outcome!, /deleted from staging, production/);
    for (const ns of ['staging', 'production'])
      assert.match((await kubectlAs(['get', 'lease', 'rotor-auth-api-secrets', '-n', ns])).out, /NotFound/, `claim released in ${ns}`);
    for (const ns of ['staging', 'production']) {
      await assert.rejects(core.readNamespacedSecret({ namespace: ns, name: OLD }), (err: { code?: number }) => err.code === 404);
    }
    // The operator's view, from their own kubeconfig: every version, newest first, and who uses it.
    const versions = await rotor(['versions', 'auth-api-secrets', '-n', 'staging'], { ...env, KUBECONFIG: sandbox.plane.kubeconfig });
    assert.equal(versions.code, 0, versions.stderr);
    const lines = versions.stdout.trim().split('\n');
    assert.match(lines[0], /^VERSION\s+AGE\s+STATE\s+USED BY$/);
    assert.match(lines[1], new RegExp(`^${version}\\s+\\d+s\\s+current\\s+`));
    assert.deepEqual(
      lines[1]
        .split(/\s{2,}/)[3]
        .split(', ')
        .sort(),
      ['CronJob/weekly-report', 'Deployment/auth-api'],
    );
    assert.equal(lines.length, 3, 'the new version and the one the rolled-back rotation left; the old one is gone');
    assert.match(lines[2], /^auth-api-secrets-\d{14}\s+\d+s\s+-\s+\(none\)$/);
    // Without -n: the kubeconfig context's namespace, as kubectl (the sandbox's context names none: default).
    const defaulted = await rotor(['versions', 'auth-api-secrets', '--kubeconfig', sandbox.plane.kubeconfig], env);
    assert.equal(defaulted.stdout, 'no version of auth-api-secrets in namespace default (context rotor-sandbox)\n', defaulted.stderr);
    assert.ok(!worker.output().includes('old-token-value'));
    assert.ok(!readFileSync(join(sandbox.plane.dir, 'logs', 'kube-apiserver.log'), 'utf8').includes('old-token-value'));
  });
});
