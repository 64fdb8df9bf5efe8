// store external-secrets: each version is an ExternalSecret (external-secrets.io/v1) named and
// targeting `<base>-<version>`, pinned to the store's exact version of the value; External Secrets
// Operator writes the immutable Secret. rotor never sends the value to the cluster itself here.
import * as k8s from '@kubernetes/client-node';
import type { ExternalSecretStoreRef } from '../../domain/plan';
import { OPAQUE } from '../../domain/secret-types';
import { RotorError } from '../errors';
import type { ExternalProvider, ExternalSecretsPort, ExternalVersionSpec, ExternalVersionState } from '../ports';
import { statusCode, toRotorError } from './kinds';
import { gitopsControllers, managedByOf, type GitOpsOptions, type ManagedMeta } from './gitops';
import type { ManagedBy } from '../../contract/activities';
import { typeMismatch } from './secrets';
import { ANNOTATION_ROTATION, LABEL_SECRET, LABEL_VERSION, versionAnnotations } from './ownership';

export const ESO_GROUP = 'external-secrets.io';
export const ESO_VERSION = 'v1';
const MANAGED_BY = 'app.kubernetes.io/managed-by';

interface Condition {
  type?: string;
  status?: string;
  reason?: string;
  message?: string;
}

interface ExternalSecretObject {
  metadata?: k8s.V1ObjectMeta;
  spec?: {
    secretStoreRef?: { name?: string; kind?: string };
    target?: { template?: { type?: string } };
    dataFrom?: { extract?: { key?: string; version?: string } }[];
  };
  status?: { conditions?: Condition[] };
}

/** The labels and annotations of a version, the same on the ExternalSecret and (by its template) on the Secret. */
export function externalVersionMetadata(spec: Omit<ExternalVersionSpec, 'secretStoreRef' | 'remoteRef'>) {
  return {
    labels: { [LABEL_SECRET]: spec.base, [LABEL_VERSION]: spec.name.slice(spec.base.length + 1), [MANAGED_BY]: 'rotor' },
    annotations: versionAnnotations(spec.rotationId, spec.store, spec.identity),
  };
}

/**
 * The ExternalSecret of a version: the target Secret of the same name, immutable, owned by it (the
 * garbage collector takes it with the ExternalSecret); `deletionPolicy: Retain`, so a provider that
 * loses the version never deletes a Secret a pod still mounts; every key of the pinned version.
 */
export function externalSecretBody(spec: ExternalVersionSpec): object {
  const metadata = externalVersionMetadata(spec);
  return {
    apiVersion: `${ESO_GROUP}/${ESO_VERSION}`,
    kind: 'ExternalSecret',
    metadata: { name: spec.name, namespace: spec.namespace, ...metadata },
    spec: {
      refreshInterval: '1h',
      secretStoreRef: { name: spec.secretStoreRef.name, kind: spec.secretStoreRef.kind },
      target: {
        name: spec.name,
        creationPolicy: 'Owner',
        deletionPolicy: 'Retain',
        immutable: true,
        template: { type: spec.type ?? OPAQUE, metadata },
      },
      dataFrom: [{ extract: { key: spec.remoteRef.key, version: spec.remoteRef.version, conversionStrategy: 'Default', decodingStrategy: 'None' } }],
    },
  };
}

function ready(obj: ExternalSecretObject | { status?: { conditions?: Condition[] } }): Condition | undefined {
  return obj.status?.conditions?.find((c) => c.type === 'Ready');
}

/** The ExternalSecretsPort over the apiserver (KubernetesCluster.externalSecrets). */
export class ExternalSecrets implements ExternalSecretsPort {
  private readonly custom: k8s.CustomObjectsApi;

  constructor(
    kc: k8s.KubeConfig,
    private readonly core: k8s.CoreV1Api,
    private readonly gitops: GitOpsOptions = {},
  ) {
    this.custom = kc.makeApiClient(k8s.CustomObjectsApi);
  }

  private async read(namespace: string, name: string): Promise<ExternalSecretObject | null> {
    try {
      return (await this.custom.getNamespacedCustomObject({
        group: ESO_GROUP,
        version: ESO_VERSION,
        namespace,
        plural: 'externalsecrets',
        name,
      })) as ExternalSecretObject;
    } catch (err) {
      if (statusCode(err) === 404 && !(await this.served())) throw externalSecretsNotServed();
      if (statusCode(err) === 404) return null;
      throw toRotorError(err, 'read', `ExternalSecret ${namespace}/${name}`);
    }
  }

