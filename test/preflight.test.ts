// Pre-flight checks' pure parts (domain/preflight.ts: templates, filling, redaction) and the HTTP check
// against real servers on 127.0.0.1: TLS verified by default, timeouts and retries bounded, the
// expectation judged, and whatever the answer echoes redacted (raw, base64, URL-encoded).
import assert from 'node:assert/strict';
import { createServer as createHttp, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer as createHttps } from 'node:https';
import type { AddressInfo } from 'node:net';
import { after, describe, it } from 'node:test';
import fc from 'fast-check';
import { preflightJobName, runHttpCheck } from '../activities/preflight';
import { preflightJobManifest } from '../activities/kubernetes/jobs';
import { fillTemplate, placeholderKeys, redact, templateProblem, type HttpPreflight } from '../domain/preflight';
import { selfSigned } from './helpers/secret-types';
import { LABEL_SECRET } from '../activities/kubernetes/ownership';
import { recordValues } from './helpers/leak';

const TOKEN = 'tok-5f1d2c3b4a5968778695a4b3c2d1e0f0';
recordValues([TOKEN]);
const data = { api_token: TOKEN, user: 'svc-auth' };

const servers: { close(): void }[] = [];
after(() => servers.forEach((s) => s.close()));

type Handler = (req: IncomingMessage, body: string, res: ServerResponse) => void;
async function serve(handler: Handler, tls?: { crt: string; key: string }): Promise<string> {
  const listener = (req: IncomingMessage, res: ServerResponse) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => handler(req, body, res));
  };
  const server = tls ? createHttps({ cert: tls.crt, key: tls.key }, listener) : createHttp(listener);
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return `${tls ? 'https' : 'http'}://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

const check = (url: string, over: Partial<HttpPreflight> = {}): HttpPreflight => ({
  url,
  method: 'POST',
  headers: { Authorization: 'Bearer {{secret.api_token}}' },
  body: '{"user":"{{ secret.user }}"}',
  expect: { status: [200] },
  timeoutMs: 2000,
  retries: 0,
  ...over,
});

describe('pre-flight templates', () => {
  it('names the keys a template uses, and refuses any other placeholder', () => {
    assert.deepEqual(placeholderKeys('Bearer {{secret.api_token}} {{ secret.user }} {{secret.api_token}}'), ['api_token', 'user']);
    assert.equal(templateProblem('Bearer {{secret.api_token}}'), null);
    assert.match(templateProblem('Bearer {{env.TOKEN}}')!, /names \{\{env\.TOKEN\}\}; the only placeholder is \{\{secret\.<key>\}\}/);
    assert.match(templateProblem('{{secret.}}')!, /the only placeholder/);
  });

  it('fills in the version, and a missing key names the keys the version has, never a value', () => {
    assert.equal(fillTemplate('Bearer {{secret.api_token}}', data, 'headers.Authorization'), `Bearer ${TOKEN}`);
    assert.throws(
      () => fillTemplate('{{secret.password}}', data, 'body'),
      (err: Error) =>
        err.message === 'body names {{secret.password}}, but the new version has no key password (its keys: api_token, user)' && !err.message.includes(TOKEN),
    );
  });

  it('redacts every value in any text, in every form an answer may echo it', () => {
    fc.assert(
      fc.property(fc.string({ minLength: 4, maxLength: 40 }), fc.string(), fc.string(), (value, before, afterText) => {
        const b64 = Buffer.from(value, 'utf8').toString('base64');
        const text = `${before}${value}${afterText} ${b64} ${encodeURIComponent(value)}`;
        const out = redact(text, { k: value });
        assert.ok(!out.includes(value), `raw value left in ${JSON.stringify(out)}`);
        assert.ok(!out.includes(b64), 'base64 left');
      }),
      { seed: 27, numRuns: 300 },
    );
    assert.equal(redact('id=abc', { k: 'abc' }), 'id=abc', 'values shorter than 4 characters are left: they would blank every message');
  });

  it("names a check's Job after the rotation, stage and check, the same on a retry and apart for any other", () => {
    const a = preflightJobName({ rotationId: 'r1', stage: 'staging', index: 0 });
    assert.match(a, /^rotor-preflight-[0-9a-f]{12}$/);
    assert.equal(preflightJobName({ rotationId: 'r1', stage: 'staging', index: 0 }), a);
    assert.notEqual(preflightJobName({ rotationId: 'r2', stage: 'staging', index: 0 }), a);
    assert.notEqual(preflightJobName({ rotationId: 'r1', stage: 'staging', index: 1 }), a);
  });
});

describe('the pre-flight Job', () => {
  const spec = (secretAs: { envFrom: true } | { volume: string }) => ({
    namespace: 'staging',
    name: 'rotor-preflight-0123456789ab',
    version: 'auth-api-secrets-20261207120000',
    rotationId: 'default/rotate-staging-auth-api-secrets/run-1',
    job: { image: 'curlimages/curl:8.11.1', args: ['-f', 'https://auth/verify'], timeoutMs: 90_500, secretAs },
  });

  it('reads the version as the workloads do, runs once within its deadline, with no token and no privilege', () => {
    const env = preflightJobManifest(spec({ envFrom: true }));
    assert.equal(env.spec!.backoffLimit, 0, 'a failed test is not retried into a pass');
    assert.equal(env.spec!.activeDeadlineSeconds, 91, 'the deadline, rounded up');
    const pod = env.spec!.template.spec!;
    assert.equal(pod.restartPolicy, 'Never');
    assert.equal(pod.automountServiceAccountToken, false);
    assert.deepEqual(pod.containers[0].envFrom, [{ secretRef: { name: 'auth-api-secrets-20261207120000' } }]);
    assert.equal(pod.containers[0].terminationMessagePolicy, 'FallbackToLogsOnError', 'its last lines survive where no log can be read');
    assert.equal(pod.volumes, undefined);
    assert.equal(env.metadata!.annotations!['rotor.dev/rotation'], 'default/rotate-staging-auth-api-secrets/run-1');
    assert.equal(env.metadata!.labels![LABEL_SECRET], 'auth-api-secrets');
    const vol = preflightJobManifest(spec({ volume: '/etc/auth' })).spec!.template.spec!;
    assert.deepEqual(vol.volumes, [{ name: 'version', secret: { secretName: 'auth-api-secrets-20261207120000' } }]);
    assert.deepEqual(vol.containers[0].volumeMounts, [{ name: 'version', mountPath: '/etc/auth', readOnly: true }]);
    assert.equal(vol.containers[0].envFrom, undefined);
  });
});

describe('the HTTP pre-flight check', () => {
  it('sends the filled-in headers and body, and passes on an expected answer', async () => {
    let seen: { auth?: string; body?: string } = {};
    const url = await serve((req, body, res) => {
      seen = { auth: req.headers.authorization, body };
      res.writeHead(200).end('{"status":"ok"}');
    });
    const result = await runHttpCheck('verify', check(`${url}/verify`, { expect: { status: [200], bodyContains: 'ok' } }), data);
    assert.deepEqual(result, { name: 'verify', passed: true, message: `HTTP 200 from POST ${url}/verify` });
    assert.deepEqual(seen, { auth: `Bearer ${TOKEN}`, body: '{"user":"svc-auth"}' });
  });

  it('fails on another status or a body without the text, quoting the answer with the value redacted', async () => {
    const url = await serve((req, _b, res) => {
      const b64 = Buffer.from(TOKEN).toString('base64');
      if (req.url === '/scope') res.writeHead(403).end(`{"error":"scope","token":"${TOKEN}","b64":"${b64}"}`);
      else res.writeHead(200).end('{"status":"degraded"}');
    });
    const refused = await runHttpCheck('verify', check(`${url}/scope`), data);
    assert.equal(refused.passed, false);
    assert.equal(refused.message, `HTTP 403 from POST ${url}/scope (expected 200): {"error":"scope","token":"[redacted]","b64":"[redacted]"}`);
    const lacking = await runHttpCheck('verify', check(`${url}/x`, { expect: { status: [200], bodyContains: '"ok"' } }), data);
    assert.equal(lacking.message, `HTTP 200 from POST ${url}/x, but the body lacks "\\"ok\\"": {"status":"degraded"}`);
  });

  it('verifies TLS by default: a self-signed server is refused before anything is sent', async () => {
    let reached = false;
    const url = await serve((_r, _b, res) => {
      reached = true;
      res.writeHead(200).end('ok');
    }, selfSigned('preflight'));
    const result = await runHttpCheck('verify', check(`${url}/verify`), data);
    assert.equal(result.passed, false);
    assert.match(
      result.message,
      /^POST https:\/\/127\.0\.0\.1:\d+\/verify failed: (DEPTH_ZERO_SELF_SIGNED_CERT|SELF_SIGNED_CERT_IN_CHAIN|ERR_TLS_CERT_ALTNAME_INVALID)/,
    );
    assert.equal(reached, false, 'no request reached the server');
  });

  it('gives an attempt up at its timeout and tries again a bounded number of times', async () => {
    let calls = 0;
    const url = await serve((_r, _b, res) => {
      calls += 1;
      if (calls < 3) return; // never answers
      res.writeHead(200).end('ok');
    });
    const slow = await runHttpCheck('verify', check(url, { timeoutMs: 300, retries: 1 }), data);
    assert.equal(slow.passed, false);
    assert.equal(slow.message, `POST ${url} failed: no answer within 0.3s (2 attempts)`);
    assert.equal(calls, 2);
    const third = await runHttpCheck('verify', check(url, { timeoutMs: 300, retries: 0 }), data);
    assert.equal(third.passed, true, 'the third call is answered');
  });

  it('does not follow a redirect: the credential stays with the host the plan named', async () => {
    const url = await serve((_r, _b, res) => res.writeHead(302, { location: 'http://127.0.0.1:9/steal' }).end());
    const result = await runHttpCheck('verify', check(url), data);
    assert.equal(result.passed, false);
    assert.match(result.message, /^HTTP 302 from POST/);
  });
});
