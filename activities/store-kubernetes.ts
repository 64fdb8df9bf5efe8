// The `kubernetes` store: the versioned Secrets are the store, so there is nothing to write beyond
// them; the value is produced in the worker and handed to the cluster adapter.
import type { SecretData, SecretStorePort } from './ports';
import { resolveValue, type ValueOptions } from './values';
import type { ValueSource } from '../domain/plan';

export class KubernetesSecretStore implements SecretStorePort {
  readonly kind = 'kubernetes' as const;

  /** `valueDir` is the worker's ROTOR_VALUE_DIR: the only place `value.fromFile` may read from. */
  constructor(private readonly values: ValueOptions = {}) {}

  async stageVersion(request: { secret: string; version: string; value: ValueSource; issued?: SecretData }): Promise<SecretData> {
    // An issued credential is the value as it is: the versioned Secret is where it is kept.
    return request.issued ?? resolveValue(request.value, this.values);
  }

  async promoteVersion(): Promise<void> {
    // The workloads' references are the record of which version is current.
  }

  async markFailed(): Promise<void> {
    // Nothing to record: no workload refers to the failed version after the rollback, and the
    // workflow's status says it failed.
  }

  async deleteVersion(): Promise<void> {
    // Deleting the Secret in each namespace deleted the stored value.
  }
}
