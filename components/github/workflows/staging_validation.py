"""``staging-validation.yml``: prove what staging runs before production may take it.

Woken by the ``staging-deployed`` repository dispatch that staging's Argo CD sends when an
Application has synced and is healthy (``argocd_values``), or by hand, on ``main`` only (a run
on another ref skips every job). The dispatch payload is never read: anyone who can push a
branch can send one (docs/promotion.md).

``target`` (environment ``staging-observer``, main only: staging's read-only observer
kubeconfig) waits until every staging Application is Synced and Healthy at one GitOps
revision and runs that revision's image digests (``scripts/staging_state.py``), with a
deadline -> ``smoke``, ``api``, ``e2e``, ``migrations`` (the platform repository's suites at
that revision, ``make <target> BASE_URL=...``), ``dast`` (OWASP ZAP baseline; new high
findings fail), ``load`` (Locust; P95 and error-rate gate) -> ``gate`` (check
``staging-validation``): reads staging again and fails if the revision or a digest moved
while the tests ran, then records the evidence (``evidence.json``: this run, the revision,
the digests, every result) as an artifact of this run, which is what ``promote.yml``
trusts, and a commit status for people -> ``metrics`` (environment ``ci-main``): the
evidence uploaded to the metrics bucket.
"""

from __future__ import annotations

from components.contracts.events import STAGING_DEPLOYED_EVENT
from components.contracts.gitops_layout import LABEL_ENVIRONMENT, images_dir
from components.github import ci_contract
from components.github.workflows.ci import METRICS_ON_MAIN
from components.github.workflows.common import (
    READ,
    checkout,
    event_env,
    event_recorder_checkout,
    notify_job,
    pipeline_run_step,
    secret,
    upload_events_step,
)
from components.github.workflows.model import (
    ALWAYS,
    Concurrency,
    Job,
    RepositoryDispatch,
    Step,
    Triggers,
    Workflow,
    WorkflowDispatch,
)
from components.github.workflows.pins import action
from components.github.workflows.scripts import (
    LOCUST_GATE,
    LOCUST_LOCK,
    SCRIPTS_DIR,
    STAGING_STATE,
    ZAP_GATE,
    validation_evidence,
)
from components.github.workflows.settings import Settings
from components.github.workflows.toolchain import PIP_LOCKED

FAILED_ON_MAIN = "failure() && github.ref == 'refs/heads/main'"
FILE = "staging-validation.yml"
# The commit status this workflow records and promote.yml requires.
STATUS_CONTEXT = ci_contract.STAGING_VALIDATION_STATUS
GATE = STATUS_CONTEXT
# Where the jobs check out the gate scripts (sparse, at the workflow's own revision).
GATES_PATH = "_validation-gates"
LOAD_ARTIFACT = "load-test"
EVIDENCE_ARTIFACT = ci_contract.VALIDATION_EVIDENCE_ARTIFACT
ZAP_ARTIFACT = "zap-baseline-report"

# The platform repository's test contract: `make <target> BASE_URL=<staging base URL>`.
SUITES: dict[str, tuple[str, str, int]] = {
    # job id: (make target, what it proves, timeout minutes)
    "smoke": ("test-smoke", "Smoke tests", 10),
    "api": ("test-api", "API tests", 15),
    "e2e": ("test-e2e", "End-to-end tests", 20),
    "migrations": ("test-migrations", "Database migration tests", 15),
}

# Reads staging through the observer identity: its kubeconfig (a read-only ServiceAccount
# token, namespace Argo CD's) lives only in the main-only observer environment.
KUBECONFIG_SETUP = r"""umask 077
printf '%s' "$OBSERVER_KUBECONFIG" > "$RUNNER_TEMP/observer.kubeconfig"
export KUBECONFIG="$RUNNER_TEMP/observer.kubeconfig"
"""

OBSERVE_FUNCTION = r"""observe() {  # <out.json>: staging's settled state; 75 while it is still moving
  kubectl get applications.argoproj.io --selector "$SELECTOR" --output json > "$RUNNER_TEMP/applications.json"
  python3 "$STATE_SCRIPT" observe "$RUNNER_TEMP/applications.json" --environment "$ENVIRONMENT" \
    --registry "$REGISTRY" --images-dir "$IMAGES_DIR" --out "$1"
}
"""

