// A rotated Secret keeps its type, end to end on real parts: the rotor CLI, a Temporal dev server, a
// `rotor worker` process as its ServiceAccount, granted rotor rbac's output for each plan, the sandbox's real
// kube-apiserver (pods played by the simulator), and moto for AWS Secrets Manager. A registry
// credential (kubernetes.io/dockerconfigjson, from a file) and a TLS certificate
// (kubernetes.io/tls, read from AWS) rotate through two stages with their types kept; a value that
// is no good for the type fails CREATING with nothing written, in the cluster or in AWS.
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import * as k8s from '@kubernetes/client-node';
import { CreateSecretCommand, ListSecretVersionIdsCommand, PutSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import type { RotationStatus } from '../contract/api';
import { AwsSecretsManager } from '../activities/stores/aws-secrets-manager';
import { startSandbox, workerKubeconfig as workerKubeconfigFor, type Sandbox } from '../sandbox';
import { startMoto, type MotoServer } from '../sandbox/moto';
import { rotor, startWorker, waitForStatus } from './helpers/cli';
import { writePlan } from './helpers/e2e-objects';
import { startDevServer, type DevServer } from './helpers/dev-server';
import { recordClusterSecrets, recordValues } from './helpers/leak';
import { dockerConfig, selfSigned } from './helpers/secret-types';
import { stopEach } from './helpers/stop-each';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';
const DOCKER = 'kubernetes.io/dockerconfigjson';
const TLS = 'kubernetes.io/tls';
const REGISTRY = 'registry-creds';
const REGISTRY_OLD = `${REGISTRY}-20250101000000`;
const REGISTRY_NS = ['reg-staging', 'reg-production'];
const WEB = 'web-tls';
const WEB_OLD = `${WEB}-20250101000000`;
const WEB_NS = ['tls-staging', 'tls-production'];
/** Where each version of web-tls is kept in AWS, and where the certificate to roll out is put by whoever issues it. */
const TLS_VERSIONS = '/web/tls';
const TLS_SOURCE = '/web/tls-issued';
const REGION = 'us-east-1';

let sandbox: Sandbox;
let moto: MotoServer;
let server: DevServer;
let worker: Awaited<ReturnType<typeof startWorker>>;
let env: NodeJS.ProcessEnv;
let dir: string;
let core: k8s.CoreV1Api;
let apps: k8s.AppsV1Api;
let sdk: SecretsManagerClient;
let aws: AwsSecretsManager;

function deployment(name: string, pod: k8s.V1PodSpec): k8s.V1Deployment {
  return {
    metadata: { name },
    spec: { replicas: 2, selector: { matchLabels: { app: name } }, template: { metadata: { labels: { app: name } }, spec: pod } },
  };
}

async function namespace(ns: string): Promise<void> {
  await core.createNamespace({ body: { metadata: { name: ns } } });
  for (let i = 0; i < 100 && !(await core.listNamespacedServiceAccount({ namespace: ns })).items.length; i++) await new Promise((r) => setTimeout(r, 100));
}

/** A plan file, and the worker granted what it needs. */
const plan = (name: string, body: object) => writePlan(sandbox.plane, dir, name, body);

function stages(namespaces: string[]) {
  return [
    { name: 'staging', namespace: namespaces[0], strategy: 'rolling', soak: '1s', rolloutTimeout: '60s' },
    { name: 'production', namespace: namespaces[1], strategy: 'rolling', watch: '1s', rolloutTimeout: '60s' },
  ];
}

async function rotate(file: string, id: string): Promise<RotationStatus> {
  const started = await rotor(['start', '-f', file], env);
  assert.equal(started.code, 0, started.stderr);
  return waitForStatus(id, env, (s) => ['COMPLETED', 'ROLLED_BACK', 'FAILED'].includes(s.phase), 180_000);
}

/** The versions of `base` in each namespace, with their types. */
async function versions(namespaces: string[], base: string): Promise<string[]> {
  const out: string[] = [];
  for (const namespace of namespaces) {
    for (const s of (await core.listNamespacedSecret({ namespace })).items) {
      if (s.metadata!.name!.startsWith(`${base}-`)) out.push(`${namespace}/${s.metadata!.name} ${s.type}`);
    }
  }
  return out.sort();
}

/** Every version AWS keeps of the secret, labelled or not (a staged and then discarded one too). */
async function awsVersions(secretId: string): Promise<string[]> {
  const listed = await sdk.send(new ListSecretVersionIdsCommand({ SecretId: secretId, IncludeDeprecated: true }));
  return (listed.Versions ?? []).map((v) => v.VersionId!).sort();
}

function decoded(secret: k8s.V1Secret): Record<string, string> {
  return Object.fromEntries(Object.entries(secret.data ?? {}).map(([k, v]) => [k, Buffer.from(v, 'base64').toString('utf8')]));
}

let oldTls: { crt: string; key: string };
let newTls: { crt: string; key: string };
let strayTls: { crt: string; key: string };

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'rotor-e2e-types-'));
  [sandbox, moto] = await Promise.all([startSandbox({ readyDelayMs: 300 }), startMoto()]);
  const kc = new k8s.KubeConfig();
  kc.loadFromFile(sandbox.plane.kubeconfig);
  core = kc.makeApiClient(k8s.CoreV1Api);
  apps = kc.makeApiClient(k8s.AppsV1Api);
  const workerKubeconfig = await workerKubeconfigFor(sandbox.plane, dir);

  // A registry credential the kubelet pulls images with, in both namespaces.
  const oldConfig = dockerConfig('old-registry-pass-Kd72');
  for (const ns of REGISTRY_NS) {
    await namespace(ns);
    await core.createNamespacedSecret({
      namespace: ns,
      body: { metadata: { name: REGISTRY_OLD }, type: DOCKER, stringData: { '.dockerconfigjson': oldConfig } },
    });
    await apps.createNamespacedDeployment({
      namespace: ns,
      body: deployment('puller', { imagePullSecrets: [{ name: REGISTRY_OLD }], containers: [{ name: 'app', image: 'registry.example.test/app:1' }] }),
    });
  }

  // A TLS certificate mounted by the web server, its versions kept in AWS too.
  oldTls = selfSigned('web-old');
  newTls = selfSigned('web-new');
  strayTls = selfSigned('web-stray');
  sdk = new SecretsManagerClient({ region: REGION, endpoint: moto.url, credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' } });
  aws = new AwsSecretsManager({ region: REGION, endpoint: moto.url, credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' } });
  const oldPair = { 'tls.crt': oldTls.crt, 'tls.key': oldTls.key };
  await sdk.send(new CreateSecretCommand({ Name: TLS_VERSIONS, SecretString: JSON.stringify(oldPair), ClientRequestToken: aws.versionToken(WEB_OLD) }));
  for (const ns of WEB_NS) {
    await namespace(ns);
    await core.createNamespacedSecret({ namespace: ns, body: { metadata: { name: WEB_OLD }, type: TLS, stringData: oldPair } });
    await apps.createNamespacedDeployment({
      namespace: ns,
      body: deployment('web', {
        containers: [{ name: 'app', image: 'example/web:1', volumeMounts: [{ name: 'tls', mountPath: '/tls' }] }],
        volumes: [{ name: 'tls', secret: { secretName: WEB_OLD } }],
      }),
    });
  }

  server = await startDevServer();
  env = { TEMPORAL_ADDRESS: server.address, ROTOR_BACKEND: 'kubernetes', KUBECONFIG: workerKubeconfig, ROTOR_OPERATOR: 'e2e' };
  worker = await startWorker({
    ...env,
    ROTOR_VALUE_DIR: dir,
    ROTOR_STORES: 'kubernetes,aws-secrets-manager',
    ROTOR_AWS_ENDPOINT: moto.url,
    AWS_REGION: REGION,
    AWS_ACCESS_KEY_ID: 'testing',
    AWS_SECRET_ACCESS_KEY: 'testing',
  });
});

after(() =>
  stopEach([
    ['leak evidence', async () => sandbox && recordClusterSecrets(sandbox.plane.kubeconfig)],
    ['worker', async () => worker?.stop()],
    ['dev server', async () => server?.stop()],
    ['moto', async () => (sdk?.destroy(), moto?.stop())],
    ['sandbox', async () => sandbox?.stop()],
  ]),
);

describe('a rotated Secret keeps its type, on a real control plane', () => {
  describe('kubernetes.io/dockerconfigjson, from a file', () => {
    const registryPlan = (name: string, file: string) =>
      plan(name, { secret: REGISTRY, value: { fromFile: file }, stages: stages(REGISTRY_NS), retention: '1s', cleanupRecheck: '1s' });

    it('fails CREATING with nothing written when the file holds no docker config with auths', async () => {
      const bad = JSON.stringify({ 'registry.example.test': { auth: Buffer.from('robot:no-auths-pass-Qe55').toString('base64') } });
      recordValues([bad, 'no-auths-pass-Qe55']);
      writeFileSync(join(dir, 'no-auths.env'), `.dockerconfigjson=${bad}\n`);
      const before = await versions(REGISTRY_NS, REGISTRY);
      const s = await rotate(await registryPlan('registry-bad', 'no-auths.env'), `rotate-${REGISTRY_NS[0]}-${REGISTRY}`);
      assert.equal(s.phase, 'FAILED', s.outcome ?? '');
      assert.match(s.outcome!, /could not create the new version \(no workload was switched\): .*key \.dockerconfigjson has no auths object/);
      assert.deepEqual(await versions(REGISTRY_NS, REGISTRY), before, 'no version was created');
      assert.ok(!JSON.stringify(s).includes('no-auths-pass-Qe55') && !worker.output().includes('no-auths-pass-Qe55'));
    });

    it('rotates through both stages with the type kept, the workloads pulling with the new version, the old one deleted', async () => {
      const fresh = dockerConfig('new-registry-pass-Mz18');
      writeFileSync(join(dir, 'registry.env'), `.dockerconfigjson=${fresh}\n`);
      const s = await rotate(await registryPlan('registry-good', 'registry.env'), `rotate-${REGISTRY_NS[0]}-${REGISTRY}`);
      assert.equal(s.phase, 'COMPLETED', `${s.outcome}; ${s.leftovers.join('; ')}`);
      for (const ns of REGISTRY_NS) {
        const secret = await core.readNamespacedSecret({ namespace: ns, name: s.newVersion! });
        assert.equal(secret.type, DOCKER, `${ns}: the type is kept`);
        assert.deepEqual(decoded(secret), { '.dockerconfigjson': fresh });
        const pod = (await apps.readNamespacedDeployment({ namespace: ns, name: 'puller' })).spec!.template.spec!;
        assert.deepEqual(
          pod.imagePullSecrets?.map((r) => r.name),
          [s.newVersion],
        );
      }
      assert.deepEqual(await versions(REGISTRY_NS, REGISTRY), REGISTRY_NS.map((ns) => `${ns}/${s.newVersion} ${DOCKER}`).sort(), 'the old version deleted');
      assert.ok(s.events.some((e) => e.message === `the new version keeps the Secret type ${DOCKER}`));
      // The operator's view: each version with its type (read as kubectl's Table: no data).
      const listed = await rotor(['versions', REGISTRY, '-n', REGISTRY_NS[1]], { ...env, KUBECONFIG: sandbox.plane.kubeconfig });
      assert.equal(listed.code, 0, listed.stderr);
      const lines = listed.stdout.trim().split('\n');
      assert.match(lines[0], /^VERSION\s+AGE\s+STATE\s+TYPE\s+USED BY$/);
      assert.match(lines[1], new RegExp(`^${s.newVersion}\\s+\\d+s\\s+current\\s+kubernetes\\.io/dockerconfigjson\\s+Deployment/puller$`));
    });
  });

  describe('kubernetes.io/tls, read from AWS Secrets Manager', () => {
    const tlsPlan = (name: string) =>
      plan(name, {
        secret: WEB,
        value: { awsSecretsManager: { secretId: TLS_SOURCE, versionStage: 'AWSCURRENT' } },
        store: 'aws-secrets-manager',
        awsSecretsManager: { secretId: TLS_VERSIONS, region: REGION },
        stages: stages(WEB_NS),
        retention: '1s',
        cleanupRecheck: '1s',
      });

    it('fails CREATING with nothing staged in AWS nor created in the cluster when the key is not the certificate’s', async () => {
      await sdk.send(new CreateSecretCommand({ Name: TLS_SOURCE, SecretString: JSON.stringify({ 'tls.crt': newTls.crt, 'tls.key': strayTls.key }) }));
      const before = { cluster: await versions(WEB_NS, WEB), aws: await awsVersions(TLS_VERSIONS) };
      const s = await rotate(await tlsPlan('tls-bad'), `rotate-${WEB_NS[0]}-${WEB}`);
      assert.equal(s.phase, 'FAILED', s.outcome ?? '');
      assert.match(s.outcome!, /the private key in tls\.key does not match the certificate in tls\.crt/);
      assert.deepEqual(await versions(WEB_NS, WEB), before.cluster, 'no Secret created');
      assert.deepEqual(await awsVersions(TLS_VERSIONS), before.aws, 'nothing staged in AWS');
      assert.ok(!worker.output().includes(strayTls.key.split('\n')[1]), 'no line of the key in the worker log');
    });

    it('rotates through both stages with the type kept, AWSCURRENT on the new version', async () => {
      await sdk.send(new PutSecretValueCommand({ SecretId: TLS_SOURCE, SecretString: JSON.stringify({ 'tls.crt': newTls.crt, 'tls.key': newTls.key }) }));
      const s = await rotate(await tlsPlan('tls-good'), `rotate-${WEB_NS[0]}-${WEB}`);
      assert.equal(s.phase, 'COMPLETED', `${s.outcome}; ${s.leftovers.join('; ')}`);
      for (const ns of WEB_NS) {
        const secret = await core.readNamespacedSecret({ namespace: ns, name: s.newVersion! });
        assert.equal(secret.type, TLS, `${ns}: the type is kept`);
        assert.deepEqual(decoded(secret), { 'tls.crt': newTls.crt, 'tls.key': newTls.key });
        const pod = (await apps.readNamespacedDeployment({ namespace: ns, name: 'web' })).spec!.template.spec!;
        assert.equal(pod.volumes![0].secret!.secretName, s.newVersion);
      }
      assert.deepEqual(await aws.read({ secretId: TLS_VERSIONS, versionStage: 'AWSCURRENT' }), { 'tls.crt': newTls.crt, 'tls.key': newTls.key });
      assert.deepEqual(await versions(WEB_NS, WEB), WEB_NS.map((ns) => `${ns}/${s.newVersion} ${TLS}`).sort(), 'the old version deleted');
    });
  });
});
