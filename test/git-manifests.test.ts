// The manifests that define a workload in a GitOps repository, and rotor's one edit to them: the Secret
// name at each reference of the workload, every other byte kept (comments, quoting, order, other
// workloads naming the same version). Kustomize bases, overlays with a prefix and a namespace, and
// strategic-merge patches are followed; a secretGenerator, Helm values and JSON6902 patches are
// refused with the file and line. Randomized: any formatting of a manifest, the edit changes exactly
// the referenced scalars.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { parse, parseAllDocuments } from 'yaml';
import { editReferences, namesInRepository, type RepoFile } from '../activities/git/manifests';

const OLD = 'auth-api-secrets-20250101000000';
const NEW = 'auth-api-secrets-20261207100000';

const DEPLOYMENT = `# The auth API, as the platform team keeps it.
apiVersion: apps/v1
kind: Deployment
metadata:
  name: auth-api # owned by team auth
  namespace: production
spec:
  replicas: 3
  template:
    spec:
      containers:
        - name: app
          image: registry.example/auth:1.4
          envFrom:
            - secretRef: { name: ${OLD} }   # the token
          env:
            - name: TOKEN
              valueFrom:
                secretKeyRef:
                  name: "${OLD}"
                  key: api_token
      volumes:
        - name: creds
          secret:
            secretName: '${OLD}'
---
# Another workload on the same version: not rotor's to change in this stage.
apiVersion: apps/v1
kind: Deployment
metadata: { name: billing, namespace: production }
spec:
  template:
    spec:
      containers: [{ name: app, image: x, envFrom: [{ secretRef: { name: ${OLD} } }] }]
`;

const target = { kind: 'Deployment' as const, namespace: 'production', name: 'auth-api' };

function edited(result: ReturnType<typeof editReferences>): { changed: RepoFile[]; edits: { file: string; line: number; field: string }[] } {
  assert.ok(!('refusal' in result), 'refusal' in result ? result.refusal : '');
  return result;
}