# What staging runs decides what is validated: the dispatch payload is never read.
TARGET_SCRIPT = (
    "set -euo pipefail\n"
    + KUBECONFIG_SETUP
    + OBSERVE_FUNCTION
    + r"""deadline=$((SECONDS + SETTLE_MINUTES * 60))
while :; do
  status=0
  observe "$RUNNER_TEMP/settled.json" || status=$?
  if (( status == 0 )); then break; fi
  if (( status != 75 )); then exit 1; fi
  if (( SECONDS >= deadline )); then
    echo "::error::staging did not settle at one revision within $SETTLE_MINUTES minutes"
    exit 1
  fi
  sleep "$POLL_SECONDS"
done
revision="$(jq -r .revision "$RUNNER_TEMP/settled.json")"
image_commit="$(git log -1 --format=%H "$revision" -- "$IMAGES_DIR")"
{
  echo "revision=$revision"
  echo "image_commit=$image_commit"
  echo "state=$(jq -c . "$RUNNER_TEMP/settled.json")"
} >> "$GITHUB_OUTPUT"
{
  echo "### Validating staging as it runs"
  echo
  echo "| | |"
  echo "|---|---|"
  echo "| GitOps revision every Application is synced at | \`$revision\` |"
  echo "| commit that set the image files | \`$image_commit\` |"
  jq -r '.images | to_entries[] | "| \(.key) | `\(.value)` |"' "$RUNNER_TEMP/settled.json"
} >> "$GITHUB_STEP_SUMMARY"
"""
)

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
# Locust and every package under it from the hash lock committed beside the gate scripts.
python -m pip install __PIP_LOCKED__ --requirement "$LOCUST_LOCK"
installed="$(python -m pip show locust | sed -n 's/^Version: //p')"
if [[ "$installed" != "$LOCUST_VERSION" ]]; then
  echo "::error::the lock installs Locust $installed, the config asks for $LOCUST_VERSION: run make lock"
  exit 1
fi
mkdir -p load-test
# Locust's own exit code reflects any failed request; the gate decides against the thresholds.
locust --locustfile "$LOCUSTFILE" --host "$BASE_URL" --headless --only-summary \
  --users "$USERS" --spawn-rate "$SPAWN_RATE" --run-time "${DURATION_SECONDS}s" \
  --csv load-test/locust --json-file load-test/stats --html load-test/report.html \
  --exit-code-on-error 0
python "$GATE_SCRIPT" load-test/stats.json --max-p95-ms "$MAX_P95_MS" \
  --max-error-percent "$MAX_ERROR_PERCENT" --figures load-test/figures.json
""".replace("__PIP_LOCKED__", PIP_LOCKED)

ZAP_GATE_SCRIPT = r"""set -euo pipefail
python3 "$GATE_SCRIPT" report_json.json --rules "$RULES_FILE"
"""

VALIDATION_GATE_SCRIPT = (
    "set -euo pipefail\n"
    + KUBECONFIG_SETUP
    + OBSERVE_FUNCTION
    + r"""# NEEDS: the `needs` context; BEFORE: staging's state when the tests started (target job);
# FIGURES: the load test's figures (if any). The evidence names this run, staging's revision
# and digests as read from staging before and after the tests, and the verdict.
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
if ! jq -e '.revision | test("^[0-9a-f]{40}$")' <<<"${BEFORE:-null}" >/dev/null 2>&1; then
  echo "::error::staging never settled: there is no image set to record a verdict on"
  exit 1
fi
printf '%s' "$BEFORE" > "$RUNNER_TEMP/before.json"
if [[ -z "$failed" ]]; then
  # The same image set throughout: staging read again, without waiting, after the tests.
  if ! observe "$RUNNER_TEMP/after.json"; then
    failed="staging-state (staging moved while the tests ran)"
  elif ! python3 "$STATE_SCRIPT" same "$RUNNER_TEMP/before.json" "$RUNNER_TEMP/after.json"; then
    failed="staging-state (staging moved while the tests ran)"
  fi
