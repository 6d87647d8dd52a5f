"""The NetworkPolicies of Argo CD's and the monitoring stack's namespaces, declared."""

from __future__ import annotations

import pulumi
import pulumi_kubernetes as k8s
from pydantic import BaseModel, ConfigDict

from components.kubernetes.network_policies import Isolation, network_policies
from components.kubernetes.providers import dependencies, require_provider


class NetworkIsolationArgs(BaseModel):
    """The namespaces to isolate and what may reach them (see `network_policies`)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    isolation: Isolation


class NetworkIsolation(pulumi.ComponentResource):
    """Default-deny ingress in Argo CD's and the monitoring namespace, and the few allowances.

    Pass the cluster's Kubernetes provider in `opts.providers`; `opts.depends_on` must hold both
    Namespaces (policies go after them, and before them on destroy).
    """

    policies: dict[str, k8s.networking.v1.NetworkPolicy]

    def __init__(
        self,
        name: str,
        args: NetworkIsolationArgs,
        opts: pulumi.ResourceOptions | None = None,
    ):
        super().__init__("delivery:network_isolation:NetworkIsolation", name, None, opts)
        after = dependencies(opts)
        provider = require_provider(self, "kubernetes")
        self.policies = {}
        for role, manifest in network_policies(args.isolation).items():
            self.policies[role] = k8s.networking.v1.NetworkPolicy(
                f"{name}-{role}",
                metadata=manifest["metadata"],
                spec=manifest["spec"],
                opts=pulumi.ResourceOptions(parent=self, provider=provider, depends_on=after),
            )
        self.register_outputs({"policies": sorted(self.policies)})
