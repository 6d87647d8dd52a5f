"""README, Makefile and CI agree with the code: the promises a newcomer relies on."""

from __future__ import annotations

import re

import pytest
import yaml

from components.config.stack import StackConfig
from components.github.config import WorkflowsConfig
from tools import plan
from tools.offline import ROOT, STACKS, project
from tools.readme_sections import CONFIG_REFERENCE, UPDATE


def test_readme_configuration_reference_matches_the_models() -> None:
    section = CONFIG_REFERENCE.read((ROOT / "README.md").read_text())
    assert section == CONFIG_REFERENCE.generate(), f"run: {UPDATE}"


def test_pulumi_yaml_defaults_match_the_model_defaults() -> None:
    for key, decl in (project().get("config") or {}).items():
        if isinstance(decl, dict) and "default" in decl:
            field = next(f for n, f in StackConfig.model_fields.items() if key in (n, f.alias))
            assert field.default == decl["default"], f"{key}: Pulumi.yaml and the config models disagree"


def test_readme_names_the_two_commands_and_ci_runs_them() -> None:
    readme = (ROOT / "README.md").read_text()
    ci = (ROOT / ".ci" / "run").read_text()
    assert "make plan STACK=staging" in readme
    assert "make test" in readme
    assert re.search(r"^make [^\n]*\btest\b", ci, re.M), ".ci/run must run the README's test command"
    assert re.search(r"^\s*make [^\n]*\bplan\b", ci, re.M), ".ci/run must run the README's plan command"


@pytest.mark.parametrize("stack", STACKS)
def test_offline_plan_masks_secrets(stack: str, capsys: pytest.CaptureFixture[str]) -> None:
    """The plan prints and writes every input, but never a secret's value."""
    assert plan.main([stack]) == 0
    printed = capsys.readouterr()
    assert f"stack {stack}" in printed.out
    assert "offline-placeholder" not in printed.out + printed.err, "a secret placeholder was printed unmasked"
    assert "[secret]" in printed.out
    for path in (ROOT / "build" / stack).rglob("*"):
        if path.is_file():
            assert "offline-placeholder" not in path.read_text(), f"{path} holds a secret unmasked"


def test_stack_files_are_yaml_with_a_config_block() -> None:
    for stack in STACKS:
        doc = yaml.safe_load((ROOT / f"Pulumi.{stack}.yaml").read_text())
        # What `pulumi config set --secret` may add beside `config:` in a deployment's copy.
        assert set(doc) <= {"config", "encryptionsalt", "secretsprovider", "encryptedkey"}
        assert "config" in doc


def test_readme_links_within_itself_resolve() -> None:
    """Every `[...](#anchor)` names a heading, as GitHub renders anchors (lowercase, punctuation
    dropped, spaces to hyphens)."""
    readme = (ROOT / "README.md").read_text()
    anchors = {
        re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")
        for heading in re.findall(r"^#+ (.+)$", readme, re.M)
    }
    broken = sorted(set(re.findall(r"\]\(#([^)]+)\)", readme)) - anchors)
    assert not broken, f"README links to headings that do not exist: {broken}"


def test_readme_prerequisites_name_the_cli_version_the_workflows_pin() -> None:
    readme = (ROOT / "README.md").read_text()
    prerequisites = readme[readme.index("## Real use") :].split("\n\n", 2)[1]
    pinned = WorkflowsConfig().pulumi_version
    assert f"v{pinned}" in prerequisites, f"README's prerequisites must name the Pulumi CLI v{pinned}"
