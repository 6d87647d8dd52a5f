"""The admission policies every stack declares, enforced by a real Kubernetes API server
(v1.34.12, tests/support/local_cluster.py): the Pods the CEL harness says are refused are refused by
the API server with the same message, and a compliant Pod is stored.

The policies and bindings are the ones the program declares (recorded from the committed
stack), created on the API server as they are; the Pods are tests/samples/pods/compliant.yaml
and the variants tests/kubernetes/test_pod_policies.py judges through the harness. Refusals are asked
with `dryRun=All`: admission runs in full, nothing is stored
(https://kubernetes.io/docs/reference/using-api/api-concepts/#dry-run).
"""

from __future__ import annotations

import copy
import time
from collections.abc import Iterator
from typing import Any

import pytest

from components.kubernetes.pod_policies import IMAGE_DIGEST, POD_SECURITY
from tests.kubernetes.test_pod_policies import (
    IMAGE_CASES,
    NON_ROOT,
    READ_ONLY,
    REGISTRY,
    SECURITY_CASES,
)
from tests.support.local_cluster import ApiError, LocalCluster, start
from tests.support.pods import APP, BINDING, INIT, POLICY, container_context, image, pod_context, sample
from tests.support.stacks import run_stack
from tools.offline import Run

pytestmark = pytest.mark.go

STACK = "staging"
# A binding is in force once the API server's policy cache has seen it (about a second).
POLICY_WAIT_SECONDS = 60


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCluster]:
    local = start(tmp_path_factory.mktemp("apiserver"))
    try:
        yield local
    finally:
        local.stop()


def namespace(run: Run) -> str:
    [binding] = [
        b for b in (r.plain for r in run.recorder.of_type(BINDING)) if b["metadata"]["name"] == POD_SECURITY
    ]
    [names] = [
        e["values"] for e in binding["spec"]["matchResources"]["namespaceSelector"]["matchExpressions"]
    ]
    return str(sorted(names)[0])


def manifest(kind: str, plain: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": kind,
        "metadata": plain["metadata"],
        "spec": plain["spec"],
    }


def refusal(name: str, policy: str, message: str) -> str:
    """The API server's answer to a Pod a Deny binding refuses (what the harness also asserts)."""
    return (
        f'pods "{name}" is forbidden: ValidatingAdmissionPolicy '
        f"'{policy}' with binding '{policy}' denied request: {message}"
    )


@pytest.fixture(scope="module")
def policed(cluster: LocalCluster) -> tuple[LocalCluster, str]:
    """The staging stack's policies and bindings on the API server, in force, and the namespace
    they judge (with the ServiceAccount every Pod gets: no controller manager creates it)."""
    run = run_stack(STACK)
    ns = namespace(run)
    cluster.create("/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}})
    cluster.create(
        f"/api/v1/namespaces/{ns}/serviceaccounts",
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "default"}},
    )
    base = "/apis/admissionregistration.k8s.io/v1"
    for resource in run.recorder.of_type(POLICY):
        cluster.create(
            f"{base}/validatingadmissionpolicies", manifest("ValidatingAdmissionPolicy", resource.plain)
        )
    for resource in run.recorder.of_type(BINDING):
        cluster.create(
            f"{base}/validatingadmissionpolicybindings",
            manifest("ValidatingAdmissionPolicyBinding", resource.plain),
        )
    # Both bindings in force: a Pod each policy alone refuses is refused.
    probes = [
        sample(image(f"{REGISTRY}{APP}:1.4.2")),
        sample(container_context(APP, readOnlyRootFilesystem=False)),
    ]
    deadline = time.monotonic() + POLICY_WAIT_SECONDS
    while probes:
        try:
            cluster.create(f"/api/v1/namespaces/{ns}/pods", probes[0], dry_run=True)
        except ApiError as error:
            if error.status == 422:
                probes.pop(0)
                continue
            raise
        assert time.monotonic() < deadline, f"the bindings were not in force after {POLICY_WAIT_SECONDS}s"
        time.sleep(1)
    return cluster, ns


def refused(cluster: LocalCluster, ns: str, pod: dict[str, Any]) -> ApiError:
    with pytest.raises(ApiError) as caught:
        cluster.create(f"/api/v1/namespaces/{ns}/pods", pod, dry_run=True)
    assert caught.value.status == 422, caught.value.body
    return caught.value


