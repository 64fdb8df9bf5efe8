// store external-secrets in Git mode, the files (activities/git/version-files.ts): a version's
// ExternalSecret added in the stage's path and listed in the kustomization there in the list's own style
// with every other byte kept, refused where a kustomization would rename it; removed with its entries
// (and only rotor's file of that version of that secret); never a holder of its own version in Git.
// Seeded, randomized kustomizations: adding then removing gives the original text back, byte for byte.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { stringify } from 'yaml';
import { addVersionFile, removeVersionFiles, versionFile } from '../activities/git/version-files';
import { namesInRepository, type EditResult, type RepoFile } from '../activities/git/manifests';

const SECRET = 'billing-api-secrets';
const VERSION = `${SECRET}-20261207100000`;
const FILE = `${VERSION}.external-secret.yaml`;

const externalSecret = (name: string, secret = SECRET, managedBy = 'rotor') =>
  `# made by rotor\n${stringify({
    apiVersion: 'external-secrets.io/v1',
    kind: 'ExternalSecret',
    metadata: { name, namespace: 'production', labels: { 'rotor.dev/secret': secret, 'app.kubernetes.io/managed-by': managedBy } },
    spec: { target: { name }, dataFrom: [{ extract: { key: 'prod/billing', version: 'uuid/1' } }] },
  })}`;

const changed = (r: EditResult) => {
  assert.ok(!('refusal' in r), 'refusal' in r ? r.refusal : '');
  return r;
};
const apply = (files: RepoFile[], r: EditResult): RepoFile[] => {
  const { changed: c, removed = [] } = changed(r);
  const next = new Map(files.map((f) => [f.path, f.text]));
  for (const f of c) next.set(f.path, f.text);
  for (const p of removed) next.delete(p);
  return [...next].map(([path, text]) => ({ path, text }));
};
const textOf = (files: RepoFile[], path: string) => files.find((f) => f.path === path)?.text;

