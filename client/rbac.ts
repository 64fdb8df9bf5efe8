// `rotor rbac -f plan.yaml [-f more.yaml ...]`: the least the worker needs to run those plans, as
// Kubernetes RBAC manifests. In each namespace a plan's stages name, a Role and RoleBinding with the
// verbs that namespace's stages use, and nothing for a feature no plan there uses:
// - Secrets: get (read a version back), delete (cleanup), create unless every plan there gets its
//   versions written by External Secrets Operator; never list or watch (a list returns the values);
// - the kinds rotor switches (Deployments, StatefulSets, DaemonSets, CronJobs): get, list, patch; the
//   kinds it only reads (ReplicaSets, Jobs, Pods): get, list; Deployments create and delete only where
//   a canary stage runs (its green copy);
// - Leases: get, create, update, delete (a rotation's claim, `rotor-<secret>`);
// - Events (events.k8s.io): create only, on what rotor switched, reverted, deleted or waits for
//   (activities/events.ts); never read, patched or deleted;
// - External Secrets Operator, only where a plan's store is external-secrets: ExternalSecrets get, list,
//   create, delete, and the SecretStore it names (get, by name).
// Cluster-wide, two ClusterRoles: the ClusterSecretStore a plan names (get, by name), only if one does;
// and the reference scan's listing, since every plan deletes its old version only once nothing in the
// whole cluster names it: list on every resource but Secrets (never readable through it), in the groups
// of scan.ts's table and those `--scan-group` adds (a custom resource's), plus namespaces (whether a
// stage's namespace exists).
import { stringify } from 'yaml';
import type { Plan } from '../domain/plan';

/** Kubernetes' own API groups the scan lists (every resource in them; none holds a Secret's data). */
const KUBERNETES_GROUPS = [
  'admissionregistration.k8s.io',
  'apiregistration.k8s.io',
  'apps',
  'autoscaling',
  'batch',
  'certificates.k8s.io',
  'coordination.k8s.io',
  'discovery.k8s.io',
  'flowcontrol.apiserver.k8s.io',
  'internal.apiserver.k8s.io',
  'networking.k8s.io',
  'node.k8s.io',
  'policy',
  'rbac.authorization.k8s.io',
  'resource.k8s.io',
  'scheduling.k8s.io',
  'storage.k8s.io',
  'storagemigration.k8s.io',
];

/** The core group's resources the scan lists: all but Secrets (and Events, which name what they report on). */
const CORE_SCANNED = [
  'configmaps',
  'endpoints',
  'limitranges',
  'namespaces',
  'nodes',
  'persistentvolumeclaims',
  'persistentvolumes',
  'pods',
  'podtemplates',
  'replicationcontrollers',
  'resourcequotas',
  'serviceaccounts',
  'services',
  'componentstatuses',
];

/** Operators whose resources commonly name Secrets: listed by the scan (a group not installed grants nothing). */
const OPERATOR_GROUPS = [
  'external-secrets.io',
  'generators.external-secrets.io',
  'gateway.networking.k8s.io',
  'keda.sh',
  'argoproj.io',
  'cert-manager.io',
  'acme.cert-manager.io',
  'monitoring.coreos.com',
  'source.toolkit.fluxcd.io',
  'helm.toolkit.fluxcd.io',
  'kustomize.toolkit.fluxcd.io',
  'notification.toolkit.fluxcd.io',
  'secrets-store.csi.x-k8s.io',
];

export interface Rule {
  apiGroups: string[];
  resources: string[];
  verbs: string[];
  resourceNames?: string[];
}

interface Manifest {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels: Record<string, string> };
  rules?: Rule[];
  roleRef?: { apiGroup: string; kind: string; name: string };
  subjects?: { kind: string; name: string; namespace: string }[];
}

export interface RbacOptions {
  /** The worker's ServiceAccount. */
  serviceAccount: { namespace: string; name: string };
  /**
   * More groups the scan lists, besides Kubernetes' own and the operators' (OPERATOR_GROUPS): a custom
   * resource in a group the worker may not list holds every version until it may.
   */
  scanGroups?: string[];
  /**
   * With rotor's admission policy: Secrets `patch` too, which the policy confines to adopting a
   * Secret made by hand before retiring it (a label added, nothing else). Without the policy, RBAC
   * alone could not confine a patch, so none is granted (such a Secret is then deleted as it is).
   */
  adopt?: boolean;
  /**
   * cluster: one ClusterRole grants in every namespace what the Roles grant in the plans' (every
   * feature: canary, External Secrets, any SecretStore by any name) plus the scan's listing; plans
   * are not needed. The opt-in for a worker whose plans name namespaces not known in advance.
   */
  scope?: 'namespaced' | 'cluster';
}

const LABELS = { 'app.kubernetes.io/name': 'rotor', 'app.kubernetes.io/component': 'worker', 'app.kubernetes.io/managed-by': 'rotor-rbac' };

