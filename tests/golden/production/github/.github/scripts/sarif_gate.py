"""Fail when a SARIF report holds a finding at or above the blocking severity (seed 003:
"0 critical/high" blocks the pipeline).

    python3 sarif_gate.py [--block high|critical] <file-or-directory>...

Severity is judged as GitHub code scanning judges it, so the job fails on exactly the
findings the ruleset's code-scanning rule blocks a merge on:

- a rule's ``properties.security-severity`` score makes the result a security alert:
  critical above 9.0, high from 7.0 to 8.9, medium from 4.0, low below ("About code
  scanning alerts", Security severity levels, docs.github.com);
- a result without that score is an ordinary alert and blocks when its level (the result's
  ``level``, else its rule's ``defaultConfiguration.level``, else ``warning``: SARIF 2.1.0
  section 3.27.10) is ``error``.

Suppressed results (``suppressions`` present, none of them rejected) do not count: that is
how a reviewed false positive is recorded in the source. Standard library only: the
runner's Python runs it.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

# Lower bounds of GitHub's security severity levels.
CRITICAL = 9.0
HIGH = 7.0
BLOCK_AT = {"critical": CRITICAL, "high": HIGH}


def _reports(paths: list[str]) -> Iterator[Path]:
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            yield from sorted(path.rglob("*.sarif"))
        elif path.is_file():
            yield path
        else:
            raise SystemExit(f"::error::no SARIF report at {raw}")


def _rules(run: dict[str, Any]) -> dict[str, dict[str, Any]]:
    driver = run.get("tool", {}).get("driver", {})
    rules: dict[str, dict[str, Any]] = {}
    for component in (driver, *run.get("tool", {}).get("extensions", [])):
        for rule in component.get("rules", []) or []:
            if "id" in rule:
                rules[rule["id"]] = rule
    return rules


def _rule_of(result: dict[str, Any], run: dict[str, Any], rules: dict[str, dict[str, Any]]) -> dict[str, Any]:
    rule_id = result.get("ruleId") or (result.get("rule") or {}).get("id")
    if rule_id in rules:
        return rules[rule_id]
    index = (result.get("rule") or {}).get("index", result.get("ruleIndex"))
    driver_rules = run.get("tool", {}).get("driver", {}).get("rules", []) or []
    if isinstance(index, int) and 0 <= index < len(driver_rules):
        rule: dict[str, Any] = driver_rules[index]
        return rule
    return {}


def _suppressed(result: dict[str, Any]) -> bool:
    suppressions: list[dict[str, Any]] = result.get("suppressions") or []
    return bool(suppressions) and all(s.get("status", "accepted") != "rejected" for s in suppressions)


def blocking(report: dict[str, Any], block_at: float) -> list[str]:
    """One line per result that blocks: tool, rule, severity, location."""
    found = []
    for run in report.get("runs", []):
        tool = run.get("tool", {}).get("driver", {}).get("name", "?")
        rules = _rules(run)
        for result in run.get("results", []) or []:
            if _suppressed(result):
                continue
            rule = _rule_of(result, run, rules)
            score_text = (rule.get("properties") or {}).get("security-severity")
            if score_text is not None:
                score = float(score_text)
                if score < block_at:
                    continue
                severity = f"security-severity {score}"
            else:
                level = result.get("level") or (rule.get("defaultConfiguration") or {}).get(
                    "level", "warning"
                )
                if level != "error":
                    continue
                severity = "level error"
            location = "?"
            locations = result.get("locations") or []
            if locations:
                physical = locations[0].get("physicalLocation", {})
                uri = physical.get("artifactLocation", {}).get("uri", "?")
                line = physical.get("region", {}).get("startLine", "?")
                location = f"{uri}:{line}"
            rule_id = result.get("ruleId") or rule.get("id", "?")
            found.append(f"{tool} {rule_id} ({severity}) at {location}")
    return found


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--block", choices=sorted(BLOCK_AT), default="high")
    parser.add_argument("reports", nargs="+")
    args = parser.parse_args(argv)
    found: list[str] = []
    count = 0
    for path in _reports(args.reports):
        count += 1
        found.extend(blocking(json.loads(path.read_text()), BLOCK_AT[args.block]))
    if count == 0:
        print("::error::no SARIF report to judge")
        return 1
    for line in found:
        print(f"::error::{line}")
    if found:
        print(f"{len(found)} finding(s) at {args.block} or above in {count} report(s)")
        return 1
    print(f"no finding at {args.block} or above in {count} report(s)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
