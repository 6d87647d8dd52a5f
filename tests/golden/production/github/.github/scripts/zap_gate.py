"""DAST gate of staging validation: fail on new high-risk findings of the ZAP baseline scan.

Reads the JSON report the ZAP baseline scan writes (``report_json.json``: sites, each with
its alerts; ``riskcode`` 3 is High) and fails (exit 1) on every High alert whose rule the
platform repository has not accepted. Accepted rules are the lines ``<rule id>\tIGNORE``
of the scan's rules file (ZAP's own format, e.g. ``.zap/rules.tsv``), each reviewed in a
pull request. "New" therefore means: not reviewed and accepted before. Medium and lower
findings stay in the report (uploaded as an artifact) and do not fail the run.

Standard library only: the workflow runs it with the runner's Python.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

HIGH = "3"


def accepted_rules(rules_file: Path | None) -> set[str]:
    """Rule ids the rules file marks IGNORE (tab-separated: id, action, comment)."""
    if rules_file is None or not rules_file.is_file():
        return set()
    accepted: set[str] = set()
    for line in rules_file.read_text().splitlines():
        if line.startswith("#"):
            continue
        fields = line.split("\t")
        if len(fields) >= 2 and fields[1].strip() == "IGNORE":
            accepted.add(fields[0].strip())
    return accepted


def new_high_findings(report: dict[str, Any], accepted: set[str]) -> list[dict[str, str]]:
    """Every High alert of the report whose rule is not accepted, one entry per site."""
    findings: list[dict[str, str]] = []
    for site in report.get("site", []):
        for alert in site.get("alerts", []):
            if str(alert.get("riskcode")) == HIGH and str(alert.get("pluginid")) not in accepted:
                findings.append(
                    {
                        "site": str(site.get("@name", "")),
                        "rule": str(alert.get("pluginid")),
                        "alert": str(alert.get("alert") or alert.get("name") or ""),
                        "count": str(alert.get("count", "")),
                    }
                )
    return findings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("report", type=Path, help="ZAP's report_json.json")
    parser.add_argument("--rules", type=Path, help="ZAP rules file with the accepted (IGNORE) rules")
    args = parser.parse_args(argv)
    try:
        report = json.loads(args.report.read_text())
    except (FileNotFoundError, ValueError) as error:
        print(f"::error::DAST gate: no readable ZAP report at {args.report}: {error}")
        return 1
    findings = new_high_findings(report, accepted_rules(args.rules))
    summary = os.environ.get("GITHUB_STEP_SUMMARY")
    if summary:
        with open(summary, "a") as handle:
            handle.write(f"### DAST (ZAP baseline): {len(findings)} new high finding(s)\n\n")
            if findings:
                handle.write("| site | rule | alert | instances |\n|---|---|---|---|\n")
                for f in findings:
                    handle.write(f"| {f['site']} | {f['rule']} | {f['alert']} | {f['count']} |\n")
    for f in findings:
        print(f"::error::DAST gate: high finding {f['rule']} ({f['alert']}) on {f['site']}")
    return 1 if findings else 0


if __name__ == "__main__":
    sys.exit(main())
