// The AWS Secrets Manager adapter against a real moto_server (installed by the bootstrap, --moto):
// a version's whole life through the staging labels (staged as AWSPENDING, retried, refused with
// other content, promoted to AWSCURRENT, the old one AWSPREVIOUS then retired), a rollback that never
// moves AWSCURRENT, and each error rotor maps (from moto where moto can produce it, otherwise from a
// local stub that answers as AWS does), none of which ever carries a secret value.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  CreateSecretCommand,
  DescribeSecretCommand,
  GetSecretValueCommand,
  ListSecretVersionIdsCommand,
  PutSecretValueCommand,
  SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager';
import { RotorError, type RotorErrorType } from '../activities/errors';
import { AWSCURRENT, AWSPENDING, AWSPREVIOUS, AwsSecretsManager, parseSecretString } from '../activities/stores/aws-secrets-manager';
import { freePort } from '../sandbox/control-plane';
import { startMoto, type MotoServer } from '../sandbox/moto';
import { repoRoot } from '../sandbox/tools';
import { workerConfig } from '../worker/config';
import { AwsSecretsManagerStore } from '../activities/stores/aws-store';
import { recordText, recordValues } from './helpers/leak';

// SDK 3.1164.0 warns once that its releases after early 2027 need Node 22 (it is pinned for Node 20).
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';

const region = 'us-east-1';
// moto accepts any credentials unless started with its IAM checks on (see the Forbidden test).
const credentials = { accessKeyId: 'testing', secretAccessKey: 'testing' };

let moto: MotoServer;
let store: AwsSecretsManager;
let sdk: SecretsManagerClient;
/** Every value written in this file: no error message may contain one. */
const canaries: string[] = [];

function canary(): string {
  const value = `rotor-leak-canary-${randomBytes(8).toString('hex')}`;
  canaries.push(value);
  recordValues([value]);
  return value;
}

const uniqueId = (prefix: string) => `${prefix}-${randomBytes(4).toString('hex')}`;

/** A secret with a first version (rotor's `initial`) as AWSCURRENT, created through the SDK. */
async function createSecret(initial: string, data: Record<string, string>): Promise<string> {
  const name = uniqueId('rotor-aws-store');
  await sdk.send(new CreateSecretCommand({ Name: name, SecretString: JSON.stringify(data), ClientRequestToken: store.versionToken(initial) }));
  return name;
}

/** Asserts a RotorError of `type` whose message matches `message` and holds no secret value. */
async function rejectsWith(promise: Promise<unknown>, type: RotorErrorType, message?: RegExp): Promise<RotorError> {
  let caught: unknown;
  await promise.then(
    () => assert.fail(`expected a ${type}`),
    (err: unknown) => (caught = err),
  );
  recordText('AWS store error', String((caught as Error)?.message ?? caught));
  assert.ok(caught instanceof RotorError, `a RotorError, not ${String(caught)}`);
  assert.equal(caught.type, type, caught.message);
  if (message) assert.match(caught.message, message);
  for (const value of canaries) assert.ok(!caught.message.includes(value), `the message holds a secret value: ${caught.message}`);
  return caught;
}

before(async () => {
  moto = await startMoto();
  store = new AwsSecretsManager({ region, endpoint: moto.url, credentials, maxAttempts: 2 });
  sdk = new SecretsManagerClient({ region, endpoint: moto.url, credentials });
});

after(async () => {
  sdk?.destroy();
  await moto?.stop();
});

