// The HTTP credential issuer (activities/issuers/http.ts) against the auth API emulator's issuer
// (docs/issuer-protocol.md), in both of its modes: idempotent issue and revoke by rotor's id, the
// incident's provider revoking every older token at once, the overlapping one keeping them valid up
// to a limit; errors that name what to check and never carry a token.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { RotorError } from '../activities/errors';
import { HttpCredentialIssuer } from '../activities/issuers/http';
import { AuthApi, CALLER_HEADERS } from '../sandbox/auth-api';
import { freePort } from '../sandbox/control-plane';

const ISSUER_TOKEN = 'issuer-admin-token-Hq52';

/** What the auth API answers a caller with this token. */
async function authenticate(api: AuthApi, token: string): Promise<number> {
  const res = await fetch(`${api.url}/v1/authenticate`, {
    method: 'POST',
    headers: {
      authorization: `Bearer ${token}`,
      [CALLER_HEADERS.namespace]: 'ns',
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

describe('credential issuer protocol', () => {
  let overlapping: AuthApi;
  let incident: AuthApi;
  const issuerFor = (api: AuthApi, token = ISSUER_TOKEN) => new HttpCredentialIssuer({ url: api.url, token, timeoutMs: 2000 });

  before(async () => {
    overlapping = new AuthApi({ issuer: { mode: 'overlapping', maxLive: 2, token: ISSUER_TOKEN } });
    incident = new AuthApi({ issuer: { mode: 'incident', token: ISSUER_TOKEN } });
    await overlapping.start();
    await incident.start();
  });
  after(async () => {
    await overlapping.stop();
    await incident.stop();
  });

  it('issues once per id: a retried issue returns the same credential, and the token works', async () => {
    const issuer = issuerFor(overlapping);
    const first = await issuer.issue({ id: 'auth-20261130120000' });
    const again = await issuer.issue({ id: 'auth-20261130120000' });
    assert.equal(again.token, first.token);
    assert.equal(overlapping.issued().filter((c) => c.id === 'auth-20261130120000').length, 1);
    assert.equal(await authenticate(overlapping, first.token), 200);
    assert.deepEqual(
      { ...(await issuer.status('auth-20261130120000')), issuedAt: 'x' },
      { id: 'auth-20261130120000', state: 'active', issuedAt: 'x', revokedAt: null },
    );
  });

  it('overlapping: the old credential stays valid beside the new until revoked; revoking twice is one revoke', async () => {
    const issuer = issuerFor(overlapping);
    const old = await issuer.issue({ id: 'auth-20261130120000' });
    const next = await issuer.issue({ id: 'auth-20261130130000' });
    assert.deepEqual([await authenticate(overlapping, old.token), await authenticate(overlapping, next.token)], [200, 200]);
    const revoked = await issuer.revoke('auth-20261130120000');
    assert.equal(revoked.state, 'revoked');
    assert.ok(revoked.revokedAt);
    assert.deepEqual(await issuer.revoke('auth-20261130120000'), revoked, 'idempotent: the same revocation');
    assert.deepEqual([await authenticate(overlapping, old.token), await authenticate(overlapping, next.token)], [401, 200]);
  });

  it('overlapping: refuses more live credentials than its limit, saying to revoke one first', async () => {
    const issuer = issuerFor(overlapping);
    await issuer.issue({ id: 'auth-20261130140000' }); // live now: ...130000 and ...140000
    const err = await rejected(issuer.issue({ id: 'auth-20261130150000' }));
    assert.equal(err.type, 'Conflict');
    assert.match(
      err.message,
      /refused to issue a credential for auth-20261130150000 \(HTTP 409\): 2 credentials are live, the most this issuer allows; revoke one first/,
    );
  });

  it('incident: issuing revokes every older credential at once, so pods still on the old token fail', async () => {
    const issuer = issuerFor(incident);
    const old = await issuer.issue({ id: 'auth-20261130120000' });
    assert.equal(await authenticate(incident, old.token), 200);
    const next = await issuer.issue({ id: 'auth-20261130130000' });
    assert.deepEqual([await authenticate(incident, old.token), await authenticate(incident, next.token)], [401, 200]);
    assert.equal((await issuer.status('auth-20261130120000')).state, 'revoked');
  });

  it('issues a credential of the wrong scope when asked: the auth API refuses it with 403', async () => {
    const wrong = await issuerFor(incident).issue({ id: 'auth-wrong-scope', scope: 'auth:read' });
    assert.equal(await authenticate(incident, wrong.token), 403);
    assert.equal(incident.issued().find((c) => c.id === 'auth-wrong-scope')?.scope, 'auth:read');
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
