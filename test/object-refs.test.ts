// Where any object names a Secret, by shape (activities/kubernetes/object-refs.ts): the cases seen to
// end in an outage, the near-misses that must not count, namespaces, and the pod spec table of refs.ts.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { POD_SPEC_SECRET_FIELDS } from '../activities/kubernetes/refs';
import { mapBounded } from '../activities/kubernetes/cluster-scan';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MemoryCluster, loadMemoryWorld } from '../activities/memory';
import { versionsTable } from '../client/versions';
import {
  CLUSTER_SCOPED,
  ignored,
  resourceId,
  secretIn,
  secretRefsByShape,
  shapeHolder,
  unreadableHolder,
  type ScannedResource,
} from '../activities/kubernetes/object-refs';

const NAME = 'auth-api-secrets-20250101000000';

const fieldsNaming = (obj: unknown, name = NAME) =>
  secretRefsByShape(obj)
    .filter((r) => r.name === name)
    .map((r) => r.field)
    .sort();

const res = (kind: string, resource: string, group: string, namespaced = true): ScannedResource => ({ group, version: 'v1', resource, kind, namespaced });

/** A pod spec holding NAME at exactly the place a POD_SPEC_SECRET_FIELDS pattern says, and nowhere else. */
function specFor(pattern: string): Record<string, unknown> {
  const segments = pattern.split('.');
  const build = (i: number): unknown => {
    if (i === segments.length) return NAME;
    const [, key, list] = /^([^[]+)(\[\])?$/.exec(segments[i])!;
    const inner = build(i + 1);
    const value = list ? [typeof inner === 'object' ? { name: `entry-${i}`, ...(inner as object) } : inner] : inner;
    return { [key]: value };
  };
  const spec = build(0) as Record<string, unknown>;
  // imagePullSecrets[].name: the entry is the reference itself, so it carries no entry name of its own.
  if (pattern === 'imagePullSecrets[].name') return { imagePullSecrets: [{ name: NAME }] };
  return spec;
}

describe('secret references by shape', () => {
  it('finds every field of the pod spec table (refs.ts) in a pod spec, and nothing else', () => {
    for (const pattern of POD_SPEC_SECRET_FIELDS) {
      const refs = secretRefsByShape(specFor(pattern));
      assert.deepEqual(
        refs.map((r) => ({ name: r.name, field: r.field.replace(/\[\d+\]/g, '[]') })),
        [{ name: NAME, field: pattern }],
        pattern,
      );
    }
  });

  it('ServiceAccount: imagePullSecrets[].name and secrets[].name', () => {
    const sa = {
      apiVersion: 'v1',
      kind: 'ServiceAccount',
      metadata: { name: 'builder' },
      imagePullSecrets: [{ name: 'other' }, { name: NAME }],
      secrets: [{ name: NAME }],
    };
    assert.deepEqual(fieldsNaming(sa), ['imagePullSecrets[1].name', 'secrets[0].name']);
  });

  it('Ingress: spec.tls[].secretName', () => {
    const ingress = {
      spec: {
        tls: [
          { hosts: ['a.example.com'], secretName: 'other-tls' },
          { hosts: ['b.example.com'], secretName: NAME },
        ],
      },
    };
    assert.deepEqual(fieldsNaming(ingress), ['spec.tls[1].secretName']);
  });

  it("a KEDA-like TriggerAuthentication's spec.secretTargetRef[].name, and a workflow CR's pod template", () => {
    const auth = { spec: { secretTargetRef: [{ parameter: 'password', name: NAME, key: 'api_token' }] } };
    assert.deepEqual(fieldsNaming(auth), ['spec.secretTargetRef[0].name']);
    const workflow = {
      spec: {
        templates: [
          { name: 'main', container: { image: 'x', env: [{ name: 'TOKEN', valueFrom: { secretKeyRef: { name: NAME, key: 'api_token' } } }] } },
          { name: 'step', volumes: [{ name: 'creds', secret: { secretName: NAME } }] },
        ],
      },
    };
    assert.deepEqual(fieldsNaming(workflow), [
      'spec.templates[0].container.env[0].valueFrom.secretKeyRef.name',
      'spec.templates[1].volumes[0].secret.secretName',
    ]);
  });

  it('Gateway API certificateRefs: the kind defaults to Secret; another kind or group is something else; a namespace goes with the reference', () => {
    const gateway = {
      spec: {
        listeners: [
          { name: 'a', tls: { certificateRefs: [{ name: NAME }, { kind: 'Secret', group: '', name: NAME, namespace: 'staging' }] } },
          {
            name: 'b',
            tls: {
              certificateRefs: [
                { kind: 'ConfigMap', name: NAME },
                { kind: 'Secret', group: 'example.com', name: NAME },
              ],
            },
          },
        ],
      },
    };
    const refs = secretRefsByShape(gateway);
    assert.deepEqual(
      refs.map((r) => [r.field, r.namespace ?? null]),
      [
        ['spec.listeners[0].tls.certificateRefs[0].name', null],
        ['spec.listeners[0].tls.certificateRefs[1].name', 'staging'],
      ],
    );
  });

  it('any { kind: Secret, name } wherever it is, and key selectors { name, key } unless they say ConfigMap', () => {
    const obj = {
      spec: {
        target: { kind: 'Secret', apiVersion: 'v1', name: NAME },
        endpoints: [{ basicAuth: { username: { name: NAME, key: 'user' }, password: { name: NAME, key: 'pass', optional: false } } }],
        ca: { configMap: { name: NAME, key: 'ca.crt' } },
        env: [{ name: 'X', valueFrom: { configMapKeyRef: { name: NAME, key: 'k' } } }],
      },
    };
    assert.deepEqual(fieldsNaming(obj), ['spec.endpoints[0].basicAuth.password.name', 'spec.endpoints[0].basicAuth.username.name', 'spec.target.name']);
  });

  it('keys ending in secretName(s), dashed or not, with a sibling namespace: PersistentVolume and StorageClass parameters', () => {
    const pv = {
      spec: {
        azureFile: { secretName: NAME, secretNamespace: 'staging', shareName: 's' },
        csi: { driver: 'd', nodePublishSecretRef: { name: NAME, namespace: 'production' } },
      },
    };
    assert.deepEqual(
      secretRefsByShape(pv).map((r) => [r.field, r.namespace]),
      [
        ['spec.azureFile.secretName', 'staging'],
        ['spec.csi.nodePublishSecretRef.name', 'production'],
      ],
    );
    const storageClass = {
      parameters: { 'csi.storage.k8s.io/provisioner-secret-name': NAME, 'csi.storage.k8s.io/provisioner-secret-namespace': 'staging' },
      spec: { tlsSecretNames: ['x', NAME] },
    };
    assert.deepEqual(
      secretRefsByShape(storageClass).map((r) => [r.field, r.namespace ?? null]),
      [
        ['parameters["csi.storage.k8s.io/provisioner-secret-name"]', 'staging'],
        ['spec.tlsSecretNames[0]', null],
        ['spec.tlsSecretNames[1]', null],
      ],
    );
  });

  it('near-misses hold nothing: a longer name, a secretStoreRef, another kind, an annotation, names that are not references', () => {
    const obj = {
      metadata: { name: NAME, annotations: { 'example.com/secretName': NAME, 'rotor.dev/owned': JSON.stringify({ to: NAME }) }, labels: { secret: NAME } },
      spec: {
        tls: [{ secretName: `${NAME}-old` }, { secretName: NAME.slice(0, -1) }],
        secretStoreRef: { name: NAME, kind: 'ClusterSecretStore' },
        storeRef: { name: NAME },
        sourceRef: { secretStoreRef: { name: NAME } },
        secretRef: { kind: 'ConfigMap', name: NAME },
        authenticationRef: { name: NAME },
        containers: [{ name: NAME, env: [{ name: NAME, value: NAME }] }],
        description: `uses ${NAME}`,
        template: { metadata: { annotations: { secretName: NAME } } },
      },
    };
    assert.deepEqual(fieldsNaming(obj), []);
  });
});

describe('holders by shape', () => {
  const sa = (namespace: string) => ({ metadata: { name: 'builder', namespace }, imagePullSecrets: [{ name: NAME }] });

  it("counts a namespaced object's reference in its own namespace only", () => {
    const r = res('ServiceAccount', 'serviceaccounts', '');
    assert.deepEqual(shapeHolder(r, sa('staging'), secretIn(['staging'], NAME)), {
      kind: 'ServiceAccount',
      apiVersion: 'v1',
      namespace: 'staging',
      name: 'builder',
      fields: ['imagePullSecrets[0].name'],
      refusal: null,
    });
    assert.equal(shapeHolder(r, sa('production'), secretIn(['staging'], NAME)), null);
    assert.equal(shapeHolder(r, sa('staging'), secretIn(['staging'], `${NAME}-old`)), null);
  });

  it("counts a cross-namespace reference in the namespace it names, not the holder's", () => {
    const r = res('Gateway', 'gateways', 'gateway.networking.k8s.io');
    const gw = { metadata: { name: 'edge', namespace: 'infra' }, spec: { listeners: [{ tls: { certificateRefs: [{ name: NAME, namespace: 'staging' }] } }] } };
    assert.equal(shapeHolder(r, gw, secretIn(['staging'], NAME))?.namespace, 'infra');
    assert.equal(shapeHolder(r, gw, secretIn(['infra'], NAME)), null);
  });

  it('counts a cluster-scoped reference without a namespace in every namespace (it may mean any)', () => {
    const r = res('ClusterWidget', 'clusterwidgets', 'example.com', false);
    const obj = { metadata: { name: 'global' }, spec: { secretRef: { name: NAME } } };
    for (const ns of ['staging', 'production']) assert.equal(shapeHolder(r, obj, secretIn([ns], NAME))?.namespace, CLUSTER_SCOPED);
    const pinned = { metadata: { name: 'pinned' }, spec: { secretRef: { name: NAME, namespace: 'staging' } } };
    assert.equal(shapeHolder(r, pinned, secretIn(['production'], NAME)), null);
    assert.ok(shapeHolder(r, pinned, secretIn(['staging'], NAME)));
  });

  it('leaves the workload kinds to the workload scan, and Secrets, Events and owned revision history out', () => {
    const spec = { spec: { template: { spec: { volumes: [{ name: 'v', secret: { secretName: NAME } }] } } }, metadata: { namespace: 'staging', name: 'x' } };
    const wanted = secretIn(['staging'], NAME);
    for (const r of [res('Deployment', 'deployments', 'apps'), res('Pod', 'pods', ''), res('Secret', 'secrets', ''), res('Event', 'events', 'events.k8s.io')]) {
      assert.equal(shapeHolder(r, spec, wanted), null, resourceId(r));
    }
    const revision = { metadata: { name: 'ledger-1', namespace: 'staging', ownerReferences: [{ kind: 'StatefulSet' }] }, data: spec.spec };
    assert.equal(shapeHolder(res('ControllerRevision', 'controllerrevisions', 'apps'), revision, wanted), null);
    const template = { metadata: { name: 'tpl', namespace: 'staging' }, template: spec.spec.template };
    assert.equal(shapeHolder(res('PodTemplate', 'podtemplates', ''), template, wanted)?.kind, 'PodTemplate');
  });

  it('an unreadable resource holds every Secret, says why and the fix, unless the plan ignores it', () => {
    const h = unreadableHolder('widgets.example.com', 'HTTP 403 Forbidden');
    assert.equal(h.kind, 'widgets.example.com');
    assert.equal(h.name, '*');
    assert.match(h.unreadable!, /widgets\.example\.com could not be read.*HTTP 403 Forbidden.*scan\.ignore/);
    assert.equal(ignored('widgets.example.com', ['widgets.example.com']), true);
    assert.equal(ignored('widgets.example.com', ['gadgets.example.com']), false);
    assert.equal(ignored('widgets.example.com', undefined), false);
  });
});

describe("the scan's pool of resources listed at once", () => {
  it('runs at most the bound at a time, keeps the order, and reports the first failing item whatever finished first', async () => {
    let running = 0;
    let most = 0;
    const out = await mapBounded([5, 1, 4, 2, 3], 2, async (ms) => {
      most = Math.max(most, ++running);
      await new Promise((r) => setTimeout(r, ms));
      running--;
      return ms * 10;
    });
    assert.deepEqual(out, [50, 10, 40, 20, 30]);
    assert.equal(most, 2);
    const ran: number[] = [];
    await assert.rejects(
      mapBounded([30, 1, 2], 3, async (ms) => {
        await new Promise((r) => setTimeout(r, ms));
        ran.push(ms);
        if (ms !== 2) throw new Error(`item ${ms}`);
        return ms;
      }),
      /item 30/,
    );
    assert.deepEqual(
      ran.sort((a, b) => a - b),
      [1, 2, 30],
      'every item ran',
    );
  });
});

describe("the memory world's objects of any kind", () => {
  const file = (world: object) => {
    const path = join(mkdtempSync(join(tmpdir(), 'rotor-world-')), 'world.json');
    writeFileSync(path, JSON.stringify(world));
    return path;
  };

  it('are judged by the same rule: a ServiceAccount in a world file holds the version it names', async () => {
    const world = loadMemoryWorld(
      file({
        secrets: [],
        workloads: [],
        objects: [{ apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'builder', namespace: 'staging' }, imagePullSecrets: [{ name: NAME }] }],
      }),
    );
    const holders = await new MemoryCluster(world).findReferences(['staging'], NAME);
    assert.deepEqual(
      holders.map((h) => [h.kind, h.apiVersion, h.name, h.fields]),
      [['ServiceAccount', 'v1', 'builder', ['imagePullSecrets[0].name']]],
    );
  });

  it('must say what they are: an object without apiVersion, kind or metadata.name is refused by its index, with an example', () => {
    const bad = file({ secrets: [], workloads: [], objects: [{ apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'a' } }, { kind: 'Ingress' }] });
    assert.throws(() => loadMemoryWorld(bad), /objects\[1\] needs apiVersion, kind and metadata\.name, as Kubernetes writes them \(e\.g\./);
    assert.throws(() => loadMemoryWorld(file({ secrets: [], workloads: [], objects: {} })), /"objects" must be a list of Kubernetes objects/);
  });
});

