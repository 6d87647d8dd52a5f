"""``staging-validation.yml``: prove what staging runs before production may take it.

Triggered by the ``staging-deployed`` repository dispatch that Argo CD in staging sends
when an Application has synced and is healthy (``argocd_values``), or by hand. Seed 003's
"Staging Validation" and "Performance Gates", against the staging base URL from config:

``target`` (the GitOps revision staging synced, and the commit that set its image files)
-> ``smoke``, ``api``, ``e2e``, ``migrations`` (the platform repository's own suites,
through ``make <target> BASE_URL=...``), ``dast`` (OWASP ZAP baseline; new high findings
fail), ``load`` (Locust; the gate script fails on P95 or error rate at or above the
thresholds) -> ``gate`` (check ``staging-validation``): a commit status
``staging-validation`` on the image commit, which ``promote.yml`` requires, and a summary
table -> ``metrics`` (environment ``ci-main``, which holds the bucket's key): the figures
uploaded to the metrics bucket beside the build metrics.

The test suites run at the image commit; the gate scripts come from ``.github/scripts/``
of the workflow's own revision (committed with the workflow files by the program).
"""

from __future__ import annotations

from components.github import ci_contract
from components.github.workflows.ci import METRICS_ON_MAIN
from components.github.workflows.common import OBJECT_STORAGE_ENV, READ, checkout, secret, variable
from components.github.workflows.model import (
    ALWAYS,
    Concurrency,
    Input,
    Job,
    RepositoryDispatch,
    Step,
    Triggers,
    Workflow,
    WorkflowDispatch,
)
from components.github.workflows.pins import action
from components.github.workflows.scripts import LOCUST_GATE, SCRIPTS_DIR, ZAP_GATE
from components.github.workflows.settings import Settings
from components.gitops.gitops_layout import images_dir

FILE = "staging-validation.yml"
# The commit status this workflow records and promote.yml requires.
STATUS_CONTEXT = ci_contract.STAGING_VALIDATION_STATUS
GATE = STATUS_CONTEXT
# Where the jobs check out the gate scripts (sparse, at the workflow's own revision).
GATES_PATH = "_validation-gates"
LOAD_ARTIFACT = "load-test"
METRICS_ARTIFACT = "validation-metrics"
ZAP_ARTIFACT = "zap-baseline-report"

# The platform repository's test contract: `make <target> BASE_URL=<staging base URL>`.
SUITES: dict[str, tuple[str, str, int]] = {
    # job id: (make target, what it proves, timeout minutes)
    "smoke": ("test-smoke", "Smoke tests", 10),
    "api": ("test-api", "API tests", 15),
    "e2e": ("test-e2e", "End-to-end tests", 20),
    "migrations": ("test-migrations", "Database migration tests", 15),
}

TARGET_SCRIPT = r"""set -euo pipefail
# In:  EVENT, REVISIONS (dispatch: JSON list of the Application's synced revisions, the
#      values source last), REQUESTED (by hand: a commit of main, or empty for main's head),
#      IMAGES_DIR (staging's image files).
# Out: revision (what staging synced), image_commit (the commit that set staging's images).
if [[ "$EVENT" == repository_dispatch ]]; then
  revision="$(jq -r 'if type == "array" and length > 0 then .[-1] else "" end' <<<"$REVISIONS")"
else
  revision="${REQUESTED:-$(git rev-parse HEAD)}"
fi
if [[ ! "$revision" =~ ^[0-9a-f]{40}$ ]]; then
  echo "::error::not a full commit SHA: the revision to validate must be one"
  exit 1
fi
# Only commits of main: a dispatch cannot point the validation at any other commit.
if ! git merge-base --is-ancestor "$revision" HEAD 2>/dev/null; then
  echo "::error::revision $revision is not a commit of main"
  exit 1
fi
image_commit="$(git log -1 --format=%H "$revision" -- "$IMAGES_DIR")"
if [[ -z "$image_commit" ]]; then
  echo "::error::$IMAGES_DIR holds no images at $revision: nothing to validate"
  exit 1
fi
{
  echo "revision=$revision"
  echo "image_commit=$image_commit"
} >> "$GITHUB_OUTPUT"
{
  echo "### Validating staging"
  echo
  echo "| | |"
  echo "|---|---|"
  echo "| Application | ${APPLICATION:-by hand} |"
  echo "| synced revision | \`$revision\` |"
  echo "| image commit (the status goes here) | \`$image_commit\` |"
  echo "| images | $(jq -r 'if type == "array" then join(", ") else "" end' <<<"${IMAGES:-[]}") |"
} >> "$GITHUB_STEP_SUMMARY"
"""

