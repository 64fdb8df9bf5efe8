// Versions as immutable, labelled Secrets: created idempotently, read back, listed by metadata only,
// deleted with a resourceVersion precondition.
import * as k8s from '@kubernetes/client-node';
import { baseOf, parseVersionName } from '../../domain/naming';
import { RotorError } from '../errors';
import { sameData } from '../values';
import { OPAQUE } from '../../domain/secret-types';
import type { StoredVersion, VersionRecord, VersionSpec } from '../ports';
import { mapBounded } from './cluster-scan';
import { DEFAULT_SCAN_CONCURRENCY } from './rate-limit';
import { jsonPatch, keepFromPages, METADATA_LIST, statusCode, toRotorError } from './kinds';
import { pointerSegment } from './refs';
import { ANNOTATION_ROTATION, LABEL_SECRET, LABEL_VERSION, versionAnnotations, versionRecordOf } from './ownership';

/** Metadata only: the apiserver answers without the Secret's data. */
const METADATA_ONLY = k8s.setHeaderOptions('Accept', 'application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1');

function b64(s: string): string {
  return Buffer.from(s, 'utf8').toString('base64');
}

function unb64(s: string): string {
  return Buffer.from(s, 'base64').toString('utf8');
}

function stored(s: k8s.V1Secret): StoredVersion {
  const data = Object.fromEntries(Object.entries(s.data ?? {}).map(([k, v]) => [k, unb64(v)]));
  return { data, rotationId: s.metadata?.annotations?.[ANNOTATION_ROTATION] ?? null };
}

/**
 * Read Secrets as the Table kubectl prints (name, type, number of keys, and each row's metadata; never
 * data) and hand the client Secrets of metadata and type and nothing else: one, or a list.
 */
function metadataAndType(shape: 'one' | 'list'): k8s.ConfigurationOptions {
  return {
    middlewareMergeStrategy: 'append',
    middleware: [
      {
        pre: (request) => {
          request.setHeaderParam('Accept', 'application/json;as=Table;g=meta.k8s.io;v=v1');
          return new k8s.Observable(Promise.resolve(request));
        },
        post: (response) => new k8s.Observable(fromTable(response, shape)),
      },
    ],
  };
}

interface SecretTable {
  columnDefinitions?: { name?: string }[];
  rows?: { cells?: unknown[]; object?: { metadata?: object } }[];
}

async function fromTable(response: k8s.ResponseContext, shape: 'one' | 'list'): Promise<k8s.ResponseContext> {
  if (response.httpStatusCode < 200 || response.httpStatusCode > 299) return response;
  const table = JSON.parse(await response.body.text()) as SecretTable;
  const column = (table.columnDefinitions ?? []).findIndex((c) => c.name === 'Type');
  const secrets = (table.rows ?? []).map((row) => {
    const type = column >= 0 ? row.cells?.[column] : undefined;
    return { apiVersion: 'v1', kind: 'Secret', metadata: row.object?.metadata ?? {}, ...(typeof type === 'string' ? { type } : {}) };
  });
  const body = JSON.stringify(
    shape === 'one' ? (secrets[0] ?? { apiVersion: 'v1', kind: 'Secret' }) : { apiVersion: 'v1', kind: 'SecretList', items: secrets },
  );
  return new k8s.ResponseContext(
    response.httpStatusCode,
    { ...response.headers, 'content-type': 'application/json' },
    { text: async () => body, binary: async () => Buffer.from(body) },
  );
}

export class Secrets {
  constructor(private readonly core: k8s.CoreV1Api) {}

  async read(namespace: string, name: string): Promise<StoredVersion | null> {
    const s = await this.get(namespace, name);
    return s ? stored(s) : null;
  }

  private async get(namespace: string, name: string): Promise<k8s.V1Secret | null> {
    try {
      return await this.core.readNamespacedSecret({ namespace, name });
    } catch (err) {
      if (statusCode(err) === 404) return null;
      throw toRotorError(err, 'read', `Secret ${namespace}/${name}`);
    }
  }

