// The request language of the memory apiserver: JSON patch (RFC 6902) and merge patch (RFC 7386) as
// the apiserver applies them, and label and field selectors as `kubectl -l` and `--field-selector` write them.
import type { Obj } from '../kubernetes/kinds';
import type { Json } from './collection';

/** RFC 6902, as the apiserver applies a JSON patch: any failed operation (a `test` included) fails the whole patch. */
export function applyJsonPatch(doc: Json, ops: Json[]): Json {
  const out = structuredClone(doc);
  const split = (path: string) =>
    path
      .split('/')
      .slice(1)
      .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));
  const parentOf = (path: string): { parent: Json; key: string } => {
    const segs = split(path);
    let cur: Json = out;
    for (const s of segs.slice(0, -1)) {
      if (cur === null || typeof cur !== 'object' || !(s in cur)) throw new Error(`doc is missing path: ${path}`);
      cur = cur[s];
    }
    return { parent: cur, key: segs[segs.length - 1] };
  };
  const get = (path: string): unknown => {
    const { parent, key } = parentOf(path);
    if (parent === null || typeof parent !== 'object' || !(key in parent)) throw new Error(`doc is missing path: ${path}`);
    return parent[key];
  };
  const add = (path: string, value: unknown) => {
    const { parent, key } = parentOf(path);
    if (Array.isArray(parent)) {
      const i = key === '-' ? parent.length : Number(key);
      if (!Number.isInteger(i) || i < 0 || i > parent.length) throw new Error(`add operation: index out of bounds: ${path}`);
      parent.splice(i, 0, value);
    } else if (parent !== null && typeof parent === 'object') parent[key] = value;
    else throw new Error(`doc is missing path: ${path}`);
  };
  const remove = (path: string) => {
    const { parent, key } = parentOf(path);
    if (parent === null || typeof parent !== 'object' || !(key in parent)) throw new Error(`remove operation does not apply: doc is missing path: ${path}`);
    if (Array.isArray(parent)) parent.splice(Number(key), 1);
    else delete parent[key];
  };
  for (const op of ops) {
    switch (op.op) {
      case 'test':
        if (JSON.stringify(get(op.path)) !== JSON.stringify(op.value)) throw new Error(`testing value ${op.path} failed: test failed`);
        break;
      case 'add':
        add(op.path, structuredClone(op.value));
        break;
      case 'replace':
        get(op.path);
        remove(op.path);
        add(op.path, structuredClone(op.value));
        break;
      case 'remove':
        remove(op.path);
        break;
      case 'copy':
        add(op.path, structuredClone(get(op.from)));
        break;
      case 'move': {
        const value = get(op.from);
        remove(op.from);
        add(op.path, value);
        break;
      }
      default:
        throw new Error(`unexpected kind of operation: ${op.op}`);
    }
  }
  return out;
}

/** RFC 7386 merge patch. */
export function mergePatch(doc: unknown, patch: unknown): unknown {
  if (patch === null || typeof patch !== 'object' || Array.isArray(patch)) return structuredClone(patch);
  const out: Json = doc !== null && typeof doc === 'object' && !Array.isArray(doc) ? structuredClone(doc as Json) : {};
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else out[k] = mergePatch(out[k], v);
  }
  return out;
}

/** `a=b,c!=d,e,!f`: what `kubectl -l` accepts but set-based forms. */
export function labelMatcher(selector: string | null): (labels: Record<string, string> | undefined) => boolean {
  if (!selector) return () => true;
  const terms = selector.split(',').map((t) => t.trim());
  return (labels = {}) =>
    terms.every((t) => {
      const ne = /^([^!=]+)!=(.*)$/.exec(t);
      if (ne) return labels[ne[1].trim()] !== ne[2].trim();
      const eq = /^([^!=]+)==?(.*)$/.exec(t);
      if (eq) return labels[eq[1].trim()] === eq[2].trim();
      if (t.startsWith('!')) return !(t.slice(1) in labels);
      return t in labels;
    });
}

export function fieldMatcher(selector: string | null): (obj: Obj) => boolean {
  if (!selector) return () => true;
  const terms = selector.split(',').map((t) => /^([^!=]+)(!=|==|=)(.*)$/.exec(t.trim()));
  return (obj) =>
    terms.every((m) => {
      if (!m) return false;
      const value = m[1] === 'metadata.name' ? obj.metadata?.name : m[1] === 'metadata.namespace' ? obj.metadata?.namespace : undefined;
      return m[2] === '!=' ? value !== m[3] : value === m[3];
    });
}
