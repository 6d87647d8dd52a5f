"""``ci.yml``: build, test, lint and scan the services a change touches (seeds 000, 001).

Shape on a pull request: ``discover`` -> build/test/lint (matrix over the changed
services, through ``reusable-build.yml``) and ``scan`` -> ``gate``; ``metrics`` runs
whatever happened. The critical path is three jobs. On ``main`` every service is built.
"""

from __future__ import annotations

from components.github import ci_contract
from components.github.workflows import reusable_build
from components.github.workflows.common import (
    ANY_SERVICE,
    READ,
    checkout,
    discover_job,
    event_recorder_checkout,
    gate_job,
    gitleaks_steps,
    notify_job,
    pipeline_run_step,
    scanning_permissions,
    services_matrix,
    setup_go,
    supersede_pull_request_runs,
    trivy_fs_steps,
    upload_events_step,
)
from components.github.workflows.model import (
    ALWAYS,
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

FILE = "ci.yml"
GATE = "ci-gate"
METRICS_ON_MAIN = f"{ALWAYS} && github.ref == 'refs/heads/main'"
# A failed run of main itself (not a pull request or a queue entry) is told to Slack.
FAILED_ON_MAIN_PUSH = "failure() && github.ref == 'refs/heads/main' && github.event_name == 'push'"


def pipeline_jobs(settings: Settings, discover: Job, *, workflow_name: str, gate: str) -> tuple[Job, ...]:
    """Discovery, build, test, lint, scan, metrics and gate: shared by ci and ci-remote."""
    needs = (discover.id,)
    build = reusable_build.call(
        settings, "build", "build", needs=needs, if_=ANY_SERVICE, matrix_service=services_matrix()
    )
    test = reusable_build.call(
        settings, "test", "test", needs=needs, if_=ANY_SERVICE, matrix_service=services_matrix()
    )
    lint = Job(
        id="lint",
        needs=needs,
        if_=ANY_SERVICE,
        permissions=READ,
        timeout_minutes=15,
        strategy=Strategy(matrix={"service": services_matrix()}),
        steps=(
            checkout(),
            setup_go(settings),
            Step(
                name="golangci-lint",
                uses=action("golangci/golangci-lint-action"),
                with_={
                    "version": settings.workflows.golangci_lint_version,
                    # Built with `go install`: the Go checksum database verifies every module,
                    # where the default mode downloads a release binary.
                    "install-mode": "goinstall",
                    "working-directory": f"{settings.workflows.services_path}/${{{{ matrix.service }}}}",
                },
            ),
        ),
    )
    scan = Job(
        id="scan",
        permissions=scanning_permissions(settings),
        timeout_minutes=20,
        steps=(
            checkout(fetch_depth=0),
            # On a pull request, the commits it adds (the merge commit's second parent
            # side); otherwise the whole history.
            *gitleaks_steps(
                settings, log_opts="${{ github.event_name == 'pull_request' && 'HEAD^1..HEAD^2' || '' }}"
            ),
            *trivy_fs_steps(settings),
        ),
    )
    judged = (discover, build, test, lint, scan)
    metrics = Job(
        id="metrics",
        needs=tuple(j.id for j in judged),
        # Only on main, in the environment that holds the bucket's write key and deploys from
        # main only: pull requests, merge-queue entries and runs on other refs keep no metrics.
        if_=METRICS_ON_MAIN,
        environment=ci_contract.CI_MAIN_ENVIRONMENT,
        advisory=True,
        # actions: read lists the run's jobs; contents: read checks out the recorder.
        permissions={"actions": "read", "contents": "read"},
        timeout_minutes=5,
        steps=(
            # The run as a `pipeline_run` delivery event: every job's timing and result, the
            # run's queue and start times (docs/dora-metrics.md).
            event_recorder_checkout(),
            pipeline_run_step(workflow_name),
            upload_events_step(settings, workflow_name),
        ),
    )
    return (*judged, metrics, gate_job(gate, judged))


def workflow(settings: Settings) -> Workflow:
    discover = discover_job(
        settings,
        select="${{ github.event_name == 'pull_request' && 'pr' || 'all' }}",
        # A pull request is checked out as its merge commit: HEAD^1 is the base branch.
        fetch_depth=2,
        make_help=True,
    )
    jobs = pipeline_jobs(settings, discover, workflow_name="ci", gate=GATE)
    return Workflow(
        file=FILE,
        name="CI",
        on=Triggers(push=Push(branches=("main",)), pull_request=PullRequest(), merge_group=MergeGroup()),
        permissions={"contents": "read"},
        concurrency=supersede_pull_request_runs(),
        jobs=(*jobs, notify_job("ci", jobs, if_=FAILED_ON_MAIN_PUSH)),
    )