  /** A version's record, from its metadata alone (PartialObjectMetadata: no data is read); null when there is none. */
  async readRecord(namespace: string, name: string): Promise<VersionRecord | null> {
    try {
      const meta = (await this.core.readNamespacedSecret({ namespace, name }, METADATA_ONLY)) as k8s.V1ObjectMeta & { metadata?: k8s.V1ObjectMeta };
      return versionRecordOf(meta.metadata?.annotations);
    } catch (err) {
      if (statusCode(err) === 404) return null;
      throw toRotorError(err, 'read', `Secret ${namespace}/${name} (metadata only)`);
    }
  }

  /** The Secret's uid, from its metadata alone (no data is read); undefined when it is gone. */
  async uid(namespace: string, name: string): Promise<string | undefined> {
    try {
      const meta = (await this.core.readNamespacedSecret({ namespace, name }, METADATA_ONLY)) as { metadata?: k8s.V1ObjectMeta };
      return meta.metadata?.uid;
    } catch (err) {
      if (statusCode(err) === 404) return undefined;
      throw toRotorError(err, 'read', `Secret ${namespace}/${name} (metadata only)`);
    }
  }

  /**
   * Every namespace with a Secret of this name (a copy of the version, whoever made it: versions made
   * by hand carry no labels), from one listing of Secret metadata in all namespaces by field selector;
   * null when the worker may not list Secrets there.
   */
  async findCopies(name: string): Promise<string[] | null> {
    let namespaces: string[];
    try {
      namespaces = await keepFromPages(
        async (cont) => {
          const page = await this.core.listSecretForAllNamespaces({ fieldSelector: `metadata.name=${name}`, limit: 500, _continue: cont }, METADATA_LIST);
          return { items: page.items ?? [], cont: page.metadata?._continue };
        },
        (s) => (s.metadata?.name === name && s.metadata.namespace ? s.metadata.namespace : null),
      );
    } catch (err) {
      if (statusCode(err) === 403) return this.findCopiesOneByOne(name);
      throw toRotorError(err, 'list', `Secrets named ${name} in all namespaces (metadata only)`);
    }
    return [...new Set(namespaces)].sort();
  }

  /**
   * A worker that may read Secrets by name but not list them (deploy/rbac.yaml's): every namespace,
   * then the Secret of that name in each (metadata only). Null when it may not list namespaces, or
   * may not read in one of them: then where the copies are is not known.
   */
  private async findCopiesOneByOne(name: string): Promise<string[] | null> {
    let all: string[];
    try {
      all = ((await this.core.listNamespace({}, METADATA_LIST)).items ?? []).map((n) => n.metadata!.name!);
    } catch (err) {
      if (statusCode(err) === 403) return null;
      throw toRotorError(err, 'list', 'namespaces (metadata only)');
    }
    const found = await mapBounded(all, DEFAULT_SCAN_CONCURRENCY, async (namespace) => {
      try {
        return (await this.readRecord(namespace, name)) ? namespace : '';
      } catch (err) {
        if (err instanceof RotorError && err.type === 'Forbidden') return null;
        throw err;
      }
    });
    if (found.includes(null)) return null;
    return found.filter((ns): ns is string => !!ns).sort();
  }

