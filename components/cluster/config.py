"""Config models of the LKE cluster and its node pools (``delivery:cluster``)."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Literal

from pydantic import Field, model_validator

from components.config.base import DnsLabel, FieldError, Ipv4Cidr, K8sVersion, Model


class Autoscaler(Model):
    min: int = Field(ge=1, le=100, description="Fewest nodes the LKE autoscaler keeps in the pool.")
    max: int = Field(ge=1, le=100, description="Most nodes the LKE autoscaler grows the pool to.")

    @model_validator(mode="after")
    def _min_not_above_max(self) -> Autoscaler:
        if self.min > self.max:
            raise FieldError("max", f"below min ({self.min}); allowed: {self.min} to 100")
        return self


class NodePool(Model):
    type: str = Field(
        default="g6-standard-2",
        pattern=r"^g\d+-[a-z0-9-]+$",
        examples=["g6-standard-4", "g6-dedicated-16"],
        description="Linode instance type of the pool's nodes (e.g. g6-standard-4).",
    )
    count: int | None = Field(
        default=None,
        ge=1,
        le=100,
        description=(
            "Fixed node count. Leave it out when `autoscaler` is set: the autoscaler owns "
            "the count and a fixed one would fight it on every `pulumi up`."
        ),
    )
    autoscaler: Autoscaler | None = Field(
        default=None, description="Autoscaler bounds; when set the pool scales between them."
    )
    labels: dict[str, str] = Field(
        default_factory=dict, description="Kubernetes node labels applied to every node."
    )

    @model_validator(mode="after")
    def _count_xor_autoscaler(self) -> NodePool:
        if self.count is None and self.autoscaler is None:
            raise FieldError("count", "a pool needs a fixed `count` or an `autoscaler`; allowed: 1 to 100")
        if self.count is not None and self.autoscaler is not None:
            raise FieldError(
                "count",
                "set with `autoscaler`, which owns the node count; allowed: `count` or `autoscaler`, not both",
            )
        return self

    @property
    def min_nodes(self) -> int:
        """Nodes the pool is guaranteed to have."""
        return self.autoscaler.min if self.autoscaler else (self.count or 0)


class ClusterConfig(Model):
    source: Literal["lke", "kubeconfig"] = Field(
        default="lke",
        description=(
            "Where the stack's cluster comes from. `lke`: the program creates it (every other "
            "key here describes it). `kubeconfig`: an existing cluster (kind or k3d on a laptop, "
            "or one being adopted) reached with the secret `delivery:kubeconfig`; the program "
            "creates no LKE cluster and `pools` states the nodes that cluster guarantees. "
            "Production: `lke` unless `existingInProduction` says otherwise."
        ),
    )
    context: str | None = Field(
        default=None,
        min_length=1,
        description="Context of `delivery:kubeconfig` to use (`cluster.source: kubeconfig`); unset: its current context.",
    )
    existing_in_production: bool = Field(
        default=False,
        description=(
            "Production may run on an existing cluster (`cluster.source: kubeconfig`), one the "
            "program neither created nor protects; say so explicitly with true."
        ),
    )
    kubernetes_version: K8sVersion = Field(
        default="1.33", description="LKE Kubernetes version, pinned as `major.minor`."
    )
    high_availability: bool = Field(
        default=False,
        description="HA control plane. Irreversible once on; required in production.",
    )
    control_plane_acl: list[Ipv4Cidr] = Field(
        default_factory=list,
        description=(
            "IPv4 CIDRs allowed to reach the Kubernetes API. Empty: no ACL (API open to "
            "the internet, authenticated)."
        ),
    )
    pools: dict[DnsLabel, NodePool] = Field(
        default_factory=lambda: {"default": NodePool(count=1)},
        min_length=1,
        description="Node pools keyed by name; reordering replaces nothing.",
    )
    tags: list[str] = Field(
        default_factory=list, description="Extra Linode tags (environment and project are always added)."
    )
    kubeconfig_issued_on: str | None = Field(
        default=None,
        pattern=r"^\d{4}-\d{2}-\d{2}$",
        examples=["2026-12-03"],
        description=(
            "Date (YYYY-MM-DD) the cluster's admin kubeconfig was last regenerated (and, in staging, "
            "the observer token minted). Changing it is the rotation's `pulumi up`: the cluster is "
            "re-read with its new kubeconfig, the Kubernetes provider and the observer token follow, "
            "and the rotation alert moves (docs/rotation.md). Required in staging and production."
        ),
    )
    kubeconfig_rotation_days: int = Field(
        default=90,
        ge=7,
        le=365,
        description=(
            "Days after kubeconfigIssuedOn by which the admin kubeconfig is regenerated; the "
            "`ClusterKubeconfigRotationDue` alert warns monitoring.alerts.credentialsExpiryWarningDays before."
        ),
    )

    @model_validator(mode="after")
    def _kubeconfig_issued_on_is_a_date(self) -> ClusterConfig:
        if self.kubeconfig_issued_on is None:
            return self
        try:
            date.fromisoformat(self.kubeconfig_issued_on)
        except ValueError as error:
            raise FieldError(
                "kubeconfigIssuedOn", f"not a calendar date ({error}); allowed: a real date, YYYY-MM-DD"
            ) from None
        return self

    @property
    def kubeconfig_rotate_by(self) -> date | None:
        """The day the admin kubeconfig is due for regeneration (no date: never rotated)."""
        if self.kubeconfig_issued_on is None:
            return None
        return date.fromisoformat(self.kubeconfig_issued_on) + timedelta(days=self.kubeconfig_rotation_days)

    @property
    def min_nodes(self) -> int:
        return sum(pool.min_nodes for pool in self.pools.values())
