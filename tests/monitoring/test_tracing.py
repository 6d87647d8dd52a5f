"""Seed 002's tracing: an OpenTelemetry collector per cluster, traces only, exporting where the
config names; bad tracing config fails before anything is declared."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from components.config.base import ConfigError
from components.kubernetes.helm import chart_name
from components.monitoring.tracing import (
    CHART,
    EXPORTER_NAME,
    RELEASE_NAME,
    REPOSITORY,
    collector_values,
    exporter,
)
from tests.support.charts import chart_values, unknown_key_paths
from tests.support.stacks import TEST_SECRETS, stack_config, stack_values
from tools.offline import Recorder, Run, run_program


def collector_release(run: Run) -> Any:
    [release] = [
        r
        for r in run.resources
        if r.type == "kubernetes:helm.sh/v3:Release" and chart_name(str(r.inputs.get("chart", ""))) == CHART
    ]
    return release


def test_every_stack_runs_a_pinned_traces_only_collector(stack_run: Run) -> None:
    config = stack_config(stack_run.stack).monitoring.tracing
    assert config.enabled
    target = exporter(config)
    release = collector_release(stack_run)
    assert release.inputs["version"] == config.chart_version
    # From the OCI registry, by digest where the stack pins its charts (test_chart_images.py).
    assert release.inputs["chart"].startswith(f"{REPOSITORY}/{CHART}")
    assert "repositoryOpts" not in release.inputs
    assert ("@sha256:" in release.inputs["chart"]) == (stack_run.stack != "development")
    assert release.inputs["namespace"] == config.namespace and release.inputs["name"] == RELEASE_NAME
    values = release.plain["values"]
    # The whole configuration, unmerged with the chart's defaults (`alternateConfig`).
    assert "config" not in values
    collector = values["alternateConfig"]
    pipelines = collector["service"]["pipelines"]
    # Traces only, from OTLP, to the configured exporter alone.
    assert set(pipelines) == {"traces"} and set(collector["receivers"]) == {"otlp"}
    key = f"{target.protocol}/{EXPORTER_NAME}"
    # The chart's probes need the health_check extension.
    assert "health_check" in collector["extensions"] and collector["service"]["extensions"] == [
        "health_check"
    ]
    assert set(collector["processors"]) == set(pipelines["traces"]["processors"])
    assert pipelines["traces"] == {
        "receivers": ["otlp"],
        "processors": ["memory_limiter", "batch"],
        "exporters": [key],
    }
    exporters = collector["exporters"]
    assert set(exporters) == {key}
    assert exporters[key] == {
        "endpoint": target.endpoint,
        "tls": {"insecure": target.insecure},
    }
    assert values["replicaCount"] == config.replicas


def test_collector_values_use_only_chart_keys(stack_run: Run) -> None:
    config = stack_config(stack_run.stack).monitoring.tracing
    values = copy.deepcopy(collector_values(config))
    # `alternateConfig` is the collector's own configuration (free-form; `{}` in the chart).
    assert isinstance(values.pop("alternateConfig"), dict)
    chart = chart_values(CHART, config.chart_version)
    assert chart["alternateConfig"] == {}
    # `resources` is a Kubernetes ResourceRequirements (`{}` in the chart).
    assert chart["resources"] == {} and set(values.pop("resources")) == {"requests", "limits"}
    assert unknown_key_paths(values, chart) == []


@pytest.mark.parametrize(
    ("tracing", "message"),
    [
        ({"enabled": True, "backend": "external"}, "delivery:monitoring.tracing.exporter"),
        (
            {"enabled": True, "backend": "external", "exporter": {"endpoint": "https://jaeger.example:4317"}},
            "`otlp` (gRPC) takes `host:port`",
        ),
        (
            {
                "enabled": True,
                "backend": "external",
                "exporter": {"endpoint": "jaeger.example:4317", "insecure": True},
            },
            "TLS may be off only towards",
        ),
    ],
)
def test_bad_tracing_config_declares_nothing(tracing: dict[str, Any], message: str) -> None:
    values = stack_values("staging")
    monitoring = dict(values.get("delivery:monitoring") or {})
    monitoring["tracing"] = tracing
    values["delivery:monitoring"] = monitoring
    recorder = Recorder()
    with pytest.raises(ConfigError) as caught:
        run_program("staging", TEST_SECRETS, values, recorder=recorder)
    assert any(message in p.render() for p in caught.value.problems), [
        p.render() for p in caught.value.problems
    ]
    assert recorder.resources == []
