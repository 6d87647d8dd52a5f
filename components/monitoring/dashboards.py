"""Grafana dashboards as code: deployments (Argo CD), rollouts (Argo Rollouts) and the
services' SLOs, each a ConfigMap Grafana's dashboard sidecar loads (pure: no Pulumi).

kube-prometheus-stack's Grafana runs a sidecar that loads every ConfigMap labelled
``grafana_dashboard: "1"`` in the namespaces it searches (``grafana.sidecar.dashboards`` in
the chart's values, stack_values.py); dashboards are not editable in the UI, so the code here
is the only source. The queries use the metric names the alert rules use (rules.py, slo.py):
Argo CD's ``argocd_app_info`` and ``argocd_app_sync_total``, Argo Rollouts' ``rollout_info``,
``rollout_phase`` and ``analysis_run_phase``, and the SLO recording rules.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from components.monitoring.config import SloConfig
from components.monitoring.slo import ERRORS_RECORD, SLOW_RECORD

# The sidecar's label (the chart's default, set explicitly in the values).
DASHBOARD_LABEL = "grafana_dashboard"
DASHBOARD_LABEL_VALUE = "1"
DATASOURCE = {"type": "prometheus", "uid": "prometheus"}


def _panel(
    panel_id: int,
    title: str,
    targets: Sequence[tuple[str, str]],
    *,
    kind: str = "timeseries",
    unit: str = "short",
) -> dict[str, Any]:
    return {
        "id": panel_id,
        "type": kind,
        "title": title,
        "datasource": DATASOURCE,
        "gridPos": {"h": 8, "w": 12, "x": 12 * ((panel_id - 1) % 2), "y": 8 * ((panel_id - 1) // 2)},
        "fieldConfig": {"defaults": {"unit": unit}, "overrides": []},
        "targets": [
            {"refId": chr(ord("A") + i), "expr": expr, "legendFormat": legend, "datasource": DATASOURCE}
            for i, (expr, legend) in enumerate(targets)
        ],
    }


def _dashboard(
    uid: str, title: str, panels: list[dict[str, Any]], variables: list[dict[str, Any]]
) -> dict[str, Any]:
    return {
        "uid": uid,
        "title": title,
        "tags": ["delivery"],
        "timezone": "utc",
        "editable": False,
        "schemaVersion": 39,
        "time": {"from": "now-24h", "to": "now"},
        "refresh": "1m",
        "templating": {"list": variables},
        "panels": panels,
    }


def _query_variable(name: str, query: str) -> dict[str, Any]:
    return {
        "name": name,
        "type": "query",
        "datasource": DATASOURCE,
        "query": {"query": query, "refId": name},
        "definition": query,
        "includeAll": True,
        "multi": True,
        "refresh": 2,
    }


def deployments_dashboard(namespaces: Sequence[str]) -> dict[str, Any]:
    """Argo CD's Applications: sync and health state, syncs and their outcomes."""
    del namespaces  # Applications live in Argo CD's namespace; every one is shown.
    app = 'name=~"$application"'
    panels = [
        _panel(
            1,
            "Applications out of sync",
            [(f'count by (name) (argocd_app_info{{{app}, sync_status!="Synced"}})', "{{name}}")],
            kind="stat",
        ),
        _panel(
            2,
            "Applications not healthy",
            [
                (
                    f'count by (name, health_status) (argocd_app_info{{{app}, health_status!="Healthy"}})',
                    "{{name}} {{health_status}}",
                )
            ],
            kind="stat",
        ),
        _panel(
            3,
            "Syncs per hour by outcome",
            [(f"sum by (name, phase) (increase(argocd_app_sync_total{{{app}}}[1h]))", "{{name}} {{phase}}")],
        ),
        _panel(
            4,
            "Failed or errored syncs (24h)",
            [
                (
                    f'sum by (name) (increase(argocd_app_sync_total{{{app}, phase=~"Failed|Error"}}[24h]))',
                    "{{name}}",
                )
            ],
            kind="stat",
        ),
    ]
    return _dashboard(
        "delivery-deployments",
        "Delivery: deployments",
        panels,
        [_query_variable("application", "label_values(argocd_app_info, name)")],
    )


