// Producing a new secret value, inside the worker only. Values never leave through return values,
// logs or errors; callers get keys, never data.
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import type { ValueSource } from '../workflows/plan';
import { RotorError } from './errors';
import type { SecretData } from './ports';

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

/** Resolve the value sources every store shares; AWS references are the AWS store's business. */
export async function resolveValue(value: ValueSource): Promise<SecretData> {
  if ('generate' in value) {
    return Object.fromEntries(value.generate.keys.map((key) => [key, generateToken(value.generate.length)]));
  }
  if ('fromFile' in value) {
    let text: string;
    try {
      text = await readFile(value.fromFile, 'utf8');
    } catch (err) {
      throw new RotorError('RotorInputError', `value.fromFile: cannot read ${value.fromFile} on the worker (${(err as NodeJS.ErrnoException).code ?? 'error'}); the file must be readable by the worker`);
    }
    return parseEnvFile(text, value.fromFile);
  }
  throw new RotorError('RotorInputError', 'value.awsSecretsManager needs the aws-secrets-manager store adapter on the worker');
}
