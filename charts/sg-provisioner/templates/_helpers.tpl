{{/* Chart name, truncated to a DNS label. */}}
{{- define "sg-provisioner.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Full name: the release name, unless it already contains the chart name. */}}
{{- define "sg-provisioner.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "sg-provisioner.selectorLabels" -}}
app.kubernetes.io/name: {{ include "sg-provisioner.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "sg-provisioner.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "sg-provisioner.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/component: controller
app.kubernetes.io/part-of: sg-provisioner
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{- define "sg-provisioner.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "sg-provisioner.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "sg-provisioner.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}
{{- end }}

{{/* The controller's rules, for a ClusterRole or for a Role in each watched namespace.
     Split so that each grant can be reasoned about (and tested) on its own. */}}
{{- define "sg-provisioner.controllerRules" -}}
# Watch the sets, and read setRef peers.
- apiGroups: ["sgprovisioner.io"]
  resources: ["securitygroupsets"]
  verbs: ["get", "list", "watch"]
# Add and remove the sgprovisioner.io/finalizer (a JSON patch of metadata.finalizers).
- apiGroups: ["sgprovisioner.io"]
  resources: ["securitygroupsets"]
  verbs: ["patch"]
- apiGroups: ["sgprovisioner.io"]
  resources: ["securitygroupsets/finalizers"]
  verbs: ["update"]
# Conditions, group ids, plan.
- apiGroups: ["sgprovisioner.io"]
  resources: ["securitygroupsets/status"]
  verbs: ["patch"]
# spec.outputs.configMap: read the named ConfigMap (is it the set's?) and list the controller's
# own (by label); server-side apply it (a patch; the first one creates it, which the API server
# authorizes as create too); delete one renamed, removed from the spec, or of a deleted set.
- apiGroups: [""]
  resources: ["configmaps"]
  verbs: ["get", "list", "create", "patch", "delete"]
# Applied, DriftCorrected, Deleted, failures (repeats are patched into a series).
- apiGroups: ["events.k8s.io"]
  resources: ["events"]
  verbs: ["create", "patch"]
{{- end }}
