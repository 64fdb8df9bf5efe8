// The documentation's links: every relative link in README.md and docs/*.md leads to a file of the
// repository, every #anchor to a heading of its page (by GitHub's rules), every docs/ page the code
// or the chart names is there, and README links every page of docs/, so nothing points nowhere and no
// page is left where a newcomer cannot find it.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, posix } from 'node:path';
import { describe, it } from 'node:test';
import { repoRoot } from './helpers/tools';

/** What the checks need of the repository: a path's kind and a file's text, paths relative to its root. */
interface Tree {
  kind(path: string): 'file' | 'dir' | undefined;
  read(path: string): string;
}

const repository: Tree = {
  kind(path) {
    try {
      return statSync(join(repoRoot, path)).isDirectory() ? 'dir' : 'file';
    } catch {
      return undefined;
    }
  },
  read: (path) => readFileSync(join(repoRoot, path), 'utf8'),
};

/** The lines of a Markdown text outside fenced code blocks, where headings and links are. */
function proseLines(markdown: string): string[] {
  let fence: string | undefined;
  return markdown.split('\n').filter((line) => {
    const marker = /^\s*(`{3,}|~{3,})/.exec(line)?.[1];
    if (marker && (!fence || (marker[0] === fence[0] && marker.length >= fence.length))) {
      fence = fence ? undefined : marker;
      return false;
    }
    return !fence;
  });
}

/** GitHub's anchor of a heading: its text as rendered, lowercased, punctuation but '-' and '_' dropped, each space a '-'. */
export function slug(heading: string): string {
  const rendered = heading
    .replace(/!?\[([^\]]*)\]\([^)]*\)/g, '$1')
    .replace(/[`*]/g, '')
    .trim();
  return rendered
    .toLowerCase()
    .replace(/[^\p{L}\p{M}\p{N}\p{Pc}\- ]/gu, '')
    .replace(/ /g, '-');
}

/** The anchors of a page's headings; a repeated heading's gets -1, -2, ... as on GitHub. */
export function anchors(markdown: string): Set<string> {
  const seen = new Map<string, number>();
  const found = new Set<string>();
  for (const line of proseLines(markdown)) {
    const heading = /^ {0,3}#{1,6}[ \t]+(.*?)(?:[ \t]+#+)?[ \t]*$/.exec(line)?.[1];
    if (heading === undefined) continue;
    const base = slug(heading);
    const n = seen.get(base) ?? 0;
    seen.set(base, n + 1);
    found.add(n === 0 ? base : `${base}-${n}`);
  }
  return found;
}

/** Every link target of a page, inline (`[text](target "title")`, images too) or by reference (`[id]: target`); not in code. */
export function linkTargets(markdown: string): string[] {
  return proseLines(markdown).flatMap((line) => {
    const prose = line.replace(/(`+)[^`].*?\1/g, '');
    const inline = [...prose.matchAll(/\]\(\s*<?([^)\s>]*)>?(?:\s+["'(][^)]*)?\)/g)].map((m) => m[1]);
    const reference = /^ {0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s|$)/.exec(prose)?.[1];
    return reference === undefined ? inline : [...inline, reference];
  });
}

/** What is wrong with a page's links, one line each: a file that is not there, an anchor no heading has. */
export function brokenLinks(page: string, tree: Tree): string[] {
  const problems: string[] = [];
  for (const target of linkTargets(tree.read(page))) {
    if (/^[a-z][a-z0-9+.-]*:|^\/\//i.test(target)) continue; // another site, mail: only relative links are ours to check
    const [pathPart, anchor] = target.split('#', 2) as [string, string | undefined];
    const path = pathPart === '' ? page : posix.normalize(posix.join(posix.dirname(page), decodeURIComponent(pathPart)));
    const kind = path.startsWith('../') ? undefined : tree.kind(path);
    if (!kind) {
      problems.push(`${page}: ${target} -> no file ${path}`);
      continue;
    }
    if (anchor === undefined) continue;
    if (kind !== 'file' || !path.endsWith('.md')) problems.push(`${page}: ${target} -> an anchor into ${path}, which has no headings`);
    else if (!anchors(tree.read(path)).has(decodeURIComponent(anchor))) problems.push(`${page}: ${target} -> no heading of ${path} has the anchor #${anchor}`);
  }
  return problems;
}

/** The pages whose links are checked: README.md and every Markdown page of docs/. */
function docPages(): string[] {
  const docs = readdirSync(join(repoRoot, 'docs'))
    .filter((name) => name.endsWith('.md'))
    .sort()
    .map((name) => `docs/${name}`);
  return ['README.md', ...docs];
}

/** The folders and files whose text may name a page of docs/: the code, the chart, the scripts and the pages. */
const MENTIONING = [
  'activities',
  'bench',
  'bin',
  'client',
  'contract',
  'deploy',
  'docs',
  'domain',
  'examples',
  'sandbox',
  'scripts',
  'temporal',
  'test',
  'worker',
  'workflows',
];
const MENTIONING_FILES = ['README.md', 'Dockerfile', 'docker-compose.yml', 'eslint.config.mjs', 'package.json', 'plan.schema.json'];
const SELF = 'test/docs-links.test.ts'; // its samples name pages that are not there on purpose

/** Every `docs/<page>.md` or `docs/<page>.md#anchor` a text names, link or not. */
export function pageMentions(text: string): string[] {
  return [...text.matchAll(/\bdocs\/[\w.-]+\.md(?:#[\w-]+)?/g)].map((m) => m[0]);
}

/** What a mention of a page names that is not there: the page, or a heading with its anchor. */
export function brokenMention(mention: string, tree: Tree): string | undefined {
  const [page, anchor] = mention.split('#') as [string, string | undefined];
  if (tree.kind(page) !== 'file') return `no file ${page}`;
  if (anchor !== undefined && !anchors(tree.read(page)).has(anchor)) return `no heading of ${page} has the anchor #${anchor}`;
  return undefined;
}

function mentioningFiles(): string[] {
  const walk = (dir: string): string[] =>
    readdirSync(join(repoRoot, dir), { withFileTypes: true }).flatMap((e) => {
      const path = `${dir}/${e.name}`;
      if (e.isDirectory()) return ['history_files', 'fixtures', 'node_modules'].includes(e.name) ? [] : walk(path);
      return /\.(ts|mjs|js|json|ya?ml|txt|tpl|md)$/.test(e.name) ? [path] : [];
    });
  return [...MENTIONING_FILES, ...MENTIONING.flatMap(walk)].filter((file) => file !== SELF);
}

/** A tree of the given files, to show the checks catch what they are for. */
function treeOf(files: Record<string, string>): Tree {
  return {
    kind: (path) => (path in files ? 'file' : Object.keys(files).some((f) => f.startsWith(`${path}/`)) ? 'dir' : undefined),
    read: (path) => files[path],
  };
}

describe('documentation links', () => {
  it("anchors follow GitHub's rules", () => {
    assert.equal(slug("Error rates for real reasons: the sandbox's traffic model"), 'error-rates-for-real-reasons-the-sandboxs-traffic-model');
    assert.equal(slug('Bootstrap: what `npm test` installs'), 'bootstrap-what-npm-test-installs');
    assert.equal(slug('Without a cluster: the memory backend'), 'without-a-cluster-the-memory-backend');
    assert.equal(slug('stages[].analysis — and [the plan](plan.md)'), 'stagesanalysis--and-the-plan');
    assert.equal(slug('ROTOR_SEED and Ünïcode'), 'rotor_seed-and-ünïcode');
    assert.deepEqual([...anchors('# A\n## Usage\n```sh\n# not a heading\n```\n## Usage\n### Usage ##\n')], ['a', 'usage', 'usage-1', 'usage-2']);
  });

  it('finds links in prose, tables and references, not in code', () => {
    const page = [
      'See [the plan](plan.md) and ![a picture](img/a.png "title"), or <https://example.com>.',
      '| a | [cell](cli.md#commands) |',
      'Not `[code](nowhere.md)` here.',
      '```md',
      '[fenced](nowhere.md)',
      '```',
      '[ref]: kubernetes.md#claims',
    ].join('\n');
    assert.deepEqual(linkTargets(page), ['plan.md', 'img/a.png', 'cli.md#commands', 'kubernetes.md#claims']);
  });

  it('catches a missing file, a missing anchor, an anchor into what has no headings, and a path out of the repository', () => {
    const tree = treeOf({
      'README.md': '# rotor\n## The lifecycle\n[ok](docs/plan.md#fields) [ok](#the-lifecycle) [ok](deploy) [ok](https://temporal.io)\n',
      'docs/plan.md':
        '# The plan\n## Fields\n[gone](missing.md) [bad](../README.md#lifecycle) [ok](../README.md#the-lifecycle) [dir](../deploy#x) [out](../../x.md)\n',
      'deploy/rbac.yaml': 'kind: ClusterRole\n',
    });
    assert.deepEqual(brokenLinks('README.md', tree), []);
    assert.deepEqual(brokenLinks('docs/plan.md', tree), [
      'docs/plan.md: missing.md -> no file docs/missing.md',
      'docs/plan.md: ../README.md#lifecycle -> no heading of README.md has the anchor #lifecycle',
      'docs/plan.md: ../deploy#x -> an anchor into deploy, which has no headings',
      'docs/plan.md: ../../x.md -> no file ../x.md',
    ]);
  });

  it('every relative link of README.md and docs/*.md leads to a file, and every anchor to a heading', () => {
    const pages = docPages();
    assert.ok(pages.length > 1, 'docs/ has pages');
    assert.deepEqual(
      pages.flatMap((page) => brokenLinks(page, repository)),
      [],
    );
  });

  it('catches a mention of a page or an anchor that is not there', () => {
    const tree = treeOf({ 'docs/helm.md': '# Helm\n## Docker\n' });
    assert.deepEqual(pageMentions('see (docs/helm.md), docs/helm.md#docker, docs/helm.md#probes and docs/gone.md.'), [
      'docs/helm.md',
      'docs/helm.md#docker',
      'docs/helm.md#probes',
      'docs/gone.md',
    ]);
    assert.deepEqual(
      ['docs/helm.md', 'docs/helm.md#docker', 'docs/helm.md#probes', 'docs/gone.md'].map((m) => brokenMention(m, tree)),
      [undefined, undefined, 'no heading of docs/helm.md has the anchor #probes', 'no file docs/gone.md'],
    );
  });

  it('every page of docs/ that the code, the chart, the scripts or the pages name is there, with its anchor', () => {
    const files = mentioningFiles();
    assert.ok(files.includes('client/cli.ts') && files.includes('deploy/helm/rotor/values.yaml'), 'reads the code and the chart');
    const broken = files.flatMap((file) =>
      pageMentions(repository.read(file)).flatMap((mention) => {
        const why = brokenMention(mention, repository);
        return why ? [`${file}: ${mention} -> ${why}`] : [];
      }),
    );
    assert.deepEqual(broken, []);
  });

  it('README links every page of docs/', () => {
    const linked = new Set(
      linkTargets(repository.read('README.md'))
        .map((target) => target.split('#')[0])
        .filter((path) => path.startsWith('docs/')),
    );
    assert.deepEqual(
      docPages().filter((page) => page !== 'README.md' && !linked.has(page)),
      [],
      'add a line to README.md, Documentation: [Title](docs/page.md): what it holds',
    );
  });
});
