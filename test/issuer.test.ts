// The HTTP credential issuer (activities/issuers/http.ts) against the auth API emulator's issuer
// (docs/issuer-protocol.md), in both of its modes: idempotent issue and revoke by rotor's id, the
// incident's provider revoking every older token at once, the overlapping one keeping them valid up
// to a limit; errors that name what to check and never carry a token.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { MockActivityEnvironment } from '@temporalio/testing';
import { createActivities, type CreateVersionResult, type CredentialOutcome, type RevokeCredentialInput, type RotorActivities } from '../activities';
import { RotorError } from '../activities/errors';
import { MemoryCluster } from '../activities/memory';
import { KubernetesSecretStore } from '../activities/store-kubernetes';
import { workerConfig } from '../worker/config';
import { HttpCredentialIssuer } from '../activities/issuers/http';
import { MemoryCredentialIssuer } from '../activities/issuers/memory';
import type { CredentialIssuer } from '../activities/ports';
import { AuthApi, CALLER_HEADERS } from '../sandbox/auth-api';
import { freePort } from '../sandbox/control-plane';

const ISSUER_TOKEN = 'issuer-admin-token-Hq52';

/** What the auth API answers a caller in `namespace` with this token. */
async function authenticate(api: AuthApi, token: string, namespace: string): Promise<number> {
  const res = await fetch(`${api.url}/v1/authenticate`, {
    method: 'POST',
    headers: {
      authorization: `Bearer ${token}`,
      [CALLER_HEADERS.namespace]: namespace,
      [CALLER_HEADERS.workload]: 'w',
      [CALLER_HEADERS.pod]: 'p',
      [CALLER_HEADERS.version]: 'v',
    },
  });
  await res.arrayBuffer();
  return res.status;
}

async function rejected(p: Promise<unknown>): Promise<RotorError> {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof RotorError, `a RotorError, not ${String(err)}`);
    return err;
  }
  assert.fail('expected a rejection');
}

/** One implementation of the protocol as the contract sees it: an issuer, and what the API answers a token (from a caller in `namespace`). */
interface Subject {
  issuer(): CredentialIssuer;
  answer(token: string, namespace?: string): Promise<number>;
  issued(): { id: string; scope?: string }[];
}

function memorySubject(mode: 'incident' | 'overlapping'): Subject {
  const states = new Map<string, { state: 'valid' | 'bad-scope' | 'revoked'; onlyFrom?: string }>();
  const memory = new MemoryCredentialIssuer({ mode, maxLive: 2, onToken: (token, state, onlyFrom) => states.set(token, { state, onlyFrom }) });
  return {
    issuer: () => memory,
    answer: async (token, namespace = 'ns') => {
      const { state, onlyFrom } = states.get(token) ?? { state: 'revoked' };
      return state === 'valid' && onlyFrom !== undefined && onlyFrom !== namespace ? 403 : { valid: 200, 'bad-scope': 403, revoked: 401 }[state];
    },
    issued: () => memory.issued(),
  };
}

function httpSubject(api: AuthApi): Subject {
  return {
    issuer: () => new HttpCredentialIssuer({ url: api.url, token: ISSUER_TOKEN, timeoutMs: 2000 }),
    answer: (token, namespace = 'ns') => authenticate(api, token, namespace),
    issued: () => api.issued(),
  };
}

// One contract, two implementations: the workflow tests' memory issuer must answer as the HTTP
// adapter does against the emulator, or the workflow tests prove nothing about the real thing.
const apis: AuthApi[] = [];
const subjects: [string, () => Promise<{ overlapping: Subject; incident: Subject }>][] = [
  ['memory', async () => ({ overlapping: memorySubject('overlapping'), incident: memorySubject('incident') })],
  [
    'HTTP adapter against the auth API emulator',
    async () => {
      const overlapping = new AuthApi({ issuer: { mode: 'overlapping', maxLive: 2, token: ISSUER_TOKEN } });
      const incident = new AuthApi({ issuer: { mode: 'incident', token: ISSUER_TOKEN } });
      apis.push(overlapping, incident);
      await overlapping.start();
      await incident.start();
      return { overlapping: httpSubject(overlapping), incident: httpSubject(incident) };
    },
  ],
];

after(async () => {
  for (const api of apis) await api.stop();
});

