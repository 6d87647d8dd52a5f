"""The services' SLO burn-rate alerts, run by the real Prometheus rule engine.

For each committed stack (its `monitoring.slo` and its services), each SLO (availability and
latency) is fed a constant bad ratio just below and just above the burn factors its alerts
use (1x and 6x the error budget): `promtool test rules` shows every alert silent on the
good side and firing on the bad side, with the severity Alertmanager routes on (fast burn:
critical in production, paging; slow burn: warning, Slack). promtool is built by
`make promtool`; without it these tests skip and say so.
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from components.monitoring.config import SloConfig
from components.monitoring.slo import slo_alerts, slo_rule_groups
from tests.support.promtool import PROMTOOL, render
from tests.support.stacks import stack_config
from tools.offline import STACKS

pytestmark = pytest.mark.go

# Requests per sample; a sample every STEP minutes (the 5m windows still hold two or three
# samples), the rules evaluated every EVALUATE minutes: the bad ratio is constant, so each
# alert's condition holds at every evaluation and outlasts its `for` (2m, 15m); evaluating every
# STEP would double the rule engine's time for the same answers. Not 5m or more: the alerts
# read the recording rules' last results, which go stale after Prometheus' 5m lookback.
# The ratio, not the rate, is what the rules judge.
REQUESTS_PER_MINUTE = 100_000
STEP = 2
EVALUATE = 4
THREE_DAYS_AND_AN_HOUR = 3 * 24 * 60 + 60
SEVEN_HOURS = 7 * 60


@pytest.fixture(scope="module")
def promtool() -> Path:
    if not PROMTOOL.is_file():
        pytest.skip(f"promtool absent at {PROMTOOL}: build it with `make promtool`")
    return PROMTOOL


def _expected(environment: str, slo: SloConfig, alert: str, labels: dict[str, str]) -> dict[str, Any]:
    [rule] = [a for a in slo_alerts(environment, slo) if a.name == alert]  # type: ignore[arg-type]
    full = {**labels, "severity": rule.severity}
    return {
        "exp_labels": full,
        "exp_annotations": {
            "summary": render(rule.summary, full),
            "description": render(rule.description, full),
        },
    }


def _series(kind: str, bad_per_minute: int, labels: dict[str, str], minutes: int) -> list[dict[str, str]]:
    minutes //= STEP  # samples
    sel = ", ".join(f'{k}="{v}"' for k, v in labels.items())
    n = REQUESTS_PER_MINUTE
    if kind == "availability":
        return [
            {
                "series": f'http_requests_total{{{sel}, code="200"}}',
                "values": f"0+{n - bad_per_minute}x{minutes}",
            },
            {
                "series": f'http_requests_total{{{sel}, code="500"}}',
                "values": f"0+{bad_per_minute}x{minutes}",
            },
        ]
    return [
        # Go's client writes le="1"; the rule accepts Python's "1.0" as well.
        {
            "series": f'http_request_duration_seconds_bucket{{{sel}, le="1"}}',
            "values": f"0+{n - bad_per_minute}x{minutes}",
        },
        {"series": f'http_request_duration_seconds_bucket{{{sel}, le="+Inf"}}', "values": f"0+{n}x{minutes}"},
        {"series": f"http_request_duration_seconds_count{{{sel}}}", "values": f"0+{n}x{minutes}"},
    ]


def slo_tests(environment: str, slo: SloConfig, service: str, namespace: str) -> list[dict[str, Any]]:
    labels = {"namespace": namespace, "service": service}
    tests = []
    for kind, budget, name in (
        ("availability", slo.error_budget, "ServiceErrorBudgetBurn"),
        ("latency", slo.latency_budget, "ServiceLatencyBudgetBurn"),
    ):
        # (burn factor of the constant bad ratio, minutes of data, alerts expected)
        cases = (
            (0.9, THREE_DAYS_AND_AN_HOUR, []),
            (1.1, THREE_DAYS_AND_AN_HOUR, ["Slow"]),
            (5.9, SEVEN_HOURS, ["Slow"]),
            (6.1, SEVEN_HOURS, ["Slow", "Fast"]),
        )
        for factor, minutes, firing in cases:
            bad = round(REQUESTS_PER_MINUTE * budget * factor)
            eval_time = f"{minutes - STEP}m"
            tests.append(
                {
                    "name": f"{kind} at {factor}x the budget",
                    "interval": f"{STEP}m",
                    "input_series": _series(kind, bad, labels, minutes),
                    "alert_rule_test": [
                        {
                            "eval_time": eval_time,
                            "alertname": f"{name}{speed}",
                            "exp_alerts": [_expected(environment, slo, f"{name}{speed}", labels)]
                            if speed in firing
                            else [],
                        }
                        for speed in ("Fast", "Slow")
                    ],
                }
            )
    return tests


# Development renders the same SLO rules as staging (same config, warning-only severities);
# test_development_renders_staging_s_slo_rules holds that, so promtool runs these two.
PROMTOOL_STACKS = ("staging", "production")


def run_tests(
    promtool: Path, tmp_path: Path, tests: list[dict[str, Any]]
) -> subprocess.CompletedProcess[str]:
    """`promtool test rules` of `tests` against the rules.yaml already in `tmp_path`."""
    (tmp_path / "tests.yaml").write_text(
        yaml.safe_dump(
            {"rule_files": ["rules.yaml"], "evaluation_interval": f"{EVALUATE}m", "tests": tests},
            sort_keys=False,
        )
    )
    return subprocess.run(
        [str(promtool), "test", "rules", "tests.yaml"],
        check=False,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=600,
    )


def test_development_renders_staging_s_slo_rules() -> None:
    rendered = {}
    for stack in ("development", "staging"):
        config = stack_config(stack)
        services = {name: f"platform-{stack}" for name in config.services}
        groups = slo_rule_groups(config.environment, config.monitoring.slo, services)
        rendered[stack] = yaml.safe_dump(groups).replace(f"platform-{stack}", "NAMESPACE")
    assert rendered["development"] == rendered["staging"]


@pytest.mark.parametrize("stack", PROMTOOL_STACKS)
def test_slo_alerts_fire_just_above_and_stay_silent_just_below_each_burn_factor(
    stack: str, promtool: Path, tmp_path: Path
) -> None:
    config = stack_config(stack)
    services = {name: config.service_namespace(name) for name in config.services}
    groups = slo_rule_groups(config.environment, config.monitoring.slo, services)
    (tmp_path / "rules.yaml").write_text(yaml.safe_dump({"groups": groups}, sort_keys=False))
    check = subprocess.run(
        [str(promtool), "check", "rules", "rules.yaml"],
        check=False,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert check.returncode == 0, check.stdout + check.stderr
    service = sorted(services)[0]
    tests = slo_tests(config.environment, config.monitoring.slo, service, services[service])
    done = run_tests(promtool, tmp_path, tests)
    assert done.returncode == 0 and "SUCCESS" in done.stdout, done.stdout + done.stderr


def test_the_harness_can_fail(promtool: Path, tmp_path: Path) -> None:
    """The 1.1x availability case against a budget twice as large must now fail."""
    slo = SloConfig()
    services = {"billing-service": "platform-production"}
    loose = SloConfig(availability_percent=99.8, latency_percentile=90)
    (tmp_path / "rules.yaml").write_text(
        yaml.safe_dump({"groups": slo_rule_groups("production", loose, services)}, sort_keys=False)
    )
    tests = [
        t
        for t in slo_tests("production", slo, "billing-service", "platform-production")
        if t["name"] == "availability at 1.1x the budget"
    ]
    assert len(tests) == 1
    done = run_tests(promtool, tmp_path, tests)
    assert done.returncode != 0 and "ServiceErrorBudgetBurnSlow" in done.stdout + done.stderr


def test_every_service_of_every_stack_is_covered() -> None:
    """The rules select every configured service in its namespace (no promtool needed)."""
    for stack in STACKS:
        config = stack_config(stack)
        services = {name: config.service_namespace(name) for name in config.services}
        [recording, alerting] = slo_rule_groups(config.environment, config.monitoring.slo, services)
        for rule in recording["rules"]:
            for name, namespace in services.items():
                assert name in rule["expr"] and namespace in rule["expr"]
        severities = {r["alert"]: r["labels"]["severity"] for r in alerting["rules"]}
        fast = "critical" if config.environment == "production" else "warning"
        assert severities == {
            "ServiceErrorBudgetBurnFast": fast,
            "ServiceLatencyBudgetBurnFast": fast,
            "ServiceErrorBudgetBurnSlow": "warning",
            "ServiceLatencyBudgetBurnSlow": "warning",
        }
