// An in-memory kube-apiserver over a memory world (objects.ts): the REST API the Kubernetes adapter's
// clients speak, answered in-process. It keeps what the adapter relies on of the real one:
// resourceVersion and uid on every object, preconditions (a stale resourceVersion is 409 Conflict),
// 404 NotFound (naming the namespace when that is what is missing), 409 AlreadyExists, 422 for a
// failed JSON-patch test or a change to an immutable Secret, paged lists (limit and continue, in key
// order; a token from before a compaction is 410 Gone), label and field selectors, metadata-only and
// Table answers, discovery, and RBAC's 403 where the world says the worker may not read (or create). External
// Secrets Operator's part is played on read: an ExternalSecret whose Secret is missing is synced from
// the world's provider, as the operator would. test/memory-apiserver.test.ts holds it to kube-apiserver.
import { collections } from './objects';
import { apiVersion, stored, type Collection, type Json } from './collection';
import { applyJsonPatch, fieldMatcher, labelMatcher, mergePatch } from './rest';
import { discovery, failure, shaped, table, type ApiAnswer } from './answers';
import type { MemoryProvider, MemoryWorld } from './world';
import type { Obj } from '../kubernetes/kinds';

interface Bookkeeping {
  resourceVersion: number;
  uid: string;
  generation: number;
  created: string;
  spec: string;
}

/** `secrets` / `deployments.apps`, as the apiserver names a resource in its messages. */
function qualified(c: Collection): string {
  return c.resource.group ? `${c.resource.resource}.${c.resource.group}` : c.resource.resource;
}

function notFound(c: Collection, name: string): ApiAnswer {
  return failure(404, 'NotFound', `${qualified(c)} "${name}" not found`, { name, group: c.resource.group, kind: c.resource.resource });
}

const key = (obj: Obj) => `${obj.metadata?.namespace ?? ''}/${obj.metadata?.name}`;

export class MemoryApiServer {
  private revision = 1;
  /** Continue tokens of lists older than this expire (410), as after etcd compacts past them. */
  private compactedAt = 0;
  private readonly books = new Map<string, Bookkeeping>();

  constructor(
    readonly world: MemoryWorld,
    /** What External Secrets Operator reads for an ExternalSecret (without it, none syncs). */
    public provider?: MemoryProvider,
  ) {}

  /** Forget history, as etcd's compaction does: a list continued from a token issued before now is 410 Gone. */
  compact(): void {
    this.compactedAt = this.revision;
  }

  /** The object's bookkeeping, made when first seen (the world may gain objects by other hands). */
  private book(c: Collection, obj: Obj): Bookkeeping {
    const id = `${qualified(c)}/${key(obj)}`;
    let b = this.books.get(id);
    if (!b) {
      b = {
        resourceVersion: this.revision++,
        uid: `memory-${this.revision}-${obj.metadata?.name}`,
        generation: 1,
        created: new Date().toISOString(),
        spec: '',
      };
      b.spec = this.specOf(c, obj);
      this.books.set(id, b);
    }
    return b;
  }

  /** The object as served: with its resourceVersion, uid, generation, and a controller that observed it. */
  private served(c: Collection, obj: Obj): Obj {
    const b = this.book(c, obj);
    const out = { apiVersion: apiVersion(c.resource), kind: c.resource.kind, ...obj } as Obj;
    out.metadata = {
      ...obj.metadata,
      resourceVersion: String(b.resourceVersion),
      uid: b.uid,
      generation: b.generation,
      creationTimestamp: b.created as unknown as Date,
    };
    if (out.status && 'observedGeneration' in out.status) out.status = { ...out.status, observedGeneration: b.generation };
    return out;
  }

  /**
   * After a write: a new resourceVersion, and a new generation when the spec changed (for a Deployment
   * its annotations too, which kube-apiserver counts because they are copied to its ReplicaSets).
   */
  private written(c: Collection, namespace: string | undefined, name: string, created: boolean): void {
    const id = `${qualified(c)}/${namespace ?? ''}/${name}`;
    if (created) this.books.delete(id);
    const now = stored(c, namespace, name);
    if (!now) return;
    const b = this.book(c, now);
    if (created) return;
    b.resourceVersion = this.revision++;
    const spec = this.specOf(c, now);
    if (spec !== b.spec) b.generation++;
    b.spec = spec;
  }

