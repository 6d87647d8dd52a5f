"""The cluster the stack runs on: an LKE cluster the program creates, or an existing one
(kubeconfig), with the keys that mean something for one kind only; its kubeconfig's rotation date."""

from __future__ import annotations

from typing import TYPE_CHECKING

from components.config.base import _MISSING, Problem

if TYPE_CHECKING:
    from components.config.stack import StackConfig


def cluster_source_problems(config: StackConfig) -> list[Problem]:
    """An existing cluster (kubeconfig) is a deliberate choice, never production's by accident;
    the keys that only mean something for one kind of cluster are refused with the other."""
    problems: list[Problem] = []
    cluster = config.cluster
    existing = cluster.source == "kubeconfig"
    if existing and config.environment == "production" and not cluster.existing_in_production:
        problems.append(
            Problem(
                "cluster.source",
                "kubeconfig",
                "production runs on the LKE cluster this program creates and protects; allowed: lke, "
                "or kubeconfig together with delivery:cluster.existingInProduction: true to adopt an "
                "existing production cluster",
            )
        )
    if cluster.existing_in_production and not (existing and config.environment == "production"):
        problems.append(
            Problem(
                "cluster.existingInProduction",
                True,
                "it allows production on an existing cluster and this is "
                + (
                    "not production"
                    if config.environment != "production"
                    else "an LKE stack (cluster.source: lke)"
                )
                + "; allowed: false",
            )
        )
    if not existing:
        if cluster.context is not None:
            problems.append(
                Problem(
                    "cluster.context",
                    cluster.context,
                    "a kubeconfig context, and the program creates this stack's LKE cluster (cluster.source: lke); "
                    "allowed: unset, or cluster.source: kubeconfig",
                )
            )
        if config.charts.repository is not None and config.environment != "development":
            problems.append(
                Problem(
                    "charts.repository",
                    config.charts.repository,
                    f"{config.environment}'s LKE cluster installs every chart from its OCI registry by digest, "
                    "and a mirror serves charts by version alone; allowed: unset (a mirror only with "
                    "cluster.source: kubeconfig, or in development)",
                )
            )
        if not config.ingress.install_controller:
            problems.append(
                Problem(
                    "ingress.installController",
                    False,
                    "the LKE cluster this program creates runs no ingress controller but Traefik, and the "
                    "services' Ingresses and the ClusterIssuers' HTTP-01 solver need one for the `nginx` "
                    "IngressClass; allowed: true (false only with cluster.source: kubeconfig)",
                )
            )
        if config.charts.skip_await:
            problems.append(
                Problem(
                    "charts.skipAwait",
                    True,
                    "an LKE cluster has nodes: its releases are installed atomically, waiting for their "
                    "workloads; allowed: false (true only with cluster.source: kubeconfig)",
                )
            )
        if config.charts.without_subcharts:
            problems.append(
                Problem(
                    "charts.withoutSubcharts",
                    list(config.charts.without_subcharts),
                    "an LKE cluster installs every chart whole from its upstream registry; allowed: [] "
                    "(subcharts left out only with cluster.source: kubeconfig and a charts.repository "
                    "that lacks them)",
                )
            )
    elif cluster.control_plane_acl:
        problems.append(
            Problem(
                "cluster.controlPlaneAcl",
                cluster.control_plane_acl,
                "the control-plane ACL is a setting of the LKE cluster the program creates, and this stack "
                "targets an existing cluster (cluster.source: kubeconfig); allowed: []",
            )
        )
    if existing and config.charts.without_subcharts and config.charts.repository is None:
        problems.append(
            Problem(
                "charts.withoutSubcharts",
                list(config.charts.without_subcharts),
                "subcharts are left out only when the chart mirror (charts.repository) lacks them, and "
                "each chart's upstream registry serves it whole; allowed: [], or a charts.repository",
            )
        )
    return problems


def kubeconfig_problems(config: StackConfig) -> list[Problem]:
    """Staging's and production's admin kubeconfig rotates on a schedule counted from its issue date."""
    problems: list[Problem] = []
    if config.environment != "development" and config.cluster.kubeconfig_issued_on is None:
        problems.append(
            Problem(
                "cluster.kubeconfigIssuedOn",
                _MISSING,
                f"{config.environment}'s admin kubeconfig rotates on a schedule and its rotation alert "
                "counts from this date; allowed: the date (YYYY-MM-DD) the cluster was created or its "
                "kubeconfig last regenerated (docs/rotation.md)",
            )
        )
    return problems