def test_the_api_server_serves_the_pinned_version(cluster: LocalCluster) -> None:
    version = cluster.get("/version")
    assert (version["major"], version["minor"], version["gitVersion"]) == ("1", "34", "v1.34.12")


def test_a_root_pod_is_refused(policed: tuple[LocalCluster, str]) -> None:
    cluster, ns = policed
    pod = sample(pod_context(runAsNonRoot=None, runAsUser=0))
    error = refused(cluster, ns, pod)
    assert error.body["message"] == refusal(
        pod["metadata"]["name"], POD_SECURITY, f"containers {APP}, {INIT} {NON_ROOT}"
    )


def test_a_writable_root_pod_is_refused(policed: tuple[LocalCluster, str]) -> None:
    cluster, ns = policed
    pod = sample(container_context(APP, readOnlyRootFilesystem=None))
    error = refused(cluster, ns, pod)
    assert error.body["message"] == refusal(
        pod["metadata"]["name"], POD_SECURITY, f"container {APP} {READ_ONLY}"
    )


def test_a_tag_only_platform_image_is_refused(policed: tuple[LocalCluster, str]) -> None:
    cluster, ns = policed
    pod = sample(image(f"{REGISTRY}{APP}:1.4.2"))
    error = refused(cluster, ns, pod)
    assert error.body["message"] == refusal(
        pod["metadata"]["name"], IMAGE_DIGEST, IMAGE_CASES["tag-only"][1] or ""
    )


def test_a_compliant_pod_is_admitted_and_stored(policed: tuple[LocalCluster, str]) -> None:
    cluster, ns = policed
    pod = sample()
    created, warnings = cluster.create(f"/api/v1/namespaces/{ns}/pods", pod)
    assert warnings == []
    stored = cluster.get(f"/api/v1/namespaces/{ns}/pods/{pod['metadata']['name']}")
    assert stored["metadata"]["uid"] == created["metadata"]["uid"]
    assert [c["image"] for c in stored["spec"]["containers"]] == [
        c["image"] for c in pod["spec"]["containers"]
    ]


def test_the_api_server_agrees_with_the_harness_on_every_sample(policed: tuple[LocalCluster, str]) -> None:
    """Every image and security case of tests/kubernetes/test_pod_policies.py: admitted where the harness
    admits, refused with one of the harness's messages where it refuses."""
    cluster, ns = policed
    cases: dict[str, tuple[dict[str, Any], list[tuple[str, str]]]] = {}
    for key, (mutations, message) in IMAGE_CASES.items():
        cases[f"image/{key}"] = (sample(*mutations), [(IMAGE_DIGEST, message)] if message else [])
    for key, (mutations, root, writable) in SECURITY_CASES.items():
        cases[f"security/{key}"] = (sample(*mutations), [(POD_SECURITY, m) for m in (root, writable) if m])
    for case, (original, expected) in sorted(cases.items()):
        pod = copy.deepcopy(original)
        # Its own name: the compliant sample is stored by another test.
        pod["metadata"]["name"] = case.replace("/", "-")
        if not expected:
            cluster.create(f"/api/v1/namespaces/{ns}/pods", pod, dry_run=True)
            continue
        message = refused(cluster, ns, pod).body["message"]
        # Several failing validations of one policy: the API server names the first, as the
        # harness's dispatcher does; the harness's partial messages (short-digest) are prefixes.
        prefix = refusal(pod["metadata"]["name"], expected[0][0], expected[0][1])
        assert message.startswith(prefix), (case, message)


def test_pods_outside_the_services_namespaces_are_not_judged(policed: tuple[LocalCluster, str]) -> None:
    """The bindings select the Applications' namespaces only: a root Pod with a tag-only image
    is admitted elsewhere (`default`, where the API server itself creates no ServiceAccount)."""
    cluster, _ = policed
    try:
        cluster.create("/api/v1/namespaces/default/serviceaccounts", {"metadata": {"name": "default"}})
    except ApiError as error:
        if error.status != 409:
            raise
    pod = sample(pod_context(runAsNonRoot=None, runAsUser=0), image(f"{REGISTRY}{APP}:1.4.2"))
    cluster.create("/api/v1/namespaces/default/pods", pod, dry_run=True)
