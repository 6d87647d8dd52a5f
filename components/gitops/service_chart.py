"""The service chart contract (docs/service-chart.md), as pure functions.

Every service's chart, `<chartsPath>/<service>` in the GitOps repository, is a thin chart
over the library chart `delivery-service` kept in this program's directory
(`charts/delivery-service`): its only template includes `delivery-service.all`, and its values
say what is the service's own (port, probes, resources, autoscaling, ingress host). What is
the environment's, the platform decides here and hands to the chart through the
Application's `valuesObject` under `platform:` (Argo CD ranks it above every values file):

- the strategy, a Rollout's in every environment where Argo Rollouts runs: seed 003's direct
  deployment in development (a canary without steps or analysis), seed 004's canary steps in
  staging, blue-green in production; a Deployment's rolling update only where a stack turns
  the Rollouts controller off (`argocd.rollouts.enabled: false`);
- the ClusterAnalysisTemplates the Rollout's analyses reference, their thresholds being the
  environment's config (`argocd.rollouts.analysis`);
- blue-green's scale-down delay; the IngressClass and ClusterIssuer; the labels Prometheus
  selects ServiceMonitors by.
"""

from __future__ import annotations

import posixpath
from collections.abc import Mapping, Sequence
from typing import Any, Literal

import yaml

LIBRARY = "delivery-service"
LIBRARY_VERSION = "1.0.0"
# Where the library chart lives, relative to this program's directory.
LIBRARY_DIR = f"charts/{LIBRARY}"

Strategy = Literal["direct", "canary", "blueGreen", "rollingUpdate"]

# Seed 004's canary: 10 %, 20 %, 50 %, then all, with pauses in which the background analysis
# keeps measuring the canary.
CANARY_STEPS: tuple[dict[str, Any], ...] = (
    {"setWeight": 10},
    {"pause": {"duration": "1m"}},
    {"setWeight": 20},
    {"pause": {"duration": "1m"}},
    {"setWeight": 50},
    {"pause": {"duration": "2m"}},
    {"setWeight": 100},
)


def strategy_for(environment: str, rollouts_enabled: bool) -> Strategy:
    """Seed 003's strategy per environment (development: direct; seed 004 for the others:
    canary in staging, blue-green in production), as a Rollout wherever Argo Rollouts runs."""
    if not rollouts_enabled:
        return "rollingUpdate"
    if environment == "development":
        return "direct"
    return "blueGreen" if environment == "production" else "canary"


def platform_values(
    *,
    environment: str,
    strategy: Strategy,
    analysis_templates: Sequence[str],
    scale_down_delay_seconds: int,
    ingress_class: str | None,
    cluster_issuer: str | None,
    monitor_labels: Mapping[str, str],
) -> dict[str, Any]:
    """The `platform:` values every service chart of the environment gets from its Application."""
    return {
        "environment": environment,
        "strategy": strategy,
        # Development's direct deployment is validated by unit tests only, rolled back by hand
        # (seed 003): no analysis.
        "analysis": {"templates": list(analysis_templates) if strategy in ("canary", "blueGreen") else []},
        "canary": {"steps": [dict(step) for step in CANARY_STEPS] if strategy == "canary" else []},
        "blueGreen": {"scaleDownDelaySeconds": scale_down_delay_seconds},
        "ingress": {"className": ingress_class or "", "clusterIssuer": cluster_issuer or ""},
        "serviceMonitor": {"labels": dict(monitor_labels)},
    }


def library_reference(charts_path: str, chart: str, program_path: str) -> str:
    """`file://` path from `<charts_path>/<chart>` to the library chart inside this program's
    directory `<program_path>` of the same repository (Helm resolves it relative to the chart)."""
    target = posixpath.join(program_path, LIBRARY_DIR)
    return "file://" + posixpath.relpath(target, posixpath.join(charts_path, chart))


_DUMP: dict[str, Any] = {"sort_keys": False, "default_flow_style": False}


def service_chart_files(
    service: str, *, library: str, values: Mapping[str, Any] | None = None
) -> dict[str, str]:
    """The files of a service's chart over the library (`library` is the dependency's
    `repository`, a `file://` path). `values` are the service's own (docs/service-chart.md)."""
    chart = {
        "apiVersion": "v2",
        "name": service,
        "description": f"{service}: a platform service on the delivery-service library chart.",
        "type": "application",
        "version": "0.1.0",
        "dependencies": [{"name": LIBRARY, "version": LIBRARY_VERSION, "repository": library}],
    }
    own: dict[str, Any] = dict(values or {})
    return {
        "Chart.yaml": yaml.safe_dump(chart, **_DUMP),
        "templates/service.yaml": '{{ include "delivery-service.all" . }}\n',
        "values.yaml": (
            "# The service's own values; the image comes from the image file, `platform:` from\n"
            "# the Argo CD Application (docs/service-chart.md).\n"
            + (yaml.safe_dump(own, **_DUMP) if own else "{}\n")
        ),
    }
