// Where workloads name Secrets: every reference location, exact names, JSON-pointer paths.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { pathsReferring, valueAt, workloadSecretRefs } from '../activities/k8s-refs';
import { missingSecretReason } from '../sandbox/pod-simulator';
import { compareVersions, newestVersion } from '../workflows/naming';

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
    containers: [{ name: 'c', env: [{ name: 'X', value: 'y' }, { name: 'T', valueFrom: { secretKeyRef: { name: NAME, key: 'api_token' } } }] }],
    ephemeralContainers: [{ name: 'debug', envFrom: [{ secretRef: { name: NAME } }] }],
  },
};

describe('secret references in workloads', () => {
  it('finds every location in a bare Pod, by exact name only', () => {
    assert.deepEqual(pathsReferring('Pod', pod, NAME).sort(), [
      '/spec/containers/0/env/1/valueFrom/secretKeyRef/name',
      '/spec/ephemeralContainers/0/envFrom/0/secretRef/name',
      '/spec/imagePullSecrets/0/name',
      '/spec/initContainers/0/envFrom/1/secretRef/name',
      '/spec/volumes/0/secret/secretName',
      '/spec/volumes/1/projected/sources/1/secret/name',
    ]);
    assert.deepEqual(pathsReferring('Pod', pod, `${NAME}-old`), ['/spec/volumes/2/secret/secretName']);
    assert.deepEqual(pathsReferring('Pod', pod, 'auth-api-secrets'), []);
  });

  it('uses each kind\'s pod template path, and the paths point at the names', () => {
    const cron = { spec: { jobTemplate: { spec: { template: pod } } } };
    const paths = pathsReferring('CronJob', cron, NAME);
    assert.equal(paths.length, 6);
    for (const p of paths) {
      assert.ok(p.startsWith('/spec/jobTemplate/spec/template/spec/'));
      assert.equal(valueAt(cron, p), NAME);
    }
    const deployment = { spec: { template: pod } };
    assert.ok(pathsReferring('Deployment', deployment, NAME).every((p) => p.startsWith('/spec/template/spec/')));
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
    assert.equal(missingSecretReason(p({ containers: [{ name: 'c' }], volumes: [{ name: 'v', secret: { secretName: 'gone' } }] }), secrets), 'secret "gone" not found');
  });
});

describe('newest version in use', () => {
  it('orders the base name before every version and versions by timestamp', () => {
    assert.equal(newestVersion(['auth-api-secrets', 'auth-api-secrets-20250101000000', 'auth-api-secrets-20241231235959'], 'auth-api-secrets'), 'auth-api-secrets-20250101000000');
    assert.equal(newestVersion(['auth-api-secrets'], 'auth-api-secrets'), 'auth-api-secrets');
    assert.equal(newestVersion([], 'auth-api-secrets'), null);
    assert.ok(compareVersions('auth-api-secrets', 'auth-api-secrets-20000101000000', 'auth-api-secrets') < 0);
  });
});
