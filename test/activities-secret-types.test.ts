// The discover and createVersion activities keep the Secret type: discover reports each previous
// version's type (never its value); createVersion judges the value for the type once it is resolved
// and before any store or cluster write, refusing at once (not retryable) with no value in the error
// or the log. Memory adapters, a mock activity context, and a store double that records its writes.
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, it } from 'node:test';
import * as k8s from '@kubernetes/client-node';
import { ApplicationFailure } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import { createActivities, type CreateVersionInput, type SecretData, type SecretStorePort, type StageRequest } from '../activities';
import { MemoryCluster } from '../activities/memory';
import { KubernetesCluster } from '../activities/kubernetes';
import type { RotorError } from '../activities/errors';
import { KubernetesSecretStore } from '../activities/store-kubernetes';
import { recordValues } from './helpers/leak';

const BASE = 'registry-creds';
const OLD = `${BASE}-20250101000000`;
const NEW = `${BASE}-20251206120000`;
const DOCKER = 'kubernetes.io/dockerconfigjson';
const PULL = 'imagePullSecrets[].name';
const OLD_CONFIG = JSON.stringify({ auths: { 'registry.example.test': { auth: 'cm9ib3Q6b2xkLXB1bGwtMjI=' } } });

/** A store that writes what it stages (as AWS does), judging the value first as the port asks. */
class WritingStore implements SecretStorePort {
  readonly kind = 'kubernetes' as const;
  readonly writes: SecretData[] = [];
  constructor(private readonly value: SecretData) {}
  async stageVersion(request: StageRequest): Promise<SecretData> {
    request.check?.(this.value);
    this.writes.push({ ...this.value });
    return { ...this.value };
  }
  async promoteVersion(): Promise<void> {}
  async markFailed(): Promise<void> {}
  async deleteVersion(): Promise<void> {}
}

function setup(store: SecretStorePort = new KubernetesSecretStore()) {
  const cluster = new MemoryCluster({
    secrets: [
      { namespace: 'staging', name: OLD, type: DOCKER, data: { '.dockerconfigjson': OLD_CONFIG } },
      { namespace: 'production', name: OLD, data: { '.dockerconfigjson': OLD_CONFIG } },
    ],
    workloads: ['staging', 'production'].map((namespace) => ({ kind: 'Deployment' as const, namespace, name: 'puller', refs: { [PULL]: OLD } })),
  });
  const logs: string[] = [];
  const acts = createActivities({ cluster, stores: { kubernetes: store }, metrics: {}, log: (m, f) => logs.push(`${m} ${JSON.stringify(f ?? {})}`) });
  return { cluster, acts, logs };
}

function run<I, O>(fn: (input: I) => Promise<O>, input: I): Promise<O> {
  return new MockActivityEnvironment().run(fn as (input: unknown) => Promise<O>, input);
}

const input = (over: Partial<CreateVersionInput> = {}): CreateVersionInput => ({
  secret: BASE,
  version: NEW,
  rotationId: 'rotate-types/run',
  value: { fromFile: 'registry.env' },
  store: 'kubernetes',
  namespaces: ['staging', 'production'],
  type: DOCKER,
  ...over,
});

/** A refusal the workflow acts on at once, naming the type and key, with no value in it nor in the log. */
async function refusedAtOnce(p: Promise<unknown>, says: RegExp, values: string[], logs: string[]): Promise<void> {
  await assert.rejects(p, (err: ApplicationFailure) => {
    assert.equal(err.type, 'RotorInputError');
    assert.equal(err.nonRetryable, true, 'a value no good for the type is not retried');
    assert.match(err.message, says);
    for (const v of values) assert.ok(!err.message.includes(v) && !logs.join('\n').includes(v), 'no value in the error or the log');
    return true;
  });
}

