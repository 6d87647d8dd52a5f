"""The ClusterAnalysisTemplates the services' Rollouts reference (where Argo Rollouts runs)."""

from __future__ import annotations

import pulumi
import pulumi_kubernetes as k8s
from pydantic import BaseModel, ConfigDict

from components.gitops.analysis import analysis_templates
from components.gitops.config import AnalysisConfig
from components.kubernetes.providers import dependencies, require_provider


class AnalysisTemplatesArgs(BaseModel):
    """The analysis thresholds and the in-cluster Prometheus the templates query."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    analysis: AnalysisConfig
    prometheus_address: str


class AnalysisTemplates(pulumi.ComponentResource):
    """One ClusterAnalysisTemplate per analysis metric.

    `opts.depends_on` must hold the Argo Rollouts release (it installs the CRD): on destroy the
    templates go first. Pass the cluster's Kubernetes provider in `opts.providers`.
    """

    templates: dict[str, k8s.apiextensions.CustomResource]

    def __init__(
        self,
        name: str,
        args: AnalysisTemplatesArgs,
        opts: pulumi.ResourceOptions | None = None,
    ):
        super().__init__("delivery:analysis_templates:AnalysisTemplates", name, None, opts)
        after = dependencies(opts)
        provider = require_provider(self, "kubernetes")
        self.templates = {}
        for template, manifest in analysis_templates(args.analysis, args.prometheus_address).items():
            self.templates[template] = k8s.apiextensions.CustomResource(
                f"{name}-{template}",
                api_version=manifest["apiVersion"],
                kind=manifest["kind"],
                metadata=manifest["metadata"],
                spec=manifest["spec"],
                opts=pulumi.ResourceOptions(parent=self, provider=provider, depends_on=after),
            )
        self.register_outputs({"templates": sorted(self.templates)})