describe('rotor versions with holders of any kind', () => {
  it('shows how each version is held; an unreadable resource with every version, never making one current, and why once', () => {
    const at = new Date('2026-01-10T00:00:00Z');
    const unreadable = unreadableHolder('widgets.example.com', 'HTTP 403 Forbidden');
    const versions = [
      { name: 'auth-api-secrets-20250201000000', createdAt: at, type: 'Opaque', store: null, usedBy: [unreadable] },
      {
        name: NAME,
        createdAt: at,
        type: 'Opaque',
        store: null,
        usedBy: [{ kind: 'ServiceAccount', apiVersion: 'v1', namespace: 'staging', name: 'builder', fields: ['imagePullSecrets[0].name'] }, unreadable],
      },
      { name: 'auth-api-secrets-20241201000000', createdAt: at, type: 'Opaque', store: null, usedBy: [] },
    ];
    const lines = versionsTable(versions, new Map(), [], at).split('\n');
    assert.match(lines[1], /20250201000000 +0s +unknown +widgets\.example\.com \(could not be read\)$/);
    assert.match(lines[2], /20250101000000 +0s +current +ServiceAccount\/builder, widgets\.example\.com \(could not be read\)$/);
    assert.match(lines[3], /20241201000000 +0s +- +\(none\)$/);
    assert.equal(lines.filter((l) => /could not be read, so it may refer/.test(l)).length, 1);
  });
});
