{{/* The chart's name. */}}
{{- define "astroplane.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* The release's full name: the prefix of every object's name. */}}
{{- define "astroplane.fullname" -}}
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

{{/* Labels every object carries. */}}
{{- define "astroplane.labels" -}}
app.kubernetes.io/name: {{ include "astroplane.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{ include "astroplane.commonLabels" . }}
{{- end -}}

{{/* The labels that select nothing: besides selectorLabels on pods. */}}
{{- define "astroplane.commonLabels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: astroplane
{{- end -}}

{{/* Selector labels of one component: include with (dict "ctx" $ "component" "api"). */}}
{{- define "astroplane.selectorLabels" -}}
app.kubernetes.io/name: {{ include "astroplane.name" .ctx }}
app.kubernetes.io/instance: {{ .ctx.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "astroplane.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "astroplane.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "astroplane.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}

{{/* The Secret holding the keys: the user's or the chart's. */}}
{{- define "astroplane.secretName" -}}
{{- default (include "astroplane.fullname" .) .Values.secrets.existingSecret -}}
{{- end -}}

{{/* Whether the chart makes the Secret. */}}
{{- define "astroplane.createSecret" -}}
{{- if not .Values.secrets.existingSecret -}}true{{- end -}}
{{- end -}}

{{/*
The Secret and key of ASTRO_DATABASE_URL, as "name/key"; fails on values that give
none, or a URL the chart cannot store. migrations=true names the hook Secret the
migrations Job reads before the release's own Secret exists.
*/}}
{{- define "astroplane.databaseURLRef" -}}
{{- $db := .ctx.Values.database -}}
{{- if and $db.url $db.existingSecret.name -}}
{{- fail "database: give database.url or database.existingSecret.name, not both" -}}
{{- else if $db.existingSecret.name -}}
{{- printf "%s/%s" $db.existingSecret.name (default "ASTRO_DATABASE_URL" $db.existingSecret.key) -}}
{{- else if $db.url -}}
{{- if .ctx.Values.secrets.existingSecret -}}
{{- fail "database.url: with secrets.existingSecret, put ASTRO_DATABASE_URL in that Secret (or name another with database.existingSecret.name) instead" -}}
{{- end -}}
{{- if .migrations -}}
{{- printf "%s-migrations/ASTRO_DATABASE_URL" (include "astroplane.fullname" .ctx) -}}
{{- else -}}
{{- printf "%s/ASTRO_DATABASE_URL" (include "astroplane.fullname" .ctx) -}}
{{- end -}}
{{- else if .ctx.Values.secrets.existingSecret -}}
{{- printf "%s/ASTRO_DATABASE_URL" .ctx.Values.secrets.existingSecret -}}
{{- else -}}
{{- fail "database: set database.url (postgres://USER:PASSWORD@HOST:5432/DB?sslmode=require) or database.existingSecret.name" -}}
{{- end -}}
{{- end -}}

{{/* ASTRO_DATABASE_URL as a container env entry: include with (dict "ctx" $ "migrations" bool). */}}
{{- define "astroplane.databaseURLEnv" -}}
{{- $ref := include "astroplane.databaseURLRef" . | split "/" -}}
- name: ASTRO_DATABASE_URL
  valueFrom:
    secretKeyRef:
      name: {{ $ref._0 }}
      key: {{ $ref._1 }}
{{- end -}}

{{/* A variable from the keys' Secret, absent when the Secret lacks it: (dict "ctx" $ "name" "ASTRO_…"). */}}
{{- define "astroplane.secretEnv" -}}
- name: {{ .name }}
  valueFrom:
    secretKeyRef:
      name: {{ include "astroplane.secretName" .ctx }}
      key: {{ .name }}
      optional: true
{{- end -}}

{{/* Pod annotations that roll the pods when their configuration changes. */}}
{{- define "astroplane.configChecksums" -}}
checksum/config: {{ include (print .Template.BasePath "/configmap.yaml") . | sha256sum }}
checksum/secret: {{ include (print .Template.BasePath "/secret.yaml") . | sha256sum }}
{{- end -}}

{{- define "astroplane.metricsAnnotations" -}}
{{- if and .Values.metrics.enabled .Values.metrics.podAnnotations -}}
prometheus.io/scrape: "true"
prometheus.io/port: {{ .Values.metrics.port | quote }}
prometheus.io/path: /metrics
{{- end -}}
{{- end -}}

{{/* Where the Temporal TLS Secret is mounted. */}}
{{- define "astroplane.temporalTLSDir" -}}
/etc/astroplane/temporal-tls
{{- end -}}

{{/* The Temporal TLS volume mount, when there is a Secret to mount. */}}
{{- define "astroplane.temporalTLSMount" -}}
{{- if .Values.temporal.tls.secretName -}}
- name: temporal-tls
  mountPath: {{ include "astroplane.temporalTLSDir" . }}
  readOnly: true
{{- end -}}
{{- end -}}

{{/* The Temporal TLS volume: only the keys the values name, so a missing one fails the pod's start, saying which. */}}
{{- define "astroplane.temporalTLSVolume" -}}
{{- with .Values.temporal.tls -}}
{{- if .secretName -}}
- name: temporal-tls
  secret:
    secretName: {{ .secretName }}
    defaultMode: 0440
    items:
      {{- range $k := list .caKey .certKey .keyKey }}
      {{- if $k }}
      - {key: {{ $k }}, path: {{ $k }}}
      {{- end }}
      {{- end }}
{{- end }}
{{- end -}}
{{- end -}}
