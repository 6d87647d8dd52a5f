"""Existing-cluster mode (`delivery:cluster.source: kubeconfig`): the stack targets a cluster
from its kubeconfig secret instead of creating LKE, optionally without any GitHub object;
production stays on LKE unless said explicitly; bad combinations refused naming the keys."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from components.config.base import ConfigError
from tests.support.stacks import TEST_SECRETS, assert_refused, with_changes
from tools.local_up import SHAPES, local_values
from tools.offline import Recorder, Run, read_stack_file, run_program, stack_file, unwrap, with_offline_pins

# What `kind get kubeconfig` writes for a cluster: embedded CA, a context, an admin user.
KUBECONFIG = """apiVersion: v1
kind: Config
clusters:
  - name: other
    cluster: {server: "https://10.9.9.9:6443", certificate-authority-data: T1RIRVI=}
  - name: kind-delivery
    cluster: {server: "https://127.0.0.1:40123", certificate-authority-data: S0lORA==}
contexts:
  - name: other
    context: {cluster: other, user: other}
  - name: kind-delivery
    context: {cluster: kind-delivery, user: kind-delivery}
current-context: other
users:
  - name: kind-delivery
    user: {token: test-kubeconfig-7f2a91}
"""
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
        # Every upstream publishes its chart in an OCI registry (test_chart_images.py): the
        # reference is the whole source, no repository index is read.
        assert plain["chart"].startswith("oci://") and "repositoryOpts" not in plain, release.name
        assert "127.0.0.1" not in plain["chart"]
        assert (plain["skipAwait"], plain["atomic"]) == (False, True), release.name


def test_an_existing_cluster_with_its_own_ingress_controller_gets_cert_manager_alone() -> None:
    """ingress.installController: false: no Traefik; cert-manager and the ClusterIssuers are
    declared as ever."""
    result = run("staging", {**EXISTING, "delivery:ingress.installController": False})
    releases = {r.plain["name"] for r in result.recorder.of_type(RELEASE)}
    assert "cert-manager" in releases and "traefik" not in releases, releases
    namespaces = {
        r.plain["metadata"]["name"] for r in result.recorder.of_type("kubernetes:core/v1:Namespace")
    }
    assert "cert-manager" in namespaces and "traefik" not in namespaces, namespaces
    issuers = result.recorder.of_type("kubernetes:cert-manager.io/v1:ClusterIssuer")
    assert sorted(r.plain["metadata"]["name"] for r in issuers) == ["letsencrypt-prod", "letsencrypt-staging"]


@pytest.mark.parametrize("install_controller", [True, False])
def test_staging_pins_traefik_only_where_it_installs_it(install_controller: bool) -> None:
    """Without the offline pins, staging names every missing chart digest and image: Traefik's
    only when it installs Traefik, cert-manager's always."""
    values = dict(read_stack_file(stack_file("staging")).get("config") or {})
    cluster = {**values["delivery:cluster"], "source": "kubeconfig"}
    cluster.pop("controlPlaneAcl", None)
    values |= {
        "delivery:cluster": cluster,
        "delivery:kubeconfig": {"secure": "v1:test"},
        "delivery:ingress": {
            **(values.get("delivery:ingress") or {}),
            "installController": install_controller,
        },
    }
    with pytest.raises(ConfigError) as refused:
        run_program("staging", SECRETS, values, recorder=Recorder(), offline_pins=False)
    text = str(refused.value)
    for key in ("certManagerChartDigest", "images.certManagerController", "images.certManagerAcmesolver"):
        assert f"delivery:ingress.{key}: " in text, key
    for key in ("traefikChartDigest", "images.traefik"):
        assert (f"delivery:ingress.{key}: " in text) is install_controller, key


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
                "delivery:github.enabled": False,
                "delivery:gitops.repoUrl": "https://github.com/ai-aas/platform.git",
            },
            [
                "delivery:github.enabled = false: production's deployment environment",
                "allowed: true (false only on an adopted cluster, cluster.existingInProduction: true",
                "delivery:github.enabled = false: this stack manages the repository-wide GitHub objects",
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
            ["delivery:github.enabled = false: this stack manages the repository-wide GitHub objects"],
        ),
        (
            "production",
            {"delivery:charts.withoutSubcharts": ["redis-ha"]},
            [
                'delivery:charts.withoutSubcharts = ["redis-ha"]: an LKE cluster installs every chart whole',
                "allowed: []",
            ],
        ),
        (
            "development",
            {"delivery:ingress.installController": False},
            [
                "delivery:ingress.installController = false: the LKE cluster this program creates runs no ingress controller but Traefik",
                "allowed: true (false only with cluster.source: kubeconfig)",
            ],
        ),
        (
            "development",
            {**EXISTING, "delivery:charts.withoutSubcharts": ["redis-ha"]},
            [
                'delivery:charts.withoutSubcharts = ["redis-ha"]: subcharts are left out only when the chart '
                "mirror (charts.repository) lacks them",
            ],
        ),
        (
            "development",
            {
                **EXISTING,
                "delivery:charts.repository": "http://127.0.0.1:1/",
                "delivery:charts.withoutSubcharts": ["grafana"],
            },
            ["delivery:charts.withoutSubcharts"],
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


@pytest.mark.parametrize("stack", SHAPES)
def test_the_local_api_server_shapes_are_valid_stacks(stack: str) -> None:
    """What tests/system/test_local_up.py applies (tools/local_up.py): accepted by config validation,
    no LKE cluster and no GitHub object, every chart from the mirror without waiting."""
    mirror = "http://127.0.0.1:8879/"
    # The real run sets it with `pulumi config set --secret kubeconfig`.
    values = {**local_values(stack, mirror), "delivery:kubeconfig": {"secure": "v1:test"}}
    result = run_program(stack, SECRETS, values)
    assert result.recorder.of_type(LKE) == []
    assert github_resources(result) == []
    releases = result.recorder.of_type(RELEASE)
    charts = {r.plain["chart"] for r in releases}
    # Everything but the OpenTelemetry collector (tracing off: its chart is not in the local repository).
    assert charts == {"argo-cd", "kube-prometheus-stack", "argo-rollouts", "cert-manager", "traefik"}
    assert all(r.plain["repositoryOpts"]["repo"] == mirror and r.plain["skipAwait"] for r in releases)
    [argocd] = [r.plain["values"] for r in releases if r.plain["chart"] == "argo-cd"]
    if stack == "production":
        # Production's own shape: adopted explicitly, HA Argo CD (replicated components), but on
        # the chart's single Redis, since the local repository has no redis-ha (tools/charts.json).
        assert values["delivery:cluster"]["existingInProduction"] is True
        assert argocd["controller"]["replicas"] == 2 and argocd["repoServer"]["replicas"] == 2
        assert argocd["redis-ha"] == {"enabled": False} and "image" in argocd["redis"]
    else:
        assert "withoutSubcharts" not in values["delivery:charts"]
        assert argocd["redis-ha"] == {"enabled": False}


def test_production_s_local_shape_keeps_everything_but_github_and_the_missing_charts() -> None:
    """Only what the local API server cannot take differs from Pulumi.production.yaml: the cluster's
    source (adopted, no ACL), GitHub, the chart source, and the add-ons without a local chart."""
    committed = with_offline_pins(read_stack_file(stack_file("production"))["config"], "production")
    local = local_values("production", "http://127.0.0.1:8879/")
    changed = {key for key in committed if committed[key] != local.get(key)} | (set(local) - set(committed))
    assert changed == {
        "delivery:cluster",
        "delivery:github",
        "delivery:gitops",
        "delivery:charts",
        "delivery:argocd",
        "delivery:monitoring",
        "delivery:ingress",
    }
    cluster = {
        k: v for k, v in local["delivery:cluster"].items() if k not in ("source", "existingInProduction")
    }
    assert cluster == {k: v for k, v in committed["delivery:cluster"].items() if k != "controlPlaneAcl"}
    argocd = dict(local["delivery:argocd"])
    # The chart versions are the local repository's (argo-cd's a stand-in: tools/charts.json).
    assert argocd.pop("chartVersion") != committed["delivery:argocd"]["chartVersion"]
    argocd["rollouts"] = {k: v for k, v in argocd["rollouts"].items() if k != "chartVersion"}
    assert argocd == {k: v for k, v in committed["delivery:argocd"].items() if k != "chartVersion"}
    assert argocd["highAvailability"] is True
    gitops = {k: v for k, v in local["delivery:gitops"].items() if k != "repoUrl"}
    assert gitops == committed["delivery:gitops"]


def test_staging_observer_reaches_the_cluster_of_the_chosen_context() -> None:
    """Staging's observer kubeconfig (a GitHub environment secret, for staging validation) names
    the cluster of `cluster.context`, not the kubeconfig's first or current one."""
    result = run("staging", {**EXISTING, "delivery:cluster.context": "kind-delivery"})
    [secret] = [
        r.plain
        for r in result.recorder.resources
        if "observer" in r.name and "current-context: staging-observer" in str(r.plain.get("value", ""))
    ]
    observer = yaml.safe_load(secret["value"])
    assert [c["cluster"]["server"] for c in observer["clusters"]] == ["https://127.0.0.1:40123"]
    assert observer["clusters"][0]["cluster"]["certificate-authority-data"] == "S0lORA=="
