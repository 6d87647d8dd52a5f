"""Existing-cluster mode (`delivery:cluster.source: kubeconfig`): the stack targets a cluster
from its kubeconfig secret instead of creating LKE, optionally without any GitHub object;
production stays on LKE unless said explicitly; bad combinations refused naming the keys."""

from __future__ import annotations

from typing import Any

import pytest
from conftest import TEST_SECRETS, assert_refused, with_changes

from tools.offline import Run, run_program, unwrap

KUBECONFIG = "apiVersion: v1\nkind: Config\nclusters: []\n# test-kubeconfig-7f2a91\n"
EXISTING = {"delivery:cluster.source": "kubeconfig", "delivery:kubeconfig": {"secure": "v1:test"}}
LAPTOP = {
    **EXISTING,
    "delivery:github.enabled": False,
    "delivery:gitops.repoUrl": "https://github.com/ai-aas/platform.git",
}
SECRETS = {**TEST_SECRETS, "kubeconfig": KUBECONFIG}
LKE = "linode:index/lkeCluster:LkeCluster"
PROVIDER = "pulumi:providers:kubernetes"
RELEASE = "kubernetes:helm.sh/v3:Release"


def run(stack: str, changes: dict[str, Any]) -> Run:
    return run_program(stack, SECRETS, with_changes(stack, changes))


def github_resources(result: Run) -> list[str]:
    return sorted(
        r.name for r in result.recorder.resources if r.type.startswith(("github:", "pulumi:providers:github"))
    )


def test_an_existing_cluster_is_targeted_from_the_kubeconfig_secret() -> None:
    result = run("development", {**EXISTING, "delivery:cluster.context": "kind-delivery"})
    assert result.recorder.of_type(LKE) == []
    [provider] = result.recorder.of_type(PROVIDER)
    assert provider.name == "development-k8s"
    assert unwrap(provider.inputs["kubeconfig"]) == KUBECONFIG
    assert provider.inputs["context"] == "kind-delivery"
    # The kubeconfig is a credential: a secret in the provider's inputs and in the outputs.
    assert "kubeconfig" in repr(provider.inputs) and type(provider.inputs["kubeconfig"]).__name__ == "Secret"
    assert type(result.outputs["kubeconfig"]).__name__ == "Secret"
    assert "clusterId" not in result.outputs
    # The same Kubernetes half as on LKE: every in-cluster resource uses this provider.
    for resource in result.recorder.resources:
        if resource.custom and resource.type.startswith("kubernetes:"):
            assert resource.provider is not None and "development-k8s" in resource.provider, resource.name


def test_the_kubernetes_half_alone_declares_no_github_object() -> None:
    with_github = run("development", EXISTING)
    assert github_resources(with_github), "the GitHub half is declared by default"
    laptop = run("development", LAPTOP)
    assert github_resources(laptop) == []
    kubernetes = {r.name for r in laptop.recorder.resources if r.type.startswith("kubernetes:")}
    # Everything Kubernetes but Argo CD's repository Secret (its deploy key is GitHub's).
    assert kubernetes == {
        r.name for r in with_github.recorder.resources if r.type.startswith("kubernetes:")
    } - {"development-gitops-repository-secret"}


def test_charts_come_from_the_configured_repository_without_waiting() -> None:
    mirror = "http://127.0.0.1:8879/charts"
    result = run(
        "development", {**EXISTING, "delivery:charts.repository": mirror, "delivery:charts.skipAwait": True}
    )
    releases = result.recorder.of_type(RELEASE)
    assert len(releases) >= 2
    for release in releases:
        plain = release.plain
        assert plain["repositoryOpts"] == {"repo": mirror}, release.name
        # Helm's atomic implies waiting: both go together.
        assert (plain["skipAwait"], plain["atomic"]) == (True, False), release.name


def test_lke_stacks_install_from_upstream_atomically(stack_run: Run) -> None:
    for release in stack_run.recorder.of_type(RELEASE):
        plain = release.plain
        assert plain["repositoryOpts"]["repo"].startswith("https://"), release.name
        assert "127.0.0.1" not in plain["repositoryOpts"]["repo"]
        assert (plain["skipAwait"], plain["atomic"]) == (False, True), release.name


