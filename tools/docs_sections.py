"""The generated parts of the documentation: each between `<!-- <name>:start -->` and
`<!-- <name>:end -->` in its page under docs/reference/.

    python -m tools.docs_sections          # say which sections are out of date
    python -m tools.docs_sections --write  # rewrite them (make reference)

Tests fail when a page and what its section is generated from disagree.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from components.github import identities
from components.github.workflows import workflows
from components.github.workflows.model import Workflow
from components.github.workflows.settings import REFERENCE
from tools import config_reference
from tools.offline import ROOT

DOCS = ROOT / "docs"
MAKEFILE = ROOT / "Makefile"
# `target: prerequisites  ## what it does`: the help string `make help` prints.
_TARGET = re.compile(r"^([a-z][a-z0-9-]*):[^=\n]*?##\s*(.+)$", re.M)
_PHONY = re.compile(r"^\.PHONY:(.*)$", re.M)


@dataclass(frozen=True)
class Section:
    name: str
    path: Path
    generate: Callable[[], str]

    @property
    def start(self) -> str:
        return f"<!-- {self.name}:start -->"

    @property
    def end(self) -> str:
        return f"<!-- {self.name}:end -->"

    def read(self, text: str) -> str:
        return text[text.index(self.start) + len(self.start) : text.index(self.end)].strip()

    def write(self, text: str) -> str:
        start, end = text.index(self.start) + len(self.start), text.index(self.end)
        return f"{text[:start]}\n{self.generate()}\n{text[end:]}"

    def outside(self, text: str) -> str:
        """The page without this section."""
        return text[: text.index(self.start)] + text[text.index(self.end) + len(self.end) :]

    def stale(self) -> bool:
        return self.read(self.path.read_text()) != self.generate()


def pages() -> dict[str, str]:
    """The text of every documentation page, README.md included, by path from the root."""
    found = {"README.md": (ROOT / "README.md").read_text()}
    for path in sorted(DOCS.rglob("*.md")):
        found[path.relative_to(ROOT).as_posix()] = path.read_text()
    return found


def make_targets(makefile: str) -> dict[str, str]:
    """Every phony target of the Makefile with its `##` help string (empty when it has none)."""
    phony = [t for line in _PHONY.findall(makefile) for t in line.split()]
    helps = dict(_TARGET.findall(makefile))
    return {target: helps.get(target, "") for target in phony}


def make_targets_table() -> str:
    rows = ["| target | what it does |", "|---|---|"]
    for target, text in make_targets(MAKEFILE.read_text()).items():
        escaped = text.replace("|", "\\|")
        rows.append(f"| `make {target}` | {escaped} |")
    return "\n".join(rows)


def _triggers(workflow: Workflow) -> str:
    on = workflow.on
    parts: list[str] = []
    if on.push is not None:
        branches = f" to `{'`, `'.join(on.push.branches)}`" if on.push.branches else ""
        paths = f" touching `{'`, `'.join(on.push.paths)}`" if on.push.paths else ""
        parts.append(f"push{branches}{paths}")
    if on.pull_request is not None:
        parts.append("pull request" + ("" if on.on_every_pull_request else " (filtered)"))
    if on.merge_group is not None:
        parts.append("merge queue")
    parts += [f"schedule `{cron}` (UTC)" for cron in on.schedule]
    if on.workflow_dispatch is not None:
        parts.append("by hand")
    if on.workflow_call is not None:
        parts.append("called by another workflow")
    if on.repository_dispatch is not None:
        parts.append("repository dispatch " + ", ".join(f"`{t}`" for t in on.repository_dispatch.types))
    return "; ".join(parts)


def workflows_table() -> str:
    """Every workflow file the managing stack commits, with the reference settings."""
    rows = ["| file | name | runs on | jobs | required check |", "|---|---|---|---|---|"]
    for workflow in workflows(REFERENCE):
        jobs = ", ".join(
            f"`{j.id}`" + (f" (`{j.environment}`)" if j.environment else "") for j in workflow.jobs
        )
        gate = (
            f"`{workflow.gate.check_name}`"
            if workflow.gate is not None and workflow.on.on_every_pull_request
            else ""
        )
        rows.append(f"| `{workflow.file}` | {workflow.name} | {_triggers(workflow)} | {jobs} | {gate} |")
    return "\n".join(rows)


CONFIG_REFERENCE = Section(
    "config-reference", DOCS / "reference" / "configuration.md", config_reference.table
)
IDENTITIES_TABLE = Section("identities", DOCS / "reference" / "identities.md", identities.table)
MAKE_TARGETS = Section("make-targets", DOCS / "reference" / "make-targets.md", make_targets_table)
WORKFLOWS = Section("workflows", DOCS / "reference" / "workflows.md", workflows_table)
SECTIONS = (CONFIG_REFERENCE, IDENTITIES_TABLE, MAKE_TARGETS, WORKFLOWS)
UPDATE = "make reference (python -m tools.docs_sections --write)"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--write", action="store_true", help="rewrite the sections in their pages")
    args = parser.parse_args(argv)
    if args.write:
        for section in SECTIONS:
            section.path.write_text(section.write(section.path.read_text()))
        return 0
    stale = [s for s in SECTIONS if s.stale()]
    for section in stale:
        print(f"{section.path.relative_to(ROOT)} section {section.name} is out of date: run {UPDATE}")
    return 1 if stale else 0


if __name__ == "__main__":
    sys.exit(main())
