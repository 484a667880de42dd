{{/*
Shared helpers. Resource names follow seeds 000 and 004 (backend-service, postgres-service, ...)
because the application and its operators know them by those names; the namespaces keep one
release per cluster apart.
*/}}

{{- define "dashboard.chart" -}}
{{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Labels of every object; call with (dict "root" $ "component" "backend"). */}}
{{- define "dashboard.labels" -}}
helm.sh/chart: {{ include "dashboard.chart" .root }}
{{ include "dashboard.selectorLabels" . }}
app.kubernetes.io/part-of: {{ .root.Chart.Name }}
app.kubernetes.io/version: {{ .root.Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .root.Release.Service }}
{{- end }}

{{/* The labels a workload selects its pods by; call with (dict "root" $ "component" "backend"). */}}
{{- define "dashboard.selectorLabels" -}}
app.kubernetes.io/name: {{ .root.Chart.Name }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{/*
An image reference from one image block; call with (dict "image" .Values.x.image "root" $).
registry/repository@digest when a digest is set (the tag is then ignored), else
registry/repository:tag. global.imageRegistry replaces every block's registry.
*/}}
{{- define "dashboard.image" -}}
{{- $img := .image -}}
{{- $registry := default $img.registry .root.Values.global.imageRegistry -}}
{{- if not $img.repository -}}
{{- fail "an image block has no repository" -}}
{{- end -}}
{{- $name := $img.repository -}}
{{- if $registry -}}
{{- $name = printf "%s/%s" $registry $img.repository -}}
{{- end -}}
{{- if $img.digest -}}
{{- if not (regexMatch "^sha256:[0-9a-f]{64}$" $img.digest) -}}
{{- fail (printf "image %s: digest %q is not sha256:<64 lowercase hex>" $name $img.digest) -}}
{{- end -}}
{{- printf "%s@%s" $name $img.digest -}}
{{- else if $img.tag -}}
{{- printf "%s:%s" $name (toString $img.tag) -}}
{{- else -}}
{{- fail (printf "image %s has neither a tag nor a digest" $name) -}}
{{- end -}}
{{- end }}

{{/* The pull secrets of every pod: the global list plus the chart's own, if it creates one. */}}
{{- define "dashboard.imagePullSecrets" -}}
{{- $refs := list -}}
{{- range .Values.global.imagePullSecrets -}}
{{- if kindIs "map" . -}}
{{- $refs = append $refs (dict "name" .name) -}}
{{- else -}}
{{- $refs = append $refs (dict "name" .) -}}
{{- end -}}
{{- end -}}
{{- if .Values.global.pullSecret.create -}}
{{- $refs = append $refs (dict "name" .Values.global.pullSecret.name) -}}
{{- end -}}
{{- if $refs -}}
imagePullSecrets:
  {{- toYaml ($refs | uniq) | nindent 2 }}
{{- else -}}
imagePullSecrets: []
{{- end -}}
{{- end }}

{{/* Pod-level security context; call with (dict "uid" 10001 "gid" 10001). */}}
{{- define "dashboard.podSecurityContext" -}}
securityContext:
  runAsNonRoot: true
  runAsUser: {{ .uid }}
  runAsGroup: {{ .gid }}
  fsGroup: {{ .gid }}
  fsGroupChangePolicy: OnRootMismatch
  seccompProfile:
    type: RuntimeDefault
{{- end }}

{{/* Container-level security context of every container that needs no privilege at all. */}}
{{- define "dashboard.containerSecurityContext" -}}
securityContext:
  allowPrivilegeEscalation: false
  readOnlyRootFilesystem: true
  runAsNonRoot: true
  capabilities:
    drop: ["ALL"]
{{- end }}

{{/*
The spec of a PersistentVolumeClaim; call with (dict "root" $ "class" "" "accessMode" "ReadWriteOnce"
"size" "10Gi"). An empty class falls back to global.storageClass, then to the cluster's default.
*/}}
{{- define "dashboard.pvcSpec" -}}
accessModes: [{{ default "ReadWriteOnce" .accessMode }}]
{{- with default .root.Values.global.storageClass .class }}
storageClassName: {{ . | quote }}
{{- end }}
resources:
  requests:
    storage: {{ .size }}
{{- end }}

