// store external-secrets in Git mode: a version's ExternalSecret is a file rotor commits in the stage's
// path, beside the workloads the controller applies from there, and removes once nothing uses the
// version. Pure: files in, files out (repo.ts commits them), like manifests.ts.
//
// - The file is `<path>/<version>.external-secret.yaml`; a kustomization in `path` gets it added to its
//   `resources` by a splice of its text (the entry in the list's own style, every other byte kept).
//   One whose namePrefix or nameSuffix would rename the ExternalSecret is refused with its line: the
//   version's name is the ExternalSecret's and the Secret's, everywhere.
// - A version's file is known by what it holds, not by its name: an ExternalSecret of that name that
//   rotor made (`app.kubernetes.io/managed-by: rotor`, `rotor.dev/secret`). Removing it also takes its
//   entry out of every kustomization that lists it; it is never a holder of its own version in Git.
import { isScalar, isSeq, parseAllDocuments, parseDocument, type Node, type YAMLSeq } from 'yaml';
import { posix } from 'node:path';
import { isVersionDocument, kustomizationIn, KUSTOMIZATION, lineOf, YAML_FILE, type EditResult, type RepoFile } from './manifests';

/** Where a version's ExternalSecret is committed: the stage's path. */
export const versionFile = (root: string, version: string) => posix.join(posix.normalize(root), `${version}.external-secret.yaml`);

/** Whether a file holds only rotor's ExternalSecret of `version` (and comments). */
function isVersionFile(file: RepoFile, version: string, secret?: string): boolean {
  const docs = parseAllDocuments(file.text).filter((d) => d.contents !== null);
  return docs.length === 1 && !docs[0].errors.length && isVersionDocument(docs[0], version, secret);
}

/** `text` with `entry` appended to the kustomization's `resources`, in the list's own style. */
function withResource(text: string, entry: string): string {
  const doc = parseDocument(text);
  const node = doc.get('resources', true) as Node | undefined;
  if (isSeq(node) && node.items.some((i) => isScalar(i) && i.value === entry)) return text;
  if (isSeq(node) && node.range) {
    const seq = node as YAMLSeq;
    if (seq.flow) {
      const close = text.lastIndexOf(']', node.range[1]);
      return `${text.slice(0, close)}${seq.items.length ? ', ' : ''}${entry}${text.slice(close)}`;
    }
    const last = seq.items[seq.items.length - 1] as Node;
    const lineStart = text.lastIndexOf('\n', last.range![0]) + 1;
    const lead = text.slice(lineStart, last.range![0]);
    const prefix = /^\s*-\s*$/.test(lead) ? lead : `${' '.repeat(lead.indexOf('-'))}- `;
    const lineEnd = text.indexOf('\n', last.range![1]);
    const at = lineEnd === -1 ? text.length : lineEnd;
    return `${text.slice(0, at)}\n${prefix}${entry}${text.slice(at)}`;
  }
  if (node !== undefined && node !== null) return text; // not a list: left to kustomize to complain about
  return `${text}${text.endsWith('\n') || !text ? '' : '\n'}resources:\n  - ${entry}\n`;
}

/** `text` without the entry `entry` of its `resources` (the whole line of a block list's item). */
function withoutResource(text: string, entry: string): string {
  const node = parseDocument(text).get('resources', true) as Node | undefined;
  if (!isSeq(node)) return text;
  const seq = node as YAMLSeq;
  const i = seq.items.findIndex((it) => isScalar(it) && it.value === entry);
  if (i < 0) return text;
  const item = seq.items[i] as Node;
  const [start, end] = item.range!;
  if (seq.flow) {
    // The item and the comma after it (or before it, for the last).
    const after = text.slice(end).match(/^\s*,\s*/);
    if (after) return text.slice(0, start) + text.slice(end + after[0].length);
    const before = text.slice(0, start).match(/,\s*$/);
    return before ? text.slice(0, start - before[0].length) + text.slice(end) : text.slice(0, start) + text.slice(end);
  }
  const lineStart = text.lastIndexOf('\n', start) + 1;
  const lineEnd = text.indexOf('\n', end);
  return text.slice(0, lineStart) + (lineEnd === -1 ? '' : text.slice(lineEnd + 1));
}

/**
 * Adds the version's ExternalSecret (`manifest`, the whole file) in `root`, and to the kustomization
 * there, if any. A kustomization that would rename it is refused.
 */
export function addVersionFile(all: RepoFile[], root: string, version: string, manifest: string): EditResult {
  const files = new Map(all.map((f) => [f.path, f]));
  const path = versionFile(root, version);
  const dir = posix.normalize(root);
  const changed: RepoFile[] = [];
  const k = kustomizationIn(files, dir);
  if (k) {
    const doc = parseDocument(k.text);
    for (const key of ['namePrefix', 'nameSuffix']) {
      const node = doc.get(key, true) as Node | undefined;
      if (isScalar(node) && node.value)
        return {
          refusal: `${k.path}:${lineOf(k, node.range![0])}: its ${key} would rename the ExternalSecret of ${version}: set the stage's gitops.path to a directory whose kustomization renames nothing, and list that directory in this one's resources`,
        };
    }
    const text = withResource(k.text, posix.relative(dir, path));
    if (text !== k.text) changed.push({ path: k.path, text });
  }
  if (files.get(path)?.text !== manifest) changed.push({ path, text: manifest });
  return { changed, edits: [] };
}

/**
 * Removes every file holding only rotor's ExternalSecret of `version` of `secret`, and their entries in
 * the kustomizations that list them. Nothing to remove: no change.
 */
export function removeVersionFiles(all: RepoFile[], secret: string, version: string): EditResult {
  const gone = all.filter((f) => YAML_FILE.test(f.path) && f.text.includes(version) && isVersionFile(f, version, secret)).map((f) => f.path);
  const changed: RepoFile[] = [];
  for (const k of all.filter((f) => KUSTOMIZATION.includes(posix.basename(f.path)))) {
    let text = k.text;
    for (const path of gone) text = withoutResource(text, posix.relative(posix.dirname(k.path), path));
    if (text !== k.text) changed.push({ path: k.path, text });
  }
  return { changed, edits: [], removed: gone };
}
