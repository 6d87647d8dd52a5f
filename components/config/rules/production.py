"""What production needs beyond the other stacks, and what high availability needs of the
cluster: replicated pods fit one per node."""

from __future__ import annotations

from typing import TYPE_CHECKING

from components.config.base import Problem
from components.contracts.ingress import LETSENCRYPT_PROD
from components.gitops.config import PRODUCTION_AVAILABILITY

if TYPE_CHECKING:
    from components.config.stack import StackConfig


def production_problems(config: StackConfig) -> list[Problem]:
    """What production needs beyond the other stacks (an HA control plane and Argo CD, three nodes,
    reviewers, the availability target, a trusted issuer); HA Argo CD's redis-ha needs three nodes anywhere."""
    problems: list[Problem] = []
    env = config.environment
    nodes = config.cluster.min_nodes
    if env == "production":
        if not config.cluster.high_availability:
            problems.append(
                Problem(
                    "cluster.highAvailability",
                    False,
                    "production needs an HA control plane; allowed: true",
                )
            )
        if nodes < 3:
            problems.append(
                Problem(
                    "cluster.pools",
                    nodes,
                    "production needs at least 3 nodes in total (count, or autoscaler min); allowed: 3 or more",
                )
            )
        if not config.argocd.high_availability:
            problems.append(
                Problem(
                    "argocd.highAvailability",
                    False,
                    "production runs Argo CD highly available (replicated server, repo server, "
                    "ApplicationSet controller, redis-ha); allowed: true",
                )
            )
        if config.github.production_reviewers.count == 0:
            problems.append(
                Problem(
                    "github.productionReviewers",
                    config.github.production_reviewers.model_dump(by_alias=True),
                    "production deployments need at least one reviewer; allowed: one or more users or teams",
                )
            )
    if config.argocd.high_availability and nodes < 3:
        problems.append(
            Problem(
                "argocd.highAvailability",
                True,
                f"HA Argo CD runs redis-ha, which needs at least 3 nodes and the cluster guarantees {nodes}; "
                "allowed: false, or pools with 3 or more nodes",
            )
        )
    rate = config.argocd.rollouts.analysis.min_success_rate
    if env == "production" and rate is not None and rate < PRODUCTION_AVAILABILITY:
        problems.append(
            Problem(
                "argocd.rollouts.analysis.minSuccessRate",
                rate,
                f"production's analysis holds a new version to the availability target (seed 003: "
                f"above {PRODUCTION_AVAILABILITY:.1%}), and a failed post-promotion analysis rolls it "
                f"back; allowed: {PRODUCTION_AVAILABILITY} to 1",
            )
        )
    issuer = config.ingress.cluster_issuer
    if env == "production" and issuer is not None and issuer != LETSENCRYPT_PROD:
        problems.append(
            Problem(
                "ingress.clusterIssuer",
                issuer,
                "production serves certificates browsers trust and declares no other issuer; "
                f"allowed: {LETSENCRYPT_PROD}",
            )
        )
    return problems


def monitoring_problems(config: StackConfig) -> list[Problem]:
    """Production alerts survive a lost pod or node; replicated pods fit one per node."""
    problems: list[Problem] = []
    nodes = config.cluster.min_nodes
    for key, replicas, role in (
        ("prometheus", config.monitoring.prometheus.replicas, "scrapes and alerts"),
        ("alertmanager", config.monitoring.alertmanager.replicas, "notifies"),
    ):
        path = f"monitoring.{key}.replicas"
        name = "Prometheus" if key == "prometheus" else "Alertmanager"
        if config.environment == "production" and replicas < 2:
            problems.append(
                Problem(
                    path,
                    replicas,
                    f"production runs {name} highly available (a second replica {role} while one "
                    "is down); allowed: 2 or more",
                )
            )
        if replicas >= 2 and replicas > nodes:
            problems.append(
                Problem(
                    path,
                    replicas,
                    "two or more replicas run one per node (hard anti-affinity) and the cluster "
                    f"guarantees {nodes} nodes; allowed: 1 to {max(nodes, 1)}",
                )
            )
    return problems
