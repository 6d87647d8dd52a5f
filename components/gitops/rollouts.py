"""Argo Rollouts (blue-green and canary, seeds 003/004) from its pinned Helm chart."""

from __future__ import annotations

from typing import Any

import pulumi
import pulumi_kubernetes as k8s
from pydantic import BaseModel, ConfigDict, Field

from components.config.base import Environment
from components.contracts.monitoring import SELECTOR_LABELS
from components.gitops.config import RolloutsConfig
from components.kubernetes.config import ChartsConfig
from components.kubernetes.helm import ARGO_HELM_REPOSITORY, image_ref, pinned_release
from components.kubernetes.providers import dependencies, require_provider

CHART = "argo-rollouts"
RELEASE_NAME = "argo-rollouts"


def rollouts_values(high_availability: bool, rollouts: RolloutsConfig) -> dict[str, Any]:
    """Values of the argo-rollouts chart.

    The controller elects a leader, so a second replica is a hot standby: HA environments
    run two with a PDB, others one. Traffic-router RBAC (Istio, SMI, ALB, ...) is off:
    the seeds' blue-green and canary strategies switch Services and scale ReplicaSets, which
    the controller's base role covers. The dashboard (an unauthenticated UI) stays off.
    """
    controller: dict[str, Any] = {
        "replicas": 2 if high_availability else 1,
        # rollout_phase & co. for the deployment alerts, scraped by the monitoring stack's
        # Prometheus (it selects ServiceMonitors by its release label).
        "metrics": {
            "enabled": True,
            "serviceMonitor": {"enabled": True, "additionalLabels": dict(SELECTOR_LABELS)},
        },
    }
    if high_availability:
        controller["pdb"] = {"enabled": True, "minAvailable": 1}
    if "controller" in rollouts.images:
        # The chart joins `registry/repository:tag`, so the digest rides in `tag` (its version
        # label strips `@sha256:…`: `argo-rollouts.chart_version_label` in _helpers.tpl).
        ref = image_ref(rollouts.images["controller"])
        controller["image"] = {
            "registry": ref.registry,
            "repository": ref.repository,
            "tag": ref.tag_at_digest,
        }
    return {
        # CRDs kept on uninstall: deleting the release must not delete every Rollout.
        "installCRDs": True,
        "keepCRDs": True,
        "controller": controller,
        "providerRBAC": {"enabled": False},
        "dashboard": {"enabled": False},
    }


class RolloutsArgs(BaseModel):
    """The environment, its Rollouts config, whether it runs highly available, the Helm timeout."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    environment: Environment
    rollouts: RolloutsConfig
    high_availability: bool
    timeout_seconds: int
    # Where the chart comes from and whether the release waits (delivery:charts).
    charts: ChartsConfig = Field(default_factory=ChartsConfig)


class Rollouts(pulumi.ComponentResource):
    """Namespace and pinned argo-rollouts release. Pass the Kubernetes provider in `opts.providers`.

    The release waits for `opts.depends_on`, which must hold the monitoring release (the chart
    declares a ServiceMonitor, whose CRD that release installs).
    """

    namespace: k8s.core.v1.Namespace
    release: k8s.helm.v3.Release

    def __init__(
        self,
        name: str,
        args: RolloutsArgs,
        opts: pulumi.ResourceOptions | None = None,
    ):
        super().__init__("delivery:rollouts:Rollouts", name, None, opts)
        after = dependencies(opts)
        provider = require_provider(self, "kubernetes")
        config = args.rollouts
        self.namespace = k8s.core.v1.Namespace(
            f"{name}-namespace",
            metadata={"name": config.namespace, "labels": {"app.kubernetes.io/part-of": "argo-rollouts"}},
            opts=pulumi.ResourceOptions(parent=self, provider=provider),
        )
        self.release = pinned_release(
            f"{name}-release",
            release_name=RELEASE_NAME,
            chart=CHART,
            version=config.chart_version,
            repository=ARGO_HELM_REPOSITORY,
            digest=config.chart_digest,
            charts=args.charts,
            namespace=config.namespace,
            values=rollouts_values(args.high_availability, config),
            timeout_seconds=args.timeout_seconds,
            opts=pulumi.ResourceOptions(parent=self, provider=provider, depends_on=[self.namespace, *after]),
        )
        self.register_outputs({"namespace": config.namespace, "releaseStatus": self.release.status})