  private specOf(c: Collection, obj: Obj): string {
    const deployment = c.resource.group === 'apps' && c.resource.resource === 'deployments';
    return JSON.stringify([obj.spec ?? null, deployment ? (obj.metadata?.annotations ?? {}) : null]);
  }

  private find(c: Collection, namespace: string | undefined, name: string): Obj | undefined {
    const found = stored(c, namespace, name);
    return found && this.served(c, found);
  }

  /** What RBAC would refuse the worker, as the world says. */
  private forbidden(c: Collection, verb: string, namespace: string | undefined, name: string | undefined): ApiAnswer | null {
    const r = c.resource;
    if (r.resource === 'secrets' && r.group === '' && (verb === 'get' || verb === 'list')) {
      const closed = this.world.unreadableNamespaces ?? [];
      if (namespace ? closed.includes(namespace) : closed.length > 0) {
        const scope = namespace ? `in the namespace "${namespace}"` : 'at the cluster scope';
        const what = name ? `secrets "${name}" is forbidden` : 'secrets is forbidden';
        return failure(403, 'Forbidden', `${what}: User cannot ${verb} resource "secrets" in API group "" ${scope}`, { name, kind: 'secrets' });
      }
    }
    const why = verb === 'list' ? this.world.unreadable?.[qualified(c)] : verb === 'post' ? this.world.uncreatable?.[qualified(c)] : undefined;
    if (why) return failure(403, 'Forbidden', why, { kind: r.resource, group: r.group });
    return null;
  }

  /** The operator's syncs, one at a time: two requests at once must not both write a missing Secret. */
  private syncing: Promise<void> = Promise.resolve();

  private syncExternalSecrets(): Promise<void> {
    const next = this.syncing.then(() => this.syncOnce());
    this.syncing = next.catch(() => undefined);
    return next;
  }

  /** The operator's sync: an ExternalSecret whose Secret is missing gets it from the provider, if its store is Ready. */
  private async syncOnce(): Promise<void> {
    for (const es of this.world.externalSecrets ?? []) {
      if (this.world.secrets.some((s) => s.namespace === es.namespace && s.name === es.name)) {
        es.condition ??= { status: 'True', reason: 'SecretSynced', message: 'secret synced' };
        continue;
      }
      const store = this.world.secretStores?.find(
        (s) => s.kind === es.secretStoreRef.kind && s.name === es.secretStoreRef.name && (s.kind === 'ClusterSecretStore' || s.namespace === es.namespace),
      );
      const data = store?.ready && this.provider ? await this.provider(es.remoteRef).catch(() => null) : null;
      es.condition = { status: 'False', reason: 'SecretSyncedError', message: 'could not get secret data from provider' };
      if (!data) continue;
      // The operator writes the Secret its template says: of the template's type, with its labels and annotations.
      this.world.secrets.push({
        namespace: es.namespace,
        name: es.name,
        type: es.type,
        immutable: true,
        labels: { ...es.labels },
        annotations: { ...es.annotations },
        data: { ...data },
      });
      es.condition = { status: 'True', reason: 'SecretSynced', message: 'secret synced' };
    }
  }

