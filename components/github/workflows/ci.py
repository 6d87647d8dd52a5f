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
    OBJECT_STORAGE_ENV,
    READ,
    checkout,
    discover_job,
    gate_job,
    gitleaks_steps,
    notify_job,
    scanning_permissions,
    secret,
    services_matrix,
    setup_go,
    supersede_pull_request_runs,
    trivy_fs_steps,
    variable,
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

METRICS_SCRIPT = r"""set -euo pipefail
# Build metrics of this run: every job's timing (GitHub API) and the needed jobs' results.
gh api --paginate "repos/$REPO/actions/runs/$RUN_ID/attempts/$RUN_ATTEMPT/jobs" \
  --jq '.jobs[] | {name, status, conclusion, started_at, completed_at}' \
  | jq -s --arg workflow "$WORKFLOW" --arg repo "$REPO" --arg run "$RUN_ID" \
      --arg attempt "$RUN_ATTEMPT" --arg event "$EVENT" --arg sha "$SHA" --arg ref "$REF" \
      --argjson needs "$NEEDS" \
      '{workflow: $workflow, repository: $repo, run_id: $run, attempt: $attempt, event: $event,
        sha: $sha, ref: $ref, results: ($needs | map_values(.result)), jobs: .}' > metrics.json
if [[ -z "${AWS_ACCESS_KEY_ID:-}" ]]; then
  # The key is a secret of the ci-main environment; without it nothing is uploaded.
  echo "::notice::no metrics credentials in this run; not uploading"
  exit 0
fi
key="ci/$WORKFLOW/$(date -u +%Y/%m/%d)/$RUN_ID-$RUN_ATTEMPT.json"
aws s3 cp metrics.json "s3://$BUCKET/$key" --endpoint-url "$ENDPOINT" --region "$REGION" --only-show-errors
echo "uploaded s3://$BUCKET/$key"
"""


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
        permissions={"actions": "read"},
        timeout_minutes=5,
        steps=(
            Step(
                name="Upload build metrics",
                env={
                    "GH_TOKEN": "${{ github.token }}",
                    "NEEDS": "${{ toJSON(needs) }}",
                    "WORKFLOW": workflow_name,
                    "REPO": "${{ github.repository }}",
                    "RUN_ID": "${{ github.run_id }}",
                    "RUN_ATTEMPT": "${{ github.run_attempt }}",
                    "EVENT": "${{ github.event_name }}",
                    "SHA": "${{ github.sha }}",
                    "REF": "${{ github.ref }}",
                    "AWS_ACCESS_KEY_ID": secret(ci_contract.METRICS_ACCESS_KEY_ID),
                    "AWS_SECRET_ACCESS_KEY": secret(ci_contract.METRICS_SECRET_ACCESS_KEY),
                    "BUCKET": variable(ci_contract.METRICS_BUCKET),
                    "ENDPOINT": variable(ci_contract.METRICS_ENDPOINT),
                    "REGION": settings.metrics_region,
                    **OBJECT_STORAGE_ENV,
                },
                run=METRICS_SCRIPT,
            ),
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
