"""``security.yml``: CodeQL, Semgrep, trivy, gitleaks and dependency review (seeds 001-004).

Runs on every push to ``main``, every pull request and daily at 02:00 UTC (new advisories
surface in unchanged code). Findings go to code scanning as SARIF where the repository has
it; the gate fails the pull request on a blocking finding.

SAST blocks (seed 003: "0 critical/high" blocks the pipeline) twice over: CodeQL (one leg
per language the services use, ``services.<name>.language``, plus the workflows themselves)
and Semgrep (every language) each fail their job on a high or critical finding
(``.github/scripts/sarif_gate.py`` judges the SARIF as code scanning does), so
``security-gate`` fails; and the ruleset's code-scanning rule (``repository_governance``)
blocks the merge on the same findings from the uploaded results. A nightly failure is
sent to Slack.
"""

from __future__ import annotations

from components.github.workflows.common import (
    READ,
    checkout,
    gate_job,
    gitleaks_steps,
    notify_job,
    scanning_permissions,
    supersede_pull_request_runs,
    trivy_fs_steps,
    upload_sarif,
)
from components.github.workflows.model import (
    Job,
    MergeGroup,
    PullRequest,
    Push,
    Step,
    Strategy,
    Triggers,
    Workflow,
)
from components.github.workflows.pins import action
from components.github.workflows.scripts import SARIF_GATE, SCRIPTS_DIR, SEMGREP_LOCK
from components.github.workflows.settings import Settings
from components.github.workflows.toolchain import PIP_LOCKED

FILE = "security.yml"
# Where CodeQL's analyze step writes its SARIF for the gate (besides uploading it).
CODEQL_OUTPUT = "${{ runner.temp }}/codeql-sarif"
# Code-scanning tool names as the SARIF reports name their driver (``runs[].tool.driver.name``);
# the ruleset's code-scanning rule requires results from each (repository_governance).
CODEQL_TOOL = "CodeQL"
SEMGREP_TOOL = "Semgrep OSS"
SAST_TOOLS = (CODEQL_TOOL, SEMGREP_TOOL)
# Semgrep registry rulesets per CodeQL language name; p/security-audit for every service.
SEMGREP_RULESETS: dict[str, tuple[str, ...]] = {
    "go": ("p/golang",),
    "python": ("p/python", "p/bandit"),
    "javascript-typescript": ("p/javascript", "p/typescript", "p/nodejsscan"),
}
FAILED_ON_MAIN_OR_SCHEDULE = (
    "failure() && github.ref == 'refs/heads/main' "
    "&& (github.event_name == 'schedule' || github.event_name == 'push')"
)

SEMGREP_INSTALL_SCRIPT = f"""set -euo pipefail
# Semgrep and every package under it from the hash lock beside the gate scripts (`make lock`).
python -m venv "$RUNNER_TEMP/semgrep"
"$RUNNER_TEMP/semgrep/bin/pip" install {PIP_LOCKED} --requirement "$LOCK"
echo "$RUNNER_TEMP/semgrep/bin" >> "$GITHUB_PATH"
"""

SEMGREP_SCRIPT = r"""set -euo pipefail
# RULESETS: registry rulesets, space-separated. Every finding of every severity goes to the
# SARIF report (exit 0 with findings); the gate step after the upload judges them. No
# metrics leave the runner.
read -r -a rulesets <<<"$RULESETS"
args=()
for ruleset in "${rulesets[@]}"; do args+=(--config "$ruleset"); done
semgrep --version
semgrep scan "${args[@]}" --metrics off --sarif --output semgrep.sarif .
"""

SARIF_GATE_SCRIPT = r"""set -euo pipefail
# REPORTS: a SARIF file or a directory of them; TOOL: the scanner, for the log.
echo "judging $TOOL findings in $REPORTS"
python3 "$GATE" --block high "$REPORTS"
"""


def sarif_gate_step(tool: str, reports: str) -> Step:
    """Fail the job on a high or critical finding in ``reports`` (as code scanning judges it)."""
    return Step(
        name=f"Fail on high or critical findings ({tool})",
        env={"GATE": f"{SCRIPTS_DIR}/{SARIF_GATE}", "REPORTS": reports, "TOOL": tool},
        run=SARIF_GATE_SCRIPT,
    )


def codeql_languages(settings: Settings) -> tuple[str, ...]:
    """The services' languages, then the workflows (``actions``)."""
    return (*settings.languages, "actions")


