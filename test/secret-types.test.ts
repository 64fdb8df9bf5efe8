// The rules of Kubernetes' built-in Secret types (domain/secret-types.ts, with the TLS key pair judged
// by node:crypto in activities/secret-types.ts): good and bad values of each type, the value sources
// PLANNING refuses, the one type of a plan; every refusal names the type, the key and the fix and never
// the value, nor a fragment of it. A real self-signed certificate and key are made with openssl.
// Randomized values (fast-check, seed printed; ROTOR_SEED=<seed> replays) hold the same to every input.
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import fc from 'fast-check';
import { RotorError } from '../activities/errors';
import { checkKeyPair, checkSecretData } from '../activities/secret-types';
import { OPAQUE, dataRefusal, planSecretType, sourceRefusal, typeRefusal } from '../domain/secret-types';
import type { ValueSource } from '../domain/plan';
import { recordValues } from './helpers/leak';
import { dockerConfig, selfSigned } from './helpers/secret-types';

const SEED = process.env.ROTOR_SEED ? Number(process.env.ROTOR_SEED) : Date.now() % 2_147_483_647;

/** No run of 10 characters of any value is in the message (a fragment would be a leak too). */
function assertNoFragment(message: string, data: Record<string, string>): void {
  for (const value of Object.values(data)) {
    const compact = value.replace(/\s+/g, '');
    for (let i = 0; i + 10 <= compact.length; i++) {
      assert.ok(!message.replace(/\s+/g, '').includes(compact.slice(i, i + 10)), `the message quotes the value at ${i}: ${message}`);
    }
  }
}

/** The refusal of `data` as `type`: a RotorInputError naming the type and what it says, never the value. */
function refused(type: string, data: Record<string, string>, says: RegExp): string {
  recordValues(Object.values(data).filter((v) => v.length >= 8));
  let message = '';
  assert.throws(
    () => checkSecretData(type, data),
    (err: RotorError) => {
      assert.equal(err.type, 'RotorInputError');
      message = err.message;
      return true;
    },
  );
  assert.ok(message.includes(`the Secret type ${type}`), message);
  assert.match(message, says);
  assertNoFragment(message, data);
  return message;
}

let DOCKER_CONFIG: string;

let tls: { crt: string; key: string };
let other: { crt: string; key: string };

before(() => {
  tls = selfSigned('api');
  other = selfSigned('other');
  DOCKER_CONFIG = dockerConfig('pull-s3cret-Zq81');
});

