"""Argo CD on the stack's cluster: its namespace, notifications Secret and pinned Helm release."""

from __future__ import annotations

import pulumi
import pulumi_kubernetes as k8s
from pydantic import BaseModel, ConfigDict, Field

from components.config.base import Environment
from components.gitops.argocd_values import (
    CHART,
    GITHUB_DISPATCH_KEY,
    NOTIFICATIONS_SECRET,
    RELEASE_NAME,
    SLACK_WEBHOOK_KEY,
    argocd_values,
)
from components.gitops.config import ArgoCdConfig
from components.kubernetes.config import ChartsConfig
from components.kubernetes.helm import ARGO_HELM_REPOSITORY, pinned_release
from components.kubernetes.providers import dependencies, require_provider

PART_OF = {"app.kubernetes.io/part-of": "argocd"}


class ArgoCdArgs(BaseModel):
    """What the Argo CD install needs: the environment and its Argo CD config."""

    model_config = ConfigDict(frozen=True, extra="forbid", arbitrary_types_allowed=True)

    environment: Environment
    argocd: ArgoCdConfig
    # `owner/name` of the repository that receives the staging-deployed dispatch; set when
    # `argocd.notifications.githubDispatch` is on.
    dispatch_repository: str | None = None
    # Secrets: they go only into the notifications Secret, never into Helm values.
    slack_webhook_url: pulumi.Output[str]
    dispatch_token: pulumi.Output[str] | None = None
    # Where the chart comes from and whether the release waits (delivery:charts).
    charts: ChartsConfig = Field(default_factory=ChartsConfig)


class ArgoCd(pulumi.ComponentResource):
    """The argo-cd chart, pinned, in its own namespace on the environment's cluster.

    Pass the cluster's Kubernetes provider in `opts.providers`. `args.slack_webhook_url`
    (secret) feeds the notifications Secret when notifications are enabled; `args.dispatch_token`
    (secret) joins it when `args.dispatch_repository` is set, and is required then.
    The release waits for `opts.depends_on`, which must hold the monitoring release: the chart
    declares ServiceMonitors, whose CRD that release installs (and on destroy Argo CD goes first).
    """

    namespace: k8s.core.v1.Namespace
    release: k8s.helm.v3.Release
    notifications_secret: k8s.core.v1.Secret | None

    def __init__(
        self,
        name: str,
        args: ArgoCdArgs,
        opts: pulumi.ResourceOptions | None = None,
    ):
        super().__init__("delivery:argocd:ArgoCd", name, None, opts)
        after = dependencies(opts)
        config = args.argocd
        production = args.environment == "production"
        provider = require_provider(self, "kubernetes")

        self.namespace = k8s.core.v1.Namespace(
            f"{name}-namespace",
            metadata={"name": config.namespace, "labels": PART_OF},
            # The namespace holds the Applications: deleting it would cascade to every
            # workload Argo CD deployed, so production refuses to without an explicit unprotect.
            opts=pulumi.ResourceOptions(parent=self, provider=provider, protect=production),
        )

        self.notifications_secret = None
        if config.notifications.enabled:
            # Created here rather than by the chart so the webhook URL stays out of Helm values
            # (and Helm's release records); the notifications ConfigMap refers to it by key.
            webhook_url: pulumi.Output[str] = pulumi.Output.secret(args.slack_webhook_url)
            secret_data: dict[str, pulumi.Output[str]] = {SLACK_WEBHOOK_KEY: webhook_url}
            if args.dispatch_repository is not None:
                if args.dispatch_token is None:
                    raise ValueError("ArgoCd: a dispatch repository needs the dispatch token")
                secret_data[GITHUB_DISPATCH_KEY] = pulumi.Output.secret(args.dispatch_token)
            self.notifications_secret = k8s.core.v1.Secret(
                f"{name}-notifications-secret",
                metadata={"name": NOTIFICATIONS_SECRET, "namespace": config.namespace, "labels": PART_OF},
                type="Opaque",
                string_data=secret_data,
                opts=pulumi.ResourceOptions(parent=self, provider=provider, depends_on=[self.namespace]),
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
            values=argocd_values(
                args.environment,
                config,
                args.dispatch_repository,
                redis_ha="redis-ha" not in args.charts.without_subcharts,
            ),
            timeout_seconds=config.helm_timeout_seconds,
            opts=pulumi.ResourceOptions(
                parent=self,
                provider=provider,
                depends_on=[
                    *[r for r in (self.namespace, self.notifications_secret) if r is not None],
                    *after,
                ],
            ),
        )
        self.register_outputs({"namespace": config.namespace, "releaseStatus": self.release.status})
