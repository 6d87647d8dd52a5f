"""The Helm releases a stack declares and the pinned charts' own values, for the tests that hold
our values to the chart's keys (Argo CD, Argo Rollouts, kube-prometheus-stack)."""

from __future__ import annotations

import re
from typing import Any

import yaml

from components.kubernetes.helm import chart_name
from tests.support.paths import ROOT
from tests.support.types import RELEASE
from tools.offline import RecordedResource, Run

CHARTS = ROOT / "components" / "schemas" / "charts"


# Free-form maps of the argo-cd chart: their keys land verbatim in Argo CD's ConfigMaps, so
# they are checked against what Argo CD documents instead of against the chart's values.yaml.
# Sources: docs/operator-manual/argocd-cm.yaml, argocd-rbac-cm.yaml, argocd-cmd-params-cm.yaml
# and notifications/ (argocd-notifications-cm.yaml, services/webhook.md, triggers.md) of
# github.com/argoproj/argo-cd. The chart's own keys in these maps (`create`, `annotations`)
# are checked against values.yaml like any other key.
DOCUMENTED: dict[str, re.Pattern[str]] = {
    "configs.cm": re.compile(
        r"^(url|admin\.enabled|accounts\.[a-z0-9]([-a-z0-9]*[a-z0-9])?|exec\.enabled|exec\.shells|users\.anonymous\.enabled|users\.session\.duration"
        r"|statusbadge\.enabled|timeout\.reconciliation|timeout\.reconciliation\.jitter"
        r"|timeout\.hard\.reconciliation|application\.instanceLabelKey|application\.resourceTrackingMethod"
        r"|application\.sync\.impersonation\.enabled|resource\.exclusions|resource\.inclusions"
        r"|resource\.customizations\.[A-Za-z]+\.[A-Za-z0-9._-]+)$"
    ),
    "configs.rbac": re.compile(r"^(policy\.csv|policy\.default|policy\.matchMode|scopes)$"),
    "configs.params": re.compile(
        r"^(server|reposerver|controller|applicationsetcontroller|otlp|redis)\.[a-z.]+$"
    ),
    "notifications.notifiers": re.compile(r"^service\.[a-z]+(\.[A-Za-z0-9_-]+)?$"),
    "notifications.templates": re.compile(r"^template\.[A-Za-z0-9_-]+$"),
    "notifications.triggers": re.compile(r"^trigger\.[A-Za-z0-9_-]+$"),
}


CHART_KEYS_IN_FREE_FORM = {"create", "annotations"}
LABEL_KEY = re.compile(r"^([a-z0-9]([-a-z0-9.]*[a-z0-9])?/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$")


def argocd_release(run: Run) -> RecordedResource:
    [release] = [r for r in run.recorder.of_type(RELEASE) if chart_name(r.inputs["chart"]) == "argo-cd"]
    return release


def chart_values(chart: str, version: str) -> dict[str, Any]:
    path = CHARTS / chart / version / "values.yaml"
    assert path.exists(), f"pinned {chart} {version}: copy its values.yaml to {path.relative_to(ROOT)}"
    return yaml.safe_load(path.read_text())


def unknown_key_paths(ours: Any, chart: Any, path: str = "") -> list[str]:
    """Key paths of `ours` the chart does not have (free-form maps checked against Argo CD's docs)."""
    problems: list[str] = []
    for key, value in ours.items():
        here = f"{path}.{key}" if path else key
        if path in DOCUMENTED and key not in CHART_KEYS_IN_FREE_FORM:
            if not DOCUMENTED[path].match(key):
                problems.append(f"{here} (not a key Argo CD documents)")
            continue
        if path.endswith(".additionalLabels"):
            # Labels the chart copies onto an object (e.g. a ServiceMonitor): any label key.
            if not LABEL_KEY.fullmatch(key) or not isinstance(value, str):
                problems.append(f"{here} (not a Kubernetes label)")
            continue
        if not isinstance(chart, dict) or key not in chart:
            problems.append(here)
            continue
        default = chart[key]
        if isinstance(value, dict):
            if not isinstance(default, dict):
                problems.append(f"{here} (a map where the chart has {type(default).__name__})")
            else:
                problems.extend(unknown_key_paths(value, default, here))
        elif isinstance(default, dict | list | bool) and type(value) is not type(default):
            problems.append(f"{here} ({type(value).__name__} where the chart has {type(default).__name__})")
    return problems


def monitoring_release(run: Run) -> RecordedResource:
    [release] = [
        r for r in run.recorder.of_type(RELEASE) if chart_name(r.inputs["chart"]) == "kube-prometheus-stack"
    ]
    return release
