// The rules of domain/secret-types.ts with a crypto library: a TLS certificate is parsed and held to
// its key here, in the worker, where the value is. Errors never carry the value nor a parser's message.
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { dataRefusal, type KeyPairVerdict } from '../domain/secret-types';
import { RotorError } from './errors';
import type { SecretData } from './ports';

export function checkKeyPair(certificate: string, key: string): KeyPairVerdict {
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(certificate);
  } catch {
    return 'certificate';
  }
  let privateKey;
  try {
    privateKey = createPrivateKey(key);
  } catch {
    return 'key';
  }
  try {
    return cert.checkPrivateKey(privateKey) ? 'ok' : 'mismatch';
  } catch {
    return 'mismatch'; // a key of another algorithm than the certificate's
  }
}

/** Throws a RotorInputError naming the type, the key and the fix when `data` is no good as a Secret of `type`. */
export function checkSecretData(type: string, data: SecretData): void {
  const refusal = dataRefusal(type, data, checkKeyPair);
  if (refusal) throw new RotorError('RotorInputError', refusal);
}
