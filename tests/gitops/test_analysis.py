"""Rollout analysis: the ClusterAnalysisTemplates where Rollouts run, their conditions against
the configured thresholds, and the documented example Rollouts (schema, docs/monitoring.md, golden files)."""

from __future__ import annotations

import copy
import operator
import re
from collections.abc import Callable
from typing import Any

import pytest

from components.gitops.analysis import (
    LATENCY_P95,
    STRATEGIES,
    SUCCESS_RATE,
    TEMPLATES,
    analysis_templates,
    example_rollout,
)
from components.gitops.config import AnalysisConfig
from components.kubernetes.helm import chart_name
from components.monitoring.stack_values import prometheus_url
from tests.support.paths import ROOT
from tests.support.rollouts import problems
from tests.support.stacks import TEST_SECRETS, assert_refused, stack_config, with_changes
from tests.support.types import RELEASE
from tools.offline import Run, run_program
from tools.plan import example_documents

EXAMPLES = ROOT / "tests" / "golden" / "examples"
TEMPLATE_TYPE = "kubernetes:argoproj.io/v1alpha1:ClusterAnalysisTemplate"


# --------------------------------------------------------------------------- a small evaluator

# The only condition shape the templates use: `result[0] <op> <number>` (Argo Rollouts
# evaluates it with expr; for a one-element vector result these operators mean the same).
_CONDITION = re.compile(r"^result\[0\] (>=|>|<=|<) (\d+(?:\.\d+)?)$")
_OPERATORS: dict[str, Callable[[float, float], bool]] = {
    ">=": operator.ge,
    ">": operator.gt,
    "<=": operator.le,
    "<": operator.lt,
}


def evaluate(condition: str, value: float) -> bool:
    match = _CONDITION.fullmatch(condition)
    assert match, f"unexpected condition shape: {condition!r}"
    return _OPERATORS[match.group(1)](value, float(match.group(2)))


def verdict(metric: dict[str, Any], value: float) -> str:
    success = evaluate(metric["successCondition"], value)
    failure = evaluate(metric["failureCondition"], value)
    assert not (success and failure), f"{metric['name']}: {value} both passes and fails"
    return "Successful" if success else "Failed" if failure else "Inconclusive"


def only_metric(template: dict[str, Any]) -> dict[str, Any]:
    [metric] = template["spec"]["metrics"]
    return dict(metric)


# --------------------------------------------------------------------------- the templates


def templates_of(run: Run) -> dict[str, dict[str, Any]]:
    return {r.plain["metadata"]["name"]: r.plain for r in run.recorder.of_type(TEMPLATE_TYPE)}


def test_templates_wherever_rollouts_run(runs: dict[str, Run]) -> None:
    """Every stack runs Argo Rollouts; development's direct deployment uses no analysis, but the
    templates are there for a Rollout that does, as in the environments after it."""
    declared = {stack: sorted(templates_of(run)) for stack, run in runs.items()}
    assert declared == {stack: sorted(TEMPLATES) for stack in ("development", "staging", "production")}
    without = run_program(
        "development",
        TEST_SECRETS,
        stack_values=with_changes("development", {"delivery:argocd.rollouts.enabled": False}),
    )
    assert sorted(templates_of(without)) == []


def test_templates_are_schema_valid_and_wait_for_the_rollouts_crd(stack_run: Run) -> None:
    rollouts = [
        r.name
        for r in stack_run.recorder.of_type(RELEASE)
        if chart_name(r.inputs["chart"]) == "argo-rollouts"
    ]
    for resource in stack_run.recorder.of_type(TEMPLATE_TYPE):
        assert problems(resource.plain) == [], resource.name
        assert rollouts and rollouts[0] in resource.depends_on, "the release installs the CRD"


def test_applications_wait_for_the_templates_their_rollouts_reference(stack_run: Run) -> None:
    """Rollouts find their templates on first sync, and on destroy outlive no Application."""
    templates = [r.name for r in stack_run.recorder.of_type(TEMPLATE_TYPE)]
    for app in stack_run.recorder.of_type("kubernetes:argoproj.io/v1alpha1:Application"):
        assert set(templates) <= set(app.depends_on), app.name


def test_templates_query_the_in_cluster_prometheus_with_configured_cadence(stack_run: Run) -> None:
    config = stack_config(stack_run.stack)
    for template in templates_of(stack_run).values():
        metric = only_metric(template)
        assert metric["provider"]["prometheus"]["address"] == prometheus_url(config.monitoring)
        analysis = config.argocd.rollouts.analysis
        assert (metric["interval"], metric["count"], metric["failureLimit"]) == (
            analysis.interval,
            analysis.count,
            analysis.failure_limit,
        )
        assert f"[{analysis.rate_window}]" in metric["provider"]["prometheus"]["query"]


@pytest.mark.parametrize("stack", ["staging", "production"])
def test_conditions_match_the_configured_thresholds(stack: str) -> None:
    """Just above and below each threshold, the analysis passes or fails as config says."""
    config = stack_config(stack)
    analysis = config.analysis
    templates = analysis_templates(analysis, prometheus_url(config.monitoring))
    rate = only_metric(templates[SUCCESS_RATE])
    minimum = analysis.min_success_rate
    assert minimum is not None
    assert verdict(rate, minimum) == "Successful", "the minimum itself is good enough"
    assert verdict(rate, minimum + 0.001) == "Successful"
    assert verdict(rate, minimum - 0.001) == "Failed"
    assert verdict(rate, 0.0) == "Failed"
    assert verdict(rate, float("nan")) == "Inconclusive", "no traffic must not pass an analysis"

    latency = only_metric(templates[LATENCY_P95])
    limit = analysis.max_p95_latency_ms
    assert verdict(latency, limit - 1) == "Successful"
    assert verdict(latency, limit) == "Failed", "P95 must stay below the limit"
    assert verdict(latency, limit + 1) == "Failed"
    assert verdict(latency, float("nan")) == "Inconclusive"


