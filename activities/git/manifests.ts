// The manifests in a Git repository that define a workload, and the one edit rotor makes to them: the
// Secret name at each place the workload refers to the version being replaced. Pure: files in, files
// out (repo.ts reads and commits them).
//
// Which files: the stage's path in the repository. With a kustomization there (kustomization.yaml,
// .yml or Kustomization), what it builds from: resources, bases and components (files, or directories
// with their own kustomization), and its strategic-merge patches, followed recursively; its
// namePrefix/nameSuffix apply to the names it builds. Without one, every YAML file under the path.
//
// The edit is made with the yaml package's Document API: each document is parsed, the scalar found by
// its place in the tree (a Secret reference: envFrom[].secretRef.name, env[].valueFrom.secretKeyRef.name,
// volumes[].secret.secretName, projected sources, imagePullSecrets[].name, CSI nodePublishSecretRef),
// and only that scalar's characters are replaced in the file's text, in the quoting it had. Comments,
// key order, indentation and every other byte stay as they were.
//
// What rotor cannot edit safely is refused with the file and line: a name kustomize makes from a
// secretGenerator (hash-suffixed), Helm values (a chart may use the name anywhere), and a JSON6902 or
// inline patch that names the version.
import { isMap, isPair, isScalar, isSeq, LineCounter, parseAllDocuments, type Document, type Node, type Scalar } from 'yaml';
import { posix } from 'node:path';
import type { WorkloadKind } from '../../domain/plan';
import { LABEL_SECRET } from '../kubernetes/ownership';

/** A file of the repository: its path from the repository's root, and its text. */
export interface RepoFile {
  path: string;
  text: string;
}

/** A live workload whose manifest is sought. */
export interface WorkloadTarget {
  kind: WorkloadKind;
  namespace: string;
  name: string;
  /** The live object's references to the version (PLANNING): Git naming it at fewer places is a refusal. */
  fields?: string[];
}

/** One reference changed: where, and which field. */
interface ManifestEdit {
  file: string;
  line: number;
  field: string;
  from: string;
  to: string;
}

/** `removed`: files deleted (paths from the root). */
export type EditResult = { changed: RepoFile[]; edits: ManifestEdit[]; removed?: string[] } | { refusal: string };

/** The names kustomize reads a kustomization from, in its order. */
export const KUSTOMIZATION = ['kustomization.yaml', 'kustomization.yml', 'Kustomization'];
export const YAML_FILE = /\.ya?ml$/;

/** A kustomization's name transformers, outermost last. */
interface Naming {
  prefix: string;
  suffix: string;
  namespace?: string;
}

/** A document of a file, with the naming of the kustomizations that build it. */
interface Placed {
  file: RepoFile;
  doc: Document;
  naming: Naming;
  /** A strategic-merge patch (it names its target the same way) rather than a resource. */
  patch: boolean;
}

/** The line (from 1) of `offset` in a file's text. */
export const lineOf = (file: RepoFile, offset: number) => {
  const counter = new LineCounter();
  parseAllDocuments(file.text, { lineCounter: counter });
  return counter.linePos(offset).line;
};

/** The kustomization of directory `dir` (`.` or `''`: the root), if it has one. */
export function kustomizationIn(files: Map<string, RepoFile>, dir: string): RepoFile | undefined {
  for (const name of KUSTOMIZATION) {
    const f = files.get(dir === '.' || dir === '' ? name : posix.join(dir, name));
    if (f) return f;
  }
  return undefined;
}

const strings = (v: unknown): string[] => (Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : []);

/**
 * Every document the stage's path builds, with its naming, and what in the kustomizations on the
 * way rotor may not edit (a secretGenerator, JSON6902 or inline patches), for the refusals.
 */
