// Git mode end to end, on real parts: the rotor CLI, a Temporal dev server, a `rotor worker` process
// (its ServiceAccount granted rotor rbac's output, its Git token from a file), the sandbox's real
// kube-apiserver, the project's real smart-HTTP Git server, and the REAL Flux source- and
// kustomize-controller applying production from the repository. A two-stage rotation whose staging is
// switched live and whose production Flux applies completes with production's reference changed only
// through Git: rotor's commit is in the repository's log and kustomize-controller, not rotor, wrote the
// live reference; a rotation whose new version lacks the key the pods read ends ROLLED_BACK through a
// revert commit, the live object back on the old version; the same plan without gitops is refused in
// PLANNING, naming the Flux Kustomization.
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import * as k8s from '@kubernetes/client-node';
import { stringify } from 'yaml';
import { startSandbox, workerKubeconfig as workerKubeconfigFor, type Sandbox } from '../sandbox';
import { FLUX_NAMESPACE, startFlux, type Flux } from '../sandbox/flux';
import { logOf, startGitServer, type GitServer } from '../sandbox/git-server';
import { rotor, rotorStatus, startWorker } from './helpers/cli';
import { authDeployment, tokenSecretOf, writePlan } from './helpers/e2e-objects';
import { startDevServer, type DevServer } from './helpers/dev-server';
import { recordClusterSecrets, recordValues } from './helpers/leak';
import { fileAt, recordRepositories } from './helpers/git-mode';
import { stopEach } from './helpers/stop-each';
import { CreateSecretCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { AwsSecretsManager } from '../activities/stores/aws-secrets-manager';
import { ExternalSecretsStore } from '../activities/stores/aws-store';
import { externalSecretBody } from '../activities/kubernetes/external-secrets';
import { startMoto, type MotoServer } from '../sandbox/moto';
import { createAwsSecretStore, startEsoOperator, type EsoOperator } from '../sandbox/eso-operator';

const SECRET = 'auth-api-secrets';
const OLD = `${SECRET}-20250101000000`;
const OLD_VALUE = 'rotor-leak-canary-flux-old-3Rw8';
const REPO = 'platform';
const KUSTOMIZATION = 'apps-production';
// store external-secrets in Git mode: ledger-secrets in AWS (moto), its versions ExternalSecrets that
// Flux applies from apps/ledger and the real External Secrets Operator writes.
const LEDGER = 'ledger-secrets';
const LEDGER_OLD = `${LEDGER}-20250101000000`;
const LEDGER_OLD_VALUE = 'rotor-leak-canary-flux-ledger-old-9Tc4';
const LEDGER_AWS = '/production/ledger/flux-token';
/** Where a Deployment's managedFields record who set the Secret's name (secretKeyRef is atomic, owned whole). */
const REF_FIELD = ['f:spec', 'f:template', 'f:spec', 'f:containers', 'k:{"name":"app"}', 'f:env', 'k:{"name":"TOKEN"}', 'f:valueFrom', 'f:secretKeyRef'];

let sandbox: Sandbox, server: DevServer, worker: Awaited<ReturnType<typeof startWorker>>, git: GitServer, flux: Flux;
let moto: MotoServer, operator: EsoOperator;
let env: NodeJS.ProcessEnv, dir: string, url: string, ledgerUrl: string;
let core: k8s.CoreV1Api, apps: k8s.AppsV1Api;

async function stagingSecret(): Promise<string> {
  const d = await apps.readNamespacedDeployment({ namespace: 'staging', name: 'auth-api' });
  return d.spec!.template.spec!.containers[0].envFrom![0].secretRef!.name!;
}

function owners(d: k8s.V1Deployment): string[] {
  return (d.metadata?.managedFields ?? [])
    .filter((m) => REF_FIELD.reduce<unknown>((node, key) => (node as Record<string, unknown> | undefined)?.[key], m.fieldsV1) !== undefined)
    .map((m) => `${m.manager}/${m.operation}`);
}

async function waitFor(what: string, check: () => Promise<boolean>, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) assert.fail(`${what} within ${timeoutMs / 1000} s`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

const plan = (name: string, value: object, gitops = true) =>
  writePlan(sandbox.plane, dir, name, {
    secret: SECRET,
    value,
    stages: [
      { name: 'staging', namespace: 'staging', strategy: 'rolling', soak: '1s', rolloutTimeout: '60s' },
      { name: 'production', namespace: 'production', strategy: 'rolling', watch: '1s', rolloutTimeout: '60s' },
    ],
    ...(gitops ? { gitops: { repo: url, path: 'apps/production', author: { name: 'rotor', email: 'rotor@example.test' }, syncTimeout: '2m' } } : {}),
    retention: '1s',
    cleanupRecheck: '2s',
  });

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'rotor-e2e-flux-'));
  [sandbox, git, moto] = await Promise.all([startSandbox({ readyDelayMs: 300 }), startGitServer(), startMoto()]);
  const kc = new k8s.KubeConfig();
  kc.loadFromFile(sandbox.plane.kubeconfig);
  core = kc.makeApiClient(k8s.CoreV1Api);
  apps = kc.makeApiClient(k8s.AppsV1Api);
  for (const ns of ['staging', 'production']) {
    await core.createNamespace({ body: { metadata: { name: ns } } });
    await core.createNamespacedSecret({ namespace: ns, body: { metadata: { name: OLD }, stringData: { api_token: OLD_VALUE } } });
    for (let i = 0; i < 100 && !(await core.listNamespacedServiceAccount({ namespace: ns })).items.length; i++) await new Promise((r) => setTimeout(r, 100));
  }
  recordValues([OLD_VALUE]);
  // Staging is applied by hand and reads the whole Secret (envFrom): any key will do; production is
  // applied by Flux from the repository and reads the key api_token.
  const staging = authDeployment('auth-api', OLD);
  staging.spec!.template.spec!.containers[0] = { name: 'app', image: 'example/auth:1', envFrom: [{ secretRef: { name: OLD } }] };
  await apps.createNamespacedDeployment({ namespace: 'staging', body: staging });
  url = await git.createRepository(REPO, {
    'apps/production/auth-api.yaml': `# production's auth API: Flux applies it (Kustomization ${FLUX_NAMESPACE}/${KUSTOMIZATION})\n${stringify({ apiVersion: 'apps/v1', kind: 'Deployment', ...authDeployment('auth-api', OLD) })}`,
    'apps/production/kustomization.yaml': stringify({ apiVersion: 'kustomize.config.k8s.io/v1beta1', kind: 'Kustomization', resources: ['auth-api.yaml'] }),
  });
  // ledger-secrets: its old version in AWS, and as the ExternalSecret a rotation in Git mode committed beside the Deployment.
  operator = await startEsoOperator(sandbox.plane, { awsEndpoint: moto.url });
  await createAwsSecretStore(sandbox.plane.kubeconfig, { kind: 'ClusterSecretStore', name: 'aws', namespace: 'default', region: 'us-east-1' });
  const sdk = new SecretsManagerClient({ region: 'us-east-1', endpoint: moto.url, credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' } });
  await sdk.send(
    new CreateSecretCommand({
      Name: LEDGER_AWS,
      SecretString: JSON.stringify({ api_token: LEDGER_OLD_VALUE }),
      ClientRequestToken: new AwsSecretsManager().versionToken(LEDGER_OLD),
    }),
  );
  sdk.destroy();
  recordValues([LEDGER_OLD_VALUE]);
  await core.createNamespace({ body: { metadata: { name: 'ledger' } } });
  const oldExternalSecret = externalSecretBody({
    namespace: 'ledger',
    name: LEDGER_OLD,
    base: LEDGER,
    rotationId: 'earlier/run',
    store: { kind: 'external-secrets', secretId: LEDGER_AWS, region: 'us-east-1' },
    secretStoreRef: { name: 'aws', kind: 'ClusterSecretStore' },
    remoteRef: new ExternalSecretsStore({ region: 'us-east-1' }).remoteRef({ version: LEDGER_OLD, target: { awsSecretsManager: { secretId: LEDGER_AWS } } }),
  });
  ledgerUrl = await git.createRepository('ledger', {
    'apps/ledger/ledger.yaml': `# the ledger, applied by Flux\n${stringify({ apiVersion: 'apps/v1', kind: 'Deployment', ...authDeployment('ledger', LEDGER_OLD) })}`,
    [`apps/ledger/${LEDGER_OLD}.external-secret.yaml`]: stringify(oldExternalSecret),
    'apps/ledger/kustomization.yaml': `resources:\n  - ledger.yaml # the workload\n  - ${LEDGER_OLD}.external-secret.yaml\n`,
  });
  flux = await startFlux(sandbox.plane);
  // Fetched every few seconds, as a team with a webhook would see it: rotor waits for the controller.
  await flux.createGitRepository({ name: REPO, url, token: git.token, interval: '3s' });
  await flux.createKustomization({ name: KUSTOMIZATION, source: REPO, path: './apps/production', targetNamespace: 'production', interval: '3s' });
  await flux.createGitRepository({ name: 'ledger', url: ledgerUrl, token: git.token, interval: '3s' });
  await flux.createKustomization({ name: 'apps-ledger', source: 'ledger', path: './apps/ledger', targetNamespace: 'ledger', interval: '3s' });
  await waitFor(
    'Flux applies the ledger and the operator writes its Secret',
    async () => (await core.readNamespacedSecret({ namespace: 'ledger', name: LEDGER_OLD }).catch(() => null)) !== null,
    120_000,
  );
  await waitFor(
    'Flux applies production',
    async () => (await apps.readNamespacedDeployment({ namespace: 'production', name: 'auth-api' }).catch(() => null)) !== null,
  );
  // The worker: its ServiceAccount, and the Git token in a file only it reads.
  const workerKubeconfig = await workerKubeconfigFor(sandbox.plane, dir);
  const tokenFile = join(dir, 'git-token');
  writeFileSync(tokenFile, git.token, { mode: 0o600 });
  server = await startDevServer();
  env = { TEMPORAL_ADDRESS: server.address, ROTOR_BACKEND: 'kubernetes', KUBECONFIG: workerKubeconfig, ROTOR_OPERATOR: 'e2e' };
  worker = await startWorker({
    ...env,
    ROTOR_GIT_TOKEN_FILE: tokenFile,
    ROTOR_GIT_CACHE_DIR: join(dir, 'clones'),
    ROTOR_STORES: 'kubernetes,external-secrets',
    ROTOR_AWS_ENDPOINT: moto.url,
    AWS_REGION: 'us-east-1',
    AWS_ACCESS_KEY_ID: 'testing',
    AWS_SECRET_ACCESS_KEY: 'testing',
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
  });
});

