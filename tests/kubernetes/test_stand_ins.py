"""The controllers tests/support/local_cluster.py's StandIns play for `pulumi destroy`, against the
real API server: an object deleted in the foreground goes after its dependents, a Namespace is
finalized only once nothing is left in it, and an Application loses Argo CD's resources
finalizer only while Argo CD's application controller exists beside it.
If the stand-ins cleared finalizers regardless, tests/system/test_local_up.py could not catch a
destroy that removes Argo CD before its Applications; these tests show they do not.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.support.local_cluster import ARGOCD_FINALIZER, ApiError, LocalCluster, StandIns, start

pytestmark = pytest.mark.go

APPS = "/apis/argoproj.io/v1alpha1"
WAIT_SECONDS = 60
# Only what the stand-ins read of Argo CD's CRD: the kind, served and stored.
APPLICATION_CRD = {
    "apiVersion": "apiextensions.k8s.io/v1",
    "kind": "CustomResourceDefinition",
    "metadata": {"name": "applications.argoproj.io"},
    "spec": {
        "group": "argoproj.io",
        "scope": "Namespaced",
        "names": {"kind": "Application", "plural": "applications", "singular": "application"},
        "versions": [
            {
                "name": "v1alpha1",
                "served": True,
                "storage": True,
                "schema": {
                    "openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}
                },
            }
        ],
    },
}


def until(what: str, check: Callable[[], bool]) -> None:
    deadline = time.monotonic() + WAIT_SECONDS
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {WAIT_SECONDS}s: {what}")
        time.sleep(0.5)


def gone(cluster: LocalCluster, path: str) -> bool:
    try:
        cluster.get(path)
    except ApiError as error:
        if error.status == 404:
            return True
        raise
    return False


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LocalCluster, StandIns]]:
    local = start(tmp_path_factory.mktemp("apiserver"))
    try:
        local.create("/apis/apiextensions.k8s.io/v1/customresourcedefinitions", APPLICATION_CRD)

        def established() -> bool:
            crd = local.get(
                "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/applications.argoproj.io"
            )
            return any(
                c["type"] == "Established" and c["status"] == "True"
                for c in crd.get("status", {}).get("conditions") or []
            )

        until("the Application CRD established", established)
        with StandIns(local) as stand_ins:
            yield local, stand_ins
    finally:
        local.stop()


def namespace(cluster: LocalCluster, name: str) -> None:
    cluster.create(
        "/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}
    )


def controller(cluster: LocalCluster, ns: str) -> str:
    """Argo CD's application controller as the argo-cd chart labels it (never run: no kubelet)."""
    labels = {"app.kubernetes.io/name": "argocd-application-controller"}
    body: dict[str, Any] = {
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "metadata": {"name": "argocd-application-controller", "labels": labels},
        "spec": {
            "serviceName": "argocd-application-controller",
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {"containers": [{"name": "controller", "image": "quay.io/argoproj/argocd:v3.4.4"}]},
            },
        },
    }
    cluster.create(f"/apis/apps/v1/namespaces/{ns}/statefulsets", body)
    return f"/apis/apps/v1/namespaces/{ns}/statefulsets/argocd-application-controller"


def application(cluster: LocalCluster, ns: str, name: str) -> str:
    body = {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Application",
        "metadata": {"name": name, "finalizers": [ARGOCD_FINALIZER]},
        "spec": {"project": "default"},
    }
    cluster.create(f"{APPS}/namespaces/{ns}/applications", body)
    return f"{APPS}/namespaces/{ns}/applications/{name}"


def test_an_application_goes_while_argo_cd_s_controller_is_there(
    cluster: tuple[LocalCluster, StandIns],
) -> None:
    api, stand_ins = cluster
    namespace(api, "with-controller")
    controller(api, "with-controller")
    app = application(api, "with-controller", "guestbook")
    api.request("DELETE", app)
    until("the Application deleted", lambda: gone(api, app))
    assert "with-controller/guestbook" in stand_ins.cleared
    assert "with-controller/guestbook" not in stand_ins.refused


def test_without_the_controller_the_application_and_its_namespace_never_go(
    cluster: tuple[LocalCluster, StandIns],
) -> None:
    api, stand_ins = cluster
    namespace(api, "controller-gone")
    sts = controller(api, "controller-gone")
    app = application(api, "controller-gone", "guestbook")
    api.create(
        "/api/v1/namespaces/controller-gone/configmaps",
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "settings"}, "data": {"a": "b"}},
    )
    # Argo CD uninstalled first: what a wrong destroy order would do.
    api.request("DELETE", sts)
    until("the controller deleted", lambda: gone(api, sts))
    api.request("DELETE", app)
    until("the refusal recorded", lambda: "controller-gone/guestbook" in stand_ins.refused)
    api.request("DELETE", "/api/v1/namespaces/controller-gone")
    # The namespace controller's stand-in deletes the rest of the namespace's content...
    until(
        "the ConfigMap deleted", lambda: gone(api, "/api/v1/namespaces/controller-gone/configmaps/settings")
    )
    time.sleep(3)  # several passes of the stand-ins
    # ...but the Application keeps its finalizer, so the namespace stays Terminating.
    stored = api.get(app)
    assert stored["metadata"]["deletionTimestamp"] and stored["metadata"]["finalizers"] == [ARGOCD_FINALIZER]
    assert api.get("/api/v1/namespaces/controller-gone")["status"]["phase"] == "Terminating"
    assert "controller-gone" not in stand_ins.finalized
    assert "controller-gone/guestbook" not in stand_ins.cleared
    # Once someone clears it by hand, the namespace is finalized and goes.
    api.request("PATCH", app, {"metadata": {"finalizers": None}}, content_type="application/merge-patch+json")
    until("the namespace gone", lambda: gone(api, "/api/v1/namespaces/controller-gone"))
    assert "controller-gone" in stand_ins.finalized
    assert "controller-gone/configmaps/settings" in stand_ins.emptied


def test_an_empty_namespace_is_finalized(cluster: tuple[LocalCluster, StandIns]) -> None:
    api, stand_ins = cluster
    namespace(api, "empty")
    api.request("DELETE", "/api/v1/namespaces/empty")
    until("the namespace gone", lambda: gone(api, "/api/v1/namespaces/empty"))
    assert "empty" in stand_ins.finalized
    assert stand_ins.errors == []


def test_a_foreground_deletion_waits_for_the_dependents(cluster: tuple[LocalCluster, StandIns]) -> None:
    """What Pulumi's default `foreground` propagation asks of the garbage collector."""
    api, stand_ins = cluster
    namespace(api, "foreground")
    base = "/api/v1/namespaces/foreground/configmaps"
    owner, _ = api.create(base, {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "owner"}})
    reference = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "name": "owner",
        "uid": owner["metadata"]["uid"],
        "blockOwnerDeletion": True,
    }
    api.create(
        base,
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "child", "ownerReferences": [reference]},
        },
    )
    api.request("DELETE", f"{base}/owner?propagationPolicy=Foreground")
    # The API server holds the owner with the foregroundDeletion finalizer...
    assert "foregroundDeletion" in (api.get(f"{base}/owner")["metadata"].get("finalizers") or []) or gone(
        api, f"{base}/owner"
    )
    until("the owner deleted", lambda: gone(api, f"{base}/owner"))
    # ...and the stand-in let it go only after deleting its dependent.
    assert gone(api, f"{base}/child")
    assert f"{base}/owner" in stand_ins.collected
    assert f"{base}/child" in stand_ins.collected
