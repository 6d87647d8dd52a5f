"""Helm values of the kube-prometheus-stack chart, built from the typed config (pure: no Pulumi).

Only keys of the pinned chart's `values.yaml` are used (a test walks every key path against
the copy in `components/schemas/charts/`). The maps the chart hands on verbatim are checked
by their own tests: `alertmanager.config` (Alertmanager's configuration file) and the
operator's storage specs.
"""

from __future__ import annotations

from typing import Any

from components.contracts.monitoring import PROMETHEUS_RELEASE
from components.kubernetes.helm import image_ref
from components.monitoring.config import MonitoringConfig, MonitoringImage
from components.monitoring.dashboards import DASHBOARD_LABEL, DASHBOARD_LABEL_VALUE
from components.monitoring.jaeger import query_url as jaeger_query_url

CHART = "kube-prometheus-stack"
# The chart's OCI registry (https://github.com/prometheus-community/helm-charts, "OCI"):
# installed by digest there (components/kubernetes/helm.py).
REPOSITORY = "oci://ghcr.io/prometheus-community/charts"
RELEASE_NAME = PROMETHEUS_RELEASE
# Grafana's uid of the Jaeger datasource (stable: dashboards and links name it).
JAEGER_DATASOURCE_UID = "jaeger"

# With serviceMonitorSelectorNilUsesHelmValues and ruleSelectorNilUsesHelmValues left at the
# chart's default (true), Prometheus picks up only ServiceMonitors and PrometheusRules that
# carry the release label: the Argo charts' ServiceMonitors and the program's rules set it.

# The receivers' credentials: a Secret the program creates (so they never pass through Helm
# values or Helm's release records), mounted into every Alertmanager pod by the operator
# under /etc/alertmanager/secrets/<name>/ and read through Alertmanager's `*_file` fields.
RECEIVERS_SECRET = "alertmanager-receivers"
PAGERDUTY_ROUTING_KEY = "pagerduty-routing-key"
SLACK_WEBHOOK_KEY = "slack-webhook-url"
SECRETS_DIR = f"/etc/alertmanager/secrets/{RECEIVERS_SECRET}"

# Severities the rules use and where Alertmanager sends them (seed 003: critical pages
# through PagerDuty, warning goes to Slack); anything else (the chart's Watchdog and
# InfoInhibitor, `info` alerts) goes nowhere.
ROUTES = {"critical": "pagerduty", "warning": "slack"}
NULL_RECEIVER = "null"

# Share of the volume Prometheus may fill before it drops the oldest blocks, whatever the
# retention says: a full volume stops ingestion altogether.
RETENTION_SIZE_SHARE = 0.85


# Ports and pod labels the namespaces' NetworkPolicies name. The ports are the chart's
# (`prometheus.service.targetPort`, `alertmanager.service.targetPort`,
# `prometheusOperator.tls.internalPort`: a test reads them from values.yaml); the labels are
# the ones the operator puts on the pods it runs.
PROMETHEUS_PORT = 9090
PROMETHEUS_PODS = {"app.kubernetes.io/name": "prometheus"}
ALERTMANAGER_PORT = 9093
ALERTMANAGER_PODS = {"app.kubernetes.io/name": "alertmanager"}
# The operator's admission webhook, which the API server calls for every PrometheusRule.
OPERATOR_WEBHOOK_PORT = 10250


def prometheus_url(config: MonitoringConfig) -> str:
    """In-cluster address of the Prometheus Service (the chart names it `<fullname>-prometheus`)."""
    return f"http://{RELEASE_NAME}-prometheus.{config.namespace}.svc.cluster.local:{PROMETHEUS_PORT}"


def _volume(size_gi: int) -> dict[str, Any]:
    # No storageClassName: LKE's default class (linode-block-storage-retain) keeps the volume
    # when its claim is deleted.
    return {
        "volumeClaimTemplate": {
            "spec": {
                "accessModes": ["ReadWriteOnce"],
                "resources": {"requests": {"storage": f"{size_gi}Gi"}},
            }
        }
    }