/** The names of the stores of `kind` that the plans with store external-secrets read, sorted, once each. */
function storesNamed(plans: Plan[], kind: 'SecretStore' | 'ClusterSecretStore'): string[] {
  const refs = plans.filter((p) => p.store === 'external-secrets').map((p) => p.target?.externalSecrets?.secretStoreRef);
  return [...new Set(refs.filter((r) => r?.kind === kind).map((r) => r!.name))].sort();
}

/** What rotor does in a namespace, feature by feature. */
interface Needs {
  canary: boolean;
  writesSecrets: boolean;
  externalSecrets: boolean;
  /** The SecretStores it reads, by name; null: any. */
  stores: string[] | null;
  adopt: boolean;
  /** A stage here has a pre-flight Job: create, watch and delete it, read its pod's log. */
  preflightJobs: boolean;
}

/** What the stages of `plans` in `namespace` need there. */
function namespaceNeeds(plans: Plan[], namespace: string, adopt: boolean): Needs {
  const here = plans.filter((p) => p.stages.some((s) => s.namespace === namespace));
  const eso = here.filter((p) => p.store === 'external-secrets');
  return {
    canary: here.some((p) => p.stages.some((s) => s.namespace === namespace && s.strategy.type === 'canary')),
    writesSecrets: here.some((p) => p.store !== 'external-secrets'),
    externalSecrets: eso.length > 0,
    stores: storesNamed(eso, 'SecretStore'),
    adopt,
    preflightJobs: here.some((p) => p.stages.some((s) => s.namespace === namespace && s.preflight?.some((c) => 'job' in c))),
  };
}

/** The rules for `needs`, in a Role (or, with scope cluster, the ClusterRole). */
function changeRules({ canary, writesSecrets, externalSecrets, stores, adopt, preflightJobs }: Needs): Rule[] {
  const rules: Rule[] = [
    { apiGroups: [''], resources: ['secrets'], verbs: [...(writesSecrets ? ['get', 'create', 'delete'] : ['get', 'delete']), ...(adopt ? ['patch'] : [])] },
    { apiGroups: ['apps'], resources: ['deployments'], verbs: canary ? ['get', 'list', 'patch', 'create', 'delete'] : ['get', 'list', 'patch'] },
    { apiGroups: ['apps'], resources: ['statefulsets', 'daemonsets'], verbs: ['get', 'list', 'patch'] },
    { apiGroups: ['apps'], resources: ['replicasets'], verbs: ['get', 'list'] },
    { apiGroups: ['batch'], resources: ['cronjobs'], verbs: ['get', 'list', 'patch'] },
    { apiGroups: ['batch'], resources: ['jobs'], verbs: preflightJobs ? ['get', 'list', 'create', 'delete'] : ['get', 'list'] },
    { apiGroups: [''], resources: ['pods'], verbs: ['get', 'list'] },
    ...(preflightJobs ? [{ apiGroups: [''], resources: ['pods/log'], verbs: ['get'] }] : []),
    { apiGroups: ['coordination.k8s.io'], resources: ['leases'], verbs: ['get', 'create', 'update', 'delete'] },
    { apiGroups: ['events.k8s.io'], resources: ['events'], verbs: ['create'] },
  ];
  if (externalSecrets) {
    rules.push({ apiGroups: ['external-secrets.io'], resources: ['externalsecrets'], verbs: ['get', 'list', 'create', 'delete'] });
    if (stores === null) rules.push({ apiGroups: ['external-secrets.io'], resources: ['secretstores', 'clustersecretstores'], verbs: ['get'] });
    else if (stores.length) rules.push({ apiGroups: ['external-secrets.io'], resources: ['secretstores'], verbs: ['get'], resourceNames: stores });
  }
  return rules;
}

/** The scan's listing, everywhere, never Secrets; `more`: groups listed besides the operators'. */
function scanRules(more: string[] = []): Rule[] {
  const groups = [...new Set([...OPERATOR_GROUPS, ...more])].filter((g) => !KUBERNETES_GROUPS.includes(g));
  return [
    { apiGroups: [''], resources: CORE_SCANNED, verbs: ['list'] },
    { apiGroups: KUBERNETES_GROUPS, resources: ['*'], verbs: ['list'] },
    { apiGroups: groups, resources: ['*'], verbs: ['list'] },
  ];
}

