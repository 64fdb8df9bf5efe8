// The worker's identity on the sandbox, set up as a platform team sets it up for its plans: a
// ServiceAccount, the RBAC `rotor rbac -f <plans> --admission` prints for the plans the worker will
// run (a Role in each of their namespaces, the reference scan's ClusterRole, nothing else), and the
// admission policy that confines it to what rotor makes. Every end-to-end test and the demo run their
// worker with a token of this ServiceAccount, so a rule rotor rbac leaves out, or one the policy
// forbids, fails the test that needs it.
//
// Tests add plans as they go (`grantPlans`): the grant is always for every plan given so far on that
// control plane, so a later plan never takes away a verb an earlier one needs. A plan's namespace
// that does not exist (yet) gets no Role: as `kubectl apply` of rotor rbac's output would refuse it;
// such a plan then fails in PLANNING naming the namespace, as without RBAC.
import { execFile } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import * as k8s from '@kubernetes/client-node';
import { kubeconfigYaml, type ControlPlane } from './control-plane';
import { planNamespaces, rbacManifests } from '../client/rbac';
import { admissionManifests } from '../client/admission';
import type { Plan } from '../domain/plan';
import { loadPlanFile, PlanFileError } from '../client/plan-file';

/** The worker's ServiceAccount, as deploy/ names it. */
const SERVICE_ACCOUNT = { namespace: 'rotor-system', name: 'rotor-worker' };

/** The plans granted so far on each control plane, and the scope of the grant. */
const granted = new WeakMap<ControlPlane, { plans: Plan[]; scope: 'namespaced' | 'cluster' }>();
/** One grant at a time on each control plane: two `kubectl apply` creating the same Role race (AlreadyExists). */
const applying = new WeakMap<ControlPlane, Promise<unknown>>();

function admin(plane: ControlPlane): k8s.KubeConfig {
  const kc = new k8s.KubeConfig();
  kc.loadFromFile(plane.kubeconfig);
  return kc;
}

async function kubectlApply(plane: ControlPlane, items: object[]): Promise<void> {
  const child = promisify(execFile)(plane.binaries.kubectl, ['--kubeconfig', plane.kubeconfig, 'apply', '-f', '-']);
  child.child.stdin!.end(JSON.stringify({ apiVersion: 'v1', kind: 'List', items }));
  await child;
}

/**
 * Grants the worker what `plans` need besides what earlier calls granted: rotor rbac's output for all
 * of them (with --admission: the Secrets patch that adopting a hand-made version needs) and the
 * admission policy with their namespaces.
 */
export function grantPlans(plane: ControlPlane, plans: Plan[]): Promise<void> {
  const next = (applying.get(plane) ?? Promise.resolve()).catch(() => undefined).then(() => grantNow(plane, plans));
  applying.set(plane, next);
  return next;
}

async function grantNow(plane: ControlPlane, plans: Plan[]): Promise<void> {
  const { plans: before, scope } = granted.get(plane) ?? { plans: [], scope: 'namespaced' };
  const all = [...before, ...plans];
  granted.set(plane, { plans: all, scope });
  const existing = new Set((await admin(plane).makeApiClient(k8s.CoreV1Api).listNamespace()).items.map((n) => n.metadata!.name!));
  const rbac = rbacManifests(all, { serviceAccount: SERVICE_ACCOUNT, adopt: true, scope }).filter(
    (m) => !m.metadata.namespace || existing.has(m.metadata.namespace),
  );
  const namespaces = planNamespaces(all);
  // With scope cluster, adopting a hand-made version is allowed in every namespace, as rotor rbac prints it.
  await kubectlApply(plane, [...rbac, ...admissionManifests(SERVICE_ACCOUNT, scope === 'cluster' ? undefined : namespaces)]);
  await policyInForce(plane, scope === 'cluster' ? 'default' : namespaces.find((ns) => existing.has(ns)));
}

/** `grantPlans` for a plan file; one rotor refuses grants nothing (rotor rbac refuses it too). */
export async function grantPlanFile(plane: ControlPlane, file: string): Promise<void> {
  let plan: Plan;
  try {
    plan = loadPlanFile(file).plan;
  } catch (err) {
    if (err instanceof PlanFileError) return;
    throw err;
  }
  await grantPlans(plane, [plan]);
}

/**
 * Waits until the apiserver enforces the policy: it loads a new one moments after it is applied. The
 * probe is a Lease the policy forbids (not rotor-*), which RBAC lets the worker create in `namespace`
 * (a plan's); until the policy refuses it, each one that got through is deleted and the probe repeats.
 */
async function policyInForce(plane: ControlPlane, namespace: string | undefined): Promise<void> {
  if (!namespace) return; // RBAC lets the worker change nothing the policy guards: nothing to wait for.
  // One token for every probe on this control plane (it lasts the 2 h a test run may take).
  const file = join(plane.dir, 'policy-probe.kubeconfig');
  if (!existsSync(file)) await tokenKubeconfig(plane, file);
  const worker = new k8s.KubeConfig();
  worker.loadFromFile(file);
  const leases = worker.makeApiClient(k8s.CoordinationV1Api);
  const adminLeases = admin(plane).makeApiClient(k8s.CoordinationV1Api);
  for (let i = 0; ; i++) {
    try {
      await leases.createNamespacedLease({ namespace, body: { metadata: { name: 'policy-probe' } } });
      await adminLeases.deleteNamespacedLease({ namespace, name: 'policy-probe' });
    } catch (err) {
      if (String((err as { body?: string }).body).includes('rule lease-name')) return;
      throw err;
    }
    if (i >= 100) throw new Error(`the apiserver did not enforce rotor's admission policy within 20 s`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** A kubeconfig at `file` with a fresh token of the worker's ServiceAccount. */
async function tokenKubeconfig(plane: ControlPlane, file: string): Promise<string> {
  const core = admin(plane).makeApiClient(k8s.CoreV1Api);
  const body = { spec: { audiences: ['https://kubernetes.default.svc'], expirationSeconds: 7200 } };
  for (let attempt = 0; ; attempt++) {
    try {
      const token = (await core.createNamespacedServiceAccountToken({ namespace: SERVICE_ACCOUNT.namespace, name: SERVICE_ACCOUNT.name, body })).status!.token;
      writeFileSync(file, kubeconfigYaml(plane.server, plane.caFile, { name: SERVICE_ACCOUNT.name, token }));
      return file;
    } catch (err) {
      if (attempt >= 50) throw err; // the ServiceAccount appears moments after it is applied
      await new Promise((r) => setTimeout(r, 200));
    }
  }
}

/**
 * The worker's identity for `plans` (more may follow with `grantPlans`): its ServiceAccount, the
 * grant, and a kubeconfig with a token for it, written to `<dir>/worker.kubeconfig`. With scope
 * cluster, rotor rbac's opt-in ClusterRole instead of the plans' Roles.
 */
export async function workerKubeconfig(plane: ControlPlane, dir: string, plans: Plan[] = [], scope: 'namespaced' | 'cluster' = 'namespaced'): Promise<string> {
  granted.set(plane, { plans: granted.get(plane)?.plans ?? [], scope });
  await kubectlApply(plane, [
    { apiVersion: 'v1', kind: 'Namespace', metadata: { name: SERVICE_ACCOUNT.namespace } },
    { apiVersion: 'v1', kind: 'ServiceAccount', metadata: SERVICE_ACCOUNT },
  ]);
  const file = await tokenKubeconfig(plane, join(dir, 'worker.kubeconfig'));
  await grantPlans(plane, plans);
  return file;
}
