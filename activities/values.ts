// Producing a new secret value, inside the worker only. Values never leave through return values,
// logs or errors; callers get keys, never data.
import { randomBytes } from 'node:crypto';
import { readFile, realpath, stat } from 'node:fs/promises';
import { isAbsolute, relative, resolve, sep } from 'node:path';
import type { ValueSource } from '../domain/plan';
import { RotorError } from './errors';
import type { SecretData } from './ports';

/** Two versions' data are the same: the same keys with the same values. */
export function sameData(a: SecretData, b: SecretData): boolean {
  const keys = Object.keys(a);
  return keys.length === Object.keys(b).length && keys.every((k) => Object.hasOwn(b, k) && a[k] === b[k]);
}

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

/** A uniformly random token over [A-Za-z0-9] (rejection sampling, so no modulo bias). */
export function generateToken(length: number): string {
  let out = '';
  while (out.length < length) {
    for (const byte of randomBytes(length * 2)) {
      if (byte < 248 && out.length < length) out += ALPHABET[byte % ALPHABET.length];
    }
  }
  return out;
}

/** Parse a KEY=value file (blank lines and # comments skipped); errors name the line, never the value. */
export function parseEnvFile(text: string, path: string): SecretData {
  const data: SecretData = {};
  text.split(/\r?\n/).forEach((line, i) => {
    const trimmed = line.trim();
    if (trimmed === '' || trimmed.startsWith('#')) return;
    const eq = trimmed.indexOf('=');
    const key = eq > 0 ? trimmed.slice(0, eq).trim() : '';
    if (!/^[-._a-zA-Z0-9]+$/.test(key)) {
      throw new RotorError('RotorInputError', `${path}:${i + 1}: expected KEY=value with a Secret key of letters, digits, "-", "_" or "."`);
    }
    data[key] = trimmed.slice(eq + 1);
  });
  if (Object.keys(data).length === 0) throw new RotorError('RotorInputError', `${path}: no KEY=value line found`);
  return data;
}

/** Where the worker may read `value.fromFile` files: ROTOR_VALUE_DIR, or null when it is not set. */
export interface ValueOptions {
  valueDir?: string | null;
}

/** Resolve the value sources every store shares; AWS references are the AWS store's business. */
export async function resolveValue(value: ValueSource, options: ValueOptions = {}): Promise<SecretData> {
  if ('generate' in value) {
    return Object.fromEntries(value.generate.keys.map((key) => [key, generateToken(value.generate.length)]));
  }
  if ('fromFile' in value) {
    // The resolved path is read, not the given one: a symlink swapped in after the check cannot lead out.
    const file = await resolveValueFile(value.fromFile, options.valueDir ?? null);
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (err) {
      throw new RotorError(
        'RotorInputError',
        `value.fromFile: cannot read ${value.fromFile} on the worker (${(err as NodeJS.ErrnoException).code ?? 'error'}); the file must be readable by the worker`,
      );
    }
    return parseEnvFile(text, `value.fromFile: ${value.fromFile}`);
  }
  if ('issuer' in value) throw new RotorError('RotorInputError', 'value.issuer is issued by the createVersion activity; a store cannot resolve it alone');
  throw new RotorError('RotorInputError', 'value.awsSecretsManager needs the aws-secrets-manager store adapter on the worker');
}

/** True when `path` is `dir` or below it (both absolute). A name such as `..x` is below. */
function isWithin(dir: string, path: string): boolean {
  const rel = relative(dir, path);
  return rel !== '..' && !rel.startsWith(`..${sep}`) && !isAbsolute(rel);
}

function refuse(message: string): RotorError {
  return new RotorError('RotorInputError', `value.fromFile: ${message}`);
}

/**
 * The real path of a value file inside the worker's value directory. A plan must not make the worker
 * read whatever it can (its environment in /proc/self/environ, its ServiceAccount token): absolute
 * paths outside the directory, `..` escapes and symlinks that lead out are refused. Errors name the
 * path and the directory, never anything read.
 */
async function resolveValueFile(path: string, valueDir: string | null): Promise<string> {
  if (!valueDir) {
    throw refuse(
      `${path} is refused: the worker has no value directory; set ROTOR_VALUE_DIR=<directory> on the worker, put the file there and name it relative to that directory`,
    );
  }
  let realDir: string;
  try {
    realDir = await realpath(valueDir);
  } catch (err) {
    throw refuse(
      `ROTOR_VALUE_DIR=${valueDir} cannot be used on the worker (${(err as NodeJS.ErrnoException).code ?? 'error'}); set it to an existing directory`,
    );
  }
  const dir = resolve(valueDir);
  // Resolve against the directory as configured and as it really is, so a symlinked ROTOR_VALUE_DIR works.
  const target = resolve(dir, path);
  if (!isWithin(dir, target) && !isWithin(realDir, target)) {
    const fix = `put the file in ${valueDir} and name it relative to it, e.g. fromFile: token.env`;
    if (isAbsolute(path)) throw refuse(`${path} is an absolute path outside the worker's value directory ROTOR_VALUE_DIR=${valueDir}; ${fix}`);
    throw refuse(`${path} leaves the worker's value directory ROTOR_VALUE_DIR=${valueDir} through ".."; ${fix}`);
  }
  let real: string;
  try {
    real = await realpath(target);
  } catch (err) {
    throw refuse(
      `cannot read ${path} in ROTOR_VALUE_DIR=${valueDir} on the worker (${(err as NodeJS.ErrnoException).code ?? 'error'}); put the file there, readable by the worker`,
    );
  }
  if (!isWithin(realDir, real)) {
    throw refuse(
      `${path} leads through a symlink to outside ROTOR_VALUE_DIR=${valueDir}; put the file itself in ${valueDir}, or a symlink that stays inside it`,
    );
  }
  if (!(await stat(real)).isFile()) {
    throw refuse(`${path} in ROTOR_VALUE_DIR=${valueDir} is not a file; name a KEY=value file, e.g. fromFile: token.env`);
  }
  return real;
}
