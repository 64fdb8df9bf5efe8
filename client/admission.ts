// `rotor rbac --admission`: a ValidatingAdmissionPolicy (admissionregistration.k8s.io/v1) and its
// binding that confine the worker's ServiceAccount to what rotor itself makes and changes, enforced by
// the apiserver even where RBAC grants more. It matches only requests of that ServiceAccount:
// - Secrets: created only immutable, labelled rotor.dev/secret=<base> and named <base>-<14 digits>;
//   deleted only when they carry that label; never updated, but to adopt one made by hand before it
//   is retired (that label added, nothing else, in the plans' namespaces when given);
// - Deployments: created and deleted only as rotor's green copies (label rotor.dev/canary, annotation
//   rotor.dev/canary-of=<blue>, named <blue>-canary-<8 hex>);
// - Deployments, StatefulSets, DaemonSets and CronJobs, updated: only Secret references in the pod
//   template change (images, commands, args, other env, envFrom but Secret refs, resources, volumes
//   but Secret sources, service account, security context, labels stay), the replica count only of
//   a workload rotor runs a canary for, and annotations only rotor's own (rotor.dev/...);
// - Jobs: created and deleted only as rotor's pre-flight Jobs (rotor-preflight-<12 hex>, their pods without
//   a ServiceAccount token), never updated;
// - Leases: only rotor-*;
// - Events (events.k8s.io): only created, and only as rotor's (reportingController rotor.dev/worker).
// Each rule's message names rotor and the rule.
import { ANNOTATION_CANARY_OF, LABEL_CANARY, LABEL_SECRET, REPORTING_CONTROLLER } from '../activities/kubernetes/ownership';

const WORKLOADS = "['deployments', 'statefulsets', 'daemonsets', 'cronjobs']";
/** The annotation a DaemonSet's registry bumps on each template change (kube-apiserver's daemonset strategy). */
const DAEMONSET_TEMPLATE_GENERATION = 'deprecated.daemonset.template.generation';

/** CEL: a map field or an empty map. */
const mapOf = (path: string, field: string) => `(has(${path}.${field}) ? ${path}.${field} : {})`;

/** CEL: each container of `list` in the new pod spec has its counterpart of the same name in the old one, equal but for `same`. */
function containersKeep(list: string, same: string): string {
  const n = `variables.newPod`;
  const o = `variables.oldPod`;
  return (
    `(has(${n}.${list}) ? size(${n}.${list}) : 0) == (has(${o}.${list}) ? size(${o}.${list}) : 0) && ` +
    `(!has(${n}.${list}) || ${n}.${list}.all(c, ${o}.${list}.exists(p, p.name == c.name && ${same})))`
  );
}

/** CEL: each of `fields`, optional on two objects, is the same on both (absent from both, or equal). */
const sameFields = (a: string, b: string, fields: string[]) =>
  fields.map((f) => `(has(${a}.${f}) == has(${b}.${f}) && (!has(${a}.${f}) || ${a}.${f} == ${b}.${f}))`);

/** CEL: two containers are the same but for the Secrets their env and envFrom name. */
const CONTAINER_SAME = [
  ...sameFields('c', 'p', ['image', 'command', 'args', 'resources', 'securityContext', 'volumeMounts']),
  // env: the same names in the same order; an entry that is no secretKeyRef unchanged; a secretKeyRef keeps its key.
  '(has(c.env) ? c.env.map(e, e.name) : []) == (has(p.env) ? p.env.map(e, e.name) : [])',
  '(!has(c.env) || c.env.all(e, p.env.exists(q, q.name == e.name && (has(e.valueFrom) && has(e.valueFrom.secretKeyRef) ? has(q.valueFrom) && has(q.valueFrom.secretKeyRef) && q.valueFrom.secretKeyRef.key == e.valueFrom.secretKeyRef.key : q == e))))',
  // envFrom: as many entries; those that name no Secret unchanged.
  '(has(c.envFrom) ? size(c.envFrom) : 0) == (has(p.envFrom) ? size(p.envFrom) : 0)',
  '(has(c.envFrom) ? c.envFrom.filter(f, !has(f.secretRef)) : []) == (has(p.envFrom) ? p.envFrom.filter(f, !has(f.secretRef)) : [])',
].join(' && ');

