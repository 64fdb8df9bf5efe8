// GitOps' other half, on real parts: the REAL Flux source-controller and kustomize-controller (v1.9.6,
// built by the bootstrap) on the sandbox's real kube-apiserver read a repository of the sandbox's real
// smart-HTTP Git server with its token, and apply it: a commit that changes a Deployment's Secret
// reference reaches the live object, with the Kustomization's status naming the commit, and a live
// patch of that reference is put back by the next reconcile. What rotor's git mode (issue 26) waits for.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import * as k8s from '@kubernetes/client-node';
import { stringify } from 'yaml';
import { startControlPlane } from '../sandbox';
import type { ControlPlane } from '../sandbox/control-plane';
import { FLUX_NAMESPACE, startFlux, type Flux, type KustomizationStatus } from '../sandbox/flux';
import { commitElsewhere, logOf, startGitServer, type GitServer } from '../sandbox/git-server';
import { authDeployment, tokenSecretOf } from './helpers/e2e-objects';
import { stopEach } from './helpers/stop-each';

const REPO = 'platform';
const NS = 'production';
const KUSTOMIZATION = 'apps-production';
const MANIFEST = 'apps/production/auth-api.yaml';
const OLD = 'auth-api-secrets-20260101000000';
/** Where a Deployment's managedFields (fieldsV1) record who set the Secret's name: secretKeyRef is an atomic struct, owned whole. */
const REF_FIELD = ['f:spec', 'f:template', 'f:spec', 'f:containers', 'k:{"name":"app"}', 'f:env', 'k:{"name":"TOKEN"}', 'f:valueFrom', 'f:secretKeyRef'];

let plane: ControlPlane | undefined;
let git: GitServer | undefined;
let flux: Flux | undefined;
let apps: k8s.AppsV1Api;
/** The Secret name the repository's head names now. */
let current = OLD;

function owners(d: k8s.V1Deployment, path: string[]): string[] {
  return (d.metadata?.managedFields ?? [])
    .filter((m) => path.reduce<unknown>((node, key) => (node as Record<string, unknown> | undefined)?.[key], m.fieldsV1) !== undefined)
    .map((m) => `${m.manager}/${m.operation}`);
}