def _replicated(replicas: int) -> dict[str, Any]:
    """Replicas, and for two or more: one per node (hard anti-affinity) and a PDB."""
    if replicas < 2:
        return {"replicas": replicas}
    return {"replicas": replicas, "podAntiAffinity": "hard"}


def _pdb(replicas: int) -> dict[str, Any]:
    return {"enabled": replicas >= 2, "minAvailable": 1}


def alertmanager_config() -> dict[str, Any]:
    """Alertmanager's configuration file: routes by severity, receivers reading mounted secrets."""
    slack_text = (
        "{{ range .Alerts }}*{{ .Labels.alertname }}* ({{ .Labels.severity }}): "
        "{{ .Annotations.summary }}\n{{ .Annotations.description }}\n{{ end }}"
    )
    return {
        "global": {"resolve_timeout": "5m"},
        "route": {
            "receiver": NULL_RECEIVER,
            "group_by": ["alertname", "environment", "namespace"],
            "group_wait": "30s",
            "group_interval": "5m",
            "repeat_interval": "4h",
            "routes": [
                {"receiver": receiver, "matchers": [f'severity="{severity}"']}
                for severity, receiver in ROUTES.items()
            ],
        },
        # A critical alert silences the warning of the same name in the same namespace.
        "inhibit_rules": [
            {
                "source_matchers": ['severity="critical"'],
                "target_matchers": ['severity="warning"'],
                "equal": ["alertname", "namespace"],
            }
        ],
        "receivers": [
            {"name": NULL_RECEIVER},
            {
                "name": ROUTES["critical"],
                "pagerduty_configs": [
                    {
                        "routing_key_file": f"{SECRETS_DIR}/{PAGERDUTY_ROUTING_KEY}",
                        "send_resolved": True,
                        "description": "[{{ .CommonLabels.environment }}] {{ .CommonAnnotations.summary }}",
                    }
                ],
            },
            {
                "name": ROUTES["warning"],
                "slack_configs": [
                    {
                        "api_url_file": f"{SECRETS_DIR}/{SLACK_WEBHOOK_KEY}",
                        "send_resolved": True,
                        "title": "[{{ .CommonLabels.environment }}] {{ .Status | toUpper }}: "
                        "{{ .CommonLabels.alertname }}",
                        "text": slack_text,
                    }
                ],
            },
        ],
        "templates": ["/etc/alertmanager/config/*.tmpl"],
    }


# Where each configured image goes: the values path of its image map, and the key the chart
# reads the digest from. kube-prometheus-stack and kube-state-metrics take the bare hex in `sha`
# (`…:<tag>@sha256:<sha>`), prometheus-node-exporter the whole `sha256:…` in `digest` (and
# refuses `sha`). The two subcharts' keys are theirs, not the parent's values.yaml's: the
# image-pinning test checks the rendered references, not these paths.
IMAGE_SLOTS: dict[MonitoringImage, tuple[tuple[str, ...], str]] = {
    "prometheusOperator": (("prometheusOperator", "image"), "sha"),
    "prometheusConfigReloader": (("prometheusOperator", "prometheusConfigReloader", "image"), "sha"),
    "admissionWebhookPatch": (("prometheusOperator", "admissionWebhooks", "patch", "image"), "sha"),
    "prometheus": (("prometheus", "prometheusSpec", "image"), "sha"),
    "alertmanager": (("alertmanager", "alertmanagerSpec", "image"), "sha"),
    "kubeStateMetrics": (("kube-state-metrics", "image"), "sha"),
    "nodeExporter": (("prometheus-node-exporter", "image"), "digest"),
    # The grafana subchart (grafana-community 12.11.1) takes the bare hex in `sha` too.
    "grafana": (("grafana", "image"), "sha"),
    "grafanaSidecar": (("grafana", "sidecar", "image"), "sha"),
}


def _pin_images(values: dict[str, Any], config: MonitoringConfig) -> None:
    """The configured images, by registry, repository, tag and digest, in the chart's keys."""
    for key in sorted(config.images):
        path, digest_key = IMAGE_SLOTS[key]
        ref = image_ref(config.images[key])
        node = values
        for part in path:
            node = node.setdefault(part, {})
        node.update(
            {
                "registry": ref.registry,
                "repository": ref.repository,
                "tag": ref.tag,
                digest_key: ref.hex_digest if digest_key == "sha" else (ref.digest or ""),
            }
        )


