"""Seed 003's blocking gates, computed from the rendered workflows and main's ruleset: a
code-scanning high, an image CRITICAL and coverage under the threshold each stop the pipeline.

The semantics relied on (GitHub docs):
- a job whose `needs` failed is skipped unless its `if` says otherwise ("Using jobs in a
  workflow", docs.github.com/en/actions/using-jobs/using-jobs-in-a-workflow); the gate job
  runs always and fails when a needed job did not succeed (common.GATE_SCRIPT);
- a ruleset's required status checks must pass before a pull request merges ("Available
  rules for rulesets: Require status checks to pass", docs.github.com/en/repositories/
  configuring-branches-and-merges-in-your-repository/managing-rulesets/available-rules-for-rulesets);
- the code-scanning rule blocks the merge while a required tool has an alert at or above its
  threshold or has not analysed the pull request ("Set code scanning merge protection",
  docs.github.com/en/code-security/code-scanning/managing-your-code-scanning-configuration/
  set-code-scanning-merge-protection);
- a job naming an environment with required reviewers waits until one approves, and the
  review is recorded ("Deployments and environments: Required reviewers",
  docs.github.com/en/actions/reference/workflows-and-actions/deployments-and-environments).

Each step's `run` is taken from the rendered YAML and run by bash with its rendered `env`
(expressions replaced by the case's values); scanners are replaced by stubs that write the
report a real run would.
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from components.github.repository_governance import main_ruleset_rules
from components.github.workflows import (
    ci,
    delivery,
    required_code_scanning_tools,
    required_status_checks,
    reusable_build,
    security,
)
from components.github.workflows.common import GATE_SCRIPT
from components.github.workflows.render import render
from components.github.workflows.settings import REFERENCE
from tests.support.paths import ROOT

pytestmark = pytest.mark.slow

SCRIPTS = ROOT / "components" / "github" / "workflows" / "scripts"


def rendered(module: Any) -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load(render(module.workflow(REFERENCE)))
    return document


def step(job: dict[str, Any], name_part: str) -> dict[str, Any]:
    [found] = [s for s in job["steps"] if name_part in s["name"]]
    return found


def run_step(found: dict[str, Any], env: dict[str, str], cwd: Path, path: str = "/usr/bin:/bin") -> int:
    full = {k: str(v) for k, v in found.get("env", {}).items()}
    full.update(env)
    full.setdefault("GITHUB_OUTPUT", str(cwd / "github-output"))
    full.setdefault("GITHUB_STEP_SUMMARY", str(cwd / "summary.md"))
    full.setdefault("RUNNER_TEMP", str(cwd / "runner-temp"))
    (cwd / "runner-temp").mkdir(exist_ok=True)
    full["PATH"] = path
    done = subprocess.run(
        ["bash", "-c", found["run"]],
        env=full,
        cwd=cwd,
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    print(done.stdout, done.stderr)
    return done.returncode


def gate_fails(needs: dict[str, str]) -> bool:
    done = subprocess.run(
        ["bash", "-c", GATE_SCRIPT],
        env={
            "NEEDS": json.dumps({k: {"result": v} for k, v in needs.items()}),
            "MAY_SKIP": "[]",
            "PATH": "/usr/bin:/bin",
        },
        capture_output=True,
        text=True,
        check=False,
    )
    return done.returncode != 0


def evaluate(condition: str, needs: dict[str, dict[str, Any]]) -> bool:
    """The few GitHub expressions the delivery jobs use, evaluated as GitHub does."""
    expr = condition.replace("!cancelled()", "True").replace("&&", " and ").replace("||", " or ")

    def lookup(match: re.Match[str]) -> str:
        job, kind, key = match.group(1), match.group(2), match.group(3)
        value = needs[job]["result"] if kind == "result" else needs[job]["outputs"][key]
        return repr(value)

    expr = re.sub(r"needs\.([a-z-]+)\.(result|outputs)(?:\.([a-z]+))?", lookup, expr)
    return bool(eval(expr, {"__builtins__": {}}, {"True": True}))  # the rendered text of our own workflow


# --------------------------------------------------------------------------- code scanning


def sarif(tool: str, score: str | None, level: str = "warning") -> dict[str, Any]:
    rule: dict[str, Any] = {"id": "r1", "defaultConfiguration": {"level": level}}
    if score is not None:
        rule["properties"] = {"security-severity": score}
    return {
        "version": "2.1.0",
        "runs": [
            {
                "tool": {"driver": {"name": tool, "rules": [rule]}},
                "results": [
                    {
                        "ruleId": "r1",
                        "message": {"text": "finding"},
                        "locations": [
                            {
                                "physicalLocation": {
                                    "artifactLocation": {"uri": "a.go"},
                                    "region": {"startLine": 3},
                                }
                            }
                        ],
                    }
                ],
            }
        ],
    }


@pytest.mark.parametrize(
    ("score", "level", "blocks"),
    [
        ("7.0", "warning", True),
        ("9.8", "warning", True),
        ("6.9", "warning", False),
        (None, "error", True),
        (None, "warning", False),
    ],
)
def test_a_code_scanning_high_stops_the_pull_request(
    tmp_path: Path, score: str | None, level: str, blocks: bool
) -> None:
    workflow = rendered(security)
    assert "pull_request" in workflow[True]  # PyYAML reads the key `on` as YAML 1.1 true
    rules = main_ruleset_rules(
        required_status_checks(), code_scanning_tools=required_code_scanning_tools(REFERENCE)
    )
    # The ruleset requires results of both SAST tools, blocking from high.
    tools = {t.tool: t for t in rules.required_code_scanning.required_code_scanning_tools}  # type: ignore[union-attr]
    assert set(tools) == {security.CODEQL_TOOL, security.SEMGREP_TOOL}
    assert {t.security_alerts_threshold for t in tools.values()} == {"high_or_higher"}
    assert {t.alerts_threshold for t in tools.values()} == {"errors"}
    gate = next(j for j in workflow["jobs"].values() if j.get("name") == security.GATE)
    assert security.GATE in required_status_checks()
    for job_id, tool in (("codeql", security.CODEQL_TOOL), ("semgrep", security.SEMGREP_TOOL)):
        job = workflow["jobs"][job_id]
        assert job_id in gate["needs"]
        report = tmp_path / f"{job_id}.sarif"
        report.write_text(json.dumps(sarif(tool, score, level)))
        found = step(job, "Fail on high or critical findings")
        status = run_step(found, {"GATE": str(SCRIPTS / "sarif_gate.py"), "REPORTS": str(report)}, tmp_path)
        assert (status != 0) is blocks, f"{job_id}: {score}/{level}"
        assert gate_fails({job_id: "failure" if status else "success"}) is blocks


# --------------------------------------------------------------------------- images

STUB_SKOPEO = '#!/bin/bash\nfor a in "$@"; do last="$a"; done\ntouch "${last#oci-archive:}"\n'
STUB_TRIVY = r"""#!/bin/bash
# image ... --output <json>: the case's findings; convert --format sarif --output <f> <json>
if [[ "$1" == image ]]; then
  while [[ $# -gt 0 ]]; do [[ "$1" == --output ]] && out="$2"; shift; done
  jq -n --arg sev "$SEVERITY" '{Results: [{Vulnerabilities: ($sev | split(" ") | map({VulnerabilityID: "CVE-1", Severity: .}))}]}' > "$out"
elif [[ "$1" == convert ]]; then
  out=""; while [[ $# -gt 0 ]]; do [[ "$1" == --output ]] && out="$2"; shift; done
  [[ -n "$out" ]] && echo '{"version": "2.1.0", "runs": [{"tool": {"driver": {"name": "Trivy"}}, "results": []}]}' > "$out"
fi
exit 0
"""


@pytest.mark.parametrize("severity", ["CRITICAL HIGH", "HIGH"])
def test_an_image_critical_stops_delivery_and_a_high_waits_for_a_production_approver(
    tmp_path: Path, severity: str
) -> None:
    workflow = rendered(delivery)
    jobs = workflow["jobs"]
    stubs = tmp_path / "bin"
    stubs.mkdir()
    for name, text in (("skopeo", STUB_SKOPEO), ("trivy", STUB_TRIVY)):
        (stubs / name).write_text(text)
        (stubs / name).chmod(0o755)
    scan = step(jobs["images"], "Scan every platform")
    status = run_step(
        scan,
        {"ARCHIVE": str(tmp_path / "image.tar"), "SERVICE": "billing", "SEVERITY": severity},
        tmp_path,
        f"{stubs}:/usr/bin:/bin",
    )
    findings = (tmp_path / "image-scan" / "findings.jsonl").read_text().splitlines()
    # Every platform of the multi-arch image was scanned, each with its own SARIF category.
    assert [json.loads(line)["platform"] for line in findings] == list(REFERENCE.workflows.image_platforms)
    for platform in REFERENCE.workflows.image_platforms:
        report = json.loads(
            (tmp_path / "image-scan" / f"billing-{platform.replace('/', '-')}.sarif").read_text()
        )
        assert (
            report["runs"][0]["automationDetails"]["id"]
            == f"trivy-image/billing/{platform.replace('/', '-')}/"
        )
    assert scan["env"]["PLATFORMS"].split() == list(REFERENCE.workflows.image_platforms)

    # The verdict on highs, from the same reports as image-findings reads them.
    reports = tmp_path / "downloaded"
    (reports / "image-scan-billing").mkdir(parents=True)
    (reports / "image-scan-billing" / "findings.jsonl").write_text("\n".join(findings) + "\n")
    output = tmp_path / "findings-output"
    assert (
        run_step(
            step(jobs["image-findings"], "Count high"),
            {"REPORTS": str(reports), "GITHUB_OUTPUT": str(output)},
            tmp_path,
        )
        == 0
    )
    high = output.read_text().strip().removeprefix("high=")

    needs: dict[str, dict[str, Any]] = {
        "discover": {"result": "success", "outputs": {"services": '["billing"]'}},
        "images": {"result": "failure" if status else "success", "outputs": {}},
        "image-findings": {"result": "success", "outputs": {"high": high}},
    }
    accept = jobs["accept-high-findings"]
    assert accept["environment"] == "image-risk-acceptance"
    accept_runs = evaluate(accept["if"], needs)
    needs["accept-high-findings"] = {"result": "skipped", "outputs": {}}
    publish = jobs["publish"]
    deploys = [j for j in jobs if j.startswith("deploy-")]
    assert all(set(jobs[d]["needs"]) & {"publish", *deploys} for d in deploys)
    if "CRITICAL" in severity:
        assert status != 0, "a critical finding fails the scan"
        assert not accept_runs, "no approver is asked about an image that cannot be published"
        assert not evaluate(publish["if"], needs), "nothing is published, so nothing deploys"
    else:
        assert status == 0 and high == "true" and accept_runs
        # Until the approver accepts (the job waits on the environment's reviewers), nothing publishes.
        assert not evaluate(publish["if"], needs)
        needs["accept-high-findings"]["result"] = "success"
        assert evaluate(publish["if"], needs)


# --------------------------------------------------------------------------- coverage


def cobertura(covered: int, total: int, filename: str = "internal/api/handler.go", critical: int = 0) -> str:
    """A report of ``total`` lines, ``covered`` of them covered; ``critical`` of them (all
    covered) in ``internal/billing/ledger.go``, on the default globs' `*/billing/*`."""

    def klass(name: str, covered: int, total: int) -> str:
        lines = "".join(
            f'<line number="{n}" hits="{1 if n <= covered else 0}"/>' for n in range(1, total + 1)
        )
        return f'<class name="c" filename="{name}"><lines>{lines}</lines></class>'

    classes = klass(filename, covered - critical, total - critical)
    if critical:
        classes += klass("internal/billing/ledger.go", critical, critical)
    return (
        '<?xml version="1.0"?><coverage line-rate="0"><packages><package name="p"><classes>'
        f"{classes}</classes></package></packages></coverage>"
    )


@pytest.mark.parametrize(("covered", "passes"), [(84, False), (85, False), (86, True)])
def test_coverage_under_the_threshold_stops_ci(tmp_path: Path, covered: int, passes: bool) -> None:
    workflow = yaml.safe_load(render(reusable_build.workflow(REFERENCE)))
    coverage = step(workflow["jobs"]["make"], "Coverage above")
    assert coverage["if"] == "inputs.target == 'test'"
    ci_workflow = rendered(ci)
    test_job = ci_workflow["jobs"]["test"]
    assert test_job["uses"] == reusable_build.CALL and test_job["with"]["target"] == "test"
    gate = next(j for j in ci_workflow["jobs"].values() if j.get("name") == ci.GATE)
    assert "test" in gate["needs"] and ci.GATE in required_status_checks()

    service = tmp_path / REFERENCE.workflows.services_path / "billing"
    service.mkdir(parents=True)
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@example.invalid"]
    subprocess.run([*git, "init", "-q"], cwd=tmp_path, check=True)
    (service / "Makefile").write_text("test:\n")
    subprocess.run([*git, "add", "-A"], cwd=tmp_path, check=True)
    subprocess.run([*git, "commit", "-qm", "base"], cwd=tmp_path, check=True)
    (service / REFERENCE.workflows.coverage.report).write_text(cobertura(covered, 100, critical=20))
    status = run_step(coverage, {"SERVICE": "billing", "GATE": str(SCRIPTS / "coverage_gate.py")}, tmp_path)
    assert (status == 0) is passes
    assert gate_fails({"test": "success" if status == 0 else "failure"}) is not passes


def test_critical_paths_and_new_code_have_their_own_thresholds(tmp_path: Path) -> None:
    """94 % on a critical path fails although the whole is above 85 %; so do 89 % of new lines."""
    report = tmp_path / "coverage.xml"
    gate = SCRIPTS / "coverage_gate.py"
    common = ["--service-dir", ".", "--overall", "85", "--critical", "95", "--new-code", "90"]
    report.write_text(cobertura(94, 100, "internal/auth/token.go"))
    done = subprocess.run(
        ["python3", str(gate), "--report", str(report), *common, "--critical-path", "*/auth/*"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 1 and "critical paths coverage 94.00 %" in done.stdout
    report.write_text(cobertura(96, 100, "internal/auth/token.go"))
    done = subprocess.run(
        ["python3", str(gate), "--report", str(report), *common, "--critical-path", "*/auth/*"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout


def test_critical_path_globs_that_match_nothing_fail_instead_of_measuring_nothing(tmp_path: Path) -> None:
    """A report without a file on a critical path would pass the 95 % gate without measuring a
    line; the gate fails and names the config key instead."""
    report = tmp_path / "coverage.xml"
    report.write_text(cobertura(99, 100, "internal/api/handler.go"))
    globs = [a for g in REFERENCE.workflows.coverage.critical_path_globs for a in ("--critical-path", g)]
    done = subprocess.run(
        [
            "python3",
            str(SCRIPTS / "coverage_gate.py"),
            "--report",
            str(report),
            "--service-dir",
            ".",
            "--overall",
            "85",
            "--critical",
            "95",
            "--new-code",
            "90",
            *globs,
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 1 and "github.workflows.coverage.criticalPathGlobs" in done.stdout, done.stdout


def test_the_sarif_gate_reads_codeql_rules_from_extensions_and_skips_reviewed_suppressions(
    tmp_path: Path,
) -> None:
    """CodeQL lists its rules under `tool.extensions` (query packs); a suppression accepted in
    review (SARIF `suppressions`) no longer blocks, a rejected one still does."""
    rule = {"id": "go/sql-injection", "properties": {"security-severity": "8.8"}}
    result = {"ruleId": "go/sql-injection", "message": {"text": "x"}}
    report: dict[str, Any] = {
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {"name": "CodeQL"},
                    "extensions": [{"name": "codeql/go-queries", "rules": [rule]}],
                },
                "results": [result],
            }
        ],
    }
    path = tmp_path / "go.sarif"
    gate = ["python3", str(SCRIPTS / "sarif_gate.py"), "--block", "high", str(tmp_path)]
    path.write_text(json.dumps(report))
    assert subprocess.run(gate, capture_output=True, check=False).returncode == 1
    result["suppressions"] = [{"kind": "inSource", "status": "accepted"}]
    path.write_text(json.dumps(report))
    assert subprocess.run(gate, capture_output=True, check=False).returncode == 0
    result["suppressions"] = [{"kind": "external", "status": "rejected"}]
    path.write_text(json.dumps(report))
    assert subprocess.run(gate, capture_output=True, check=False).returncode == 1
    # No report at all is not a pass.
    path.unlink()
    assert subprocess.run(gate, capture_output=True, check=False).returncode == 1
