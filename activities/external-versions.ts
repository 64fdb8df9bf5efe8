// store external-secrets: a version is an ExternalSecret pinned to the store's exact version of the
// value, and CREATING waits for External Secrets Operator to write its Secret in every namespace,
// then checks that each holds exactly the value staged.
import { stringify } from 'yaml';
import type { GitTarget } from '../contract/activities';
import type { StoreTarget } from '../domain/plan';
import type { GitChanges } from './git/changes';
import { externalSecretBody } from './kubernetes/external-secrets';
import { RotorError } from './errors';
import { pace } from './liveness';
import type { ExternalSecretsPort, ExternalVersionSpec, RotorDeps, SecretData, SecretStorePort } from './ports';
import { sameData } from './values';

/** How long CREATING waits for External Secrets Operator to write a version's Secrets (each attempt). */
const EXTERNAL_SECRET_READY_MS = 90_000;

/** store external-secrets: the version's ExternalSecret as rotor writes it, pinned to the store's exact version of the value. */
function externalSpec(
  store: SecretStorePort,
  spec: Omit<ExternalVersionSpec, 'secretStoreRef' | 'remoteRef'>,
  target?: StoreTarget,
  versionId?: string,
): ExternalVersionSpec {
  const secretStoreRef = target?.externalSecrets?.secretStoreRef;
  if (!secretStoreRef || !store.remoteRef) {
    throw new RotorError(
      'RotorInputError',
      "store external-secrets needs the plan's externalSecrets: { secretStoreRef: { name, kind } } and awsSecretsManager",
    );
  }
  return { ...spec, secretStoreRef, remoteRef: store.remoteRef({ version: spec.name, target, ...(versionId ? { versionId } : {}) }) };
}

/** store external-secrets: the version's ExternalSecret, created live. */
export function createExternal(
  deps: RotorDeps,
  store: SecretStorePort,
  spec: Omit<ExternalVersionSpec, 'secretStoreRef' | 'remoteRef'>,
  target?: StoreTarget,
  versionId?: string,
) {
  return externalSecretsOf(deps).createExternalVersion(externalSpec(store, spec, target, versionId));
}

/**
 * store external-secrets in Git mode: the version's ExternalSecret committed to the stage's repository
 * (the controller applies it); the commit in words. The same object rotor would create live, with a
 * comment that says whose it is. `made`: false when an earlier attempt committed it.
 */
export async function commitExternal(
  git: GitChanges,
  store: SecretStorePort,
  spec: Omit<ExternalVersionSpec, 'secretStoreRef' | 'remoteRef'>,
  through: { stage: string; target: GitTarget },
  target?: StoreTarget,
  versionId?: string,
): Promise<{ commit: string; made: boolean }> {
  const body = externalSecretBody(externalSpec(store, spec, target, versionId));
  const manifest =
    `# ${spec.name}: a version of ${spec.base}, made by rotor (rotation ${spec.rotationId}).\n` +
    `# External Secrets Operator writes the Secret from the store's pinned version; rotor removes this file\n# once nothing in the cluster or in this repository uses the version.\n${stringify(body)}`;
  const result = await git.commitVersionFile(through.target, {
    rotationId: spec.rotationId,
    secret: spec.base,
    stage: through.stage,
    version: spec.name,
    manifest,
  });
  if ('refusal' in result) throw new RotorError('RotorInputError', `the ExternalSecret of ${spec.name} cannot be committed: ${result.refusal}`);
  return { commit: `${result.commit.slice(0, 7)} to ${result.repo} ${result.branch}: ${result.edits.join(', ')}`, made: !result.already };
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
export async function externalVersionsReady(
  deps: RotorDeps,
  namespaces: string[],
  version: string,
  staged: SecretData,
  viaGit: { applyMs: number; commits: string[] } = { applyMs: 0, commits: [] },
): Promise<void> {
  const eso = externalSecretsOf(deps);
  // In Git mode the controller applies the ExternalSecret first: its own time comes on top.
  const waitMs = (deps.externalSecretReadyMs ?? EXTERNAL_SECRET_READY_MS) + viaGit.applyMs;
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
        `External Secrets Operator has not written ${version} after ${waitMs / 1000} s: ${waiting.map((s) => s.message).join('; ')}; see \`kubectl describe externalsecret ${version} -n <namespace>\` and the store's status${
          viaGit.commits.length ? `, and whether the GitOps controller applied rotor's commit (${viaGit.commits.join('; ')})` : ''
        }`,
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
