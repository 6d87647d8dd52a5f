"""The merge queue: main's ruleset queues merges, and every required check reports in the queue.

A required check that never runs on `merge_group` would leave every queued pull request
waiting until the queue's timeout fails it (docs/governance.md, "Merge queue instead of up to date").
"""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from components.github.repository_governance import main_ruleset_rules
from components.github.workflows import pull_request_gates, required_status_checks, workflows
from components.github.workflows.model import ALWAYS, Job, Workflow
from components.github.workflows.settings import REFERENCE
from tests.support.stacks import run_stack
from tests.support.types import REPOSITORY_FILE, RULESET

MANAGING_STACK = "production"


@pytest.fixture(scope="module")
def committed() -> dict[str, dict[str, Any]]:
    """Workflow file name -> the document the managing stack commits."""
    files = run_stack(MANAGING_STACK).recorder.of_type(REPOSITORY_FILE)
    return {
        f.plain["file"].rsplit("/", 1)[-1]: yaml.safe_load(f.plain["content"])
        for f in files
        if f.plain["file"].startswith(".github/workflows/")
    }


def _gate_of(check: str) -> tuple[Workflow, Job]:
    matches = [(w, w.gate) for w in workflows(REFERENCE) if w.gate is not None and w.gate.check_name == check]
    assert len(matches) == 1, f"required check {check!r} is the gate of {len(matches)} workflows"
    workflow, gate = matches[0]
    assert gate is not None
    return workflow, gate


def test_every_required_check_runs_on_merge_group_and_its_gate_reports_there(
    committed: dict[str, dict[str, Any]],
) -> None:
    checks = required_status_checks()
    assert checks, "no required check: the test proved nothing"
    for check in checks:
        workflow, gate = _gate_of(check)
        document = committed[workflow.file]
        on = document.get("on", document.get(True))  # YAML 1.1 reads the key `on` as True
        assert "merge_group" in on, (
            f"{workflow.file} (required check {check!r}) does not run in the merge queue"
        )
        assert on["merge_group"] in (None, {}, {"types": ["checks_requested"]}), on["merge_group"]
        # The gate reports whatever the event: it runs always, and nothing in its `if:`
        # names an event that could skip it in the queue.
        rendered_gate = document["jobs"][gate.id]
        assert rendered_gate.get("name", gate.id) == check
        assert rendered_gate["if"] == ALWAYS, f"{workflow.file}: gate {check!r} may be skipped"


def test_the_required_checks_are_exactly_the_pull_request_gates() -> None:
    assert sorted(name for _, name in pull_request_gates()) == required_status_checks()


def test_main_merges_through_the_queue_instead_of_strict_up_to_date_checks() -> None:
    (ruleset,) = [
        r for r in run_stack(MANAGING_STACK).recorder.of_type(RULESET) if r.name.endswith("-main-ruleset")
    ]
    rules = ruleset.plain["rules"]
    queue = rules["mergeQueue"]
    assert queue["groupingStrategy"] == "ALLGREEN", "every queued change's own commit must pass"
    assert queue["checkResponseTimeoutMinutes"] >= 30
    assert rules["requiredStatusChecks"]["strictRequiredStatusChecksPolicy"] is False
    contexts = sorted(c["context"] for c in rules["requiredStatusChecks"]["requiredChecks"])
    assert contexts == required_status_checks()


def test_without_a_merge_queue_in_the_plan_branches_must_be_up_to_date() -> None:
    """A private repository below GitHub Enterprise has no merge queue (`github.plan`)."""
    rules = main_ruleset_rules(required_status_checks(), merge_queue=False)
    assert rules.merge_queue is None
    assert rules.required_status_checks.strict_required_status_checks_policy is True
    queued = main_ruleset_rules(required_status_checks())
    assert queued.merge_queue is not None
    assert queued.required_status_checks.strict_required_status_checks_policy is False