for (const [name, make] of subjects) {
  describe(`credential issuer contract: ${name}`, () => {
    let overlapping: Subject;
    let incident: Subject;
    before(async () => {
      ({ overlapping, incident } = await make());
    });

    it('issues once per id: a retried issue returns the same credential, and the token works', async () => {
      const issuer = overlapping.issuer();
      const first = await issuer.issue({ id: 'auth-20261130120000' });
      const again = await issuer.issue({ id: 'auth-20261130120000' });
      assert.equal(first.created, true);
      assert.equal(again.created, false, 'the second call issued nothing');
      assert.equal(again.token, first.token);
      assert.equal(overlapping.issued().filter((c) => c.id === 'auth-20261130120000').length, 1);
      assert.equal(await overlapping.answer(first.token), 200);
      assert.deepEqual(
        { ...(await issuer.status('auth-20261130120000')), issuedAt: 'x', scope: 'x' },
        { id: 'auth-20261130120000', state: 'active', issuedAt: 'x', revokedAt: null, scope: 'x' },
      );
    });

    it('overlapping: the old credential stays valid beside the new until revoked; revoking twice is one revoke', async () => {
      const issuer = overlapping.issuer();
      const old = await issuer.issue({ id: 'auth-20261130120000' });
      const next = await issuer.issue({ id: 'auth-20261130130000' });
      assert.deepEqual([await overlapping.answer(old.token), await overlapping.answer(next.token)], [200, 200]);
      const revoked = await issuer.revoke('auth-20261130120000');
      assert.equal(revoked.state, 'revoked');
      assert.ok(revoked.revokedAt);
      assert.deepEqual(await issuer.revoke('auth-20261130120000'), revoked, 'idempotent: the same revocation');
      assert.deepEqual([await overlapping.answer(old.token), await overlapping.answer(next.token)], [401, 200]);
    });

    it('overlapping: refuses more live credentials of one client than its limit, saying to revoke one first; other clients are not counted', async () => {
      const issuer = overlapping.issuer();
      await issuer.issue({ id: 'auth-20261130140000' }); // live now: ...130000 and ...140000
      const err = await rejected(issuer.issue({ id: 'auth-20261130150000' }));
      assert.equal(err.type, 'Conflict');
      assert.match(err.message, /2 credentials of auth are live, the most this issuer allows; revoke one first/);
      assert.equal((await issuer.issue({ id: 'billing-20261130150000' })).created, true, 'another client has its own limit');
    });

    it('incident: issuing revokes every older credential of the client at once, so pods still on the old token fail', async () => {
      const issuer = incident.issuer();
      const old = await issuer.issue({ id: 'auth-20261130120000' });
      const other = await issuer.issue({ id: 'billing-20261130120000' });
      assert.equal(await incident.answer(old.token), 200);
      const next = await issuer.issue({ id: 'auth-20261130130000' });
      assert.deepEqual([await incident.answer(old.token), await incident.answer(next.token), await incident.answer(other.token)], [401, 200, 200]);
      assert.equal((await issuer.status('auth-20261130120000')).state, 'revoked');
    });

    it('issues a credential of the wrong scope when asked: the auth API refuses it with 403', async () => {
      const wrong = await incident.issuer().issue({ id: 'auth-wrong-scope', scope: 'auth:read' });
      assert.equal(await incident.answer(wrong.token), 403);
      assert.equal(incident.issued().find((c) => c.id === 'auth-wrong-scope')?.scope, 'auth:read');
    });

    it('issues a credential scoped to one environment: the auth API takes it from callers in that namespace only, 403 elsewhere', async () => {
      const scoped = await incident.issuer().issue({ id: 'auth-staging-only', scope: 'auth:verify@staging' });
      assert.deepEqual([await incident.answer(scoped.token, 'staging'), await incident.answer(scoped.token, 'production')], [200, 403]);
      assert.equal(incident.issued().find((c) => c.id === 'auth-staging-only')?.scope, 'auth:verify@staging');
      await incident.issuer().revoke('auth-staging-only');
      assert.equal(await incident.answer(scoped.token, 'staging'), 401, 'revoked: refused everywhere');
      const other = await incident.issuer().issue({ id: 'auth-admin-staging', scope: 'auth:admin@staging' });
      assert.equal(await incident.answer(other.token, 'staging'), 403, 'another scope stays wrong in its environment');
    });

    it('refuses an id outside the protocol and says unknown ids are not found', async () => {
      const bad = await rejected(overlapping.issuer().issue({ id: 'has spaces' }));
      assert.equal(bad.type, 'RotorInputError');
      const missing = await rejected(overlapping.issuer().revoke('never-issued'));
      assert.equal(missing.type, 'NotFound');
      assert.equal((await rejected(overlapping.issuer().status('never-issued'))).type, 'NotFound');
    });
  });
}

