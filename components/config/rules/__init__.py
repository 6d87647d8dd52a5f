"""The rules that span domains, one module per concern, run by ``StackConfig``'s validator in
the order of ``RULES`` (the order its problems are reported in): each rule reads the whole
validated config and returns what is wrong with it, every problem naming its config key."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from components.config.base import Problem
from components.config.rules import cluster, gitops, governance, pipeline, production, supply_chain

if TYPE_CHECKING:
    from components.config.stack import StackConfig

Rule = Callable[["StackConfig"], list[Problem]]

RULES: tuple[Rule, ...] = (
    production.production_problems,
    cluster.cluster_source_problems,
    gitops.repository_access_problems,
    production.monitoring_problems,
    supply_chain.pod_policy_problems,
    supply_chain.chart_pin_problems,
    cluster.kubeconfig_problems,
    gitops.argocd_login_problems,
    gitops.gitops_problems,
    governance.ownership_problems,
    governance.code_owner_problems,
    governance.organisation_problems,
    pipeline.runner_group_problems,
    pipeline.managed_workflow_problems,
    gitops.dispatch_problems,
    governance.plan_problems,
    pipeline.metrics_problems,
    pipeline.reachability_problems,
)


def cross_field_problems(config: StackConfig) -> list[Problem]:
    """Every rule's problems with `config`, in the order of `RULES`."""
    return [problem for rule in RULES for problem in rule(config)]
