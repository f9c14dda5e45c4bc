{{/* The dora-events container of every long-running workload: (list $ role withPort) */}}
{{- define "dora-events.container" -}}
{{- $ctx := index . 0 -}}{{- $role := index . 1 -}}{{- $withPort := index . 2 -}}
name: dora-events
image: {{ include "dora-events.image" $ctx }}
imagePullPolicy: {{ $ctx.Values.image.pullPolicy }}
args:
  - serve
  - --role
  - {{ $role }}
ports:
  {{- if $withPort }}
  - name: http
    containerPort: 8080
    protocol: TCP
  {{- else }}
  - name: http1
    containerPort: 8080
  {{- end }}
env:
  {{- include "dora-events.env" (list $ctx $role) | nindent 2 }}
{{- include "dora-events.probes" (list $ctx $withPort) | nindent 0 }}
resources:
  {{- include "dora-events.resources" (list $ctx $role) | nindent 2 }}
securityContext:
  {{- toYaml $ctx.Values.containerSecurityContext | nindent 2 }}
{{- end -}}

{{/* A Deployment (and its Service unless it is a background stage): (list $ role replicas autoscaling) */}}
{{- define "dora-events.deployment" -}}
{{- $ctx := index . 0 -}}{{- $role := index . 1 -}}{{- $replicas := index . 2 -}}{{- $autoscaling := index . 3 -}}
{{- $sqlite := eq $ctx.Values.database.type "sqlite" -}}
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ include "dora-events.componentName" (list $ctx $role) }}
  namespace: {{ $ctx.Release.Namespace }}
  labels:
    {{- include "dora-events.componentLabels" (list $ctx $role) | nindent 4 }}