  /** One request, answered as kube-apiserver would. */
  async handle(method: string, url: URL, accept: string, contentType: string, rawBody: string | undefined): Promise<ApiAnswer> {
    const segments = url.pathname.split('/').filter(Boolean).map(decodeURIComponent);
    const found = discovery(collections(this.world), segments);
    if (found) return found;
    const root = segments[0] === 'api' ? 2 : 3;
    const [group, version] = segments[0] === 'api' ? ['', segments[1]] : [segments[1], segments[2]];
    let rest = segments.slice(root);
    let namespace: string | undefined;
    if (rest[0] === 'namespaces' && rest.length >= 3) {
      namespace = rest[1];
      rest = rest.slice(2);
    }
    const [plural, name] = rest;
    const c = collections(this.world).find((x) => x.resource.group === group && x.resource.version === version && x.resource.resource === plural);
    if (!c) return failure(404, 'NotFound', 'the server could not find the requested resource');
    if (group === 'external-secrets.io' && method === 'GET') await this.syncExternalSecrets();
    const body = rawBody ? (JSON.parse(rawBody) as Json) : undefined;
    const verb = method === 'GET' ? (name ? 'get' : 'list') : method.toLowerCase();
    const refused = this.forbidden(c, verb, namespace, name);
    if (refused) return refused;
    switch (verb) {
      case 'get': {
        const obj = this.find(c, namespace, name);
        return obj ? { status: 200, body: shaped(c, obj, accept) } : notFound(c, name);
      }
      case 'list':
        return this.list(c, namespace, url.searchParams, accept);
      case 'post':
        return this.create(c, namespace, body ?? {});
      case 'put':
        return this.update(c, namespace, name, () => body ?? {}, body?.metadata?.resourceVersion);
      case 'patch':
        return this.update(c, namespace, name, (current) => {
          if (contentType.includes('json-patch')) return applyJsonPatch(current, body as unknown as Json[]);
          return mergePatch(current, body) as Json;
        });
      case 'delete':
        return this.remove(c, namespace, name, body);
    }
    return failure(405, 'MethodNotAllowed', `the server does not allow this method on the requested resource`);
  }

  private missingNamespace(c: Collection, namespace: string | undefined): ApiAnswer | null {
    if (!c.resource.namespaced || !namespace) return null;
    if (this.world.namespaces && !this.world.namespaces.includes(namespace))
      return failure(404, 'NotFound', `namespaces "${namespace}" not found`, { name: namespace, kind: 'namespaces' });
    return null;
  }

  private create(c: Collection, namespace: string | undefined, body: Json): ApiAnswer {
    if (!c.create) return failure(405, 'MethodNotAllowed', `the server does not allow this method on the requested resource`);
    const gone = this.missingNamespace(c, namespace);
    if (gone) return gone;
    const obj = { ...body, metadata: { ...body.metadata, ...(namespace ? { namespace } : {}) } } as Obj;
    for (const k of ['resourceVersion', 'uid', 'generation', 'creationTimestamp'] as const) delete (obj.metadata as Json)[k];
    const name = obj.metadata?.name;
    if (!name) return failure(422, 'Invalid', `${c.resource.kind} "" is invalid: metadata.name: Required value: name or generateName is required`);
    if (this.find(c, namespace, name))
      return failure(409, 'AlreadyExists', `${qualified(c)} "${name}" already exists`, { name, group: c.resource.group, kind: c.resource.resource });
    c.create(obj);
    this.written(c, namespace, name, true);
    return { status: 201, body: this.find(c, namespace, name)! };
  }

  private update(c: Collection, namespace: string | undefined, name: string, next: (current: Json) => Json, precondition?: string): ApiAnswer {
    if (!c.update) return failure(405, 'MethodNotAllowed', `the server does not allow this method on the requested resource`);
    const current = this.find(c, namespace, name);
    if (!current) return notFound(c, name);
    let obj: Json;
    try {
      obj = next(current);
    } catch (err) {
      return failure(422, 'Invalid', 'the server rejected our request due to an error in our request', { causes: [{ message: (err as Error).message }] });
    }
    if (precondition && precondition !== current.metadata?.resourceVersion) {
      return failure(
        409,
        'Conflict',
        `Operation cannot be fulfilled on ${qualified(c)} "${name}": the object has been modified; please apply your changes to the latest version and try again`,
        { name, group: c.resource.group, kind: c.resource.resource },
      );
    }
    if (obj.metadata?.name !== name || (obj.metadata?.namespace ?? undefined) !== namespace)
      return failure(
        422,
        'Invalid',
        `${c.resource.kind} "${name}" is invalid: metadata.name: Invalid value: the name of the object does not match the name on the URL`,
      );
    const immutable = this.immutableChange(c, current, obj);
    if (immutable) return immutable;
    c.update(obj as Obj);
    this.written(c, namespace, name, false);
    return { status: 200, body: this.find(c, namespace, name)! };
  }