describe('activities keep the Secret type', () => {
  it('discover reports the previous version’s type in each namespace (Opaque when it has none), never its value', async () => {
    const { acts } = setup();
    const found = await run(acts.discover, {
      secret: BASE,
      stages: [
        { name: 'staging', namespace: 'staging', workloads: 'auto' as const },
        { name: 'production', namespace: 'production', workloads: 'auto' as const },
      ],
    });
    assert.deepEqual(
      found.map((f) => [f.namespace, f.previousVersion, f.previousType]),
      [
        ['staging', OLD, DOCKER],
        ['production', OLD, 'Opaque'],
      ],
    );
    assert.ok(!JSON.stringify(found).includes('cm9ib3Q6b2xkLXB1bGwtMjI='));
  });

  it('createVersion creates every copy with the type, from a value that fits it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'rotor-types-acts-'));
    const config = JSON.stringify({ auths: { 'registry.example.test': { auth: 'cm9ib3Q6bmV3LXB1bGwtOTE=' } } });
    recordValues([config]);
    writeFileSync(join(dir, 'registry.env'), `.dockerconfigjson=${config}\n`);
    const { cluster, acts } = setup(new KubernetesSecretStore({ valueDir: dir }));
    const created = await run(acts.createVersion, input());
    assert.deepEqual(created, { outcome: 'created', namespaces: ['staging', 'production'], keys: ['.dockerconfigjson'] });
    for (const ns of ['staging', 'production']) assert.equal(await cluster.readVersionType(ns, NEW), DOCKER);
    // A retry after the effect finds the same version of the same type.
    assert.equal((await run(acts.createVersion, input())).outcome, 'exists');
  });

  it('createVersion refuses a value that does not fit before the store writes it or any Secret is created', async () => {
    const bad = { '.dockerconfigjson': '{"registry.example.test":{"auth":"cm9ib3Q6YmFkLXB1bGwtNDQ="}}' };
    recordValues(Object.values(bad));
    const store = new WritingStore(bad);
    const { cluster, acts, logs } = setup(store);
    await refusedAtOnce(
      run(acts.createVersion, input({ value: { awsSecretsManager: { secretId: '/registry' } } })),
      /create registry-creds-20251206120000: the Secret type kubernetes\.io\/dockerconfigjson \(kept from the previous version\) .*key \.dockerconfigjson has no auths object/,
      [...Object.values(bad), 'cm9ib3Q6YmFkLXB1bGwtNDQ='],
      logs,
    );
    assert.deepEqual(store.writes, [], 'the store wrote nothing');
    assert.deepEqual(
      cluster.world.secrets.map((s) => `${s.namespace}/${s.name}`),
      [`staging/${OLD}`, `production/${OLD}`],
    );
  });

  it('createVersion refuses a type that is not rotor’s to rotate, whatever the value, and creates nothing', async () => {
    const store = new WritingStore({ token: 'sa-token-value-Lk30' });
    const { cluster, acts, logs } = setup(store);
    await refusedAtOnce(
      run(acts.createVersion, input({ type: 'kubernetes.io/service-account-token' })),
      /kubernetes\.io\/service-account-token .*is not rotor's to rotate/,
      ['sa-token-value-Lk30'],
      logs,
    );
    assert.deepEqual(store.writes, []);
    assert.equal(await cluster.readVersionType('staging', NEW), null);
  });

  it('createVersion without a type (older histories) creates Opaque versions of anything, as before', async () => {
    const store = new WritingStore({ api_token: 'opaque-token-Rr51' });
    const { cluster, acts } = setup(store);
    await run(acts.createVersion, input({ type: undefined }));
    assert.equal(await cluster.readVersionType('production', NEW), 'Opaque');
    assert.equal(store.writes.length, 1);
  });

  it('the Kubernetes adapter never guesses Opaque: an answer without a Type column is an error, a missing Secret null', async () => {
    // A stand-in apiserver answering kubectl's Table: Name only for one Secret, 404 for another.
    const server = createServer((req, res) => {
      assert.match(String(req.headers.accept), /as=Table/, 'asked for the Table, not the Secret with its data');
      if (req.url?.startsWith('/api/v1/namespaces/staging/secrets/gone')) {
        res.writeHead(404, { 'content-type': 'application/json' }).end(JSON.stringify({ kind: 'Status', reason: 'NotFound', code: 404 }));
        return;
      }
      const table = { kind: 'Table', apiVersion: 'meta.k8s.io/v1', columnDefinitions: [{ name: 'Name' }], rows: [{ cells: [OLD] }] };
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(table));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const kc = new k8s.KubeConfig();
      const serverUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      kc.loadFromOptions({
        clusters: [{ name: 'c', server: serverUrl, skipTLSVerify: true }],
        users: [{ name: 'u' }],
        contexts: [{ name: 'x', cluster: 'c', user: 'u' }],
        currentContext: 'x',
      });
      const cluster = new KubernetesCluster(kc);
      await assert.rejects(cluster.readVersionType('staging', OLD), (err: RotorError) => {
        assert.equal(err.type, 'Unavailable');
        assert.match(err.message, /read the type of Secret staging\/registry-creds-20250101000000: the apiserver's answer has no Type column/);
        return true;
      });
      assert.equal(await cluster.readVersionType('staging', 'gone'), null);
    } finally {
      server.close();
    }
  });
});