describe('editing a workload reference in Git', () => {
  it("changes only the workload's Secret references, in their quoting, and keeps every other byte", () => {
    const files = [{ path: 'apps/production/auth.yaml', text: DEPLOYMENT }];
    const { changed, edits } = edited(editReferences(files, 'apps/production', [target], OLD, NEW));
    assert.equal(changed.length, 1);
    const text = changed[0].text;
    assert.equal(
      text,
      DEPLOYMENT.replace(`{ name: ${OLD} }   # the token`, `{ name: ${NEW} }   # the token`).replace(`"${OLD}"`, `"${NEW}"`).replace(`'${OLD}'`, `'${NEW}'`),
    );
    assert.ok(text.includes(`envFrom: [{ secretRef: { name: ${OLD} } }]`), "billing's reference stays");
    assert.deepEqual(
      edits.map((e) => [e.line, e.field]),
      [
        [15, 'spec.template.spec.containers[0].envFrom[0].secretRef.name'],
        [20, 'spec.template.spec.containers[0].env[0].valueFrom.secretKeyRef.name'],
        [25, 'spec.template.spec.volumes[0].secret.secretName'],
      ],
    );
  });

  it('follows a kustomize overlay to its base and its strategic-merge patch, with namePrefix and namespace', () => {
    const files: RepoFile[] = [
      { path: 'base/kustomization.yaml', text: 'resources:\n  - deployment.yaml\n' },
      {
        path: 'base/deployment.yaml',
        text: `apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: api\nspec:\n  template:\n    spec:\n      containers:\n        - name: app\n          image: x\n`,
      },
      {
        path: 'overlays/production/kustomization.yaml',
        text: '# production\nnamespace: production\nnamePrefix: auth-\nresources:\n  - ../../base\npatchesStrategicMerge:\n  - secret.yaml\n',
      },
      {
        path: 'overlays/production/secret.yaml',
        text: `kind: Deployment\nmetadata:\n  name: api\nspec:\n  template:\n    spec:\n      containers:\n        - name: app\n          envFrom:\n            - secretRef:\n                name: ${OLD} # rotated by rotor\n`,
      },
      {
        path: 'overlays/staging/secret.yaml',
        text: `kind: Deployment\nmetadata: { name: api }\nspec: { template: { spec: { containers: [{ name: app, envFrom: [{ secretRef: { name: ${OLD} } }] }] } } }\n`,
      },
    ];
    const { changed, edits } = edited(editReferences(files, 'overlays/production', [target], OLD, NEW));
    assert.deepEqual(
      changed.map((f) => f.path),
      ['overlays/production/secret.yaml'],
      "only production's patch: staging's is another stage's",
    );
    assert.match(changed[0].text, new RegExp(`name: ${NEW} # rotated by rotor\\n$`));
    assert.deepEqual(edits, [
      { file: 'overlays/production/secret.yaml', line: 11, field: 'spec.template.spec.containers[0].envFrom[0].secretRef.name', from: OLD, to: NEW },
    ]);
  });

  it('refuses with the file and line what it cannot edit safely: a secretGenerator, Helm values, a JSON6902 patch', () => {
    const generator = editReferences(
      [
        { path: 'app/kustomization.yaml', text: 'resources: [deploy.yaml]\nsecretGenerator:\n  - name: auth-api-secrets\n    envs: [token.env]\n' },
        {
          path: 'app/deploy.yaml',
          text: 'kind: Deployment\nmetadata: { name: auth-api }\nspec: { template: { spec: { containers: [{ name: app, envFrom: [{ secretRef: { name: auth-api-secrets } }] }] } } }\n',
        },
      ],
      'app',
      [target],
      OLD,
      NEW,
    );
    assert.ok('refusal' in generator);
    assert.match(generator.refusal, /^app\/kustomization\.yaml:3: Deployment production\/auth-api reads .*secretGenerator auth-api-secrets/);

    const helm = editReferences(
      [{ path: 'releases/auth.yaml', text: `kind: HelmRelease\nmetadata: { name: auth }\nspec:\n  values:\n    tokenSecret: ${OLD}\n` }],
      'releases',
      [target],
      OLD,
      NEW,
    );
    assert.ok('refusal' in helm);
    assert.match(helm.refusal, /^releases\/auth\.yaml:5 names .* in the values of HelmRelease auth: rotor does not edit Helm values/);

    const json6902 = editReferences(
      [
        { path: 'o/kustomization.yaml', text: 'resources: [d.yaml]\npatches:\n  - path: p.yaml\n    target: { kind: Deployment, name: auth-api }\n' },
        { path: 'o/d.yaml', text: 'kind: Deployment\nmetadata: { name: auth-api }\nspec: {}\n' },
        { path: 'o/p.yaml', text: `- op: replace\n  path: /spec/template/spec/volumes/0/secret/secretName\n  value: ${OLD}\n` },
      ],
      'o',
      [target],
      OLD,
      NEW,
    );
    assert.ok('refusal' in json6902);
    assert.match(json6902.refusal, /^o\/p\.yaml:3 names .* in a JSON6902 or inline patch/);
  });

  it('says when no manifest defines the workload, or the manifest does not name the version', () => {
    const none = editReferences([{ path: 'x/a.yaml', text: 'kind: ConfigMap\nmetadata: { name: a }\n' }], 'x', [target], OLD, NEW);
    assert.ok('refusal' in none);
    assert.match(none.refusal, /^no manifest under x defines Deployment production\/auth-api: set the plan's gitops\.path/);
    const drift = editReferences([{ path: 'x/a.yaml', text: DEPLOYMENT.replaceAll(OLD, 'other-secret') }], 'x', [target], OLD, NEW);
    assert.ok('refusal' in drift);
    assert.match(drift.refusal, /does not name .* at a Secret reference: the live object differs from Git/);
  });

  it('refuses when Git names the version at fewer places than the live object does (PLANNING passes the live references)', () => {
    const files = [{ path: 'x/a.yaml', text: DEPLOYMENT }];
    const live = ['containers[app].envFrom[].secretRef.name', 'containers[app].env[TOKEN].valueFrom.secretKeyRef.name', 'volumes[creds].secret.secretName'];
    edited(editReferences(files, 'x', [{ ...target, fields: live }], OLD, OLD));
    // Someone added a sidecar reading the version by hand: Git would switch three places of four.
    const more = editReferences(files, 'x', [{ ...target, fields: [...live, 'containers[sidecar].envFrom[].secretRef.name'] }], OLD, OLD);
    assert.ok('refusal' in more);
    assert.equal(
      more.refusal,
      `Deployment production/auth-api names ${OLD} at 4 live place(s) (${[...live, 'containers[sidecar].envFrom[].secretRef.name'].join(', ')}) but at 3 in the manifests under x (x/a.yaml:15, x/a.yaml:20, x/a.yaml:25): the live object differs from what Git applies, and a commit would leave the rest on ${OLD}; sync it from Git first, or name the Secret in Git where the live object does`,
    );
  });

  it('finds every place the repository still names a version, for cleanup', () => {
    const files = [
      { path: 'apps/production/auth.yaml', text: DEPLOYMENT },
      { path: 'README.md', text: OLD },
      { path: 'apps/staging/auth.yaml', text: 'kind: Deployment\nmetadata: { name: a }\n' },
    ];
    assert.deepEqual(
      namesInRepository(files, OLD).map((f) => `${f.file}:${f.line}`),
      ['apps/production/auth.yaml:15', 'apps/production/auth.yaml:20', 'apps/production/auth.yaml:25', 'apps/production/auth.yaml:34'],
    );
    assert.deepEqual(namesInRepository(files, NEW), []);
  });

  it('randomized: whatever the formatting, exactly the referenced scalars change, and the rest parses the same', () => {
    const quoting = fc.constantFrom(
      (s: string) => s,
      (s: string) => `"${s}"`,
      (s: string) => `'${s}'`,
    );
    const comment = fc.constantFrom('', ' # note', '   # the token: keep it');
    const indent = fc.constantFrom(2, 4);
    const flow = fc.boolean();
    fc.assert(
      fc.property(quoting, quoting, comment, indent, flow, fc.boolean(), (q1, q2, c, n, useFlow, otherFirst) => {
        const i = (k: number) => ' '.repeat(n * k);
        const envFrom = useFlow
          ? `${i(3)}  envFrom: [{ secretRef: { name: ${q1(OLD)} } }]${c}\n`
          : `${i(3)}  envFrom:\n${i(3)}  - secretRef:\n${i(3)}      name: ${q1(OLD)}${c}\n`;
        const mine =
          `kind: Deployment\nmetadata:\n${i(1)}name: auth-api\nspec:\n${i(1)}replicas: 2 # ${OLD} in a comment stays\n${i(1)}template:\n${i(2)}spec:\n` +
          `${i(3)}containers:\n${i(3)}- name: app\n${envFrom}${i(3)}volumes:\n${i(3)}- name: v\n${i(3)}  secret: { secretName: ${q2(OLD)} }${c}\n`;
        const other = `kind: Deployment\nmetadata: { name: other }\nspec: { template: { spec: { volumes: [{ name: v, secret: { secretName: ${OLD} } }] } } }\n`;
        const text = otherFirst ? `${other}---\n${mine}` : `${mine}---\n${other}`;
        const result = editReferences([{ path: 'p/a.yaml', text }], 'p', [target], OLD, NEW);
        const { changed, edits } = edited(result);
        assert.equal(edits.length, 2);
        const after = changed[0].text;
        // Only the two scalars differ: the texts are equal once the new name is put back.
        assert.equal(after.split(NEW).join(OLD), text);
        assert.equal(after.split(NEW).length - 1, 2);
        const before = parseAllDocuments(text).map((d) => d.toJS());
        const now = parseAllDocuments(after).map((d) => d.toJS());
        const mineAt = otherFirst ? 1 : 0;
        assert.deepEqual(now[1 - mineAt], before[1 - mineAt], 'the other workload is untouched');
        assert.equal(JSON.stringify(now[mineAt]), JSON.stringify(before[mineAt]).replaceAll(OLD, NEW));
        assert.ok(after.includes(`# ${OLD} in a comment stays`));
        assert.equal(parse(after.split('---\n')[mineAt]).spec.replicas, 2);
      }),
      { seed: 20261207, numRuns: 200 },
    );
  });
});
