// The payload codec: every payload rotor's worker and client send to Temporal (workflow input and
// result, activity inputs and results, signals, queries, updates, summaries, failure messages and
// stack traces) is encrypted with AES-256-GCM, so nothing in a history is readable without the key.
// A key is named by an id stored with each payload: old histories stay readable after a rotation of
// the key as long as the old key stays configured. node:crypto only.
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { readPrivateFile, whenChanged } from './private-file';
import { METADATA_ENCODING_KEY, type Payload, type PayloadCodec } from '@temporalio/common';
import { temporal } from '@temporalio/proto';
import { CodecKeyError } from './codec-key-error';

export { CodecKeyError } from './codec-key-error';

/** The `encoding` metadata of an encrypted payload. */
export const ENCODING_ENCRYPTED = 'binary/encrypted';
/** The metadata naming the key a payload was encrypted with. */
export const METADATA_KEY_ID = 'encryption-key-id';
/** The variables the keys are read from. */
export const KEYS_FILE_VAR = 'ROTOR_CODEC_KEYS_FILE';
export const KEY_VAR = 'ROTOR_CODEC_KEY';

const ALGORITHM = 'aes-256-gcm';
const KEY_BYTES = 32;
const IV_BYTES = 12;
const TAG_BYTES = 16;
const KEY_ID = /^[A-Za-z0-9._-]{1,64}$/;
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
const KEY_HINT = 'a line id=<base64 of 32 random bytes>, e.g. from `openssl rand -base64 32`';

/** A payload the codec cannot decrypt; the message names the key id and what to do, never key bytes. */
export class CodecError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CodecError';
  }
}

export interface CodecKeys {
  /** id -> 32-byte key; every one can decrypt. */
  keys: Map<string, Buffer>;
  /** The id of the newest key, the one that encrypts. */
  current: string;
  /** Where the keys came from, for messages: `ROTOR_CODEC_KEYS_FILE /path` or `ROTOR_CODEC_KEY`. */
  source: string;
}

const utf8 = (s: string) => new TextEncoder().encode(s);
const text = (b: Uint8Array | null | undefined) => (b ? new TextDecoder().decode(b) : undefined);

/**
 * One `id=<base64>` line (comments and blank lines are the caller's), or the problem with it. The
 * problems say what is wrong and how to fix it, never what the bytes are.
 */
function parseKeyLine(line: string, where: string): { id: string; key: Buffer } | string {
  const eq = line.indexOf('=');
  if (eq < 0) return `${where}: not id=<base64>; write ${KEY_HINT}`;
  const id = line.slice(0, eq).trim();
  const value = line.slice(eq + 1).trim();
  // A bare key (`openssl rand -base64 32` without `id=`) splits at its padding: never echo that "id".
  if (/^=*$/.test(value)) return `${where}: no key after an id; write ${KEY_HINT}`;
  if (!KEY_ID.test(id)) return `${where}: the key id must be 1 to 64 letters, digits, '-', '_' or '.'; write ${KEY_HINT}`;
  if (!BASE64.test(value)) return `${where}: the key of ${id} is not base64; write ${KEY_HINT}`;
  const key = Buffer.from(value, 'base64');
  if (key.length !== KEY_BYTES) return `${where}: the key of ${id} is ${key.length} bytes, AES-256 needs ${KEY_BYTES}; write ${KEY_HINT}`;
  return { id, key };
}

function readKeysFile(path: string): CodecKeys {
  const name = `${KEYS_FILE_VAR} ${path}`;
  const file = readPrivateFile(path);
  if ('problem' in file) {
    const fix = file.problem.startsWith('is readable by every user')
      ? `make it private with: chmod 600 ${path}`
      : `point ${KEYS_FILE_VAR} at a file of id=<base64> lines, or unset it`;
    throw new CodecKeyError([`${name} ${file.problem}; ${fix}`]);
  }
  const content = file.content;
  const problems: string[] = [];
  const keys = new Map<string, Buffer>();
  const lineOf = new Map<string, number>();
  let current: string | undefined;
  content.split(/\r?\n/).forEach((raw, i) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    const parsed = parseKeyLine(line, `${name} line ${i + 1}`);
    if (typeof parsed === 'string') return void problems.push(parsed);
    if (keys.has(parsed.id))
      return void problems.push(`${name} line ${i + 1}: the key id ${parsed.id} is already used on line ${lineOf.get(parsed.id)}; give each key its own id`);
    keys.set(parsed.id, parsed.key);
    lineOf.set(parsed.id, i + 1);
    current = parsed.id;
  });
  if (problems.length) throw new CodecKeyError(problems);
  if (!current) throw new CodecKeyError([`${name} has no key; add ${KEY_HINT} (the last line is the one that encrypts)`]);
  return { keys, current, source: name };
}

/**
 * The codec keys from `ROTOR_CODEC_KEYS_FILE` (a file of `id=<base64>` lines, `#` comments allowed,
 * the last one encrypts, every one decrypts) or `ROTOR_CODEC_KEY` (one `id=<base64>`); null when
 * neither is set. A bad setting throws a CodecKeyError naming the variable and the line.
 */
