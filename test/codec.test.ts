// The payload codec: AES-256-GCM over whole payloads with named keys (temporal/codec.ts), the keys
// from ROTOR_CODEC_KEYS_FILE or ROTOR_CODEC_KEY, `rotor codec-server` (Temporal's remote codec
// protocol, for the Web UI), and end to end on a real dev server: a rotation started by rotor's client
// through an encrypting data converter leaves nothing of its plan readable in the history without the
// key, not even a failure message, while with the key everything reads back.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Client, Connection, WorkflowFailedError } from '@temporalio/client';
import { defaultPayloadConverter, DefaultFailureConverter, type Payload } from '@temporalio/common';
import { JSONToPayload, historyToJSON, payloadToJSON } from '@temporalio/common/lib/proto-utils';
import { temporal } from '@temporalio/proto';
import { NativeConnection, Worker } from '@temporalio/worker';
import { launch } from 'puppeteer-core';
import { startCodecServer, type CodecServer } from '../client/codec-server';
import { RotorClient } from '../client/rotor-client';
import { TERMINAL_PHASES } from '../contract/api';
import { parsePlan } from '../domain/plan';
import { CHROMIUM_ARGS, chromiumPath } from '../sandbox/browser';
import { quietRuntime } from '../sandbox/time-skipping';
import { AesGcmCodec, CodecError, CodecKeyError, codecFromEnv, ENCODING_ENCRYPTED, generateCodecKey, loadCodecKeys, METADATA_KEY_ID } from '../temporal/codec';
import { dataConverter } from '../temporal/settings';
import { pollStatus, rotor, rotorBin } from './helpers/cli';
import { freePort, startDevServer, type DevServer } from './helpers/dev-server';
import { Doubles } from './helpers/doubles';
import { repoRoot } from './helpers/tools';
import { stopEach, workerStep } from './helpers/stop-each';

