// store external-secrets: a version is an ExternalSecret pinned to the store's exact version of the
// value, and CREATING waits for External Secrets Operator to write its Secret in every namespace,
// then checks that each holds exactly the value staged.
import type { StoreTarget } from '../domain/plan';
import { RotorError } from './errors';
import { pace } from './liveness';
import type { ExternalSecretsPort, ExternalVersionSpec, RotorDeps, SecretData, SecretStorePort } from './ports';
import { sameData } from './values';

/** How long CREATING waits for External Secrets Operator to write a version's Secrets (each attempt). */
const EXTERNAL_SECRET_READY_MS = 90_000;

/** store external-secrets: the version's ExternalSecret, pinned to the store's exact version of the value. */
export function createExternal(
  deps: RotorDeps,
  store: SecretStorePort,
  spec: Omit<ExternalVersionSpec, 'secretStoreRef' | 'remoteRef'>,
  target?: StoreTarget,
  versionId?: string,
) {
  const secretStoreRef = target?.externalSecrets?.secretStoreRef;
  if (!secretStoreRef || !store.remoteRef) {
    throw new RotorError(
      'RotorInputError',
      "store external-secrets needs the plan's externalSecrets: { secretStoreRef: { name, kind } } and awsSecretsManager",
    );
  }
  return externalSecretsOf(deps).createExternalVersion({
    ...spec,
    secretStoreRef,
    remoteRef: store.remoteRef({ version: spec.name, target, ...(versionId ? { versionId } : {}) }),
  });
}

/** The worker's External Secrets port; a worker without one does not serve store external-secrets. */
export function externalSecretsOf(deps: RotorDeps): ExternalSecretsPort {
  if (!deps.externalSecrets) {
    throw new RotorError('RotorInputError', "this worker's cluster adapter cannot create ExternalSecrets; run the worker against a Kubernetes cluster");
  }
  return deps.externalSecrets;
}

/**
 * Until External Secrets Operator has written every namespace's Secret (heartbeating), then that
 * each holds exactly the value staged in the store: the pinned version, not whatever is current.
 */
export async function externalVersionsReady(deps: RotorDeps, namespaces: string[], version: string, staged: SecretData): Promise<void> {
  const eso = externalSecretsOf(deps);
  const waitMs = deps.externalSecretReadyMs ?? EXTERNAL_SECRET_READY_MS;
  const deadline = Date.now() + waitMs;
  for (;;) {
    const states = await Promise.all(namespaces.map((ns) => eso.externalVersionState(ns, version)));
    const waiting = states.filter((s) => !s.ready);
    if (!waiting.length) break;
    if (Date.now() >= deadline) {
      // The operator said why (it retries a failed sync itself): a retry here would only wait again.
      // No word from it at all (not running, or behind): worth another attempt.
      const judged = waiting.every((s) => s.judged);
      throw new RotorError(
        judged ? 'NotFound' : 'Unavailable',
        `External Secrets Operator has not written ${version} after ${waitMs / 1000} s: ${waiting.map((s) => s.message).join('; ')}; see \`kubectl describe externalsecret ${version} -n <namespace>\` and the store's status`,
      );
    }
    await pace(1_000, { waiting: waiting.length });
  }
  for (const namespace of namespaces) {
    const written = await deps.cluster.readVersion(namespace, version);
    if (!written || !sameData(written.data, staged)) {
      throw new RotorError(
        'VersionContentMismatch',
        `the Secret ${namespace}/${version} External Secrets Operator wrote does not hold the value rotor staged in the store (keys: ${
          Object.keys(written?.data ?? {})
            .sort()
            .join(', ') || 'none'
        }); check the ExternalSecret's store and its region`,
        `Secret ${namespace}/${version}`,
      );
    }
  }
}