  /** A Secret's type never changes, and an immutable Secret's data and immutability neither. */
  private immutableChange(c: Collection, before: Json, after: Json): ApiAnswer | null {
    if (c.resource.resource !== 'secrets' || c.resource.group !== '') return null;
    const invalid = (field: string, why: string) => failure(422, 'Invalid', `Secret "${before.metadata.name}" is invalid: ${field}: ${why}`);
    if ((after.type ?? 'Opaque') !== before.type) return invalid('type', 'Invalid value: field is immutable');
    if (before.immutable === true) {
      if (JSON.stringify(after.data ?? {}) !== JSON.stringify(before.data ?? {}) || after.stringData)
        return invalid('data', 'Forbidden: field is immutable when `immutable` is set');
      if (after.immutable !== true) return invalid('immutable', 'Forbidden: field is immutable when `immutable` is set');
    }
    return null;
  }

  private remove(c: Collection, namespace: string | undefined, name: string, body: Json | undefined): ApiAnswer {
    if (!c.remove) return failure(405, 'MethodNotAllowed', `the server does not allow this method on the requested resource`);
    const current = this.find(c, namespace, name);
    if (!current) return notFound(c, name);
    const pre = body?.preconditions ?? {};
    if (pre.resourceVersion && pre.resourceVersion !== current.metadata?.resourceVersion)
      return failure(
        409,
        'Conflict',
        `Operation cannot be fulfilled on ${qualified(c)} "${name}": the ResourceVersion in the precondition (${pre.resourceVersion}) does not match the ResourceVersion in record (${current.metadata?.resourceVersion}). The object might have been modified`,
        { name, group: c.resource.group, kind: c.resource.resource },
      );
    if (pre.uid && pre.uid !== current.metadata?.uid)
      return failure(
        409,
        'Conflict',
        `Operation cannot be fulfilled on ${qualified(c)} "${name}": Precondition failed: UID in precondition: ${pre.uid}, UID in object meta: ${current.metadata?.uid}`,
        { name, group: c.resource.group, kind: c.resource.resource },
      );
    c.remove(current);
    this.books.delete(`${qualified(c)}/${key(current)}`);
    return {
      status: 200,
      body: { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Success', details: { name, group: c.resource.group, kind: c.resource.resource } },
    };
  }

  /** A page of the list, in key order; `continue` names the last key served. */
  private list(c: Collection, namespace: string | undefined, query: URLSearchParams, accept: string): ApiAnswer {
    const labels = labelMatcher(query.get('labelSelector'));
    const fields = fieldMatcher(query.get('fieldSelector'));
    const byName = /^metadata\.name=([^,]+)$/.exec(query.get('fieldSelector') ?? '');
    const candidates = byName && c.get ? [c.get(namespace, byName[1])].filter((o): o is Obj => !!o) : c.items();
    const all = candidates
      .filter((o) => !namespace || o.metadata?.namespace === namespace)
      .filter((o) => labels(o.metadata?.labels) && fields(o))
      .sort((a, b) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0));
    const cont = query.get('continue');
    let after = '';
    if (cont) {
      let token: { start: string; rv: number };
      try {
        token = JSON.parse(Buffer.from(cont, 'base64').toString('utf8')) as typeof token;
      } catch {
        return failure(400, 'BadRequest', 'continue key is not valid: illegal base64 data');
      }
      if (token.rv < this.compactedAt)
        return failure(
          410,
          'Expired',
          'The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter.',
        );
      after = token.start;
    }
    const rest = all.filter((o) => key(o) > after);
    const limit = Number(query.get('limit') ?? 0);
    const page = limit > 0 ? rest.slice(0, limit) : rest;
    const more = page.length < rest.length;
    const metadata = {
      resourceVersion: String(this.revision),
      ...(more
        ? {
            continue: Buffer.from(JSON.stringify({ start: key(page[page.length - 1]), rv: this.revision })).toString('base64'),
            remainingItemCount: rest.length - page.length,
          }
        : {}),
    };
    const items = page.map((o) => this.served(c, o));
    if (accept.includes('as=Table')) return { status: 200, body: table(c, items, metadata) };
    if (accept.includes('as=PartialObjectMetadataList'))
      return {
        status: 200,
        body: { kind: 'PartialObjectMetadataList', apiVersion: 'meta.k8s.io/v1', metadata, items: items.map((o) => shaped(c, o, 'as=PartialObjectMetadata')) },
      };
    return { status: 200, body: { kind: `${c.resource.kind}List`, apiVersion: apiVersion(c.resource), metadata, items } };
  }
}
