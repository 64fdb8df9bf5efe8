// Versions as immutable, labelled Secrets: created idempotently, read back, listed by metadata only,
// deleted with a resourceVersion precondition.
import * as k8s from '@kubernetes/client-node';
import { parseVersionName } from '../../domain/naming';
import { RotorError } from '../errors';
import { sameData } from '../values';
import type { StoredVersion, VersionSpec } from '../ports';
import { statusCode, toRotorError } from './kinds';
import { ANNOTATION_ROTATION, LABEL_SECRET, LABEL_VERSION, versionAnnotations } from './ownership';

function b64(s: string): string {
  return Buffer.from(s, 'utf8').toString('base64');
}

function unb64(s: string): string {
  return Buffer.from(s, 'base64').toString('utf8');
}

export class Secrets {
  constructor(private readonly core: k8s.CoreV1Api) {}

  async read(namespace: string, name: string): Promise<StoredVersion | null> {
    try {
      const s = await this.core.readNamespacedSecret({ namespace, name });
      const data = Object.fromEntries(Object.entries(s.data ?? {}).map(([k, v]) => [k, unb64(v)]));
      return { data, rotationId: s.metadata?.annotations?.[ANNOTATION_ROTATION] ?? null };
    } catch (err) {
      if (statusCode(err) === 404) return null;
      throw toRotorError(err, 'read', `Secret ${namespace}/${name}`);
    }
  }

  async create(spec: VersionSpec): Promise<'created' | 'exists'> {
    const object = `Secret ${spec.namespace}/${spec.name}`;
    try {
      await this.core.createNamespacedSecret({
        namespace: spec.namespace,
        body: {
          metadata: {
            name: spec.name,
            namespace: spec.namespace,
            labels: { [LABEL_SECRET]: spec.base, [LABEL_VERSION]: spec.name.slice(spec.base.length + 1), 'app.kubernetes.io/managed-by': 'rotor' },
            annotations: versionAnnotations(spec.rotationId, spec.store),
          },
          type: 'Opaque',
          immutable: true,
          data: Object.fromEntries(Object.entries(spec.data).map(([k, v]) => [k, b64(v)])),
        },
      });
      return 'created';
    } catch (err) {
      if (statusCode(err) !== 409) throw toRotorError(err, 'create', object);
    }
    const existing = await this.read(spec.namespace, spec.name);
    if (!existing) throw new RotorError('Conflict', `create ${object}: it exists but cannot be read back`, object, 409);
    if (existing.rotationId !== spec.rotationId)
      throw new RotorError('VersionConflict', `${object} already exists`, existing.rotationId ?? 'another creator', 409);
    if (!sameData(existing.data, spec.data))
      throw new RotorError('VersionContentMismatch', `${object} exists with different content; a version never changes — create a new one`, object, 409);
    return 'exists';
  }

  /** Names and creation times of the Secret's versions (PartialObjectMetadata: no data is read). */
  async listNames(namespace: string, secret: string): Promise<{ name: string; createdAt: Date | null; annotations: Record<string, string> }[]> {
    let list: k8s.V1SecretList;
    try {
      list = await this.core.listNamespacedSecret(
        { namespace },
        k8s.setHeaderOptions('Accept', 'application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1'),
      );
    } catch (err) {
      throw toRotorError(err, 'list', `Secrets in ${namespace} (metadata only)`);
    }
    return list.items
      .filter((s) => s.metadata?.name === secret || parseVersionName(s.metadata?.name ?? '', secret))
      .map((s) => ({
        name: s.metadata!.name!,
        createdAt: s.metadata?.creationTimestamp ? new Date(s.metadata.creationTimestamp) : null,
        annotations: s.metadata?.annotations ?? {},
      }));
  }

  /** Delete with a precondition on the version read; gone already counts as deleted. */
  async delete(namespace: string, name: string): Promise<void> {
    const object = `Secret ${namespace}/${name}`;
    let resourceVersion: string | undefined;
    try {
      resourceVersion = (await this.core.readNamespacedSecret({ namespace, name })).metadata?.resourceVersion;
    } catch (err) {
      if (statusCode(err) === 404) return;
      throw toRotorError(err, 'read', object);
    }
    try {
      await this.core.deleteNamespacedSecret({ namespace, name, body: { preconditions: { resourceVersion } } });
    } catch (err) {
      if (statusCode(err) !== 404) throw toRotorError(err, 'delete', object);
    }
  }
}
