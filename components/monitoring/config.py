"""Config models of the monitoring stack (``delivery:monitoring``): kube-prometheus-stack's
size and the deployment alerts. The environment rules (production is highly available,
replicas fit the nodes) live with the other cross-field rules in ``StackConfig``."""

from __future__ import annotations

from typing import Literal, get_args

from pydantic import Field

from components.config.base import ChartVersion, DnsLabel, Duration, Model
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
]
MONITORING_IMAGES: tuple[MonitoringImage, ...] = get_args(MonitoringImage)


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
            "prometheus, alertmanager, admissionWebhookPatch (kube-webhook-certgen), kubeStateMetrics "
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
