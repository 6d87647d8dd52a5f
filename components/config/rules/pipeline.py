"""CI of the stacks: one self-hosted runner group per stack, the workflows the managing stack
commits and the checksums they verify, the metrics bucket's retention, and runners that reach
the Kubernetes API through its control-plane ACL."""

from __future__ import annotations

import ipaddress
import json
from typing import TYPE_CHECKING

from components.config.base import _MISSING, Environment, Problem
from components.github.config import (
    PULUMI_PLUGIN_VERSIONS,
    PULUMI_RELEASES,
    plugin_archive,
    pulumi_cli_archive,
)

if TYPE_CHECKING:
    from components.config.stack import StackConfig

# The environment staging validation observes (staging-validation.yml reads its Applications).
VALIDATED: Environment = "staging"
# The environment promote.yml promotes to, whose health its production-health job reports.
PROMOTED: Environment = "production"


def runner_group_problems(config: StackConfig) -> list[Problem]:
    """One group per stack: a shared group's runners would run both stacks' `up`."""
    problems: list[Problem] = []
    seen: dict[str, str] = {}
    for env in sorted(config.pipeline.runners):
        group = config.pipeline.runners[env].group
        if group in seen:
            problems.append(
                Problem(
                    f"pipeline.runners.{env}.group",
                    group,
                    f"already the group of {seen[group]}, whose runners would then run both stacks' "
                    "infrastructure jobs; allowed: a group name no other stack uses",
                )
            )
        seen.setdefault(group, env)
    return problems


def managed_workflow_problems(config: StackConfig) -> list[Problem]:
    """The managing stack commits the workflows: staging validation needs the URL it tests, and
    the infrastructure jobs the checksums of the toolchain they download."""
    gh = config.github
    if not (gh.manage_repository and config.environment == gh.managing_stack):
        return []  # a stray manageRepository is reported as such
    problems: list[Problem] = []
    if gh.workflows.validation.base_url is None:
        problems.append(
            Problem(
                "github.workflows.validation.baseUrl",
                _MISSING,
                "the stack that manages the repository commits staging-validation.yml, which tests "
                "staging at this URL; allowed: an https URL such as https://api.staging.example.com",
            )
        )
    return problems + _toolchain_problems(config)


def _toolchain_problems(config: StackConfig) -> list[Problem]:
    """The checksums the rendered workflows verify their downloads against: no default
    exists for them, only the files the releases publish."""
    workflows = config.github.workflows
    toolchain = workflows.toolchain
    key = "github.workflows.toolchain"
    problems: list[Problem] = []
    if toolchain.pulumi_cli_sha256 is None:
        version = workflows.pulumi_version
        problems.append(
            Problem(
                f"{key}.pulumiCliSha256",
                _MISSING,
                f"the infrastructure jobs install the Pulumi CLI from {pulumi_cli_archive(version)} "
                f"only if it matches this checksum; allowed: the 64 hex digits listed for that file in "
                f"pulumi-{version}-checksums.txt of {PULUMI_RELEASES}/tag/v{version}",
            )
        )
    for name, version in PULUMI_PLUGIN_VERSIONS.items():
        pin = toolchain.pulumi_plugins.get(name)
        where = f"https://github.com/pulumi/pulumi-{name}/releases/tag/v{version}"
        if pin is None:
            problems.append(
                Problem(
                    f"{key}.pulumiPlugins.{name}",
                    _MISSING,
                    f"the infrastructure jobs install the {name} plugin by checksum and download no "
                    f"other; allowed: {{version: {version}, sha256: <the 64 hex digits listed for "
                    f"{plugin_archive(name, version)} in the checksums file of {where}>}}",
                )
            )
        elif pin.version != version:
            problems.append(
                Problem(
                    f"{key}.pulumiPlugins.{name}.version",
                    pin.version,
                    f"requirements.txt pins the pulumi-{name} SDK {version}, which asks for plugin "
                    f"{version}; allowed: {version}, with the sha256 of {plugin_archive(name, version)} "
                    f"from {where}",
                )
            )
    return problems


