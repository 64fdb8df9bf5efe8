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
The ServiceAccount `rotor rbac --service-account` made the values for (rbac.serviceAccount) must be
this release's: the admission policy's matchCondition names that ServiceAccount's username, so
with another one it would confine nobody.
*/}}
{{- define "rotor.checkServiceAccount" -}}
{{- $sa := printf "%s/%s" .Release.Namespace (include "rotor.serviceAccountName" .) -}}
{{- if ne (toString .Values.rbac.serviceAccount) $sa -}}
{{- fail (printf "rbac.serviceAccount is %q but this release's ServiceAccount is %s: generate the values for it, `rotor rbac -f plan.yaml --admission --service-account %s --output helm-values > rbac-values.yaml`, and pass -f rbac-values.yaml (the admission policy names the ServiceAccount it confines; for another, it would confine nobody)" (toString .Values.rbac.serviceAccount) $sa $sa) -}}
{{- end -}}
{{- end -}}

{{/* The metadata of a Role or ClusterRole of rbac.roles or rbac.clusterRoles and of its binding: (list $ role). */}}
{{- define "rotor.rbacMetadata" -}}
{{- $root := index . 0 -}}
{{- $role := index . 1 -}}
metadata:
  name: {{ $role.name }}
  {{- with $role.namespace }}
  namespace: {{ . }}
  {{- end }}
  labels: {{- include "rotor.labels" $root | nindent 4 }}
{{- end -}}

{{- define "rotor.subjects" -}}
subjects:
  - kind: ServiceAccount
    name: {{ include "rotor.serviceAccountName" . }}
    namespace: {{ .Release.Namespace }}
{{- end -}}
