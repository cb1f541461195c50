{{/* Names. */}}
{{- define "forewarn.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "forewarn.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* Cluster-scoped objects carry the namespace too, so two releases never collide. */}}
{{- define "forewarn.clusterName" -}}
{{- printf "%s-%s-reader" .Release.Namespace (include "forewarn.fullname" .) | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "forewarn.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "forewarn.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "forewarn.selectorLabels" -}}
app.kubernetes.io/name: {{ include "forewarn.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "forewarn.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "forewarn.selectorLabels" . }}
app.kubernetes.io/version: {{ .Values.image.tag | default .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}

{{/* The image: repository@digest when a digest is set, else repository:tag. Never latest. */}}
{{- define "forewarn.image" -}}
{{- $tag := .Values.image.tag | default .Chart.AppVersion | toString -}}
{{- if .Values.image.digest -}}
{{- if not (hasPrefix "sha256:" .Values.image.digest) -}}
{{- fail "image.digest must look like sha256:<64 hex digits>" -}}
{{- end -}}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest -}}
{{- else -}}
{{- if eq $tag "latest" -}}
{{- fail "image.tag: latest is not allowed; pin a version (or set image.digest)" -}}
{{- end -}}
{{- printf "%s:%s" .Values.image.repository $tag -}}
{{- end -}}
{{- end -}}

{{/* Several replicas need a leader; leader election can also be asked for with one. */}}
{{- define "forewarn.leaderElection" -}}
{{- if or (gt (int .Values.replicaCount) 1) .Values.leaderElection.enabled -}}true{{- end -}}
{{- end -}}

{{- define "forewarn.leaseName" -}}
{{- default (printf "%s-leader" (include "forewarn.fullname" .)) .Values.leaderElection.leaseName -}}
{{- end -}}

{{/* The ledger type, checked against the replica count. */}}
{{- define "forewarn.ledgerType" -}}
{{- if and (eq .Values.ledger.type "file") (gt (int .Values.replicaCount) 1) -}}
{{- fail "ledger.type=file works with one replica only: use ledger.type=configmap with replicaCount > 1" -}}
{{- end -}}
{{- .Values.ledger.type -}}
{{- end -}}

{{- define "forewarn.ledgerConfigMapName" -}}
{{- default (printf "%s-ledger" (include "forewarn.fullname" .)) .Values.ledger.configMapName -}}
{{- end -}}

{{- define "forewarn.configMapName" -}}
{{- default (printf "%s-config" (include "forewarn.fullname" .)) .Values.config.existingConfigMap -}}
{{- end -}}

{{- define "forewarn.ledgerClaimName" -}}
{{- default (printf "%s-ledger" (include "forewarn.fullname" .)) .Values.ledger.persistence.existingClaim -}}
{{- end -}}