def rollouts_dashboard(namespaces: Sequence[str]) -> dict[str, Any]:
    """Argo Rollouts: each Rollout's phase and replicas, and the analysis runs' outcomes."""
    pattern = "|".join(sorted(set(namespaces)))
    sel = f'exported_namespace=~"{pattern}", name=~"$rollout"'
    panels = [
        _panel(
            1,
            "Rollout phase",
            [(f"max by (name, phase, strategy) (rollout_info{{{sel}}})", "{{name}} {{phase}}")],
        ),
        _panel(
            2,
            "Available vs desired replicas",
            [
                (f"sum by (name) (rollout_info_replicas_available{{{sel}}})", "{{name}} available"),
                (f"sum by (name) (rollout_info_replicas_desired{{{sel}}})", "{{name}} desired"),
            ],
        ),
        _panel(
            3,
            "Analysis runs by phase",
            [
                (
                    f'count by (phase) (analysis_run_phase{{exported_namespace=~"{pattern}"}} == 1)',
                    "{{phase}}",
                )
            ],
        ),
        _panel(
            4,
            "Failed or errored analysis runs",
            [
                (
                    f'count by (name) (analysis_run_phase{{exported_namespace=~"{pattern}", phase=~"Failed|Error"}} == 1)',
                    "{{name}}",
                )
            ],
            kind="stat",
        ),
    ]
    return _dashboard(
        "delivery-rollouts",
        "Delivery: rollouts",
        panels,
        [_query_variable("rollout", f'label_values(rollout_info{{exported_namespace=~"{pattern}"}}, name)')],
    )


def slo_dashboard(slo: SloConfig, services: Mapping[str, str]) -> dict[str, Any]:
    """Each service's SLIs against the objectives, and the burn rates the alerts watch."""
    namespaces = "|".join(sorted(set(services.values())))
    sel = f'namespace=~"{namespaces}", service=~"$service"'
    quantile = slo.latency_percentile / 100
    panels = [
        _panel(
            1,
            f"Error ratio (objective: under {slo.error_budget:g})",
            [(f"{ERRORS_RECORD.format(window='5m')}{{{sel}}}", "{{service}}")],
            unit="percentunit",
        ),
        _panel(
            2,
            f"P{slo.latency_percentile:g} latency (objective: under {slo.latency_threshold_seconds:g} s)",
            [
                (
                    f"histogram_quantile({quantile:g}, sum by (le, namespace, service) "
                    f"(rate(http_request_duration_seconds_bucket{{{sel}}}[5m])))",
                    "{{service}}",
                )
            ],
            unit="s",
        ),
        _panel(
            3,
            "Availability budget burn rate (1h, 6h, 3d)",
            [
                (f"{ERRORS_RECORD.format(window=w)}{{{sel}}} / {slo.error_budget:g}", f"{{{{service}}}} {w}")
                for w in ("1h", "6h", "3d")
            ],
        ),
        _panel(
            4,
            "Latency budget burn rate (1h, 6h, 3d)",
            [
                (f"{SLOW_RECORD.format(window=w)}{{{sel}}} / {slo.latency_budget:g}", f"{{{{service}}}} {w}")
                for w in ("1h", "6h", "3d")
            ],
        ),
    ]
    return _dashboard(
        "delivery-slos",
        "Delivery: service level objectives",
        panels,
        [
            _query_variable(
                "service", f'label_values(http_requests_total{{namespace=~"{namespaces}"}}, service)'
            )
        ],
    )


def dashboards(slo: SloConfig, services: Mapping[str, str]) -> dict[str, dict[str, Any]]:
    """File name -> dashboard JSON of every dashboard (the SLO one only with services)."""
    namespaces = sorted(set(services.values()))
    found = {
        "deployments.json": deployments_dashboard(namespaces),
        "rollouts.json": rollouts_dashboard(namespaces),
    }
    if services:
        found["slos.json"] = slo_dashboard(slo, services)
    return found


def dashboard_config_maps(
    namespace: str, slo: SloConfig, services: Mapping[str, str]
) -> dict[str, dict[str, Any]]:
    """One ConfigMap per dashboard, labelled for Grafana's sidecar, keyed by dashboard name."""
    maps = {}
    for filename, dashboard in dashboards(slo, services).items():
        name = filename.removesuffix(".json")
        maps[name] = {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {
                "name": f"dashboard-{name}",
                "namespace": namespace,
                "labels": {DASHBOARD_LABEL: DASHBOARD_LABEL_VALUE, "app.kubernetes.io/part-of": "delivery"},
            },
            "data": {filename: json.dumps(dashboard, indent=2, sort_keys=True)},
        }
    return maps