describe("a version's ExternalSecret file in Git", () => {
  it('is added beside the workloads and listed in a block list, comments and order kept', () => {
    const kustomization = '# production, applied by Flux\nresources:\n  - auth.yaml # the API\n  - worker.yaml\nlabels:\n  - pairs: { team: pay }\n';
    const files = [
      { path: 'apps/production/kustomization.yaml', text: kustomization },
      { path: 'apps/production/auth.yaml', text: 'kind: Deployment\n' },
    ];
    const after = apply(files, addVersionFile(files, 'apps/production', VERSION, externalSecret(VERSION)));
    assert.equal(
      textOf(after, 'apps/production/kustomization.yaml'),
      `# production, applied by Flux\nresources:\n  - auth.yaml # the API\n  - worker.yaml\n  - ${FILE}\nlabels:\n  - pairs: { team: pay }\n`,
    );
    assert.equal(textOf(after, versionFile('apps/production', VERSION)), externalSecret(VERSION));
    assert.deepEqual(changed(addVersionFile(after, 'apps/production', VERSION, externalSecret(VERSION))).changed, [], 'once');
  });

  it('is listed in a flow list, in a kustomization without resources, and simply added where no kustomization is', () => {
    const flow = apply(
      [{ path: 'prod/kustomization.yaml', text: 'resources: [auth.yaml]\n' }],
      addVersionFile([{ path: 'prod/kustomization.yaml', text: 'resources: [auth.yaml]\n' }], 'prod', VERSION, 'x: 1\n'),
    );
    assert.equal(textOf(flow, 'prod/kustomization.yaml'), `resources: [auth.yaml, ${FILE}]\n`);
    const none = apply(
      [{ path: 'prod/kustomization.yml', text: 'namespace: production' }],
      addVersionFile([{ path: 'prod/kustomization.yml', text: 'namespace: production' }], 'prod', VERSION, 'x: 1\n'),
    );
    assert.equal(textOf(none, 'prod/kustomization.yml'), `namespace: production\nresources:\n  - ${FILE}\n`);
    const plain = changed(addVersionFile([{ path: 'prod/auth.yaml', text: 'kind: Deployment\n' }], './prod/', VERSION, 'x: 1\n'));
    assert.deepEqual(plain.changed, [{ path: `prod/${FILE}`, text: 'x: 1\n' }]);
  });

  it('is refused where the kustomization would rename it, naming the file, the line and the fix', () => {
    const r = addVersionFile([{ path: 'prod/kustomization.yaml', text: 'resources: [auth.yaml]\nnameSuffix: -blue\n' }], 'prod', VERSION, 'x: 1\n');
    assert.ok('refusal' in r);
    assert.match(
      r.refusal,
      /^prod\/kustomization\.yaml:2: its nameSuffix would rename the ExternalSecret of billing-api-secrets-20261207100000: set the stage's gitops\.path/,
    );
  });

  it("is removed with its entries; another secret's, or one rotor did not make, stays", () => {
    const files = [
      { path: 'apps/production/kustomization.yaml', text: `resources:\n  - auth.yaml\n  - ${FILE}\n  - other.yaml\n` },
      { path: 'apps/staging/kustomization.yaml', text: `resources: [auth.yaml, ../production/${FILE}]\n` },
      { path: `apps/production/${FILE}`, text: externalSecret(VERSION) },
      { path: 'apps/production/other.yaml', text: externalSecret(VERSION, 'payments-api-secrets') },
      { path: 'apps/production/theirs.yaml', text: externalSecret(VERSION, SECRET, 'platform-team') },
    ];
    const r = changed(removeVersionFiles(files, SECRET, VERSION));
    assert.deepEqual(r.removed, [`apps/production/${FILE}`]);
    const after = apply(files, r);
    assert.equal(textOf(after, 'apps/production/kustomization.yaml'), 'resources:\n  - auth.yaml\n  - other.yaml\n');
    assert.equal(textOf(after, 'apps/staging/kustomization.yaml'), 'resources: [auth.yaml]\n');
    assert.deepEqual(changed(removeVersionFiles(after, SECRET, VERSION)), { changed: [], edits: [], removed: [] }, 'nothing left to remove');
  });

  it('is no holder of its own version in Git, while a workload naming the version is', () => {
    const files = [
      { path: `apps/production/${FILE}`, text: externalSecret(VERSION) },
      {
        path: 'apps/production/job.yaml',
        text: `kind: Job\nspec:\n  template:\n    spec:\n      volumes: [{ name: s, secret: { secretName: ${VERSION} } }]\n`,
      },
    ];
    assert.deepEqual(namesInRepository(files, VERSION), [{ file: 'apps/production/job.yaml', line: 5 }]);
    assert.deepEqual(namesInRepository([files[0]], VERSION), []);
    // Not rotor's: a holder like any other file.
    assert.equal(namesInRepository([{ path: 'a.yaml', text: externalSecret(VERSION, SECRET, 'platform-team') }], VERSION).length, 2);
  });

  it('gives back every randomized kustomization byte for byte after adding then removing (seeded)', () => {
    const entry = fc.stringMatching(/^[a-z][a-z0-9-]{0,8}\.yaml$/);
    const comment = fc.constantFrom('', ' # kept', '  # two spaces');
    const kustomization = fc.record({
      header: fc.constantFrom('', '# applied by Flux\n', 'apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\n'),
      entries: fc.uniqueArray(entry, { minLength: 0, maxLength: 4 }),
      flow: fc.boolean(),
      indent: fc.constantFrom('', '  ', '    '),
      comment,
      trailer: fc.constantFrom('', 'namespace: production\n', 'images:\n  - name: auth\n    newTag: "1.4"\n'),
    });
    fc.assert(
      fc.property(kustomization, (k) => {
        const list = k.flow
          ? `resources: [${k.entries.join(', ')}]${k.comment}\n`
          : k.entries.length
            ? `resources:\n${k.entries.map((e) => `${k.indent}- ${e}${k.comment}\n`).join('')}`
            : '';
        const text = `${k.header}${list}${k.trailer}`;
        const files = [{ path: 'apps/prod/kustomization.yaml', text }];
        const added = apply(files, addVersionFile(files, 'apps/prod', VERSION, externalSecret(VERSION)));
        const listed = textOf(added, 'apps/prod/kustomization.yaml')!;
        assert.ok(listed.includes(FILE), listed);
        const after = apply(added, removeVersionFiles(added, SECRET, VERSION));
        if (list) assert.equal(textOf(after, 'apps/prod/kustomization.yaml'), text);
        assert.equal(textOf(after, `apps/prod/${FILE}`), undefined);
      }),
      { seed: 20261207, numRuns: 200 },
    );
  });
});
