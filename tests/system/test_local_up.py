"""A real `pulumi up` of each stack's Kubernetes half against a real API server, every object
read back, then `pulumi preview --expect-no-changes`.

The real Pulumi CLI and kubernetes provider (tools/preview.py's engine) apply the program in
existing-cluster mode (tools/local_up.py) to kube-apiserver v1.34.12 (tests/support/local_cluster.py)
with the charts of the local Helm repository (`make charts`, served from 127.0.0.1). No
kubelet runs: releases install with `charts.skipAwait`, and tests/support/local_cluster.py's
StandIns mark Helm's hook Jobs succeeded and fill service-account token Secrets (what the
hook Jobs would have done is not checked).

Not checked here, and why: production's shape (it keeps its GitHub half and runs Argo CD
highly available, whose redis-ha subchart is not obtainable: tools/charts.json); the destroy
(deleting a Namespace waits for kube-controller-manager's namespace controller, and an
Application for Argo CD's controller to clear its resources finalizer, neither of which runs
here); the pinned argo-cd 10.1.1 and kube-prometheus-stack 88.5.3 (their stand-ins 10.0.0 and
88.6.1 are installed: tools/charts.json).
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from tests.support.local_cluster import ApiError, LocalCluster, StandIns, inline_kubeconfig, start
from tools.charts import cache_dir, serve
from tools.local_up import SHAPES, LocalStack, Step
from tools.preview import find_pulumi

pytestmark = [pytest.mark.engine, pytest.mark.go]

ENGINE_ABSENT = (
    "Pulumi CLI absent (install it, or `make engine` on this team's machines): nothing was applied "
    "with the real engine"
)
CHARTS_ABSENT = "local chart repository absent: run `make charts`; nothing was applied with the real engine"
RELEASE = "kubernetes:helm.sh/v3:Release"
# Built-in API groups: every other group a resource uses comes from a chart's CRD.
BUILTIN = {"", "rbac.authorization.k8s.io", "networking.k8s.io", "admissionregistration.k8s.io"}


@dataclass
class Applied:
    stack: str
    cluster: LocalCluster
    up: Step
    preview: Step
    state: list[dict[str, Any]]
    stand_ins: StandIns


@pytest.fixture(scope="module", params=SHAPES)
def applied(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Applied]:
    if find_pulumi() is None:
        pytest.skip(ENGINE_ABSENT)
    if not (cache_dir() / "index.yaml").is_file():
        pytest.skip(CHARTS_ABSENT)
    stack = str(request.param)
    cluster = start(tmp_path_factory.mktemp(f"apiserver-{stack}"))
    try:
        with serve(cache_dir()) as repository, StandIns(cluster) as stand_ins:
            local = LocalStack(
                stack, tmp_path_factory.mktemp(f"up-{stack}"), inline_kubeconfig(cluster), repository
            )
            up = local.up()
            preview = local.preview_no_changes() if up.returncode == 0 else up
            exported = subprocess.run(
                [local.pulumi, "stack", "export", "--stack", stack],
                cwd=local.project,
                env=local.env,
                capture_output=True,
                text=True,
                check=True,
                timeout=300,
            )
            state = json.loads(exported.stdout)["deployment"].get("resources") or []
        yield Applied(stack, cluster, up, preview, state, stand_ins)
    finally:
        cluster.stop()


def _tail(step: Step) -> str:
    return "\n".join(step.output.splitlines()[-60:])


def kubernetes_objects(applied: Applied) -> list[dict[str, Any]]:
    """Every Kubernetes object the stack's state holds (not the providers, not the releases)."""
    return [
        r
        for r in applied.state
        if r["type"].startswith("kubernetes:") and r["type"] != RELEASE and r.get("custom", True)
    ]


# Discovery per API server and group version (each shape has its own server and CRDs).
_RESOURCES: dict[tuple[str, str, str], dict[str, tuple[str, bool]]] = {}


def api_path(cluster: LocalCluster, api_version: str, kind: str, name: str, namespace: str | None) -> str:
    """The object's URL path, from the API server's own discovery (kind → resource)."""
    group, _, version = api_version.rpartition("/")
    base = f"/apis/{group}/{version}" if group else f"/api/{version}"
    key = (cluster.url, group, version)
    if key not in _RESOURCES:
        listing = cluster.get(base)["resources"]
        _RESOURCES[key] = {r["kind"]: (r["name"], r["namespaced"]) for r in listing if "/" not in r["name"]}
    plural, namespaced = _RESOURCES[key][kind]
    return f"{base}/namespaces/{namespace}/{plural}/{name}" if namespaced else f"{base}/{plural}/{name}"