def test_seed_thresholds_are_the_defaults() -> None:
    """Seed 003: production health is availability above 99.9 % (auto rollback); the
    performance gate an error rate below 1 % and P95 below 1000 ms."""
    production, staging = (
        AnalysisConfig().for_environment("production"),
        AnalysisConfig().for_environment("staging"),
    )
    assert (production.min_success_rate, production.max_p95_latency_ms) == (0.999, 1000)
    assert (staging.min_success_rate, staging.max_p95_latency_ms) == (0.99, 1000)
    assert AnalysisConfig(min_success_rate=0.995).for_environment("staging").min_success_rate == 0.995


def test_each_stack_holds_new_versions_to_its_own_success_rate(runs: dict[str, Run]) -> None:
    """The templates each stack declares carry that environment's threshold."""
    for stack, minimum in (("staging", 0.99), ("production", 0.999)):
        rate = only_metric(templates_of(runs[stack])[SUCCESS_RATE])
        assert rate["successCondition"] == f"result[0] >= {minimum}", stack
        assert rate["failureCondition"] == f"result[0] < {minimum}", stack


def test_production_may_not_lower_its_success_rate_below_the_availability_target() -> None:
    assert_refused(
        "production",
        {"delivery:argocd.rollouts.analysis.minSuccessRate": 0.99},
        ["delivery:argocd.rollouts.analysis.minSuccessRate = 0.99", "allowed: 0.999 to 1"],
    )


def test_templates_need_a_resolved_success_rate() -> None:
    with pytest.raises(ValueError, match="for_environment"):
        analysis_templates(AnalysisConfig(), "http://prometheus:9090")


def test_thresholds_follow_the_config() -> None:
    strict = AnalysisConfig(min_success_rate=0.99, max_p95_latency_ms=250, count=10, failure_limit=3)
    templates = analysis_templates(strict, "http://prometheus:9090")
    rate, latency = only_metric(templates[SUCCESS_RATE]), only_metric(templates[LATENCY_P95])
    assert verdict(rate, 0.985) == "Failed" and verdict(rate, 0.995) == "Successful"
    assert verdict(latency, 249) == "Successful" and verdict(latency, 251) == "Failed"
    assert (rate["count"], rate["failureLimit"]) == (10, 3)


def test_a_failure_limit_at_or_above_count_is_refused() -> None:
    with pytest.raises(ValueError, match="must be below count"):
        AnalysisConfig(count=3, failure_limit=3)


# --------------------------------------------------------------------------- example Rollouts


@pytest.mark.parametrize("strategy", sorted(set(STRATEGIES.values())))
def test_example_rollouts_are_schema_valid_and_reference_both_templates(strategy: Any) -> None:
    doc = example_rollout(strategy)
    assert problems(doc) == []
    spec = doc["spec"]["strategy"][strategy]
    analysis = spec["analysis"] if strategy == "canary" else spec["prePromotionAnalysis"]
    assert [t["templateName"] for t in analysis["templates"]] == list(TEMPLATES)
    assert all(t["clusterScope"] is True for t in analysis["templates"])
    service = {a["name"]: a for a in analysis["args"]}["service-name"]["value"]
    # The analysis measures the new version only: the canary or preview Service.
    assert service == spec["canaryService" if strategy == "canary" else "previewService"]
    if strategy == "blueGreen":
        assert spec["autoPromotionEnabled"] is False
        # After the switch: the active Service, whose failed analysis switches back.
        post = {a["name"]: a for a in spec["postPromotionAnalysis"]["args"]}["service-name"]["value"]
        assert post == spec["activeService"]


def test_example_args_are_the_templates_args() -> None:
    templates = analysis_templates(AnalysisConfig().for_environment("staging"), "http://prometheus:9090")
    for strategy in set(STRATEGIES.values()):
        spec = example_rollout(strategy)["spec"]["strategy"][strategy]
        analysis = spec["analysis"] if strategy == "canary" else spec["prePromotionAnalysis"]
        given = {a["name"] for a in analysis["args"]}
        for template in templates.values():
            assert given == {a["name"] for a in template["spec"]["args"]}


def test_rollout_schema_check_rejects_typos() -> None:
    doc = copy.deepcopy(example_rollout("blueGreen"))
    doc["spec"]["strategy"]["blueGreen"]["prePromotionAnalysys"] = doc["spec"]["strategy"]["blueGreen"].pop(
        "prePromotionAnalysis"
    )
    assert any("prePromotionAnalysys" in p for p in problems(doc))


def test_examples_match_the_golden_files_and_the_docs() -> None:
    """Rewrite the golden files with `make golden`."""
    page = (ROOT / "docs" / "monitoring.md").read_text()
    for name, text in example_documents().items():
        assert (EXAMPLES / name).read_text() == text, f"tests/golden/examples/{name} drifted"
        assert f"```yaml\n{text}```" in page, f"docs/monitoring.md's {name} example drifted"
