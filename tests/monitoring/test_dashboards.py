"""Grafana's dashboards as code: declared per stack as ConfigMaps the sidecar loads, valid
PromQL (promtool), and reading the series the SLO rules record."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from components.monitoring.dashboards import DASHBOARD_LABEL, DASHBOARD_LABEL_VALUE, dashboards
from components.monitoring.slo import slo_rule_groups
from tests.support.charts import monitoring_release
from tests.support.promtool import PROMTOOL
from tests.support.stacks import stack_config
from tools.offline import Run


def _services(stack: str) -> dict[str, str]:
    config = stack_config(stack)
    return {name: config.service_namespace(name) for name in config.services}


def _exprs(dashboard: dict[str, Any]) -> list[str]:
    return [t["expr"] for p in dashboard["panels"] for t in p["targets"]]


def test_every_stack_declares_the_three_dashboards_for_the_sidecar(stack_run: Run) -> None:
    config = stack_config(stack_run.stack)
    maps = [
        r
        for r in stack_run.resources
        if r.type == "kubernetes:core/v1:ConfigMap"
        and DASHBOARD_LABEL in (r.plain["metadata"].get("labels") or {})
    ]
    sidecar = dict(monitoring_release(stack_run).plain["values"])["grafana"]["sidecar"]["dashboards"]
    assert sidecar["label"] == DASHBOARD_LABEL and sidecar["labelValue"] == DASHBOARD_LABEL_VALUE
    assert sidecar["searchNamespace"] == config.monitoring.namespace
    titles = set()
    for resource in maps:
        metadata = resource.plain["metadata"]
        assert metadata["namespace"] == config.monitoring.namespace
        assert metadata["labels"][DASHBOARD_LABEL] == DASHBOARD_LABEL_VALUE
        [(filename, text)] = resource.plain["data"].items()
        dashboard = json.loads(text)
        assert filename.endswith(".json") and dashboard["editable"] is False
        titles.add(dashboard["title"])
    assert titles == {"Delivery: deployments", "Delivery: rollouts", "Delivery: service level objectives"}


def test_the_slo_dashboard_reads_the_recorded_series() -> None:
    stack = "production"
    config = stack_config(stack)
    services = _services(stack)
    recorded = {
        r["record"]
        for g in slo_rule_groups(config.environment, config.monitoring.slo, services)
        for r in g["rules"]
        if "record" in r
    }
    exprs = _exprs(dashboards(config.monitoring.slo, services)["slos.json"])
    used = {name for e in exprs for name in re.findall(r"slo:[a-z_]+:ratio_rate\w+", e)}
    assert used and used <= recorded


@pytest.mark.parametrize("stack", ["development", "production"])
@pytest.mark.go
def test_every_panel_query_is_valid_promql(stack: str, tmp_path: Path) -> None:
    if not PROMTOOL.is_file():
        pytest.skip(f"promtool absent at {PROMTOOL}: build it with `make promtool`")
    config = stack_config(stack)
    rules = []
    for filename, dashboard in dashboards(config.monitoring.slo, _services(stack)).items():
        for i, expr in enumerate(_exprs(dashboard)):
            # Grafana's template variables become a regex matching everything.
            rules.append(
                {
                    "record": f"dashboard:check_{filename.removesuffix('.json')}_{i}",
                    "expr": re.sub(r"\$\w+", ".*", expr),
                }
            )
    (tmp_path / "rules.yaml").write_text(yaml.safe_dump({"groups": [{"name": "dashboards", "rules": rules}]}))
    done = subprocess.run(
        [str(PROMTOOL), "check", "rules", "rules.yaml"],
        check=False,
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stdout + done.stderr
