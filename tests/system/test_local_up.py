"""A real `pulumi up` of each stack's Kubernetes half against a real API server, every object
read back, `pulumi preview --expect-no-changes`, then a real `pulumi destroy` whose order is
checked.

The real Pulumi CLI and kubernetes provider (tools/preview.py's engine) apply the program in
existing-cluster mode (tools/local_up.py) to kube-apiserver v1.34.12 (tests/support/local_cluster.py)
with the charts of the local Helm repository (`make charts`, served from 127.0.0.1). No
kubelet runs: releases install with `charts.skipAwait`, and tests/support/local_cluster.py's
StandIns play kube-controller-manager's and Argo CD's part: they mark Helm's hook Jobs
succeeded and fill service-account token Secrets (what the hook Jobs would have done is not
checked), release objects deleted in the foreground once nothing they own is left (the garbage
collector; Pulumi deletes in the foreground), empty and finalize Namespaces being deleted (the
namespace controller), and clear an
Application's resources finalizer only while Argo CD's application controller is still
installed (so a destroy that removed Argo CD first would hang, and fails here).

Production's shape is production's own config, adopted (`cluster.existingInProduction`) and
without GitHub, with one difference the local chart repository forces: its HA Argo CD runs the
replicated controller, server, repo server and ApplicationSet controller on the argo-cd chart's
single Redis, because the redis-ha subchart (github.com/dandydeveloper/charts) is not served by
the Go module proxy here (tools/charts.json, `charts.withoutSubcharts`). Its protected
resources refuse the first `pulumi destroy`; `pulumi state unprotect --all` comes first, as
docs/operations.md says.

The destroy is checked as far as an API server without controllers allows: the engine's order
(every custom resource deleted before the release that installs its CRD, Applications and
AppProjects before Argo CD's release and namespace), that Argo CD's controller was there to
clear each Application's finalizer, the stack's state empty, nothing of the program left in
the API server. NOT checked, because nothing here runs a workload: Argo CD's cascade deletion
of what an Application deployed (no Application ever synced), the kubelet's termination of
Pods (none ran) and Helm's waiting for it, the garbage collector's deletion of objects owned
by deleted ones (the chart's controllers never created any), PersistentVolumeClaims'
protection finalizers and the volumes' reclaim (no claim was ever bound). Also not checked:
the pinned argo-cd 10.1.1 and kube-prometheus-stack 88.5.3 (their stand-ins 10.0.0 and 88.6.1
are installed: tools/charts.json).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from components.contracts.ingress import INGRESS_CLASS
from components.ingress.manifests import NGINX_CONTROLLER_CLASS
from tests.support.local_cluster import (
    ARGOCD_FINALIZER,
    ApiError,
    LocalCluster,
    StandIns,
    inline_kubeconfig,
    kinds,
    start,
)
from tools.charts import cache_dir, serve
from tools.local_up import SHAPES, LocalStack, Step
from tools.preview import find_pulumi

# One worker for the whole module (`make test` runs --dist loadgroup): each stack's API server,
# up and destroy happen once.
pytestmark = [pytest.mark.engine, pytest.mark.go, pytest.mark.xdist_group("local_up")]

ENGINE_ABSENT = (
    "Pulumi CLI absent (install it, or `make engine` on this team's machines): nothing was applied "
    "with the real engine"
)
CHARTS_ABSENT = "local chart repository absent: run `make charts`; nothing was applied with the real engine"
RELEASE = "kubernetes:helm.sh/v3:Release"
NAMESPACE = "kubernetes:core/v1:Namespace"
# Built-in API groups: every other group a resource uses comes from a chart's CRD.
BUILTIN = {"", "rbac.authorization.k8s.io", "networking.k8s.io", "admissionregistration.k8s.io"}
# Which chart installs a kind's CRD when the CRD does not say (Helm marks what it renders from
# templates with meta.helm.sh/release-name, but installs a chart's crds/ directory unmarked:
# https://helm.sh/docs/chart_best_practices/custom_resource_definitions/). kube-prometheus-stack
# ships its CRDs in its crds subchart's crds/ directory; argo-cd and argo-rollouts as templates.
CRD_CHARTS = {
    "Application": "argo-cd",
    "AppProject": "argo-cd",
    "AnalysisTemplate": "argo-rollouts",
    "ClusterAnalysisTemplate": "argo-rollouts",
    "PrometheusRule": "kube-prometheus-stack",
    "ServiceMonitor": "kube-prometheus-stack",
    "PodMonitor": "kube-prometheus-stack",
    "AlertmanagerConfig": "kube-prometheus-stack",
}
ARGOCD_KINDS = {"Application", "AppProject"}


@dataclass
class Snapshot:
    """The API server's answers after `pulumi up`, read before the destroy removes everything."""

    objects: dict[str, dict[str, Any]] = field(default_factory=dict)  # urn -> stored object
    paths: dict[str, str] = field(default_factory=dict)  # urn -> its URL path
    missing: dict[str, str] = field(default_factory=dict)  # urn -> the API server's refusal
    crds: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)  # (apiVersion, kind) -> CRD
    release_secrets: dict[str, str | None] = field(default_factory=dict)  # path -> error, if any
    # `<namespace>/<deployments|statefulsets>/<name>` -> spec.replicas, in the releases' namespaces
    workloads: dict[str, int] = field(default_factory=dict)
    # The further paths the chart tests read (live_reads): path -> object, or the refusal.
    reads: dict[str, dict[str, Any] | ApiError] = field(default_factory=dict)
    # A ClusterIssuer with a mistyped solver, created with dryRun: the refusal, or None.
    mistyped_issuer: ApiError | None = None

    def read(self, path: str) -> dict[str, Any]:
        answer = self.reads[path]
        if isinstance(answer, ApiError):
            raise AssertionError(f"{path}: {answer}")
        return answer