describe('credential issuer over HTTP', () => {
  let overlapping: AuthApi;
  const issuerFor = (api: AuthApi, token = ISSUER_TOKEN) => new HttpCredentialIssuer({ url: api.url, token, timeoutMs: 2000 });

  before(async () => {
    overlapping = new AuthApi({ issuer: { mode: 'overlapping', maxLive: 2, token: ISSUER_TOKEN } });
    await overlapping.start();
  });
  after(async () => {
    await overlapping.stop();
  });

  it('says what to check, and never shows a token: wrong issuer token, unknown id, bad id, issuer down', async () => {
    const forbidden = await rejected(issuerFor(overlapping, 'not-the-issuer-token').issue({ id: 'auth-x' }));
    assert.equal(forbidden.type, 'Forbidden');
    assert.match(forbidden.message, /HTTP 401\): missing or wrong issuer token; check ROTOR_ISSUER_TOKEN on the worker/);
    const missing = await rejected(issuerFor(overlapping).revoke('never-issued'));
    assert.equal(missing.type, 'NotFound');
    const bad = await rejected(issuerFor(overlapping).issue({ id: 'has spaces' }));
    assert.equal(bad.type, 'RotorInputError');
    const down = await rejected(new HttpCredentialIssuer({ url: `http://127.0.0.1:${await freePort()}`, token: ISSUER_TOKEN, timeoutMs: 1000 }).status('x'));
    assert.equal(down.type, 'Unavailable');
    assert.match(down.message, /cannot reach the issuer at http:\/\/127\.0\.0\.1:\d+ to read the credential x \(ECONNREFUSED\)/);
    for (const err of [forbidden, missing, bad, down]) {
      assert.ok(!err.message.includes(ISSUER_TOKEN) && !err.message.includes('not-the-issuer-token'), err.message);
      assert.ok(!/auth-2026\d+\.[A-Za-z0-9_-]{20,}/.test(err.message), 'no issued token');
    }
  });

  it('an issuer that fails answers 503: Unavailable, retried, and then it answers again', async () => {
    overlapping.issuer!.failNext(1);
    const err = await rejected(issuerFor(overlapping).issue({ id: 'auth-20261201000000' }));
    assert.equal(err.type, 'Unavailable');
    assert.match(err.message, /\(HTTP 503\): the issuer did not answer to issue a credential for auth-20261201000000; it is retried/);
    assert.equal((await issuerFor(overlapping).issue({ id: 'auth-20261201000000' })).created, true);
  });

  it('an auth API without an issuer says so', async () => {
    const plain = new AuthApi();
    await plain.start();
    try {
      const err = await rejected(new HttpCredentialIssuer({ url: plain.url, token: ISSUER_TOKEN, timeoutMs: 1000 }).issue({ id: 'a' }));
      assert.equal(err.type, 'NotFound');
      assert.match(err.message, /this auth API issues no credentials/);
    } finally {
      await plain.stop();
    }
  });
});

