{{- define "delivery-service.name" -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- /* Pod selector: stable across versions (Argo Rollouts adds its pod-template hash). */ -}}
{{- define "delivery-service.selectorLabels" -}}
app.kubernetes.io/name: {{ include "delivery-service.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "delivery-service.labels" -}}
{{ include "delivery-service.selectorLabels" . }}
app.kubernetes.io/part-of: platform
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{- end -}}

{{- /* The Service the Ingress and the other services call: every pod of the service. */ -}}
{{- define "delivery-service.serviceName" -}}
{{ include "delivery-service.name" . }}
{{- end -}}

{{- /* Canary: the Service Argo Rollouts points at the new version's pods only. */ -}}
{{- define "delivery-service.canaryServiceName" -}}
{{ include "delivery-service.name" . | trunc 56 | trimSuffix "-" }}-canary
{{- end -}}

{{- /* Canary: the Service Argo Rollouts points at the stable version's pods only. */ -}}
{{- define "delivery-service.stableServiceName" -}}
{{ include "delivery-service.name" . | trunc 56 | trimSuffix "-" }}-stable
{{- end -}}

{{- /* Blue-green: the Service Argo Rollouts points at the new version before promotion. */ -}}
{{- define "delivery-service.previewServiceName" -}}
{{ include "delivery-service.name" . | trunc 55 | trimSuffix "-" }}-preview
{{- end -}}

{{- /* Refuse values the platform cannot deploy, naming the value and what is allowed. */ -}}
{{- define "delivery-service.validate" -}}
{{- $v := .Values -}}
{{- if not (regexMatch "^[a-z0-9.-]+(:[0-9]+)?(/[a-z0-9._-]+)+(:[A-Za-z0-9._-]+)?@sha256:[0-9a-f]{64}$" ($v.image.reference | toString)) -}}
{{- fail (printf "image.reference %q: allowed: <repository>@sha256:<64 hex digits>, from the image file delivery.yml writes (gitops images/<service>.yaml)" ($v.image.reference | toString)) -}}
{{- end -}}
{{- if not (has $v.platform.strategy (list "direct" "canary" "blueGreen" "rollingUpdate")) -}}
{{- fail (printf "platform.strategy %q: allowed: direct, canary, blueGreen, rollingUpdate (set by the platform's Argo CD Application)" ($v.platform.strategy | toString)) -}}
{{- end -}}
{{- if and (has $v.platform.strategy (list "canary" "blueGreen")) (empty $v.platform.analysis.templates) -}}
{{- fail "platform.analysis.templates: a canary or blue-green Rollout needs at least one analysis template (set by the platform's Argo CD Application)" -}}
{{- end -}}
{{- if and (eq $v.platform.strategy "canary") (empty $v.platform.canary.steps) -}}
{{- fail "platform.canary.steps: a canary needs its steps (set by the platform's Argo CD Application)" -}}
{{- end -}}
{{- if $v.ingress.enabled -}}
{{- if not (regexMatch "^([a-z0-9]([-a-z0-9]*[a-z0-9])?\\.)+[a-z]{2,}$" ($v.ingress.host | toString)) -}}
{{- fail (printf "ingress.host %q: allowed: a DNS name (the Ingress serves TLS for it)" ($v.ingress.host | toString)) -}}
{{- end -}}
{{- if or (empty $v.platform.ingress.className) (empty $v.platform.ingress.clusterIssuer) -}}
{{- fail "platform.ingress: className and clusterIssuer are set by the platform's Argo CD Application; this environment declares no ingress" -}}
{{- end -}}
{{- end -}}
{{- if and $v.autoscaling.enabled (lt (int $v.autoscaling.maxReplicas) (int $v.autoscaling.minReplicas)) -}}
{{- fail (printf "autoscaling.maxReplicas (%v) is below minReplicas (%v)" $v.autoscaling.maxReplicas $v.autoscaling.minReplicas) -}}
{{- end -}}
{{- end -}}

{{- /* Analysis of the pods behind `service` (a Service name) in the Rollout's namespace. */ -}}
{{- define "delivery-service.analysis" -}}
{{- $root := index . 0 -}}
{{- $service := index . 1 -}}
templates:
{{- range $root.Values.platform.analysis.templates }}
  - templateName: {{ . }}
    clusterScope: true
{{- end }}
args:
  - name: service-name
    value: {{ $service }}
  - name: namespace
    valueFrom:
      fieldRef:
        fieldPath: metadata.namespace
{{- end -}}