/** Polls until the live Deployment names `secret` and the Kustomization has applied `commit`; how long it took. */
async function applied(commit: string, secret: string, timeoutMs = 60_000): Promise<{ ms: number; status: KustomizationStatus }> {
  const started = Date.now();
  const status = await flux!.waitForKustomization(FLUX_NAMESPACE, KUSTOMIZATION, (s) => s.lastAppliedRevision?.endsWith(`:${commit}`) ?? false, timeoutMs);
  while ((await tokenSecretOf(apps, NS, 'auth-api')) !== secret) {
    if (Date.now() - started > timeoutMs) assert.fail(`the Deployment does not name ${secret} although ${commit} is applied`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return { ms: Date.now() - started, status };
}

/** A commit on the Git server that changes the Deployment's Secret reference to `next`; its sha. */
async function commitReference(next: string): Promise<string> {
  const sha = await commitElsewhere(git!.root, REPO, 'main', `auth-api: ${next}`, (dir) => {
    const file = join(dir, MANIFEST);
    writeFileSync(file, readFileSync(file, 'utf8').replace(current, next));
  });
  current = next;
  return sha;
}

describe("Flux (real source-controller and kustomize-controller) applies the Git server's commits", () => {
  before(async () => {
    [plane, git] = await Promise.all([startControlPlane(), startGitServer()]);
    const kc = new k8s.KubeConfig();
    kc.loadFromFile(plane.kubeconfig);
    apps = kc.makeApiClient(k8s.AppsV1Api);
    await kc.makeApiClient(k8s.CoreV1Api).createNamespace({ body: { metadata: { name: NS } } });
    const deployment = { apiVersion: 'apps/v1', kind: 'Deployment', ...authDeployment('auth-api', OLD) };
    const url = await git.createRepository(REPO, {
      [MANIFEST]: stringify(deployment),
      'apps/production/kustomization.yaml': stringify({ apiVersion: 'kustomize.config.k8s.io/v1beta1', kind: 'Kustomization', resources: ['auth-api.yaml'] }),
    });
    flux = await startFlux(plane);
    await flux.createGitRepository({ name: REPO, url, token: git.token });
    await flux.createKustomization({ name: KUSTOMIZATION, source: REPO, path: './apps/production', targetNamespace: NS });
  });

  after(() =>
    stopEach([
      ['flux', () => flux?.stop()],
      ['git server', () => git?.stop()],
      ['control plane', () => plane?.stop()],
    ]),
  );

  it('applies the repository: the Deployment appears, written by kustomize-controller and labelled with its Kustomization', async () => {
    const [head] = await logOf(git!.root, REPO, 'main');
    const commit = head.split(' ')[0];
    const { status } = await applied(commit, OLD);
    assert.equal(status.lastAppliedRevision, `main@sha1:${commit}`);
    assert.equal(status.ready?.status, 'True', status.ready?.message);
    assert.match(status.ready!.message, new RegExp(commit));
    const d = await apps.readNamespacedDeployment({ namespace: NS, name: 'auth-api' });
    assert.equal(d.metadata!.labels!['kustomize.toolkit.fluxcd.io/name'], KUSTOMIZATION);
    assert.equal(d.metadata!.labels!['kustomize.toolkit.fluxcd.io/namespace'], FLUX_NAMESPACE);
    assert.deepEqual(owners(d, REF_FIELD), ['kustomize-controller/Apply'], JSON.stringify(d.metadata!.managedFields));
  });

  it('applies a commit that changes the Secret reference, the Kustomization naming that commit (commit to applied, median of 3)', async () => {
    const times: number[] = [];
    for (const version of ['20260201000000', '20260301000000', '20260401000000']) {
      const next = `auth-api-secrets-${version}`;
      const commit = await commitReference(next);
      const pushed = Date.now();
      // As `flux reconcile source git` does: fetch now, not at the interval (10 min); kustomize-controller follows the new revision.
      await flux!.reconcile('GitRepository', FLUX_NAMESPACE, REPO);
      const { status } = await applied(commit, next);
      times.push(Date.now() - pushed);
      assert.equal(status.lastAppliedRevision, `main@sha1:${commit}`);
      assert.equal(status.ready?.status, 'True', status.ready?.message);
      const d = await apps.readNamespacedDeployment({ namespace: NS, name: 'auth-api' });
      assert.deepEqual(owners(d, REF_FIELD), ['kustomize-controller/Apply']);
      assert.equal((await logOf(git!.root, REPO, 'main'))[0], `${commit} auth-api: ${next}`);
    }
    const median = [...times].sort((a, b) => a - b)[1];
    console.log(`[flux] commit to applied (reconcile requested): ${times.map((t) => `${t} ms`).join(', ')}; median ${median} ms`);
  });

  it('puts back a live patch of the reference at the next reconcile (drift correction)', async () => {
    const drifted = 'auth-api-secrets-patched-live';
    const { stdout } = await promisify(execFile)(plane!.binaries.kubectl, [
      '--kubeconfig',
      plane!.kubeconfig,
      '-n',
      NS,
      'patch',
      'deployment',
      'auth-api',
      '--type=json',
      '-p',
      JSON.stringify([{ op: 'replace', path: '/spec/template/spec/containers/0/env/0/valueFrom/secretKeyRef/name', value: drifted }]),
    ]);
    assert.match(stdout, /patched/);
    const live = await apps.readNamespacedDeployment({ namespace: NS, name: 'auth-api' });
    assert.equal(await tokenSecretOf(apps, NS, 'auth-api'), drifted);
    assert.deepEqual(owners(live, REF_FIELD), ['kubectl-patch/Update']);
    const started = Date.now();
    const requestedAt = await flux!.reconcile('Kustomization', FLUX_NAMESPACE, KUSTOMIZATION);
    await flux!.waitForKustomization(FLUX_NAMESPACE, KUSTOMIZATION, (s) => s.lastHandledReconcileAt === requestedAt);
    assert.equal(await tokenSecretOf(apps, NS, 'auth-api'), current);
    const d = await apps.readNamespacedDeployment({ namespace: NS, name: 'auth-api' });
    assert.deepEqual(owners(d, REF_FIELD), ['kustomize-controller/Apply']);
    console.log(`[flux] drift corrected ${Date.now() - started} ms after the reconcile request`);
  });
});