interface Validation {
  rule: string;
  expression: string;
  message: string;
}

/** CEL: the object's name is a version of `base` (a CEL expression): `<base>-<14 digits>`, as domain/naming.ts names them. */
const versionOf = (base: string) =>
  `(object.metadata.name.startsWith(${base} + '-') && object.metadata.name.substring(size(${base}) + 1).matches('^[0-9]{14}$'))`;

/**
 * CEL: the one update of a Secret rotor makes, adopting a version made by hand right before it retires
 * it (kubernetes/secrets.ts): only its label rotor.dev/secret added, naming the Secret's own base, in
 * the plans' namespaces when they are known.
 */
function adoption(namespaces: string[] | undefined): string {
  const label = `object.metadata.labels['${LABEL_SECRET}']`;
  return [
    ...(namespaces ? [`request.namespace in ${JSON.stringify(namespaces).replace(/"/g, "'")}`] : []),
    `!(has(oldObject.metadata.labels) && '${LABEL_SECRET}' in oldObject.metadata.labels)`,
    `has(object.metadata.labels) && '${LABEL_SECRET}' in object.metadata.labels`,
    `(object.metadata.name == ${label} || ${versionOf(label)})`,
    `object.metadata.labels.all(k, k == '${LABEL_SECRET}' || (has(oldObject.metadata.labels) && k in oldObject.metadata.labels && oldObject.metadata.labels[k] == object.metadata.labels[k]))`,
    `(!has(oldObject.metadata.labels) || oldObject.metadata.labels.all(k, k in object.metadata.labels))`,
    `${mapOf('object.metadata', 'annotations')} == ${mapOf('oldObject.metadata', 'annotations')}`,
    ...sameFields('object', 'oldObject', ['data', 'type', 'immutable']),
  ].join(' && ');
}