describe('AWS Secrets Manager store on moto_server', () => {
  it('maps rotor versions to stable VersionIds of 32-64 characters', () => {
    const id = store.versionToken('api-token-20260101120000');
    assert.match(id, /^rotor-[0-9a-f]{40}$/);
    assert.ok(id.length >= 32 && id.length <= 64);
    assert.equal(store.versionToken('api-token-20260101120000'), id);
    assert.notEqual(store.versionToken('api-token-20260101120001'), id);
  });

  it('loads the AWS SDK only on the first call', () => {
    const script = `const { AwsSecretsManager } = require(${JSON.stringify(join(repoRoot, 'dist', 'activities', 'stores', 'aws-secrets-manager.js'))});
new AwsSecretsManager({ region: 'us-east-1' }).versionToken('x');
process.stdout.write(String(Object.keys(require.cache).some((k) => k.includes('@aws-sdk'))));`;
    const run = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8' });
    assert.equal(run.status, 0, run.stderr);
    assert.equal(run.stdout, 'false');
  });

  it("refuses in PLANNING to start over another rotation's AWSPENDING, unless the plan takes that staged value", async () => {
    const planning = new AwsSecretsManagerStore({ region, endpoint: moto.url, credentials, maxAttempts: 2 });
    // AWS keeps one AWSPENDING per secret; staging another version moves the label (as AWS's own
    // RotateSecret refuses to start while a version other than its own is AWSPENDING).
    const byRotor = await createSecret('pending-20260101000000', { token: canary() });
    await store.stage({ secretId: byRotor, version: 'pending-20261130000000', data: { token: canary() } });
    const target = { awsSecretsManager: { secretId: byRotor } };
    const rotorPending = await rejectsWith(planning.check(target, { generate: { keys: ['token'], length: 32 } }), 'OwnershipConflict');
    assert.match(
      rotorPending.message,
      new RegExp(`version ${store.versionToken('pending-20261130000000')} of ${byRotor} is AWSPENDING: another rotor rotation`),
    );
    assert.match(rotorPending.message, /--version-stage AWSPENDING --remove-from-version-id rotor-[0-9a-f]{40}$/);

    const byLambda = await createSecret('lambda-20260101000000', { token: canary() });
    const lambdaVersion = '5a1b2c3d-0000-4000-8000-00000000feed';
    await sdk.send(
      new PutSecretValueCommand({
        SecretId: byLambda,
        SecretString: JSON.stringify({ token: canary() }),
        ClientRequestToken: lambdaVersion,
        VersionStages: [AWSPENDING],
      }),
    );
    const lambda = { awsSecretsManager: { secretId: byLambda } };
    await rejectsWith(
      planning.check(lambda, { generate: { keys: ['token'], length: 32 } }),
      'OwnershipConflict',
      new RegExp(
        `version ${lambdaVersion} of ${byLambda} is AWSPENDING: someone else staged it .* or use its value \\(value: \\{ awsSecretsManager: \\{ secretId: ${byLambda}, versionStage: AWSPENDING \\} \\}\\)`,
      ),
    );
    // Taking that very value is what the label is there for.
    assert.match(
      await planning.check(lambda, { awsSecretsManager: { secretId: byLambda, versionStage: 'AWSPENDING' } }),
      new RegExp(`AWSPENDING is ${lambdaVersion}, the value this rotation takes$`),
    );
    // A value from AWSCURRENT, or from another secret, does not account for it.
    await rejectsWith(planning.check(lambda, { awsSecretsManager: { secretId: byLambda, versionStage: 'AWSCURRENT' } }), 'OwnershipConflict');
    await rejectsWith(planning.check(lambda, { awsSecretsManager: { secretId: byRotor } }), 'OwnershipConflict');
    // Nothing pending: nothing in the way.
    const clear = await createSecret('clear-20260101000000', { token: canary() });
    assert.match(
      await planning.check({ awsSecretsManager: { secretId: clear } }),
      /^AWS Secrets Manager secret .* answers; AWSCURRENT is version rotor-[0-9a-f]{40}$/,
    );
  });

  it('lives a version through stage, retry, mismatch, promote and retire', async () => {
    const [v0, v1] = ['api-token-20260101000000', 'api-token-20260201000000'];
    const [id0, id1] = [store.versionToken(v0), store.versionToken(v1)];
    const first = { token: canary() };
    const second = { token: canary(), user: 'rotor' };
    const secretId = await createSecret(v0, first);

    const described = await store.describe(secretId);
    assert.equal(described.name, secretId);
    assert.match(described.arn, new RegExp(`^arn:aws:secretsmanager:${region}:\\d+:secret:${secretId}-`));
    // AWS: CreateSecret with a value makes that version AWSCURRENT, under the ClientRequestToken as VersionId.
    assert.deepEqual(await store.labels(secretId), { [id0]: [AWSCURRENT] });

    assert.deepEqual(await store.stage({ secretId, version: v1, data: second }), { versionId: id1, created: true });
    // AWS: PutSecretValue with VersionStages [AWSPENDING] labels only the new version; AWSCURRENT stays where it was.
    assert.deepEqual(await store.labels(secretId), { [id0]: [AWSCURRENT], [id1]: [AWSPENDING] });
    assert.deepEqual(await store.read({ secretId, versionStage: AWSPENDING }), second);
    assert.deepEqual(await store.read({ secretId, versionStage: AWSCURRENT }), first);
    assert.deepEqual(await store.read({ secretId, versionId: id1 }), second);

    // A retried stage: the same VersionId, nothing new written.
    assert.deepEqual(await store.stage({ secretId, version: v1, data: { user: 'rotor', token: second.token } }), { versionId: id1, created: false });
    const versions = await sdk.send(new ListSecretVersionIdsCommand({ SecretId: secretId, IncludeDeprecated: true }));
    assert.deepEqual(versions.Versions?.map((v) => v.VersionId).sort(), [id0, id1].sort());
    // AWS: a PutSecretValue with an existing ClientRequestToken and the same value changes no label.
    assert.deepEqual(await store.labels(secretId), { [id0]: [AWSCURRENT], [id1]: [AWSPENDING] });

    // Another value under the same version: refused, and (moto would overwrite) nothing written.
    const other = { token: canary(), user: 'rotor' };
    await rejectsWith(
      store.stage({ secretId, version: v1, data: other }),
      'VersionContentMismatch',
      /version api-token-20260201000000 .* already holds another value/,
    );
    assert.deepEqual(await store.read({ secretId, versionId: id1 }), second);

    assert.deepEqual(await store.promote({ secretId, version: v1 }), { versionId: id1, changed: true });
    // AWS: moving AWSCURRENT with RemoveFromVersionId leaves exactly one AWSCURRENT, and the version
    // that lost it gets AWSPREVIOUS; AWSPENDING came off the new version (rotor removes it explicitly).
    assert.deepEqual(await store.labels(secretId), { [id0]: [AWSPREVIOUS], [id1]: [AWSCURRENT] });
    assert.deepEqual(await store.read({ secretId, versionStage: AWSCURRENT }), second);
    assert.deepEqual(await store.read({ secretId, versionStage: AWSPREVIOUS }), first);
    const current = await sdk.send(new GetSecretValueCommand({ SecretId: secretId, VersionStage: AWSCURRENT }));
    assert.equal(current.VersionId, id1);

    // Promoted again: already current, nothing changes.
    assert.deepEqual(await store.promote({ secretId, version: v1 }), { versionId: id1, changed: false });
    // AWS: labels are unique within a secret; a second promote leaves them as they were.
    assert.deepEqual(await store.labels(secretId), { [id0]: [AWSPREVIOUS], [id1]: [AWSCURRENT] });

    // The current version cannot be retired.
    await rejectsWith(store.retire({ secretId, version: v1 }), 'Conflict', /is AWSCURRENT .* rotor retires only versions that are no longer current/);
    // AWS: a refused retire wrote nothing; AWSCURRENT stays on the new version.
    assert.deepEqual(await store.labels(secretId), { [id0]: [AWSPREVIOUS], [id1]: [AWSCURRENT] });

    assert.deepEqual(await store.retire({ secretId, version: v0 }), { versionId: id0, changed: true });
    // AWS: a version with no staging label left is deprecated and DescribeSecret no longer lists it
    // (moto lists it with no labels; the adapter leaves it out as AWS does).
    assert.deepEqual(await store.labels(secretId), { [id1]: [AWSCURRENT] });
    const raw = await sdk.send(new DescribeSecretCommand({ SecretId: secretId }));
    assert.deepEqual(raw.VersionIdsToStages?.[id0] ?? [], [], 'no label left on the retired version');
    assert.deepEqual(await store.retire({ secretId, version: v0 }), { versionId: id0, changed: false });
    // AWS: retiring again finds no label on it and removes none; AWSCURRENT never moved.
    assert.deepEqual(await store.labels(secretId), { [id1]: [AWSCURRENT] });
  });

  it('moves AWSPREVIOUS off the oldest version when a second rotation promotes before the cleanup', async () => {
    const [v0, v1, v2] = ['db-20260101000000', 'db-20260201000000', 'db-20260301000000'];
    const [id0, id1, id2] = [v0, v1, v2].map((v) => store.versionToken(v));
    const secretId = await createSecret(v0, { password: canary() });
    await store.stage({ secretId, version: v1, data: { password: canary() } });
    await store.promote({ secretId, version: v1 });
    const third = { password: canary() };
    await store.stage({ secretId, version: v2, data: third });
    // AWS: a version may carry AWSPENDING while others hold AWSCURRENT and AWSPREVIOUS.
    assert.deepEqual(await store.labels(secretId), { [id0]: [AWSPREVIOUS], [id1]: [AWSCURRENT], [id2]: [AWSPENDING] });
    await store.promote({ secretId, version: v2 });
    // AWS: AWSPREVIOUS is on one version at a time: it left the oldest for the version AWSCURRENT left.
    assert.deepEqual(await store.labels(secretId), { [id1]: [AWSPREVIOUS], [id2]: [AWSCURRENT] });
    assert.deepEqual(await store.read({ secretId, versionStage: AWSCURRENT }), third);
  });

  it('discards a staged version without ever moving AWSCURRENT', async () => {
    const [v0, v1] = ['webhook-20260101000000', 'webhook-20260201000000'];
    const [id0, id1] = [store.versionToken(v0), store.versionToken(v1)];
    const first = { secret: canary() };
    const secretId = await createSecret(v0, first);
    await store.stage({ secretId, version: v1, data: { secret: canary() } });

    assert.deepEqual(await store.discard({ secretId, version: v1 }), { versionId: id1, changed: true });
    // AWS: removing AWSPENDING (RemoveFromVersionId, no MoveToVersionId) leaves AWSCURRENT where it was.
    assert.deepEqual(await store.labels(secretId), { [id0]: [AWSCURRENT] });
    assert.deepEqual(await store.read({ secretId, versionStage: AWSCURRENT }), first);
    await rejectsWith(store.read({ secretId, versionStage: AWSPENDING }), 'NotFound', /has no version labelled AWSPENDING$/);

    assert.deepEqual(await store.discard({ secretId, version: v1 }), { versionId: id1, changed: false });
    assert.deepEqual(await store.discard({ secretId, version: 'webhook-never-staged' }), {
      versionId: store.versionToken('webhook-never-staged'),
      changed: false,
    });
    // AWS: discarding again (or a version never staged) changes no label; AWSCURRENT never moved.
    assert.deepEqual(await store.labels(secretId), { [id0]: [AWSCURRENT] });
    assert.deepEqual(await store.read({ secretId, versionStage: AWSCURRENT }), first);
  });

  it('gives two rotations that chose the same version name a VersionId each: rolling one back leaves the other staged, and it promotes its own value', async () => {
    const v0 = 'webhook-20260101000000';
    const version = 'webhook-20261206120000'; // the same second, in two namespaces
    const aws = new AwsSecretsManagerStore({ region, endpoint: moto.url, credentials, maxAttempts: 2 });
    const [idA, idB] = [aws.versionIdFor(version, 'rotate-staging-webhook/run-a'), aws.versionIdFor(version, 'rotate-qa-webhook/run-b')];
    assert.notEqual(idA, idB);
    for (const id of [idA, idB]) assert.match(id, /^rotor-[0-9a-f]{40}$/, 'what PLANNING recognises as a rotor version');
    assert.notEqual(idA, store.versionToken(version), 'not the name-only id older releases used');
    const first = { secret: canary() };
    const secretId = await createSecret(v0, first);
    const target = { awsSecretsManager: { secretId, region } };
    const valueA = { secret: canary() };
    const valueB = { secret: canary() };
    const value = { generate: { keys: ['secret'], length: 32 } };
    assert.deepEqual(await aws.stageVersion({ secret: 'webhook', version, value, issued: valueA, target, versionId: idA }), valueA);
    assert.deepEqual(await aws.stageVersion({ secret: 'webhook', version, value, issued: valueB, target, versionId: idB }), valueB);
    // A retry of either finds its own value, never the other's.
    assert.deepEqual(await aws.stageVersion({ secret: 'webhook', version, value, target, versionId: idA }), valueA);
    // A rolls back: AWSPENDING, now on B's version, stays there.
    await aws.markFailed({ secret: 'webhook', version, target, versionId: idA });
    assert.deepEqual((await store.labels(secretId))[idB], [AWSPENDING]);
    await aws.promoteVersion({ secret: 'webhook', version, target, versionId: idB });
    assert.deepEqual(await store.read({ secretId, versionStage: AWSCURRENT }), valueB);
    assert.deepEqual(await store.read({ secretId, versionId: idA }), valueA, "A's value is its own version's");
  });

  it('reads JSON objects, plain strings and numbers, by exactly one of VersionId or stage', async () => {
    const plain = canary();
    const secretId = uniqueId('rotor-aws-plain');
    await sdk.send(new CreateSecretCommand({ Name: secretId, SecretString: plain }));
    assert.deepEqual(await store.read({ secretId, versionStage: AWSCURRENT }), { value: plain });
    assert.deepEqual(parseSecretString('{"host":"db","port":5432,"tls":true,"opts":{"a":1}}'), { host: 'db', port: '5432', tls: 'true', opts: '{"a":1}' });
    assert.deepEqual(parseSecretString('"quoted"'), { value: '"quoted"' });
    assert.deepEqual(parseSecretString('[1,2]'), { value: '[1,2]' });

    await rejectsWith(store.read({ secretId }), 'RotorInputError', /exactly one of versionId or versionStage/);
    await rejectsWith(store.read({ secretId, versionId: 'x'.repeat(32), versionStage: AWSCURRENT }), 'RotorInputError', /exactly one/);
    await rejectsWith(store.read({ secretId, versionId: store.versionToken('nope') }), 'NotFound', new RegExp(`secret ${secretId} .* has no version rotor-`));

    const binaryId = uniqueId('rotor-aws-binary');
    await sdk.send(new CreateSecretCommand({ Name: binaryId, SecretBinary: Buffer.from(canary()) }));
    await rejectsWith(store.read({ secretId: binaryId, versionStage: AWSCURRENT }), 'RotorInputError', /holds a binary value/);
  });

  it('says NotFound for an unknown secret id, naming the region, in every operation', async () => {
    const missing = uniqueId('rotor-aws-missing');
    const notFound = new RegExp(
      `no secret ${missing} in AWS Secrets Manager \\(http://127\\.0\\.0\\.1:\\d+, region us-east-1\\); create it or fix the secret id`,
    );
    await rejectsWith(store.describe(missing), 'NotFound', notFound);
    await rejectsWith(store.stage({ secretId: missing, version: 'v1', data: { token: canary() } }), 'NotFound', notFound);
    await rejectsWith(store.read({ secretId: missing, versionStage: AWSCURRENT }), 'NotFound', notFound);
    await rejectsWith(store.promote({ secretId: missing, version: 'v1' }), 'NotFound', notFound);
    await rejectsWith(store.discard({ secretId: missing, version: 'v1' }), 'NotFound', notFound);
    await rejectsWith(store.retire({ secretId: missing, version: 'v1' }), 'NotFound', notFound);
    const err = await rejectsWith(
      store.promote({ secretId: await createSecret('v0', { token: canary() }), version: 'never-staged' }),
      'NotFound',
      /no version never-staged .* stage it first/,
    );
    assert.equal(err.retryable, false);
  });

  it('says NotFound, naming the region, for a secret of another region (moto keeps one store per region)', async () => {
    const secretId = await createSecret('v0', { token: canary() });
    const elsewhere = new AwsSecretsManager({ region: 'eu-west-1', endpoint: moto.url, credentials, maxAttempts: 1 });
    await rejectsWith(elsewhere.describe(secretId), 'NotFound', /\(http:\/\/127\.0\.0\.1:\d+, region eu-west-1\); create it or fix the secret id/);
  });

  it('says Unavailable when AWS Secrets Manager cannot be reached or does not answer in time', async () => {
    const closed = await freePort();
    const unreachable = new AwsSecretsManager({ region, endpoint: `http://127.0.0.1:${closed}`, credentials, maxAttempts: 2 });
    const err = await rejectsWith(
      unreachable.stage({ secretId: 'any', version: 'v1', data: { token: canary() } }),
      'Unavailable',
      /cannot reach AWS Secrets Manager at http:\/\/127\.0\.0\.1:\d+, region us-east-1 \(ECONNREFUSED\) after 2 attempts/,
    );
    assert.equal(err.retryable, true);

    const silent = await stub(() => undefined); // accepts, never answers
    try {
      const slow = new AwsSecretsManager({ region, endpoint: silent.url, credentials, maxAttempts: 1, timeoutMs: 300 });
      await rejectsWith(slow.describe('any'), 'Unavailable', /did not answer within 0\.3 s/);
    } finally {
      silent.close();
    }
  });

  it('lets the SDK retry throttling, and says Unavailable when it goes on', async () => {
    let calls = 0;
    const throttling = await stub((_req, res) => {
      calls++;
      awsError(res, 400, 'ThrottlingException', 'Rate exceeded');
    });
    try {
      const throttled = new AwsSecretsManager({ region, endpoint: throttling.url, credentials, maxAttempts: 3 });
      await rejectsWith(throttled.describe('any'), 'Unavailable', /throttled the DescribeSecret of any after 3 attempts \(ThrottlingException\)/);
      assert.equal(calls, 3);
    } finally {
      throttling.close();
    }

    let once = 0;
    const recovering = await stub((_req, res) => {
      if (once++ === 0) return awsError(res, 400, 'ThrottlingException', 'Rate exceeded');
      res.writeHead(200, { 'Content-Type': 'application/x-amz-json-1.1' });
      res.end(
        JSON.stringify({ ARN: 'arn:aws:secretsmanager:us-east-1:1:secret:s-abc', Name: 's', VersionIdsToStages: { [store.versionToken('v')]: [AWSCURRENT] } }),
      );
    });
    try {
      const adaptive = new AwsSecretsManager({ region, endpoint: recovering.url, credentials, maxAttempts: 3, retryMode: 'adaptive' });
      assert.deepEqual(await adaptive.labels('s'), { [store.versionToken('v')]: [AWSCURRENT] });
      assert.equal(once, 2);
    } finally {
      recovering.close();
    }
  });

  it('says Forbidden when moto checks credentials against its IAM and knows none of ours', async () => {
    const guarded = await startMoto({ env: { INITIAL_NO_AUTH_ACTION_COUNT: '0' } });
    try {
      const refused = new AwsSecretsManager({ region, endpoint: guarded.url, credentials, maxAttempts: 1 });
      const err = await rejectsWith(
        refused.stage({ secretId: 'any', version: 'v1', data: { token: canary() } }),
        'Forbidden',
        /refused to read any \(HTTP 403\): check the AWS credentials chain on the worker and that its IAM identity is allowed secretsmanager:GetSecretValue/,
      );
      assert.equal(err.retryable, false);
    } finally {
      await guarded.stop();
    }
  });

  it('maps AWS refusals by their code only, never their message', async () => {
    const leaked = canary();
    let answer: [number, string] = [400, 'AccessDeniedException'];
    const aws = await stub((_req, res) => awsError(res, answer[0], answer[1], `the value is ${leaked}`));
    try {
      const client = new AwsSecretsManager({ region, endpoint: aws.url, credentials, maxAttempts: 1 });
      const data = { token: canary() };
      await rejectsWith(
        client.describe('s'),
        'Forbidden',
        /refused to describe s \(AccessDeniedException, HTTP 400\): .*secretsmanager:DescribeSecret on the secret/,
      );
      answer = [400, 'UnrecognizedClientException'];
      await rejectsWith(
        client.stage({ secretId: 's', version: 'v', data }),
        'Forbidden',
        /\(UnrecognizedClientException, HTTP 400\): check the AWS credentials chain/,
      );
      answer = [400, 'ExpiredTokenException'];
      await rejectsWith(client.describe('s'), 'Forbidden', /ExpiredTokenException/);
      answer = [400, 'DecryptionFailure'];
      await rejectsWith(client.read({ secretId: 's', versionStage: AWSCURRENT }), 'Forbidden', /KMS key \(kms:Decrypt/);
      answer = [400, 'InvalidRequestException'];
      const input = await rejectsWith(client.describe('s'), 'RotorInputError', /rejected the DescribeSecret of s \(InvalidRequestException\)$/);
      assert.equal(input.retryable, false);
      answer = [400, 'InvalidParameterException'];
      await rejectsWith(client.describe('s'), 'RotorInputError', /\(InvalidParameterException\)$/);
      answer = [500, 'InternalServiceError'];
      await rejectsWith(client.describe('s'), 'Unavailable', /failed to describe s \(InternalServiceError, HTTP 500\); it is retried/);
      answer = [400, 'LimitExceededException'];
      await rejectsWith(client.describe('s'), 'ProviderError', /\(LimitExceededException, HTTP 400\)$/);
    } finally {
      aws.close();
    }
  });

  it('says Forbidden without credentials and RotorInputError without a region, from the standard chains', async () => {
    const saved = { ...process.env };
    try {
      // Only the environment and files that do not exist: no SSO, no profile, no instance metadata
      // (AWS_EC2_METADATA_DISABLED, so nothing is asked of the link-local metadata address).
      for (const name of Object.keys(process.env))
        if (name.startsWith('AWS_') && name !== 'AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED') delete process.env[name];
      process.env.AWS_EC2_METADATA_DISABLED = 'true';
      process.env.AWS_CONFIG_FILE = join(repoRoot, 'does-not-exist', 'config');
      process.env.AWS_SHARED_CREDENTIALS_FILE = join(repoRoot, 'does-not-exist', 'credentials');
      const anonymous = new AwsSecretsManager({ region, endpoint: moto.url, maxAttempts: 1 });
      const err = await rejectsWith(anonymous.describe('s'), 'Forbidden', /no AWS credentials to describe s: check the AWS credentials chain on the worker/);
      assert.equal(err.retryable, false);
      const nowhere = new AwsSecretsManager({ endpoint: moto.url, credentials, maxAttempts: 1 });
      await rejectsWith(nowhere.describe('s'), 'RotorInputError', /no AWS region to describe s: set the store's region, AWS_REGION/);
    } finally {
      for (const name of Object.keys(process.env)) if (!(name in saved)) delete process.env[name];
      Object.assign(process.env, saved);
    }
  });
});

/** A local HTTP server that answers like `handler`, e.g. as AWS does when it refuses. */
async function stub(handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<{ url: string; close(): void }> {
  const port = await freePort();
  const server: Server = createServer((req, res) => {
    req.resume();
    req.on('end', () => handler(req, res));
  });
  await new Promise<void>((r) => server.listen(port, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${port}`,
    close() {
      server.closeAllConnections();
      server.close();
    },
  };
}

/** An error as the AWS JSON protocol sends it. */
function awsError(res: ServerResponse, status: number, code: string, message: string): void {
  res.writeHead(status, { 'Content-Type': 'application/x-amz-json-1.1', 'x-amzn-ErrorType': code });
  res.end(JSON.stringify({ __type: code, message }));
}

describe('worker settings for the stores', () => {
  it('serves kubernetes alone by default, and aws-secrets-manager when ROTOR_STORES names it, with the endpoint and region', () => {
    assert.deepEqual(workerConfig({}).stores, ['kubernetes']);
    const config = workerConfig({ ROTOR_STORES: 'kubernetes, aws-secrets-manager', ROTOR_AWS_ENDPOINT: 'http://127.0.0.1:5000', AWS_REGION: 'eu-west-1' });
    assert.deepEqual(config.stores, ['kubernetes', 'aws-secrets-manager']);
    assert.deepEqual(config.aws, { region: 'eu-west-1', endpoint: 'http://127.0.0.1:5000' });
    assert.deepEqual(workerConfig({ ROTOR_STORES: 'aws-secrets-manager', AWS_DEFAULT_REGION: 'us-east-2' }).stores, ['kubernetes', 'aws-secrets-manager']);
  });

  it('names every bad store setting at start: an unknown store, a bad endpoint, an endpoint without a store that uses it', () => {
    assert.throws(
      () => workerConfig({ ROTOR_STORES: 'kubernetes,vault', ROTOR_AWS_ENDPOINT: 'http://key:secret@moto:5000' }),
      (err: Error) => {
        assert.match(err.message, /ROTOR_STORES names vault, which is not a store; use kubernetes, aws-secrets-manager, external-secrets/);
        assert.match(err.message, /ROTOR_AWS_ENDPOINT is not an http\(s\) URL without credentials/);
        assert.match(err.message, /ROTOR_AWS_ENDPOINT is set but ROTOR_STORES names neither aws-secrets-manager nor external-secrets/);
        assert.doesNotMatch(err.message, /secret@/);
        return true;
      },
    );
    // External Secrets mode keeps the value in AWS too: the same endpoint and region settings serve it.
    const eso = workerConfig({ ROTOR_STORES: 'external-secrets', ROTOR_AWS_ENDPOINT: 'http://127.0.0.1:5000', AWS_REGION: 'eu-west-1' });
    assert.deepEqual(eso.stores, ['kubernetes', 'external-secrets']);
    assert.deepEqual(eso.aws, { region: 'eu-west-1', endpoint: 'http://127.0.0.1:5000' });
  });
});
