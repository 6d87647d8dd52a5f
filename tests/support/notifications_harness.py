"""Run Argo CD's notifications engine (the Go harness in tools/notifications/) over what a
stack declares: the argo-cd release's notification values, as the chart writes them into
argocd-notifications-cm, the notifications Secret, and sample Applications.

`evaluate(...)` returns typed results: for each Application and trigger, whether each
condition fired, its `oncePer` value, any evaluation error, and for a fired condition the
notification each subscribed service would receive (for a webhook: method, path and body).
Nothing is sent: the harness replaces every service by a recorder.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from components.kubernetes.helm import chart_name
from tests.support.paths import SAMPLES
from tools.offline import Run
from tools.toolcache import cached_tool

SAMPLES = SAMPLES / "applications"
RELEASE = "kubernetes:helm.sh/v3:Release"
SECRET = "kubernetes:core/v1:Secret"
BINARY = "notifications-harness"
ABSENT = "notifications harness absent: build it with `make notifications-harness` (needs Go)"


@dataclass(frozen=True)
class Rendered:
    """What one subscribed service would receive for a fired condition."""

    service: str
    service_type: str
    recipient: str
    templates: tuple[str, ...]
    error: str
    # The request the webhook service would send (None for other services or on error).
    method: str | None
    path: str | None
    body: str | None


@dataclass(frozen=True)
class Condition:
    index: int
    description: str
    when: str
    once_per_expression: str
    triggered: bool
    once_per: str
    error: str
    once_per_error: str
    notifications: tuple[Rendered, ...]


@dataclass(frozen=True)
class TriggerResult:
    app: str
    trigger: str
    # Why Argo CD's controller would not process this Application now ("" when it would).
    skipped: str
    destinations: tuple[str, ...]
    error: str
    conditions: tuple[Condition, ...]

    @property
    def fired(self) -> bool:
        return any(condition.triggered for condition in self.conditions)


@dataclass(frozen=True)
class Evaluation:
    # Module versions linked into the harness (notifications-engine, expr, sprig, go).
    build: Mapping[str, str]
    results: tuple[TriggerResult, ...]

    def of(self, app: str, trigger: str) -> TriggerResult:
        [found] = [r for r in self.results if r.app == app and r.trigger == trigger]
        return found


def binary() -> Path | None:
    """The harness built by `make notifications-harness`, or None."""
    return cached_tool(BINARY)


def require_binary() -> Path:
    path = binary()
    if path is None:
        pytest.skip(ABSENT)
    return path


def notifications_configmap(values: Mapping[str, Any]) -> dict[str, str]:
    """argocd-notifications-cm's data as the argo-cd chart writes it from its `notifications`
    values (templates/argocd-notifications/configmap.yaml: `context` with argocdUrl, then the
    notifiers, `subscriptions` as YAML, templates and triggers, each map key verbatim)."""
    context: dict[str, Any] = {"argocdUrl": values.get("argocdUrl") or "", **values.get("context", {})}
    data: dict[str, str] = {"context": yaml.safe_dump(context, sort_keys=False)}
    data.update(values.get("notifiers", {}))
    if values.get("subscriptions"):
        data["subscriptions"] = yaml.safe_dump(values["subscriptions"], sort_keys=False)
    data.update(values.get("templates", {}))
    data.update(values.get("triggers", {}))
    return data


def stack_inputs(run: Run) -> tuple[dict[str, str], dict[str, str]]:
    """The notifications ConfigMap data and Secret data one stack run declares."""
    [release] = [r for r in run.recorder.of_type(RELEASE) if chart_name(r.inputs["chart"]) == "argo-cd"]
    values = release.plain["values"]["notifications"]
    if not values.get("enabled"):
        return {}, {}
    name = values["secret"]["name"]
    [secret] = [r for r in run.recorder.of_type(SECRET) if r.plain["metadata"]["name"] == name]
    return notifications_configmap(values), dict(secret.plain.get("stringData", {}))


def load_samples() -> dict[str, dict[str, Any]]:
    """The sample Applications, keyed by file name (without `.yaml`)."""
    return {path.stem: yaml.safe_load(path.read_text()) for path in sorted(SAMPLES.glob("*.yaml"))}


def _rendered(raw: Mapping[str, Any]) -> Rendered:
    request = raw.get("request") or {}
    return Rendered(
        service=raw["service"],
        service_type=raw["service_type"],
        recipient=raw["recipient"],
        templates=tuple(raw.get("templates") or ()),
        error=raw["error"],
        method=request.get("method"),
        path=request.get("path"),
        body=request.get("body"),
    )


def _condition(raw: Mapping[str, Any]) -> Condition:
    return Condition(
        index=raw["index"],
        description=raw["description"],
        when=raw["when"],
        once_per_expression=raw["once_per_expression"],
        triggered=raw["triggered"],
        once_per=raw["once_per"],
        error=raw["error"],
        once_per_error=raw["once_per_error"],
        notifications=tuple(_rendered(n) for n in raw["notifications"]),
    )


def evaluate(
    configmap: Mapping[str, str], secret: Mapping[str, str], applications: Sequence[Mapping[str, Any]]
) -> Evaluation:
    """Every trigger of `configmap` on every Application, by the real engine (skips if absent)."""
    path = require_binary()
    document = {"configmap": dict(configmap), "secret": dict(secret), "applications": list(applications)}
    done = subprocess.run(
        [str(path)], input=json.dumps(document), capture_output=True, text=True, check=False
    )
    if done.returncode == 2 or not done.stdout:
        raise RuntimeError(f"{path} failed ({done.returncode}): {done.stderr}")
    out = json.loads(done.stdout)
    if out["error"]:
        raise RuntimeError(f"the notifications engine refused the configuration: {out['error']}")
    results = tuple(
        TriggerResult(
            app=r["app"],
            trigger=r["trigger"],
            skipped=r["skipped"],
            destinations=tuple(
                d["service"] + (f":{d['recipient']}" if d["recipient"] else "") for d in r["destinations"]
            ),
            error=r["error"],
            conditions=tuple(_condition(c) for c in r["conditions"]),
        )
        for r in out["results"]
    )
    return Evaluation(build=out["build"], results=results)