function validations(namespaces?: string[]): Validation[] {
  const op = (o: string) => `request.operation == '${o}'`;
  const secret = "request.resource.resource == 'secrets'";
  const workload = `request.resource.resource in ${WORKLOADS}`;
  const deployment = "request.resource.resource == 'deployments'";
  const green = (obj: string) =>
    `has(${obj}.metadata.labels) && '${LABEL_CANARY}' in ${obj}.metadata.labels && has(${obj}.metadata.annotations) && '${ANNOTATION_CANARY_OF}' in ${obj}.metadata.annotations && ` +
    `${obj}.metadata.name.startsWith(${obj}.metadata.annotations['${ANNOTATION_CANARY_OF}'] + '-canary-') && ` +
    `${obj}.metadata.name.substring(size(${obj}.metadata.annotations['${ANNOTATION_CANARY_OF}']) + 8).matches('^[0-9a-f]{8}$')`;
  const canaryOwned = (obj: string) =>
    `(has(${obj}.metadata.labels) && '${LABEL_CANARY}' in ${obj}.metadata.labels) || ` +
    `(has(${obj}.metadata.annotations) && ${obj}.metadata.annotations.exists(k, k.startsWith('rotor.dev/switch-') && ${obj}.metadata.annotations[k].contains('"replicas"')))`;
  const update = `!(${op('UPDATE')} && ${workload})`;
  // Annotations rotor may change: its own, and those the apiserver itself sets while rotor's update
  // passes (a DaemonSet's template generation, bumped by its registry before admission sees it).
  const mayChange = (k: string) => `(${k}.startsWith('rotor.dev/') || ${k} == '${DAEMONSET_TEMPLATE_GENERATION}')`;
  return [
    {
      rule: 'secret-create',
      expression:
        `!(${op('CREATE')} && ${secret}) || (has(object.immutable) && object.immutable == true && has(object.metadata.labels) && '${LABEL_SECRET}' in object.metadata.labels && ` +
        `${versionOf(`object.metadata.labels['${LABEL_SECRET}']`)})`,
      message: `rotor's worker may create only immutable Secrets labelled ${LABEL_SECRET}=<base> and named <base>-<14 digits> (rule secret-create)`,
    },
    {
      rule: 'secret-update',
      expression: `!(${op('UPDATE')} && ${secret}) || (${adoption(namespaces)})`,
      message:
        `rotor's worker never updates a Secret (a version never changes), but to adopt one made by hand before retiring it: the label ${LABEL_SECRET}=<base> added to a Secret named <base> or <base>-<14 digits>` +
        `${namespaces ? ` in ${namespaces.join(', ')}` : ''}, and nothing else changed (rule secret-update)`,
    },
    {
      rule: 'secret-delete',
      expression: `!(${op('DELETE')} && ${secret}) || (has(oldObject.metadata.labels) && '${LABEL_SECRET}' in oldObject.metadata.labels)`,
      message: `rotor's worker may delete only a Secret labelled ${LABEL_SECRET} (a version rotor made or adopted) (rule secret-delete)`,
    },
    {
      rule: 'workload-create',
      expression: `!(${op('CREATE')} && ${workload}) || (${deployment} && ${green('object')})`,
      message: `rotor's worker may create only its canary's green copy: a Deployment labelled ${LABEL_CANARY}, annotated ${ANNOTATION_CANARY_OF}=<blue>, named <blue>-canary-<8 hex> (rule workload-create)`,
    },
    {
      rule: 'workload-delete',
      expression: `!(${op('DELETE')} && ${workload}) || (${deployment} && ${green('oldObject')})`,
      message: "rotor's worker may delete only its canary's green copy (rule workload-delete)",
    },
    {
      rule: 'workload-template',
      expression:
        `${update} || (` +
        [
          containersKeep('containers', CONTAINER_SAME),
          containersKeep('initContainers', CONTAINER_SAME),
          ...sameFields('variables.newPod', 'variables.oldPod', ['serviceAccountName', 'securityContext', 'hostNetwork', 'nodeSelector']),
          '(has(variables.newPod.volumes) ? variables.newPod.volumes.map(v, v.name) : []) == (has(variables.oldPod.volumes) ? variables.oldPod.volumes.map(v, v.name) : [])',
          '(has(variables.newPod.volumes) ? variables.newPod.volumes.filter(v, !has(v.secret) && !has(v.projected)) : []) == (has(variables.oldPod.volumes) ? variables.oldPod.volumes.filter(v, !has(v.secret) && !has(v.projected)) : [])',
        ].join(' && ') +
        ')',
      message:
        "rotor's worker may change only Secret references in a workload's pod template: its images, commands, args, other env, resources, volumes, service account and security context stay as they were (rule workload-template)",
    },
    {
      rule: 'workload-replicas',
      expression: `${update} || !has(object.spec.replicas) || (has(oldObject.spec.replicas) && object.spec.replicas == oldObject.spec.replicas) || ${canaryOwned('object')} || ${canaryOwned('oldObject')}`,
      message: "rotor's worker may change the replicas only of a workload it runs a canary for (rule workload-replicas)",
    },
    {
      rule: 'workload-metadata',
      expression:
        `${update} || (${mapOf('object.metadata', 'labels')} == ${mapOf('oldObject.metadata', 'labels')} && ` +
        `${mapOf('object.metadata', 'annotations')}.all(k, ${mayChange('k')} || (has(oldObject.metadata.annotations) && k in oldObject.metadata.annotations && oldObject.metadata.annotations[k] == object.metadata.annotations[k])) && ` +
        `${mapOf('oldObject.metadata', 'annotations')}.all(k, ${mayChange('k')} || (has(object.metadata.annotations) && k in object.metadata.annotations)))`,
      message:
        "rotor's worker may change only its own annotations (rotor.dev/...) on a workload, never its labels or others' annotations (rule workload-metadata)",
    },
    {
      rule: 'preflight-job',
      expression:
        `request.resource.resource != 'jobs' || ` +
        `(${op('CREATE')} && object.metadata.name.matches('^rotor-preflight-[0-9a-f]{12}$') && has(object.metadata.labels) && ` +
        `object.metadata.labels['app.kubernetes.io/component'] == 'preflight' && has(object.spec.template.spec.automountServiceAccountToken) && ` +
        `object.spec.template.spec.automountServiceAccountToken == false) || ` +
        `(${op('DELETE')} && oldObject.metadata.name.matches('^rotor-preflight-[0-9a-f]{12}$'))`,
      message:
        "rotor's worker may create and delete only its pre-flight Jobs: named rotor-preflight-<12 hex>, labelled app.kubernetes.io/component=preflight, their pods without a ServiceAccount token; it never changes a Job (rule preflight-job)",
    },
    {
      rule: 'lease-name',
      expression: `request.resource.resource != 'leases' || (${op('DELETE')} ? oldObject : object).metadata.name.startsWith('rotor-')`,
      message: "rotor's worker may hold only its own Leases, named rotor-<secret> (rule lease-name)",
    },
    {
      rule: 'event-create',
      expression: `request.resource.resource != 'events' || (${op('CREATE')} && object.reportingController == '${REPORTING_CONTROLLER}')`,
      message: `rotor's worker may only create Events, and only its own: reportingController ${REPORTING_CONTROLLER} (rule event-create)`,
    },
  ];
}