{{/* Cluster-internal DNS name of a Service; call with (dict "root" $ "name" "x" "namespace" "y"). */}}
{{- define "dashboard.serviceHost" -}}
{{ printf "%s.%s.svc.%s" .name .namespace .root.Values.global.clusterDomain }}
{{- end }}

{{/* Where the database is: in the cluster or the customer's own (managed mode). */}}
{{- define "dashboard.database.host" -}}
{{- if .Values.postgresql.enabled -}}
{{ include "dashboard.serviceHost" (dict "root" . "name" "postgres-service" "namespace" .Values.namespaces.backend) }}
{{- else -}}
{{ required "externalDatabase.host is required when postgresql.enabled=false" .Values.externalDatabase.host }}
{{- end -}}
{{- end }}

{{- define "dashboard.database.port" -}}
{{ ternary 5432 .Values.externalDatabase.port .Values.postgresql.enabled }}
{{- end }}

{{- define "dashboard.database.name" -}}
{{ ternary .Values.postgresql.database .Values.externalDatabase.database .Values.postgresql.enabled }}
{{- end }}

{{- define "dashboard.database.user" -}}
{{ ternary .Values.postgresql.username .Values.externalDatabase.username .Values.postgresql.enabled }}
{{- end }}

{{- define "dashboard.database.sslMode" -}}
{{ ternary "disable" .Values.externalDatabase.sslMode .Values.postgresql.enabled }}
{{- end }}

{{- define "dashboard.redis.host" -}}
{{- if .Values.redis.enabled -}}
{{ include "dashboard.serviceHost" (dict "root" . "name" "redis-service" "namespace" .Values.namespaces.backend) }}
{{- else -}}
{{ required "externalRedis.host is required when redis.enabled=false" .Values.externalRedis.host }}
{{- end -}}
{{- end }}

{{- define "dashboard.redis.port" -}}
{{ ternary 6379 .Values.externalRedis.port .Values.redis.enabled }}
{{- end }}

{{- define "dashboard.redis.tls" -}}
{{ ternary "false" (toString .Values.externalRedis.tls) .Values.redis.enabled }}
{{- end }}

{{/* The Secret holding SECRET_KEY, POSTGRES_PASSWORD, ... in the backend namespace. */}}
{{- define "dashboard.secretName" -}}
{{ default "backend-secrets" .Values.secrets.existingSecret }}
{{- end }}

{{/* Its copy in the pipeline namespace. */}}
{{- define "dashboard.pipeline.secretName" -}}
{{ default "pipeline-secrets" .Values.secrets.existingSecret }}
{{- end }}

{{/*
One value of backend-secrets: from values, else from the Secret already in the cluster (so that
upgrades keep generated passwords), else generated. The result is written back into .Values so
that every template of this render (the pipeline's copy included) sees the same value.
Call with (dict "root" $ "field" "postgresPassword" "key" "POSTGRES_PASSWORD").
*/}}
{{- define "dashboard.secretValue" -}}
{{- $secrets := .root.Values.secrets -}}
{{- $value := get $secrets .field | toString -}}
{{- if not $value -}}
{{- $existing := lookup "v1" "Secret" .root.Values.namespaces.backend "backend-secrets" -}}
{{- if and $existing $existing.data (hasKey $existing.data .key) -}}
{{- $value = index $existing.data .key | b64dec -}}
{{- else -}}
{{- $value = randAlphaNum 40 -}}
{{- end -}}
{{- $_ := set $secrets .field $value -}}
{{- end -}}
{{- $value -}}
{{- end }}