def test_pulumi_up_succeeds(applied: Applied) -> None:
    assert applied.up.returncode == 0, _tail(applied.up)
    assert applied.up.changes().get("create", 0) > 0
    assert applied.stand_ins.errors == []


def test_the_second_run_changes_nothing(applied: Applied) -> None:
    assert applied.up.returncode == 0, _tail(applied.up)
    assert applied.preview.returncode == 0, _tail(applied.preview)
    assert set(applied.preview.changes()) <= {"same"}, applied.preview.changes()


def test_every_object_is_on_the_api_server_as_declared(applied: Applied) -> None:
    assert applied.up.returncode == 0, _tail(applied.up)
    objects = kubernetes_objects(applied)
    assert objects
    for resource in objects:
        outputs, inputs = resource["outputs"], resource.get("inputs") or {}
        meta = outputs["metadata"]
        path = api_path(
            applied.cluster, outputs["apiVersion"], outputs["kind"], meta["name"], meta.get("namespace")
        )
        stored = applied.cluster.get(path)
        declared = inputs.get("metadata") or {}
        for key, value in (declared.get("labels") or {}).items():
            assert stored["metadata"].get("labels", {}).get(key) == value, (path, key)
        if declared.get("finalizers"):
            assert stored["metadata"].get("finalizers") == declared["finalizers"], path
        assert stored["metadata"]["uid"] == meta["uid"], path


def test_the_charts_crds_are_established_and_their_custom_resources_accepted(applied: Applied) -> None:
    assert applied.up.returncode == 0, _tail(applied.up)
    custom = [
        r for r in kubernetes_objects(applied) if r["outputs"]["apiVersion"].rpartition("/")[0] not in BUILTIN
    ]
    kinds = {(r["outputs"]["apiVersion"], r["outputs"]["kind"]) for r in custom}
    # Argo CD's Applications and AppProject, and Prometheus' rules at least.
    assert {"Application", "AppProject", "PrometheusRule"} <= {kind for _, kind in kinds}, kinds
    for api_version, kind in sorted(kinds):
        group = api_version.rpartition("/")[0]
        path = api_path(applied.cluster, api_version, kind, "x", "x")
        plural = path.split("/")[-2]
        crd = applied.cluster.get(f"/apis/apiextensions.k8s.io/v1/customresourcedefinitions/{plural}.{group}")
        conditions = {c["type"]: c["status"] for c in crd["status"]["conditions"]}
        assert conditions.get("Established") == "True", (kind, conditions)


def test_every_release_is_deployed(applied: Applied) -> None:
    assert applied.up.returncode == 0, _tail(applied.up)
    releases = [r for r in applied.state if r["type"] == RELEASE]
    # argo-cd and kube-prometheus-stack; argo-rollouts too where Rollouts are on.
    assert len(releases) >= 2
    for release in releases:
        status = release["outputs"]["status"]
        assert status["status"] == "deployed", status
        # Helm's own record of the release, a Secret in its namespace.
        secret = f"sh.helm.release.v1.{status['name']}.v{status['revision']}"
        try:
            applied.cluster.get(f"/api/v1/namespaces/{status['namespace']}/secrets/{secret}")
        except ApiError as error:
            raise AssertionError(f"{secret}: {error}") from None


# cert-manager and Grafana (tools/charts.json: cert-manager as its release packages it, Grafana
# a stand-in subchart of kube-prometheus-stack). Their names come from the charts' templates:
# cert-manager's CRD templates (crd-*.yaml), its webhook configurations
# (webhook-validating-webhook.yaml, webhook-mutating-webhook.yaml: `<release>-webhook`), and
# grafana's `app.kubernetes.io/name: grafana` and `grafana-sc-dashboard` sidecar (_pod.tpl).
ISSUER = "kubernetes:cert-manager.io/v1:ClusterIssuer"
CONFIG_MAP = "kubernetes:core/v1:ConfigMap"
CERT_MANAGER_CRDS = (
    "certificaterequests.cert-manager.io",
    "certificates.cert-manager.io",
    "challenges.acme.cert-manager.io",
    "clusterissuers.cert-manager.io",
    "issuers.cert-manager.io",
    "orders.acme.cert-manager.io",
)


def _release(applied: Applied, name: str) -> dict[str, Any]:
    [status] = [
        r["outputs"]["status"]
        for r in applied.state
        if r["type"] == RELEASE and r["outputs"]["status"]["name"] == name
    ]
    return dict(status)


