"""Config models of the monitoring stack (``delivery:monitoring``): kube-prometheus-stack's
size and the deployment alerts. The environment rules (production is highly available,
replicas fit the nodes) live with the other cross-field rules in ``StackConfig``."""

from __future__ import annotations

from typing import Literal, get_args

from pydantic import Field, model_validator

from components.config.base import ChartVersion, DnsLabel, Duration, FieldError, Model
from components.kubernetes.config import ChartDigest, PinnedChartImage

# Linode block storage volumes (LKE's default storage class) are at least 10 GiB.
MIN_VOLUME_GI = 10


class PrometheusConfig(Model):
    replicas: int = Field(
        default=1,
        ge=1,
        le=5,
        description=(
            "Prometheus replicas; each scrapes every target (an HA pair, not shards). Two or more "
            "run with hard pod anti-affinity: one per node. Production: at least 2."
        ),
    )
    retention: Duration = Field(default="10d", description="How long Prometheus keeps samples.")
    storage_gi: int = Field(
        default=20,
        ge=MIN_VOLUME_GI,
        le=2000,
        description=(
            "Size in GiB of each replica's persistent volume (Linode block storage: at least 10). "
            "Samples are also dropped once 85% of it is used, before retention runs out."
        ),
    )


class AlertmanagerSettings(Model):
    replicas: int = Field(
        default=1,
        ge=1,
        le=5,
        description=(
            "Alertmanager replicas; they gossip so a notification goes out once. Two or more run "
            "with hard pod anti-affinity: one per node. Production: at least 2."
        ),
    )
    storage_gi: int = Field(
        default=MIN_VOLUME_GI,
        ge=MIN_VOLUME_GI,
        le=100,
        description="Size in GiB of each replica's volume (silences and notification log).",
    )


class AlertsConfig(Model):
    """How long a condition must hold before its alert fires."""

    out_of_sync_for: Duration = Field(
        default="30m",
        description=(
            "An Application out of sync this long alerts (warning). Keep it above the time a "
            "manual-sync environment usually waits for its promotion."
        ),
    )
    degraded_for: Duration = Field(
        default="10m", description="An Application with health Degraded this long pages (critical)."
    )
    sync_failed_window: Duration = Field(
        default="15m",
        description="A failed or errored sync alerts (warning) while it happened within this window.",
    )
    rollout_degraded_for: Duration = Field(
        default="5m",
        description="A Rollout in phase Error or Timeout this long pages (critical).",
    )
    crash_looping_for: Duration = Field(
        default="10m",
        description="A container of a platform namespace in CrashLoopBackOff this long pages (critical).",
    )
    image_pull_failing_for: Duration = Field(
        default="5m",
        description=(
            "A container of a platform namespace failing to pull its image (ErrImagePull, ImagePullBackOff) "
            "this long alerts: pages (critical) in production, warning elsewhere."
        ),
    )
    credentials_expiry_warning_days: int = Field(
        default=14,
        ge=1,
        le=90,
        description=(
            "Days before CI's Linode token expires (`pipeline.credentials`: issuedOn + lifetimeDays) "
            "that a warning alert starts asking for its rotation (from the day it is minted, if it "
            "lives fewer days)."
        ),
    )


# The images kube-prometheus-stack deploys with this program's values, by config key (Grafana,
# Thanos, the CRD upgrade job and the webhook's own Deployment are off; tests/kubernetes/test_chart_images.py
# holds this list to the chart's values.yaml).
MonitoringImage = Literal[
    "prometheusOperator",
    "prometheusConfigReloader",
    "prometheus",
    "alertmanager",
    "admissionWebhookPatch",
    "kubeStateMetrics",
    "nodeExporter",
    "grafana",
    "grafanaSidecar",
]
MONITORING_IMAGES: tuple[MonitoringImage, ...] = get_args(MonitoringImage)