{{/* The data of backend-secrets, base64-encoded, as a YAML map. */}}
{{- define "dashboard.secretData" -}}
{{- $root := . -}}
SECRET_KEY: {{ include "dashboard.secretValue" (dict "root" $root "field" "secretKey" "key" "SECRET_KEY") | b64enc | quote }}
JWT_SECRET_KEY: {{ include "dashboard.secretValue" (dict "root" $root "field" "jwtSecretKey" "key" "JWT_SECRET_KEY") | b64enc | quote }}
{{- if .Values.postgresql.enabled }}
POSTGRES_PASSWORD: {{ include "dashboard.secretValue" (dict "root" $root "field" "postgresPassword" "key" "POSTGRES_PASSWORD") | b64enc | quote }}
{{- else }}
POSTGRES_PASSWORD: {{ required "secrets.postgresPassword (or secrets.existingSecret) is required for an external database" .Values.secrets.postgresPassword | b64enc | quote }}
{{- end }}
{{- if .Values.redis.enabled }}
REDIS_PASSWORD: {{ include "dashboard.secretValue" (dict "root" $root "field" "redisPassword" "key" "REDIS_PASSWORD") | b64enc | quote }}
{{- else if .Values.secrets.redisPassword }}
REDIS_PASSWORD: {{ .Values.secrets.redisPassword | b64enc | quote }}
{{- end }}
{{- with .Values.secrets.aiApiKey }}
AI_API_KEY: {{ . | b64enc | quote }}
{{- end }}
{{- with .Values.secrets.aiApiUrl }}
AI_API_URL: {{ . | b64enc | quote }}
{{- end }}
{{- if ne .Values.storage.type "local" }}
STORAGE_CONNECTION_STRING: {{ required "secrets.storageConnectionString (or secrets.existingSecret) is required for object storage" .Values.secrets.storageConnectionString | b64enc | quote }}
{{- end }}
{{- end }}

{{/*
Environment variables from backend-secrets (or "secret", its copy in another namespace); call with
(dict "root" $ "keys" (list "POSTGRES_PASSWORD" ...)). Keys that may be absent are optional.
*/}}
{{- define "dashboard.secretEnv" -}}
{{- $name := default (include "dashboard.secretName" .root) .secret -}}
{{- $env := list -}}
{{- range .keys -}}
{{- $ref := dict "name" $name "key" . -}}
{{- if has . (list "REDIS_PASSWORD" "AI_API_KEY" "AI_API_URL") -}}
{{- $_ := set $ref "optional" true -}}
{{- end -}}
{{- $env = append $env (dict "name" . "valueFrom" (dict "secretKeyRef" $ref)) -}}
{{- end -}}
{{- toYaml $env -}}
{{- end }}

{{/*
An init container that waits until the pod's dependencies accept connections, so that the
application starts only once they are up. Call with (dict "root" $ "database" true "redis" true).
*/}}
{{- define "dashboard.waitForDependencies" -}}
{{- $root := .root -}}
{{- $targets := list -}}
{{- if .database -}}
{{- $targets = append $targets (printf "%s:%s" (include "dashboard.database.host" $root) (include "dashboard.database.port" $root)) -}}
{{- end -}}
{{- if .redis -}}
{{- $targets = append $targets (printf "%s:%s" (include "dashboard.redis.host" $root) (include "dashboard.redis.port" $root)) -}}
{{- end -}}
- name: wait-for-dependencies
  image: {{ include "dashboard.image" (dict "image" $root.Values.tools.image "root" $root) }}
  imagePullPolicy: {{ $root.Values.global.imagePullPolicy }}
  command:
    - sh
    - -c
    - |
      for target in $TARGETS; do
        until nc -z -w 2 "${target%:*}" "${target##*:}"; do
          echo "waiting for $target"
          sleep 2
        done
      done
  env:
    - name: TARGETS
      value: {{ join " " $targets | quote }}
  {{- include "dashboard.containerSecurityContext" $root | nindent 2 }}
  resources:
    {{- toYaml $root.Values.tools.resources | nindent 4 }}
{{- end }}

{{/* A NetworkPolicy egress rule to the cluster DNS. */}}
{{- define "dashboard.dnsEgress" -}}
- to:
    - namespaceSelector:
        matchLabels:
          {{- toYaml .Values.networkPolicy.dns.namespaceSelector | nindent 10 }}
      {{- with .Values.networkPolicy.dns.podSelector }}
      podSelector:
        matchLabels:
          {{- toYaml . | nindent 10 }}
      {{- end }}
  ports:
    - {protocol: UDP, port: 53}
    - {protocol: TCP, port: 53}
{{- end }}

{{/* NetworkPolicy egress rules to the Kubernetes API. */}}
{{- define "dashboard.kubeApiEgress" -}}
- ports:
    {{- range .Values.networkPolicy.kubeApiServer.ports }}
    - {protocol: TCP, port: {{ . }}}
    {{- end }}
  {{- with .Values.networkPolicy.kubeApiServer.cidrs }}
  to:
    {{- range . }}
    - ipBlock:
        cidr: {{ . }}
    {{- end }}
  {{- end }}
{{- end }}

