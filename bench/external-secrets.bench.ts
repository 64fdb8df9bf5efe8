// What External Secrets mode costs a rotation's CREATING and cleanup, against the kubernetes store's
// plain Secret: the real External Secrets Operator (v0.16.2) on the sandbox's apiserver, reading moto.
// Per version: create -> its Secret written (ExternalSecret Ready, or the Secret itself), and the
// guarded delete (scan, then ExternalSecret and Secret, or the Secret). Sequential, then a batch of
// versions created at once in as many namespaces (one rotation's stages).
// Run: npm run bench:eso   (ROTOR_BENCH_VERSIONS=15, ROTOR_BENCH_BATCH=5)
import { performance } from 'node:perf_hooks';
import * as k8s from '@kubernetes/client-node';
import { CreateSecretCommand, PutSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { KubernetesCluster } from '../activities/kubernetes';
import { ExternalSecretsStore } from '../activities/stores/aws-store';
import { startSandbox } from '../sandbox';
import { createAwsSecretStore, startEsoOperator } from '../sandbox/eso-operator';
import { startMoto } from '../sandbox/moto';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';
const VERSIONS = Number(process.env.ROTOR_BENCH_VERSIONS ?? 15);
const BATCH = Number(process.env.ROTOR_BENCH_BATCH ?? 5);
const BASE = 'bench-secrets';
const REGION = 'us-east-1';

function quantile(xs: number[], q: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))];
}

const median = (xs: number[]) => quantile(xs, 0.5);

async function until(probe: () => Promise<boolean>): Promise<void> {
  while (!(await probe())) await new Promise((r) => setTimeout(r, 20));
}

async function main(): Promise<void> {
  const [sandbox, moto] = await Promise.all([startSandbox({ readyDelayMs: 300 }), startMoto()]);
  const operator = await startEsoOperator(sandbox.plane, { awsEndpoint: moto.url });
  try {
    await createAwsSecretStore(sandbox.plane.kubeconfig, { kind: 'ClusterSecretStore', name: 'aws', namespace: 'default', region: REGION });
    const kc = new k8s.KubeConfig();
    kc.loadFromFile(sandbox.plane.kubeconfig);
    const core = kc.makeApiClient(k8s.CoreV1Api);
    const cluster = new KubernetesCluster(kc);
    const settings = { region: REGION, endpoint: moto.url, credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' } };
    const store = new ExternalSecretsStore(settings);
    const sdk = new SecretsManagerClient(settings);
    const secretId = '/bench/token';
    const namespaces = Array.from({ length: BATCH }, (_, i) => `bench-${i}`);
    for (const ns of namespaces) await core.createNamespace({ body: { metadata: { name: ns } } });
    const version = (i: number) => `${BASE}-${String(20261130000000 + i)}`;
    const total = VERSIONS + 1;
    for (let i = 0; i < total; i++) {
      const input = { SecretString: JSON.stringify({ api_token: `bench-value-${i}` }), ClientRequestToken: store.client().versionToken(version(i)) };
      if (i === 0) await sdk.send(new CreateSecretCommand({ Name: secretId, ...input }));
      else await sdk.send(new PutSecretValueCommand({ SecretId: secretId, ...input }));
    }
    const target = { awsSecretsManager: { secretId, region: REGION } };
    const esoSpec = (ns: string, v: string) => ({
      namespace: ns,
      name: v,
      base: BASE,
      rotationId: 'bench',
      store: { kind: 'external-secrets' as const, secretId, region: REGION },
      secretStoreRef: { name: 'aws', kind: 'ClusterSecretStore' as const },
      remoteRef: store.remoteRef({ version: v, target }),
    });
    const plainSpec = (ns: string, v: string) => ({ namespace: ns, name: `${v}-plain`, base: BASE, rotationId: 'bench', data: { api_token: 'bench-plain' } });

    // Warm-up: the operator's first sync builds its AWS client.
    await cluster.externalSecrets.createExternalVersion(esoSpec('default', version(VERSIONS)));
    await until(async () => (await cluster.externalSecrets.externalVersionState('default', version(VERSIONS))).ready);

    const rows: [string, number[]][] = [];
    const esoCreate: number[] = [];
    const plainCreate: number[] = [];
    const esoDelete: number[] = [];
    const plainDelete: number[] = [];
    for (let i = 0; i < VERSIONS; i++) {
      const v = version(i);
      let t = performance.now();
      await cluster.externalSecrets.createExternalVersion(esoSpec('default', v));
      await until(async () => (await cluster.externalSecrets.externalVersionState('default', v)).ready);
      esoCreate.push(performance.now() - t);
      t = performance.now();
      await cluster.createVersion(plainSpec('default', v));
      plainCreate.push(performance.now() - t);
      t = performance.now();
      await cluster.deleteUnreferenced('default', v, { externalSecret: true });
      esoDelete.push(performance.now() - t);
      t = performance.now();
      await cluster.deleteUnreferenced('default', `${v}-plain`);
      plainDelete.push(performance.now() - t);
    }
    rows.push(
      ['ExternalSecret created -> Ready with its Secret', esoCreate],
      ['plain Secret created (store kubernetes)', plainCreate],
      ['guarded delete: scan, ExternalSecret, Secret', esoDelete],
      ['guarded delete: scan, Secret (store kubernetes)', plainDelete],
    );
    const batches: number[] = [];
    for (let b = 0; b < 3; b++) {
      const v = `${version(b)}-b`;
      const t = performance.now();
      await Promise.all(
        namespaces.map((ns) =>
          cluster.externalSecrets.createExternalVersion({ ...esoSpec(ns, v), remoteRef: store.remoteRef({ version: version(b), target }) }),
        ),
      );
      await until(async () => (await Promise.all(namespaces.map((ns) => cluster.externalSecrets.externalVersionState(ns, v)))).every((s) => s.ready));
      batches.push(performance.now() - t);
    }
    rows.push([`${BATCH} namespaces at once -> all Ready (3 runs)`, batches]);

    const ms = (x: number) => `${x.toFixed(0).padStart(6)} ms`;
    console.log(`| ${`External Secrets mode (${VERSIONS} versions, sequential)`.padEnd(50)} | median    | p90       | max       |`);
    console.log(`|${'-'.repeat(52)}|-----------|-----------|-----------|`);
    for (const [name, xs] of rows) console.log(`| ${name.padEnd(50)} | ${ms(median(xs))} | ${ms(quantile(xs, 0.9))} | ${ms(Math.max(...xs))} |`);
    console.log(
      `\ncreate: ExternalSecret ${(median(esoCreate) / median(plainCreate)).toFixed(1)}x the plain Secret (medians); delete: ${(median(esoDelete) / median(plainDelete)).toFixed(1)}x`,
    );
    sdk.destroy();
  } finally {
    await operator.stop();
    await moto.stop();
    await sandbox.stop();
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