SUITE_SCRIPT = r"""set -euo pipefail
# The platform repository's suite TARGET against the staging base URL (its test contract).
if ! make -n "$TARGET" BASE_URL="$BASE_URL" >/dev/null 2>&1; then
  echo "::error::the platform repository has no 'make $TARGET' (staging validation's test contract)"
  exit 1
fi
make "$TARGET" BASE_URL="$BASE_URL"
"""

LOAD_SCRIPT = r"""set -euo pipefail
# Seed 002/004 load test with Locust against staging; the gate script judges its statistics.
if [[ ! -f "$LOCUSTFILE" ]]; then
  echo "::error::no locustfile at $LOCUSTFILE (staging validation's load-test contract)"
  exit 1
fi
python -m pip install --quiet "locust==$LOCUST_VERSION"
mkdir -p load-test
# Locust's own exit code reflects any failed request; the gate decides against the thresholds.
locust --locustfile "$LOCUSTFILE" --host "$BASE_URL" --headless --only-summary \
  --users "$USERS" --spawn-rate "$SPAWN_RATE" --run-time "${DURATION_SECONDS}s" \
  --csv load-test/locust --json-file load-test/stats --html load-test/report.html \
  --exit-code-on-error 0
python "$GATE_SCRIPT" load-test/stats.json --max-p95-ms "$MAX_P95_MS" \
  --max-error-percent "$MAX_ERROR_PERCENT" --figures load-test/figures.json
"""

ZAP_GATE_SCRIPT = r"""set -euo pipefail
python3 "$GATE_SCRIPT" report_json.json --rules "$RULES_FILE"
"""

VALIDATION_GATE_SCRIPT = r"""set -euo pipefail
# NEEDS: the `needs` context; SHA: the image commit; FIGURES: the load test's figures (if any).
failed="$(jq -r '[to_entries[] | select(.value.result != "success") | .key] | join(", ")' <<<"$NEEDS")"
figures='{}'
if [[ -f "$FIGURES" ]]; then figures="$(jq -c . "$FIGURES")"; fi
{
  echo "### Staging validation"
  echo
  echo "| check | result |"
  echo "|---|---|"
  jq -r 'to_entries[] | "| \(.key) | \(.value.result) |"' <<<"$NEEDS"
  jq -r 'select(.p95_ms != null) | "| load: P95 | \(.p95_ms) ms (below \(.max_p95_ms) ms) |",
         "| load: error rate | \(.error_rate_percent) % (below \(.max_error_rate_percent) %) |"' <<<"$figures"
} >> "$GITHUB_STEP_SUMMARY"
if [[ ! "$SHA" =~ ^[0-9a-f]{40}$ ]]; then
  echo "::error::no image commit to record the result on: the target job did not succeed"
  exit 1
fi
if [[ -z "$failed" ]]; then
  state=success
  description="$(jq -r 'if .p95_ms != null then "all checks passed; P95 \(.p95_ms) ms, errors \(.error_rate_percent) %" else "all checks passed" end' <<<"$figures")"
else
  state=failure
  description="failed: $failed"
fi
gh api --method POST "repos/$REPO/statuses/$SHA" -f state="$state" -f context="$STATUS_CONTEXT" \
  -f description="${description:0:140}" -f target_url="$RUN_URL" >/dev/null
jq -n --arg repo "$REPO" --arg run "$RUN_ID" --arg attempt "$RUN_ATTEMPT" --arg sha "$SHA" \
    --arg revision "$REVISION" --arg state "$state" --argjson needs "$NEEDS" --argjson load "$figures" \
    '{workflow: "staging-validation", repository: $repo, run_id: $run, attempt: $attempt, image_commit: $sha,
      revision: $revision, state: $state, results: ($needs | map_values(.result)), load: $load}' \
  > validation-metrics.json
if [[ "$state" != success ]]; then
  echo "::error::staging validation failed: $failed"
  exit 1
fi
echo "staging validation passed on $SHA"
"""

