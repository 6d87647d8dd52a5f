"""README, the documentation site, Makefile and CI agree with the code: the promises a newcomer
relies on. The site's own link and anchor check is `mkdocs build --strict` (`make docs`)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import unicodedata
from pathlib import Path
from typing import Any

import pytest
import yaml

from components.config.stack import StackConfig
from components.github.config import WorkflowsConfig
from tools import plan
from tools.docs_sections import (
    CONFIG_REFERENCE,
    DOCS,
    MAKE_TARGETS,
    MAKEFILE,
    SECTIONS,
    UPDATE,
    WORKFLOWS,
    make_targets,
    pages,
)
from tools.offline import ROOT, STACKS, project

README = ROOT / "README.md"

# --------------------------------------------------------------------------- generated reference


@pytest.mark.parametrize("section", SECTIONS, ids=lambda s: s.name)
def test_generated_reference_matches_its_source(section: Any) -> None:
    assert not section.stale(), f"{section.path.relative_to(ROOT)} is out of date: run {UPDATE}"


def _reference_keys() -> dict[str, str]:
    """Key pattern of each row of the configuration reference -> its type column."""
    keys: dict[str, str] = {}
    for row in CONFIG_REFERENCE.read(CONFIG_REFERENCE.path.read_text()).splitlines()[2:]:
        key, kind = (cell.strip() for cell in row.split(" | ")[:2])
        keys[key.strip("|` ")] = kind
    return keys


def _match(path: str, keys: dict[str, str]) -> str | None:
    for key, kind in keys.items():
        pattern = re.escape(key).replace(re.escape("<name>"), r"[^.]+")
        if re.fullmatch(pattern, path):
            return kind
    return None


def _unreferenced(path: str, value: Any, keys: dict[str, str]) -> list[str]:
    kind = _match(path, keys)
    if kind is None:
        return [path]
    if not isinstance(value, dict):
        return []
    if kind == "map of object":  # entries keyed by name: their fields are the rows
        entries = [(f"{path}.{name}", entry) for name, entry in value.items() if isinstance(entry, dict)]
        return [
            m for at, entry in entries for k, v in entry.items() for m in _unreferenced(f"{at}.{k}", v, keys)
        ]
    if kind.startswith("object"):
        return [m for k, v in value.items() for m in _unreferenced(f"{path}.{k}", v, keys)]
    return []


def test_every_config_key_the_stacks_set_or_declare_is_in_the_reference() -> None:
    """Every key a stack file sets and every key Pulumi.yaml declares has its row, down to the
    leaves, so a key the models accept but the reference leaves out fails here."""
    keys = _reference_keys()
    missing: list[str] = []
    for key in project().get("config") or {}:
        missing += _unreferenced(f"delivery:{key}", None, keys)
    for stack in STACKS:
        config = yaml.safe_load((ROOT / f"Pulumi.{stack}.yaml").read_text())["config"]
        for key, value in config.items():
            if key.startswith("delivery:"):
                missing += _unreferenced(key, value, keys)
    assert not missing, f"config keys missing from docs/reference/configuration.md: {sorted(set(missing))}"


def test_the_reference_walker_finds_a_missing_key() -> None:
    keys = _reference_keys()
    assert _unreferenced("delivery:cluster", {"pools": {"default": {"cuont": 3}}}, keys) == [
        "delivery:cluster.pools.default.cuont"
    ]


def test_every_make_target_has_help_and_is_in_the_reference() -> None:
    targets = make_targets(MAKEFILE.read_text())
    assert {"test", "test-fast", "docs", "reference", "plan"} <= set(targets)
    assert not [t for t, text in targets.items() if not text], "targets without a `## help` string"
    page = MAKE_TARGETS.path.read_text()
    assert all(f"`make {t}`" in page for t in targets)
    defined = set(re.findall(r"^([a-z][a-z0-9-]*):(?!=)", MAKEFILE.read_text(), re.M))
    assert defined <= set(targets), (
        f"targets missing from .PHONY (and so the reference): {defined - set(targets)}"
    )


def test_every_workflow_file_is_in_the_reference() -> None:
    """Both directions, against the files the managing stack's golden tree commits."""
    committed = {p.name for p in (ROOT / "tests/golden/production/github/.github/workflows").glob("*.yml")}
    listed = set(re.findall(r"^\| `([a-z0-9-]+\.yml)` \|", WORKFLOWS.path.read_text(), re.M))
    assert committed and listed == committed


# --------------------------------------------------------------------------- README and site


def test_readme_is_a_front_door() -> None:
    assert len(README.read_text().splitlines()) <= 250, "README.md grows past a front door: move it to docs/"


def test_readme_names_the_two_commands_and_ci_runs_them() -> None:
    readme = README.read_text()
    ci = (ROOT / ".ci" / "run").read_text()
    assert "make plan STACK=staging" in readme
    assert "make test" in readme
    assert re.search(r"^make [^\n]*\btest\b", ci, re.M), ".ci/run must run the README's test command"
    assert re.search(r"^\s*make [^\n]*\bplan\b", ci, re.M), ".ci/run must run the README's plan command"
    assert re.search(r"^make [^\n]*\bdocs\b", ci, re.M), ".ci/run must build the documentation site"