class SloConfig(Model):
    """Service level objectives of every service (seed 003's thresholds as defaults)."""

    availability_percent: float = Field(
        default=99.9,
        gt=50,
        lt=100,
        description="Share of requests that must not fail with 5xx (seed 003: availability above 99.9 %).",
    )
    latency_threshold_seconds: float = Field(
        default=1.0, gt=0, le=60, description="Latency objective's threshold (seed 003: P95 under 1000 ms)."
    )
    latency_percentile: float = Field(
        default=95,
        gt=50,
        lt=100,
        description="Share of requests (percent) that must finish within `latencyThresholdSeconds`.",
    )

    @property
    def error_budget(self) -> float:
        return round(1 - self.availability_percent / 100, 10)

    @property
    def latency_budget(self) -> float:
        return round(1 - self.latency_percentile / 100, 10)


class TracingExporter(Model):
    """Where the collector sends traces (seed 002: Jaeger, which takes OTLP natively)."""

    protocol: Literal["otlp", "otlphttp"] = Field(
        default="otlp",
        description="OTLP over gRPC (`otlp`, endpoint `host:port`) or HTTP (`otlphttp`, an https URL).",
    )
    endpoint: str = Field(
        pattern=r"^([a-z0-9]([a-z0-9.-]*[a-z0-9])?:[0-9]{1,5}|https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?(/[A-Za-z0-9._/-]*)?)$",
        description="The tracing backend's OTLP endpoint: `host:port` for `otlp`, `https://host[:port][/path]` for `otlphttp`.",
    )
    insecure: bool = Field(
        default=False,
        description="Send without TLS: only for a backend inside the cluster (an in-cluster Service name).",
    )

    @model_validator(mode="after")
    def _endpoint_matches_protocol(self) -> TracingExporter:
        url = "://" in self.endpoint
        if self.protocol == "otlp" and url:
            raise FieldError(
                "endpoint", "`otlp` (gRPC) takes `host:port`; allowed: host:port, or protocol otlphttp"
            )
        if self.protocol == "otlphttp" and not url:
            raise FieldError("endpoint", "`otlphttp` takes a URL; allowed: https://host[:port][/path]")
        if self.endpoint.startswith("http://") and not self.insecure:
            raise FieldError("endpoint", "plain http needs `insecure: true`; allowed: an https URL")
        if self.insecure and not self.endpoint.split("://")[-1].split(":")[0].split("/")[0].endswith(
            ".svc.cluster.local"
        ):
            raise FieldError(
                "insecure", "TLS may be off only towards `<service>.<namespace>.svc.cluster.local`"
            )
        return self


# Jaeger v2 (the OpenTelemetry-collector-based single binary) at the release the tracing test
# builds from its Go module (tools/jaeger/go.mod: module v1.75.0 is image 2.12.0; Jaeger
# releases both lines together, "v1.74.0 / v2.11.0" in its CHANGELOG.md).
JAEGER_IMAGE = "docker.io/jaegertracing/jaeger:2.12.0"
TracingImage = Literal["collector", "jaeger"]
_DURATION_HOURS = {"h": 1, "d": 24, "w": 24 * 7}


class JaegerConfig(Model):
    """The in-cluster Jaeger (`backend: jaeger`): one pod, spans in Badger on a volume."""

    retention: str = Field(
        default="7d",
        pattern=r"^[1-9][0-9]*(h|d|w)$",
        description="How long Jaeger keeps spans (Badger's TTL): hours, days or weeks, e.g. `72h`, `7d`.",
    )
    storage_gi: int = Field(
        default=MIN_VOLUME_GI,
        ge=MIN_VOLUME_GI,
        le=500,
        description="Size in GiB of Jaeger's Badger volume (Linode block storage: at least 10).",
    )

    @property
    def retention_go(self) -> str:
        """The retention as a Go duration (`time.ParseDuration` knows no days or weeks)."""
        return f"{int(self.retention[:-1]) * _DURATION_HOURS[self.retention[-1]]}h"


