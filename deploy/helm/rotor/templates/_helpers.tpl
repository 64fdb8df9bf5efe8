{{/* <release>-worker, or fullnameOverride. */}}
{{- define "rotor.fullname" -}}
{{- default (printf "%s-worker" .Release.Name) .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "rotor.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "rotor.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/* The Deployment's selector since deploy/worker.yaml's first release: a selector cannot change, so an upgrade from those files keeps it. */}}
{{- define "rotor.selectorLabels" -}}
app.kubernetes.io/name: {{ include "rotor.fullname" . }}
{{- end -}}

{{/* No app.kubernetes.io/managed-by: the same output is applied with kubectl too (deploy/*.yaml). */}}
{{- define "rotor.labels" -}}
{{ include "rotor.selectorLabels" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{/*
What the worker changes the cluster with, and reads where it changes it. (dict "root" $ "cluster" bool):
the ClusterRole of scope cluster, or each namespace's Role.
*/}}
{{- define "rotor.changeRules" -}}
{{- $rbac := .root.Values.rbac -}}
- apiGroups: [""]
  resources: ["secrets"]
  verbs: ["create", "get", "delete"]
- apiGroups: ["apps"]
  resources: ["deployments"]
  verbs: ["get", "list", "patch"{{ if $rbac.canary }}, "create", "delete"{{ end }}]
- apiGroups: ["apps"]
  resources: ["statefulsets", "daemonsets", "replicasets"]
  verbs: ["get", "list", "patch"]
- apiGroups: ["batch"]
  resources: ["cronjobs"]
  verbs: ["get", "list", "patch"]
- apiGroups: ["batch"]
  resources: ["jobs"]
  verbs: ["get", "list"]
- apiGroups: [""]
  resources: ["pods"]
  verbs: ["get", "list"]
- apiGroups: ["coordination.k8s.io"]
  resources: ["leases"]
  verbs: ["get", "create", "update", "delete"]
{{- if $rbac.externalSecrets }}
- apiGroups: ["external-secrets.io"]
  resources: ["externalsecrets"]
  verbs: ["get", "list", "create", "delete"]
- apiGroups: ["external-secrets.io"]
  resources: [{{ if .cluster }}"secretstores", "clustersecretstores"{{ else }}"secretstores"{{ end }}]
  verbs: ["get"]
{{- end }}
{{- end -}}

{{/*
The reference scan: list, never Secrets, in every namespace. (dict "root" $ "cluster" bool): with
scope namespaced it also lists Pods and reads ClusterSecretStores, which the namespaces' Roles cannot.
*/}}
{{- define "rotor.scanRules" -}}
{{- $rbac := .root.Values.rbac -}}
{{- if and (not .cluster) $rbac.externalSecrets }}
- apiGroups: ["external-secrets.io"]
  resources: ["clustersecretstores"]
  verbs: ["get"]
{{- end }}
# The reference scan: the core group without secrets (events are not read either).
- apiGroups: [""]
  resources:
    - configmaps
    - endpoints
    - limitranges
    - namespaces
    - nodes
    - persistentvolumeclaims
    - persistentvolumes
    {{- if not .cluster }}
    - pods
    {{- end }}
    - podtemplates
    - replicationcontrollers
    - resourcequotas
    - serviceaccounts
    - services
    - componentstatuses
  verbs: ["list"]
# The reference scan: Kubernetes' own groups (list only).
- apiGroups:
    - admissionregistration.k8s.io
    - apiregistration.k8s.io
    - apps
    - autoscaling
    - batch
    - certificates.k8s.io
    - coordination.k8s.io
    - discovery.k8s.io
    - flowcontrol.apiserver.k8s.io
    - internal.apiserver.k8s.io
    - networking.k8s.io
    - node.k8s.io
    - policy
    - rbac.authorization.k8s.io
    - resource.k8s.io
    - scheduling.k8s.io
    - storage.k8s.io
    - storagemigration.k8s.io
  resources: ["*"]
  verbs: ["list"]
{{- with $rbac.scanGroups }}
# The reference scan: operators whose resources commonly name Secrets (list only; a group that is
# not installed grants nothing).
- apiGroups:
    {{- range . }}
    - {{ . }}
    {{- end }}
  resources: ["*"]
  verbs: ["list"]
{{- end }}
{{- end -}}

{{- define "rotor.subjects" -}}
subjects:
  - kind: ServiceAccount
    name: {{ include "rotor.serviceAccountName" . }}
    namespace: {{ .Release.Namespace }}
{{- end -}}
