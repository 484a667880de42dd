{{/*
An Ingress for one path of the application's host, and the TLS Secret beside it when the chart
holds the certificate. An Ingress routes only to Services of its own namespace, so each namespace
with a public path gets its own Ingress for the same host; the ingress controller merges them.
Call with (dict "root" $ "name" "app-ingress" "namespace" "app-frontend" "component" "frontend"
"path" "/" "service" "frontend-service" "port" 80).
*/}}
{{- define "dashboard.ingress" -}}
{{- $root := .root -}}
{{- $ing := $root.Values.ingress -}}
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: {{ .name }}
  namespace: {{ .namespace }}
  labels:
    {{- include "dashboard.labels" (dict "root" $root "component" .component) | nindent 4 }}
  {{- with $ing.annotations }}
  annotations:
    {{- toYaml . | nindent 4 }}
  {{- end }}
spec:
  ingressClassName: {{ $ing.className }}
  {{- if $ing.tls.enabled }}
  tls:
    - hosts:
        - {{ $ing.host | quote }}
      secretName: {{ $ing.tls.secretName }}
  {{- end }}
  rules:
    - host: {{ $ing.host | quote }}
      http:
        paths:
          - path: {{ .path }}
            pathType: Prefix
            backend:
              service:
                name: {{ .service }}
                port:
                  number: {{ .port }}
{{- if and $ing.tls.enabled $ing.tls.certificate }}
---
apiVersion: v1
kind: Secret
type: kubernetes.io/tls
metadata:
  name: {{ $ing.tls.secretName }}
  namespace: {{ .namespace }}
  labels:
    {{- include "dashboard.labels" (dict "root" $root "component" .component) | nindent 4 }}
data:
  tls.crt: {{ $ing.tls.certificate | b64enc }}
  tls.key: {{ required "ingress.tls.key is required with ingress.tls.certificate" $ing.tls.key | b64enc }}
{{- end }}
{{- end }}