def semgrep_rulesets(settings: Settings) -> tuple[str, ...]:
    return ("p/security-audit", *(r for lang in settings.languages for r in SEMGREP_RULESETS[lang]))


GATE = "security-gate"
DAILY_0200_UTC = "0 2 * * *"


def workflow(settings: Settings) -> Workflow:
    languages = codeql_languages(settings)
    codeql = Job(
        id="codeql",
        # CodeQL reads the run's metadata (actions: read) and uploads results.
        permissions={"actions": "read", "contents": "read", "security-events": "write"},
        timeout_minutes=30,
        # Go is compiled by CodeQL's autobuild; Python, JavaScript/TypeScript and the workflows
        # themselves are analysed from source.
        strategy=Strategy(matrix={"language": languages}),
        steps=(
            checkout(),
            *(
                (
                    Step(
                        name="Set up Go",
                        if_="matrix.language == 'go'",
                        uses=action("actions/setup-go"),
                        with_={"go-version": settings.workflows.go_version, "cache": False},
                    ),
                )
                if "go" in languages
                else ()
            ),
            Step(
                name="Initialise CodeQL",
                uses=action("github/codeql-action/init"),
                with_={
                    "languages": "${{ matrix.language }}",
                    "build-mode": "${{ matrix.language == 'go' && 'autobuild' || 'none' }}",
                    "queries": "security-extended",
                },
            ),
            Step(
                name="Analyse",
                uses=action("github/codeql-action/analyze"),
                with_={"category": "/language:${{ matrix.language }}", "output": CODEQL_OUTPUT},
            ),
            sarif_gate_step("CodeQL", CODEQL_OUTPUT),
        ),
    )
    semgrep = Job(
        id="semgrep",
        permissions=scanning_permissions(settings),
        timeout_minutes=30,
        steps=(
            checkout(),
            # The Python the lock was compiled for (`make lock`; github.workflows.pythonVersion).
            Step(
                name="Set up Python",
                uses=action("actions/setup-python"),
                with_={"python-version": settings.workflows.python_version},
            ),
            Step(
                name="Install Semgrep (hash-locked)",
                env={"LOCK": f"{SCRIPTS_DIR}/{SEMGREP_LOCK}"},
                run=SEMGREP_INSTALL_SCRIPT,
            ),
            Step(
                name="Scan the services' sources (Semgrep)",
                env={"RULESETS": " ".join(semgrep_rulesets(settings))},
                run=SEMGREP_SCRIPT,
            ),
            *((upload_sarif("semgrep.sarif", "semgrep"),) if settings.code_scanning else ()),
            sarif_gate_step("Semgrep", "semgrep.sarif"),
        ),
    )
    trivy = Job(
        id="trivy",
        permissions=scanning_permissions(settings),
        timeout_minutes=20,
        steps=(checkout(), *trivy_fs_steps(settings)),
    )
    gitleaks = Job(
        id="gitleaks",
        permissions=scanning_permissions(settings),
        timeout_minutes=20,
        # The whole history: a secret removed in a later commit is still leaked.
        steps=(checkout(fetch_depth=0), *gitleaks_steps(settings)),
    )
    dependency_review = Job(
        id="dependency-review",
        if_="github.event_name == 'pull_request'",
        permissions=READ,
        timeout_minutes=10,
        steps=(
            checkout(),
            Step(
                name="Review new dependencies",
                uses=action("actions/dependency-review-action"),
                with_={"fail-on-severity": "high"},
            ),
        ),
    )
    # CodeQL and dependency review need GitHub code scanning: where the plan lacks it they
    # are left out, and the gate judges what runs.
    judged = (
        (codeql, semgrep, trivy, gitleaks, dependency_review)
        if settings.code_scanning
        else (semgrep, trivy, gitleaks)
    )
    return Workflow(
        file=FILE,
        name="Security",
        on=Triggers(
            push=Push(branches=("main",)),
            pull_request=PullRequest(),
            merge_group=MergeGroup(),
            schedule=(DAILY_0200_UTC,),
        ),
        permissions={"contents": "read"},
        concurrency=supersede_pull_request_runs(),
        jobs=(
            *judged,
            gate_job(GATE, judged),
            # The nightly scan and main's runs tell Slack when they fail (issue 19).
            notify_job("security", judged, if_=FAILED_ON_MAIN_OR_SCHEDULE),
        ),
    )