  async createExternalVersion(spec: ExternalVersionSpec): Promise<'created' | 'exists'> {
    const object = `ExternalSecret ${spec.namespace}/${spec.name}`;
    try {
      await this.custom.createNamespacedCustomObject({
        group: ESO_GROUP,
        version: ESO_VERSION,
        namespace: spec.namespace,
        plural: 'externalsecrets',
        body: externalSecretBody(spec),
      });
      return 'created';
    } catch (err) {
      if (statusCode(err) === 404 && !(await this.served())) throw externalSecretsNotServed();
      if (statusCode(err) !== 409) throw toRotorError(err, 'create', object);
    }
    const existing = await this.read(spec.namespace, spec.name);
    if (!existing) throw new RotorError('Conflict', `create ${object}: it exists but cannot be read back`, object, 409);
    const owner = existing.metadata?.annotations?.[ANNOTATION_ROTATION];
    if (owner !== spec.rotationId) throw new RotorError('VersionConflict', `${object} already exists`, owner ?? 'another creator', 409);
    const extract = existing.spec?.dataFrom?.[0]?.extract;
    const store = existing.spec?.secretStoreRef;
    if (
      extract?.key !== spec.remoteRef.key ||
      extract?.version !== spec.remoteRef.version ||
      store?.name !== spec.secretStoreRef.name ||
      (store?.kind ?? 'SecretStore') !== spec.secretStoreRef.kind
    ) {
      throw new RotorError(
        'VersionContentMismatch',
        `${object} exists for another value (${extract?.key ?? '?'} ${extract?.version ?? '?'} through ${store?.name ?? '?'}); a version never changes — create a new one`,
        object,
        409,
      );
    }
    const type = existing.spec?.target?.template?.type || OPAQUE;
    if (type !== (spec.type ?? OPAQUE)) throw typeMismatch(object, type, spec.type ?? OPAQUE);
    return 'exists';
  }

  /** Ready=True with the target Secret there; otherwise what the operator last said. */
  async externalVersionState(namespace: string, name: string): Promise<ExternalVersionState> {
    const es = await this.read(namespace, name);
    if (!es) return { ready: false, message: `ExternalSecret ${namespace}/${name} does not exist` };
    const condition = ready(es);
    if (condition?.status !== 'True') {
      const said = condition
        ? `${condition.reason ?? 'Ready=' + condition.status}: ${condition.message ?? ''}`.trim()
        : 'no Ready condition yet (is External Secrets Operator running?)';
      return { ready: false, judged: condition?.status === 'False', message: `ExternalSecret ${namespace}/${name} is not Ready: ${said}` };
    }
    try {
      await this.core.readNamespacedSecret({ namespace, name });
    } catch (err) {
      if (statusCode(err) === 404) return { ready: false, message: `ExternalSecret ${namespace}/${name} is Ready but its Secret is not there yet` };
      throw toRotorError(err, 'read', `Secret ${namespace}/${name}`);
    }
    return { ready: true, message: `ExternalSecret ${namespace}/${name} is Ready (${condition.reason ?? 'synced'})` };
  }

  async externalVersionController(namespace: string, name: string): Promise<ManagedBy | null> {
    const es = await this.read(namespace, name);
    const found = es?.metadata ? gitopsControllers('ExternalSecret', es.metadata as ManagedMeta, [], this.gitops)[0] : undefined;
    return found ? managedByOf(found) : null;
  }

  /** Delete rotor's ExternalSecret of a version (gone already counts); one rotor did not create is refused. */
  async delete(namespace: string, name: string): Promise<void> {
    const object = `ExternalSecret ${namespace}/${name}`;
    const es = await this.read(namespace, name);
    if (!es) return;
    if (es.metadata?.labels?.[MANAGED_BY] !== 'rotor') {
      throw new RotorError('OwnershipConflict', `${object} was not created by rotor; delete it yourself if ${name} is no longer needed`, object);
    }
    try {
      await this.custom.deleteNamespacedCustomObject({
        group: ESO_GROUP,
        version: ESO_VERSION,
        namespace,
        plural: 'externalsecrets',
        name,
        body: { preconditions: { resourceVersion: es.metadata?.resourceVersion }, propagationPolicy: 'Background' },
      });
    } catch (err) {
      if (statusCode(err) !== 404) throw toRotorError(err, 'delete', object);
    }
  }

