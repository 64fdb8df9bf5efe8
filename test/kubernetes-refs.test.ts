// Where workloads name Secrets: every reference location, exact names, located by meaning.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import * as k8s from '@kubernetes/client-node';
import { kindMethods } from '../activities/kubernetes/kinds';
import { refsTo, resolveField, valueAt, workloadSecretRefs } from '../activities/kubernetes/refs';
import { WORKLOAD_KINDS } from '../domain/plan';
import { missingSecretReason } from '../activities/memory/kubelet';
import { compareVersions, newestVersion } from '../domain/naming';

const NAME = 'auth-api-secrets-20250101000000';

const pod = {
  spec: {
    imagePullSecrets: [{ name: NAME }, { name: 'registry' }],
    volumes: [
      { name: 'a', secret: { secretName: NAME } },
      { name: 'b', projected: { sources: [{ configMap: { name: 'cm' } }, { secret: { name: NAME } }] } },
      { name: 'c', secret: { secretName: `${NAME}-old` } },
    ],
    initContainers: [{ name: 'i', envFrom: [{ configMapRef: { name: 'cm' } }, { secretRef: { name: NAME } }] }],
    containers: [
      {
        name: 'c',
        env: [
          { name: 'X', value: 'y' },
          { name: 'T', valueFrom: { secretKeyRef: { name: NAME, key: 'api_token' } } },
        ],
      },
    ],
    ephemeralContainers: [{ name: 'debug', envFrom: [{ secretRef: { name: NAME } }] }],
  },
};

describe('secret references in workloads', () => {
  const fieldsNaming = (kind: Parameters<typeof refsTo>[0], obj: object, name: string) =>
    refsTo(kind, obj, name)
      .map((r) => r.field)
      .sort();

  it('finds every location in a bare Pod, by exact name only, located by meaning', () => {
    assert.deepEqual(fieldsNaming('Pod', pod, NAME), [
      'containers[c].env[T].valueFrom.secretKeyRef.name',
      'ephemeralContainers[debug].envFrom[].secretRef.name',
      'imagePullSecrets[].name',
      'initContainers[i].envFrom[].secretRef.name',
      'volumes[a].secret.secretName',
      'volumes[b].projected.sources[].secret.name',
    ]);
    assert.deepEqual(fieldsNaming('Pod', pod, `${NAME}-old`), ['volumes[c].secret.secretName']);
    assert.deepEqual(fieldsNaming('Pod', pod, 'auth-api-secrets'), []);
  });

  it('reads the volume types that carry a Secret reference besides secret and projected', () => {
    const spec = {
      volumes: [
        { name: 'az', azureFile: { secretName: NAME, shareName: 's' } },
        { name: 'ceph', cephfs: { monitors: ['m'], secretRef: { name: NAME } } },
        { name: 'cinder', cinder: { volumeID: 'v', secretRef: { name: NAME } } },
        { name: 'flex', flexVolume: { driver: 'd', secretRef: { name: NAME } } },
        { name: 'iscsi', iscsi: { targetPortal: 't', iqn: 'i', lun: 0, secretRef: { name: NAME } } },
        { name: 'rbd', rbd: { monitors: ['m'], image: 'i', secretRef: { name: NAME } } },
        { name: 'scaleio', scaleIO: { gateway: 'g', system: 's', secretRef: { name: NAME } } },
        { name: 'storageos', storageos: { secretRef: { name: NAME } } },
        { name: 'csi', csi: { driver: 'd', nodePublishSecretRef: { name: NAME } } },
      ],
      containers: [{ name: 'c' }],
    };
    assert.equal(refsTo('Pod', { spec }, NAME).length, 9);
  });

  it('resolves a located field wherever it moved, and only while it holds the name', () => {
    const obj = structuredClone({ spec: { template: pod } });
    const field = 'containers[c].env[T].valueFrom.secretKeyRef.name';
    assert.deepEqual(resolveField('Deployment', obj, field, NAME), ['/spec/template/spec/containers/0/env/1/valueFrom/secretKeyRef/name']);
    // Someone inserts an env var above it and a container before it: the locator still finds it.
    const c = obj.spec.template.spec.containers[0] as any;
    c.env.unshift({ name: 'NEW_ONE', value: 'x' });
    obj.spec.template.spec.containers.unshift({ name: 'sidecar', env: [{ name: 'T', valueFrom: { secretKeyRef: { name: NAME, key: 'k' } } }] } as any);
    assert.deepEqual(resolveField('Deployment', obj, field, NAME), ['/spec/template/spec/containers/1/env/2/valueFrom/secretKeyRef/name']);
    assert.deepEqual(resolveField('Deployment', obj, field, 'another'), [], "a field that no longer holds the name is not rotor's to change");
    // A JSON pointer recorded by an older release still resolves, by value.
    assert.deepEqual(resolveField('Deployment', obj, '/spec/template/spec/volumes/0/secret/secretName', NAME), [
      '/spec/template/spec/volumes/0/secret/secretName',
    ]);
    assert.deepEqual(resolveField('Deployment', obj, '/spec/template/spec/volumes/2/secret/secretName', NAME), []);
  });

  it('keeps env var names with brackets and dots intact in a locator', () => {
    const obj = { spec: { containers: [{ name: 'c', env: [{ name: 'a.b[0]', valueFrom: { secretKeyRef: { name: NAME, key: 'k' } } }] }] } };
    const [ref] = refsTo('Pod', obj, NAME);
    assert.equal(ref.field, 'containers[c].env[a.b%5B0%5D].valueFrom.secretKeyRef.name');
    assert.deepEqual(resolveField('Pod', obj, ref.field, NAME), ['/spec/containers/0/env/0/valueFrom/secretKeyRef/name']);
  });

  it("uses each kind's pod template path, and the paths point at the names", () => {
    const cron = { spec: { jobTemplate: { spec: { template: pod } } } };
    const refs = refsTo('CronJob', cron, NAME);
    assert.equal(refs.length, 6);
    for (const r of refs) {
      assert.ok(r.path.startsWith('/spec/jobTemplate/spec/template/spec/'));
      assert.equal(valueAt(cron, r.path), NAME);
    }
    const deployment = { spec: { template: pod } };
    assert.ok(refsTo('Deployment', deployment, NAME).every((r) => r.path.startsWith('/spec/template/spec/')));
    assert.deepEqual(workloadSecretRefs('Deployment', { spec: {} }), []);
  });

  it('the simulator refuses to start a pod as kubelet would: missing Secret, missing key, optional ones allowed', () => {
    const secrets = new Map([[`ns/${NAME}`, { api_token: 'x' }]]);
    const p = (spec: object) => ({ metadata: { namespace: 'ns' }, spec }) as any;
    assert.equal(missingSecretReason(p({ containers: [{ name: 'c', envFrom: [{ secretRef: { name: NAME } }] }] }), secrets), null);
    assert.equal(missingSecretReason(p({ containers: [{ name: 'c', envFrom: [{ secretRef: { name: 'gone' } }] }] }), secrets), 'secret "gone" not found');
    assert.equal(missingSecretReason(p({ containers: [{ name: 'c', envFrom: [{ secretRef: { name: 'gone', optional: true } }] }] }), secrets), null);
    assert.equal(
      missingSecretReason(p({ containers: [{ name: 'c', env: [{ name: 'T', valueFrom: { secretKeyRef: { name: NAME, key: 'other' } } }] }] }), secrets),
      `couldn't find key other in Secret ns/${NAME}`,
    );
    assert.equal(
      missingSecretReason(p({ containers: [{ name: 'c' }], volumes: [{ name: 'v', secret: { secretName: 'gone' } }] }), secrets),
      'secret "gone" not found',
    );
  });
});

