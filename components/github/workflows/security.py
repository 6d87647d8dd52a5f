"""``security.yml``: CodeQL, trivy, gitleaks and dependency review (seeds 001, 003, 004).

Runs on every push to ``main``, every pull request and daily at 02:00 UTC (new advisories
surface in unchanged code). Findings go to code scanning as SARIF where the repository has
it; the gate fails the pull request on a blocking finding.
"""

from __future__ import annotations

from components.github.workflows.common import (
    READ,
    checkout,
    gate_job,
    gitleaks_steps,
    scanning_permissions,
    setup_go,
    supersede_pull_request_runs,
    trivy_fs_steps,
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
from components.github.workflows.settings import Settings

FILE = "security.yml"
GATE = "security-gate"
DAILY_0200_UTC = "0 2 * * *"


def workflow(settings: Settings) -> Workflow:
    codeql = Job(
        id="codeql",
        # CodeQL reads the run's metadata (actions: read) and uploads results.
        permissions={"actions": "read", "contents": "read", "security-events": "write"},
        timeout_minutes=30,
        # Go is compiled by CodeQL's autobuild; the workflows themselves are analysed too.
        strategy=Strategy(matrix={"language": ("go", "actions")}),
        steps=(
            checkout(),
            setup_go(settings, cache=False),
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
                with_={"category": "/language:${{ matrix.language }}"},
            ),
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
    judged = (codeql, trivy, gitleaks, dependency_review) if settings.code_scanning else (trivy, gitleaks)
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
        jobs=(*judged, gate_job(GATE, judged)),
    )