@dataclass
class Destroyed:
    """The destroy and what it left."""

    refused: Step | None  # production: the destroy its protected resources refuse
    protected_kept: dict[str, bool]  # production: each protected Namespace still there after it
    kept_count: int  # production: resources in the state after it
    step: Step
    state: list[dict[str, Any]]
    survivors: list[str]  # objects of the state before, still on the API server after
    left_in_namespaces: list[str]  # anything in the program's namespaces after
    helm_left: list[str]  # cluster-scoped objects of the releases (not CRDs) after
    crds_left: list[str]


@dataclass
class Applied:
    stack: str
    cluster: LocalCluster
    up: Step
    preview: Step
    state: list[dict[str, Any]]
    stand_ins: StandIns
    before: Snapshot
    destroyed: Destroyed | None


def _tail(step: Step) -> str:
    return "\n".join(step.output.splitlines()[-60:])


def kubernetes_objects(state: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Every Kubernetes object a stack's state holds (not the providers, not the releases)."""
    return [
        r
        for r in state
        if r["type"].startswith("kubernetes:") and r["type"] != RELEASE and r.get("custom", True)
    ]


def is_custom(resource: dict[str, Any]) -> bool:
    return str(resource["outputs"]["apiVersion"]).rpartition("/")[0] not in BUILTIN


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


def _exists(cluster: LocalCluster, path: str) -> bool:
    try:
        cluster.get(path)
    except ApiError as error:
        if error.status == 404:
            return False
        raise
    return True


def snapshot(cluster: LocalCluster, state: list[dict[str, Any]]) -> Snapshot:
    taken = Snapshot()
    for resource in kubernetes_objects(state):
        outputs = resource["outputs"]
        meta = outputs["metadata"]
        path = api_path(cluster, outputs["apiVersion"], outputs["kind"], meta["name"], meta.get("namespace"))
        taken.paths[resource["urn"]] = path
        try:
            taken.objects[resource["urn"]] = cluster.get(path)
        except ApiError as error:
            taken.missing[resource["urn"]] = str(error)
        if is_custom(resource):
            api_version, kind = outputs["apiVersion"], outputs["kind"]
            plural = path.split("/")[-2]
            group = api_version.rpartition("/")[0]
            taken.crds[(api_version, kind)] = cluster.get(
                f"/apis/apiextensions.k8s.io/v1/customresourcedefinitions/{plural}.{group}"
            )
    for release in (r for r in state if r["type"] == RELEASE):
        status = release["outputs"]["status"]
        path = f"/api/v1/namespaces/{status['namespace']}/secrets/sh.helm.release.v1.{status['name']}.v{status['revision']}"
        try:
            cluster.get(path)
            taken.release_secrets[path] = None
        except ApiError as error:
            taken.release_secrets[path] = str(error)
        for kind in ("deployments", "statefulsets"):
            for item in cluster.get(f"/apis/apps/v1/namespaces/{status['namespace']}/{kind}")["items"]:
                key = f"{status['namespace']}/{kind}/{item['metadata']['name']}"
                taken.workloads[key] = int(item["spec"].get("replicas", 1))
    for path in live_reads(state):
        try:
            taken.reads[path] = cluster.get(path)
        except ApiError as error:
            taken.reads[path] = error
    issuers = sorted((r for r in state if r["type"] == ISSUER), key=lambda r: str(r["urn"]))
    if issuers:
        try:
            cluster.create(
                "/apis/cert-manager.io/v1/clusterissuers", mistyped_issuer(issuers[0]), dry_run=True
            )
        except ApiError as error:
            taken.mistyped_issuer = error
    return taken


def _releases(state: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Release name -> its state entry."""
    return {r["outputs"]["status"]["name"]: r for r in state if r["type"] == RELEASE}


def destroy(
    local: LocalStack,
    cluster: LocalCluster,
    stand_ins: StandIns,
    state: list[dict[str, Any]],
    before: Snapshot,
) -> Destroyed:
    namespaces = {r["outputs"]["metadata"]["name"] for r in state if r["type"] == NAMESPACE}
    refused, kept, kept_count = None, {}, 0
    stand_ins.start_collecting()
    if any(r.get("protect") for r in state):
        # With its preview, as an operator runs it: the preview refuses the protected resources
        # before anything is deleted (with --skip-preview the engine would delete unprotected
        # resources until it reached a protected one).
        refused = local.run("destroy", "--yes")
        kept_count = len(local.resources())
        kept = {
            r["outputs"]["metadata"]["name"]: not cluster.get(
                f"/api/v1/namespaces/{r['outputs']['metadata']['name']}"
            )["metadata"].get("deletionTimestamp")
            for r in state
            if r["type"] == NAMESPACE and r.get("protect")
        }
        local.unprotect_all()

    def never_finishes() -> str | None:
        if stand_ins.refused:
            return f"Argo CD's controller is gone and these Applications keep {ARGOCD_FINALIZER}: {stand_ins.refused}"
        return None

    step = local.destroy(give_up=never_finishes)
    # The default AppProject a Patch resource manages stays on its deletion (the Patch only gives
    # up its fields), and goes with Argo CD's namespace: it is checked like any other object.
    survivors = [path for path in before.paths.values() if _exists(cluster, path)]
    left = []
    for kind in kinds(cluster, namespaced=True):
        base, _, plural = kind.rpartition("/")
        for ns in sorted(namespaces):
            left += [
                f"{ns}/{plural}/{i['metadata']['name']}"
                for i in cluster.get(f"{base}/namespaces/{ns}/{plural}")["items"]
            ]
    releases = {
        (r["outputs"]["status"]["name"], r["outputs"]["status"]["namespace"])
        for r in state
        if r["type"] == RELEASE
    }
    helm_left, crds_left = [], []
    for kind in kinds(cluster, namespaced=False):
        base, _, plural = kind.rpartition("/")
        for item in cluster.get(f"{base}/{plural}")["items"]:
            annotations = item["metadata"].get("annotations") or {}
            owner = (
                annotations.get("meta.helm.sh/release-name"),
                annotations.get("meta.helm.sh/release-namespace"),
            )
            if plural == "customresourcedefinitions":
                crds_left.append(item["metadata"]["name"])
            elif owner in releases:
                helm_left.append(f"{plural}/{item['metadata']['name']}")
    return Destroyed(
        refused, kept, kept_count, step, local.resources(), survivors, left, helm_left, crds_left
    )


@pytest.fixture(scope="module", params=SHAPES)
def applied(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Applied]:
    if find_pulumi() is None:
        pytest.skip(ENGINE_ABSENT)
    if not (cache_dir() / "index.yaml").is_file():
        pytest.skip(CHARTS_ABSENT)
    stack = str(request.param)
    cluster = start(tmp_path_factory.mktemp(f"apiserver-{stack}"))
    try:
        with serve(cache_dir()) as repository, StandIns(cluster, collect_garbage=False) as stand_ins:
            local = LocalStack(
                stack, tmp_path_factory.mktemp(f"up-{stack}"), inline_kubeconfig(cluster), repository
            )
            up = local.up()
            preview = local.preview_no_changes() if up.returncode == 0 else up
            state = local.resources()
            # Everything read back now: the destroy below removes it.
            before = snapshot(cluster, state) if up.returncode == 0 else Snapshot()
            destroyed = destroy(local, cluster, stand_ins, state, before) if up.returncode == 0 else None
        yield Applied(stack, cluster, up, preview, state, stand_ins, before, destroyed)
    finally:
        cluster.stop()


def test_pulumi_up_succeeds(applied: Applied) -> None:
    assert applied.up.returncode == 0, _tail(applied.up)
    assert applied.up.changes().get("create", 0) > 0
    assert applied.stand_ins.errors == [], "\n".join(applied.stand_ins.errors)


def test_the_second_run_changes_nothing(applied: Applied) -> None:
    assert applied.up.returncode == 0, _tail(applied.up)
    assert applied.preview.returncode == 0, _tail(applied.preview)
    assert set(applied.preview.changes()) <= {"same"}, applied.preview.changes()


def test_every_object_is_on_the_api_server_as_declared(applied: Applied) -> None:
    assert applied.up.returncode == 0, _tail(applied.up)
    objects = kubernetes_objects(applied.state)
    assert objects
    assert applied.before.missing == {}
    for resource in objects:
        inputs, meta = resource.get("inputs") or {}, resource["outputs"]["metadata"]
        stored = applied.before.objects[resource["urn"]]
        path = applied.before.paths[resource["urn"]]
        declared = inputs.get("metadata") or {}
        for key, value in (declared.get("labels") or {}).items():
            assert stored["metadata"].get("labels", {}).get(key) == value, (path, key)
        if declared.get("finalizers"):
            assert stored["metadata"].get("finalizers") == declared["finalizers"], path
        assert stored["metadata"]["uid"] == meta["uid"], path


def test_the_charts_crds_are_established_and_their_custom_resources_accepted(applied: Applied) -> None:
    assert applied.up.returncode == 0, _tail(applied.up)
    kinds_applied = {kind for _, kind in applied.before.crds}
    # Argo CD's Applications and AppProject, and Prometheus' rules at least.
    assert {"Application", "AppProject", "PrometheusRule"} <= kinds_applied, kinds_applied
    for (_, kind), crd in sorted(applied.before.crds.items()):
        conditions = {c["type"]: c["status"] for c in crd["status"]["conditions"]}
        assert conditions.get("Established") == "True", (kind, conditions)


def test_every_release_is_deployed(applied: Applied) -> None:
    assert applied.up.returncode == 0, _tail(applied.up)
    releases = [r for r in applied.state if r["type"] == RELEASE]
    # argo-cd and kube-prometheus-stack; argo-rollouts too where Rollouts are on.
    assert len(releases) >= 2
    for release in releases:
        assert release["outputs"]["status"]["status"] == "deployed", release["outputs"]["status"]
    # Helm's own record of each release, a Secret in its namespace.
    assert len(applied.before.release_secrets) == len(releases)
    assert {path: error for path, error in applied.before.release_secrets.items() if error} == {}


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


def _release(state: list[dict[str, Any]], name: str) -> dict[str, Any]:
    [status] = [
        r["outputs"]["status"]
        for r in state
        if r["type"] == RELEASE and r["outputs"]["status"]["name"] == name
    ]
    return dict(status)


def crd_path(name: str) -> str:
    return f"/apis/apiextensions.k8s.io/v1/customresourcedefinitions/{name}"


def webhook_path(kind: str) -> str:
    return f"/apis/admissionregistration.k8s.io/v1/{kind}/cert-manager-webhook"


def grafana_path(namespace: str) -> str:
    return (
        f"/apis/apps/v1/namespaces/{namespace}/deployments?labelSelector=app.kubernetes.io%2Fname%3Dgrafana"
    )


def dashboards_path(namespace: str) -> str:
    return f"/api/v1/namespaces/{namespace}/configmaps?labelSelector=grafana_dashboard%3D1"


WEBHOOKS = (("validatingwebhookconfigurations", "/validate"), ("mutatingwebhookconfigurations", "/mutate"))


def traefik_path(namespace: str) -> str:
    return (
        f"/apis/apps/v1/namespaces/{namespace}/deployments?labelSelector=app.kubernetes.io%2Fname%3Dtraefik"
    )


INGRESS_CLASS_PATH = f"/apis/networking.k8s.io/v1/ingressclasses/{INGRESS_CLASS}"


def live_reads(state: list[dict[str, Any]]) -> list[str]:
    """What the cert-manager, Traefik and Grafana tests read from the API server, read before the
    destroy."""
    monitoring = _release(state, "kube-prometheus-stack")["namespace"]
    return [
        *(crd_path(name) for name in CERT_MANAGER_CRDS),
        *(webhook_path(kind) for kind, _ in WEBHOOKS),
        grafana_path(monitoring),
        dashboards_path(monitoring),
        traefik_path(_release(state, "traefik")["namespace"]),
        INGRESS_CLASS_PATH,
    ]


def mistyped_issuer(issuer: dict[str, Any]) -> dict[str, Any]:
    """A declared ClusterIssuer with its solvers a string instead of a list."""
    return {
        "apiVersion": "cert-manager.io/v1",
        "kind": "ClusterIssuer",
        "metadata": {"name": "schema-probe"},
        "spec": {"acme": {**issuer["inputs"]["spec"]["acme"], "solvers": "http01"}},
    }


def test_cert_managers_crds_are_established_and_kept_beyond_the_release(applied: Applied) -> None:
    assert applied.up.returncode == 0, _tail(applied.up)
    assert _release(applied.state, "cert-manager")["status"] == "deployed"
    for name in CERT_MANAGER_CRDS:
        crd = applied.before.read(crd_path(name))
        conditions = {c["type"]: c["status"] for c in crd["status"]["conditions"]}
        assert conditions.get("Established") == "True", (name, conditions)
        # crds.keep (components/ingress/manifests.py): uninstalling the release leaves them.
        assert crd["metadata"]["annotations"].get("helm.sh/resource-policy") == "keep", name


def test_the_cluster_issuers_are_stored_as_declared_and_the_crd_schema_judges_them(applied: Applied) -> None:
    assert applied.up.returncode == 0, _tail(applied.up)
    issuers = {r["outputs"]["metadata"]["name"]: r for r in applied.state if r["type"] == ISSUER}
    # Development and staging declare both of Let's Encrypt's CAs, production only the
    # production CA (IngressConfig.issuers_for).
    expected = ["letsencrypt-prod"] + (["letsencrypt-staging"] if applied.stack != "production" else [])
    assert sorted(issuers) == expected, sorted(issuers)
    for name, resource in issuers.items():
        stored = applied.before.objects[resource["urn"]]
        # The structural schema prunes what it does not know: equal means nothing was dropped.
        assert stored["spec"] == resource["inputs"]["spec"], name
    # The schema is what accepted them: the same issuer with a solver of the wrong type is refused.
    error = applied.before.mistyped_issuer
    assert error is not None, "a ClusterIssuer whose solvers are a string was accepted"
    assert error.status == 422, error
    assert "spec.acme.solvers" in str(error), error


def test_cert_managers_webhook_is_registered_as_the_chart_declares_it(applied: Applied) -> None:
    """Registered, not called: this API server calls no admission webhook (no Pod could answer;
    tests/support/local_cluster.py). On a real cluster every ClusterIssuer goes through it."""
    assert applied.up.returncode == 0, _tail(applied.up)
    namespace = _release(applied.state, "cert-manager")["namespace"]
    for kind, path in WEBHOOKS:
        registered = applied.before.read(webhook_path(kind))
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
    namespace = _release(applied.state, "kube-prometheus-stack")["namespace"]
    deployments = applied.before.read(grafana_path(namespace))["items"]
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
    labelled = {c["metadata"]["name"] for c in applied.before.read(dashboards_path(namespace))["items"]}
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


def test_traefik_serves_only_the_nginx_class_through_its_ingress_nginx_provider(applied: Applied) -> None:
    """The Traefik chart (41.6.0 standing in for 41.3.0: tools/charts.json) took the program's
    values through its own values.schema.json and rendered them: the `nginx` IngressClass with
    ingress-nginx's controller value (components/ingress/manifests.py), and a Deployment whose
    arguments enable the Kubernetes Ingress NGINX provider alone (the chart's _podtemplate.tpl
    turns providers.* into `--providers....` flags)."""
    assert applied.up.returncode == 0, _tail(applied.up)
    release = _release(applied.state, "traefik")
    assert release["status"] == "deployed", release
    ingress_class = applied.before.read(INGRESS_CLASS_PATH)
    assert ingress_class["spec"]["controller"] == NGINX_CONTROLLER_CLASS, ingress_class["spec"]
    annotations = ingress_class["metadata"].get("annotations") or {}
    assert annotations.get("ingressclass.kubernetes.io/is-default-class") == "false", annotations
    assert (ingress_class["metadata"].get("annotations") or {}).get("meta.helm.sh/release-name") == "traefik"
    [traefik] = applied.before.read(traefik_path(release["namespace"]))["items"]
    replicas = 2 if applied.stack == "production" else 1
    assert traefik["spec"]["replicas"] == replicas, traefik["spec"]["replicas"]
    pod = traefik["spec"]["template"]["spec"]
    [container] = [c for c in pod["containers"] if c["name"] == "traefik"]
    args = container["args"]
    assert "--providers.kubernetesingressnginx" in args, args
    assert f"--providers.kubernetesingressnginx.ingressClass={INGRESS_CLASS}" in args, args
    assert f"--providers.kubernetesingressnginx.controllerClass={NGINX_CONTROLLER_CLASS}" in args, args
    assert "--providers.kubernetesingressnginx.allowSnippetAnnotations=false" in args, args
    assert not [
        a for a in args if a.startswith(("--providers.kubernetescrd", "--providers.kubernetesingress="))
    ]
    assert "--providers.kubernetesingress" not in args, args
    # What the pod policies ask of the services' pods, kept by the chart as the values set it.
    assert pod["securityContext"]["runAsNonRoot"] is True, pod["securityContext"]
    assert container["securityContext"]["readOnlyRootFilesystem"] is True, container["securityContext"]


def test_argo_cd_runs_the_declared_replicas_on_the_charts_single_redis(applied: Applied) -> None:
    """Production's HA Argo CD as production declares it, two replicas of each component, with the
    one thing its local shape changes: the chart's single Redis instead of redis-ha's; one
    replica each elsewhere."""
    assert applied.up.returncode == 0, _tail(applied.up)
    workloads = applied.before.workloads
    replicas = 2 if applied.stack == "production" else 1
    for workload in (
        "argocd/statefulsets/argocd-application-controller",
        "argocd/deployments/argocd-server",
        "argocd/deployments/argocd-repo-server",
        "argocd/deployments/argocd-applicationset-controller",
    ):
        assert workloads.get(workload) == replicas, (workload, workloads)
    assert workloads.get("argocd/deployments/argocd-redis") == 1, workloads
    assert not [w for w in workloads if "redis-ha" in w], workloads


def _destroyed(applied: Applied) -> Destroyed:
    assert applied.up.returncode == 0, _tail(applied.up)
    assert applied.destroyed is not None
    return applied.destroyed


def test_pulumi_destroy_succeeds_and_the_stack_ends_empty(applied: Applied) -> None:
    destroyed = _destroyed(applied)
    assert destroyed.step.returncode == 0, _tail(destroyed.step)
    assert applied.stand_ins.refused == [], applied.stand_ins.refused
    assert applied.stand_ins.errors == [], "\n".join(applied.stand_ins.errors)
    deleted = destroyed.step.order("resOutputsEvent", "delete")
    assert set(deleted) >= {r["urn"] for r in kubernetes_objects(applied.state)}
    # The stack itself may stay in the state; no resource does.
    assert [r["type"] for r in destroyed.state if r["type"] != "pulumi:pulumi:Stack"] == []


def test_production_s_protected_resources_refuse_the_destroy_until_unprotected(applied: Applied) -> None:
    destroyed = _destroyed(applied)
    protected = [r for r in applied.state if r.get("protect")]
    if applied.stack != "production":
        assert protected == [] and destroyed.refused is None
        return
    # Argo CD's, monitoring's and the services' namespaces, the Applications, the pull Secrets.
    assert {r["type"] for r in protected} >= {NAMESPACE, "kubernetes:argoproj.io/v1alpha1:Application"}
    assert destroyed.refused is not None and destroyed.refused.returncode != 0
    assert "protect" in destroyed.refused.output, _tail(destroyed.refused)
    assert destroyed.protected_kept and all(destroyed.protected_kept.values()), destroyed.protected_kept
    # Nothing at all was deleted by the refused destroy (Argo CD's release included).
    assert destroyed.kept_count == len(applied.state)


def test_custom_resources_go_before_the_release_that_installs_their_crd(applied: Applied) -> None:
    destroyed = _destroyed(applied)
    started = destroyed.step.order("resourcePreEvent", "delete")
    finished = destroyed.step.order("resOutputsEvent", "delete")
    releases = _releases(applied.state)
    by_chart = {r["outputs"]["chart"]: urn for urn, r in ((r["urn"], r) for r in releases.values())}
    custom = [r for r in kubernetes_objects(applied.state) if is_custom(r)]
    assert custom
    for resource in custom:
        kind = resource["outputs"]["kind"]
        crd = applied.before.crds[(resource["outputs"]["apiVersion"], kind)]
        owner = (crd["metadata"].get("annotations") or {}).get("meta.helm.sh/release-name")
        release = releases[owner]["urn"] if owner else by_chart[CRD_CHARTS[kind]]
        assert finished[resource["urn"]] < started[release], (resource["urn"], release)


def test_argo_cd_s_resources_go_while_argo_cd_can_clear_their_finalizers(applied: Applied) -> None:
    destroyed = _destroyed(applied)
    started = destroyed.step.order("resourcePreEvent", "delete")
    finished = destroyed.step.order("resOutputsEvent", "delete")
    [argocd] = [r for r in applied.state if r["type"] == RELEASE and r["outputs"]["chart"] == "argo-cd"]
    argocd_ns = argocd["outputs"]["status"]["namespace"]
    [namespace] = [
        r for r in applied.state if r["type"] == NAMESPACE and r["outputs"]["metadata"]["name"] == argocd_ns
    ]
    ours = [r for r in kubernetes_objects(applied.state) if r["outputs"]["kind"] in ARGOCD_KINDS]
    apps = [r for r in ours if r["outputs"]["kind"] == "Application"]
    assert apps and all(ARGOCD_FINALIZER in r["outputs"]["metadata"]["finalizers"] for r in apps)
    for resource in ours:
        assert finished[resource["urn"]] < started[argocd["urn"]], resource["urn"]
        assert finished[resource["urn"]] < started[namespace["urn"]], resource["urn"]
    # Argo CD's controller was still there for every Application (the stand-in refuses otherwise).
    names = {f"{r['outputs']['metadata']['namespace']}/{r['outputs']['metadata']['name']}" for r in apps}
    assert names <= set(applied.stand_ins.cleared), (names, applied.stand_ins.cleared)


def test_nothing_of_the_program_is_left_on_the_api_server(applied: Applied) -> None:
    destroyed = _destroyed(applied)
    assert destroyed.step.returncode == 0, _tail(destroyed.step)
    assert destroyed.survivors == []
    assert destroyed.left_in_namespaces == []
    assert destroyed.helm_left == []
    # Every Namespace went through the namespace controller's stand-in.
    namespaces = {r["outputs"]["metadata"]["name"] for r in applied.state if r["type"] == NAMESPACE}
    assert namespaces <= set(applied.stand_ins.finalized)
    # The argo-cd chart keeps its CRDs on uninstall (crds.keep, so an uninstall never cascades to
    # Applications elsewhere); Helm never deletes CRDs of a chart's crds/ directory.
    assert "applications.argoproj.io" in destroyed.crds_left