fi
revision="$(jq -r .revision "$RUNNER_TEMP/before.json")"
if [[ -z "$failed" ]]; then state=success; else state=failure; fi
mkdir -p evidence
jq -n --argjson schema "$EVIDENCE_SCHEMA" --arg repo "$REPO" --arg run "$RUN_ID" --arg attempt "$RUN_ATTEMPT" \
    --arg state "$state" --arg image_commit "$IMAGE_COMMIT" --argjson needs "$NEEDS" --argjson load "$figures" \
    --slurpfile observed "$RUNNER_TEMP/before.json" \
    '{schema: $schema, workflow: "staging-validation", repository: $repo, run_id: $run, run_attempt: $attempt,
      revision: $observed[0].revision, image_commit: $image_commit, images: $observed[0].images,
      applications: $observed[0].applications, result: $state,
      results: ($needs | map_values(.result)), load: $load}' > evidence/evidence.json
if [[ "$state" == success ]]; then
  description="$(jq -r 'if .p95_ms != null then "all checks passed; P95 \(.p95_ms) ms, errors \(.error_rate_percent) %" else "all checks passed" end' <<<"$figures")"
else
  description="failed: $failed"
fi
# For people reading the commit; promotion trusts the run and its evidence, never a status.
gh api --method POST "repos/$REPO/statuses/$revision" -f state="$state" -f context="$STATUS_CONTEXT" \
  -f description="${description:0:140}" -f target_url="$RUN_URL" >/dev/null
if [[ "$state" != success ]]; then
  echo "::error::staging validation failed: $failed"
  exit 1
fi
echo "staging validation passed on $revision"
"""
)


# The verdict as a `validation` delivery event (docs/dora-metrics.md), beside this run's
# `pipeline_run`.
EVENTS_WORKFLOW = "staging-validation"
VALIDATION_EVENT_SCRIPT = r"""set -euo pipefail
python3 "$RECORDER" validation --environment "$ENVIRONMENT" --evidence evidence/evidence.json --out "$OUT"
"""

IMAGE_COMMIT = "${{ needs.target.outputs.image_commit }}"
REVISION = "${{ needs.target.outputs.revision }}"
# A run on any other ref (a branch, a tag named main) validates nothing: its jobs are skipped,
# and the observer environment admits main alone anyway.
ON_MAIN = "github.ref == 'refs/heads/main'"


def gate_script(name: str) -> str:
    """Where a gate script is in the job: the sparse checkout keeps the repository's own path
    below GATES_PATH."""
    return f"{GATES_PATH}/{SCRIPTS_DIR}/{name}"


def _gates_checkout() -> Step:
    """The gate scripts at the workflow's own revision, beside the platform checkout."""
    return checkout(sparse=(SCRIPTS_DIR,), path=GATES_PATH, name="Check out the gate scripts")


def _platform_checkout() -> Step:
    # The platform's suites at the revision staging runs (charts and image files included).
    return checkout(ref=REVISION)


