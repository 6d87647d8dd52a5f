{{- define "delivery-service.serviceAccount" -}}
apiVersion: v1
kind: ServiceAccount
metadata:
  name: {{ include "delivery-service.name" . }}
  labels:
    {{- include "delivery-service.labels" . | nindent 4 }}
# The service calls no Kubernetes API: no token in its pods.
automountServiceAccountToken: false
{{- end -}}

{{- /* One Service; `role` labels it (main, stable, canary, preview) for the ServiceMonitor. */ -}}
{{- define "delivery-service.service" -}}
{{- $root := index . 0 -}}
{{- $name := index . 1 -}}
{{- $role := index . 2 -}}
apiVersion: v1
kind: Service
metadata:
  name: {{ $name }}
  labels:
    {{- include "delivery-service.labels" $root | nindent 4 }}
    delivery.ai-aas.io/service-role: {{ $role }}
spec:
  type: ClusterIP
  selector:
    {{- include "delivery-service.selectorLabels" $root | nindent 4 }}
  ports:
    - name: http
      port: 80
      targetPort: http
      protocol: TCP
{{- end -}}

{{- /* The main Service and, for a Rollout, the Services its strategy switches. */ -}}
{{- define "delivery-service.services" -}}
{{- $strategy := .Values.platform.strategy -}}
{{ include "delivery-service.service" (list . (include "delivery-service.serviceName" .) "main") }}
{{- if eq $strategy "canary" }}
---
{{ include "delivery-service.service" (list . (include "delivery-service.stableServiceName" .) "stable") }}
---
{{ include "delivery-service.service" (list . (include "delivery-service.canaryServiceName" .) "canary") }}
{{- else if eq $strategy "blueGreen" }}
---
{{ include "delivery-service.service" (list . (include "delivery-service.previewServiceName" .) "preview") }}
{{- end }}
{{- end -}}

{{- define "delivery-service.podDisruptionBudget" -}}
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata:
  name: {{ include "delivery-service.name" . }}
  labels:
    {{- include "delivery-service.labels" . | nindent 4 }}
spec:
  maxUnavailable: {{ .Values.podDisruptionBudget.maxUnavailable }}
  selector:
    matchLabels:
      {{- include "delivery-service.selectorLabels" . | nindent 6 }}
{{- end -}}

{{- define "delivery-service.autoscaler" -}}
{{- $v := .Values -}}
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata:
  name: {{ include "delivery-service.name" . }}
  labels:
    {{- include "delivery-service.labels" . | nindent 4 }}
spec:
  scaleTargetRef:
    {{- if eq $v.platform.strategy "rollingUpdate" }}
    apiVersion: apps/v1
    kind: Deployment
    {{- else }}
    apiVersion: argoproj.io/v1alpha1
    kind: Rollout
    {{- end }}
    name: {{ include "delivery-service.name" . }}
  minReplicas: {{ $v.autoscaling.minReplicas }}
  maxReplicas: {{ $v.autoscaling.maxReplicas }}
  metrics:
    - type: Resource
      resource:
        name: cpu
        target:
          type: Utilization
          averageUtilization: {{ $v.autoscaling.targetCPUUtilizationPercentage }}
{{- end -}}

{{- /*
Scrapes every Service of the chart: the `service` label Prometheus adds is the Service's
name, so `<service>-canary` and `<service>-preview` series are the new version's alone
(what the analysis measures) and `<service>` series are what users are served.
*/ -}}
{{- define "delivery-service.serviceMonitor" -}}
{{- $v := .Values -}}
apiVersion: monitoring.coreos.com/v1
kind: ServiceMonitor
metadata:
  name: {{ include "delivery-service.name" . }}
  labels:
    {{- include "delivery-service.labels" . | nindent 4 }}
    {{- with $v.platform.serviceMonitor.labels }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
spec:
  selector:
    matchLabels:
      {{- include "delivery-service.selectorLabels" . | nindent 6 }}
  endpoints:
    - port: http
      path: {{ $v.metrics.path }}
      interval: {{ $v.metrics.interval }}
{{- end -}}

{{- /* TLS by cert-manager from the platform's ClusterIssuer; HTTP redirects to HTTPS. */ -}}
{{- define "delivery-service.ingress" -}}
{{- $v := .Values -}}
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: {{ include "delivery-service.name" . }}
  labels:
    {{- include "delivery-service.labels" . | nindent 4 }}
  annotations:
    cert-manager.io/cluster-issuer: {{ $v.platform.ingress.clusterIssuer }}
    nginx.ingress.kubernetes.io/ssl-redirect: "true"
spec:
  ingressClassName: {{ $v.platform.ingress.className }}
  tls:
    - hosts:
        - {{ $v.ingress.host }}
      secretName: {{ include "delivery-service.name" . | trunc 59 | trimSuffix "-" }}-tls
  rules:
    - host: {{ $v.ingress.host }}
      http:
        paths:
          - path: {{ $v.ingress.path }}
            pathType: {{ $v.ingress.pathType }}
            backend:
              service:
                name: {{ include "delivery-service.serviceName" . }}
                port:
                  name: http
{{- end -}}

{{- /* Everything a service chart renders: its templates/ holds one line including this. */ -}}
{{- define "delivery-service.all" -}}
{{- $values := mustMergeOverwrite (fromYaml (include "delivery-service.defaults" .)) (deepCopy .Values) -}}
{{- $ctx := dict "Values" $values "Release" .Release "Chart" .Chart -}}
{{- include "delivery-service.validate" $ctx -}}
{{ include "delivery-service.serviceAccount" $ctx }}
---
{{ include "delivery-service.services" $ctx }}
---
{{ include "delivery-service.workload" $ctx }}
---
{{ include "delivery-service.podDisruptionBudget" $ctx }}
{{- if $values.autoscaling.enabled }}
---
{{ include "delivery-service.autoscaler" $ctx }}
{{- end }}
---
{{ include "delivery-service.serviceMonitor" $ctx }}
{{- if $values.ingress.enabled }}
---
{{ include "delivery-service.ingress" $ctx }}
{{- end }}
{{- end -}}