after(() =>
  stopEach([
    ['leak evidence', async () => sandbox && recordClusterSecrets(sandbox.plane.kubeconfig)],
    ['git repositories', async () => git && recordRepositories(git)],
    ['worker', () => worker?.stop()],
    ['dev server', () => server?.stop()],
    ['flux', () => flux?.stop()],
    ['external secrets operator', () => operator?.stop()],
    ['moto', () => moto?.stop()],
    ['git server', () => git?.stop()],
    ['sandbox', () => sandbox?.stop()],
  ]),
);

describe('Git mode with the real Flux', () => {
  it('refuses in PLANNING the plan without gitops, naming the Flux Kustomization, with nothing changed', async () => {
    const file = await plan('no-gitops', { generate: { keys: ['api_token'], length: 32 } }, false);
    const r = await rotor(['start', '-f', file, '--watch', '--interval', '0.5'], env, 120_000);
    assert.equal(r.code, 4, `${r.stdout}\n${r.stderr}\n${worker.output()}`);
    const s = await rotorStatus(`rotate-staging-${SECRET}`, env);
    assert.equal(s.phase, 'FAILED');
    assert.match(
      s.outcome!,
      new RegExp(`production: Deployment/auth-api is managed by Flux Kustomization ${FLUX_NAMESPACE}/${KUSTOMIZATION}.*give the stage gitops settings`),
    );
    assert.equal((await logOf(git.root, REPO, 'main')).length, 1, 'nothing committed');
  });

  it('completes with production switched only through Git: rotor commits, kustomize-controller writes the live reference', async () => {
    const file = await plan('rotation', { generate: { keys: ['api_token'], length: 32 } });
    const r = await rotor(['start', '-f', file, '--watch', '--interval', '0.5'], env, 300_000);
    assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}\n${worker.output()}`);
    const s = await rotorStatus(`rotate-staging-${SECRET}`, env);
    assert.equal(s.phase, 'COMPLETED', s.outcome ?? '');
    const version = s.newVersion!;
    const log = await logOf(git.root, REPO, 'main');
    assert.match(log[0], new RegExp(`^[0-9a-f]{40} rotor: ${SECRET} in production \\(production\\): ${OLD} -> ${version}$`));
    const live = await apps.readNamespacedDeployment({ namespace: 'production', name: 'auth-api' });
    assert.equal(await tokenSecretOf(apps, 'production', 'auth-api'), version);
    assert.deepEqual(owners(live), ['kustomize-controller/Apply'], 'Flux, not rotor, wrote the reference');
    assert.deepEqual(
      Object.keys(live.metadata!.annotations ?? {}).filter((k) => k.startsWith('rotor.dev/')),
      [],
      'no record of rotor on what Git applies',
    );
    assert.equal(await stagingSecret(), version, 'staging switched live');
    assert.ok(
      s.events.some((e) => /Flux Kustomization flux-system\/apps-production applied [0-9a-f]{7} in production/.test(e.message)),
      JSON.stringify(s.events),
    );
    for (const ns of ['staging', 'production'])
      await assert.rejects(core.readNamespacedSecret({ namespace: ns, name: OLD }), (err: { code?: number }) => err.code === 404, `${OLD} deleted in ${ns}`);
  });

  it("rolls back through a revert commit when production's pods cannot read the new version, Flux putting the previous one back", async () => {
    const previous = await tokenSecretOf(apps, 'production', 'auth-api');
    const before = (await logOf(git.root, REPO, 'main')).length;
    // Staging reads any key and rolls out; production reads api_token, which this version lacks.
    const file = await plan('missing-key', { generate: { keys: ['wrong_key'], length: 32 } });
    const r = await rotor(['start', '-f', file, '--watch', '--interval', '0.5'], env, 300_000);
    assert.equal(r.code, 3, `${r.stdout}\n${r.stderr}\n${worker.output()}`);
    const s = await rotorStatus(`rotate-staging-${SECRET}`, env);
    assert.equal(s.phase, 'ROLLED_BACK', s.outcome ?? '');
    assert.match(s.outcome!, /rollout in production did not become ready/);
    const log = await logOf(git.root, REPO, 'main');
    assert.equal(log.length, before + 2, 'the switch, then its revert');
    assert.match(log[1], new RegExp(`rotor: ${SECRET} in production \\(production\\): ${previous} -> ${s.newVersion}$`));
    assert.match(log[0], new RegExp(`rotor: roll back ${SECRET} in production \\(production\\) to ${previous}$`));
    await waitFor('Flux applies the revert', async () => (await tokenSecretOf(apps, 'production', 'auth-api')) === previous);
    assert.deepEqual(owners(await apps.readNamespacedDeployment({ namespace: 'production', name: 'auth-api' })), ['kustomize-controller/Apply']);
    assert.equal(await stagingSecret(), previous, 'staging reverted live');
  });

  it('commits the new ExternalSecret beside the Deployment, switches it through Git, and removes the old one from Git and the cluster', async () => {
    const file = await writePlan(sandbox.plane, dir, 'ledger', {
      secret: LEDGER,
      value: { generate: { keys: ['api_token'], length: 32 } },
      store: 'external-secrets',
      awsSecretsManager: { secretId: LEDGER_AWS, region: 'us-east-1' },
      externalSecrets: { secretStoreRef: { name: 'aws', kind: 'ClusterSecretStore' } },
      stages: [{ name: 'ledger', namespace: 'ledger', strategy: 'rolling', watch: '1s', rolloutTimeout: '60s' }],
      gitops: { repo: ledgerUrl, path: 'apps/ledger', author: { name: 'rotor', email: 'rotor@example.test' }, syncTimeout: '2m' },
      retention: '1s',
      cleanupRecheck: '2s',
    });
    const r = await rotor(['start', '-f', file, '--watch', '--interval', '0.5'], env, 300_000);
    assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}\n${worker.output()}\n${operator.output().slice(-1500)}`);
    const s = await rotorStatus(`rotate-ledger-${LEDGER}`, env);
    assert.equal(s.phase, 'COMPLETED', s.outcome ?? '');
    const version = s.newVersion!;
    const log = (await logOf(git.root, 'ledger', 'main')).map((l) => l.slice(41));
    assert.deepEqual(log.slice(0, 3), [
      `rotor: ${LEDGER}: remove ExternalSecret ${LEDGER_OLD}`,
      `rotor: ${LEDGER} in ledger (ledger): ${LEDGER_OLD} -> ${version}`,
      `rotor: ${LEDGER}: ExternalSecret ${version} for ledger`,
    ]);
    assert.equal(
      fileAt(git, 'ledger', 'apps/ledger/kustomization.yaml'),
      `resources:\n  - ledger.yaml # the workload\n  - ${version}.external-secret.yaml\n`,
      'the old entry gone, the new one added in the same style',
    );
    // Flux created the ExternalSecret, the operator wrote the Secret from AWS, and the Deployment reads it.
    const custom = (() => {
      const kc = new k8s.KubeConfig();
      kc.loadFromFile(sandbox.plane.kubeconfig);
      return kc.makeApiClient(k8s.CustomObjectsApi);
    })();
    const es = (await custom.getNamespacedCustomObject({
      group: 'external-secrets.io',
      version: 'v1',
      namespace: 'ledger',
      plural: 'externalsecrets',
      name: version,
    })) as k8s.KubernetesObject;
    assert.deepEqual(
      [...new Set((es.metadata?.managedFields ?? []).filter((m) => m.operation === 'Apply').map((m) => m.manager))],
      ['kustomize-controller'],
      'Flux, not rotor, created it',
    );
    const secret = await core.readNamespacedSecret({ namespace: 'ledger', name: version });
    assert.deepEqual(
      secret.metadata?.ownerReferences?.map((o) => `${o.kind}/${o.name}`),
      [`ExternalSecret/${version}`],
    );
    assert.equal(await tokenSecretOf(apps, 'ledger', 'ledger'), version);
    // The old version: out of Git first, then out of the cluster; Flux (prune off here) never brought it back.
    await assert.rejects(
      custom.getNamespacedCustomObject({ group: 'external-secrets.io', version: 'v1', namespace: 'ledger', plural: 'externalsecrets', name: LEDGER_OLD }),
      (err: { code?: number }) => err.code === 404,
    );
    await assert.rejects(core.readNamespacedSecret({ namespace: 'ledger', name: LEDGER_OLD }), (err: { code?: number }) => err.code === 404);
    assert.ok(
      s.events.some((e) =>
        new RegExp(`^committed [0-9a-f]{7} to .*ledger.* main: apps/ledger/${version}\\.external-secret\\.yaml \\(the ExternalSecret of ${version}\\)$`).test(
          e.message,
        ),
      ),
      JSON.stringify(s.events.map((e) => e.message)),
    );
  });
});
