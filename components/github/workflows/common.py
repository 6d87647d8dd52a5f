"""Steps, scripts and jobs shared by several workflows.

Scripts are plain bash with no ``${{ }}`` expressions (the model refuses them): every
value a script reads arrives through ``env:``. The scripts are module constants so tests
run them directly (discovery on a temporary git repository, the gate on sample results).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence

from components.contracts.gitops_layout import image_file
from components.github import ci_contract
from components.github.workflows.model import ALWAYS, Concurrency, Job, Permissions, Scalar, Step
from components.github.workflows.pins import action
from components.github.workflows.scripts import DELIVERY_EVENT, SCRIPTS_DIR
from components.github.workflows.settings import Settings
from components.github.workflows.toolchain import trivy_install_step

READ: Permissions = {"contents": "read"}
SCANNING: Permissions = {"contents": "read", "security-events": "write"}


def supersede_pull_request_runs() -> Concurrency:
    """A new push to a pull request cancels the pull request's stale run. Every other run
    is alone in its group (keyed by its run id), so nothing on ``main`` -- a ``pulumi up``
    above all -- is ever cancelled by it."""
    return Concurrency(
        group="${{ github.workflow }}-${{ github.event.pull_request.number || github.run_id }}",
        cancel_in_progress=True,
    )


# A service is a directory `<servicesPath>/<name>/` holding a Makefile; names are
# restricted to DNS labels so a directory name in a pull request cannot smuggle shell
# syntax into later steps (it reaches them only through env, and is checked again there).
SERVICE_NAME = "^[a-z0-9][a-z0-9-]{0,62}$"


def checkout(
    *,
    fetch_depth: int | None = None,
    sparse: Sequence[str] = (),
    ref: str | None = None,
    path: str | None = None,
    name: str = "Check out",
) -> Step:
    """actions/checkout without persisted credentials: no later step (or artifact) can
    reuse the token. Jobs that push authenticate that one command (``GIT_AUTH_FUNCTION``).
    Without ``ref`` the commit that triggered the run; with ``path`` into that directory."""
    with_: dict[str, Scalar] = {"persist-credentials": False}
    if ref is not None:
        with_["ref"] = ref
    if path is not None:
        with_["path"] = path
    if fetch_depth is not None:
        with_["fetch-depth"] = fetch_depth
    if sparse:
        with_["sparse-checkout"] = "\n".join(sparse)
    return Step(name=name, uses=action("actions/checkout"), with_=with_)


# Bash function for jobs that push: runs one git command authenticated with PUSH_TOKEN
# (from env), passed as a header for that command only, never written to .git/config.
GIT_AUTH_FUNCTION = r"""git_auth() {  # git <args...> with PUSH_TOKEN for github.com
  local basic
  basic="$(printf 'x-access-token:%s' "$PUSH_TOKEN" | base64 -w0)"
  echo "::add-mask::$basic"
  git -c "http.$SERVER/.extraheader=AUTHORIZATION: basic $basic" "$@"
}
"""


def setup_go(settings: Settings, *, version: str | None = None, cache: bool = True) -> Step:
    with_: dict[str, Scalar] = {
        "go-version": version or settings.workflows.go_version,
        "cache": cache,
    }
    if cache:
        # One key over every service's go.sum: a service's build shares the module cache.
        with_["cache-dependency-path"] = f"{settings.workflows.services_path}/*/go.sum"
    return Step(name="Set up Go", uses=action("actions/setup-go"), with_=with_)


# Linode Object Storage has refused the CRC checksums that AWS CLI v2 and the AWS SDKs send
# and ask for by default since early 2025 (linode/terraform-provider-linode#1834); Pulumi's
# S3 state backend uses the AWS SDK for Go v2 (gocloud.dev's default since v0.39,
# google/go-cloud#3472), which reads the same two variables. Every step that talks to
# Object Storage gets them: checksums only where an operation requires one.
OBJECT_STORAGE_ENV: Mapping[str, str] = {
    "AWS_REQUEST_CHECKSUM_CALCULATION": "when_required",
    "AWS_RESPONSE_CHECKSUM_VALIDATION": "when_required",
}


# --------------------------------------------------------------------------- discovery

_DISCOVER_TEMPLATE = r"""set -euo pipefail
# In:  SELECT   all | pr (changes of the checked-out pull-request merge commit, HEAD^1..HEAD)
#               | undelivered (not yet delivered to every DELIVERED_DIRS) | named (REQUESTED)
#      SERVICES_PATH, DELIVERED_DIRS (environment directories in a checkout of main,
#      space-separated), REQUESTED (a service name or "all")
# Out: services=<JSON array of service names> in $GITHUB_OUTPUT
export LC_ALL=C  # sort and comm must agree on the order
name_re='^[a-z0-9][a-z0-9-]{0,62}$'