export function loadCodecKeys(env: NodeJS.ProcessEnv = process.env): CodecKeys | null {
  const file = env[KEYS_FILE_VAR];
  const single = env[KEY_VAR];
  if (file === undefined && single === undefined) return null;
  if (file !== undefined && single !== undefined)
    throw new CodecKeyError([`both ${KEYS_FILE_VAR} and ${KEY_VAR} are set; set one of them (a file holds several keys, for rotating them)`]);
  if (file !== undefined) {
    if (file.trim() === '') throw new CodecKeyError([`${KEYS_FILE_VAR} is empty; set it to the path of a file of id=<base64> lines, or unset it`]);
    return readKeysFile(file);
  }
  const parsed = parseKeyLine(single!.trim(), KEY_VAR);
  if (typeof parsed === 'string') throw new CodecKeyError([parsed]);
  return { keys: new Map([[parsed.id, parsed.key]]), current: parsed.id, source: KEY_VAR };
}

/** A new key line, `id=<base64 of 32 random bytes>`, for ROTOR_CODEC_KEY or a line of the keys file. */
export function generateCodecKey(id: string): string {
  if (!KEY_ID.test(id)) throw new CodecKeyError([`the key id ${JSON.stringify(id)} must be 1 to 64 letters, digits, '-', '_' or '.'`]);
  return `${id}=${randomBytes(KEY_BYTES).toString('base64')}`;
}

/**
 * AES-256-GCM over the whole payload (metadata and data, serialized with Temporal's own proto): the
 * result has metadata `encoding: binary/encrypted` and `encryption-key-id: <id>`, and data
 * iv (12 bytes) | ciphertext | tag (16 bytes). Payloads that are not `binary/encrypted` decode as they are.
 */
export class AesGcmCodec implements PayloadCodec {
  private keys!: Map<string, Buffer>;
  private currentId!: string;
  private source!: string;

  /** `reload`: the keys again when their file changed, else null (see codecFromEnv). */
  constructor(
    keys: CodecKeys,
    private readonly reload?: () => CodecKeys | null,
  ) {
    this.use(keys);
  }

  private use(keys: CodecKeys): void {
    if (!keys.keys.has(keys.current)) throw new CodecKeyError([`${keys.source}: the current key ${keys.current} is not among the keys`]);
    this.keys = new Map(keys.keys);
    this.currentId = keys.current;
    this.source = keys.source;
  }

  /** The keys as their file says now: a key added (a new last line) encrypts from the next payload on. */
  private refresh(): void {
    const keys = this.reload?.();
    if (keys) this.use(keys);
  }

  /** The id of the key that encrypts. */
  get current(): string {
    this.refresh();
    return this.currentId;
  }

  /** The ids of the keys it can decrypt with. */
  get keyIds(): string[] {
    this.refresh();
    return [...this.keys.keys()];
  }

  async encode(payloads: Payload[]): Promise<Payload[]> {
    return payloads.map((payload) => this.encrypt(payload));
  }

  async decode(payloads: Payload[]): Promise<Payload[]> {
    return payloads.map((payload) => this.decrypt(payload));
  }

  encrypt(payload: Payload): Payload {
    const id = this.current;
    const key = this.keys.get(id)!;
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv(ALGORITHM, key, iv);
    const plain = temporal.api.common.v1.Payload.encode(payload).finish();
    const data = Buffer.concat([iv, cipher.update(plain), cipher.final(), cipher.getAuthTag()]);
    return { metadata: { [METADATA_ENCODING_KEY]: utf8(ENCODING_ENCRYPTED), [METADATA_KEY_ID]: utf8(id) }, data };
  }

  decrypt(payload: Payload): Payload {
    if (text(payload.metadata?.[METADATA_ENCODING_KEY]) !== ENCODING_ENCRYPTED) return payload;
    const id = text(payload.metadata?.[METADATA_KEY_ID]);
    if (!id) throw new CodecError(`an encrypted payload has no ${METADATA_KEY_ID}; it was not written by rotor's codec and cannot be decrypted`);
    this.refresh();
    const key = this.keys.get(id);
    if (!key)
      throw new CodecError(
        `a payload is encrypted with the key ${id}, which is not configured (${this.source} has ${this.keyIds.join(', ')}); ` +
          `add that key's line to ${KEYS_FILE_VAR} (keep old keys there, above the newest, while histories written with them are kept)`,
      );
    const data = payload.data ?? new Uint8Array();
    if (data.length < IV_BYTES + TAG_BYTES)
      throw new CodecError(
        `a payload encrypted with the key ${id} is ${data.length} bytes, too short to be iv | ciphertext | tag; it was altered or truncated`,
      );
    const decipher = createDecipheriv(ALGORITHM, key, data.subarray(0, IV_BYTES));
    decipher.setAuthTag(data.subarray(data.length - TAG_BYTES));
    let plain: Buffer;
    try {
      plain = Buffer.concat([decipher.update(data.subarray(IV_BYTES, data.length - TAG_BYTES)), decipher.final()]);
    } catch {
      throw new CodecError(
        `a payload encrypted with the key ${id} failed authentication: it was altered, or ${this.source} holds a different key under the id ${id}; ` +
          `configure the key that was used under that id`,
      );
    }
    const decoded = temporal.api.common.v1.Payload.decode(plain);
    return { metadata: decoded.metadata, data: decoded.data };
  }
}

/** The codec of the environment's keys (loadCodecKeys), or null when none are configured. */
export function codecFromEnv(env: NodeJS.ProcessEnv = process.env): AesGcmCodec | null {
  const keys = loadCodecKeys(env);
  if (!keys) return null;
  const file = env[KEYS_FILE_VAR];
  if (!file) return new AesGcmCodec(keys);
  // The keys file is read again when it changes (a key added to its mounted Secret): no restart. A
  // file that became unusable fails the payload's encoding or decoding, saying why, until it is fixed.
  return new AesGcmCodec(
    keys,
    whenChanged(file, () => readKeysFile(file)),
  );
}
