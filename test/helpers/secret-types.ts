// Values of Kubernetes' built-in Secret types for the tests: a real self-signed certificate and its key
// (openssl, EC P-256), a docker config, and a store that holds a value the plan reads (as AWS Secrets
// Manager would), so a multi-line PEM value can be rotated where a KEY=value file cannot hold one.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { SecretData, StageRequest } from '../../activities/ports';
import { KubernetesSecretStore } from '../../activities/store-kubernetes';
import { recordValues } from './leak';

/** A self-signed certificate for `<name>.example.test` and its private key, PEM; the key is leak-check evidence. */
export function selfSigned(name: string): { crt: string; key: string } {
  const dir = mkdtempSync(join(tmpdir(), 'rotor-tls-'));
  const crt = join(dir, `${name}.crt`);
  const key = join(dir, `${name}.key`);
  execFileSync('openssl', [
    ...['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'],
    ...['-keyout', key, '-out', crt, '-days', '2', '-subj', `/CN=${name}.example.test`],
  ]);
  const pair = { crt: readFileSync(crt, 'utf8'), key: readFileSync(key, 'utf8') };
  recordValues([pair.key]);
  return pair;
}

/** A docker config for one registry with a robot's credentials (a distinct password per call). */
export function dockerConfig(password: string, registry = 'registry.example.test'): string {
  recordValues([password]);
  return JSON.stringify({ auths: { [registry]: { auth: Buffer.from(`robot:${password}`).toString('base64') } } });
}

/** The kubernetes store of a worker whose value the plan reads from a store that holds `data`; it judges the value first, as a store that writes does. */
export class HeldValueStore extends KubernetesSecretStore {
  constructor(private readonly data: SecretData) {
    super();
    recordValues(Object.values(data).filter((v) => v.length >= 8));
  }

  override async stageVersion(request: StageRequest): Promise<SecretData> {
    request.check?.(this.data);
    return { ...this.data };
  }
}
