"""The README's generated sections: each between `<!-- <name>:start -->` and `<!-- <name>:end -->`.

    python -m tools.readme_sections          # say which sections are out of date
    python -m tools.readme_sections --write  # rewrite them in README.md

Tests fail when README.md and what the sections are generated from disagree.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from dataclasses import dataclass

from components.github import identities
from tools import config_reference
from tools.offline import ROOT

README = ROOT / "README.md"


@dataclass(frozen=True)
class Section:
    name: str
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
        """README.md without this section."""
        return text[: text.index(self.start)] + text[text.index(self.end) + len(self.end) :]


CONFIG_REFERENCE = Section("config-reference", config_reference.table)
IDENTITIES_TABLE = Section("identities", identities.table)
SECTIONS = (CONFIG_REFERENCE, IDENTITIES_TABLE)
UPDATE = "python -m tools.readme_sections --write"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--write", action="store_true", help="rewrite the sections in README.md")
    args = parser.parse_args(argv)
    text = README.read_text()
    if args.write:
        for section in SECTIONS:
            text = section.write(text)
        README.write_text(text)
        return 0
    stale = [s.name for s in SECTIONS if s.read(text) != s.generate()]
    for name in stale:
        print(f"README.md section {name} is out of date: run {UPDATE}")
    return 1 if stale else 0


if __name__ == "__main__":
    sys.exit(main())