describe('Secret types: values', () => {
  it('takes anything as Opaque or as a type Kubernetes does not build in', () => {
    for (const type of [OPAQUE, 'example.com/custom', 'helm.sh/release.v1']) {
      assert.equal(typeRefusal(type), null);
      assert.equal(dataRefusal(type, { anything: 'at all' }, checkKeyPair), null);
      assert.equal(dataRefusal(type, {}, checkKeyPair), null);
    }
  });

  it('kubernetes.io/dockerconfigjson: a JSON config with an auths object in .dockerconfigjson, nothing less', () => {
    const type = 'kubernetes.io/dockerconfigjson';
    checkSecretData(type, { '.dockerconfigjson': DOCKER_CONFIG });
    checkSecretData(type, { '.dockerconfigjson': '{"auths":{}}', extra: 'kept-as-it-is' });
    refused(type, { api_token: 'tok-3c9a1f0e77b2' }, /key \.dockerconfigjson is missing \(the value has key api_token\); put a Docker config JSON/);
    refused(type, { '.dockerconfigjson': 'user:pull-s3cret-not-json' }, /key \.dockerconfigjson is not a JSON object/);
    refused(type, { '.dockerconfigjson': '["pull-s3cret-array"]' }, /key \.dockerconfigjson is not a JSON object/);
    refused(type, { '.dockerconfigjson': '{"registry.example.test":{"auth":"cm9ib3Q6cHVsbA=="}}' }, /key \.dockerconfigjson has no auths object/);
    refused(type, { '.dockerconfigjson': '{"auths":"pull-s3cret-string"}' }, /has no auths object/);
    // A parse error of JSON quotes the text: the message must not pass it on.
    refused(type, { '.dockerconfigjson': '{"auths": {"registry": pull-s3cret-unquoted}}' }, /not a JSON object/);
  });

  it('kubernetes.io/dockercfg: a JSON object in .dockercfg', () => {
    const type = 'kubernetes.io/dockercfg';
    checkSecretData(type, { '.dockercfg': '{"registry.example.test":{"auth":"cm9ib3Q6cHVsbA=="}}' });
    refused(type, { '.dockerconfigjson': DOCKER_CONFIG }, /key \.dockercfg is missing \(the value has key \.dockerconfigjson\)/);
    refused(type, { '.dockercfg': 'robot:legacy-s3cret-77' }, /key \.dockercfg is not a JSON object/);
  });

  it('kubernetes.io/tls: a PEM certificate in tls.crt that the PEM key in tls.key matches', () => {
    const type = 'kubernetes.io/tls';
    checkSecretData(type, { 'tls.crt': tls.crt, 'tls.key': tls.key });
    checkSecretData(type, { 'tls.crt': tls.crt, 'tls.key': tls.key, 'ca.crt': other.crt });
    refused(type, { 'tls.crt': tls.crt }, /key tls\.key is missing \(the value has key tls\.crt\); put the PEM certificate/);
    refused(type, { api_token: 'tok-3c9a1f0e77b2' }, /keys tls\.crt, tls\.key are missing/);
    refused(type, { 'tls.crt': tls.crt, 'tls.key': other.key }, /the private key in tls\.key does not match the certificate in tls\.crt/);
    refused(type, { 'tls.crt': other.crt, 'tls.key': tls.key }, /does not match the certificate/);
    refused(type, { 'tls.crt': 'Qx7-kk2Lm9-zz41pw', 'tls.key': tls.key }, /key tls\.crt holds no PEM certificate block/);
    refused(type, { 'tls.crt': tls.crt, 'tls.key': 'Hw3-pp8Rt1-yy02qa' }, /key tls\.key holds no PEM private key block/);
    // PEM armour around what is no certificate / no key.
    const body = (pem: string) => pem.split('\n').slice(1, -2).join('\n');
    const broken = tls.crt.replace(body(tls.crt), 'Zm9yZ2VkLWNlcnRpZmljYXRlLWJvZHk=');
    refused(type, { 'tls.crt': broken, 'tls.key': tls.key }, /key tls\.crt cannot be parsed as an X\.509 certificate/);
    const badKey = tls.key.replace(body(tls.key), 'Zm9yZ2VkLWtleS1ib2R5LXdpdGgtcGFkZGluZw==');
    refused(type, { 'tls.crt': tls.crt, 'tls.key': badKey }, /key tls\.key cannot be parsed as a private key/);
  });

  it('kubernetes.io/basic-auth: a username or a password', () => {
    const type = 'kubernetes.io/basic-auth';
    checkSecretData(type, { username: 'robot' });
    checkSecretData(type, { password: 'basic-s3cret-19' });
    checkSecretData(type, { username: 'robot', password: 'basic-s3cret-19', realm: 'x' });
    refused(type, { user: 'robot-user-name', pass: 'basic-s3cret-19' }, /none of the keys username, password is there \(the value has keys pass, user\)/);
  });

  it('kubernetes.io/ssh-auth: ssh-privatekey', () => {
    const type = 'kubernetes.io/ssh-auth';
    checkSecretData(type, { 'ssh-privatekey': other.key });
    refused(type, { id_ed25519: other.key }, /key ssh-privatekey is missing \(the value has key id_ed25519\); put the SSH private key in key ssh-privatekey/);
  });

  for (const type of ['kubernetes.io/service-account-token', 'bootstrap.kubernetes.io/token']) {
    it(`${type} is never rotor's to rotate, whatever the value, saying why and what to do instead`, () => {
      const message = refused(type, { token: 'sa-token-value-8812' }, /is not rotor's to rotate/);
      assert.match(message, type.startsWith('bootstrap') ? /kubeadm token create/ : /projected serviceAccountToken volume/);
      assert.match(typeRefusal(type)!, /not rotor's to rotate/);
    });
  }

  it(`randomized values (seed ${SEED}): a refusal exactly when a rule is broken, never quoting the value`, () => {
    console.log(`[secret-types] seed ${SEED} (ROTOR_SEED=${SEED} replays)`);
    const types = [
      'kubernetes.io/dockerconfigjson',
      'kubernetes.io/dockercfg',
      'kubernetes.io/basic-auth',
      'kubernetes.io/ssh-auth',
      'kubernetes.io/tls',
      OPAQUE,
    ];
    const keys = fc.constantFrom('.dockerconfigjson', '.dockercfg', 'username', 'password', 'ssh-privatekey', 'tls.crt', 'tls.key', 'api_token');
    const values = fc.oneof(
      fc.string({ minLength: 12, maxLength: 40 }),
      fc.json().filter((j) => j.length >= 12),
      fc.dictionary(fc.string({ minLength: 1, maxLength: 8 }), fc.string({ minLength: 12 })).map((auths) => JSON.stringify({ auths })),
      fc.constantFrom(tls.crt, tls.key, other.crt, other.key),
    );
    fc.assert(
      fc.property(fc.constantFrom(...types), fc.dictionary(keys, values, { maxKeys: 4 }), (type, data) => {
        const refusal = dataRefusal(type, data, checkKeyPair);
        if (refusal) {
          assert.ok(refusal.includes(type));
          assertNoFragment(refusal, data);
        }
        assert.equal(refusal === null, expectedGood(type, data), `${type} ${JSON.stringify(Object.keys(data))}: ${refusal}`);
      }),
      { seed: SEED, numRuns: 300 },
    );
  });
});

/** The rules again, said the plain way, for the randomized test to hold the module to. */
function expectedGood(type: string, data: Record<string, string>): boolean {
  const json = (s: string | undefined) => {
    try {
      const v = JSON.parse(s ?? '');
      return v !== null && typeof v === 'object' && !Array.isArray(v) ? v : null;
    } catch {
      return null;
    }
  };
  switch (type) {
    case 'kubernetes.io/dockerconfigjson': {
      const auths = json(data['.dockerconfigjson'])?.auths;
      return auths !== null && typeof auths === 'object' && !Array.isArray(auths);
    }
    case 'kubernetes.io/dockercfg':
      return json(data['.dockercfg']) !== null;
    case 'kubernetes.io/basic-auth':
      return 'username' in data || 'password' in data;
    case 'kubernetes.io/ssh-auth':
      return 'ssh-privatekey' in data;
    case 'kubernetes.io/tls':
      return (data['tls.crt'] === tls.crt && data['tls.key'] === tls.key) || (data['tls.crt'] === other.crt && data['tls.key'] === other.key);
    default:
      return true;
  }
}

describe('Secret types: value sources in PLANNING', () => {
  const generate = (...keys: string[]): ValueSource => ({ generate: { keys, length: 32 } });
  const issuer = (key: string): ValueSource => ({ issuer: { key } });

  for (const type of ['kubernetes.io/tls', 'kubernetes.io/dockerconfigjson', 'kubernetes.io/dockercfg', 'kubernetes.io/ssh-auth']) {
    it(`refuses generate for ${type}: a random string is never that, and says where to take the value from`, () => {
      const why = sourceRefusal(type, generate('tls.crt', 'tls.key', '.dockerconfigjson', '.dockercfg', 'ssh-privatekey'));
      assert.match(
        why!,
        new RegExp(
          `the Secret type ${type.replace(/\./g, '\\.')} .*value\\.generate makes random strings, never that; take the value from fromFile or awsSecretsManager`,
        ),
      );
    });
  }

  it('takes generate for basic-auth only with a username or password key', () => {
    assert.equal(sourceRefusal('kubernetes.io/basic-auth', generate('password')), null);
    assert.equal(sourceRefusal('kubernetes.io/basic-auth', generate('username', 'password')), null);
    assert.match(
      sourceRefusal('kubernetes.io/basic-auth', generate('api_token'))!,
      /value\.generate\.keys makes api_token: none of the keys username, password is there; name the value keys username and\/or password/,
    );
  });

  it('takes an issuer only when its one key fits the type', () => {
    assert.equal(sourceRefusal('kubernetes.io/basic-auth', issuer('password')), null);
    assert.equal(sourceRefusal('kubernetes.io/dockerconfigjson', issuer('.dockerconfigjson')), null);
    assert.match(sourceRefusal('kubernetes.io/basic-auth', issuer('api_token'))!, /value\.issuer puts its one credential in key api_token/);
    assert.match(sourceRefusal('kubernetes.io/tls', issuer('tls.crt'))!, /key tls\.key is missing/);
    assert.match(sourceRefusal('kubernetes.io/ssh-auth', issuer('token'))!, /key ssh-privatekey is missing/);
  });

  it('leaves values read from a file or a store to CREATING, and takes any source for Opaque and custom types', () => {
    for (const type of ['kubernetes.io/tls', 'kubernetes.io/dockerconfigjson']) {
      assert.equal(sourceRefusal(type, { fromFile: 'registry.env' }), null);
      assert.equal(sourceRefusal(type, { awsSecretsManager: { secretId: '/x' } }), null);
    }
    for (const type of [OPAQUE, 'example.com/custom']) {
      assert.equal(sourceRefusal(type, generate('api_token')), null);
      assert.equal(sourceRefusal(type, issuer('api_token')), null);
    }
  });

  it('refuses every source for the types that are not rotor to rotate', () => {
    for (const value of [generate('token'), issuer('token'), { fromFile: 'sa.env' }]) {
      assert.match(sourceRefusal('kubernetes.io/service-account-token', value)!, /not rotor's to rotate/);
      assert.match(sourceRefusal('bootstrap.kubernetes.io/token', value)!, /not rotor's to rotate/);
    }
  });
});

describe('Secret types: the one type of a plan', () => {
  it('is the previous versions type, Opaque when none was recorded (older histories)', () => {
    assert.deepEqual(planSecretType([{ namespace: 'a' }, { namespace: 'b', previousType: OPAQUE }]), { type: OPAQUE });
    assert.deepEqual(
      planSecretType([
        { namespace: 'a', previousType: 'kubernetes.io/tls' },
        { namespace: 'b', previousType: 'kubernetes.io/tls' },
      ]),
      {
        type: 'kubernetes.io/tls',
      },
    );
  });

  it('refuses previous versions of different types, naming each namespace and type', () => {
    const planned = planSecretType([
      { namespace: 'staging', previousType: 'kubernetes.io/dockerconfigjson' },
      { namespace: 'production' },
      { namespace: 'edge', previousType: 'kubernetes.io/dockerconfigjson' },
    ]);
    assert.ok('refusal' in planned);
    assert.match(
      planned.refusal,
      /differ in Secret type \(staging: kubernetes\.io\/dockerconfigjson, production: Opaque, edge: kubernetes\.io\/dockerconfigjson\).*rotate each type with a plan of its own/,
    );
  });
});