UPLOAD_SCRIPT = r"""set -euo pipefail
# Beside the build metrics of ci.yml (ci/<workflow>/...).
key="ci/staging-validation/$(date -u +%Y/%m/%d)/$RUN_ID-$RUN_ATTEMPT.json"
aws s3 cp validation-metrics.json "s3://$BUCKET/$key" --endpoint-url "$ENDPOINT" --region "$REGION" --only-show-errors
echo "uploaded s3://$BUCKET/$key"
"""

IMAGE_COMMIT = "${{ needs.target.outputs.image_commit }}"


def _gates_checkout() -> Step:
    """The gate scripts at the workflow's own revision, beside the platform checkout."""
    return checkout(sparse=(SCRIPTS_DIR,), path=GATES_PATH, name="Check out the gate scripts")


def _platform_checkout() -> Step:
    return checkout(ref=IMAGE_COMMIT)


def workflow(settings: Settings) -> Workflow:
    wf = settings.workflows
    validation = wf.validation
    load_config = validation.load
    base_url = validation.base_url
    if base_url is None:
        # Config validation requires it of the stack that manages the repository.
        raise ValueError("staging-validation.yml needs github.workflows.validation.baseUrl")
    staging = settings.auto_deploy[-1]
    target = Job(
        id="target",
        permissions=READ,
        timeout_minutes=5,
        outputs={
            "revision": "${{ steps.target.outputs.revision }}",
            "image_commit": "${{ steps.target.outputs.image_commit }}",
        },
        steps=(
            checkout(fetch_depth=0),
            Step(
                name="Find the synced revision and the commit that set staging's images",
                id="target",
                env={
                    "EVENT": "${{ github.event_name }}",
                    "REVISIONS": "${{ toJSON(github.event.client_payload.revisions) }}",
                    "APPLICATION": "${{ github.event.client_payload.application }}",
                    "IMAGES": "${{ toJSON(github.event.client_payload.images) }}",
                    "REQUESTED": "${{ inputs.revision }}",
                    "IMAGES_DIR": images_dir(settings.environment_dir(staging)),
                },
                run=TARGET_SCRIPT,
            ),
        ),
    )
    needs = (target.id,)
    suites = tuple(
        Job(
            id=job_id,
            name=title,
            needs=needs,
            permissions=READ,
            timeout_minutes=timeout,
            steps=(
                _platform_checkout(),
                Step(
                    name=f"make {make_target}",
                    env={"TARGET": make_target, "BASE_URL": base_url},
                    run=SUITE_SCRIPT,
                ),
            ),
        )
        for job_id, (make_target, title, timeout) in SUITES.items()
    )
    dast = Job(
        id="dast",
        name="DAST (OWASP ZAP baseline)",
        needs=needs,
        permissions=READ,
        timeout_minutes=20,
        steps=(
            _platform_checkout(),
            _gates_checkout(),
            Step(
                name="ZAP baseline scan (report as an artifact)",
                uses=action("zaproxy/action-baseline"),
                with_={
                    "target": base_url,
                    # The gate below decides; ZAP's own verdict counts every warning.
                    "fail_action": False,
                    "allow_issue_writing": False,
                    "artifact_name": ZAP_ARTIFACT,
                },
            ),
            Step(
                name="No new high findings",
                env={"GATE_SCRIPT": f"{GATES_PATH}/{ZAP_GATE}", "RULES_FILE": validation.zap_rules_file},
                run=ZAP_GATE_SCRIPT,
            ),
        ),
    )
    load = Job(
        id="load",
        name="Load test (Locust)",
        needs=needs,
        permissions=READ,
        # Setup and install take a few minutes beside the run itself.
        timeout_minutes=load_config.duration_seconds // 60 + 10,
        steps=(
            _platform_checkout(),
            _gates_checkout(),
            Step(
                name="Set up Python",
                uses=action("actions/setup-python"),
                with_={"python-version": wf.python_version},
            ),
            Step(
                name="Locust against staging; P95 and error rate gate",
                env={
                    "LOCUSTFILE": load_config.locustfile,
                    "LOCUST_VERSION": load_config.locust_version,
                    "BASE_URL": base_url,
                    "USERS": str(load_config.users),
                    "SPAWN_RATE": str(load_config.spawn_rate),
                    "DURATION_SECONDS": str(load_config.duration_seconds),
                    "MAX_P95_MS": str(load_config.max_p95_ms),
                    "MAX_ERROR_PERCENT": str(load_config.max_error_rate_percent),
                    "GATE_SCRIPT": f"{GATES_PATH}/{LOCUST_GATE}",
                },
                run=LOAD_SCRIPT,
            ),
            Step(
                name="Keep the statistics",
                if_=ALWAYS,
                uses=action("actions/upload-artifact"),
                with_={"name": LOAD_ARTIFACT, "path": "load-test/", "if-no-files-found": "ignore"},
            ),
        ),
    )
    judged = (target, *suites, dast, load)
    gate = Job(
        id="gate",
        name=GATE,
        needs=tuple(j.id for j in judged),
        if_=ALWAYS,
        gate=True,
        # statuses: write for the one commit status; nothing else.
        permissions={"statuses": "write"},
        timeout_minutes=10,
        steps=(
            Step(
                name="Fetch the load-test figures",
                uses=action("actions/download-artifact"),
                continue_on_error=True,
                with_={"name": LOAD_ARTIFACT, "path": "${{ runner.temp }}/load-test"},
            ),
            Step(
                name="Record staging-validation on the image commit",
                env={
                    "NEEDS": "${{ toJSON(needs) }}",
                    "SHA": IMAGE_COMMIT,
                    "REVISION": "${{ needs.target.outputs.revision }}",
                    "FIGURES": "${{ runner.temp }}/load-test/figures.json",
                    "STATUS_CONTEXT": STATUS_CONTEXT,
                    "GH_TOKEN": "${{ github.token }}",
                    "REPO": "${{ github.repository }}",
                    "RUN_ID": "${{ github.run_id }}",
                    "RUN_ATTEMPT": "${{ github.run_attempt }}",
                    "RUN_URL": "${{ github.server_url }}/${{ github.repository }}/actions/runs/${{ github.run_id }}",
                },
                run=VALIDATION_GATE_SCRIPT,
            ),
            Step(
                name="Hand the figures to the metrics job",
                if_="always() && hashFiles('validation-metrics.json') != ''",
                uses=action("actions/upload-artifact"),
                with_={"name": METRICS_ARTIFACT, "path": "validation-metrics.json", "retention-days": 7},
            ),
        ),
    )
    # The bucket's write key is a secret of the ci-main environment, which deploys from main
    # only; it stays out of the job that may write commit statuses. Observability only: a
    # failed upload does not change the verdict.
    metrics = Job(
        id="metrics",
        needs=(gate.id,),
        if_=METRICS_ON_MAIN,
        environment=ci_contract.CI_MAIN_ENVIRONMENT,
        advisory=True,
        permissions={},
        timeout_minutes=5,
        steps=(
            Step(
                name="Fetch the figures",
                uses=action("actions/download-artifact"),
                continue_on_error=True,
                with_={"name": METRICS_ARTIFACT},
            ),
            Step(
                name="Upload the figures to the metrics bucket",
                if_="hashFiles('validation-metrics.json') != ''",
                env={
                    "AWS_ACCESS_KEY_ID": secret(ci_contract.METRICS_ACCESS_KEY_ID),
                    "AWS_SECRET_ACCESS_KEY": secret(ci_contract.METRICS_SECRET_ACCESS_KEY),
                    "BUCKET": variable(ci_contract.METRICS_BUCKET),
                    "ENDPOINT": variable(ci_contract.METRICS_ENDPOINT),
                    "REGION": settings.metrics_region,
                    "RUN_ID": "${{ github.run_id }}",
                    "RUN_ATTEMPT": "${{ github.run_attempt }}",
                    # Linode Object Storage rejects the CRC checksums newer AWS CLIs send by
                    # default (linode/terraform-provider-linode#1834).
                    **OBJECT_STORAGE_ENV,
                },
                run=UPLOAD_SCRIPT,
            ),
        ),
    )
    return Workflow(
        file=FILE,
        name="Staging validation",
        on=Triggers(
            repository_dispatch=RepositoryDispatch(types=(ci_contract.STAGING_DEPLOYED_EVENT,)),
            workflow_dispatch=WorkflowDispatch(
                inputs={
                    "revision": Input(
                        description="Commit of main staging runs (full SHA); empty: main's newest commit.",
                        default="",
                    )
                }
            ),
        ),
        permissions={},
        # One validation at a time; a newer dispatch replaces a waiting one, never a running one.
        concurrency=Concurrency(group="staging-validation", cancel_in_progress=False),
        jobs=(*judged, gate, metrics),
    )
