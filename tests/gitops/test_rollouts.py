"""Argo Rollouts: installed where config enables it, pinned, least-privilege, before the Applications."""

from __future__ import annotations

import re
from typing import Any

import yaml

from components.kubernetes.helm import chart_name, chart_reference
from tests.support.charts import chart_values, unknown_key_paths
from tests.support.stacks import TEST_SECRETS, stack_config
from tests.support.types import APPLICATION, RELEASE
from tools.offline import RecordedResource, Run, run_program, stack_file


def rollouts_releases(run: Run) -> list[RecordedResource]:
    return [r for r in run.recorder.of_type(RELEASE) if chart_name(r.inputs["chart"]) == "argo-rollouts"]


def with_rollouts(stack: str, enabled: bool) -> Run:
    doc: dict[str, Any] = yaml.safe_load(stack_file(stack).read_text())["config"]
    argocd = dict(doc["delivery:argocd"])
    argocd["rollouts"] = {**argocd.get("rollouts", {}), "enabled": enabled}
    doc["delivery:argocd"] = argocd
    return run_program(stack, TEST_SECRETS, stack_values=doc)


def test_rollouts_installed_in_every_environment_by_default(runs: dict[str, Run]) -> None:
    """Every service deploys as a Rollout (development's direct deployment included), so every
    cluster runs the controller."""
    installed = {stack: len(rollouts_releases(run)) for stack, run in runs.items()}
    assert installed == {"development": 1, "staging": 1, "production": 1}


def test_rollouts_release_is_pinned_on_the_cluster_provider(stack_run: Run) -> None:
    config = stack_config(stack_run.stack)
    releases = rollouts_releases(stack_run)
    if not config.rollouts_enabled:
        assert releases == []
        return
    [release] = releases
    assert release.inputs["version"] == config.argocd.rollouts.chart_version
    assert re.fullmatch(r"\d+\.\d+\.\d+", release.inputs["version"])
    assert "repositoryOpts" not in release.inputs
    assert release.inputs["chart"] == chart_reference(
        "oci://ghcr.io/argoproj/argo-helm", "argo-rollouts", config.argocd.rollouts.chart_digest
    )
    assert release.inputs["namespace"] == config.argocd.rollouts.namespace
    [provider] = [r.name for r in stack_run.resources if r.type == "pulumi:providers:kubernetes"]
    assert release.provider == provider
    values = release.plain["values"]
    assert unknown_key_paths(values, chart_values("argo-rollouts", release.inputs["version"])) == []
    assert values["providerRBAC"]["enabled"] is False, "no RBAC for traffic routers the platform does not use"
    assert values["dashboard"]["enabled"] is False, "the dashboard has no authentication"
    assert values["keepCRDs"] is True, "uninstalling must not delete every Rollout"


def test_rollouts_controller_is_redundant_where_argo_cd_is(runs: dict[str, Run]) -> None:
    production = rollouts_releases(runs["production"])[0].plain["values"]["controller"]
    assert production["replicas"] >= 2 and production["pdb"] == {"enabled": True, "minAvailable": 1}
    staging = rollouts_releases(runs["staging"])[0].plain["values"]["controller"]
    assert staging["replicas"] == 1 and "pdb" not in staging


def test_development_installs_rollouts_before_the_applications(runs: dict[str, Run]) -> None:
    run = runs["development"]
    [release] = rollouts_releases(run)
    apps = run.recorder.of_type(APPLICATION)
    assert apps and all(release.name in app.depends_on for app in apps)


def test_disabling_rollouts_removes_it_and_its_edges() -> None:
    run = with_rollouts("staging", False)
    assert rollouts_releases(run) == []
    assert not [r for r in run.resources if r.type == "delivery:rollouts:Rollouts"]
    assert all(not any("rollouts" in d for d in app.depends_on) for app in run.recorder.of_type(APPLICATION))
