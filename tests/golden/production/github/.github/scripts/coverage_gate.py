"""Coverage gate of a service's tests (seed 003: above 85 % overall, 95 % on critical paths,
90 % on new code; the thresholds come from ``github.workflows.coverage``).

    python3 coverage_gate.py --report <coverage.xml> --service-dir <dir> \
        --overall 85 --critical 95 --new-code 90 [--critical-path GLOB]... [--base REV]

The test contract: ``make test`` of a service writes a Cobertura XML report (Go through
gocover-cobertura, Python's ``coverage xml``, Jest's ``cobertura`` reporter) whose
``filename`` attributes are relative to the service's directory. Coverage is counted over
lines: covered lines / lines the report lists.

- overall: every line of the report;
- critical paths: the lines of files matching a ``--critical-path`` glob (fnmatch, matched
  against ``/<filename>``, so ``*/auth/*`` also matches a top-level ``auth/``);
- new code: the lines ``git diff --unified=0 <base>`` adds in the service's directory and
  the report lists (lines a report does not list, comments or blank lines, are not code).

Each measured figure must be strictly above its threshold (the seed writes ">85%").
A change that adds no line has no new code to measure, which passes and says so. A report with
no file on a critical path fails: the globs are the stack's guess at the services' layout
(``github.workflows.coverage.criticalPathGlobs``), and a guess that matches nothing would let
the 95 % gate pass forever without measuring anything.
Standard library only: the runner's Python runs it.
"""

from __future__ import annotations

import argparse
import fnmatch
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

Lines = dict[tuple[str, int], bool]  # (file, line) -> covered


def read_report(path: Path) -> Lines:
    if not path.is_file():
        raise SystemExit(f"::error::no coverage report at {path} (the test contract: `make test` writes it)")
    lines: Lines = {}
    root = ET.parse(path).getroot()
    if root.tag != "coverage":
        raise SystemExit(f"::error::{path} is not a Cobertura report (root element {root.tag})")
    for cls in root.iter("class"):
        filename = cls.get("filename", "").lstrip("./")
        for line in cls.iter("line"):
            key = (filename, int(line.get("number", "0")))
            lines[key] = lines.get(key, False) or int(line.get("hits", "0")) > 0
    return lines


_HUNK = re.compile(r"^@@ -\d+(?:,\d+)? \+(\d+)(?:,(\d+))? @@")


def added_lines(base: str, service_dir: str) -> set[tuple[str, int]]:
    """(path relative to the service directory, line) of every line added since ``base``."""
    diff = subprocess.run(
        ["git", "diff", "--unified=0", "--no-color", "--no-ext-diff", base, "--", service_dir],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    prefix = service_dir.rstrip("/") + "/"
    added: set[tuple[str, int]] = set()
    current: str | None = None
    for line in diff.splitlines():
        if line.startswith("+++ "):
            target = line[4:]
            current = target[2:] if target.startswith("b/") else None
            if current is not None and current.startswith(prefix):
                current = current[len(prefix) :]
            continue
        match = _HUNK.match(line)
        if match and current is not None:
            start, count = int(match[1]), int(match[2] if match[2] is not None else "1")
            added.update((current, n) for n in range(start, start + count))
    return added


def percent(lines: Lines) -> float | None:
    if not lines:
        return None
    return 100.0 * sum(lines.values()) / len(lines)


def judge(name: str, measured: float | None, threshold: float) -> bool:
    if measured is None:
        print(f"{name}: nothing to measure")
        return True
    ok = measured > threshold
    print(f"{name}: {measured:.2f} % (must be above {threshold:g} %): {'ok' if ok else 'TOO LOW'}")
    if not ok:
        print(f"::error::{name} coverage {measured:.2f} % is not above {threshold:g} %")
    return ok


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--report", required=True, type=Path)
    parser.add_argument("--service-dir", required=True)
    parser.add_argument("--overall", required=True, type=float)
    parser.add_argument("--critical", required=True, type=float)
    parser.add_argument("--new-code", required=True, type=float)
    parser.add_argument("--critical-path", action="append", default=[])
    parser.add_argument(
        "--base", default="", help="revision new code is counted from; empty: no new-code check"
    )
    args = parser.parse_args(argv)

    lines = read_report(args.report)
    critical = {
        key: covered
        for key, covered in lines.items()
        if any(fnmatch.fnmatchcase("/" + key[0], pattern) for pattern in args.critical_path)
    }
    if args.critical_path and lines and not critical:
        print(
            f"::error::no file of {args.report} is on a critical path ({', '.join(args.critical_path)}): "
            "name this service's critical paths in github.workflows.coverage.criticalPathGlobs"
        )
        return 1
    new: Lines = {}
    if args.base:
        new = {key: lines[key] for key in added_lines(args.base, args.service_dir) if key in lines}
    results = [
        judge("overall", percent(lines) if lines else 0.0, args.overall),
        judge("critical paths", percent(critical), args.critical),
        judge("new code", percent(new), args.new_code),
    ]
    return 0 if all(results) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