def grafana_values(config: MonitoringConfig) -> dict[str, Any]:
    """Grafana (seeds 002 and 004), reached by port-forward like Prometheus (no ingress).

    No admin password is set: the grafana chart then generates a random one into its own
    Secret (kubectl reads it; nothing passes through Pulumi). Dashboards come only from the
    ConfigMaps the program declares (dashboards.py) and the chart's defaults: the sidecar
    loads ConfigMaps labelled for it from the monitoring namespace alone, and the UI cannot
    change them. No volume: nothing made in the UI is meant to survive.

    With the in-cluster Jaeger (``monitoring.tracing.backend: jaeger``) Grafana gets it as a
    datasource: kube-prometheus-stack writes ``grafana.additionalDataSources`` into the
    datasources ConfigMap its Grafana sidecar provisions (the chart's values.yaml,
    ``additionalDataSources``; Grafana's Jaeger datasource takes the query service's root URL,
    https://grafana.com/docs/grafana/latest/datasources/jaeger/#provision-the-data-source).
    """
    values: dict[str, Any] = {
        "enabled": True,
        "defaultDashboardsEnabled": True,
        "defaultDashboardsTimezone": "utc",
        "defaultDashboardsEditable": False,
        "sidecar": {
            "dashboards": {
                "enabled": True,
                "label": DASHBOARD_LABEL,
                "labelValue": DASHBOARD_LABEL_VALUE,
                "searchNamespace": config.namespace,
                "provider": {"allowUiUpdates": False},
            }
        },
    }
    if config.tracing.in_cluster_jaeger:
        values["additionalDataSources"] = [jaeger_datasource(config)]
    return values


def jaeger_datasource(config: MonitoringConfig) -> dict[str, Any]:
    """Grafana's datasource for the in-cluster Jaeger's query service."""
    return {
        "name": "Jaeger",
        "uid": JAEGER_DATASOURCE_UID,
        "type": "jaeger",
        "access": "proxy",
        "url": jaeger_query_url(config.tracing),
        "editable": False,
    }


def monitoring_values(environment: str, config: MonitoringConfig) -> dict[str, Any]:
    """Values of the kube-prometheus-stack chart for one environment."""
    values = _values(environment, config)
    _pin_images(values, config)
    return values


def _values(environment: str, config: MonitoringConfig) -> dict[str, Any]:
    prometheus = config.prometheus
    alertmanager = config.alertmanager
    retention_size = int(prometheus.storage_gi * RETENTION_SIZE_SHARE)
    return {
        # Pins the object names (`kube-prometheus-stack-prometheus`, ...) the analysis
        # templates and the address docs/monitoring.md gives, whatever the chart's name truncation does.
        "fullnameOverride": RELEASE_NAME,
        "grafana": grafana_values(config),
        # LKE manages the control plane: etcd, the scheduler and the controller manager cannot
        # be scraped, and their rules would fire forever.
        "kubeEtcd": {"enabled": False},
        "kubeControllerManager": {"enabled": False},
        "kubeScheduler": {"enabled": False},
        "defaultRules": {
            "rules": {
                "etcd": False,
                "kubeControllerManager": False,
                "kubeSchedulerAlerting": False,
                "kubeSchedulerRecording": False,
                "windows": False,
            }
        },
        "alertmanager": {
            "config": alertmanager_config(),
            "podDisruptionBudget": _pdb(alertmanager.replicas),
            "alertmanagerSpec": {
                **_replicated(alertmanager.replicas),
                "secrets": [RECEIVERS_SECRET],
                "storage": _volume(alertmanager.storage_gi),
            },
        },
        "prometheus": {
            "podDisruptionBudget": _pdb(prometheus.replicas),
            "prometheusSpec": {
                **_replicated(prometheus.replicas),
                # Every alert names the environment it comes from (Slack and PagerDuty titles).
                "externalLabels": {"environment": environment},
                "retention": prometheus.retention,
                "retentionSize": f"{retention_size}GiB",
                "storageSpec": _volume(prometheus.storage_gi),
            },
        },
    }
