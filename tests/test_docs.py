"""README, Makefile and CI agree with the code: the promises a newcomer relies on."""

from __future__ import annotations

import re
import subprocess
import sys
import time

import pytest
import yaml

from components.config import StackConfig
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
def test_offline_plan_runs_fast_and_masks_secrets(stack: str) -> None:
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "tools.plan", stack],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    elapsed = time.perf_counter() - started
    assert done.returncode == 0, done.stderr
    assert elapsed < 3.0, f"plan of {stack} took {elapsed:.1f}s"
    assert f"stack {stack}:" in done.stdout
    assert "offline-placeholder" not in done.stdout, "a secret placeholder was printed unmasked"
    assert "[secret]" in done.stdout
    for path in (ROOT / "build" / stack).rglob("*"):
        if path.is_file():
            assert "offline-placeholder" not in path.read_text(), f"{path} holds a secret unmasked"


def test_stack_files_are_yaml_with_a_config_block() -> None:
    for stack in STACKS:
        doc = yaml.safe_load((ROOT / f"Pulumi.{stack}.yaml").read_text())
        # What `pulumi config set --secret` may add beside `config:` in a deployment's copy.
        assert set(doc) <= {"config", "encryptionsalt", "secretsprovider", "encryptedkey"}
        assert "config" in doc