def metrics_problems(config: StackConfig) -> list[Problem]:
    """The CI build metrics bucket keeps no old version longer than the metrics themselves."""
    problems: list[Problem] = []
    metrics = config.metrics
    if metrics.noncurrent_version_days > metrics.retention_days:
        problems.append(
            Problem(
                "metrics.noncurrentVersionDays",
                metrics.noncurrent_version_days,
                f"old versions would outlive the metrics themselves (retentionDays {metrics.retention_days}); "
                f"allowed: 1 to {metrics.retention_days}",
            )
        )
    return problems


def reachability_problems(config: StackConfig) -> list[Problem]:
    """The runners of the jobs that reach this stack's Kubernetes API must get through its
    control-plane ACL (docs/security.md, "Reachability"): an ACL admits addresses, and only a
    self-hosted group has fixed ones. Staging's API is read by its infrastructure jobs and
    by staging validation's observer jobs (its Argo CD Applications)."""
    problems: list[Problem] = []
    runners = config.pipeline.runners
    for name in sorted(runners):
        if runners[name].validation_observer and name != VALIDATED:
            problems.append(
                Problem(
                    f"pipeline.runners.{name}.validationObserver",
                    True,
                    f"staging validation observes {VALIDATED} only, so the {name} group runs no observer "
                    "job; allowed: false",
                )
            )
    for name in sorted(runners):
        if runners[name].health_observer and name != PROMOTED:
            problems.append(
                Problem(
                    f"pipeline.runners.{name}.healthObserver",
                    True,
                    f"promote.yml's health job observes {PROMOTED} only, so the {name} group runs no "
                    "health job; allowed: false",
                )
            )
    acl = config.cluster.control_plane_acl
    # An existing cluster has no ACL here (cluster_source_problems refuses one).
    if not acl or config.cluster.source == "kubeconfig":
        return problems
    env = config.environment
    observed = env == VALIDATED
    runner = runners.get(env)
    jobs = f"the {env} infrastructure jobs" + (
        " and staging validation's observer jobs (which read its Argo CD Applications)" if observed else ""
    )
    if runner is None:
        problems.append(
            Problem(
                "cluster.controlPlaneAcl",
                acl,
                f"{jobs} run on GitHub-hosted runners (delivery:pipeline.runners.{env} "
                "is not set), which have no fixed egress addresses, so the ACL would lock them out of the "
                f"Kubernetes API; allowed: [], or a self-hosted group in delivery:pipeline.runners.{env} "
                + ("with validationObserver: true " if observed else "")
                + "whose egressCidrs lie inside the ACL",
            )
        )
        return problems
    networks = [ipaddress.IPv4Network(cidr, strict=False) for cidr in acl]
    outside = [
        cidr
        for cidr in runner.egress_cidrs
        if not any(ipaddress.IPv4Network(cidr, strict=False).subnet_of(net) for net in networks)
    ]
    if outside:
        problems.append(
            Problem(
                f"pipeline.runners.{env}.egressCidrs",
                outside,
                f"outside delivery:cluster.controlPlaneAcl {json.dumps(acl)}: the {env} infrastructure runner could not "
                "reach its Kubernetes API; allowed: CIDRs inside the ACL (or widen the ACL)",
            )
        )
    if env == PROMOTED and not runner.health_observer:
        problems.append(
            Problem(
                f"pipeline.runners.{env}.healthObserver",
                False,
                "promote.yml's production-health job reads production's Argo CD Applications through "
                f"its Kubernetes API after each sync, and on GitHub-hosted runners delivery:cluster.controlPlaneAcl "
                f"{json.dumps(acl)} would refuse it: no promotion could report production's health; "
                "allowed: true (this group runs it too, and must admit promote.yml on main), or an "
                "empty controlPlaneAcl",
            )
        )
    if observed and not runner.validation_observer:
        problems.append(
            Problem(
                f"pipeline.runners.{env}.validationObserver",
                False,
                "staging validation's observer jobs (target and gate of staging-validation.yml) read "
                f"{env}'s Argo CD Applications through its Kubernetes API, and on GitHub-hosted runners, "
                f"which have no fixed addresses, delivery:cluster.controlPlaneAcl {json.dumps(acl)} would "
                "refuse them: validation, and with it every promotion to production, would fail; allowed: "
                "true (this group runs them too, and must admit staging-validation.yml on main), or an "
                "empty controlPlaneAcl",
            )
        )
    return problems
