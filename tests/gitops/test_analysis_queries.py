"""The Rollouts' analysis queries, run by the real Prometheus query engine (`promtool test
rules`, `promql_expr_test`) on synthetic series just either side of each environment's
threshold: each template's success condition holds on the good series and its failure
condition on the bad ones, and neither on a service without traffic (Inconclusive: Argo
Rollouts pauses for a person instead of passing the version).

A condition `result[0] <op> <threshold>` is evaluated as the PromQL `(<query>) <op> bool
<threshold>`: 1 where Argo Rollouts would find it true, 0 where false. promtool is built by
`make promtool` (tools/promtool/).
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from components.gitops.analysis import LATENCY_P95, SUCCESS_RATE, analysis_templates
from components.gitops.config import AnalysisConfig
from components.monitoring.stack_values import prometheus_url
from tests.support.promtool import PROMTOOL
from tests.support.stacks import stack_config

pytestmark = pytest.mark.go

NAMESPACE = "platform-test"
# What the Rollouts of the service chart pass as `service-name`: the canary or preview Service
# before promotion, the active Service after it.
MEASURED = "api-router-service-canary"
OTHER = "api-router-service-stable"
_CONDITION = re.compile(r"^result\[0\] (>=|>|<=|<) (\d+(?:\.\d+)?)$")
# 15 s samples for 10 minutes: every `rate()` window the templates may use is full by then.
STEP = "15s"
SAMPLES = 40
EVAL = "9m"


@pytest.fixture(scope="module")
def promtool() -> Path:
    if not PROMTOOL.is_file():
        pytest.skip(
            f"promtool absent at {PROMTOOL}: build it with `make promtool`; the analysis queries were NOT run"
        )
    return PROMTOOL


def query_of(metric: dict[str, Any], service: str = MEASURED) -> str:
    query: str = metric["provider"]["prometheus"]["query"]
    return query.replace("{{args.namespace}}", NAMESPACE).replace("{{args.service-name}}", service)


def as_promql(condition: str) -> tuple[str, float]:
    match = _CONDITION.fullmatch(condition)
    assert match, f"unexpected condition shape: {condition!r}"
    return match.group(1), float(match.group(2))


def counter(name: str, labels: dict[str, str], per_sample: int) -> dict[str, str]:
    text = ", ".join(f'{k}="{v}"' for k, v in labels.items())
    return {"series": f"{name}{{{text}}}", "values": f"0+{per_sample}x{SAMPLES}"}


def requests(service: str, ok: int, failed: int) -> list[dict[str, str]]:
    """Responses per 15 s sample of one Service's pods: `ok` 200s and `failed` 500s."""
    base = {"namespace": NAMESPACE, "service": service, "pod": f"{service}-0"}
    series = [counter("http_requests_total", {**base, "code": "200"}, ok)]
    if failed:
        series.append(counter("http_requests_total", {**base, "code": "500"}, failed))
    return series


def durations(service: str, cumulative: dict[str, int]) -> list[dict[str, str]]:
    """A latency histogram: requests per sample at or below each bucket bound (seconds)."""
    base = {"namespace": NAMESPACE, "service": service, "pod": f"{service}-0"}
    return [
        counter("http_request_duration_seconds_bucket", {**base, "le": le}, count)
        for le, count in cumulative.items()
    ]