{{/* NetworkPolicy egress rules to the customer's endpoints outside the cluster. */}}
{{- define "dashboard.externalEgress" -}}
{{- range .Values.networkPolicy.externalEgress }}
- to:
    - ipBlock:
        cidr: {{ required "networkPolicy.externalEgress entries need a cidr" .cidr }}
  {{- with .ports }}
  ports:
    {{- range . }}
    - {protocol: TCP, port: {{ . }}}
    {{- end }}
  {{- end }}
{{- end }}
{{- end }}

{{/* The NetworkPolicy peer of the ingress controller pods. */}}
{{- define "dashboard.ingressControllerPeer" -}}
{{- if .Values.ingressController.enabled -}}
- namespaceSelector:
    matchLabels:
      kubernetes.io/metadata.name: {{ .Values.namespaces.ingressController }}
  podSelector:
    matchLabels:
      {{- include "dashboard.selectorLabels" (dict "root" . "component" "ingress-controller") | nindent 6 }}
{{- else -}}
- namespaceSelector:
    matchLabels:
      {{- toYaml .Values.networkPolicy.ingressController.namespaceSelector | nindent 6 }}
  {{- with .Values.networkPolicy.ingressController.podSelector }}
  podSelector:
    matchLabels:
      {{- toYaml . | nindent 6 }}
  {{- end }}
{{- end -}}
{{- end }}

{{/* The NetworkPolicy peer of the Prometheus pods. */}}
{{- define "dashboard.prometheusPeer" -}}
- namespaceSelector:
    matchLabels:
      kubernetes.io/metadata.name: {{ .Values.namespaces.shared }}
  podSelector:
    matchLabels:
      {{- include "dashboard.selectorLabels" (dict "root" . "component" "prometheus") | nindent 6 }}
{{- end }}

{{/* Annotations that make Prometheus scrape a pod; call with (dict "port" 5000 "path" "/metrics"). */}}
{{- define "dashboard.scrapeAnnotations" -}}
prometheus.io/scrape: "true"
prometheus.io/port: {{ .port | quote }}
prometheus.io/path: {{ .path | quote }}
{{- end }}

{{/*
The document pipeline's services (seed 002): values key, name, port, health path and who calls
them. Returned as YAML; read with fromYaml.
*/}}
{{- define "dashboard.pipeline.services" -}}
apiGateway: {name: api-gateway, port: 8000, health: /health, calledBy: [ingress]}
workflowOrchestrator: {name: workflow-orchestrator, port: 9000, health: /docs, calledBy: [api-gateway]}
validationService: {name: validation-service, port: 9001, health: /health, calledBy: [workflow-orchestrator]}
metadataService: {name: metadata-service, port: 9002, health: /health, calledBy: [workflow-orchestrator]}
contentService: {name: content-service, port: 9003, health: /health, calledBy: [workflow-orchestrator]}
aiService: {name: ai-service, port: 9004, health: /health, calledBy: [workflow-orchestrator]}
{{- end }}

{{/* HPA metrics from targetCPUUtilizationPercentage / targetMemoryUtilizationPercentage. */}}
{{- define "dashboard.hpaMetrics" -}}
metrics:
  {{- with .targetCPUUtilizationPercentage }}
  - type: Resource
    resource:
      name: cpu
      target:
        type: Utilization
        averageUtilization: {{ . }}
  {{- end }}
  {{- with .targetMemoryUtilizationPercentage }}
  - type: Resource
    resource:
      name: memory
      target:
        type: Utilization
        averageUtilization: {{ . }}
  {{- end }}
{{- end }}

{{/* Spreads a workload's pods over nodes when it can (soft), so one node loss takes few of them. */}}
{{- define "dashboard.topologySpread" -}}
topologySpreadConstraints:
  - maxSkew: 1
    topologyKey: kubernetes.io/hostname
    whenUnsatisfiable: ScheduleAnyway
    labelSelector:
      matchLabels:
        {{- include "dashboard.selectorLabels" . | nindent 8 }}
{{- end }}

{{/* The namespaces Prometheus discovers and scrapes pods in, as a YAML list. */}}
{{- define "dashboard.scrapedNamespaces" -}}
{{- $ns := .Values.namespaces -}}
{{- $list := list $ns.frontend $ns.backend $ns.shared -}}
{{- if .Values.pipeline.enabled -}}
{{- $list = append $list $ns.pipeline -}}
{{- end -}}
{{- toYaml $list -}}
{{- end }}