class TracingConfig(Model):
    """The OpenTelemetry collector the services send traces to, and the Jaeger it exports to
    (seed 002: Jaeger, OpenTelemetry)."""

    enabled: bool = Field(default=False, description="Run an OpenTelemetry collector on the cluster.")
    chart_version: ChartVersion = Field(
        default="0.170.0",
        description="Version of the `opentelemetry-collector` chart (open-telemetry.github.io/opentelemetry-helm-charts).",
    )
    namespace: DnsLabel = Field(default="opentelemetry", description="Namespace of the collector and Jaeger.")
    replicas: int = Field(default=1, ge=1, le=5, description="Collector replicas (a stateless gateway).")
    backend: Literal["jaeger", "external"] = Field(
        default="jaeger",
        description=(
            "Where the collector sends traces: `jaeger`, a Jaeger this program declares beside the "
            "collector (Grafana gets it as a datasource); `external`, the backend `exporter` names."
        ),
    )
    jaeger: JaegerConfig = Field(
        default_factory=JaegerConfig, description="The in-cluster Jaeger (`backend: jaeger`)."
    )
    exporter: TracingExporter | None = Field(
        default=None,
        description="The external backend the collector exports to; required with `backend: external`, refused with `jaeger`.",
    )
    chart_digest: ChartDigest | None = Field(
        default=None,
        description=(
            "Digest of the opentelemetry-collector chart at chartVersion in "
            "oci://ghcr.io/open-telemetry/opentelemetry-helm-charts (`oras resolve "
            "ghcr.io/open-telemetry/opentelemetry-helm-charts/opentelemetry-collector:<chartVersion>`). "
            "Unset: by version. Required in staging and production when enabled."
        ),
    )
    images: dict[TracingImage, PinnedChartImage] = Field(
        default_factory=dict,
        description=(
            "Images by tag and digest: `collector` (docker.io/otel/opentelemetry-collector-k8s at the "
            f"chart's appVersion) and, with `backend: jaeger`, `jaeger` ({JAEGER_IMAGE}). Unset: the "
            "chart's tag and Jaeger's pinned tag. Required in staging and production when enabled."
        ),
    )

    @model_validator(mode="after")
    def _exporter_matches_backend(self) -> TracingConfig:
        if self.backend == "external" and self.exporter is None:
            raise FieldError(
                "exporter",
                "`backend: external` needs somewhere to send traces; allowed: {protocol, endpoint}, "
                "or backend: jaeger",
            )
        if self.backend == "jaeger" and self.exporter is not None:
            raise FieldError(
                "exporter",
                "`backend: jaeger` exports to the Jaeger this program declares; allowed: no exporter, "
                "or backend: external to send to the backend it names",
            )
        return self

    @property
    def in_cluster_jaeger(self) -> bool:
        return self.enabled and self.backend == "jaeger"


class MonitoringConfig(Model):
    chart_version: ChartVersion = Field(
        default="88.5.3", description="Pinned version of the kube-prometheus-stack Helm chart."
    )
    chart_digest: ChartDigest | None = Field(
        default=None,
        description=(
            "Digest of the kube-prometheus-stack chart at chartVersion in "
            "oci://ghcr.io/prometheus-community/charts (`oras resolve "
            "ghcr.io/prometheus-community/charts/kube-prometheus-stack:<chartVersion>`); Helm installs "
            "that manifest and nothing else. Unset: by version. Required in staging and production."
        ),
    )
    images: dict[MonitoringImage, PinnedChartImage] = Field(
        default_factory=dict,
        description=(
            "The chart's images by tag and digest, keyed prometheusOperator, prometheusConfigReloader, "
            "prometheus, alertmanager, admissionWebhookPatch (kube-webhook-certgen), kubeStateMetrics, grafana, grafanaSidecar (k8s-sidecar) "
            "and nodeExporter. Unset: the chart's tags. Staging and production set all of them."
        ),
    )
    namespace: DnsLabel = Field(default="monitoring", description="Namespace of the monitoring stack.")
    helm_timeout_seconds: int = Field(
        default=900,
        ge=60,
        le=3600,
        description="How long `pulumi up` waits for the monitoring release to become ready.",
    )
    prometheus: PrometheusConfig = Field(default_factory=PrometheusConfig, description="Prometheus.")
    alertmanager: AlertmanagerSettings = Field(
        default_factory=AlertmanagerSettings, description="Alertmanager."
    )
    alerts: AlertsConfig = Field(default_factory=AlertsConfig, description="Deployment alert rules.")
    tracing: TracingConfig = Field(
        default_factory=TracingConfig,
        description="OpenTelemetry collector for the services' traces, exporting to an in-cluster Jaeger or where the config names.",
    )
    slo: SloConfig = Field(
        default_factory=SloConfig,
        description="Service level objectives: multi-window multi-burn-rate alerts on every service.",
    )