/** The policy and its binding for the worker `namespace/name`; `namespaces`: the plans', the only ones where it may adopt (all when absent). */
export function admissionManifests(serviceAccount: { namespace: string; name: string }, namespaces?: string[]): object[] {
  const policy = `${serviceAccount.name}-confinement`;
  const labels = { 'app.kubernetes.io/name': 'rotor', 'app.kubernetes.io/component': 'worker', 'app.kubernetes.io/managed-by': 'rotor-rbac' };
  const rule = (apiGroups: string[], resources: string[]) => ({ apiGroups, apiVersions: ['v1'], operations: ['CREATE', 'UPDATE', 'DELETE'], resources });
  const pod = (obj: string) => `request.resource.resource == 'cronjobs' ? ${obj}.spec.jobTemplate.spec.template.spec : ${obj}.spec.template.spec`;
  return [
    {
      apiVersion: 'admissionregistration.k8s.io/v1',
      kind: 'ValidatingAdmissionPolicy',
      metadata: { name: policy, labels },
      spec: {
        failurePolicy: 'Fail',
        matchConstraints: {
          resourceRules: [
            rule([''], ['secrets']),
            rule(['apps'], ['deployments', 'statefulsets', 'daemonsets']),
            rule(['batch'], ['cronjobs', 'jobs']),
            rule(['coordination.k8s.io'], ['leases']),
            rule(['events.k8s.io'], ['events']),
          ],
        },
        matchConditions: [
          { name: 'rotor-worker', expression: `request.userInfo.username == 'system:serviceaccount:${serviceAccount.namespace}:${serviceAccount.name}'` },
        ],
        variables: [
          { name: 'newPod', expression: pod('object') },
          { name: 'oldPod', expression: pod('oldObject') },
        ],
        validations: validations(namespaces).map((v) => ({ expression: v.expression, message: v.message, reason: 'Forbidden' })),
      },
    },
    {
      apiVersion: 'admissionregistration.k8s.io/v1',
      kind: 'ValidatingAdmissionPolicyBinding',
      metadata: { name: policy, labels },
      spec: { policyName: policy, validationActions: ['Deny'] },
    },
  ];
}