/** Every manifest the plans need, in a stable order: the cluster-wide ones, then each namespace's. */
export function rbacManifests(plans: Plan[], options: RbacOptions): Manifest[] {
  const { namespace: saNamespace, name } = options.serviceAccount;
  const subjects = [{ kind: 'ServiceAccount', name, namespace: saNamespace }];
  const bind = (kind: 'Role' | 'ClusterRole', role: string, namespace?: string): Manifest => ({
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: kind === 'Role' ? 'RoleBinding' : 'ClusterRoleBinding',
    metadata: { name: role, ...(namespace ? { namespace } : {}), labels: LABELS },
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind, name: role },
    subjects,
  });
  const role = (kind: 'Role' | 'ClusterRole', roleName: string, rules: Rule[], namespace?: string): Manifest[] => [
    { apiVersion: 'rbac.authorization.k8s.io/v1', kind, metadata: { name: roleName, ...(namespace ? { namespace } : {}), labels: LABELS }, rules },
    bind(kind, roleName, namespace),
  ];
  if (options.scope === 'cluster') {
    const all: Needs = { canary: true, writesSecrets: true, externalSecrets: true, stores: null, adopt: !!options.adopt, preflightJobs: true };
    return role('ClusterRole', name, [...changeRules(all), ...scanRules(options.scanGroups)]);
  }
  const out: Manifest[] = [...role('ClusterRole', `${name}-scan`, scanRules(options.scanGroups))];
  const clusterStores = storesNamed(plans, 'ClusterSecretStore');
  if (clusterStores.length)
    out.push(
      ...role('ClusterRole', `${name}-cluster-secret-stores`, [
        { apiGroups: ['external-secrets.io'], resources: ['clustersecretstores'], verbs: ['get'], resourceNames: clusterStores },
      ]),
    );
  const namespaces = [...new Set(plans.flatMap((p) => p.stages.map((s) => s.namespace)))].sort();
  for (const ns of namespaces) out.push(...role('Role', name, changeRules(namespaceNeeds(plans, ns, !!options.adopt)), ns));
  return out;
}

/** The namespaces the plans' stages name, sorted, once each. */
export function planNamespaces(plans: Plan[]): string[] {
  return [...new Set(plans.flatMap((p) => p.stages.map((s) => s.namespace)))].sort();
}

/** Why a manifest is there, in a line above it. */
function purpose(m: Manifest): string {
  if (m.kind === 'Role') return `# What the stages in ${m.metadata.namespace} change there.\n`;
  if (m.kind === 'ClusterRole' && m.metadata.name.endsWith('-scan'))
    return '# The reference scan: list every resource but Secrets, in every namespace, before a version is deleted.\n';
  if (m.kind === 'ClusterRole' && m.metadata.name.endsWith('-cluster-secret-stores')) return '# The ClusterSecretStores the plans name, read in PLANNING.\n';
  if (m.kind === 'ClusterRole')
    return '# --scope cluster: what rotor may change, in every namespace, and the reference scan (list every resource but Secrets).\n';
  return '';
}

/**
 * The manifests as one YAML stream, each with a line saying what it is for; `policy`: the admission
 * policy and its binding (client/admission.ts), when asked for.
 */
export function rbacYaml(what: string, serviceAccount: { namespace: string; name: string }, manifests: Manifest[], policy: object[]): string {
  const sa = `${serviceAccount.namespace}/${serviceAccount.name}`;
  const head = [
    ...(manifests.length
      ? [
          `# rotor rbac ${what}: the worker ${sa} may do ${what.startsWith('--scope') ? 'what rotor does, in every namespace' : 'what these plans need, and no more'}.\n`,
        ]
      : []),
    ...(policy.length ? [`# rotor rbac --admission: the apiserver confines ${sa} to what rotor makes and changes, whatever its RBAC grants.\n`] : []),
  ].join('');
  const docs = [...manifests.map((m) => purpose(m) + stringify(m, { lineWidth: 0 })), ...policy.map((m) => stringify(m, { lineWidth: 0 }))];
  return head + docs.map((d) => `---\n${d}`).join('');
}

/**
 * The same as values for the Helm chart deploy/helm/rotor (`--output helm-values`): the chart renders
 * these rules and this policy as they are, with its own labels, and refuses to install them for
 * another ServiceAccount than the one they were made for.
 */
export function rbacValues(serviceAccount: { namespace: string; name: string }, manifests: Manifest[], policy: object[]): string {
  const rolesOf = (kind: string) =>
    manifests
      .filter((m) => m.kind === kind)
      .map((m) => ({ name: m.metadata.name, ...(m.metadata.namespace ? { namespace: m.metadata.namespace } : {}), rules: m.rules! }));
  const specOf = (kind: string) => (policy as { kind: string; metadata: { name: string }; spec: object }[]).find((m) => m.kind === kind);
  const values = {
    rbac: { serviceAccount: `${serviceAccount.namespace}/${serviceAccount.name}`, clusterRoles: rolesOf('ClusterRole'), roles: rolesOf('Role') },
    ...(policy.length
      ? {
          admission: {
            create: true,
            name: specOf('ValidatingAdmissionPolicy')!.metadata.name,
            policy: specOf('ValidatingAdmissionPolicy')!.spec,
            binding: specOf('ValidatingAdmissionPolicyBinding')!.spec,
          },
        }
      : {}),
  };
  return stringify(values, { lineWidth: 0 });
}
