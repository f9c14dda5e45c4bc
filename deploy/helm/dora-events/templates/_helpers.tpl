{{/* Names */}}
{{- define "dora-events.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "dora-events.fullname" -}}
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

{{/* Name of one component's objects: <fullname>-<role> (mode components), <fullname> (all-in-one). */}}
{{- define "dora-events.componentName" -}}
{{- $ctx := index . 0 -}}{{- $role := index . 1 -}}
{{- if eq $role "all" -}}
{{- include "dora-events.fullname" $ctx -}}
{{- else -}}
{{- printf "%s-%s" (include "dora-events.fullname" $ctx | trunc 55 | trimSuffix "-") $role -}}
{{- end -}}
{{- end -}}

{{- define "dora-events.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Labels */}}
{{- define "dora-events.selectorLabels" -}}
app.kubernetes.io/name: {{ include "dora-events.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "dora-events.labels" -}}
helm.sh/chart: {{ include "dora-events.chart" . }}
{{ include "dora-events.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: dora-events
{{- end -}}

{{/* Labels of one component: (list $ role) */}}
{{- define "dora-events.componentSelectorLabels" -}}
{{- $ctx := index . 0 -}}{{- $role := index . 1 -}}
{{ include "dora-events.selectorLabels" $ctx }}
app.kubernetes.io/component: {{ $role }}
{{- end -}}

{{- define "dora-events.componentLabels" -}}
{{- $ctx := index . 0 -}}{{- $role := index . 1 -}}
{{ include "dora-events.labels" $ctx }}
app.kubernetes.io/component: {{ $role }}
{{- end -}}

{{/* The image reference */}}
{{- define "dora-events.image" -}}
{{- if .Values.image.digest -}}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest -}}
{{- else -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}
{{- end -}}

{{- define "dora-events.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "dora-events.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "dora-events.watcherServiceAccountName" -}}
{{- default (printf "%s-watcher" (include "dora-events.fullname" . | trunc 55 | trimSuffix "-")) .Values.apiServerSource.serviceAccount.name -}}
{{- end -}}

{{/* The Secret and key holding the PostgreSQL URL */}}
{{- define "dora-events.databaseSecretName" -}}
{{- if .Values.postgresql.enabled -}}
{{- printf "%s-database" (include "dora-events.fullname" . | trunc 54 | trimSuffix "-") -}}
{{- else -}}
{{- .Values.database.postgres.existingSecret -}}
{{- end -}}
{{- end -}}

{{- define "dora-events.databaseSecretKey" -}}
{{- if .Values.postgresql.enabled -}}database-url{{- else -}}{{ .Values.database.postgres.existingSecretKey }}{{- end -}}
{{- end -}}

{{- define "dora-events.postgresqlName" -}}
{{- printf "%s-postgresql" (include "dora-events.fullname" . | trunc 52 | trimSuffix "-") -}}
{{- end -}}

{{/* Refuses combinations that cannot work, with the reason. Included by every workload. */}}
{{- define "dora-events.validate" -}}
{{- if not (has .Values.mode (list "all-in-one" "components")) -}}
{{- fail (printf "mode must be all-in-one or components, not %q" .Values.mode) -}}
{{- end -}}
{{- if not (has .Values.database.type (list "sqlite" "postgres")) -}}
{{- fail (printf "database.type must be sqlite or postgres, not %q" .Values.database.type) -}}
{{- end -}}
{{- if and (eq .Values.mode "components") (eq .Values.database.type "sqlite") -}}
{{- fail "mode components needs database.type postgres: its processes share one database (set database.postgres.existingSecret, or postgresql.enabled for a bundled server)" -}}
{{- end -}}
{{- if and (eq .Values.database.type "sqlite") (gt (int .Values.allInOne.replicas) 1) -}}
{{- fail "allInOne.replicas must be 1 on SQLite (one file on a ReadWriteOnce volume); use database.type postgres for more" -}}
{{- end -}}
{{- if eq .Values.database.type "postgres" -}}
{{- if and .Values.postgresql.enabled .Values.database.postgres.existingSecret -}}
{{- fail "set either postgresql.enabled (bundled server) or database.postgres.existingSecret (your server), not both" -}}
{{- end -}}
{{- if not (or .Values.postgresql.enabled .Values.database.postgres.existingSecret) -}}
{{- fail "database.type postgres needs database.postgres.existingSecret (a Secret with the URL) or postgresql.enabled" -}}
{{- end -}}
{{- else if .Values.postgresql.enabled -}}
{{- fail "postgresql.enabled needs database.type postgres" -}}
{{- end -}}
{{- if and .Values.knative.enabled (ne .Values.mode "components") -}}
{{- fail "knative.enabled applies to mode components (all-in-one keeps its SQLite volume and runs as a Deployment)" -}}
{{- end -}}
{{- with .Values.backfillBitbucket -}}
{{- if .enabled -}}
{{- if ne $.Values.database.type "postgres" -}}
{{- fail "backfillBitbucket.enabled needs database.type postgres (its CronJob writes into the database the server's pod holds on SQLite)" -}}
{{- end -}}
{{- if not .repos -}}
{{- fail "backfillBitbucket.enabled needs backfillBitbucket.repos (WORKSPACE/REPOSITORY, each)" -}}
{{- end -}}
{{- if not .tokenSecret.name -}}
{{- fail "backfillBitbucket.enabled needs backfillBitbucket.tokenSecret.name (a Secret holding the Bitbucket token)" -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- if .Values.auth.oidc.enabled -}}
{{- if not .Values.auth.oidc.issuer -}}
{{- fail "auth.oidc.enabled needs auth.oidc.issuer (kubectl get --raw /.well-known/openid-configuration)" -}}
{{- end -}}
{{- if and (not .Values.auth.oidc.subjects) (not .Values.apiServerSource.enabled) -}}
{{- fail "auth.oidc.enabled needs auth.oidc.subjects when apiServerSource.enabled is false (no source of the chart's to allow)" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* The OIDC audience of the ingest sink */}}
{{- define "dora-events.oidcAudience" -}}
{{- default (printf "%s.%s" (include "dora-events.fullname" .) .Release.Namespace) .Values.auth.oidc.audience -}}
{{- end -}}

{{/* Allowed OIDC subjects, comma-separated: the values', or the ApiServerSource's OIDC service
account as Knative Eventing names it (oidc-<group>-<kind>-<name> in older releases,
<name>-oidc-<group>-<kind> in newer ones) */}}
{{- define "dora-events.oidcSubjects" -}}
{{- $subjects := .Values.auth.oidc.subjects -}}
{{- if not $subjects -}}
{{- $source := include "dora-events.fullname" . -}}
{{- $prefix := printf "system:serviceaccount:%s:" .Release.Namespace -}}
{{- $subjects = list (printf "%soidc-sources.knative.dev-apiserversource-%s" $prefix $source) (printf "%s%s-oidc-sources.knative.dev-apiserversource" $prefix $source) -}}
{{- end -}}
{{- join "," $subjects -}}
{{- end -}}

{{/* Where the ingest pods find the token and CA for fetching the OIDC keys */}}
{{- define "dora-events.oidcDir" -}}/var/run/secrets/dora-events/oidc{{- end -}}

{{/* The OIDC volume mount and volume of an ingest container: (list $ role) */}}
{{- define "dora-events.oidcVolumeMount" -}}
{{- $ctx := index . 0 -}}{{- $role := index . 1 -}}
{{- if and $ctx.Values.auth.oidc.enabled $ctx.Values.auth.oidc.jwksToken (has $role (list "all" "ingest")) -}}
- name: oidc
  mountPath: {{ include "dora-events.oidcDir" $ctx }}
  readOnly: true
{{- end -}}
{{- end -}}

{{- define "dora-events.oidcVolume" -}}
{{- $ctx := index . 0 -}}{{- $role := index . 1 -}}
{{- if and $ctx.Values.auth.oidc.enabled $ctx.Values.auth.oidc.jwksToken (has $role (list "all" "ingest")) -}}
# A token for the API server only (its default audience), to read its keys; nothing else is
# mounted (automountServiceAccountToken stays false).
- name: oidc
  projected:
    sources:
      - serviceAccountToken:
          path: token
          expirationSeconds: 3600
      - configMap:
          name: kube-root-ca.crt
          items:
            - key: ca.crt
              path: ca.crt
{{- end -}}
{{- end -}}

{{/* Environment of every dora-events container: (list $ role) */}}
{{- define "dora-events.env" -}}
{{- $ctx := index . 0 -}}{{- $role := index . 1 -}}
- name: DORA_LISTEN
  value: "0.0.0.0:8080"
- name: RUST_LOG
  value: {{ $ctx.Values.logLevel | quote }}
{{- if eq $ctx.Values.database.type "sqlite" }}
- name: DORA_DATABASE_URL
  value: {{ printf "sqlite:///var/lib/dora-events/%s" $ctx.Values.database.sqlite.file | quote }}
{{- else }}
- name: DORA_DATABASE_URL
  valueFrom:
    secretKeyRef:
      name: {{ include "dora-events.databaseSecretName" $ctx }}
      key: {{ include "dora-events.databaseSecretKey" $ctx }}
{{- end }}
{{- if $ctx.Values.config.toml }}
- name: DORA_CONFIG
  value: /etc/dora-events/dora-events.toml
{{- end }}
{{- if and $ctx.Values.webhooks.existingSecret (has $role (list "all" "ingest")) }}
{{- $keys := $ctx.Values.webhooks.keys }}
{{- range $tool, $field := dict "github" "SECRET" "gitlab" "TOKEN" "argocd" "TOKEN" "alertmanager" "TOKEN" "pagerduty" "SECRET" "flux" "SECRET" "opsgenie" "TOKEN" "jira" "SECRET" "bitbucket" "SECRET" }}
- name: {{ printf "DORA_WEBHOOKS__%s__%s" (upper $tool) $field }}
  valueFrom:
    secretKeyRef:
      name: {{ $ctx.Values.webhooks.existingSecret }}
      key: {{ index $keys $tool }}
      optional: true
{{- end }}
{{- end }}
{{- if include "dora-events.authSecretName" $ctx }}
{{- if $ctx.Values.auth.ingest.enabled }}
- name: DORA_AUTH__INGEST_TOKEN_FILES
  value: {{ printf "%s/%s" (include "dora-events.authDir" $ctx) $ctx.Values.auth.ingest.key | quote }}
{{- end }}
{{- if $ctx.Values.auth.read.enabled }}
- name: DORA_AUTH__READ_TOKEN_FILES
  value: {{ printf "%s/%s" (include "dora-events.authDir" $ctx) $ctx.Values.auth.read.key | quote }}
{{- end }}
{{- end }}
{{- if $ctx.Values.auth.metricsOpen }}
- name: DORA_AUTH__METRICS_OPEN
  value: "true"
{{- end }}
{{- $oidc := $ctx.Values.auth.oidc }}
{{- if and $oidc.enabled (has $role (list "all" "ingest")) }}
- name: DORA_AUTH__OIDC__ISSUER
  value: {{ $oidc.issuer | quote }}
{{- with $oidc.jwksUrl }}
- name: DORA_AUTH__OIDC__JWKS_URL
  value: {{ . | quote }}
{{- end }}
- name: DORA_AUTH__OIDC__AUDIENCES
  value: {{ include "dora-events.oidcAudience" $ctx | quote }}
- name: DORA_AUTH__OIDC__SUBJECTS
  value: {{ include "dora-events.oidcSubjects" $ctx | quote }}
- name: DORA_AUTH__OIDC__LEEWAY
  value: {{ $oidc.leeway | quote }}
{{- if $oidc.jwksToken }}
- name: DORA_AUTH__OIDC__JWKS_TOKEN_FILE
  value: {{ printf "%s/token" (include "dora-events.oidcDir" $ctx) | quote }}
- name: DORA_AUTH__OIDC__CA_FILE
  value: {{ printf "%s/ca.crt" (include "dora-events.oidcDir" $ctx) | quote }}
{{- end }}
{{- end }}
{{- range $name, $value := $ctx.Values.config.env }}
- name: {{ $name }}
  value: {{ $value | toString | quote }}
{{- end }}
{{- end -}}

{{/* Pod-level settings shared by Deployments, CronJobs and the test Pod */}}
{{- define "dora-events.podSpecCommon" -}}
serviceAccountName: {{ include "dora-events.serviceAccountName" . }}
automountServiceAccountToken: false
enableServiceLinks: false
securityContext:
  {{- toYaml .Values.podSecurityContext | nindent 2 }}
{{- with .Values.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.priorityClassName }}
priorityClassName: {{ . }}
{{- end }}
{{- with .Values.nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.affinity }}
affinity:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end -}}

{{/* Pod template annotations: a configuration change rolls the pods */}}
{{- define "dora-events.podAnnotations" -}}
checksum/config: {{ .Values.config.toml | sha256sum }}
{{- with .Values.podAnnotations }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{/* Resources of a component: its own when given, else the defaults. (list $ role) */}}
{{- define "dora-events.resources" -}}
{{- $ctx := index . 0 -}}{{- $role := index . 1 -}}
{{- $own := dict -}}
{{- if eq $role "all" -}}
{{- $own = $ctx.Values.allInOne.resources -}}
{{- else if eq $role "backfill-bitbucket" -}}
{{- $own = $ctx.Values.backfillBitbucket.resources -}}
{{- else -}}
{{- $own = (index $ctx.Values.components $role).resources -}}
{{- end -}}
{{- toYaml (default $ctx.Values.resources $own) -}}
{{- end -}}

{{/* The HTTP probes (Knative forbids a port on them; Deployments name it) */}}
{{- define "dora-events.probes" -}}
{{- $ctx := index . 0 -}}{{- $withPort := index . 1 -}}
{{- $p := $ctx.Values.probes -}}
livenessProbe:
  httpGet:
    path: {{ $p.liveness.path }}
    {{- if $withPort }}
    port: http
    {{- end }}
  periodSeconds: {{ $p.liveness.periodSeconds }}
  timeoutSeconds: {{ $p.liveness.timeoutSeconds }}
  failureThreshold: {{ $p.liveness.failureThreshold }}
readinessProbe:
  httpGet:
    path: {{ $p.readiness.path }}
    {{- if $withPort }}
    port: http
    {{- end }}
  periodSeconds: {{ $p.readiness.periodSeconds }}
  timeoutSeconds: {{ $p.readiness.timeoutSeconds }}
  failureThreshold: {{ $p.readiness.failureThreshold }}
{{- if $withPort }}
startupProbe:
  httpGet:
    path: {{ $p.liveness.path }}
    port: http
  periodSeconds: {{ $p.startup.periodSeconds }}
  failureThreshold: {{ $p.startup.failureThreshold }}
{{- end }}
{{- end -}}

{{/* The configuration volume (only when config.toml is set) */}}
{{- define "dora-events.configVolumeMount" -}}
{{- if .Values.config.toml }}
- name: config
  mountPath: /etc/dora-events
  readOnly: true
{{- end }}
{{- if include "dora-events.authSecretName" . }}
- name: auth
  mountPath: {{ include "dora-events.authDir" . }}
  readOnly: true
{{- end }}
{{- end -}}

{{- define "dora-events.configVolume" -}}
{{- if .Values.config.toml }}
- name: config
  configMap:
    name: {{ include "dora-events.fullname" . }}-config
{{- end }}
{{- with (include "dora-events.authSecretName" .) }}
- name: auth
  # Not subPath: a mounted Secret is updated in place when it changes, and the server re-reads it.
  secret:
    secretName: {{ . }}
    defaultMode: 0440
{{- end }}
{{- end -}}

{{/* The Secret holding the tokens ([auth]), or nothing when the chart sets none */}}
{{- define "dora-events.authSecretName" -}}
{{- if .Values.auth.existingSecret -}}
{{ .Values.auth.existingSecret }}
{{- else if and .Values.auth.create (or .Values.auth.ingest.enabled .Values.auth.read.enabled) -}}
{{ include "dora-events.fullname" . }}-auth
{{- end -}}
{{- end -}}

{{- define "dora-events.authDir" -}}/var/run/secrets/dora-events/auth{{- end -}}

{{/* How a sink reaches the ingest stage: a `ref` that Knative resolves */}}
{{- define "dora-events.ingestSinkRef" -}}
{{- if eq .Values.mode "all-in-one" -}}
apiVersion: v1
kind: Service
name: {{ include "dora-events.fullname" . }}
{{- else if .Values.knative.enabled -}}
apiVersion: serving.knative.dev/v1
kind: Service
name: {{ include "dora-events.componentName" (list . "ingest") }}
{{- else -}}
apiVersion: v1
kind: Service
name: {{ include "dora-events.componentName" (list . "ingest") }}
{{- end }}
namespace: {{ .Release.Namespace }}
{{- end -}}

{{/* In-cluster base URL of the ingest stage and of the query API (for NOTES) */}}
{{- define "dora-events.ingestURL" -}}
{{- $name := ternary (include "dora-events.fullname" .) (include "dora-events.componentName" (list . "ingest")) (eq .Values.mode "all-in-one") -}}
{{- if and (eq .Values.mode "components") .Values.knative.enabled -}}
http://{{ $name }}.{{ .Release.Namespace }}.svc.cluster.local
{{- else -}}
http://{{ $name }}.{{ .Release.Namespace }}.svc.cluster.local{{ if ne (int .Values.service.port) 80 }}:{{ .Values.service.port }}{{ end }}
{{- end -}}
{{- end -}}

{{- define "dora-events.apiURL" -}}
{{- $name := ternary (include "dora-events.fullname" .) (include "dora-events.componentName" (list . "api")) (eq .Values.mode "all-in-one") -}}
{{- if and (eq .Values.mode "components") .Values.knative.enabled -}}
http://{{ $name }}.{{ .Release.Namespace }}.svc.cluster.local
{{- else -}}
http://{{ $name }}.{{ .Release.Namespace }}.svc.cluster.local{{ if ne (int .Values.service.port) 80 }}:{{ .Values.service.port }}{{ end }}
{{- end -}}
{{- end -}}
