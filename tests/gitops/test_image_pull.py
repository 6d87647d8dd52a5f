"""The clusters can pull the platform's private GHCR images: a pull Secret in every namespace an
Application deploys to (computed from the Applications each stack declares), the Applications'
charts told to use it, the token secret end to end, bad config refused."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from components.gitops.image_pull import SECRET_KEY, SECRET_TYPE, dockerconfigjson
from tests.support.stacks import TEST_SECRETS, assert_refused, stack_values, with_changes
from tests.support.types import APPLICATION, NAMESPACE, SECRET
from tools.offline import STACKS, RecordedResource, Run, Secret, run_program


def image_pull_config(stack: str) -> dict[str, Any]:
    config: dict[str, Any] = stack_values(stack)["delivery:imagePull"]
    return config


def secret_name(stack: str) -> str:
    return str(image_pull_config(stack).get("secretName", "ghcr-pull"))


def pull_secrets(run: Run) -> dict[str, RecordedResource]:
    """Namespace -> the dockerconfigjson Secret declared there."""
    found: dict[str, RecordedResource] = {}
    for res in run.recorder.of_type(SECRET):
        if res.plain.get("type") == SECRET_TYPE:
            namespace = res.plain["metadata"]["namespace"]
            assert namespace not in found, f"two pull Secrets in {namespace}"
            found[namespace] = res
    return found


def helm_sources(app: RecordedResource) -> list[dict[str, Any]]:
    spec = app.plain["spec"]
    sources = spec["sources"] if "sources" in spec else [spec["source"]]
    return [s for s in sources if "helm" in s]


def test_every_namespace_an_application_deploys_to_holds_the_pull_secret(stack_run: Run) -> None:
    apps = stack_run.recorder.of_type(APPLICATION)
    destinations = {app.plain["spec"]["destination"]["namespace"] for app in apps}
    secrets = pull_secrets(stack_run)
    assert destinations, "no Application declared: the check proved nothing"
    assert set(secrets) == destinations
    declared_namespaces = {r.plain["metadata"]["name"] for r in stack_run.recorder.of_type(NAMESPACE)}
    assert destinations <= declared_namespaces, "a Secret needs its namespace before Argo CD's first sync"
    config = image_pull_config(stack_run.stack)
    for namespace, res in secrets.items():
        assert res.plain["metadata"]["name"] == secret_name(stack_run.stack)
        # Marked secret where it enters the engine, and exactly what kubelet reads.
        string_data = res.inputs["stringData"]
        assert isinstance(string_data, Secret) or isinstance(string_data[SECRET_KEY], Secret), namespace
        document = json.loads(res.plain["stringData"][SECRET_KEY])
        token = TEST_SECRETS["ghcrPullToken"]
        assert document == {
            "auths": {
                "ghcr.io": {
                    "username": config["user"],
                    "password": token,
                    "auth": base64.b64encode(f"{config['user']}:{token}".encode()).decode(),
                }
            }
        }


def test_every_chart_application_uses_the_pull_secret(stack_run: Run) -> None:
    """Helm sources pass it as `imagePullSecrets` in valuesObject, which Argo CD ranks above
    every values file. The infrastructure Application deploys plain manifests, which name the
    Secret themselves (docs/gitops.md, "Image pulls")."""
    expected = [{"name": secret_name(stack_run.stack)}]
    charts = 0
    for app in stack_run.recorder.of_type(APPLICATION):
        for source in helm_sources(app):
            charts += 1
            assert source["helm"]["valuesObject"]["imagePullSecrets"] == expected, app.name
    assert charts == len(stack_values(stack_run.stack)["delivery:services"])


def test_applications_wait_for_the_pull_secrets_and_production_namespaces_are_protected(
    stack_run: Run,
) -> None:
    secrets = {res.name for res in pull_secrets(stack_run).values()}
    for app in stack_run.recorder.of_type(APPLICATION):
        # Created before the first sync pulls an image; deleted after the workloads are gone.
        assert secrets <= set(app.depends_on), app.name
    production = stack_run.stack == "production"
    for namespace in stack_run.recorder.of_type(NAMESPACE):
        if namespace.plain["metadata"]["name"] in pull_secrets(stack_run):
            assert namespace.protect is production, namespace.name


def test_a_service_in_its_own_namespace_gets_the_secret_there_too() -> None:
    changes = {"delivery:services": {"billing-service": {"namespace": "billing"}, "web-portal": {}}}
    run = run_program("staging", TEST_SECRETS, with_changes("staging", changes))
    assert set(pull_secrets(run)) == {"billing", "platform-staging"}
    test_every_namespace_an_application_deploys_to_holds_the_pull_secret(run)


def test_the_pull_token_is_rotated_by_config_alone() -> None:
    """A new token changes the Secret's data, nothing else (same names: an in-place update)."""
    first = dockerconfigjson("ghcr.io", "puller", "old-token")
    second = dockerconfigjson("ghcr.io", "puller", "new-token")
    assert first != second
    assert json.loads(first)["auths"].keys() == json.loads(second)["auths"].keys()


@pytest.mark.parametrize("stack", STACKS)
def test_a_stack_without_pull_identity_is_refused(stack: str) -> None:
    assert_refused(stack, {"delivery:imagePull": None}, ["delivery:imagePull: required key is missing"])


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"delivery:imagePull.user": "not a login"}, "delivery:imagePull.user"),
        ({"delivery:imagePull.secretName": "Ghcr_Pull"}, "delivery:imagePull.secretName"),
        ({"delivery:imagePull.token": "ghp_inline"}, "delivery:imagePull.token"),
    ],
)
def test_bad_image_pull_config_is_refused(changes: dict[str, Any], expected: str) -> None:
    assert_refused("staging", changes, [expected])
