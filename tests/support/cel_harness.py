"""Run ValidatingAdmissionPolicies through the Kubernetes API server's own admission plugin
(the Go harness in tools/cel/, k8s.io/apiserver pinned there) over sample requests.

`evaluate(...)` first compiles every expression as the API server does when the policy is
created on a cluster of the given Kubernetes version, and raises `CompileError` naming each
failing field; then, per request, it returns each policy's decisions (one per validation,
whatever the bindings say), the bindings that select the request, and the whole admission
verdict the plugin's dispatcher reaches from the bindings' validationActions: allowed or the
refusal, the warnings and the audit annotations.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tools.toolcache import cached_tool

BINARY = "cel-harness"
ABSENT = "CEL harness absent: build it with `make cel-harness` (needs Go); the admission policies were NOT evaluated"


class CompileError(AssertionError):
    """A policy the API server would refuse to create: its expressions do not compile."""


@dataclass(frozen=True)
class Decision:
    index: int
    # "admit", "deny" (the expression was false) or "error" (it failed to evaluate).
    evaluation: str
    action: str
    message: str
    reason: str


@dataclass(frozen=True)
class PolicyResult:
    policy: str
    # The policy's matchConstraints select the request.
    matched: bool
    # Its bindings whose selectors select the request.
    bindings: tuple[str, ...]
    # Empty when the policy does not match or its matchConditions exclude the request.
    decisions: tuple[Decision, ...]

    @property
    def judged(self) -> bool:
        return bool(self.decisions)

    @property
    def refusals(self) -> tuple[str, ...]:
        """Messages of the validations that failed (evaluation errors included)."""
        return tuple(d.message for d in self.decisions if d.evaluation != "admit")

    @property
    def admitted(self) -> bool:
        return self.judged and not self.refusals


@dataclass(frozen=True)
class RequestResult:
    request: str
    allowed: bool
    # The API server's answer to a refused request ("" when allowed).
    status_message: str
    status_code: int
    warnings: tuple[str, ...]
    audit_annotations: Mapping[str, str]
    policies: tuple[PolicyResult, ...]

    def of(self, policy: str) -> PolicyResult:
        [found] = [p for p in self.policies if p.policy == policy]
        return found


@dataclass(frozen=True)
class Evaluation:
    # Module versions linked into the harness (k8s.io/apiserver, cel-go, go).
    build: Mapping[str, str]
    compatibility_version: str
    results: tuple[RequestResult, ...]

    def of(self, request: str) -> RequestResult:
        [found] = [r for r in self.results if r.request == request]
        return found


def binary() -> Path | None:
    """The harness built by `make cel-harness`, or None."""
    return cached_tool(BINARY)


def require_binary() -> Path:
    path = binary()
    if path is None:
        pytest.skip(ABSENT)
    return path


def request(
    name: str,
    pod: Mapping[str, Any],
    namespace: str,
    *,
    operation: str = "CREATE",
    old: Mapping[str, Any] | None = None,
    sub_resource: str = "",
) -> dict[str, Any]:
    """One admission request for a Pod (the object gets `namespace` as the API server sets it)."""
    obj = {**pod, "metadata": {**pod.get("metadata", {}), "namespace": namespace}}
    doc: dict[str, Any] = {
        "name": name,
        "operation": operation,
        "namespace": namespace,
        "subResource": sub_resource,
        "object": obj,
    }
    if old is not None:
        doc["oldObject"] = {**old, "metadata": {**old.get("metadata", {}), "namespace": namespace}}
    return doc


def _decision(raw: Mapping[str, Any]) -> Decision:
    return Decision(
        index=raw["index"],
        evaluation=raw["evaluation"],
        action=raw["action"],
        message=raw["message"],
        reason=raw["reason"],
    )


def _policy(raw: Mapping[str, Any]) -> PolicyResult:
    return PolicyResult(
        policy=raw["policy"],
        matched=raw["matched"],
        bindings=tuple(raw["bindings"]),
        decisions=tuple(_decision(d) for d in raw["decisions"]),
    )


def evaluate(
    policies: Sequence[Mapping[str, Any]],
    bindings: Sequence[Mapping[str, Any]],
    requests: Sequence[Mapping[str, Any]],
    kubernetes_version: str,
    namespaces: Mapping[str, Mapping[str, str]] | None = None,
) -> Evaluation:
    """Every request through the admission plugin (skips if the harness is absent; raises
    CompileError if a policy would not be created on a `kubernetes_version` cluster)."""
    path = require_binary()
    document = {
        "kubernetesVersion": kubernetes_version,
        "policies": list(policies),
        "bindings": list(bindings),
        "namespaces": {k: dict(v) for k, v in (namespaces or {}).items()},
        "requests": list(requests),
    }
    done = subprocess.run(
        [str(path)], input=json.dumps(document), capture_output=True, text=True, check=False, timeout=120
    )
    if done.returncode == 2 or not done.stdout:
        raise RuntimeError(f"{path} failed ({done.returncode}): {done.stderr}")
    out = json.loads(done.stdout)
    if out["error"]:
        failures = [
            f"{policy['name']} {error['field']}: {error['message']}"
            for policy in out["policies"]
            for error in policy["errors"]
        ]
        raise CompileError(f"Kubernetes {kubernetes_version} would refuse the policy: " + "\n".join(failures))
    results = tuple(
        RequestResult(
            request=r["request"],
            allowed=r["allowed"],
            status_message=(r["status"] or {}).get("message", ""),
            status_code=(r["status"] or {}).get("code", 0),
            warnings=tuple(r["warnings"]),
            audit_annotations=dict(r["auditAnnotations"]),
            policies=tuple(_policy(p) for p in r["policies"]),
        )
        for r in out["results"]
    )
    return Evaluation(build=out["build"], compatibility_version=out["compatibilityVersion"], results=results)