  /** The Secret's type (Opaque when it has none), read without its data; null when there is no such Secret. */
  async readType(namespace: string, name: string): Promise<string | null> {
    const object = `Secret ${namespace}/${name}`;
    let s: k8s.V1Secret;
    try {
      s = await this.core.readNamespacedSecret({ namespace, name }, metadataAndType('one'));
    } catch (err) {
      if (statusCode(err) === 404) return null;
      throw toRotorError(err, 'read the type of', object);
    }
    // The apiserver stores every Secret with a type (Opaque by default): none in the answer is no
    // answer, and guessing Opaque would create the very version the kubelet ignores.
    if (!s.type) throw new RotorError('Unavailable', `read the type of ${object}: the apiserver's answer has no Type column`, object);
    return s.type;
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
            annotations: versionAnnotations(spec.rotationId, spec.store, spec.identity),
          },
          type: spec.type ?? OPAQUE,
          immutable: true,
          data: Object.fromEntries(Object.entries(spec.data).map(([k, v]) => [k, b64(v)])),
        },
      });
      return 'created';
    } catch (err) {
      if (statusCode(err) !== 409) throw toRotorError(err, 'create', object);
    }
    const secret = await this.get(spec.namespace, spec.name);
    if (!secret) throw new RotorError('Conflict', `create ${object}: it exists but cannot be read back`, object, 409);
    const existing = stored(secret);
    if (existing.rotationId !== spec.rotationId)
      throw new RotorError('VersionConflict', `${object} already exists`, existing.rotationId ?? 'another creator', 409);
    if (!sameData(existing.data, spec.data))
      throw new RotorError('VersionContentMismatch', `${object} exists with different content; a version never changes — create a new one`, object, 409);
    if ((secret.type || OPAQUE) !== (spec.type ?? OPAQUE)) throw typeMismatch(object, secret.type || OPAQUE, spec.type ?? OPAQUE);
    return 'exists';
  }

  /** Names, creation times and types (`?` when the apiserver does not say) of the Secret's versions (metadata and type: no data is read). */
  async listNames(namespace: string, secret: string): Promise<{ name: string; createdAt: Date | null; annotations: Record<string, string>; type: string }[]> {
    let list: k8s.V1SecretList;
    try {
      list = await this.core.listNamespacedSecret({ namespace }, metadataAndType('list'));
    } catch (err) {
      throw toRotorError(err, 'list', `Secrets in ${namespace} (metadata only)`);
    }
    return (list.items ?? [])
      .filter((s) => s.metadata?.name === secret || parseVersionName(s.metadata?.name ?? '', secret))
      .map((s) => ({
        name: s.metadata!.name!,
        createdAt: s.metadata?.creationTimestamp ? new Date(s.metadata.creationTimestamp) : null,
        annotations: s.metadata?.annotations ?? {},
        type: s.type || '?',
      }));
  }

  /** Delete with a precondition on the version read; gone already counts as deleted. */
  async delete(namespace: string, name: string): Promise<void> {
    const object = `Secret ${namespace}/${name}`;
    let resourceVersion: string | undefined;
    let labels: Record<string, string> | undefined;
    try {
      const metadata = (await this.core.readNamespacedSecret({ namespace, name })).metadata;
      resourceVersion = metadata?.resourceVersion;
      labels = metadata?.labels;
    } catch (err) {
      if (statusCode(err) === 404) return;
      throw toRotorError(err, 'read', object);
    }
    // A version made by hand (a first rotation's previous one) is adopted before it is retired: labelled
    // as rotor's, the one update rotor's admission policy allows (client/admission.ts, rule secret-update).
    if (!labels?.[LABEL_SECRET]) {
      const base = baseOf(name);
      const label = labels
        ? { op: 'add', path: `/metadata/labels/${pointerSegment(LABEL_SECRET)}`, value: base }
        : { op: 'add', path: '/metadata/labels', value: { [LABEL_SECRET]: base } };
      try {
        const adopted = await this.core.patchNamespacedSecret(
          { namespace, name, body: [{ op: 'test', path: '/metadata/resourceVersion', value: resourceVersion }, label] },
          jsonPatch,
        );
        resourceVersion = adopted.metadata?.resourceVersion;
      } catch (err) {
        if (statusCode(err) === 404) return;
        // A worker that may not patch Secrets (no admission policy asks it to adopt): deleted as it is.
        if (statusCode(err) !== 403) throw toRotorError(err, "adopt (label as rotor's, before deleting)", object);
      }
    }
    try {
      await this.core.deleteNamespacedSecret({ namespace, name, body: { preconditions: { resourceVersion } } });
    } catch (err) {
      if (statusCode(err) !== 404) throw toRotorError(err, 'delete', object);
    }
  }
}

/** A version of that name exists with another type. */
export function typeMismatch(object: string, found: string, wanted: string): RotorError {
  return new RotorError('VersionContentMismatch', `${object} exists as type ${found}, not ${wanted}; a version never changes — create a new one`, object, 409);
}
