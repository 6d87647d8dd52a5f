"""Sample Pods for the admission-policy tests (variants of tests/samples/pods/compliant.yaml)
and the policies a stack declares, as the CEL harness takes them."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import yaml

from tests.support.paths import SAMPLES
from tools.offline import Run

POLICY = "kubernetes:admissionregistration.k8s.io/v1:ValidatingAdmissionPolicy"
BINDING = "kubernetes:admissionregistration.k8s.io/v1:ValidatingAdmissionPolicyBinding"
SAMPLE: dict[str, Any] = yaml.safe_load((SAMPLES / "pods" / "compliant.yaml").read_text())
APP, INIT = "api-router-service", "migrate"
Mutation = Callable[[dict[str, Any]], None]


def _container(pod: dict[str, Any], name: str) -> dict[str, Any]:
    [found] = [
        c for c in pod["spec"]["containers"] + pod["spec"].get("initContainers", []) if c["name"] == name
    ]
    return found


def image(value: str, name: str = APP) -> Mutation:
    def mutate(pod: dict[str, Any]) -> None:
        _container(pod, name)["image"] = value

    return mutate


def pod_context(**fields: Any) -> Mutation:
    """The Pod's securityContext replaced (None drops a field)."""

    def mutate(pod: dict[str, Any]) -> None:
        context = pod["spec"]["securityContext"]
        for key, value in fields.items():
            if value is None:
                context.pop(key, None)
            else:
                context[key] = value

    return mutate


def container_context(name: str, **fields: Any) -> Mutation:
    def mutate(pod: dict[str, Any]) -> None:
        context = _container(pod, name)["securityContext"]
        for key, value in fields.items():
            if value is None:
                context.pop(key, None)
            else:
                context[key] = value

    return mutate


def sample(*mutations: Mutation) -> dict[str, Any]:
    pod = copy.deepcopy(SAMPLE)
    for mutate in mutations:
        mutate(pod)
    return pod


def namespace(run: Run) -> str:
    """Where the services deploy (the committed stacks keep them all in the platform namespace)."""
    return f"platform-{run.stack}"


def declared(run: Run) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The policies and bindings as the stack declares them."""
    return [r.plain for r in run.recorder.of_type(POLICY)], [r.plain for r in run.recorder.of_type(BINDING)]