def success_rate_cases(minimum: float) -> dict[str, tuple[list[dict[str, str]], str]]:
    """Series with a success rate half a step of (1 - minimum) either side of the minimum,
    each beside a Service the analysis must ignore (the stable pods, failing half the time)."""
    total = 2000
    allowed = round((1 - minimum) * total)
    assert allowed >= 2, "the cases need room either side of the threshold"
    ignored = requests(OTHER, ok=total // 2, failed=total // 2)
    return {
        "just above": (requests(MEASURED, total - allowed // 2, allowed // 2) + ignored, "Successful"),
        "just below": (
            requests(MEASURED, total - allowed - allowed // 2, allowed + allowed // 2) + ignored,
            "Failed",
        ),
        # The pods are up and scraped but serve nothing: 0/0 is NaN.
        "no traffic": (requests(MEASURED, 0, 0) + ignored, "Inconclusive"),
    }


def latency_cases(limit_ms: int) -> dict[str, tuple[list[dict[str, str]], str]]:
    """P95 interpolated inside a bucket just under the limit, or inside one just over it."""
    low, limit, high = (limit_ms - 100) / 1000, limit_ms / 1000, (limit_ms + 100) / 1000
    buckets = [str(low), str(limit), str(high), "+Inf"]
    # 80 % at or below `low`, 20 % up to the limit: P95 = low + 0.75 * 0.1 s, under the limit.
    under = dict(zip(buckets, (80, 100, 100, 100), strict=True))
    # 80 %, then 10 % up to the limit and 10 % up to `high`: P95 = limit + 0.05 s, over it.
    over = dict(zip(buckets, (80, 90, 100, 100), strict=True))
    ignored = durations(OTHER, dict(zip(buckets, (0, 0, 0, 100), strict=True)))
    return {
        "just under": (durations(MEASURED, under) + ignored, "Successful"),
        "just over": (durations(MEASURED, over) + ignored, "Failed"),
        "no traffic": (durations(MEASURED, dict.fromkeys(buckets, 0)) + ignored, "Inconclusive"),
    }


def expression_tests(metric: dict[str, Any], series: list[dict[str, str]], verdict: str) -> dict[str, Any]:
    """One promtool test: the success and failure conditions as PromQL, with the values
    Argo Rollouts' verdict implies (NaN compares false both ways: no sample is 1)."""
    query = query_of(metric)
    checks = []
    for condition, holds in (
        (metric["successCondition"], verdict == "Successful"),
        (metric["failureCondition"], verdict == "Failed"),
    ):
        op, threshold = as_promql(condition)
        checks.append(
            {
                "expr": f"({query}) {op} bool {threshold}",
                "eval_time": EVAL,
                "exp_samples": [{"labels": "{}", "value": 1 if holds else 0}],
            }
        )
    return {"interval": STEP, "input_series": series, "promql_expr_test": checks}


def run(promtool: Path, tmp_path: Path, tests: list[dict[str, Any]]) -> subprocess.CompletedProcess[str]:
    (tmp_path / "tests.yaml").write_text(yaml.safe_dump({"tests": tests}, sort_keys=False, width=1000))
    return subprocess.run(
        [str(promtool), "test", "rules", "tests.yaml"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )


def cases_for(analysis: AnalysisConfig) -> list[tuple[str, str, list[dict[str, str]], str]]:
    assert analysis.min_success_rate is not None
    out = [
        (SUCCESS_RATE, name, s, v) for name, (s, v) in success_rate_cases(analysis.min_success_rate).items()
    ]
    out += [(LATENCY_P95, name, s, v) for name, (s, v) in latency_cases(analysis.max_p95_latency_ms).items()]
    return out


@pytest.mark.parametrize("stack", ["staging", "production"])
def test_each_analysis_passes_and_fails_just_either_side_of_its_threshold(
    promtool: Path, tmp_path: Path, stack: str
) -> None:
    config = stack_config(stack)
    templates = analysis_templates(config.analysis, prometheus_url(config.monitoring))
    tests = []
    for template, _case, series, verdict in cases_for(config.analysis):
        [metric] = templates[template]["spec"]["metrics"]
        tests.append(expression_tests(metric, series, verdict))
    done = run(promtool, tmp_path, tests)
    assert done.returncode == 0 and "SUCCESS" in done.stdout, done.stdout + done.stderr


def test_production_fails_a_version_staging_would_pass(promtool: Path, tmp_path: Path) -> None:
    """99.5 % successful responses: good enough for staging's canary (0.99), a failed
    post-promotion analysis in production (0.999), which aborts and switches back."""
    series = requests(MEASURED, ok=1990, failed=10)
    tests = []
    for stack, verdict in (("staging", "Successful"), ("production", "Failed")):
        config = stack_config(stack)
        [metric] = analysis_templates(config.analysis, prometheus_url(config.monitoring))[SUCCESS_RATE][
            "spec"
        ]["metrics"]
        tests.append(expression_tests(metric, series, verdict))
    done = run(promtool, tmp_path, tests)
    assert done.returncode == 0 and "SUCCESS" in done.stdout, done.stdout + done.stderr


def test_the_harness_can_fail(promtool: Path, tmp_path: Path) -> None:
    """A threshold moved past the bad series makes promtool report the mismatch."""
    analysis = AnalysisConfig(min_success_rate=0.999)
    templates = analysis_templates(analysis, "http://prometheus:9090")
    [metric] = templates[SUCCESS_RATE]["spec"]["metrics"]
    series, _ = success_rate_cases(0.999)["just below"]
    done = run(promtool, tmp_path, [expression_tests(metric, series, "Successful")])
    assert done.returncode != 0, done.stdout