def _slug(heading: str) -> str:
    """Python-Markdown's toc slug (what MkDocs links to), which equals GitHub's for these headings."""
    text = re.sub(r"`([^`]*)`", r"\1", heading)
    text = unicodedata.normalize("NFKD", text)
    text = re.sub(r"[^\w\s-]", "", text).strip().lower()
    return re.sub(r"[-\s]+", "-", text)


def _anchors(text: str) -> set[str]:
    text = re.sub(r"^```.*?^```", "", text, flags=re.M | re.S)
    return {_slug(h) for h in re.findall(r"^#+ (.+)$", text, re.M)}


def test_readme_links_resolve() -> None:
    """README.md is outside the site: its links to docs/ pages and their anchors, checked here."""
    readme = README.read_text()
    broken: list[str] = []
    for target in re.findall(r"\]\(([^)\s]+)\)", readme):
        if re.match(r"[a-z]+://", target):
            continue
        path, _, anchor = target.partition("#")
        file = ROOT / path if path else README
        if not file.exists() or (anchor and anchor not in _anchors(file.read_text())):
            broken.append(target)
    assert not broken, f"README links that lead nowhere: {broken}"


def test_every_docs_page_is_in_the_nav() -> None:
    config = yaml.load((ROOT / "mkdocs.yml").read_text(), Loader=yaml.BaseLoader)

    def walk(node: Any) -> list[str]:
        if isinstance(node, str):
            return [node]
        if isinstance(node, dict):
            return [p for v in node.values() for p in walk(v)]
        return [p for v in node for p in walk(v)]

    assert set(walk(config["nav"])) == {p.relative_to(DOCS).as_posix() for p in DOCS.rglob("*.md")}


def test_the_site_builds_strictly(tmp_path: Path) -> None:
    """`mkdocs build --strict` with mkdocs.yml's validation: a broken link or anchor fails."""
    mkdocs = shutil.which("mkdocs", path=str(Path(sys.executable).parent))
    assert mkdocs, "mkdocs is in requirements-dev.txt: run make install"
    result = subprocess.run(
        [mkdocs, "build", "--strict", "--site-dir", str(tmp_path / "site")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
        check=False,
    )
    assert result.returncode == 0, result.stderr


# --------------------------------------------------------------------------- measured figures

# A measured figure: a number with a unit of time or size.
FIGURE = re.compile(r"\b\d+(?:\.\d+)?\s?(?:ms|s|seconds?|min|minutes?|h|hours?|KB|MB|GB)\b")
# Words that report a measurement rather than a setting or an estimate.
MEASURING = re.compile(
    r"\b(?:took|takes about|measured|timed|ran in|load average|cold (?:build|compile)|rebuild)\b|\bhere\)",
    re.I,
)
# `!!! measured "`<command>` on <machine>"`: the command in backticks, then the machine.
MEASURED_TITLE = re.compile(r'^!!! measured "`[^`]+`[^"]* on [^"]+"$')


def unmarked_measurements(text: str) -> list[str]:
    """Paragraphs that report a measured figure outside a `measured` box, and boxes whose title
    does not name the command and the machine."""
    problems: list[str] = []
    text = re.sub(r"^```.*?^```", "", text, flags=re.M | re.S)
    inside = False
    for block in re.split(r"\n\s*\n", text):
        first = block.lstrip("\n").split("\n", 1)[0]
        if first.startswith("!!! measured"):
            inside = True
            if not MEASURED_TITLE.match(first):
                problems.append(f"title must name `<command>` and the machine: {first}")
            continue
        if inside and block.startswith("    "):
            continue
        inside = False
        flat = " ".join(re.sub(r"`[^`]*`", "", block).split())
        if FIGURE.search(flat) and MEASURING.search(flat):
            problems.append(flat[:160])
    return problems


def test_every_measured_figure_names_its_command_and_machine() -> None:
    """docs/development.md, "Measured figures"."""
    found = {path: unmarked_measurements(text) for path, text in pages().items()}
    found = {path: problems for path, problems in found.items() if problems}
    assert not found, f"measured figures without their command and machine: {found}"


def test_the_figure_check_refuses_an_unmarked_measurement() -> None:
    assert unmarked_measurements("A cold build took 20 minutes.\n")
    assert unmarked_measurements('!!! measured "a cold build"\n    It took 20 minutes.\n')
    assert not unmarked_measurements(
        '!!! measured "`make cel-harness` on the 2-core machine"\n    It took 20 minutes.\n'
    )
    assert not unmarked_measurements("Jobs time out after 60 minutes (`timeout-minutes`).\n")


# --------------------------------------------------------------------------- the program's promises


def test_pulumi_yaml_defaults_match_the_model_defaults() -> None:
    for key, decl in (project().get("config") or {}).items():
        if isinstance(decl, dict) and "default" in decl:
            field = next(f for n, f in StackConfig.model_fields.items() if key in (n, f.alias))
            assert field.default == decl["default"], f"{key}: Pulumi.yaml and the config models disagree"


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


def test_prerequisites_name_the_cli_version_the_workflows_pin() -> None:
    bootstrap = (DOCS / "bootstrap.md").read_text()
    prerequisites = bootstrap[bootstrap.index("## Real use") :].split("\n\n", 2)[1]
    pinned = WorkflowsConfig().pulumi_version
    assert f"v{pinned}" in prerequisites, (
        f"docs/bootstrap.md's prerequisites must name the Pulumi CLI v{pinned}"
    )
