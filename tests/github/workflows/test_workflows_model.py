"""The workflow models refuse what the team's rules forbid, and render losslessly."""

from __future__ import annotations

import re

import pytest
import yaml

from components.github.workflows import required_status_checks, workflows
from components.github.workflows.common import READ, checkout, gate_job
from components.github.workflows.model import (
    ALWAYS,
    RUNNER,
    Concurrency,
    Input,
    Job,
    MergeGroup,
    PullRequest,
    RunnerGroup,
    Step,
    Triggers,
    Workflow,
)
from components.github.workflows.pins import Action, action
from components.github.workflows.render import render
from components.github.workflows.settings import REFERENCE, Settings


def job(job_id: str = "build", **kwargs: object) -> Job:
    defaults: dict[str, object] = {
        "permissions": READ,
        "timeout_minutes": 5,
        "steps": (Step(name="run", run="true\n"),),
    }
    return Job(id=job_id, **{**defaults, **kwargs})  # type: ignore[arg-type]


def test_scripts_with_expressions_are_refused() -> None:
    with pytest.raises(ValueError, match="env"):
        Step(name="x", run='echo "${{ github.event.pull_request.title }}"\n')
    Step(name="x", run='echo "$TITLE"\n', env={"TITLE": "${{ github.event.pull_request.title }}"})


def test_steps_name_pinned_actions_and_only_their_declared_inputs() -> None:
    checkout_action = action("actions/checkout")
    with pytest.raises(ValueError, match="declares no input"):
        Step(name="x", uses=checkout_action, with_={"persist_credentials": False})
    with pytest.raises(ValueError, match="requires input"):
        Step(name="x", uses=action("actions/upload-artifact"), with_={"name": "a"})
    with pytest.raises(KeyError, match="not pinned"):
        action("actions/checkout-unpinned")
    with pytest.raises(ValueError, match="40-character"):
        Action(name="a/b", sha="v4", tag="v4.0.0", inputs=frozenset(), required_inputs=frozenset())
    with pytest.raises(ValueError, match="exactly one"):
        Step(name="x", run="true\n", uses=checkout_action)


def test_jobs_need_timeouts_and_gates_must_run_always() -> None:
    with pytest.raises(ValueError, match="timeout-minutes"):
        job(timeout_minutes=None)
    with pytest.raises(ValueError, match="always"):
        job("gate", gate=True, needs=("build",), if_="success()")
    with pytest.raises(ValueError, match="reusable-workflow call"):
        Job(id="call", permissions=READ, uses="./.github/workflows/x.yml", timeout_minutes=5)
    with pytest.raises(ValueError, match="this repository"):
        Job(id="call", permissions=READ, uses="someone/else/.github/workflows/x.yml@main")


def test_workflows_refuse_write_defaults_unknown_needs_cycles_and_gates_that_miss_a_job() -> None:
    on = Triggers(pull_request=PullRequest())
    build = job("build")
    with pytest.raises(ValueError, match="read-only"):
        Workflow(file="w.yml", name="w", on=on, jobs=(build,), permissions={"contents": "write"})
    with pytest.raises(ValueError, match="unknown job"):
        Workflow(file="w.yml", name="w", on=on, jobs=(job("a", needs=("nope",)),))
    with pytest.raises(ValueError, match="cycle"):
        Workflow(file="w.yml", name="w", on=on, jobs=(job("a", needs=("b",)), job("b", needs=("a",))))
    lint = job("lint")
    with pytest.raises(ValueError, match="must need"):
        Workflow(file="w.yml", name="w", on=on, jobs=(build, lint, gate_job("w-gate", (build,))))
    Workflow(file="w.yml", name="w", on=on, jobs=(build, lint, gate_job("w-gate", (build, lint))))


def test_inputs_and_settings_are_validated() -> None:
    with pytest.raises(ValueError, match="options"):
        Input(description="x", type="choice")
    with pytest.raises(ValueError, match="default"):
        Input(description="x", required=True, default="a")
    with pytest.raises(ValueError, match="lowercase"):
        Settings(image_registry="ghcr.io/AI-aas")
    with pytest.raises(ValueError, match="pull request"):
        Settings(image_registry="ghcr.io/x", auto_deploy=("development", "production"))


def test_rendered_workflows_parse_back_to_the_models_with_every_pin_annotated() -> None:
    for workflow in workflows(REFERENCE):
        text = render(workflow)
        doc = yaml.safe_load(text)
        doc["on"] = doc.pop(True)
        assert doc == workflow.to_dict(), workflow.file
        for line in text.splitlines():
            if re.search(r"uses: [^.]\S*@", line):
                assert re.search(r"@[0-9a-f]{40} # v\d+\.\d+\.\d+$", line), line


def test_required_status_checks_are_the_gates_of_the_pull_request_workflows() -> None:
    gates = sorted(
        w.gate.check_name for w in workflows(REFERENCE) if w.gate is not None and w.on.on_every_pull_request
    )
    assert required_status_checks() == gates
    assert len(gates) == len(set(gates)) >= 2
    # ci's gate is among them, and judges every job of ci but the advisory metrics upload.
    ci = next(w for w in workflows(REFERENCE) if w.file == "ci.yml")
    assert ci.gate is not None and ci.gate.check_name in gates
    assert set(ci.gate.needs) == {j.id for j in ci.jobs if not j.gate and not j.advisory}
    assert ci.gate.if_ == ALWAYS


def test_checkout_never_persists_credentials() -> None:
    assert checkout().with_["persist-credentials"] is False
    assert checkout(fetch_depth=0).with_["persist-credentials"] is False


def test_a_self_hosted_group_and_the_merge_queue_trigger_render_as_github_reads_them() -> None:
    grouped = job(runs_on=RunnerGroup(group="infra", labels=("self-hosted", "linux"))).to_dict()
    assert grouped["runs-on"] == {"group": "infra", "labels": ["self-hosted", "linux"]}
    assert job().to_dict()["runs-on"] == RUNNER
    triggers = Triggers(pull_request=PullRequest(), merge_group=MergeGroup()).to_dict()
    assert triggers == {"pull_request": {}, "merge_group": {"types": ["checks_requested"]}}


def test_cancel_in_progress_is_a_flag_or_one_expression() -> None:
    assert Concurrency("g", "${{ github.event_name == 'pull_request' }}").to_dict()["cancel-in-progress"]
    with pytest.raises(ValueError, match="bool or one expression"):
        Concurrency("g", "true")
