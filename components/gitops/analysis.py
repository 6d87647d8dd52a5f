"""Rollout analysis: the ClusterAnalysisTemplates and the documented example Rollouts (pure).

Conventions (docs/monitoring.md, "Analysis and rollback"): staging Rollouts use the canary strategy with
a background analysis, production Rollouts blue-green with `prePromotionAnalysis`; both
reference the cluster-wide templates below with `clusterScope: true`. A failed analysis
aborts the update and Argo Rollouts returns all traffic to the stable version.

Each service exposes, on a port its ServiceMonitor scrapes, `http_requests_total` with a
`code` label and the histogram `http_request_duration_seconds`; the queries select them by
the `namespace` and `service` target labels Prometheus adds to every scraped series.
"""

from __future__ import annotations

from typing import Any, Literal

from components.gitops.config import AnalysisConfig

SUCCESS_RATE = "success-rate"
LATENCY_P95 = "latency-p95"
TEMPLATES = (SUCCESS_RATE, LATENCY_P95)

Strategy = Literal["canary", "blueGreen"]
# The strategy each environment's Rollouts use by convention.
STRATEGIES: dict[str, Strategy] = {"staging": "canary", "production": "blueGreen"}

_ARGS = [{"name": "service-name"}, {"name": "namespace"}]
_SELECTOR = 'namespace="{{args.namespace}}", service="{{args.service-name}}"'


def _metric(
    name: str, config: AnalysisConfig, *, address: str, query: str, success: str, failure: str
) -> dict[str, Any]:
    return {
        "name": name,
        "interval": config.interval,
        "count": config.count,
        "failureLimit": config.failure_limit,
        # Both conditions are given, so a measurement satisfying neither (NaN: no traffic at
        # all) is Inconclusive and pauses the rollout for a human instead of passing it.
        "successCondition": success,
        "failureCondition": failure,
        "provider": {"prometheus": {"address": address, "query": query}},
    }


def analysis_templates(config: AnalysisConfig, prometheus_address: str) -> dict[str, dict[str, Any]]:
    """The ClusterAnalysisTemplates by name: success rate and P95 latency over Prometheus."""
    window = config.rate_window
    rate = config.min_success_rate
    if rate is None:
        raise ValueError(
            "analysis thresholds without a success rate: pass AnalysisConfig.for_environment(...)"
        )
    latency = config.max_p95_latency_ms
    success_query = (
        f'sum(rate(http_requests_total{{{_SELECTOR}, code!~"5.."}}[{window}])) / '
        f"sum(rate(http_requests_total{{{_SELECTOR}}}[{window}]))"
    )
    latency_query = (
        "1000 * histogram_quantile(0.95, sum by (le) "
        f"(rate(http_request_duration_seconds_bucket{{{_SELECTOR}}}[{window}])))"
    )
    metrics = {
        SUCCESS_RATE: _metric(
            SUCCESS_RATE,
            config,
            address=prometheus_address,
            query=success_query,
            success=f"result[0] >= {rate}",
            failure=f"result[0] < {rate}",
        ),
        LATENCY_P95: _metric(
            LATENCY_P95,
            config,
            address=prometheus_address,
            query=latency_query,
            success=f"result[0] < {latency}",
            failure=f"result[0] >= {latency}",
        ),
    }
    return {
        name: {
            "apiVersion": "argoproj.io/v1alpha1",
            "kind": "ClusterAnalysisTemplate",
            "metadata": {"name": name, "labels": {"app.kubernetes.io/part-of": "delivery"}},
            "spec": {"args": _ARGS, "metrics": [metric]},
        }
        for name, metric in metrics.items()
    }


def _analysis(service: str) -> dict[str, Any]:
    """Both templates, measured on the pods behind `service` in the Rollout's own namespace."""
    return {
        "templates": [{"templateName": name, "clusterScope": True} for name in TEMPLATES],
        "args": [
            {"name": "service-name", "value": service},
            {"name": "namespace", "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}}},
        ],
    }


def example_rollout(strategy: Strategy, service: str = "example-service") -> dict[str, Any]:
    """The documented Rollout of one strategy for a service (docs/monitoring.md and golden files)."""
    if strategy == "canary":
        # No traffic router: the controller shifts weight by scaling the canary ReplicaSet;
        # the canary Service selects only its pods, so the analysis measures the new version.
        spec: dict[str, Any] = {
            "canary": {
                "stableService": service,
                "canaryService": f"{service}-canary",
                "analysis": {"startingStep": 1, **_analysis(f"{service}-canary")},
                "steps": [
                    {"setWeight": 20},
                    {"pause": {"duration": "5m"}},
                    {"setWeight": 50},
                    {"pause": {"duration": "5m"}},
                ],
            }
        }
    else:
        # The preview Service reaches the new version only; it is promoted (by a person:
        # autoPromotionEnabled false) only after the analysis has passed. After the switch the
        # post-promotion analysis measures the active Service; its failure aborts the Rollout
        # and switches back to the previous version, kept running until it has passed.
        spec = {
            "blueGreen": {
                "activeService": service,
                "previewService": f"{service}-preview",
                "autoPromotionEnabled": False,
                "scaleDownDelaySeconds": 30,
                "prePromotionAnalysis": _analysis(f"{service}-preview"),
                "postPromotionAnalysis": _analysis(service),
            }
        }
    labels = {"app.kubernetes.io/name": service}
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Rollout",
        "metadata": {"name": service},
        "spec": {
            "replicas": 3,
            "revisionHistoryLimit": 5,
            "selector": {"matchLabels": dict(labels)},
            "template": {
                "metadata": {"labels": dict(labels)},
                "spec": {
                    "containers": [
                        {
                            "name": service,
                            "image": f"ghcr.io/ai-aas/{service}:1.0.0",
                            "ports": [{"name": "http", "containerPort": 8080}],
                        }
                    ]
                },
            },
            "strategy": spec,
        },
    }
