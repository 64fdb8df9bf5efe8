// What the memory apiserver answers besides objects: Status failures, discovery documents, and the
// metadata-only and Table forms an Accept header asks for.
import type { Obj } from '../kubernetes/kinds';
import type { Collection, Json } from './collection';

export interface ApiAnswer {
  status: number;
  body: Json;
}

/** A Status as the apiserver writes it. */
export function failure(code: number, reason: string, message: string, details?: Json): ApiAnswer {
  return { status: code, body: { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason, ...(details ? { details } : {}), code } };
}

export function discovery(all: Collection[], segments: string[]): ApiAnswer | null {
  const resources = (group: string, version: string) => ({
    kind: 'APIResourceList',
    apiVersion: 'v1',
    groupVersion: group ? `${group}/${version}` : version,
    resources: all
      .filter((c) => c.resource.group === group && c.resource.version === version)
      .map((c) => ({
        name: c.resource.resource,
        singularName: c.resource.kind.toLowerCase(),
        namespaced: c.resource.namespaced,
        kind: c.resource.kind,
        verbs: c.create ? ['create', 'delete', 'get', 'list', 'patch', 'update'] : ['get', 'list'],
      })),
  });
  if (segments.length === 1 && segments[0] === 'api') return { status: 200, body: { kind: 'APIVersions', versions: ['v1'] } };
  if (segments.length === 2 && segments[0] === 'api') return { status: 200, body: resources('', segments[1]) };
  if (segments.length === 1 && segments[0] === 'apis') {
    const groups = new Map<string, string>();
    for (const c of all) if (c.resource.group && !groups.has(c.resource.group)) groups.set(c.resource.group, c.resource.version);
    return {
      status: 200,
      body: {
        kind: 'APIGroupList',
        apiVersion: 'v1',
        groups: [...groups].map(([name, version]) => ({
          name,
          versions: [{ groupVersion: `${name}/${version}`, version }],
          preferredVersion: { groupVersion: `${name}/${version}`, version },
        })),
      },
    };
  }
  if (segments.length === 3 && segments[0] === 'apis') {
    const body = resources(segments[1], segments[2]);
    return body.resources.length ? { status: 200, body } : failure(404, 'NotFound', 'the server could not find the requested resource');
  }
  return null;
}

/** One object as the Accept header asks: whole, metadata only, or a Table row. */
export function shaped(c: Collection, obj: Obj, accept: string): Json {
  if (accept.includes('as=Table')) return table(c, [obj], {});
  if (accept.includes('as=PartialObjectMetadata')) return { kind: 'PartialObjectMetadata', apiVersion: 'meta.k8s.io/v1', metadata: obj.metadata };
  return obj;
}

/** What `kubectl get` prints: for Secrets, name, type, number of keys and age; rows carry metadata only. */
export function table(c: Collection, items: Obj[], metadata: Json): Json {
  const secret = c.resource.resource === 'secrets' && c.resource.group === '';
  const columns = secret ? ['Name', 'Type', 'Data', 'Age'] : ['Name', 'Age'];
  return {
    kind: 'Table',
    apiVersion: 'meta.k8s.io/v1',
    metadata,
    columnDefinitions: columns.map((name) => ({ name, type: name === 'Data' ? 'integer' : 'string', format: name === 'Name' ? 'name' : '' })),
    rows: items.map((o) => ({
      cells: secret ? [o.metadata?.name, (o as Json).type, Object.keys((o as Json).data ?? {}).length, '0s'] : [o.metadata?.name, '0s'],
      object: { kind: 'PartialObjectMetadata', apiVersion: 'meta.k8s.io/v1', metadata: o.metadata },
    })),
  };
}
