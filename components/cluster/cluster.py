"""The stack's LKE cluster and the Kubernetes provider built from its kubeconfig."""

from __future__ import annotations

import base64

import pulumi
import pulumi_kubernetes as k8s
import pulumi_linode as linode
from pydantic import BaseModel, ConfigDict

from components.cluster.config import ClusterConfig
from components.config.base import Environment


class ClusterArgs(BaseModel):
    """What the cluster component needs: the environment, its region and the cluster config."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    environment: Environment
    region: str
    project: str
    cluster: ClusterConfig


def pool_args(cluster: ClusterConfig) -> list[linode.LkeClusterPoolArgs]:
    """Node pools in name order. Autoscaled pools leave `count` out: the autoscaler owns it."""
    pools: list[linode.LkeClusterPoolArgs] = []
    for name in sorted(cluster.pools):
        pool = cluster.pools[name]
        labels = {"delivery.platform/pool": name, **pool.labels}
        if pool.autoscaler is not None:
            pools.append(
                linode.LkeClusterPoolArgs(
                    type=pool.type,
                    label=name,
                    labels=labels,
                    autoscaler=linode.LkeClusterPoolAutoscalerArgs(
                        min=pool.autoscaler.min, max=pool.autoscaler.max
                    ),
                )
            )
        else:
            pools.append(
                linode.LkeClusterPoolArgs(type=pool.type, label=name, labels=labels, count=pool.count)
            )
    return pools


def control_plane_args(cluster: ClusterConfig) -> linode.LkeClusterControlPlaneArgs:
    acl = None
    if cluster.control_plane_acl:
        acl = linode.LkeClusterControlPlaneAclArgs(
            enabled=True,
            addresses=[linode.LkeClusterControlPlaneAclAddressArgs(ipv4s=list(cluster.control_plane_acl))],
        )
    return linode.LkeClusterControlPlaneArgs(high_availability=cluster.high_availability, acl=acl)


def kubeconfig_tags(cluster: ClusterConfig) -> list[str]:
    """`kubeconfig:<issuedOn>`: a new date is an in-place update of the cluster, whose provider
    reads the cluster back after every update, kubeconfig included (updateResource ends in
    readResource, which calls GetLKEClusterKubeconfig: linode/lke/resource.go of
    terraform-provider-linode). So the `up` of a rotation takes the regenerated kubeconfig
    without a separate `pulumi refresh`, and everything built from it follows in that `up`."""
    return [f"kubeconfig:{cluster.kubeconfig_issued_on}"] if cluster.kubeconfig_issued_on else []


def decode_kubeconfig(encoded: str) -> str:
    """LKE returns the kubeconfig base64-encoded."""
    return base64.b64decode(encoded).decode("utf-8")


class Cluster(pulumi.ComponentResource):
    """An LKE cluster per environment, and a Kubernetes provider pointed at it."""

    cluster: linode.LkeCluster
    provider: k8s.Provider
    kubeconfig: pulumi.Output[str]

    def __init__(self, name: str, args: ClusterArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("delivery:cluster:Cluster", name, None, opts)
        env = args.environment
        self.cluster = linode.LkeCluster(
            f"{name}-lke",
            label=f"{args.project}-{env}",
            region=args.region,
            k8s_version=args.cluster.kubernetes_version,
            pools=pool_args(args.cluster),
            control_plane=control_plane_args(args.cluster),
            tags=sorted({args.project, f"env:{env}", *args.cluster.tags, *kubeconfig_tags(args.cluster)}),
            opts=pulumi.ResourceOptions(
                parent=self,
                # A production cluster holds every workload: never replace or delete it by accident.
                protect=env == "production",
                additional_secret_outputs=["kubeconfig"],
            ),
        )
        self.kubeconfig = pulumi.Output.secret(self.cluster.kubeconfig.apply(decode_kubeconfig))
        self.provider = k8s.Provider(
            f"{name}-k8s",
            kubeconfig=self.kubeconfig,
            # Only a different cluster replaces the provider (and with it every Kubernetes
            # resource); a refreshed kubeconfig is an update.
            cluster_identifier=self.cluster.id,
            enable_server_side_apply=True,
            delete_unreachable=env != "production",
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.register_outputs(
            {
                "clusterId": self.cluster.id,
                "apiEndpoints": self.cluster.api_endpoints,
                "kubeconfig": self.kubeconfig,
            }
        )