all_services() {
  [[ -d "$SERVICES_PATH" ]] || return 0
  local makefile dir
  for makefile in "$SERVICES_PATH"/*/Makefile; do
    [[ -f "$makefile" ]] || continue
    dir="$(dirname "$makefile")"
    basename "$dir"
  done | sort -u
}

changed_since() {
  local depth
  depth="$(awk -F/ '{ print NF + 1 }' <<<"$SERVICES_PATH")"
  git diff --name-only "$1" HEAD -- "$SERVICES_PATH/" | cut -d/ -f"$depth" | sort -u
}

mapfile -t known < <(all_services)
for name in "${known[@]}"; do
  if [[ ! "$name" =~ $name_re ]]; then
    echo "::error::service directory '$name' is not a DNS label (lowercase letters, digits, '-')"
    exit 1
  fi
done

case "$SELECT" in
  all) selected=("${known[@]}") ;;
  pr) mapfile -t changed < <(changed_since HEAD^1)
      mapfile -t selected < <(comm -12 <(printf '%s\n' "${known[@]}") <(printf '%s\n' "${changed[@]}") | sed '/^$/d') ;;
  undelivered)
    # Delivered: every environment's image file records (its tag, `<commit>@<digest>`) a commit whose copy of
    # the service is HEAD's, or a later commit (a re-run of an old run never rolls back).
    # So a run also delivers what an earlier run missed (a run GitHub cancelled while
    # pending, a failed build, the very first run), and commits that change no service
    # (the bot's own) select nothing.
    read -r -a delivered_dirs <<<"$DELIVERED_DIRS"
    selected=()
    for name in "${known[@]}"; do
      source_tree="$(git rev-parse "HEAD:$SERVICES_PATH/$name")"
      for dir in "${delivered_dirs[@]}"; do
        built_from="$(sed -n -E 's/^  tag: "?([0-9a-f]{40})(@sha256:[0-9a-f]{64})?"?$/\1/p' "__IMAGE_FILE__" 2>/dev/null || true)"
        if [[ -n "$built_from" ]] \
           && { [[ "$(git rev-parse -q --verify "$built_from:$SERVICES_PATH/$name" 2>/dev/null || true)" == "$source_tree" ]] \
                || git merge-base --is-ancestor HEAD "$built_from" 2>/dev/null; }; then
          continue
        fi
        selected+=("$name")
        break
      done
    done ;;
  named)
    if [[ "$REQUESTED" == all ]]; then
      selected=("${known[@]}")
    elif printf '%s\n' "${known[@]}" | grep -qxF -- "$REQUESTED"; then
      selected=("$REQUESTED")
    else
      echo "::error::unknown service; choose 'all' or a directory of $SERVICES_PATH with a Makefile"
      exit 1
    fi ;;
  *) echo "::error::unknown SELECT mode"; exit 1 ;;
esac

if (( ${#selected[@]} )); then
  services="$(printf '%s\n' "${selected[@]}" | jq -R . | jq -cs .)"
else
  services='[]'
fi
echo "services=$services" >> "$GITHUB_OUTPUT"
echo "Selected services: $services" >> "$GITHUB_STEP_SUMMARY"
"""

# The image file's path comes from gitops_layout, called with the script's variables.
DISCOVER_SCRIPT = _DISCOVER_TEMPLATE.replace("__IMAGE_FILE__", image_file("$dir", "$name"))

DISCOVER_OUTPUT = "services"


def discover_job(
    settings: Settings,
    *,
    select: str,
    fetch_depth: int,
    extra_env: Mapping[str, str] | None = None,
    extra_steps: Sequence[Step] = (),
    make_help: bool = False,
) -> Job:
    """Job `discover`: the JSON list of services to build, in output `services`.
    ``extra_steps`` run after the checkout, before the discovery."""
    steps = [checkout(fetch_depth=fetch_depth), *extra_steps]
    if make_help:
        # Seed 000: the discovery stage shows the repository's Make targets, which fails
        # early when the root Makefile is broken.
        steps.append(Step(name="Show Make targets", run="if [[ -f Makefile ]]; then make help; fi\n"))
    steps.append(
        Step(
            name="Discover services",
            id="discover",
            env={"SELECT": select, "SERVICES_PATH": settings.workflows.services_path, **(extra_env or {})},
            run=DISCOVER_SCRIPT,
        )
    )
    return Job(
        id="discover",
        permissions=READ,
        timeout_minutes=5,
        outputs={DISCOVER_OUTPUT: "${{ steps.discover.outputs.services }}"},
        steps=tuple(steps),
    )


def services_matrix() -> str:
    return "${{ fromJSON(needs.discover.outputs.services) }}"


# A matrix over an empty list is an error, so matrix jobs are skipped when nothing changed.
ANY_SERVICE = "needs.discover.outputs.services != '[]'"


# --------------------------------------------------------------------------- gate

GATE_SCRIPT = r"""set -euo pipefail
# NEEDS: the `needs` context as JSON. MAY_SKIP: JSON list of needed jobs whose own `if:`
# may skip them by design (nothing to build); any other result than success fails.
failed="$(jq -r --argjson may_skip "$MAY_SKIP" '
  to_entries[]
  | select(.value.result != "success")
  | select((.value.result == "skipped" and (.key as $k | $may_skip | index($k) != null)) | not)
  | "\(.key): \(.value.result)"' <<<"$NEEDS")"
if [[ -n "$failed" ]]; then
  while IFS= read -r line; do echo "::error::needed job did not succeed: $line"; done <<<"$failed"
  exit 1
fi
echo "every needed job succeeded"
"""


def gate_job(check_name: str, judged: Sequence[Job]) -> Job:
    """The always-running job that fails unless every judged job succeeded.

    Matrix and conditional jobs report no check when skipped, so branch protection
    requires this job instead: it always reports.
    """
    may_skip = [j.id for j in judged if j.may_skip]
    return Job(
        id="gate",
        name=check_name,
        needs=tuple(j.id for j in judged),
        if_=ALWAYS,
        permissions={},
        timeout_minutes=5,
        gate=True,
        steps=(
            Step(
                name="Every needed job succeeded",
                env={"NEEDS": "${{ toJSON(needs) }}", "MAY_SKIP": json.dumps(may_skip)},
                run=GATE_SCRIPT,
            ),
        ),
    )


# --------------------------------------------------------------------------- scanners

GITLEAKS_SCRIPT = r"""set -euo pipefail
# gitleaks from source at a pinned release: the Go checksum database verifies the module,
# and no commercial licence key is needed (unlike gitleaks-action for organisations).
go install "github.com/zricethezav/gitleaks/v8@${GITLEAKS_VERSION}"
args=(git --redact --no-banner --exit-code 1 --report-format sarif --report-path gitleaks.sarif)
if [[ -n "${LOG_OPTS:-}" ]]; then args+=(--log-opts "$LOG_OPTS"); fi
"$(go env GOPATH)/bin/gitleaks" "${args[@]}" .
"""


def gitleaks_steps(settings: Settings, *, log_opts: str = "") -> list[Step]:
    """Secret scan of the git history (``log_opts`` narrows it, e.g. to a PR's commits)."""
    env = {"GITLEAKS_VERSION": settings.workflows.gitleaks_version}
    if log_opts:
        env["LOG_OPTS"] = log_opts
    steps = [
        setup_go(settings, cache=False),
        Step(name="Scan for secrets (gitleaks)", env=env, run=GITLEAKS_SCRIPT),
    ]
    if settings.code_scanning:
        steps.append(upload_sarif("gitleaks.sarif", "gitleaks"))
    return steps


def upload_sarif(path: str, category: str) -> Step:
    """Upload a SARIF report to code scanning even when the scanner failed the job."""
    return Step(
        name=f"Upload {category} results",
        if_=f"always() && hashFiles('{path}') != ''",
        uses=action("github/codeql-action/upload-sarif"),
        with_={"sarif_file": path, "category": category},
    )


def scanning_permissions(settings: Settings) -> Permissions:
    """A scanner job uploads SARIF (security-events: write) only where code scanning exists."""
    return SCANNING if settings.code_scanning else READ


def trivy_fs_steps(settings: Settings) -> list[Step]:
    """Trivy filesystem scan: every finding to code scanning (where the plan has it), fixable
    high/critical ones fail."""
    trivy = action("aquasecurity/trivy-action")
    gate_scan: dict[str, str | int | bool] = {
        "scan-type": "fs",
        "scan-ref": ".",
        "scanners": "vuln,secret,misconfig",
        "format": "table",
        "severity": "CRITICAL,HIGH",
        "ignore-unfixed": True,
        "exit-code": "1",
        # Trivy comes from the checksum-pinned install below, never from setup-trivy.
        "skip-setup-trivy": True,
    }
    install = trivy_install_step(settings)
    if not settings.code_scanning:
        return [
            install,
            Step(name="Fail on fixable high or critical findings (trivy)", uses=trivy, with_=gate_scan),
        ]
    return [
        install,
        Step(
            name="Scan dependencies and config (trivy, SARIF)",
            uses=trivy,
            with_={
                "scan-type": "fs",
                "scan-ref": ".",
                "scanners": "vuln,secret,misconfig",
                "format": "sarif",
                "output": "trivy-results.sarif",
                "exit-code": "0",
                "skip-setup-trivy": True,
            },
        ),
        upload_sarif("trivy-results.sarif", "trivy"),
        Step(
            name="Fail on fixable high or critical findings (trivy)",
            uses=trivy,
            # The SARIF scan above fetched the databases.
            env={"TRIVY_SKIP_DB_UPDATE": "true", "TRIVY_SKIP_JAVA_DB_UPDATE": "true"},
            with_=gate_scan,
        ),
    ]


# --------------------------------------------------------------------------- notify


def secret(name: str) -> str:
    """The expression reading Actions secret ``name`` (names come from ci_contract)."""
    return f"${{{{ secrets.{name} }}}}"


def variable(name: str) -> str:
    """The expression reading Actions variable ``name``."""
    return f"${{{{ vars.{name} }}}}"


NOTIFY_SCRIPT = r"""set -euo pipefail
# Pipeline alert to Slack (seed 003): which workflow failed, where, and the run's link.
if [[ -z "${SLACK_WEBHOOK_URL:-}" ]]; then
  echo "::notice::no Slack webhook configured"
  exit 0
fi
text="$WORKFLOW failed on $REF ($SHA): $SERVER/$REPO/actions/runs/$RUN_ID"
jq -n --arg text "$text" '{text: $text}' \
  | curl --fail --silent --show-error --request POST --header 'Content-Type: application/json' \
      --data @- "$SLACK_WEBHOOK_URL"
"""


def notify_job(workflow_name: str, watched: Sequence[Job], *, if_: str) -> Job:
    """Post to Slack when a watched job failed (advisory: never fails the workflow's gate).

    The webhook is a secret of the ci-main environment, which deploys from main only: give
    an ``if_`` that holds only on main, or a run elsewhere fails this job at its environment.
    """
    return Job(
        id="notify",
        needs=tuple(j.id for j in watched),
        if_=if_,
        environment=ci_contract.CI_MAIN_ENVIRONMENT,
        advisory=True,
        permissions={},
        timeout_minutes=5,
        steps=(
            Step(
                name="Tell Slack",
                env={
                    "SLACK_WEBHOOK_URL": secret(ci_contract.SLACK_WEBHOOK_URL),
                    "WORKFLOW": workflow_name,
                    "REF": "${{ github.ref_name }}",
                    "SHA": "${{ github.sha }}",
                    "SERVER": "${{ github.server_url }}",
                    "REPO": "${{ github.repository }}",
                    "RUN_ID": "${{ github.run_id }}",
                },
                run=NOTIFY_SCRIPT,
            ),
        ),
    )


# --------------------------------------------------------------------------- delivery events

# Jobs that record delivery events check the recorder out here (sparse) when they need no
# other checkout; jobs with a full checkout run it from SCRIPTS_DIR.
EVENT_RECORDER_CHECKOUT = ".delivery-events"
EVENTS_OUT = "${{ runner.temp }}/delivery-events"
SPARSE_RECORDER = f"{EVENT_RECORDER_CHECKOUT}/{SCRIPTS_DIR}/{DELIVERY_EVENT}"
CHECKED_OUT_RECORDER = f"{SCRIPTS_DIR}/{DELIVERY_EVENT}"


def event_recorder_checkout() -> Step:
    """The recorder at the workflow's own revision (the commit that triggered the run)."""
    return checkout(sparse=(SCRIPTS_DIR,), path=EVENT_RECORDER_CHECKOUT, name="Check out the event recorder")


def event_env(workflow_name: str, recorder: str = SPARSE_RECORDER) -> dict[str, str]:
    """What every recording step needs: the run (the events' source), the recorder, the output."""
    return {
        "REPO": "${{ github.repository }}",
        "WORKFLOW": workflow_name,
        "RUN_ID": "${{ github.run_id }}",
        "RUN_ATTEMPT": "${{ github.run_attempt }}",
        "RECORDER": recorder,
        "OUT": EVENTS_OUT,
    }


# The run and its jobs as the API reports them while the recording job runs (it is the only
# unfinished one, and the recorder leaves it out). A failing API call is a gap, not an error.
PIPELINE_RUN_SCRIPT = r"""set -euo pipefail
if ! gh api "repos/$REPO/actions/runs/$RUN_ID/attempts/$RUN_ATTEMPT" > "$RUNNER_TEMP/run.json" \
   || ! gh api --paginate "repos/$REPO/actions/runs/$RUN_ID/attempts/$RUN_ATTEMPT/jobs" --jq '.jobs[]' \
        > "$RUNNER_TEMP/jobs.json"; then
  echo "::warning::metrics gap: the run's jobs could not be read; no pipeline_run event"
  exit 0
fi
python3 "$RECORDER" pipeline-run --run "$RUNNER_TEMP/run.json" --jobs "$RUNNER_TEMP/jobs.json" --out "$OUT"
"""


def pipeline_run_step(workflow_name: str, recorder: str = SPARSE_RECORDER) -> Step:
    """Records this run (``pipeline_run``): needs ``actions: read`` and the ``needs`` context."""
    return Step(
        name="Record the pipeline run",
        if_=ALWAYS,
        continue_on_error=True,
        env={
            **event_env(workflow_name, recorder),
            "GH_TOKEN": "${{ github.token }}",
            "NEEDS": "${{ toJSON(needs) }}",
        },
        run=PIPELINE_RUN_SCRIPT,
    )


UPLOAD_EVENTS_SCRIPT = r"""set -euo pipefail
# Never fails: an event the bucket refused is a warning and a counted gap (the recorder's).
python3 "$RECORDER" upload --out "$OUT"
"""


def metrics_bucket_env(settings: Settings) -> dict[str, str]:
    """The bucket, its endpoint and the write key (ci-main's secrets), with Linode's checksum settings."""
    return {
        "AWS_ACCESS_KEY_ID": secret(ci_contract.METRICS_ACCESS_KEY_ID),
        "AWS_SECRET_ACCESS_KEY": secret(ci_contract.METRICS_SECRET_ACCESS_KEY),
        "BUCKET": variable(ci_contract.METRICS_BUCKET),
        "ENDPOINT": variable(ci_contract.METRICS_ENDPOINT),
        "REGION": settings.metrics_region,
        **OBJECT_STORAGE_ENV,
    }


def upload_events_step(settings: Settings, workflow_name: str, recorder: str = SPARSE_RECORDER) -> Step:
    """Uploads every event the job recorded, with the bucket's write key (ci-main's secrets)."""
    return Step(
        name="Upload the delivery events (a failed upload is a counted gap, never a failed delivery)",
        if_=ALWAYS,
        continue_on_error=True,
        env={**event_env(workflow_name, recorder), **metrics_bucket_env(settings)},
        run=UPLOAD_EVENTS_SCRIPT,
    )
