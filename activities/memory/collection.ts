// What the memory apiserver serves, one collection per resource: its objects rendered from the world
// as Kubernetes JSON, and how a write lands back in the world's records.
import type { Obj } from '../kubernetes/kinds';
import type { ScannedResource } from '../kubernetes/object-refs';

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- Kubernetes objects are written as untyped JSON
export type Json = Record<string, any>;

/** One served resource over the world: its objects as served, and how a write lands in the world. */
export interface Collection {
  resource: ScannedResource;
  /** Every object, all namespaces (the server adds resourceVersion, uid and the like). */
  items(): Obj[];
  /** The object named so; absent: looked up among items(). */
  get?(namespace: string | undefined, name: string): Obj | undefined;
  /** Absent: the resource is read-only here (the server answers 405). */
  create?(obj: Obj): void;
  update?(obj: Obj): void;
  remove?(obj: Obj): void;
}

export function resource(group: string, version: string, plural: string, kind: string, namespaced = true): ScannedResource {
  return { group, version, resource: plural, kind, namespaced };
}

export function apiVersion(r: ScannedResource): string {
  return r.group ? `${r.group}/${r.version}` : r.version;
}

/** Keys whose value is undefined left out, as JSON would. */
export function defined<T extends Json>(o: T): T {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;
}

/** Replace `target`'s own fields with `next`'s, keeping the object (and whoever holds it). */
export function replaceFields<T extends object>(target: T, next: T): void {
  for (const key of Object.keys(target)) delete (target as Json)[key];
  Object.assign(target, next);
}

/** The object as the world holds it, before the server's bookkeeping. */
export function stored(c: Collection, namespace: string | undefined, name: string): Obj | undefined {
  return c.get ? c.get(namespace, name) : c.items().find((o) => o.metadata?.name === name && (o.metadata?.namespace ?? undefined) === namespace);
}