def _observer_env(settings: Settings) -> dict[str, str]:
    staging = settings.auto_deploy[-1]
    return {
        "OBSERVER_KUBECONFIG": secret(ci_contract.OBSERVER_KUBECONFIG),
        "SELECTOR": f"{LABEL_ENVIRONMENT}={staging}",
        "ENVIRONMENT": staging,
        "REGISTRY": settings.image_registry,
        "IMAGES_DIR": images_dir(settings.environment_dir(staging)),
        "STATE_SCRIPT": gate_script(STAGING_STATE),
    }


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
        name="staging settled at one revision",
        if_=ON_MAIN,
        environment=ci_contract.observer_environment(staging),
        runs_on=settings.observer_runner(staging),
        permissions=READ,
        timeout_minutes=validation.settle_minutes + 5,
        outputs={
            "revision": "${{ steps.target.outputs.revision }}",
            "image_commit": "${{ steps.target.outputs.image_commit }}",
            "state": "${{ steps.target.outputs.state }}",
        },
        steps=(
            checkout(fetch_depth=0),
            _gates_checkout(),
            Step(
                name="Wait until every staging Application runs one revision's images",
                id="target",
                env={
                    **_observer_env(settings),
                    "SETTLE_MINUTES": str(validation.settle_minutes),
                    "POLL_SECONDS": "20",
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
                    # By digest: the action's default image is the floating `stable` tag.
                    "docker_name": wf.toolchain.zap_image,
                    # The gate below decides; ZAP's own verdict counts every warning.
                    "fail_action": False,
                    "allow_issue_writing": False,
                    "artifact_name": ZAP_ARTIFACT,
                },
            ),
            Step(
                name="No new high findings",
                env={"GATE_SCRIPT": gate_script(ZAP_GATE), "RULES_FILE": validation.zap_rules_file},
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
                    "LOCUST_LOCK": f"{GATES_PATH}/{SCRIPTS_DIR}/{LOCUST_LOCK}",
                    "BASE_URL": base_url,
                    "USERS": str(load_config.users),
                    "SPAWN_RATE": str(load_config.spawn_rate),
                    "DURATION_SECONDS": str(load_config.duration_seconds),
                    "MAX_P95_MS": str(load_config.max_p95_ms),
                    "MAX_ERROR_PERCENT": str(load_config.max_error_rate_percent),
                    "GATE_SCRIPT": gate_script(LOCUST_GATE),
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
        # Always, to record a red verdict too; on another ref the observer environment (main
        # only) refuses the job before any step runs.
        if_=ALWAYS,
        gate=True,
        environment=ci_contract.observer_environment(staging),
        # Inside staging's control-plane ACL where it has one: it reads staging again.
        runs_on=settings.observer_runner(staging),
        # statuses: write for the commit status people read; contents: read for the image
        # files at the revision. The evidence is an artifact of this run, which no other run
        # can write.
        permissions={"contents": "read", "statuses": "write"},
        timeout_minutes=10,
        steps=(
            checkout(fetch_depth=0),
            _gates_checkout(),
            Step(
                name="Fetch the load-test figures",
                uses=action("actions/download-artifact"),
                continue_on_error=True,
                with_={"name": LOAD_ARTIFACT, "path": "${{ runner.temp }}/load-test"},
            ),
            Step(
                name="Check staging did not move; record the evidence and the verdict",
                env={
                    **_observer_env(settings),
                    "NEEDS": "${{ toJSON(needs) }}",
                    "BEFORE": "${{ needs.target.outputs.state }}",
                    "IMAGE_COMMIT": IMAGE_COMMIT,
                    "FIGURES": "${{ runner.temp }}/load-test/figures.json",
                    "EVIDENCE_SCHEMA": str(validation_evidence.SCHEMA),
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
                name="Keep the evidence (promotion reads it from this run)",
                if_="always() && hashFiles('evidence/evidence.json') != ''",
                uses=action("actions/upload-artifact"),
                with_={
                    "name": EVIDENCE_ARTIFACT,
                    "path": "evidence/evidence.json",
                    "retention-days": 90,
                    # A re-run attempt records its own verdict under the same name.
                    "overwrite": True,
                },
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
        # actions: read downloads the evidence and lists the run's jobs; contents: read
        # checks out the recorder.
        permissions={"actions": "read", "contents": "read"},
        timeout_minutes=5,
        steps=(
            event_recorder_checkout(),
            Step(
                name="Fetch the figures",
                uses=action("actions/download-artifact"),
                continue_on_error=True,
                with_={"name": EVIDENCE_ARTIFACT, "path": "evidence"},
            ),
            Step(
                name="Record the verdict and its figures",
                if_="hashFiles('evidence/evidence.json') != ''",
                continue_on_error=True,
                env={**event_env(EVENTS_WORKFLOW), "ENVIRONMENT": staging},
                run=VALIDATION_EVENT_SCRIPT,
            ),
            pipeline_run_step(EVENTS_WORKFLOW),
            upload_events_step(settings, EVENTS_WORKFLOW),
        ),
    )
    return Workflow(
        file=FILE,
        name="Staging validation",
        on=Triggers(
            repository_dispatch=RepositoryDispatch(types=(STAGING_DEPLOYED_EVENT,)),
            # By hand: validates what staging runs now, like a dispatch; no input chooses it.
            workflow_dispatch=WorkflowDispatch(),
        ),
        permissions={},
        # One validation at a time; a newer dispatch replaces a waiting one, never a running one.
        concurrency=Concurrency(group="staging-validation", cancel_in_progress=False),
        jobs=(
            *judged,
            gate,
            metrics,
            # A failed validation holds production back: Slack hears of it (issue 19).
            notify_job("staging-validation", (*judged, gate), if_=FAILED_ON_MAIN),
        ),
    )
