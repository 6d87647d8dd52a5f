{{- /*
Defaults of every value the library reads. A service chart's values.yaml, its
values-<env>.yaml, the image file and the Application's valuesObject override them, in
that order (docs/service-chart.md, "Values").
*/ -}}
{{- define "delivery-service.defaults" -}}
image:
  # The image file's `reference: <repository>@sha256:<digest>` (delivery.yml writes it).
  reference: ""
imagePullSecrets: []
containerPort: 8080
# Replicas when autoscaling is off; with autoscaling the HPA owns the count.
replicas: 2
command: []
args: []
env: []
resources:
  requests:
    cpu: 100m
    memory: 128Mi
  limits:
    memory: 256Mi
probes:
  startup:
    path: /healthz
    periodSeconds: 5
    failureThreshold: 30
  liveness:
    path: /healthz
    periodSeconds: 10
    failureThreshold: 3
  readiness:
    path: /readyz
    periodSeconds: 5
    failureThreshold: 3
metrics:
  path: /metrics
  interval: 30s
autoscaling:
  enabled: true
  minReplicas: 2
  maxReplicas: 6
  targetCPUUtilizationPercentage: 70
podDisruptionBudget:
  maxUnavailable: 1
# Where the process may write: the root filesystem is read-only (the pod policies).
writablePaths:
  - /tmp
ingress:
  enabled: false
  host: ""
  path: /
  pathType: Prefix
# Set by the platform (the Argo CD Application's valuesObject, built by the Pulumi program):
# a service chart never sets these.
platform:
  environment: ""
  # direct | canary | blueGreen (Argo Rollouts) | rollingUpdate (a Deployment, where no Rollouts run)
  strategy: ""
  analysis:
    templates: []
  canary:
    steps: []
  blueGreen:
    scaleDownDelaySeconds: 30
  ingress:
    className: ""
    clusterIssuer: ""
  serviceMonitor:
    labels: {}
{{- end -}}