const dir = mkdtempSync(join(tmpdir(), 'rotor-codec-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const b64 = (n: number, fill = 7) => Buffer.alloc(n, fill).toString('base64');
const text = (b: Uint8Array | null | undefined) => Buffer.from(b ?? new Uint8Array()).toString('utf8');
const jsonPayload = (value: unknown): Payload => defaultPayloadConverter.toPayload(value);

/** A keys file with these lines, mode 600 unless told. */
function keysFile(lines: string[], mode = 0o600): string {
  const path = join(dir, `keys-${Math.random().toString(36).slice(2)}`);
  writeFileSync(path, `${lines.join('\n')}\n`);
  chmodSync(path, mode);
  return path;
}

function keyError(env: NodeJS.ProcessEnv): CodecKeyError {
  try {
    loadCodecKeys(env);
  } catch (err) {
    assert.ok(err instanceof CodecKeyError, `expected a CodecKeyError, got ${String(err)}`);
    return err;
  }
  assert.fail(`keys loaded from ${JSON.stringify(env)}`);
}

/**
 * Where `needle` would show in a dump of a history: as text, as hex, or inside base64 at any of the
 * three alignments (the middle of its base64 that does not depend on the bytes around it).
 */
function leaks(haystack: string, needle: string): string[] {
  const found: string[] = [];
  const bytes = Buffer.from(needle);
  if (haystack.includes(needle)) found.push('as text');
  if (haystack.toLowerCase().includes(bytes.toString('hex'))) found.push('as hex');
  for (let offset = 0; offset < 3; offset++) {
    const encoded = Buffer.concat([Buffer.alloc(offset), bytes]).toString('base64');
    const start = offset === 0 ? 0 : 4;
    const end = (offset + bytes.length) % 3 === 0 ? encoded.length : encoded.length - 4;
    const middle = encoded.slice(start, end);
    if (haystack.includes(middle) || haystack.includes(middle.replace(/\+/g, '-').replace(/\//g, '_'))) found.push(`as base64 (alignment ${offset})`);
  }
  return found;
}

/**
 * Every payload in a history (proto3 JSON) that is not encrypted, by path. Two kinds never reach a
 * codec: search attributes, which the server indexes (rotor's say which secret, phase and stage), and
 * the markers of patched() (the SDK's core writes them; they hold the patch's name).
 */
function unencrypted(node: unknown, path = '$'): string[] {
  if (!node || typeof node !== 'object') return [];
  if (Array.isArray(node)) return node.flatMap((v, i) => unencrypted(v, `${path}[${i}]`));
  const record = node as Record<string, unknown>;
  const metadata = record.metadata as Record<string, string> | undefined;
  if (metadata && typeof metadata.encoding === 'string' && !/searchAttributes|markerRecordedEventAttributes\.details\.(patch-data|data)\b/.test(path)) {
    const encoding = Buffer.from(metadata.encoding, 'base64').toString();
    return encoding === ENCODING_ENCRYPTED ? [] : [`${path}: ${encoding}`];
  }
  return Object.entries(record).flatMap(([k, v]) => unencrypted(v, `${path}.${k}`));
}

describe('payload codec', () => {
  const k1 = generateCodecKey('k1');
  const k2 = generateCodecKey('k2');
  const both = codecFromEnv({ ROTOR_CODEC_KEYS_FILE: keysFile(['# rotated 2025-01', k1, '', '# current', k2]) })!;
  const onlyK1 = codecFromEnv({ ROTOR_CODEC_KEY: k1 })!;
  const onlyK2 = codecFromEnv({ ROTOR_CODEC_KEY: k2 })!;

  it('encrypts whole payloads and decrypts them back, with a fresh IV each time', async () => {
    const original = jsonPayload({ secret: 'round-trip-secrets', keys: ['api_token'] });
    const [encoded] = await both.encode([original]);
    assert.equal(text(encoded.metadata!.encoding), ENCODING_ENCRYPTED);
    assert.equal(text(encoded.metadata![METADATA_KEY_ID]), 'k2');
    assert.deepEqual(Object.keys(encoded.metadata!).sort(), ['encoding', METADATA_KEY_ID].sort(), 'the original metadata is inside the ciphertext');
    assert.deepEqual(leaks(Buffer.from(encoded.data!).toString('latin1'), 'round-trip-secrets'), []);
    assert.deepEqual(leaks(Buffer.from(encoded.data!).toString('latin1'), 'json/plain'), []);
    // iv (12) | ciphertext (the serialized payload) | tag (16)
    const serialized = temporal.api.common.v1.Payload.encode(original).finish();
    assert.equal(encoded.data!.length, 12 + serialized.length + 16);
    const [again] = await both.encode([original]);
    assert.notDeepEqual(Buffer.from(again.data!), Buffer.from(encoded.data!), 'the same payload encrypts differently each time');
    const [decoded] = await both.decode([encoded]);
    assert.equal(text(decoded.metadata!.encoding), 'json/plain');
    assert.deepEqual(defaultPayloadConverter.fromPayload(decoded), { secret: 'round-trip-secrets', keys: ['api_token'] });
    // Payloads without data or metadata (undefined, binary/null) survive too.
    const [nothing] = await both.decode(await both.encode([jsonPayload(undefined)]));
    assert.equal(defaultPayloadConverter.fromPayload(nothing), undefined);
  });

  it('encrypts with the newest key and decrypts payloads of an older one', async () => {
    assert.equal(both.current, 'k2');
    assert.deepEqual(both.keyIds, ['k1', 'k2']);
    const [old] = await onlyK1.encode([jsonPayload('written before the rotation')]);
    assert.equal(text(old.metadata![METADATA_KEY_ID]), 'k1');
    assert.equal(defaultPayloadConverter.fromPayload((await both.decode([old]))[0]), 'written before the rotation');
    const [current] = await both.encode([jsonPayload('after')]);
    assert.equal(defaultPayloadConverter.fromPayload((await onlyK2.decode([current]))[0]), 'after');
  });

  it('refuses an unknown key id and a tampered byte, naming the key id and what to do, never the key', async () => {
    const [old] = await onlyK1.encode([jsonPayload('x')]);
    await assert.rejects(onlyK2.decode([old]), (err: Error) => {
      assert.ok(err instanceof CodecError);
      assert.match(err.message, /encrypted with the key k1, which is not configured \(ROTOR_CODEC_KEY has k2\); add that key's line to ROTOR_CODEC_KEYS_FILE/);
      assert.ok(!err.message.includes(k1.split('=')[1]) && !err.message.includes(k2.split('=')[1]), 'no key material in the message');
      return true;
    });
    const [good] = await both.encode([jsonPayload('tamper with me')]);
    const length = good.data!.length;
    for (const [where, index] of [
      ['iv', 3],
      ['ciphertext', 20],
      ['tag', length - 2],
    ] as const) {
      const data = Buffer.from(good.data!);
      data[index] ^= 0x01;
      await assert.rejects(
        both.decode([{ ...good, data }]),
        /a payload encrypted with the key k2 failed authentication: it was altered, or ROTOR_CODEC_KEYS_FILE .* holds a different key under the id k2/,
        where,
      );
    }
    await assert.rejects(both.decode([{ ...good, data: good.data!.subarray(0, 20) }]), /too short/);
    // The same id with another key: authentication fails, it does not decrypt to garbage.
    const impostor = codecFromEnv({ ROTOR_CODEC_KEY: `k2=${b64(32, 9)}` })!;
    await assert.rejects(impostor.decode([good]), /failed authentication/);
  });

  it('passes payloads it did not encrypt through unchanged', async () => {
    const plain = [jsonPayload({ a: 1 }), jsonPayload(undefined), { metadata: {}, data: Buffer.from('raw') }, {}];
    const decoded = await both.decode(plain);
    decoded.forEach((p, i) => assert.equal(p, plain[i]));
  });

  it('reads keys from ROTOR_CODEC_KEYS_FILE or ROTOR_CODEC_KEY, and nothing without them', () => {
    assert.equal(loadCodecKeys({}), null);
    assert.equal(codecFromEnv({}), null);
    const fromFile = loadCodecKeys({
      ROTOR_CODEC_KEYS_FILE: keysFile(['  # comment', `  ${generateCodecKey('old.2024')}  `, generateCodecKey('new_2025-01')], 0o640),
    })!;
    assert.deepEqual([...fromFile.keys.keys()], ['old.2024', 'new_2025-01'], 'a file readable by its group is fine');
    assert.equal(fromFile.current, 'new_2025-01');
    for (const key of fromFile.keys.values()) assert.equal(key.length, 32);
    const single = loadCodecKeys({ ROTOR_CODEC_KEY: k1 })!;
    assert.deepEqual([single.current, single.keys.get('k1')], ['k1', Buffer.from(k1.split('=')[1], 'base64')]);
    assert.match(k1, /^k1=[A-Za-z0-9+/]{43}=$/);
    assert.throws(() => generateCodecKey('no spaces'), /letters, digits/);
  });

  it('refuses bad key settings, naming the variable and the line, never the key bytes', () => {
    const short = b64(16);
    const file = keysFile(['# keys', 'k1=' + b64(32), 'k2=not base64!', `k3=${short}`, 'k1=' + b64(32, 8), 'no-equals-sign', 'bad id=' + b64(32)]);
    const err = keyError({ ROTOR_CODEC_KEYS_FILE: file });
    assert.deepEqual(
      err.problems.map((p) => p.replace(file, 'FILE').split(';')[0]),
      [
        'ROTOR_CODEC_KEYS_FILE FILE line 3: the key of k2 is not base64',
        'ROTOR_CODEC_KEYS_FILE FILE line 4: the key of k3 is 16 bytes, AES-256 needs 32',
        'ROTOR_CODEC_KEYS_FILE FILE line 5: the key id k1 is already used on line 2',
        'ROTOR_CODEC_KEYS_FILE FILE line 6: not id=<base64>',
        "ROTOR_CODEC_KEYS_FILE FILE line 7: the key id must be 1 to 64 letters, digits, '-', '_' or '.'",
      ],
    );
    for (const secret of [b64(32), b64(32, 8), short, 'not base64!']) assert.ok(!err.message.includes(secret), 'no key bytes in the message');
    const open = keysFile([k1], 0o644);
    assert.match(
      keyError({ ROTOR_CODEC_KEYS_FILE: open }).message,
      new RegExp(`is readable by every user \\(mode 644\\); make it private with: chmod 600 ${open}`),
    );
    assert.match(keyError({ ROTOR_CODEC_KEYS_FILE: keysFile(['# nothing yet']) }).message, /has no key; add a line id=<base64/);
    assert.match(keyError({ ROTOR_CODEC_KEYS_FILE: join(dir, 'missing') }).message, /ROTOR_CODEC_KEYS_FILE .*missing does not exist/);
    assert.match(keyError({ ROTOR_CODEC_KEYS_FILE: '' }).message, /ROTOR_CODEC_KEYS_FILE is empty/);
    assert.match(keyError({ ROTOR_CODEC_KEY: `k1=${short}` }).message, /^ROTOR_CODEC_KEY: the key of k1 is 16 bytes/);
    assert.match(keyError({ ROTOR_CODEC_KEY: '' }).message, /^ROTOR_CODEC_KEY: not id=<base64>/);
    for (const bare of [b64(32, 65), b64(16, 66)]) {
      const message = keyError({ ROTOR_CODEC_KEY: bare }).message;
      assert.match(message, /^ROTOR_CODEC_KEY: no key after an id/, 'a bare key, without its id');
      assert.ok(!message.includes(bare.replace(/=+$/, '')), 'the bare key is not echoed as an id');
    }
    assert.match(keyError({ ROTOR_CODEC_KEY: k1, ROTOR_CODEC_KEYS_FILE: file }).message, /both ROTOR_CODEC_KEYS_FILE and ROTOR_CODEC_KEY are set/);
  });

  it("puts the codec and a failure converter that encodes messages and stack traces into rotor's data converter", () => {
    assert.deepEqual(dataConverter({}), {});
    const converter = dataConverter({ ROTOR_CODEC_KEY: k1 });
    assert.equal(converter.payloadCodecs?.length, 1);
    assert.ok(converter.payloadCodecs![0] instanceof AesGcmCodec);
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { failureConverter } = require(converter.failureConverterPath!) as { failureConverter: DefaultFailureConverter };
    assert.ok(failureConverter instanceof DefaultFailureConverter);
    assert.equal(failureConverter.options.encodeCommonAttributes, true);
    assert.throws(() => dataConverter({ ROTOR_CODEC_KEY: 'k1=short' }), CodecKeyError);
  });
});

describe('a keys file rotated on disk', () => {
  it('encrypts with a key added to the file from the next payload on, and still decrypts what the old key wrote; a broken file fails loudly', async () => {
    const old = generateCodecKey('2026-11');
    const path = keysFile([old]);
    const codec = codecFromEnv({ ROTOR_CODEC_KEYS_FILE: path })!;
    const [before] = await codec.encode([jsonPayload('written with 2026-11')]);
    assert.equal(new TextDecoder().decode(before.metadata![METADATA_KEY_ID]), '2026-11');
    // As kubelet updates a mounted Secret: a new file swapped in, the new key last.
    writeFileSync(`${path}.new`, `${old}\n${generateCodecKey('2026-12')}\n`, { mode: 0o600 });
    renameSync(`${path}.new`, path);
    const [after] = await codec.encode([jsonPayload('written with 2026-12')]);
    assert.equal(new TextDecoder().decode(after.metadata![METADATA_KEY_ID]), '2026-12');
    assert.deepEqual(codec.keyIds, ['2026-11', '2026-12']);
    const [readBack] = await codec.decode([before]);
    assert.equal(new TextDecoder().decode(readBack.data), '"written with 2026-11"');
    writeFileSync(`${path}.new`, 'not a key\n', { mode: 0o600 });
    renameSync(`${path}.new`, path);
    await assert.rejects(codec.encode([jsonPayload('x')]), (err: Error) => err instanceof CodecKeyError && /ROTOR_CODEC_KEYS_FILE/.test(err.message));
  });
});

describe('rotor codec-server', () => {
  const origin = 'http://localhost:8233';
  const codec = codecFromEnv({ ROTOR_CODEC_KEYS_FILE: keysFile([generateCodecKey('old'), generateCodecKey('new')]) })!;
  let server: CodecServer;
  const logged: string[] = [];

  before(async () => {
    server = await startCodecServer({ codec, port: 0, host: '127.0.0.1', origins: [origin], log: (l) => logged.push(l) });
  });
  after(() => server?.close());

  const post = (path: string, body: unknown, headers: Record<string, string> = {}) =>
    fetch(`${server.url}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-namespace': 'default', origin, ...headers },
      body: typeof body === 'string' ? body : JSON.stringify(body),
    });

  it('encodes and decodes payloads in proto3 JSON, as the Web UI sends them', async () => {
    const originals = [jsonPayload({ secret: 'served-secrets', n: 1 }), jsonPayload('two'), jsonPayload(undefined)];
    const request = { payloads: originals.map((p) => payloadToJSON(p)) };
    const encodedRes = await post('/encode', request);
    assert.equal(encodedRes.status, 200);
    assert.equal(encodedRes.headers.get('content-type'), 'application/json');
    assert.equal(encodedRes.headers.get('access-control-allow-origin'), origin);
    const encoded = (await encodedRes.json()) as { payloads: { metadata: Record<string, string>; data: string }[] };
    assert.equal(encoded.payloads.length, 3);
    for (const p of encoded.payloads) {
      assert.equal(Buffer.from(p.metadata.encoding, 'base64').toString(), ENCODING_ENCRYPTED, 'metadata values are base64');
      assert.equal(Buffer.from(p.metadata[METADATA_KEY_ID], 'base64').toString(), 'new');
    }
    assert.deepEqual(leaks(JSON.stringify(encoded), 'served-secrets'), []);
    // The SDK's own proto JSON reads what the server writes, and the codec decrypts it.
    const viaSdk = await codec.decode(encoded.payloads.map((p) => JSONToPayload(p)));
    assert.deepEqual(defaultPayloadConverter.fromPayload(viaSdk[0]), { secret: 'served-secrets', n: 1 });
    const decodedRes = await post('/decode', encoded);
    assert.equal(decodedRes.status, 200);
    const decoded = (await decodedRes.json()) as { payloads: unknown[] };
    assert.deepEqual(
      decoded.payloads,
      request.payloads.map((p) => ({ metadata: p.metadata, data: p.data ?? '' })),
    );
    assert.deepEqual(defaultPayloadConverter.fromPayload(JSONToPayload(decoded.payloads[0] as never)), { secret: 'served-secrets', n: 1 });
    // The Temporal CLI may put the namespace in the path.
    assert.equal((await post('/default/decode', encoded)).status, 200);
  });

  it('answers the CORS preflight of the allowed origin and refuses other origins', async () => {
    const preflight = await fetch(`${server.url}/decode`, {
      method: 'OPTIONS',
      headers: { origin, 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type,x-namespace' },
    });
    assert.equal(preflight.status, 200);
    assert.equal(preflight.headers.get('access-control-allow-origin'), origin);
    assert.equal(preflight.headers.get('access-control-allow-methods'), 'POST');
    assert.equal(preflight.headers.get('access-control-allow-headers'), 'content-type,x-namespace');
    const [encrypted] = await codec.encode([jsonPayload('for the Web UI only')]);
    const evil = 'http://evil.example:8233';
    const refusedPreflight = await fetch(`${server.url}/decode`, { method: 'OPTIONS', headers: { origin: evil, 'access-control-request-method': 'POST' } });
    assert.equal(refusedPreflight.status, 403);
    assert.equal(refusedPreflight.headers.get('access-control-allow-origin'), null);
    const refused = await post('/decode', { payloads: [payloadToJSON(encrypted)] }, { origin: evil });
    assert.equal(refused.status, 403);
    assert.equal(refused.headers.get('access-control-allow-origin'), null);
    const body = await refused.text();
    assert.match(body, /origin http:\/\/evil\.example:8233 is not allowed; start rotor codec-server with --origin/);
    assert.ok(!body.includes(Buffer.from(JSON.stringify('for the Web UI only')).toString('base64')), 'nothing decoded for it');
    assert.ok(logged.some((l) => l.includes('refused POST /decode from origin http://evil.example:8233')));
  });

  it('says what is wrong with a request it cannot serve', async () => {
    assert.equal((await post('/decode', 'not json')).status, 400);
    const noList = await post('/decode', { payload: [] });
    assert.equal(noList.status, 400);
    assert.match(await noList.text(), /no payloads array/);
    const badBytes = await post('/decode', { payloads: [{ metadata: { encoding: 'json plain!' }, data: 'AA==' }] });
    assert.equal(badBytes.status, 400);
    assert.match(await badBytes.text(), /payloads\[0\]\.metadata\.encoding must be a base64 string/);
    const [foreign] = await codecFromEnv({ ROTOR_CODEC_KEY: generateCodecKey('elsewhere') })!.encode([jsonPayload(1)]);
    const unknown = await post('/decode', { payloads: [payloadToJSON(foreign)] });
    assert.equal(unknown.status, 422);
    assert.match(await unknown.text(), /encrypted with the key elsewhere, which is not configured/);
    assert.equal((await fetch(`${server.url}/decode`, { headers: { origin } })).status, 405);
    assert.equal((await post('/elsewhere/deeper/decode', { payloads: [] })).status, 404);
  });

  it('runs from the CLI with the keys of the environment until Ctrl-C, and exits 2 without keys', async () => {
    const none = await rotor(['codec-server'], { ROTOR_CODEC_KEYS_FILE: undefined, ROTOR_CODEC_KEY: undefined });
    assert.equal(none.code, 2, none.stderr);
    assert.match(none.stderr, /^rotor: no codec keys: set ROTOR_CODEC_KEYS_FILE .* or ROTOR_CODEC_KEY=id=<base64>/);
    const bad = await rotor(['codec-server'], { ROTOR_CODEC_KEY: 'k=AAAA', ROTOR_CODEC_KEYS_FILE: undefined });
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /ROTOR_CODEC_KEY: the key of k is 3 bytes/);
    const badOrigin = await rotor(['codec-server', '--origin', 'http://localhost:8233/ui'], {});
    assert.equal(badOrigin.code, 2);
    assert.match(badOrigin.stderr, /is not an origin; write it as scheme:\/\/host:port/);

    const key = generateCodecKey('cli');
    const env = { ...process.env, ROTOR_CODEC_KEY: key, ROTOR_CODEC_KEYS_FILE: undefined };
    const proc = spawn(process.execPath, [rotorBin, 'codec-server', '--port', '0', '--origin', origin, '--origin', 'http://127.0.0.1:8233'], {
      env,
      cwd: repoRoot,
    });
    let stdout = '';
    proc.stdout.on('data', (d) => (stdout += d));
    proc.stderr.on('data', (d) => (stdout += d));
    const exited = new Promise<number | null>((resolve) => proc.on('close', resolve));
    try {
      const deadline = Date.now() + 20_000;
      while (!/Ctrl-C stops it/.test(stdout)) {
        assert.ok(proc.exitCode === null && Date.now() < deadline, `rotor codec-server did not start:\n${stdout}`);
        await new Promise((r) => setTimeout(r, 50));
      }
      const url = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(stdout)![1];
      assert.match(stdout, new RegExp(`Web UI: TEMPORAL_UI_CODEC_ENDPOINT=${url} npm run dev-server`));
      assert.match(stdout, /allowed origins: http:\/\/localhost:8233, http:\/\/127\.0\.0\.1:8233/);
      const [encrypted] = await codecFromEnv({ ROTOR_CODEC_KEY: key })!.encode([jsonPayload({ via: 'cli' })]);
      const res = await fetch(`${url}/decode`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', origin: 'http://127.0.0.1:8233' },
        body: JSON.stringify({ payloads: [payloadToJSON(encrypted)] }),
      });
      assert.equal(res.status, 200);
      const { payloads } = (await res.json()) as { payloads: never[] };
      assert.deepEqual(defaultPayloadConverter.fromPayload(JSONToPayload(payloads[0])), { via: 'cli' });
      assert.ok(!stdout.includes(key.split('=')[1]), 'the key is never printed');
      proc.kill('SIGINT');
      assert.equal(await exited, 0, stdout);
      assert.match(stdout, /codec server stopped/);
    } finally {
      if (proc.exitCode === null) proc.kill('SIGKILL');
    }
  });
});

describe('end to end: nothing of a rotation is readable in history without the key', () => {
  const CANARY = 'leak_canary_key_q7x';
  const key = generateCodecKey('e2e-2025');
  const env = { ROTOR_CODEC_KEY: key };
  const codec = codecFromEnv(env)!;
  const document = {
    secret: 'leak-canary-secrets',
    value: { generate: { keys: [CANARY], length: 32 } },
    stages: [{ name: 'staging', namespace: 'canary-ns', strategy: 'rolling', watch: '0s' }],
  };
  const invalid = { ...document, secret: 'leak-canary-invalid', stages: [{ ...document.stages[0], strategy: 'sideways' }] };
  let codecServer: CodecServer;
  let server: DevServer;
  let connection: NativeConnection;
  let worker: Worker;
  let running: Promise<void>;
  let client: RotorClient;
  let raw: Client;
  let rawConnection: Connection;
  /** The rotation left RETAINING by the second test, for the Web UI's. */
  let retainingId: string | undefined;

  before(
    async () => {
      quietRuntime();
      // RotorClient reads the environment, as the CLI does; this file runs in its own process.
      Object.assign(process.env, env);
      delete process.env.ROTOR_CODEC_KEYS_FILE;
      const uiPort = await freePort();
      codecServer = await startCodecServer({ codec, port: 0, host: '127.0.0.1', origins: [`http://127.0.0.1:${uiPort}`] });
      server = await startDevServer({ ui: true, uiPort, codecEndpoint: codecServer.url });
      connection = await NativeConnection.connect({ address: server.address });
      const taskQueue = `codec-${process.pid}-${Date.now()}`;
      // As `rotor worker` runs: workflowsPath bundled by the worker with the data converter's failure converter.
      worker = await Worker.create({
        connection,
        taskQueue,
        workflowsPath: require.resolve('../workflows'),
        activities: new Doubles({}).activities(),
        dataConverter: dataConverter(env),
      });
      running = worker.run();
      running.catch(() => undefined); // reported when `after` awaits it
      client = await RotorClient.connect({ address: server.address, taskQueue });
      rawConnection = await Connection.connect({ address: server.address });
      raw = new Client({ connection: rawConnection }); // no codec: what anyone with access to the server sees
    },
    { timeout: 120_000 },
  );

  after(
    async () => {
      await stopEach([
        ['client', () => client?.close()],
        ['raw client', () => rawConnection?.close()],
        workerStep(
          () => worker,
          () => running,
        ),
        ['worker connection', () => connection?.close()],
        ['dev server', () => server?.stop()],
        ['codec server', () => codecServer?.close()],
      ]);
    },
    { timeout: 60_000 },
  );

  it("gives the Web UI the codec server's endpoint", async () => {
    const settings = (await (await fetch(`http://127.0.0.1:${server.uiPort}/api/v1/settings`)).json()) as { Codec: { Endpoint: string } };
    assert.equal(settings.Codec.Endpoint, codecServer.url);
  });

  it('keeps the plan out of the history, and reads it back with the key', async () => {
    // The detector finds the canary in an unencrypted payload, in every form it checks.
    assert.ok(leaks(JSON.stringify(payloadToJSON(jsonPayload({ plan: document }))), CANARY).length > 0);
    const id = await client.start(document, parsePlan(document), 'e2e-codec');
    const status = await pollStatus(
      id,
      () => client.status(id),
      (s) => s.phase === 'RETAINING' || TERMINAL_PHASES.includes(s.phase),
      60_000,
      200,
    );
    assert.equal(status.phase, 'RETAINING', status.events.map((e) => e.message).join(' | '));
    retainingId = id;
    const history = await raw.workflow.getHandle(id).fetchHistory();
    assert.ok((history.events?.length ?? 0) > 10, 'activities ran, with their inputs and results in history');
    const json = historyToJSON(history);
    const bytes = Buffer.from(temporal.api.history.v1.History.encode(history).finish()).toString('latin1');
    assert.deepEqual(leaks(json, CANARY), [], 'the plan is readable in the JSON of the history');
    assert.deepEqual(leaks(bytes, CANARY), [], 'the plan is readable in the protobuf of the history');
    assert.deepEqual(leaks(json, 'e2e-codec'), [], 'who requested it is readable');
    assert.deepEqual(unencrypted(JSON.parse(json)), [], 'payloads left unencrypted');
    const started = history.events![0].workflowExecutionStartedEventAttributes!;
    const [input] = started.input!.payloads!;
    assert.equal(text(input.metadata!.encoding), ENCODING_ENCRYPTED);
    assert.equal(text(input.metadata![METADATA_KEY_ID]), 'e2e-2025');
    assert.equal(text(history.events![0].userMetadata!.summary!.metadata!.encoding), ENCODING_ENCRYPTED, 'the summary is encrypted too');
    // With the key: the input is the plan as it was sent.
    const [decoded] = await codec.decode([input]);
    assert.deepEqual(defaultPayloadConverter.fromPayload(decoded), { plan: document, requestedBy: 'e2e-codec' });
  });

  it("encrypts a failed rotation's failure message and stack trace", async () => {
    const id = await client.start(invalid, parsePlan({ ...document, secret: invalid.secret }), 'e2e-codec');
    const status = await pollStatus(
      id,
      () => client.status(id),
      (s) => TERMINAL_PHASES.includes(s.phase),
      60_000,
      200,
    );
    assert.equal(status.phase, 'FAILED');
    assert.match(status.outcome ?? '', /the plan is invalid/);
    const history = await raw.workflow.getHandle(id).fetchHistory();
    const failed = history.events!.find((e) => e.workflowExecutionFailedEventAttributes)!.workflowExecutionFailedEventAttributes!.failure!;
    assert.equal(failed.message, 'Encoded failure');
    assert.equal(failed.stackTrace, '');
    assert.equal(text(failed.encodedAttributes!.metadata!.encoding), ENCODING_ENCRYPTED);
    const json = historyToJSON(history);
    for (const words of ['the plan is invalid', 'sideways', 'FAILED: the plan']) assert.deepEqual(leaks(json, words), [], `${words} is readable`);
    assert.deepEqual(unencrypted(JSON.parse(json)), [], 'payloads left unencrypted');
    // With the key, the client reads the message.
    await assert.rejects(client.handle(id).result(), (err: Error) => {
      assert.ok(err instanceof WorkflowFailedError);
      assert.match(err.cause?.message ?? '', /rotation of leak-canary-invalid FAILED: the plan is invalid: .*strategy/);
      return true;
    });
  });

  it('lists rotations without the key (search attributes stay readable), and says that the status needs it', async () => {
    assert.ok(retainingId, 'the rotation of the test before');
    const noKey = { TEMPORAL_ADDRESS: server.address, ROTOR_CODEC_KEY: undefined, ROTOR_CODEC_KEYS_FILE: undefined };
    const listed = await rotor(['list'], noKey);
    assert.equal(listed.code, 0, listed.stderr);
    assert.match(listed.stdout, new RegExp(`^${retainingId}\\s+${document.secret}\\s+RETAINING\\s+-\\s+\\d+[smhd]$`, 'm'));
    // The status (the memo a worker outage falls back on included) is encrypted: the CLI says what it needs.
    const status = await rotor(['status', retainingId], noKey);
    assert.equal(status.code, 1, status.stdout);
    assert.match(status.stderr, /^rotor: the payloads of \S+ are encrypted; set ROTOR_CODEC_KEYS_FILE or ROTOR_CODEC_KEY to the worker's keys/);
  });

  it("shows the decrypted plan in the Web UI's event history, through the codec server", async () => {
    assert.ok(retainingId, 'the rotation of the test before');
    const browser = await launch({ executablePath: chromiumPath(), headless: true, args: [...CHROMIUM_ARGS] });
    const artifacts = join(repoRoot, 'test-artifacts');
    mkdirSync(artifacts, { recursive: true });
    try {
      const page = await browser.newPage();
      await page.setViewport({ width: 1600, height: 1600 });
      const { runId } = await client.handle(retainingId).describe();
      await page.goto(`http://127.0.0.1:${server.uiPort}/namespaces/default/workflows/${retainingId}/${runId}/history`, {
        waitUntil: 'domcontentloaded',
        timeout: 30_000,
      });
      const shown = () => page.evaluate(() => (globalThis as unknown as { document: { body?: { innerText: string } } }).document.body?.innerText ?? '');
      let text = '';
      for (const deadline = Date.now() + 30_000; Date.now() < deadline && !text.includes(CANARY);) {
        await new Promise((r) => setTimeout(r, 250));
        text = await shown();
      }
      await page.screenshot({ path: join(artifacts, 'codec-webui.png') }).catch(() => undefined);
      if (!text.includes(CANARY)) writeFileSync(join(artifacts, 'codec-webui.txt'), text);
      assert.ok(text.includes(CANARY), 'the input is not shown decrypted (test-artifacts/codec-webui.txt and .png)');
      assert.ok(text.includes(`rotate ${document.secret}: staging`), 'the summary is not shown decrypted');
    } finally {
      await browser.close();
    }
  });
});
