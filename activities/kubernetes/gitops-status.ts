// What a GitOps controller's object says of its last sync, for the status of a rotation waiting for it
// to apply rotor's commit: a Flux Kustomization's or HelmRelease's last applied revision and Ready
// condition, an Argo CD Application's sync revision and health. Read with `list` and a field selector
// (the reference scan's ClusterRole lists these groups; no `get` is granted for them).
import * as k8s from '@kubernetes/client-node';
import type { ManagedBy } from '../../contract/activities';

const RESOURCES: Record<ManagedBy['resource'], { group: string; version: string; plural: string; defaultNamespace: string }> = {
  'Flux Kustomization': { group: 'kustomize.toolkit.fluxcd.io', version: 'v1', plural: 'kustomizations', defaultNamespace: 'flux-system' },
  'Flux HelmRelease': { group: 'helm.toolkit.fluxcd.io', version: 'v2', plural: 'helmreleases', defaultNamespace: 'flux-system' },
  'Argo CD Application': { group: 'argoproj.io', version: 'v1alpha1', plural: 'applications', defaultNamespace: 'argocd' },
};

interface Condition {
  type?: string;
  status?: string;
  message?: string;
}

/** In a line: the object and what it last applied; null when the workload names no object. */
export async function controllerStatus(custom: k8s.CustomObjectsApi, managedBy: ManagedBy): Promise<string | null> {
  if (!managedBy.name) return null;
  const r = RESOURCES[managedBy.resource];
  const namespace = managedBy.namespace ?? r.defaultNamespace;
  const what = `${managedBy.resource} ${namespace}/${managedBy.name}`;
  try {
    const list = (await custom.listNamespacedCustomObject({
      group: r.group,
      version: r.version,
      namespace,
      plural: r.plural,
      fieldSelector: `metadata.name=${managedBy.name}`,
    })) as { items?: { status?: Record<string, unknown> }[] };
    const status = list.items?.[0]?.status;
    if (!status) return `${what}: no status yet`;
    if (managedBy.resource === 'Argo CD Application') {
      const sync = (status.sync ?? {}) as { status?: string; revision?: string };
      const health = (status.health ?? {}) as { status?: string };
      return `${what}: sync ${sync.status ?? 'unknown'} at ${sync.revision ?? 'no revision'}, health ${health.status ?? 'unknown'}`;
    }
    const ready = ((status.conditions ?? []) as Condition[]).find((c) => c.type === 'Ready');
    const applied = (status.lastAppliedRevision as string | undefined) ?? 'nothing yet';
    return `${what}: last applied ${applied}${ready ? `, Ready=${ready.status}${ready.message ? `: ${ready.message}` : ''}` : ''}`;
  } catch (err) {
    return `${what}: status unreadable (${(err as { code?: number }).code ?? (err as Error).message})`;
  }
}
