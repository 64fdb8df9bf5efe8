// Pre-flight checks (stages[].preflight), on the time-skipping server with rotor's real activities over
// the memory cluster and a real HTTP API on 127.0.0.1 that judges tokens as the sandbox's auth API does
// (by the scope the issuer gave each, confined to an environment or not): a wrong-scope credential is
// stopped before any workload gets it, by an HTTP call and by a Job whose pod reads the version
// (envFrom or a volume), decided by the value; a production endpoint that refuses what staging
// accepted rolls staging back and never touches production; the credential is revoked; the token
// never reaches the status, even when the API echoes it.
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { MemoryCredentialIssuer } from '../activities/issuers/memory';
import { CHECK_IMAGE } from '../activities/memory/programs';
import type { RotationStatus } from '../contract/api';
import { twoStagePlan } from './helpers/plans';
import { formatStatus } from '../client/format';
import { timeSkippingRotations } from './helpers/rotations';

const OLD = 'auth-api-secrets-20250101000000';
const { run } = timeSkippingRotations('preflight');

/** Tokens as the issuers of the tests made them: their state, and the one environment they are valid from. */
const tokens = new Map<string, { state: string; onlyFrom?: string }>();
let server: Server;
let base = '';

before(async () => {
  // GET or POST /verify?env=<environment>, `Authorization: Bearer <token>`; a refusal echoes the token, as careless APIs do.
  server = createServer((req, res) => {
    const env = new URL(req.url ?? '/', 'http://x').searchParams.get('env');
    const token = (req.headers.authorization ?? '').replace(/^Bearer /, '');
    const known = tokens.get(token);
    const answer = (code: number, body: object) => res.writeHead(code, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    if (!known) return answer(401, { error: 'unknown token' });
    if (known.state !== 'valid') return answer(403, { error: `insufficient scope for ${token}` });
    if (known.onlyFrom && known.onlyFrom !== env) return answer(403, { error: `token valid only from ${known.onlyFrom}` });
    return answer(200, { ok: true, env });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

after(() => server.close());

/** The auth API's issuer: auth:verify is the scope it accepts; the plan's scope is what rotor asks for. */
function issuer(): MemoryCredentialIssuer {
  return new MemoryCredentialIssuer({
    mode: 'overlapping',
    scope: 'auth:verify',
    onToken: (token, state, onlyFrom) => tokens.set(token, { state, ...(onlyFrom ? { onlyFrom } : {}) }),
  });
}

const http = (env: string) => ({
  name: 'verify-token',
  http: { url: `${base}/verify?env=${env}`, headers: { Authorization: 'Bearer {{secret.api_token}}' }, retries: 0 },
});
const job = (env: string, secretAs: unknown = 'envFrom') => ({
  name: 'verify-in-pod',
  job: {
    image: `${CHECK_IMAGE}:1`,
    args:
      secretAs === 'envFrom'
        ? ['http-check', '--url', `${base}/verify?env=${env}`, '--bearer-env', 'api_token']
        : ['http-check', '--url', `${base}/verify?env=${env}`, '--bearer-file', '/etc/auth/api_token'],
    secretAs,
    timeout: '1m',
  },
});
const plan = (scope: string, staging: object[], production: object[]) =>
  twoStagePlan({
    staging: { preflight: staging },
    production: { preflight: production },
    top: { value: { issuer: { key: 'api_token', scope } } },
  });

const preflightChecks = (s: RotationStatus) => s.checks.filter((c) => c.check === 'preflight');

describe('pre-flight checks', () => {
  it('stops a wrong-scope token by an HTTP call before any workload gets it, revokes it, and never shows it', async () => {
    const iss = issuer();
    const { d, status, sunk } = await run({ issuer: iss }, plan('auth:admin', [http('staging')], [http('production')]));
    assert.equal(status.phase, 'ROLLED_BACK', status.outcome ?? '');
    assert.deepEqual(sunk.rolledBack, [{ secret: 'auth-api-secrets', reason: 'preflight' }], 'the metrics count a pre-flight rollback');
    assert.match(
      status.outcome!,
      /pre-flight check verify-token in staging failed: HTTP 403 from GET http:\/\/127\.0\.0\.1:\d+\/verify\?env=staging \(expected 200\)/,
    );
    assert.deepEqual(d.called('switchWorkloads'), [], 'nothing was switched anywhere');
    const token = d.cluster.world.secrets.find((s) => s.name === status.newVersion)!.data.api_token;
    assert.ok(!JSON.stringify(status).includes(token), 'the echoed token is not in the status');
    assert.match(preflightChecks(status)[0].reason, /insufficient scope for \[redacted\]/);
    assert.match(formatStatus(status), /\n {2}FAILED {7}pre-flight staging: verify-token: HTTP 403 from GET /, 'rotor status lists the check');
    assert.deepEqual(
      iss.issued().map((c) => [c.id, c.state]),
      [[status.newCredential, 'revoked']],
      'the credential the test refused is revoked',
    );
    for (const ns of ['staging', 'production']) assert.equal(d.workload(ns, 'auth-api')!.refs[Object.keys(d.workload(ns, 'auth-api')!.refs)[0]], OLD);
  });

  it('checks again before production: a token valid only from staging rolls staging back and never touches production', async () => {
    const iss = issuer();
    const { d, status } = await run({ issuer: iss }, plan('auth:verify@staging', [http('staging')], [http('production')]));
    assert.equal(status.phase, 'ROLLED_BACK', status.outcome ?? '');
    assert.match(status.outcome!, /pre-flight check verify-token in production failed: HTTP 403 .*token valid only from staging/);
    assert.deepEqual(
      preflightChecks(status).map((c) => [c.stage, c.verdict]),
      [
        ['staging', 'passed'],
        ['production', 'failed'],
      ],
    );
    assert.deepEqual(
      d.called('switchWorkloads').map((i) => i.namespace),
      ['staging'],
      'production was never switched',
    );
    assert.deepEqual(
      d.called('revertWorkloads').map((i) => i.namespace),
      ['staging'],
    );
    assert.equal(iss.issued().find((c) => c.id === status.newCredential)?.state, 'revoked');
  });

  it('stops it by a Job whose pod reads the version through envFrom, decided by the value, with its log lines redacted', async () => {
    const iss = issuer();
    const { d, status } = await run({ issuer: iss }, plan('auth:admin', [job('staging')], []));
    assert.equal(status.phase, 'ROLLED_BACK', status.outcome ?? '');
    assert.match(status.outcome!, /pre-flight check verify-in-pod in staging failed: Job rotor-preflight-[0-9a-f]{12} failed: its container exited 1/);
    assert.deepEqual(d.called('switchWorkloads'), []);
    const logs = status.events.find((e) => e.message.startsWith('pre-flight verify-in-pod logs:'));
    assert.ok(logs, status.events.map((e) => e.message).join('\n'));
    assert.match(logs.message, /HTTP 403 .*insufficient scope for \[redacted\]/);
    assert.equal(iss.issued().find((c) => c.id === status.newCredential)?.state, 'revoked');
  });

  it('passes a good token through a Job that reads a volume and an HTTP call, in order, then rolls out as before', async () => {
    const iss = issuer();
    const { d, status } = await run({ issuer: iss }, plan('auth:verify', [job('staging', { volume: '/etc/auth' }), http('staging')], [http('production')]));
    assert.equal(status.phase, 'COMPLETED', status.outcome ?? '');
    assert.deepEqual(
      preflightChecks(status).map((c) => [c.stage, c.reason.split(':')[0], c.verdict]),
      [
        ['staging', 'verify-in-pod', 'passed'],
        ['staging', 'verify-token', 'passed'],
        ['production', 'verify-token', 'passed'],
      ],
    );
    // Each stage's checks ran before its first switch.
    const order = d.calls
      .filter((c) => c.name === 'preflightCheck' || c.name === 'switchWorkloads')
      .map((c) => `${c.name}:${(c.input as { namespace: string }).namespace}`);
    assert.deepEqual(order.slice(0, 3), ['preflightCheck:staging', 'preflightCheck:staging', 'switchWorkloads:staging']);
    assert.equal(
      order.indexOf('preflightCheck:production'),
      order.findIndex((c) => c.endsWith(':production')),
      'production checked before its first switch',
    );
  });
});