def test_cert_managers_crds_are_established_and_kept_beyond_the_release(applied: Applied) -> None:
    assert applied.up.returncode == 0, _tail(applied.up)
    assert _release(applied, "cert-manager")["status"] == "deployed"
    for name in CERT_MANAGER_CRDS:
        crd = applied.cluster.get(f"/apis/apiextensions.k8s.io/v1/customresourcedefinitions/{name}")
        conditions = {c["type"]: c["status"] for c in crd["status"]["conditions"]}
        assert conditions.get("Established") == "True", (name, conditions)
        # crds.keep (components/ingress/manifests.py): uninstalling the release leaves them.
        assert crd["metadata"]["annotations"].get("helm.sh/resource-policy") == "keep", name


def test_the_cluster_issuers_are_stored_as_declared_and_the_crd_schema_judges_them(applied: Applied) -> None:
    assert applied.up.returncode == 0, _tail(applied.up)
    issuers = {r["outputs"]["metadata"]["name"]: r for r in applied.state if r["type"] == ISSUER}
    # Development and staging declare both of Let's Encrypt's CAs (IngressConfig.issuers_for).
    assert sorted(issuers) == ["letsencrypt-prod", "letsencrypt-staging"], sorted(issuers)
    for name, resource in issuers.items():
        stored = applied.cluster.get(f"/apis/cert-manager.io/v1/clusterissuers/{name}")
        # The structural schema prunes what it does not know: equal means nothing was dropped.
        assert stored["spec"] == resource["inputs"]["spec"], name
    # The schema is what accepted them: the same issuer with a solver of the wrong type is refused.
    wrong = {
        "apiVersion": "cert-manager.io/v1",
        "kind": "ClusterIssuer",
        "metadata": {"name": "schema-probe"},
        "spec": {"acme": {**issuers["letsencrypt-staging"]["inputs"]["spec"]["acme"], "solvers": "http01"}},
    }
    try:
        applied.cluster.create("/apis/cert-manager.io/v1/clusterissuers", wrong, dry_run=True)
    except ApiError as error:
        assert error.status == 422, error
        assert "spec.acme.solvers" in str(error), error
    else:
        raise AssertionError("a ClusterIssuer whose solvers are a string was accepted")


def test_cert_managers_webhook_is_registered_as_the_chart_declares_it(applied: Applied) -> None:
    """Registered, not called: this API server calls no admission webhook (no Pod could answer;
    tests/support/local_cluster.py). On a real cluster every ClusterIssuer goes through it."""
    assert applied.up.returncode == 0, _tail(applied.up)
    namespace = _release(applied, "cert-manager")["namespace"]
    for kind, path in (
        ("validatingwebhookconfigurations", "/validate"),
        ("mutatingwebhookconfigurations", "/mutate"),
    ):
        registered = applied.cluster.get(f"/apis/admissionregistration.k8s.io/v1/{kind}/cert-manager-webhook")
        [webhook] = registered["webhooks"]
        assert webhook["failurePolicy"] == "Fail", kind
        service = webhook["clientConfig"]["service"]
        assert (service["namespace"], service["name"], service["path"]) == (
            namespace,
            "cert-manager-webhook",
            path,
        )


def test_grafana_and_its_dashboard_sidecar_go_up_with_the_declared_dashboards(applied: Applied) -> None:
    assert applied.up.returncode == 0, _tail(applied.up)
    namespace = _release(applied, "kube-prometheus-stack")["namespace"]
    deployments = applied.cluster.get(
        f"/apis/apps/v1/namespaces/{namespace}/deployments?labelSelector=app.kubernetes.io%2Fname%3Dgrafana"
    )["items"]
    [grafana] = deployments
    containers = {c["name"]: c for c in grafana["spec"]["template"]["spec"]["containers"]}
    assert "grafana" in containers, sorted(containers)
    sidecar = {e["name"]: e.get("value") for e in containers["grafana-sc-dashboard"]["env"]}
    # The sidecar loads ConfigMaps labelled grafana_dashboard=1 from the monitoring namespace only.
    assert (sidecar["LABEL"], sidecar["LABEL_VALUE"], sidecar["NAMESPACE"]) == (
        "grafana_dashboard",
        "1",
        namespace,
    )
    labelled = {
        c["metadata"]["name"]
        for c in applied.cluster.get(
            f"/api/v1/namespaces/{namespace}/configmaps?labelSelector=grafana_dashboard%3D1"
        )["items"]
    }
    declared = {
        r["outputs"]["metadata"]["name"]
        for r in applied.state
        if r["type"] == CONFIG_MAP
        and (r["outputs"]["metadata"].get("labels") or {}).get("grafana_dashboard") == "1"
    }
    # The program's dashboards (deployments, rollouts, SLOs) and the chart's default ones.
    assert declared, "the program declared no dashboard ConfigMap"
    assert declared <= labelled, declared - labelled
    assert labelled - declared, "none of kube-prometheus-stack's default dashboards"
