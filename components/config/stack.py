"""The whole stack configuration, ``StackConfig``: the domain models under one root and the
settings derived from them, validated across domains by the rules in ``components.config.rules``;
``parse_config`` turns raw config into it, or into a ``ConfigError`` naming every bad key
(the translation of pydantic's errors lives in ``components.config.errors``).
"""

from __future__ import annotations

from typing import Any

from pydantic import Field, ValidationError, model_validator

from components.cluster.config import ClusterConfig
from components.config.base import ConfigError, DnsLabel, Environment, LinodeRegion, Model
from components.config.errors import problems_from
from components.config.rules import cross_field_problems
from components.config.rules.pipeline import PROMOTED, VALIDATED
from components.github.config import GithubConfig, PipelineConfig
from components.gitops.config import (
    AnalysisConfig,
    ArgoCdConfig,
    GitOpsConfig,
    ImagePullConfig,
    ServiceConfig,
)
from components.ingress.config import IngressConfig
from components.kubernetes.config import ChartsConfig, PodPoliciesConfig
from components.monitoring.config import MonitoringConfig
from components.storage.config import MetricsConfig

__all__ = ["PROMOTED", "VALIDATED", "StackConfig", "parse_config"]


class StackConfig(Model):
    environment: Environment = Field(
        description="Environment of this stack.",
        json_schema_extra={"defaultText": "the stack name"},
    )
    region: LinodeRegion = Field(
        default="us-ord",
        description="Linode region of the cluster (e.g. us-ord, eu-central).",
    )
    cluster: ClusterConfig = Field(default_factory=ClusterConfig, description="The LKE cluster.")
    argocd: ArgoCdConfig = Field(default_factory=ArgoCdConfig, description="Argo CD and Argo Rollouts.")
    gitops: GitOpsConfig = Field(
        default_factory=GitOpsConfig, description="Where Argo CD reads desired state."
    )
    services: dict[DnsLabel, ServiceConfig] = Field(
        min_length=1, description="The platform's services, keyed by name (one Argo CD Application each)."
    )
    image_pull: ImagePullConfig = Field(
        description="How the clusters pull the platform's images from GHCR (packages of a private repository are private)."
    )
    github: GithubConfig = Field(description="The GitHub repository and its governance.")
    metrics: MetricsConfig = Field(default_factory=MetricsConfig, description="CI build metrics bucket.")
    monitoring: MonitoringConfig = Field(
        default_factory=MonitoringConfig,
        description="Prometheus, Alertmanager and the deployment alerts on the stack's cluster.",
    )
    pipeline: PipelineConfig = Field(
        description="CI of this stack: its state bucket and the lifetime of the credentials minted for CI."
    )
    ingress: IngressConfig = Field(
        default_factory=IngressConfig,
        description="Traefik, cert-manager and the Let's Encrypt ClusterIssuers on the stack's cluster.",
    )
    charts: ChartsConfig = Field(
        default_factory=ChartsConfig,
        description="Where the pinned Helm charts (Argo CD, Argo Rollouts, kube-prometheus-stack) come from.",
    )
    pod_policies: PodPoliciesConfig = Field(
        default_factory=PodPoliciesConfig,
        description=(
            "Admission policies on the cluster: the platform's images pinned by digest, no root "
            "and a read-only root filesystem in every container of the Applications' namespaces."
        ),
    )

    @model_validator(mode="after")
    def _cross_field_rules(self) -> StackConfig:
        if problems := cross_field_problems(self):
            raise ConfigError(problems)
        return self

    # Derived settings, computed here so every component agrees on them.
    @property
    def rollouts_enabled(self) -> bool:
        return self.argocd.rollouts.enabled

    @property
    def analysis(self) -> AnalysisConfig:
        """The analysis thresholds with this environment's default success rate filled in."""
        return self.argocd.rollouts.analysis.for_environment(self.environment)

    @property
    def gitops_repo_url(self) -> str:
        return self.gitops.repo_url or self.github.ssh_url

    def service_namespace(self, name: str) -> str:
        return self.services[name].namespace or f"platform-{self.environment}"

    @property
    def platform_namespaces(self) -> tuple[str, ...]:
        """Namespaces of the platform's own workloads: Argo CD, Argo Rollouts where it runs,
        monitoring and the services (the crash-loop alert watches these)."""
        namespaces = {self.argocd.namespace, self.monitoring.namespace}
        namespaces.update(self.service_namespace(name) for name in self.services)
        if self.rollouts_enabled:
            namespaces.add(self.argocd.rollouts.namespace)
        return tuple(sorted(namespaces))


def parse_config(raw: dict[str, Any]) -> StackConfig:
    """Validate raw config values (top-level keys without namespace) into a StackConfig."""
    try:
        return StackConfig.model_validate(raw)
    except ValidationError as error:
        raise ConfigError(problems_from(error, StackConfig)) from None
