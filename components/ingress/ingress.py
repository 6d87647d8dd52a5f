"""Traefik (serving the `nginx` IngressClass) and cert-manager from their pinned charts, and the
ACME ClusterIssuers."""

from __future__ import annotations

import pulumi
import pulumi_kubernetes as k8s
from pydantic import BaseModel, ConfigDict, Field

from components.config.base import Environment
from components.contracts.ingress import INGRESS_CLASS
from components.contracts.monitoring import SELECTOR_LABELS
from components.ingress.config import IngressConfig
from components.ingress.manifests import (
    JETSTACK_HELM_REPOSITORY,
    TRAEFIK_HELM_REPOSITORY,
    cert_manager_values,
    cluster_issuer,
    traefik_values,
)
from components.kubernetes.config import ChartsConfig
from components.kubernetes.helm import pinned_release
from components.kubernetes.providers import dependencies, require_provider


class IngressArgs(BaseModel):
    """The environment, its ingress config, whether it runs highly available, the Helm timeout."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    environment: Environment
    ingress: IngressConfig
    high_availability: bool
    timeout_seconds: int
    # Where the chart comes from and whether the release waits (delivery:charts).
    charts: ChartsConfig = Field(default_factory=ChartsConfig)


class Ingress(pulumi.ComponentResource):
    """Namespaces, the pinned releases (Traefik unless the cluster runs its own) and the ClusterIssuers. Pass the Kubernetes
    provider in `opts.providers`; `opts.depends_on` must hold the monitoring release (both charts
    declare ServiceMonitors, whose CRD it installs)."""

    namespaces: dict[str, k8s.core.v1.Namespace]
    releases: dict[str, k8s.helm.v3.Release]
    issuers: dict[str, k8s.apiextensions.CustomResource]

    def __init__(
        self,
        name: str,
        args: IngressArgs,
        opts: pulumi.ResourceOptions | None = None,
    ):
        super().__init__("delivery:ingress:Ingress", name, None, opts)
        provider = require_provider(self, "kubernetes")
        after = dependencies(opts)
        config = args.ingress
        charts = {}
        # ingress.installController: false on an existing cluster that runs its own controller.
        if config.install_controller:
            charts["traefik"] = (
                config.traefik_namespace,
                config.traefik_chart_version,
                config.traefik_chart_digest,
                TRAEFIK_HELM_REPOSITORY,
                traefik_values(args.high_availability, SELECTOR_LABELS, config.images),
            )
        charts |= {
            "cert-manager": (
                config.cert_manager_namespace,
                config.cert_manager_chart_version,
                config.cert_manager_chart_digest,
                JETSTACK_HELM_REPOSITORY,
                cert_manager_values(args.high_availability, SELECTOR_LABELS, config.images),
            ),
        }
        self.namespaces = {}
        self.releases = {}
        for chart, (namespace, version, digest, repository, values) in charts.items():
            traefik = chart == "traefik"
            self.namespaces[chart] = k8s.core.v1.Namespace(
                f"{name}-{chart}-namespace",
                metadata={"name": namespace, "labels": {"app.kubernetes.io/part-of": chart}},
                opts=pulumi.ResourceOptions(parent=self, provider=provider),
            )
            self.releases[chart] = pinned_release(
                f"{name}-{chart}",
                release_name=chart,
                chart=chart,
                version=version,
                repository=repository,
                digest=digest,
                namespace=namespace,
                values=values,
                timeout_seconds=args.timeout_seconds,
                charts=args.charts,
                # Traefik's crds/ hold its IngressRoute and Traefik Hub kinds, which nothing
                # here uses (the kubernetesCRD provider is off); cert-manager's come by value.
                skip_crds=traefik,
                opts=pulumi.ResourceOptions(
                    parent=self,
                    provider=provider,
                    depends_on=[self.namespaces[chart], *after],
                    # Traefik took over the cluster's ingress controller from ingress-nginx's
                    # release (the alias). A new release name or namespace replaces a release
                    # (pulumi-kubernetes' helm_release.go Diff: forceNewFields name, namespace),
                    # and each release owns the `nginx` IngressClass, which Helm refuses to
                    # install over another release's: the old release goes first.
                    aliases=[pulumi.Alias(name=f"{name}-ingress-nginx")] if traefik else None,
                    delete_before_replace=traefik,
                ),
            )
        self.issuers = {}
        for issuer in config.issuers_for(args.environment):
            manifest = cluster_issuer(issuer, config.acme_email)
            # After cert-manager (its CRDs and webhook); on destroy the issuers go first.
            self.issuers[issuer] = k8s.apiextensions.CustomResource(
                f"{name}-{issuer}",
                api_version=manifest["apiVersion"],
                kind=manifest["kind"],
                metadata=manifest["metadata"],
                spec=manifest["spec"],
                opts=pulumi.ResourceOptions(
                    parent=self, provider=provider, depends_on=[self.releases["cert-manager"]]
                ),
            )
        self.register_outputs({"issuers": sorted(self.issuers), "ingressClass": INGRESS_CLASS})