describe('issuing inside createVersion', () => {
  const NEW = 'auth-api-secrets-20261130120000';
  const input = (namespaces = ['staging', 'production']) => ({
    secret: 'auth-api-secrets',
    version: NEW,
    rotationId: 'rotate-x/run-1',
    value: { issuer: { key: 'api_token', scope: 'auth:verify' } },
    store: 'kubernetes' as const,
    namespaces,
  });

  const create = (acts: RotorActivities): Promise<CreateVersionResult> =>
    new MockActivityEnvironment().run(acts.createVersion, input()) as Promise<CreateVersionResult>;

  function setup(cluster = new MemoryCluster({ secrets: [], workloads: [] })) {
    const issuer = new MemoryCredentialIssuer({ mode: 'overlapping' });
    const acts = createActivities({ cluster, stores: { kubernetes: new KubernetesSecretStore() }, metrics: {}, issuer });
    return { cluster, issuer, acts };
  }

  it('writes the issued token under the plan key in every namespace, and says what the issuer did without the token', async () => {
    const { cluster, issuer, acts } = setup();
    const result = await create(acts);
    assert.equal(result.outcome, 'created');
    assert.ok(result.outcome === 'created' && result.credential?.created === true && result.credential.state === 'active');
    const tokens = cluster.world.secrets.filter((s) => s.name === NEW).map((s) => s.data.api_token);
    assert.equal(tokens.length, 2);
    assert.equal(new Set(tokens).size, 1);
    assert.equal((await issuer.status(NEW)).state, 'active');
    assert.ok(!JSON.stringify(result).includes(tokens[0]), 'the token stays out of the result (and so out of history)');
  });

  it('issues nothing twice: a retry after the Secret was written reuses it; one after the issue but before the Secret gets the same token', async () => {
    const { cluster, issuer, acts } = setup();
    await create(acts);
    const again = await create(acts);
    assert.equal(again.outcome, 'exists');
    assert.ok(again.outcome === 'exists' && again.credential?.created === undefined && again.credential?.state === 'active');
    assert.equal(issuer.issued().length, 1);

    // The answer to the first attempt was lost after the issuer issued and before any Secret was written.
    const other = setup();
    await other.issuer.issue({ id: NEW, scope: 'auth:verify' });
    const retried = await create(other.acts);
    assert.ok(retried.outcome === 'created' && retried.credential?.created === false);
    assert.equal(other.issuer.issued().length, 1);
    assert.equal(other.cluster.world.secrets.find((s) => s.name === NEW)?.data.api_token.startsWith(`${NEW}.`), true);
    assert.ok(cluster.world.secrets.length > 0);
  });

  it('refuses on a worker without an issuer, naming the settings, before anything is written', async () => {
    const cluster = new MemoryCluster({ secrets: [], workloads: [] });
    const acts = createActivities({ cluster, stores: { kubernetes: new KubernetesSecretStore() }, metrics: {} });
    await assert.rejects(
      new MockActivityEnvironment().run(acts.inspectCredentials, { ids: ['x'] }),
      /set ROTOR_ISSUER_URL and ROTOR_ISSUER_TOKEN on the worker/,
    );
    await assert.rejects(create(acts), /set ROTOR_ISSUER_URL and ROTOR_ISSUER_TOKEN/);
    assert.deepEqual(cluster.world.secrets, []);
  });

  it('revokes by id: a credential it never issued is unknown, not an error', async () => {
    const { issuer, acts } = setup();
    await issuer.issue({ id: NEW });
    const revoke = (input: RevokeCredentialInput) => new MockActivityEnvironment().run(acts.revokeCredential, input) as Promise<CredentialOutcome>;
    assert.equal((await revoke({ id: NEW, why: 'rollback' })).state, 'revoked');
    assert.deepEqual(await revoke({ id: 'auth-api-secrets-20250101000000', why: 'cleanup' }), {
      id: 'auth-api-secrets-20250101000000',
      state: 'unknown',
      issuedAt: null,
      revokedAt: null,
    });
    const [known, unknown] = (await new MockActivityEnvironment().run(acts.inspectCredentials, { ids: [NEW, 'nope'] })) as CredentialOutcome[];
    assert.deepEqual([known.state, unknown.state], ['revoked', 'unknown']);
  });
});

describe('worker settings for the issuer', () => {
  it('reads ROTOR_ISSUER_URL, ROTOR_ISSUER_TOKEN and ROTOR_ISSUER_TIMEOUT; none means no issuer', () => {
    assert.deepEqual(workerConfig({ ROTOR_ISSUER_URL: 'https://issuer.internal:8443', ROTOR_ISSUER_TOKEN: ISSUER_TOKEN, ROTOR_ISSUER_TIMEOUT: '3s' }).issuer, {
      url: 'https://issuer.internal:8443',
      token: ISSUER_TOKEN,
      timeoutMs: 3000,
    });
    assert.equal(workerConfig({}).issuer, null);
  });

  it('names every problem at start, and never echoes the token', () => {
    assert.throws(
      () => workerConfig({ ROTOR_ISSUER_URL: 'http://admin:hunter2@issuer:8443', ROTOR_ISSUER_TIMEOUT: 'soon' }),
      (err: Error) => {
        assert.match(err.message, /ROTOR_ISSUER_URL is not an http\(s\) URL without credentials/);
        assert.match(err.message, /ROTOR_ISSUER_URL is set without ROTOR_ISSUER_TOKEN/);
        assert.match(err.message, /ROTOR_ISSUER_TIMEOUT=soon is not a duration above zero/);
        assert.doesNotMatch(err.message, /hunter2/);
        return true;
      },
    );
    assert.throws(
      () => workerConfig({ ROTOR_ISSUER_TOKEN: ISSUER_TOKEN }),
      (err: Error) => /ROTOR_ISSUER_TOKEN set without ROTOR_ISSUER_URL/.test(err.message) && !err.message.includes(ISSUER_TOKEN),
    );
  });
});
