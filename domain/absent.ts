// What PLANNING says when a plan names something the cluster does not have: one text for every adapter
// and for the workflow, each naming the cause and the fix.

/** A stage's namespace the cluster does not have. */
export function missingNamespaceText(namespace: string): string {
  return `namespace ${namespace} does not exist in this cluster: correct the stage's namespace in the plan, or create the namespace (is the worker's kubeconfig the cluster you meant?)`;
}

/** What a stage's namespace holds of the plan's Secret when no workload there uses a version of it. */
export interface Absence {
  /** null: the worker may not tell (it may not list namespaces). */
  namespaceExists: boolean | null;
  /** A Secret of the plan's base name exists in the namespace. */
  secretExists: boolean;
}

/** Why a stage has nothing to rotate, and what to do; `absence` absent (older workers): the plain fact. */
export function nothingInUseText(secret: string, namespace: string, absence: Absence | undefined): string {
  if (!absence) return `no version of ${secret} is in use in namespace ${namespace}`;
  if (absence.namespaceExists === false) return missingNamespaceText(namespace);
  if (!absence.secretExists)
    return `no workload in namespace ${namespace} uses ${secret} or a version of it (${secret}-<14 digits>), and no Secret ${secret} exists there: correct the plan's secret or this stage's namespace, or point a workload at the Secret first (creating it if it does not exist: kubectl create secret generic ${secret} -n ${namespace} ...)`;
  return `Secret ${secret} exists in namespace ${namespace}, but no workload there uses it or a version of it: point a workload at it first (rotor switches only workloads that use the Secret), or remove this stage`;
}
