"""An existing cluster the stack targets instead of creating LKE (``cluster.source: kubeconfig``)."""

from __future__ import annotations

import pulumi
import pulumi_kubernetes as k8s
from pydantic import BaseModel, ConfigDict

from components.config.base import Environment


class ExistingClusterArgs(BaseModel):
    """The environment, its kubeconfig (secret) and the context to use (None: the kubeconfig's current one)."""

    model_config = ConfigDict(frozen=True, extra="forbid", arbitrary_types_allowed=True)

    environment: Environment
    # The stack's kubeconfig secret (delivery:kubeconfig).
    kubeconfig: pulumi.Output[str]
    context: str | None = None


class ExistingCluster(pulumi.ComponentResource):
    """The Kubernetes provider of a cluster the program did not create (kind, k3d, an adopted
    cluster): the same provider settings as an LKE stack's, from the stack's kubeconfig secret."""

    provider: k8s.Provider
    kubeconfig: pulumi.Output[str]

    def __init__(
        self,
        name: str,
        args: ExistingClusterArgs,
        opts: pulumi.ResourceOptions | None = None,
    ):
        super().__init__("delivery:existing_cluster:ExistingCluster", name, None, opts)
        self.kubeconfig = pulumi.Output.secret(args.kubeconfig)
        self.provider = k8s.Provider(
            f"{name}-k8s",
            kubeconfig=self.kubeconfig,
            context=args.context,
            # The cluster is the one this stack was pointed at: rotated credentials or a moved
            # endpoint in the kubeconfig update the provider and replace nothing. Pointing the
            # stack at another cluster is a new stack.
            cluster_identifier=f"{args.environment}-existing",
            enable_server_side_apply=True,
            delete_unreachable=args.environment != "production",
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.register_outputs({"kubeconfig": self.kubeconfig, "context": args.context})