function gather(
  files: Map<string, RepoFile>,
  root: string,
): { placed: Placed[]; generators: { file: RepoFile; line: number; name: string }[]; opaquePatches: RepoFile[]; inline: { file: RepoFile; text: string }[] } {
  const placed: Placed[] = [];
  const generators: { file: RepoFile; line: number; name: string }[] = [];
  const opaquePatches: RepoFile[] = [];
  const inline: { file: RepoFile; text: string }[] = [];
  const seen = new Set<string>();
  const addFile = (path: string, naming: Naming, patch: boolean) => {
    const file = files.get(path);
    if (!file || seen.has(`${path}:${patch}`)) return;
    seen.add(`${path}:${patch}`);
    for (const doc of parseAllDocuments(file.text)) if (!doc.errors.length && isMap(doc.contents)) placed.push({ file, doc, naming, patch });
  };
  const visit = (dir: string, outer: Naming) => {
    const k = kustomizationIn(files, dir);
    if (!k) {
      const under = dir === '.' || dir === '' ? '' : `${dir}/`;
      for (const path of [...files.keys()].filter((p) => p.startsWith(under) && YAML_FILE.test(p)).sort()) addFile(path, outer, false);
      return;
    }
    if (seen.has(`kustomization:${k.path}`)) return;
    seen.add(`kustomization:${k.path}`);
    const doc = parseAllDocuments(k.text)[0];
    const spec = (doc?.toJS() ?? {}) as Record<string, unknown>;
    const naming: Naming = {
      prefix: `${outer.prefix}${typeof spec.namePrefix === 'string' ? spec.namePrefix : ''}`,
      suffix: `${typeof spec.nameSuffix === 'string' ? spec.nameSuffix : ''}${outer.suffix}`,
      namespace: outer.namespace ?? (typeof spec.namespace === 'string' ? spec.namespace : undefined),
    };
    const at = (p: string) => posix.normalize(posix.join(dir, p));
    for (const entry of [...strings(spec.resources), ...strings(spec.bases), ...strings(spec.components)]) {
      const path = at(entry);
      if (files.has(path)) addFile(path, naming, false);
      else visit(path, naming);
    }
    for (const entry of strings(spec.patchesStrategicMerge)) addFile(at(entry), naming, true);
    for (const p of Array.isArray(spec.patches) ? (spec.patches as Record<string, unknown>[]) : []) {
      if (typeof p?.path === 'string') {
        const f = files.get(at(p.path));
        if (f && /^\s*(-|\[)/m.test(f.text.replace(/^#.*$/gm, '')) && !/^\s*(kind|apiVersion):/m.test(f.text)) opaquePatches.push(f);
        else addFile(at(p.path), naming, true);
      } else if (typeof p?.patch === 'string') inline.push({ file: k, text: p.patch });
    }
    for (const g of Array.isArray(spec.secretGenerator) ? (spec.secretGenerator as Record<string, unknown>[]) : [])
      if (typeof g?.name === 'string') generators.push({ file: k, line: lineOf(k, k.text.indexOf(g.name)), name: g.name });
  };
  visit(posix.normalize(root), { prefix: '', suffix: '' });
  return { placed, generators, opaquePatches, inline };
}

/** The field a reference scalar is in, as a path of keys and list indexes, or null when it is no Secret reference. */
function referenceField(path: (string | number)[]): string | null {
  const keys = path.filter((p): p is string => typeof p === 'string');
  const last = keys[keys.length - 1];
  const parent = keys[keys.length - 2];
  const secretRef =
    (last === 'name' && ['secretRef', 'secretKeyRef', 'nodePublishSecretRef'].includes(parent)) ||
    (last === 'secretName' && parent === 'secret') ||
    (last === 'name' && parent === 'secret' && keys.includes('sources')) ||
    (last === 'name' && parent === 'imagePullSecrets');
  return secretRef
    ? path
        .map((p) => (typeof p === 'number' ? `[${p}]` : `.${p}`))
        .join('')
        .slice(1)
    : null;
}

/** Each scalar of `node` equal to `value`, with its path from the document's root. */
function scalarsEqual(node: Node | null | undefined, value: string, path: (string | number)[] = []): { scalar: Scalar; path: (string | number)[] }[] {
  if (!node) return [];
  if (isScalar(node)) return node.value === value ? [{ scalar: node, path }] : [];
  if (isMap(node))
    return node.items.flatMap((pair) => (isPair(pair) && isScalar(pair.key) ? scalarsEqual(pair.value as Node, value, [...path, String(pair.key.value)]) : []));
  if (isSeq(node)) return node.items.flatMap((item, i) => scalarsEqual(item as Node, value, [...path, i]));
  return [];
}

/** The text a scalar's characters become: the new name in the quoting the old one had. */
function quoted(scalar: Scalar, to: string): string {
  if (scalar.type === 'QUOTE_DOUBLE') return JSON.stringify(to);
  if (scalar.type === 'QUOTE_SINGLE') return `'${to.replace(/'/g, "''")}'`;
  return to;
}

const describe = (t: WorkloadTarget) => `${t.kind} ${t.namespace}/${t.name}`;

/**
 * Changes `from` to `to` at each Secret reference of `targets` in the manifests `root` builds (see the
 * head of this file). A target whose manifest is not found, or names `from` only where rotor may not
 * edit, is a refusal naming the file and line and what to do.
 */
export function editReferences(all: RepoFile[], root: string, targets: WorkloadTarget[], from: string, to: string): EditResult {
  const files = new Map(all.map((f) => [f.path, f]));
  const { placed, generators, opaquePatches, inline } = gather(files, root);
  const splices = new Map<string, { start: number; end: number; text: string }[]>();
  const edits: ManifestEdit[] = [];
  for (const target of targets) {
    let defined = false;
    let found = 0;
    for (const p of placed) {
      const js = p.doc.toJS() as { kind?: string; metadata?: { name?: string; namespace?: string } };
      const name = `${p.naming.prefix}${js.metadata?.name ?? ''}${p.naming.suffix}`;
      const namespace = p.naming.namespace ?? js.metadata?.namespace;
      if (js.kind === 'HelmRelease' && scalarsEqual(p.doc.contents as Node, from).length) {
        const at = scalarsEqual(p.doc.contents as Node, from)[0].scalar.range![0];
        return {
          refusal: `${p.file.path}:${lineOf(p.file, at)} names ${from} in the values of HelmRelease ${js.metadata?.name}: rotor does not edit Helm values (a chart may use the name anywhere); change it there by hand, or reference the Secret from a plain manifest`,
        };
      }
      if (js.kind !== target.kind || name !== target.name || (namespace && namespace !== target.namespace)) continue;
      defined ||= !p.patch;
      for (const { scalar, path } of scalarsEqual(p.doc.contents as Node, from)) {
        const field = referenceField(path);
        if (!field || !scalar.range) continue;
        found++;
        const [start, end] = scalar.range;
        splices.set(p.file.path, [...(splices.get(p.file.path) ?? []), { start, end, text: quoted(scalar, to) }]);
        edits.push({ file: p.file.path, line: lineOf(p.file, start), field, from, to });
      }
    }
    if (found && target.fields && found < target.fields.length) {
      const mine = edits.slice(-found).map((e) => `${e.file}:${e.line}`);
      return {
        refusal: `${describe(target)} names ${from} at ${target.fields.length} live place(s) (${target.fields.join(', ')}) but at ${found} in the manifests under ${root} (${mine.join(', ')}): the live object differs from what Git applies, and a commit would leave the rest on ${from}; sync it from Git first, or name the Secret in Git where the live object does`,
      };
    }
    if (found) continue;
    const generated = generators.find((g) => from.startsWith(`${g.name}-`) || from === g.name);
    if (generated)
      return {
        refusal: `${generated.file.path}:${generated.line}: ${describe(target)} reads ${from}, which kustomize's secretGenerator ${generated.name} makes (with a hash suffix): rotor does not edit generated Secrets; have the manifest name the versioned Secret instead`,
      };
    const opaque = opaquePatches.find((f) => f.text.includes(from)) ?? inline.find((i) => i.text.includes(from))?.file;
    if (opaque)
      return {
        refusal: `${opaque.path}:${lineOf(opaque, opaque.text.indexOf(from))} names ${from} in a JSON6902 or inline patch: rotor edits only manifests and strategic-merge patches; move the reference into one`,
      };
    return {
      refusal: defined
        ? `the manifest of ${describe(target)} under ${root} does not name ${from} at a Secret reference: the live object differs from Git (sync it first), or the reference comes from somewhere rotor does not read`
        : `no manifest under ${root} defines ${describe(target)}: set the plan's gitops.path to the directory (or kustomization) the controller applies it from`,
    };
  }
  const changed: RepoFile[] = [];
  for (const [path, list] of splices) {
    let text = files.get(path)!.text;
    // From the end, so earlier offsets stay valid; one scalar may be found once per target: once each.
    const unique = [...new Map(list.map((s) => [s.start, s])).values()].sort((a, b) => b.start - a.start);
    for (const s of unique) text = text.slice(0, s.start) + s.text + text.slice(s.end);
    changed.push({ path, text });
  }
  const unique = [...new Map(edits.map((e) => [`${e.file}:${e.line}:${e.field}`, e])).values()];
  return { changed, edits: unique };
}

/**
 * Whether a document is the ExternalSecret rotor made for `version` (store external-secrets in Git
 * mode, activities/git/version-files.ts), of any secret or of `secret`: known by what it holds
 * (`app.kubernetes.io/managed-by: rotor`, `rotor.dev/secret`), not by its file's name.
 */
export function isVersionDocument(doc: Document, version: string, secret?: string): boolean {
  if (!isMap(doc.contents)) return false;
  const js = doc.toJS() as { kind?: string; metadata?: { name?: string; labels?: Record<string, string> } } | null;
  const labels = js?.metadata?.labels ?? {};
  return (
    js?.kind === 'ExternalSecret' &&
    js.metadata?.name === version &&
    labels['app.kubernetes.io/managed-by'] === 'rotor' &&
    typeof labels[LABEL_SECRET] === 'string' &&
    (secret === undefined || labels[LABEL_SECRET] === secret)
  );
}

/**
 * Where the repository still names `version` (any YAML file, anywhere in it): for cleanup, a version
 * Git still names is still in use, whatever the cluster shows now. rotor's own ExternalSecret of the
 * version (store external-secrets) holds nothing: it goes with the version.
 */
export function namesInRepository(all: RepoFile[], version: string): { file: string; line: number }[] {
  const found: { file: string; line: number }[] = [];
  for (const file of all.filter((f) => YAML_FILE.test(f.path) || KUSTOMIZATION.includes(posix.basename(f.path)))) {
    if (!file.text.includes(version)) continue;
    const counter = new LineCounter();
    for (const doc of parseAllDocuments(file.text, { lineCounter: counter }))
      if (!isVersionDocument(doc, version))
        for (const { scalar } of scalarsEqual(doc.contents as Node, version))
          if (scalar.range) found.push({ file: file.path, line: counter.linePos(scalar.range[0]).line });
  }
  return found;
}
