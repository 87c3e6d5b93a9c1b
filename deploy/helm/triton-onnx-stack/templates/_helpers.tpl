{{/* Names and labels shared by every template. */}}

{{- define "tos.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "tos.fullname" -}}
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

{{- define "tos.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
app.kubernetes.io/name: {{ include "tos.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: triton-onnx-stack
{{- end }}

{{/* Selector of one component (triton, exporter, load-test): call with (list . "triton"). */}}
{{- define "tos.selectorLabels" -}}
{{- $root := index . 0 -}}
app.kubernetes.io/name: {{ include "tos.name" $root }}
app.kubernetes.io/instance: {{ $root.Release.Name }}
app.kubernetes.io/component: {{ index . 1 }}
{{- end }}

{{- define "tos.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "tos.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "tos.image" -}}
{{- printf "%s:%s" .repository .tag }}
{{- end }}

{{/* Where Triton finds the repository: the PVC's subfolder, or the bucket URL. */}}
{{- define "tos.modelRepositoryPath" -}}
{{- $repo := .Values.modelRepository }}
{{- if eq $repo.source "pvc" }}
{{- printf "%s/%s" $repo.pvc.mountPath $repo.pvc.subPath }}
{{- else if eq $repo.source "url" }}
{{- required "modelRepository.url is required with modelRepository.source=url (e.g. s3://bucket/model_repository)" $repo.url }}
{{- else }}
{{- fail (printf "modelRepository.source must be pvc or url, not %q" $repo.source) }}
{{- end }}
{{- end }}

{{- define "tos.claimName" -}}
{{- if .Values.modelRepository.pvc.create }}
{{- printf "%s-models" (include "tos.fullname" .) }}
{{- else }}
{{- required "modelRepository.pvc.existingClaim is required when modelRepository.pvc.create=false" .Values.modelRepository.pvc.existingClaim }}
{{- end }}
{{- end }}

{{- define "tos.controlKeySecret" -}}
{{- default (printf "%s-control-key" (include "tos.fullname" .)) .Values.controlKey.existingSecret }}
{{- end }}

{{/* The environment variable the stack reads its control-API key from (stack_settings.control_key). */}}
{{- define "tos.controlKeyEnv" -}}
- name: TRITON_CONTROL_KEY
  valueFrom:
    secretKeyRef:
      name: {{ include "tos.controlKeySecret" . }}
      key: control-key
- name: CONTROL_KEY_HEADER
  value: {{ .Values.controlKey.header | quote }}
{{- end }}

{{/* Triton pods of this release, as the recording rule's `pod` label names them. */}}
{{- define "tos.podMatchers" -}}
namespace="{{ .Release.Namespace }}", pod=~"{{ include "tos.fullname" . }}-[a-z0-9]+-[a-z0-9]+"
{{- end }}