spec:
  {{- if not $autoscaling }}
  replicas: {{ $replicas }}
  {{- end }}
  revisionHistoryLimit: 3
  {{- if $sqlite }}
  # One SQLite file on a ReadWriteOnce volume: the old pod stops before the new one starts.
  strategy:
    type: Recreate
  {{- end }}
  selector:
    matchLabels:
      {{- include "dora-events.componentSelectorLabels" (list $ctx $role) | nindent 6 }}
  template:
    metadata:
      labels:
        {{- include "dora-events.componentSelectorLabels" (list $ctx $role) | nindent 8 }}
        {{- with $ctx.Values.podLabels }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
      annotations:
        {{- include "dora-events.podAnnotations" $ctx | nindent 8 }}
    spec:
      {{- include "dora-events.podSpecCommon" $ctx | nindent 6 }}
      terminationGracePeriodSeconds: 30
      containers:
        - {{ include "dora-events.container" (list $ctx $role true) | indent 10 | trim }}
          volumeMounts:
            - name: tmp
              mountPath: /tmp
            {{- if $sqlite }}
            - name: data
              mountPath: /var/lib/dora-events
            {{- end }}
            {{- with (include "dora-events.configVolumeMount" $ctx) }}{{ . | nindent 12 }}{{ end }}
            {{- with (include "dora-events.oidcVolumeMount" (list $ctx $role)) }}{{ . | nindent 12 }}{{ end }}
      volumes:
        - name: tmp
          emptyDir:
            sizeLimit: 256Mi
        {{- if $sqlite }}
        - name: data
          {{- if $ctx.Values.database.sqlite.persistence.enabled }}
          persistentVolumeClaim:
            claimName: {{ default (printf "%s-data" (include "dora-events.fullname" $ctx)) $ctx.Values.database.sqlite.persistence.existingClaim }}
          {{- else }}
          emptyDir: {}
          {{- end }}
        {{- end }}
        {{- with (include "dora-events.configVolume" $ctx) }}{{ . | nindent 8 }}{{ end }}
        {{- with (include "dora-events.oidcVolume" (list $ctx $role)) }}{{ . | nindent 8 }}{{ end }}
{{- if has $role (list "all" "ingest" "api") }}
---
apiVersion: v1
kind: Service
metadata:
  name: {{ include "dora-events.componentName" (list $ctx $role) }}
  namespace: {{ $ctx.Release.Namespace }}
  labels:
    {{- include "dora-events.componentLabels" (list $ctx $role) | nindent 4 }}
spec:
  type: {{ $ctx.Values.service.type }}
  ports:
    - name: http
      port: {{ $ctx.Values.service.port }}
      targetPort: http
      protocol: TCP
  selector:
    {{- include "dora-events.componentSelectorLabels" (list $ctx $role) | nindent 4 }}
{{- end }}
{{- if $ctx.Values.networkPolicy.enabled }}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: {{ include "dora-events.componentName" (list $ctx $role) }}
  namespace: {{ $ctx.Release.Namespace }}
  labels:
    {{- include "dora-events.componentLabels" (list $ctx $role) | nindent 4 }}
spec:
  podSelector:
    matchLabels:
      {{- include "dora-events.componentSelectorLabels" (list $ctx $role) | nindent 6 }}
  policyTypes:
    - Ingress
  ingress:
    - ports:
        - port: 8080
          protocol: TCP
      {{- with $ctx.Values.networkPolicy.ingressFrom }}
      from:
        {{- toYaml . | nindent 8 }}
      {{- end }}
{{- end }}
{{- end -}}

{{/* A Knative Service: (list $ role) */}}
{{- define "dora-events.knativeService" -}}
{{- $ctx := index . 0 -}}{{- $role := index . 1 -}}
{{- $kn := index $ctx.Values.knative $role -}}
{{- $component := index $ctx.Values.components $role -}}
apiVersion: serving.knative.dev/v1
kind: Service
metadata:
  name: {{ include "dora-events.componentName" (list $ctx $role) }}
  namespace: {{ $ctx.Release.Namespace }}
  labels:
    {{- include "dora-events.componentLabels" (list $ctx $role) | nindent 4 }}
    {{- with $kn.visibility }}
    networking.knative.dev/visibility: {{ . }}
    {{- end }}
spec:
  template:
    metadata:
      labels:
        {{- include "dora-events.componentSelectorLabels" (list $ctx $role) | nindent 8 }}
        {{- with $ctx.Values.podLabels }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
      annotations:
        {{- include "dora-events.podAnnotations" $ctx | nindent 8 }}
        {{- if has $role (list "ingest" "api") }}
        autoscaling.knative.dev/min-scale: {{ $kn.minScale | quote }}
        autoscaling.knative.dev/max-scale: {{ $kn.maxScale | quote }}
        autoscaling.knative.dev/target: {{ $kn.target | quote }}
        {{- else }}
        # A background stage: it runs passes without requests, so it never scales to zero.
        autoscaling.knative.dev/min-scale: {{ max 1 (int $component.replicas) | quote }}
        autoscaling.knative.dev/max-scale: {{ max 1 (int $component.replicas) | quote }}
        {{- end }}
    spec:
      serviceAccountName: {{ include "dora-events.serviceAccountName" $ctx }}
      automountServiceAccountToken: false
      enableServiceLinks: false
      # The pod-level fields Knative accepts without its kubernetes.podspec-securitycontext flag.
      securityContext:
        {{- toYaml (pick $ctx.Values.podSecurityContext "runAsNonRoot" "runAsUser" "runAsGroup" "seccompProfile") | nindent 8 }}
      {{- with $ctx.Values.imagePullSecrets }}
      imagePullSecrets:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      containers:
        - {{ include "dora-events.container" (list $ctx $role false) | indent 10 | trim }}
          {{- $mounts := list (include "dora-events.configVolumeMount" $ctx) (include "dora-events.oidcVolumeMount" (list $ctx $role)) | compact }}
          {{- with $mounts }}
          volumeMounts:
            {{- range . }}{{ . | nindent 12 }}{{ end }}
          {{- end }}
      {{- $volumes := list (include "dora-events.configVolume" $ctx) (include "dora-events.oidcVolume" (list $ctx $role)) | compact }}
      {{- with $volumes }}
      volumes:
        {{- range . }}{{ . | nindent 8 }}{{ end }}
      {{- end }}
{{- end -}}

{{/* A CronJob running one catch-up pass of a stage: (list $ role schedule) */}}
{{- define "dora-events.cronjob" -}}
{{- $ctx := index . 0 -}}{{- $role := index . 1 -}}{{- $schedule := index . 2 -}}
{{- /* A stage's catch-up pass, unless a job ({args, env}) is given. */ -}}
{{- $job := dict "args" (list "serve" "--role" $role "--once") "env" list -}}
{{- if gt (len .) 3 }}{{ $job = index . 3 }}{{ end -}}
{{- $cj := $ctx.Values.cronjob -}}
apiVersion: batch/v1
kind: CronJob
metadata:
  name: {{ include "dora-events.componentName" (list $ctx $role) }}
  namespace: {{ $ctx.Release.Namespace }}
  labels:
    {{- include "dora-events.componentLabels" (list $ctx $role) | nindent 4 }}
spec:
  schedule: {{ $schedule | quote }}
  concurrencyPolicy: {{ $cj.concurrencyPolicy }}
  successfulJobsHistoryLimit: {{ $cj.successfulJobsHistoryLimit }}
  failedJobsHistoryLimit: {{ $cj.failedJobsHistoryLimit }}
  jobTemplate:
    spec:
      backoffLimit: {{ $cj.backoffLimit }}
      activeDeadlineSeconds: {{ $cj.activeDeadlineSeconds }}
      template:
        metadata:
          labels:
            {{- include "dora-events.componentSelectorLabels" (list $ctx $role) | nindent 12 }}
            {{- with $ctx.Values.podLabels }}
            {{- toYaml . | nindent 12 }}
            {{- end }}
          annotations:
            {{- include "dora-events.podAnnotations" $ctx | nindent 12 }}
        spec:
          {{- include "dora-events.podSpecCommon" $ctx | nindent 10 }}
          restartPolicy: Never
          containers:
            - name: dora-events
              image: {{ include "dora-events.image" $ctx }}
              imagePullPolicy: {{ $ctx.Values.image.pullPolicy }}
              # One pass (a stage's catch-up, or a backfill), printed as JSON; then it exits.
              args:
                {{- toYaml $job.args | nindent 16 }}
              env:
                {{- include "dora-events.env" (list $ctx $role) | nindent 16 }}
                {{- with $job.env }}
                {{- toYaml . | nindent 16 }}
                {{- end }}
              resources:
                {{- include "dora-events.resources" (list $ctx $role) | nindent 16 }}
              securityContext:
                {{- toYaml $ctx.Values.containerSecurityContext | nindent 16 }}
              volumeMounts:
                - name: tmp
                  mountPath: /tmp
                {{- with (include "dora-events.configVolumeMount" $ctx) }}{{ . | nindent 16 }}{{ end }}
          volumes:
            - name: tmp
              emptyDir:
                sizeLimit: 64Mi
            {{- with (include "dora-events.configVolume" $ctx) }}{{ . | nindent 12 }}{{ end }}
{{- if $ctx.Values.networkPolicy.enabled }}
---
# The pass connects out (to the database, a backfill to the tool's API); nothing connects to it.
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: {{ include "dora-events.componentName" (list $ctx $role) }}
  namespace: {{ $ctx.Release.Namespace }}
  labels:
    {{- include "dora-events.componentLabels" (list $ctx $role) | nindent 4 }}
spec:
  podSelector:
    matchLabels:
      {{- include "dora-events.componentSelectorLabels" (list $ctx $role) | nindent 6 }}
  policyTypes:
    - Ingress
{{- end }}
{{- end -}}