  /** PLANNING: the API is served, and the store is there and Ready (a SecretStore in every namespace). */
  async checkExternalSecretStore(namespaces: string[], ref: ExternalSecretStoreRef, expect?: ExternalProvider): Promise<string> {
    if (!(await this.served())) throw externalSecretsNotServed();
    const places = ref.kind === 'ClusterSecretStore' ? [null] : namespaces;
    for (const namespace of places) {
      const object = namespace ? `SecretStore ${namespace}/${ref.name}` : `ClusterSecretStore ${ref.name}`;
      let store: { spec?: { provider?: Record<string, { service?: string; region?: string }> }; status?: { conditions?: Condition[] } };
      try {
        store = (
          namespace
            ? await this.custom.getNamespacedCustomObject({ group: ESO_GROUP, version: ESO_VERSION, namespace, plural: 'secretstores', name: ref.name })
            : await this.custom.getClusterCustomObject({ group: ESO_GROUP, version: ESO_VERSION, plural: 'clustersecretstores', name: ref.name })
        ) as typeof store;
      } catch (err) {
        if (statusCode(err) === 404) throw noSuchStore(object);
        throw toRotorError(err, 'read', object);
      }
      if (expect) providerMismatch(object, store.spec?.provider, expect);
      const condition = ready(store);
      if (condition?.status !== 'True') {
        throw storeNotReady(
          object,
          condition ? `${condition.reason ?? ''}: ${condition.message ?? ''}` : 'no Ready condition: is External Secrets Operator running?',
        );
      }
    }
    return `${ref.kind} ${ref.name} is Ready${ref.kind === 'SecretStore' ? ` in ${namespaces.join(', ')}` : ''}`;
  }

  private async served(): Promise<boolean> {
    try {
      await this.custom.listClusterCustomObject({ group: ESO_GROUP, version: ESO_VERSION, plural: 'externalsecrets', limit: 1 });
      return true;
    } catch (err) {
      if (statusCode(err) === 404) return false;
      throw toRotorError(err, 'list', 'ExternalSecrets');
    }
  }
}

// What rotor says when the operator or its store is not there as the plan needs.

function externalSecretsNotServed(): RotorError {
  return new RotorError(
    'RotorInputError',
    `the cluster does not serve ${ESO_GROUP}/${ESO_VERSION} ExternalSecrets: install External Secrets Operator (v0.16 or later) or use store: aws-secrets-manager`,
    'ExternalSecret',
    404,
  );
}

function noSuchStore(object: string): RotorError {
  return new RotorError(
    'RotorInputError',
    `externalSecrets.secretStoreRef: there is no ${object}; create it (provider aws, the region of awsSecretsManager.secretId) or name the one that reads it`,
    object,
    404,
  );
}

function storeNotReady(object: string, why: string): RotorError {
  return new RotorError(
    'RotorInputError',
    `externalSecrets.secretStoreRef: ${object} is not Ready (${why}); fix the store's provider settings or credentials first`,
    object,
  );
}

/**
 * The store reads what rotor writes, or a RotorInputError naming the difference: an ExternalSecret
 * through a store of another provider, service or region would be Ready with another value, or never.
 */
function providerMismatch(object: string, provider: Record<string, { service?: string; region?: string }> | undefined, expect: ExternalProvider): void {
  const aws = provider?.aws;
  if (!aws) {
    throw new RotorError(
      'RotorInputError',
      `externalSecrets.secretStoreRef: ${object} reads ${Object.keys(provider ?? {}).join(', ') || 'no provider'}, not AWS Secrets Manager, where rotor writes awsSecretsManager.secretId; name a store with provider aws`,
      object,
    );
  }
  if ((aws.service ?? 'SecretsManager') !== expect.service) {
    throw new RotorError(
      'RotorInputError',
      `externalSecrets.secretStoreRef: ${object} reads AWS ${aws.service}, not SecretsManager; name a store with service: SecretsManager`,
      object,
    );
  }
  if (expect.region && aws.region !== expect.region) {
    throw new RotorError(
      'RotorInputError',
      `externalSecrets.secretStoreRef: ${object} reads region ${aws.region ?? '(none)'}, but rotor writes awsSecretsManager.secretId in ${expect.region}; set awsSecretsManager.region: ${aws.region ?? '<region>'} or name a store for ${expect.region}`,
      object,
    );
  }
}