def test_production_may_adopt_an_existing_cluster_only_when_said() -> None:
    result = run(
        "production",
        {**EXISTING, "delivery:cluster.existingInProduction": True, "delivery:cluster.controlPlaneAcl": []},
    )
    assert result.recorder.of_type(LKE) == []


@pytest.mark.parametrize(
    ("stack", "changes", "expected"),
    [
        (
            "production",
            {**EXISTING, "delivery:cluster.controlPlaneAcl": []},
            [
                'delivery:cluster.source = "kubeconfig": production runs on the LKE cluster this program creates',
                "allowed: lke, or kubeconfig together with delivery:cluster.existingInProduction: true",
            ],
        ),
        (
            "staging",
            {**EXISTING, "delivery:cluster.existingInProduction": True},
            [
                "delivery:cluster.existingInProduction = true: it allows production on an existing cluster and this is not production; allowed: false"
            ],
        ),
        (
            "development",
            {"delivery:cluster.source": "kubeconfig"},
            [
                "delivery:kubeconfig: delivery:cluster.source is kubeconfig",
                "`pulumi config set --secret kubeconfig",
            ],
        ),
        (
            "development",
            {"delivery:cluster.source": "kubeconfig", "delivery:kubeconfig": KUBECONFIG},
            ["delivery:kubeconfig: stored in plain text; allowed: a secret"],
        ),
        (
            "development",
            {"delivery:kubeconfig": {"secure": "v1:test"}},
            ["delivery:kubeconfig: set while delivery:cluster.source is lke"],
        ),
        (
            "development",
            {"delivery:gitops.repoUrl": "https://github.com/ai-aas/platform.git"},
            [
                'delivery:gitops.repoUrl = "https://github.com/ai-aas/platform.git": Argo CD reads the GitOps repository with its SSH deploy key'
            ],
        ),
        (
            "development",
            {"delivery:cluster.context": "kind-delivery"},
            ['delivery:cluster.context = "kind-delivery": a kubeconfig context, and the program creates'],
        ),
        (
            "development",
            {"delivery:charts.skipAwait": True},
            [
                "delivery:charts.skipAwait = true: an LKE cluster has nodes",
                "allowed: false (true only with cluster.source: kubeconfig)",
            ],
        ),
        (
            "development",
            {**EXISTING, "delivery:cluster.controlPlaneAcl": ["10.0.0.0/8"]},
            [
                'delivery:cluster.controlPlaneAcl = ["10.0.0.0/8"]: the control-plane ACL is a setting of the LKE cluster'
            ],
        ),
        (
            "development",
            {**EXISTING, "delivery:github.enabled": False},
            [
                'delivery:gitops.repoUrl = "git@github.com:ai-aas/platform.git": without GitHub (github.enabled: false)',
                "allowed: the https URL of a public repository",
            ],
        ),
        (
            "production",
            {
                **LAPTOP,
                "delivery:cluster.existingInProduction": True,
                "delivery:cluster.controlPlaneAcl": [],
                "delivery:github.manageRepository": True,
            },
            [
                "delivery:github.enabled = false: production's deployment environment",
                "delivery:github.enabled = false: this stack manages the repository-wide GitHub objects",
            ],
        ),
        (
            "development",
            {"delivery:charts.repository": "oci://ghcr.io/charts"},
            ['delivery:charts.repository = "oci://ghcr.io/charts"'],
        ),
    ],
)
def test_bad_existing_cluster_config_is_refused(
    stack: str, changes: dict[str, Any], expected: list[str]
) -> None:
    changes = dict(changes)
    secrets_needed = isinstance(changes.get("delivery:kubeconfig"), dict)
    if secrets_needed:
        # assert_refused hands TEST_SECRETS: the secret's value comes from there.
        TEST_SECRETS["kubeconfig"] = KUBECONFIG
    try:
        assert_refused(stack, changes, expected)
    finally:
        TEST_SECRETS.pop("kubeconfig", None)