describe('newest version in use', () => {
  it('orders the base name before every version and versions by timestamp', () => {
    assert.equal(
      newestVersion(['auth-api-secrets', 'auth-api-secrets-20250101000000', 'auth-api-secrets-20241231235959'], 'auth-api-secrets'),
      'auth-api-secrets-20250101000000',
    );
    assert.equal(newestVersion(['auth-api-secrets'], 'auth-api-secrets'), 'auth-api-secrets');
    assert.equal(newestVersion([], 'auth-api-secrets'), null);
    assert.ok(compareVersions('auth-api-secrets', 'auth-api-secrets-20000101000000', 'auth-api-secrets') < 0);
  });
});

describe('the per-kind API calls', () => {
  it('name a method of the right group client for every kind rotor reads, patches or lists', () => {
    const kc = new k8s.KubeConfig();
    kc.loadFromOptions({
      clusters: [{ name: 'c', server: 'https://127.0.0.1:1' }],
      users: [{ name: 'u' }],
      contexts: [{ name: 'x', cluster: 'c', user: 'u' }],
      currentContext: 'x',
    });
    const clients = { apps: kc.makeApiClient(k8s.AppsV1Api), batch: kc.makeApiClient(k8s.BatchV1Api), core: kc.makeApiClient(k8s.CoreV1Api) };
    for (const kind of WORKLOAD_KINDS) {
      const m = kindMethods(kind);
      for (const method of [m.read, m.patch, m.list, m.listAll]) {
        assert.equal(typeof (clients[m.group] as unknown as Record<string, unknown>)[method], 'function', `${kind}: ${m.group}.${method}`);
      }
    }
  });
});
