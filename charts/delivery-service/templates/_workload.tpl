{{- /*
The pod: non-root, read-only root filesystem, no privilege escalation, no capabilities,
RuntimeDefault seccomp (what the clusters' platform-pod-security policy admits), the image
by digest (platform-image-digest), probes on the named port, writable emptyDirs only where
the service writes.
*/ -}}
{{- define "delivery-service.podTemplate" -}}
{{- $v := .Values -}}
metadata:
  labels:
    {{- include "delivery-service.labels" . | nindent 4 }}
spec:
  serviceAccountName: {{ include "delivery-service.name" . }}
  automountServiceAccountToken: false
  {{- with $v.imagePullSecrets }}
  imagePullSecrets:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  securityContext:
    runAsNonRoot: true
    runAsUser: 65532
    runAsGroup: 65532
    fsGroup: 65532
    seccompProfile:
      type: RuntimeDefault
  topologySpreadConstraints:
    - maxSkew: 1
      topologyKey: kubernetes.io/hostname
      whenUnsatisfiable: ScheduleAnyway
      labelSelector:
        matchLabels:
          {{- include "delivery-service.selectorLabels" . | nindent 10 }}
  containers:
    - name: {{ include "delivery-service.name" . }}
      image: {{ $v.image.reference }}
      imagePullPolicy: IfNotPresent
      {{- with $v.command }}
      command:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- with $v.args }}
      args:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      ports:
        - name: http
          containerPort: {{ $v.containerPort }}
          protocol: TCP
      {{- with $v.env }}
      env:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      resources:
        {{- toYaml $v.resources | nindent 8 }}
      startupProbe:
        httpGet:
          path: {{ $v.probes.startup.path }}
          port: http
        periodSeconds: {{ $v.probes.startup.periodSeconds }}
        failureThreshold: {{ $v.probes.startup.failureThreshold }}
      livenessProbe:
        httpGet:
          path: {{ $v.probes.liveness.path }}
          port: http
        periodSeconds: {{ $v.probes.liveness.periodSeconds }}
        failureThreshold: {{ $v.probes.liveness.failureThreshold }}
      readinessProbe:
        httpGet:
          path: {{ $v.probes.readiness.path }}
          port: http
        periodSeconds: {{ $v.probes.readiness.periodSeconds }}
        failureThreshold: {{ $v.probes.readiness.failureThreshold }}
      securityContext:
        runAsNonRoot: true
        readOnlyRootFilesystem: true
        allowPrivilegeEscalation: false
        capabilities:
          drop: ["ALL"]
      {{- with $v.writablePaths }}
      volumeMounts:
        {{- range $i, $path := . }}
        - name: writable-{{ $i }}
          mountPath: {{ $path }}
        {{- end }}
      {{- end }}
  {{- with $v.writablePaths }}
  volumes:
    {{- range $i, $path := . }}
    - name: writable-{{ $i }}
      emptyDir: {}
    {{- end }}
  {{- end }}
{{- end -}}

{{- /*
The workload: an Argo Rollout where Argo Rollouts runs (direct, canary or blue-green, the
last two with the platform's analysis), else a Deployment. Without an HPA the replica count is set here; with one,
the HPA owns it and the manifest leaves it out (Argo CD would undo every scaling otherwise).
*/ -}}
{{- define "delivery-service.workload" -}}
{{- $v := .Values -}}
{{- $strategy := $v.platform.strategy -}}
{{- if eq $strategy "rollingUpdate" }}
apiVersion: apps/v1
kind: Deployment
{{- else }}
apiVersion: argoproj.io/v1alpha1
kind: Rollout
{{- end }}
metadata:
  name: {{ include "delivery-service.name" . }}
  labels:
    {{- include "delivery-service.labels" . | nindent 4 }}
spec:
  {{- if not $v.autoscaling.enabled }}
  replicas: {{ $v.replicas }}
  {{- end }}
  revisionHistoryLimit: 5
  progressDeadlineSeconds: 600
  selector:
    matchLabels:
      {{- include "delivery-service.selectorLabels" . | nindent 6 }}
  template:
    {{- include "delivery-service.podTemplate" . | nindent 4 }}
  {{- if eq $strategy "rollingUpdate" }}
  strategy:
    type: RollingUpdate
    rollingUpdate:
      maxUnavailable: 0
      maxSurge: 1
  {{- else }}
  # A version that does not become ready within the deadline is aborted, as a failed
  # analysis is: traffic stays on (or returns to) the stable version.
  progressDeadlineAbort: true
  strategy:
    {{- if eq $strategy "direct" }}
    # Seed 003's direct deployment (development): a canary without steps mimics a rolling
    # update, maxSurge and maxUnavailable as a Deployment's
    # (https://argo-rollouts.readthedocs.io/en/stable/features/canary/#mimicking-rolling-update);
    # no analysis, rolled back by hand.
    canary:
      maxSurge: 1
      maxUnavailable: 0
    {{- else if eq $strategy "canary" }}
    # No traffic router: the weight is the canary's share of the pods behind the main
    # Service; the canary Service selects only the new version's pods, so the analysis
    # measures the new version alone. A failed analysis aborts: all pods return to stable.
    canary:
      stableService: {{ include "delivery-service.stableServiceName" . }}
      canaryService: {{ include "delivery-service.canaryServiceName" . }}
      analysis:
        startingStep: 1
        {{- include "delivery-service.analysis" (list . (include "delivery-service.canaryServiceName" .)) | nindent 8 }}
      steps:
        {{- toYaml $v.platform.canary.steps | nindent 8 }}
    {{- else }}
    # The preview Service reaches the new version only. Pre-promotion analysis runs on it;
    # a person promotes (autoPromotionEnabled: false); post-promotion analysis then runs on
    # the active Service. A failed post-promotion analysis aborts the Rollout and switches
    # the active Service back to the previous version, which is kept until the analysis has
    # passed and then for scaleDownDelaySeconds.
    blueGreen:
      activeService: {{ include "delivery-service.serviceName" . }}
      previewService: {{ include "delivery-service.previewServiceName" . }}
      autoPromotionEnabled: false
      scaleDownDelaySeconds: {{ $v.platform.blueGreen.scaleDownDelaySeconds }}
      prePromotionAnalysis:
        {{- include "delivery-service.analysis" (list . (include "delivery-service.previewServiceName" .)) | nindent 8 }}
      postPromotionAnalysis:
        {{- include "delivery-service.analysis" (list . (include "delivery-service.serviceName" .)) | nindent 8 }}
    {{- end }}
  {{- end }}
{{- end -}}
