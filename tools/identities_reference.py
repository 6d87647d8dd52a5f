"""The README's "Identities and their permissions" table, generated from
components/github/identities.py.

    python -m tools.identities_reference          # print the table
    python -m tools.identities_reference --write  # rewrite it in README.md

A test fails when README.md and the module disagree.
"""

from __future__ import annotations

import argparse
import sys

from components.github.identities import table
from tools.offline import ROOT

README = ROOT / "README.md"
START = "<!-- identities:start -->"
END = "<!-- identities:end -->"


def readme_section(text: str) -> str:
    start, end = text.index(START) + len(START), text.index(END)
    return text[start:end].strip()


def outside_section(text: str) -> str:
    """README.md without the generated table (where no scope may be repeated)."""
    return text[: text.index(START)] + text[text.index(END) + len(END) :]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--write", action="store_true", help="rewrite the table in README.md")
    args = parser.parse_args(argv)
    generated = table()
    if not args.write:
        print(generated)
        return 0
    text = README.read_text()
    start, end = text.index(START) + len(START), text.index(END)
    README.write_text(f"{text[:start]}\n{generated}\n{text[end:]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
