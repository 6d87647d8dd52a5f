"""kube-prometheus-stack on the stack's cluster: namespace, receivers Secret, release, alert rules."""

from __future__ import annotations

from datetime import date

import pulumi
import pulumi_kubernetes as k8s
from pydantic import BaseModel, ConfigDict, Field

from components.config.base import Environment
from components.kubernetes.config import ChartsConfig
from components.kubernetes.helm import pinned_release
from components.kubernetes.providers import require_provider
from components.monitoring.config import MonitoringConfig
from components.monitoring.dashboards import dashboard_config_maps
from components.monitoring.rules import RuleInputs, prometheus_rule
from components.monitoring.slo import slo_rule_groups
from components.monitoring.stack_values import (
    CHART,
    PAGERDUTY_ROUTING_KEY,
    RECEIVERS_SECRET,
    RELEASE_NAME,
    REPOSITORY,
    SLACK_WEBHOOK_KEY,
    monitoring_values,
)

PART_OF = {"app.kubernetes.io/part-of": "monitoring"}


class MonitoringArgs(BaseModel):
    """The environment, its monitoring config, the namespaces whose pods the alerts watch and
    the day CI's credentials expire."""

    model_config = ConfigDict(frozen=True, extra="forbid", arbitrary_types_allowed=True)

    environment: Environment
    monitoring: MonitoringConfig
    platform_namespaces: tuple[str, ...]
    # The day CI's Linode token expires: the rotation alert warns ahead of it.
    ci_credentials_expire_on: date
    # Secrets: they go only into the receivers Secret Alertmanager mounts.
    pagerduty_routing_key: pulumi.Output[str]
    slack_webhook_url: pulumi.Output[str]
    # The day the cluster's admin kubeconfig is due for regeneration (None: not scheduled).
    kubeconfig_rotate_by: date | None = None
    # The platform's services and their namespaces: each gets SLO burn-rate alerts.
    services: dict[str, str] = {}
    # Where the chart comes from and whether the release waits (delivery:charts).
    charts: ChartsConfig = Field(default_factory=ChartsConfig)


class Monitoring(pulumi.ComponentResource):
    """Prometheus, Alertmanager, the operator and the exporters, plus the deployment alerts.

    Pass the cluster's Kubernetes provider in `opts.providers`. `args.pagerduty_routing_key`
    and `args.slack_webhook_url` (secrets) go only into the receivers Secret Alertmanager mounts.
    Whatever declares a ServiceMonitor (the Argo releases) must depend on `release`, which
    installs the CRD: Pulumi then deletes those before the monitoring stack on destroy.
    """

    namespace: k8s.core.v1.Namespace
    receivers_secret: k8s.core.v1.Secret
    release: k8s.helm.v3.Release
    rules: k8s.apiextensions.CustomResource
    dashboards: dict[str, k8s.core.v1.ConfigMap]

    def __init__(
        self,
        name: str,
        args: MonitoringArgs,
        opts: pulumi.ResourceOptions | None = None,
    ):
        super().__init__("delivery:monitoring:Monitoring", name, None, opts)
        config = args.monitoring
        provider = require_provider(self, "kubernetes")
        production = args.environment == "production"

        self.namespace = k8s.core.v1.Namespace(
            f"{name}-namespace",
            metadata={"name": config.namespace, "labels": PART_OF},
            # Deleting the namespace deletes Prometheus' volume claims with their history.
            opts=pulumi.ResourceOptions(parent=self, provider=provider, protect=production),
        )
        routing_key: pulumi.Output[str] = pulumi.Output.secret(args.pagerduty_routing_key)
        webhook_url: pulumi.Output[str] = pulumi.Output.secret(args.slack_webhook_url)
        self.receivers_secret = k8s.core.v1.Secret(
            f"{name}-receivers-secret",
            metadata={"name": RECEIVERS_SECRET, "namespace": config.namespace, "labels": PART_OF},
            type="Opaque",
            string_data={
                PAGERDUTY_ROUTING_KEY: routing_key,
                SLACK_WEBHOOK_KEY: webhook_url,
            },
            opts=pulumi.ResourceOptions(parent=self, provider=provider, depends_on=[self.namespace]),
        )
        self.release = pinned_release(
            f"{name}-release",
            release_name=RELEASE_NAME,
            chart=CHART,
            version=config.chart_version,
            repository=REPOSITORY,
            digest=config.chart_digest,
            charts=args.charts,
            namespace=config.namespace,
            values=monitoring_values(args.environment, config),
            timeout_seconds=config.helm_timeout_seconds,
            # Alertmanager's pods mount the receivers Secret: it exists before they start.
            opts=pulumi.ResourceOptions(
                parent=self, provider=provider, depends_on=[self.namespace, self.receivers_secret]
            ),
        )
        manifest = prometheus_rule(
            config.namespace,
            config.alerts,
            RuleInputs(
                environment=args.environment,
                platform_namespaces=args.platform_namespaces,
                ci_credentials_expire_on=args.ci_credentials_expire_on,
                kubeconfig_rotate_by=args.kubeconfig_rotate_by,
            ),
            extra_groups=slo_rule_groups(args.environment, config.slo, args.services),
        )
        self.rules = k8s.apiextensions.CustomResource(
            f"{name}-rules",
            api_version=manifest["apiVersion"],
            kind=manifest["kind"],
            metadata=manifest["metadata"],
            spec=manifest["spec"],
            # The release installs the PrometheusRule CRD (and the operator that loads it).
            opts=pulumi.ResourceOptions(parent=self, provider=provider, depends_on=[self.release]),
        )
        # Grafana's dashboards as code: its sidecar loads these ConfigMaps (dashboards.py).
        self.dashboards = {
            key: k8s.core.v1.ConfigMap(
                f"{name}-dashboard-{key}",
                metadata=manifest_["metadata"],
                data=manifest_["data"],
                opts=pulumi.ResourceOptions(parent=self, provider=provider, depends_on=[self.namespace]),
            )
            for key, manifest_ in dashboard_config_maps(config.namespace, config.slo, args.services).items()
        }
        self.register_outputs({"namespace": config.namespace, "releaseStatus": self.release.status})
