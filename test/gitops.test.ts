// References that Git owns (issue 21): which workloads a GitOps controller applies (never switched
// live), and which switched references someone set back (drift). Pure rules, no cluster: the contract
// suite holds both adapters to them on a real apiserver.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { gitopsControllers, gitopsRefusal, ownsField, type ManagedMeta } from '../activities/kubernetes/gitops';
import { driftMessage, objectDrift, switchedObjects } from '../activities/kubernetes/drift';
import { ownershipKey } from '../activities/kubernetes/ownership';
import type { SwitchRecord } from '../contract/activities';
import { workerConfig, WorkerConfigError } from '../worker/config';

const ENV = 'containers[app].env[TOKEN].valueFrom.secretKeyRef.name';
const ENV_FROM = 'containers[app].envFrom[].secretRef.name';
const VOLUME = 'volumes[creds].secret.secretName';
const OLD = 'auth-api-secrets-20250101000000';
const NEW = 'auth-api-secrets-20261206120000';

/** What the apiserver records for a manager that created the template with all three references. */
const TEMPLATE_FIELDS = {
  'f:spec': {
    'f:replicas': {},
    'f:template': {
      'f:spec': {
        'f:containers': {
          'k:{"name":"app"}': {
            '.': {},
            // secretKeyRef is an atomic struct: the apiserver records it whole, as `{}`.
            'f:env': { 'k:{"name":"TOKEN"}': { '.': {}, 'f:name': {}, 'f:valueFrom': { '.': {}, 'f:secretKeyRef': {} } } },
            'f:envFrom': {},
            'f:image': {},
          },
        },
        'f:volumes': { 'k:{"name":"creds"}': { 'f:name': {}, 'f:secret': { 'f:secretName': {} } } },
      },
    },
  },
};

function meta(over: Partial<ManagedMeta> = {}): ManagedMeta {
  return { name: 'web', namespace: 'shop', ...over };
}

