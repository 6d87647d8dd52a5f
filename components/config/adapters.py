"""The typed slices of the stack configuration that pure builders take: the root model is read
here, at the config root, so no domain needs to know ``StackConfig`` (docs/development.md)."""

from __future__ import annotations

from components.config.stack import StackConfig
from components.contracts.ingress import INGRESS_CLASS
from components.contracts.monitoring import SELECTOR_LABELS
from components.gitops.analysis import TEMPLATES
from components.gitops.gitops_manifests import GitOpsSpec, ServiceApp
from components.gitops.service_chart import platform_values, strategy_for


def gitops_spec(config: StackConfig) -> GitOpsSpec:
    """Everything the AppProject and Applications of the stack's environment are built from."""
    return GitOpsSpec(
        environment=config.environment,
        argocd_namespace=config.argocd.namespace,
        repo_url=config.gitops_repo_url,
        gitops=config.gitops,
        services={
            name: ServiceApp(namespace=config.service_namespace(name), chart=service.chart or name)
            for name, service in config.services.items()
        },
        # Development and staging follow main on their own; production syncs by hand.
        automated_sync=config.environment != "production",
        # Development deploys a service before its first image exists. Staging and
        # production must never fall back to a chart's default image: an image file that
        # is missing (not yet written, or deleted) fails the comparison instead.
        tolerate_missing_image=config.environment == "development",
        image_pull_secret=config.image_pull.secret_name,
        platform=platform_values(
            environment=config.environment,
            strategy=strategy_for(config.environment, config.rollouts_enabled),
            analysis_templates=TEMPLATES,
            scale_down_delay_seconds=config.argocd.rollouts.scale_down_delay_seconds,
            ingress_class=INGRESS_CLASS if config.ingress.enabled else None,
            cluster_issuer=config.ingress.issuer_for(config.environment) if config.ingress.enabled else None,
            monitor_labels=SELECTOR_LABELS,
        ),
    )
