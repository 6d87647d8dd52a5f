"""A repository whose GitHub plan lacks code scanning: nothing is declared that needs it, and
no required check waits on a job that cannot run."""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import yaml

from components.github.workflows import required_status_checks, workflows
from components.github.workflows.render import render
from components.github.workflows.settings import REFERENCE
from tests.support.scratch import BIN, run_tool
from tests.support.stacks import TEST_SECRETS, with_changes
from tools.offline import Run, run_program

WITHOUT_CODE_SCANNING = {
    "delivery:github.plan": {"visibility": "private", "tier": "team", "codeSecurity": False}
}
# Team has no required reviewers on a private repository's environments, so the plan is tried on
# the stack that manages the repository with production's rules out of the way: staging.
NEEDS_CODE_SCANNING = re.compile(r"github/codeql-action/|actions/dependency-review-action|security-events")


@pytest.fixture(scope="module")
def staging_manages_without_code_scanning() -> Run:
    changes: dict[str, Any] = {
        **WITHOUT_CODE_SCANNING,
        "delivery:github.manageRepository": True,
        "delivery:github.managingStack": "staging",
        "delivery:github.deployer": {"user": "ai-aas-deployer", "team": "platform-deployers"},
        # Staging has no production reviewers to own the code by default.
        "delivery:github.codeOwners": {"teams": ["platform-sre"]},
        "delivery:github.workflows.validation.baseUrl": "https://api.staging.ai-aas.example",
    }
    return run_program("staging", TEST_SECRETS, with_changes("staging", changes))


def _committed_workflows(run: Run) -> dict[str, dict[str, Any]]:
    return {
        str(r.inputs["file"]): yaml.safe_load(str(r.inputs["content"]))
        for r in run.resources
        if r.type == "github:index/repositoryFile:RepositoryFile"
        and str(r.inputs["file"]).startswith(".github/workflows/")
    }


def test_without_code_scanning_no_workflow_uploads_runs_codeql_or_reviews_dependencies(
    staging_manages_without_code_scanning: Run,
) -> None:
    files = _committed_workflows(staging_manages_without_code_scanning)
    assert files, "the managing stack commits the workflow files"
    for path, doc in files.items():
        text = yaml.safe_dump(doc)
        assert not NEEDS_CODE_SCANNING.search(text), f"{path} still needs GitHub code scanning"


def test_every_gate_judges_only_jobs_that_exist_and_every_required_check_is_a_gate() -> None:
    settings = replace(REFERENCE, image_registry="ghcr.io/test", code_scanning=False)
    rendered = workflows(settings)
    gates = {job.name for w in rendered for job in w.jobs if job.gate}
    assert set(required_status_checks()) <= gates
    for w in rendered:
        ids = {job.id for job in w.jobs}
        for job in w.jobs:
            assert set(job.needs) <= ids, f"{w.file}: {job.id} needs a job that is not there"


def test_scanners_still_fail_the_gate_without_code_scanning() -> None:
    """Semgrep, Trivy and gitleaks run, can fail, and are judged by the gate even where nothing is uploaded."""
    rendered = workflows(replace(REFERENCE, image_registry="ghcr.io/test", code_scanning=False))
    security = next(w for w in rendered if w.file == "security.yml")
    jobs = {job.id: job for job in security.jobs}
    gate = next(job for job in security.jobs if job.gate)
    assert set(gate.needs) == {"semgrep", "trivy", "gitleaks"}
    assert any("sarif_gate.py" in str(step.env.get("GATE", "")) for step in jobs["semgrep"].steps)
    assert not any(step.uses and "upload-sarif" in step.uses.name for step in jobs["semgrep"].steps)
    assert any(step.with_.get("exit-code") == "1" for step in jobs["trivy"].steps)
    assert any("--exit-code 1" in (step.run or "") for step in jobs["gitleaks"].steps)


@pytest.mark.slow
def test_workflows_without_code_scanning_pass_actionlint(tmp_path: Path) -> None:
    target = tmp_path / ".github" / "workflows"
    target.mkdir(parents=True)
    for w in workflows(replace(REFERENCE, image_registry="ghcr.io/test", code_scanning=False)):
        (target / w.file).write_text(render(w))
    shellcheck = BIN / "shellcheck"
    done = run_tool(
        [
            str(BIN / "actionlint"),
            "-no-color",
            f"-shellcheck={shellcheck}",
            *sorted(map(str, target.iterdir())),
        ],
        tmp_path,
    )
    assert done.returncode == 0, done.output