describe('GitOps detection: who applies a workload from Git', () => {
  const refused: [string, ManagedMeta, RegExp[]][] = [
    [
      'Argo CD instance label',
      meta({ labels: { 'argocd.argoproj.io/instance': 'shop-web' } }),
      [/Argo CD Application shop-web/, /argocd\.argoproj\.io\/instance=shop-web/],
    ],
    [
      'Argo CD instance label of an application in another namespace',
      meta({ labels: { 'argocd.argoproj.io/instance': 'team-a_shop-web' } }),
      [/Argo CD Application team-a\/shop-web/],
    ],
    [
      'Argo CD tracking annotation only',
      meta({ annotations: { 'argocd.argoproj.io/tracking-id': 'shop-web:apps/Deployment:shop/web' } }),
      [/Argo CD Application shop-web/, /annotation argocd\.argoproj\.io\/tracking-id/],
    ],
    [
      'Flux Kustomization labels',
      meta({ labels: { 'kustomize.toolkit.fluxcd.io/name': 'apps', 'kustomize.toolkit.fluxcd.io/namespace': 'flux-system' } }),
      [/Flux Kustomization flux-system\/apps/],
    ],
    [
      'Flux HelmRelease labels',
      meta({ labels: { 'helm.toolkit.fluxcd.io/name': 'web', 'helm.toolkit.fluxcd.io/namespace': 'shop' } }),
      [/Flux HelmRelease shop\/web/],
    ],
    [
      'a field manager only, owning the Secret references',
      meta({ managedFields: [{ manager: 'kustomize-controller', operation: 'Apply', fieldsV1: TEMPLATE_FIELDS }] }),
      [/Flux Kustomization \(field manager kustomize-controller owns its Secret references/, /env\[TOKEN\]/],
    ],
    [
      'an Argo CD field manager that owns none of the references',
      meta({ managedFields: [{ manager: 'argocd-controller', operation: 'Apply', fieldsV1: { 'f:metadata': { 'f:labels': {} } } }] }),
      [/Argo CD Application \(field manager argocd-controller manages fields of it\)/],
    ],
  ];
  for (const [name, m, patterns] of refused) {
    it(`refuses: ${name}, naming the workload, the controller and the fix`, () => {
      const message = gitopsRefusal('Deployment', m, [ENV, ENV_FROM, VOLUME]);
      assert.ok(message, 'refused');
      assert.match(message, /^Deployment\/web is managed by /);
      for (const p of patterns) assert.match(message, p);
      assert.match(
        message,
        /give the stage gitops settings \(the repository and path the controller applies\) so rotor changes the reference there by a commit \(docs\/gitops.md\)/,
      );
    });
  }

  const allowed: [string, ManagedMeta][] = [
    [
      "Helm's own instance label (not Argo CD's unless configured)",
      meta({ labels: { 'app.kubernetes.io/instance': 'shop-web', 'app.kubernetes.io/managed-by': 'Helm' } }),
    ],
    ['an empty Argo CD instance label', meta({ labels: { 'argocd.argoproj.io/instance': '' } })],
    [
      'an Argo CD annotation that is not tracking',
      meta({ annotations: { 'argocd.argoproj.io/sync-wave': '2', 'argocd.argoproj.io/sync-options': 'Prune=false' } }),
    ],
    ['a tracking id copied from another object', meta({ annotations: { 'argocd.argoproj.io/tracking-id': 'shop-web:apps/Deployment:shop/api' } })],
    ['a tracking id of another kind', meta({ annotations: { 'argocd.argoproj.io/tracking-id': 'shop-web:apps/StatefulSet:shop/web' } })],
    ['a tracking id that is not one', meta({ annotations: { 'argocd.argoproj.io/tracking-id': 'shop-web' } })],
    ['a label of another Flux-like key', meta({ labels: { 'toolkit.fluxcd.io/tenant': 'team-a', 'kustomize.toolkit.fluxcd.io/prune': 'disabled' } })],
    [
      'field managers of people and other controllers',
      meta({
        managedFields: [
          { manager: 'kubectl-client-side-apply', operation: 'Update', fieldsV1: TEMPLATE_FIELDS },
          { manager: 'kube-controller-manager', operation: 'Update', fieldsV1: { 'f:status': {} } },
          { manager: 'rotor', operation: 'Update', fieldsV1: TEMPLATE_FIELDS },
        ],
      }),
    ],
  ];
  for (const [name, m] of allowed) {
    it(`does not refuse a near miss: ${name}`, () => {
      assert.equal(gitopsRefusal('Deployment', m, [ENV, ENV_FROM, VOLUME]), null);
    });
  }

  it('takes the instance label Argo CD is configured with, beside the default', () => {
    const m = meta({ labels: { 'app.kubernetes.io/instance': 'shop-web' } });
    assert.equal(gitopsRefusal('Deployment', m), null);
    assert.match(gitopsRefusal('Deployment', m, [], { argoInstanceLabel: 'app.kubernetes.io/instance' }) ?? '', /Argo CD Application shop-web/);
    const both = meta({ labels: { 'argocd.argoproj.io/instance': 'shop-web' } });
    assert.ok(gitopsRefusal('Deployment', both, [], { argoInstanceLabel: 'app.kubernetes.io/instance' }));
  });

  it('names one controller once, with every piece of evidence for it', () => {
    const m = meta({
      labels: { 'argocd.argoproj.io/instance': 'shop-web' },
      annotations: { 'argocd.argoproj.io/tracking-id': 'shop-web:apps/Deployment:shop/web' },
      managedFields: [{ manager: 'argocd-controller', operation: 'Apply', fieldsV1: TEMPLATE_FIELDS }],
    });
    const found = gitopsControllers('Deployment', m, [ENV]);
    assert.equal(found.length, 1);
    assert.equal(found[0].name, 'shop-web');
    assert.equal(found[0].evidence.length, 3);
  });

  it('finds the references a manager owns by meaning, for a CronJob too', () => {
    assert.ok(ownsField(TEMPLATE_FIELDS, 'Deployment', ENV));
    assert.ok(ownsField(TEMPLATE_FIELDS, 'Deployment', ENV_FROM), 'envFrom is an atomic list: owned whole');
    assert.ok(ownsField(TEMPLATE_FIELDS, 'Deployment', VOLUME));
    assert.ok(!ownsField(TEMPLATE_FIELDS, 'Deployment', 'containers[app].env[OTHER].valueFrom.secretKeyRef.name'));
    assert.ok(!ownsField(TEMPLATE_FIELDS, 'Deployment', 'containers[sidecar].envFrom[].secretRef.name'));
    assert.ok(!ownsField(TEMPLATE_FIELDS, 'CronJob', ENV), 'a CronJob keeps its template under jobTemplate');
    const cron = { 'f:spec': { 'f:jobTemplate': { 'f:spec': TEMPLATE_FIELDS['f:spec'] } } };
    assert.ok(ownsField(cron, 'CronJob', ENV));
  });
});

describe('drift: a switched reference set back by someone else', () => {
  const target = { namespace: 'shop', kind: 'Deployment' as const, name: 'web' };
  const refs = (m: Record<string, string>) => (field: string) => (m[field] !== undefined ? [m[field]] : []);

  it('names the workload, the field and what it names now', () => {
    const drift = objectDrift(target, { fields: [ENV, VOLUME], from: OLD }, undefined, NEW, refs({ [ENV]: OLD, [VOLUME]: NEW }));
    assert.equal(drift.length, 1);
    assert.deepEqual(drift[0].now, [OLD]);
    assert.equal(drift[0].field, ENV);
    assert.equal(drift[0].message, `Deployment shop/web: ${ENV} names ${OLD} (the previous version) now, not ${NEW}`);
    assert.match(driftMessage(drift), /set back by someone else/);
  });

  it("reads the fields from rotor's ownership record on the object when the workflow has none", () => {
    const annotations = { [ownershipKey(NEW)]: JSON.stringify({ from: OLD, to: NEW, fields: [ENV_FROM] }) };
    const drift = objectDrift(target, { fields: [] }, annotations, NEW, refs({ [ENV_FROM]: 'hand-made' }));
    assert.deepEqual(
      drift.map((d) => [d.field, d.now]),
      [[ENV_FROM, ['hand-made']]],
    );
    assert.doesNotMatch(drift[0].message, /previous version/);
  });

  it('a field still on the new version, or removed altogether, is no drift', () => {
    assert.deepEqual(objectDrift(target, { fields: [ENV, VOLUME], from: OLD }, undefined, NEW, refs({ [ENV]: NEW })), []);
  });

  it('takes each switched object once, with the fields of all its records', () => {
    const record = (fields: string[]): SwitchRecord => ({ ...target, from: OLD, to: NEW, fields });
    const objects = switchedObjects([record([]), record([ENV]), { ...record([VOLUME]), name: 'api' }, record([ENV, VOLUME])]);
    assert.deepEqual(
      objects.map((o) => [o.name, [...o.fields].sort()]),
      [
        ['web', [ENV, VOLUME].sort()],
        ['api', [VOLUME]],
      ],
    );
  });
});

describe('worker setting ROTOR_ARGOCD_INSTANCE_LABEL', () => {
  it('takes a label key, and none by default', () => {
    assert.deepEqual(workerConfig({}).gitops, {});
    assert.deepEqual(workerConfig({ ROTOR_ARGOCD_INSTANCE_LABEL: 'app.kubernetes.io/instance' }).gitops, { argoInstanceLabel: 'app.kubernetes.io/instance' });
  });

  it('refuses what is not a label key, naming the variable and a valid value', () => {
    assert.throws(
      () => workerConfig({ ROTOR_ARGOCD_INSTANCE_LABEL: 'not a/label/key' }),
      (err: unknown) =>
        err instanceof WorkerConfigError &&
        err.problems.length === 1 &&
        /ROTOR_ARGOCD_INSTANCE_LABEL=not a\/label\/key is not a label key; .* e\.g\. app\.kubernetes\.io\/instance/.test(err.problems[0]),
    );
  });
});
