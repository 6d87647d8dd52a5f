"""``promote.yml``: production takes the revision staging validated, after production's approval.

Manual (``workflow_dispatch``, no inputs: what is promoted is decided by the evidence, not by
whoever starts the run). The jobs:

- ``validated`` (check ``staging validated``): the newest completed run of
  ``staging-validation.yml`` on main must have passed, and its evidence artifact must name
  the revision staging ran and digests equal to staging's image files at that revision
  (``.github/scripts/validation_evidence.py``); otherwise it refuses and says why;
- ``promote``, only then, in the ``production`` environment (its reviewers approve the
  revision and digests the first job printed). After the approval it checks the evidence
  again and refuses if the newest verdict is no longer that green one, then moves
  ``release/production`` (the branch production's Applications track; only the deployer may
  move it, by the release ruleset) to a commit whose tree is the validated revision's, with
  staging's image files as production's. Its parents are the previous release and the
  validated revision, so ``git log --first-parent release/production`` is the promotion
  history. An operator then syncs production by hand in Argo CD (seed 001);
- ``production-health``, in the main-only ``production-observer`` environment: waits for that
  sync, the blue-green promotion and its post-promotion analysis, and reports production's
  health to this run (``HEALTH_SCRIPT``); on failure (an aborted, rolled-back Rollout, a failed
  sync, or no healthy production within ``validation.healthMinutes``) it pages PagerDuty.
  Whatever the outcome, it notes what Argo CD reported (``delivery_event.py observe``) and
  keeps it as an artifact;
- ``events``, in ``ci-main`` (the bucket's key, no production credential), after the health
  job: the promotion, production's deployments at the time Argo CD finished the sync, its
  rollbacks and incidents, and the resolution of open incidents once production is healthy
  (docs/dora-metrics.md, "Production: recorded from the promotion's health job").
"""

from __future__ import annotations

from components.contracts.gitops_layout import LABEL_ENVIRONMENT, images_dir, release_branch
from components.github import ci_contract
from components.github.workflows.common import (
    CHECKED_OUT_RECORDER,
    GIT_AUTH_FUNCTION,
    checkout,
    event_env,
    metrics_bucket_env,
    pipeline_run_step,
    secret,
    upload_events_step,
)
from components.github.workflows.model import (
    ALWAYS,
    Concurrency,
    Job,
    Permissions,
    Step,
    Triggers,
    Workflow,
    WorkflowDispatch,
)
from components.github.workflows.pins import action
from components.github.workflows.scripts import (
    DELIVERY_EVENT,
    SCRIPTS_DIR,
    STAGING_STATE,
    VALIDATION_EVIDENCE,
    validation_evidence,
)
from components.github.workflows.settings import Settings

FILE = "promote.yml"

# Paths from gitops_layout with the script's shell variables in them.
_SOURCE_IMAGES = images_dir("$SOURCE_DIR")
_TARGET_IMAGES = images_dir("$TARGET_DIR")
VALIDATION_WORKFLOW = validation_evidence.WORKFLOW_PATH.rsplit("/", 1)[-1]
# Where the health job checks out this workflow's scripts, beside the release's tree.
HEALTH_SCRIPTS_PATH = "_health-scripts"

# The newest validation verdict of main and its evidence, verified (validation_evidence.py).
VALIDATED_SET_FUNCTION = rf"""validated_set() {{  # verified revision, run_id, run_url to $GITHUB_OUTPUT
  gh api "repos/$REPO/actions/workflows/{VALIDATION_WORKFLOW}/runs?branch=main&status=completed&per_page=50" \
    > "$RUNNER_TEMP/runs.json"
  local run_id
  python3 "$GATE_SCRIPT" select "$RUNNER_TEMP/runs.json" --repository "$REPO" --out "$RUNNER_TEMP/run-id"
  run_id="$(cat "$RUNNER_TEMP/run-id")"
  rm -rf "$RUNNER_TEMP/evidence"
  gh run download "$run_id" --repo "$REPO" --name "$EVIDENCE_ARTIFACT" --dir "$RUNNER_TEMP/evidence"
  python3 "$GATE_SCRIPT" verify "$RUNNER_TEMP/evidence/evidence.json" --run-id "$run_id" \
    --images-dir "{_SOURCE_IMAGES}" --run-url "$SERVER/$REPO/actions/runs/$run_id"
}}
"""

VALIDATED_SCRIPT = "set -euo pipefail\n" + VALIDATED_SET_FUNCTION + "validated_set\n"

RECHECK_SCRIPT = (
    "set -euo pipefail\n"
    + VALIDATED_SET_FUNCTION
    + r"""# After the approval: the verdict the reviewers approved must still be the newest one.
GITHUB_OUTPUT="$RUNNER_TEMP/recheck" validated_set
recheck_revision="$(sed -n 's/^revision=//p' "$RUNNER_TEMP/recheck")"
recheck_run="$(sed -n 's/^run_id=//p' "$RUNNER_TEMP/recheck")"
if [[ "$recheck_revision" != "$REVISION" || "$recheck_run" != "$RUN" ]]; then
  echo "::error::the validated set changed since the approval (run $RUN at $REVISION, now run $recheck_run at $recheck_revision): start the promotion again"
  exit 1
fi
echo "still the newest green verdict: run $RUN at $REVISION"
"""
)

RELEASE_SCRIPT = (
    "set -euo pipefail\n"
    + GIT_AUTH_FUNCTION
    + rf"""# The release: the validated revision's tree, with staging's image files as production's.
export GIT_INDEX_FILE="$RUNNER_TEMP/release.index"
git read-tree "$REVISION"
git rm -r -q --cached --ignore-unmatch -- "{_TARGET_IMAGES}"
while read -r mode type blob path; do
  [[ "$type" == blob && "$path" == *.yaml ]] || continue
  git update-index --add --cacheinfo "$mode,$blob,{_TARGET_IMAGES}/${{path##*/}}"
done < <(git ls-tree "$REVISION" -- "{_SOURCE_IMAGES}/")
tree="$(git write-tree)"
unset GIT_INDEX_FILE
parents=()
if git_auth fetch --quiet origin "+refs/heads/$RELEASE_BRANCH:refs/remotes/origin/$RELEASE_BRANCH" 2>/dev/null; then
  previous="$(git rev-parse "refs/remotes/origin/$RELEASE_BRANCH")"
  if [[ "$(git rev-parse "$previous^{{tree}}")" == "$tree" ]]; then
    echo "$RELEASE_BRANCH already holds revision $REVISION's tree: nothing to promote"
    echo "commit=$previous" >> "$GITHUB_OUTPUT"
    exit 0
  fi
  parents+=(-p "$previous")
fi
parents+=(-p "$REVISION")
export GIT_AUTHOR_NAME="$AUTHOR_NAME" GIT_AUTHOR_EMAIL="$AUTHOR_EMAIL"
export GIT_COMMITTER_NAME="$AUTHOR_NAME" GIT_COMMITTER_EMAIL="$AUTHOR_EMAIL"
commit="$(git commit-tree "$tree" "${{parents[@]}}" -m "promote($TARGET_ENV): revision $REVISION, validated by $SERVER/$REPO/actions/runs/$RUN

Approved in $SERVER/$REPO/actions/runs/$RUN_ID.")"
git_auth push --quiet origin "$commit:refs/heads/$RELEASE_BRANCH"
echo "$RELEASE_BRANCH is now $commit (revision $REVISION)"
# For the promotion's delivery event (the events job).
{{
  echo "release=$commit"
  echo "previous=${{previous:-}}"
  echo "promoted_at=$(date -u +%Y-%m-%dT%H:%M:%SZ)"
}} >> "$GITHUB_OUTPUT"
{{
  echo "### Promoted"
  echo
  echo "\`$RELEASE_BRANCH\` -> \`$commit\`: revision \`$REVISION\`, validation run $RUN."
  echo "Sync the production Applications by hand in Argo CD, then promote each Rollout after its"
  echo "pre-promotion analysis; the production-health job of this run waits for that and reports."
}} >> "$GITHUB_STEP_SUMMARY"
"""
)


EVENTS_WORKFLOW = "promote"
PROMOTION_EVENTS_SCRIPT = r"""set -euo pipefail
python3 "$RECORDER" promotion --from-environment "$FROM_ENV" --to-environment "$TARGET_ENV" \
  --images-dir "$TARGET_IMAGES" --out "$OUT"
"""

# Production's deployments (at Argo CD's sync), rollbacks and incidents from the health job's
# observation; with the bucket's key, it reads the open incidents a healthy production resolves.
HEALTH_EVENTS_SCRIPT = r"""set -euo pipefail
python3 "$RECORDER" production-health --environment "$TARGET_ENV" --images-dir "$TARGET_IMAGES" \
  --observation "$OBSERVATION" --out "$OUT"
"""


# Production's health after the manual sync, read from production itself (the observer
# identity, as staging validation reads staging): every Application Synced and Healthy at the
# release commit, running its image files' digests. A blue-green Rollout waits paused for its
# promotion (Suspended) and then runs its post-promotion analysis; a failed analysis aborts
# it, Argo Rollouts switches the active Service back, and the Application is Degraded.
HEALTH_SCRIPT = r"""set -euo pipefail
umask 077
printf '%s' "$OBSERVER_KUBECONFIG" > "$RUNNER_TEMP/observer.kubeconfig"
export KUBECONFIG="$RUNNER_TEMP/observer.kubeconfig"
# How the wait ended (healthy, unhealthy, timeout), for the delivery events (OUTCOME_FILE).
outcome() { printf '%s\n' "$1" > "$OUTCOME_FILE"; }
deadline=$((SECONDS + HEALTH_MINUTES * 60))
while :; do
  status=0
  # Into a scratch file first: the last complete listing is what the delivery events read.
  kubectl get applications.argoproj.io --selector "$SELECTOR" --output json > "$RUNNER_TEMP/listing.json" \
    || status=75
  if (( status == 0 )); then
    mv "$RUNNER_TEMP/listing.json" "$RUNNER_TEMP/applications.json"
    python3 "$STATE_SCRIPT" observe "$RUNNER_TEMP/applications.json" --environment "$ENVIRONMENT" \
      --registry "$REGISTRY" --images-dir "$IMAGES_DIR" --revision "$RELEASE" --out "$RUNNER_TEMP/health.json" \
      || status=$?
  fi
  if (( status == 0 )); then break; fi
  if (( status != 75 )); then
    outcome unhealthy
    echo "::error::$ENVIRONMENT is unhealthy after the sync to $RELEASE (an aborted rollout has switched back to the previous version, or a sync failed)"
    exit 1
  fi
  if (( SECONDS >= deadline )); then
    outcome timeout
    echo "::error::$ENVIRONMENT was not Synced and Healthy at $RELEASE within $HEALTH_MINUTES minutes of the promotion"
    exit 1
  fi
  sleep "$POLL_SECONDS"
done
outcome healthy
{
  echo "### $ENVIRONMENT healthy at \`$RELEASE\`"
  echo
  echo "| Application | sync/health |"
  echo "|---|---|"
  jq -r '.applications | to_entries[] | "| \(.key) | \(.value) |"' "$RUNNER_TEMP/health.json"
} >> "$GITHUB_STEP_SUMMARY"
"""

# What Argo CD reported when the wait ended, reduced to what the delivery events need (the
# sync's finish time per Application, aborted Rollouts, health), for the events job: this
# job holds no bucket key, and the events job no production credential.
OBSERVE_SCRIPT = r"""set -euo pipefail
python3 "$RECORDER" observe --environment "$ENVIRONMENT" --release "$RELEASE" \
  --applications "$RUNNER_TEMP/applications.json" --outcome "$OUTCOME_FILE" --observation "$OBSERVATION"
"""
HEALTH_OBSERVATION_ARTIFACT = "production-health-observation"
HEALTH_OBSERVATION_DIR = "health-observation"
HEALTH_OBSERVATION_FILE = "observation.json"

# PagerDuty Events API v2 (https://developer.pagerduty.com/docs/events-api-v2/trigger-events/):
# a critical event linking this run, deduplicated per release so a re-run does not page twice.
PAGE_SCRIPT = r"""set -euo pipefail
if [[ -z "${ROUTING_KEY:-}" ]]; then
  echo "::error::no $ENVIRONMENT PagerDuty routing key in this environment: nobody was paged"
  exit 1
fi
jq -n --arg key "$ROUTING_KEY" --arg dedup "promote-$ENVIRONMENT-$RELEASE" \
  --arg summary "$ENVIRONMENT unhealthy after promotion to $RELEASE" \
  --arg source "$SERVER/$REPO" --arg run "$SERVER/$REPO/actions/runs/$RUN_ID" \
  '{routing_key: $key, event_action: "trigger", dedup_key: $dedup,
    payload: {summary: $summary, source: $source, severity: "critical", component: "promotion"},
    links: [{href: $run, text: "promotion run"}]}' > "$RUNNER_TEMP/event.json"
curl --request POST --fail-with-body --silent --show-error --retry 3 --max-time 30 \
  --header "Content-Type: application/json" --data @"$RUNNER_TEMP/event.json" \
  https://events.pagerduty.com/v2/enqueue
echo "### Paged: $ENVIRONMENT unhealthy after the promotion to \`$RELEASE\`" >> "$GITHUB_STEP_SUMMARY"
"""

HEALTH_JOB = "production-health"


def health_job(settings: Settings, needs: tuple[str, ...]) -> Job:
    """Waits for the operator's sync of the release and reports production's health to this
    run; pages on failure. Runs in the main-only `<target>-observer` environment (the
    read-only observer kubeconfig and the PagerDuty key), on the group that reaches
    production's API where its control plane has an ACL."""
    target = settings.promote_to
    release = "${{ needs.promote.outputs.release }}"
    outcome_file = "${{ runner.temp }}/health-outcome"
    # In the workspace (the release's checkout), where hashFiles sees it.
    observation = f"{HEALTH_OBSERVATION_DIR}/{HEALTH_OBSERVATION_FILE}"
    return Job(
        id=HEALTH_JOB,
        name=f"{target} healthy after the sync",
        needs=needs,
        environment=ci_contract.observer_environment(target),
        runs_on=settings.observer_runner(target),
        permissions={"contents": "read"},
        timeout_minutes=settings.workflows.validation.health_minutes + 10,
        steps=(
            # The release's tree (its image files) and, beside it, the scripts of this workflow's revision.
            checkout(ref=release),
            checkout(sparse=(SCRIPTS_DIR,), path=HEALTH_SCRIPTS_PATH, name="Check out the health scripts"),
            Step(
                name=f"Wait for {target} to be Synced and Healthy at the release",
                env={
                    "OBSERVER_KUBECONFIG": secret(ci_contract.OBSERVER_KUBECONFIG),
                    "SELECTOR": f"{LABEL_ENVIRONMENT}={target}",
                    "ENVIRONMENT": target,
                    "REGISTRY": settings.image_registry,
                    "IMAGES_DIR": images_dir(settings.environment_dir(target)),
                    "STATE_SCRIPT": f"{HEALTH_SCRIPTS_PATH}/{SCRIPTS_DIR}/{STAGING_STATE}",
                    "RELEASE": release,
                    "HEALTH_MINUTES": str(settings.workflows.validation.health_minutes),
                    "POLL_SECONDS": "30",
                    "OUTCOME_FILE": outcome_file,
                },
                run=HEALTH_SCRIPT,
            ),
            Step(
                name="Note what Argo CD reported, for the delivery events",
                if_=ALWAYS,
                continue_on_error=True,
                env={
                    "RECORDER": f"{HEALTH_SCRIPTS_PATH}/{SCRIPTS_DIR}/{DELIVERY_EVENT}",
                    "ENVIRONMENT": target,
                    "RELEASE": release,
                    "OUTCOME_FILE": outcome_file,
                    "OBSERVATION": observation,
                },
                run=OBSERVE_SCRIPT,
            ),
            Step(
                name="Keep the observation for the events job",
                if_=f"{ALWAYS} && hashFiles('{HEALTH_OBSERVATION_DIR}/{HEALTH_OBSERVATION_FILE}') != ''",
                continue_on_error=True,
                uses=action("actions/upload-artifact"),
                with_={
                    "name": HEALTH_OBSERVATION_ARTIFACT,
                    "path": observation,
                    "retention-days": 7,
                    # A re-run attempt notes what it saw under the same name.
                    "overwrite": True,
                },
            ),
            Step(
                name=f"Page: {target} unhealthy after the promotion",
                if_="failure()",
                env={
                    "ROUTING_KEY": secret(ci_contract.PAGERDUTY_ROUTING_KEY),
                    "ENVIRONMENT": target,
                    "RELEASE": release,
                    "SERVER": "${{ github.server_url }}",
                    "REPO": "${{ github.repository }}",
                    "RUN_ID": "${{ github.run_id }}",
                },
                run=PAGE_SCRIPT,
            ),
        ),
    )


def _gate_env(settings: Settings) -> dict[str, str]:
    return {
        "SOURCE_DIR": settings.environment_dir(settings.auto_deploy[-1]),
        "GATE_SCRIPT": f"{SCRIPTS_DIR}/{VALIDATION_EVIDENCE}",
        "EVIDENCE_ARTIFACT": ci_contract.VALIDATION_EVIDENCE_ARTIFACT,
        "GH_TOKEN": "${{ github.token }}",
        "REPO": "${{ github.repository }}",
        "SERVER": "${{ github.server_url }}",
    }


def workflow(settings: Settings) -> Workflow:
    wf = settings.workflows
    target = settings.promote_to
    source = settings.auto_deploy[-1]
    # actions: read lists the validation runs and downloads their evidence; nothing else.
    gate_permissions: Permissions = {"contents": "read", "actions": "read"}
    validated = Job(
        id="validated",
        name=f"{source} validated",
        permissions=gate_permissions,
        timeout_minutes=5,
        outputs={
            "revision": "${{ steps.gate.outputs.revision }}",
            "run_id": "${{ steps.gate.outputs.run_id }}",
            "run_url": "${{ steps.gate.outputs.run_url }}",
        },
        steps=(
            checkout(fetch_depth=0),
            Step(
                name=f"Require the newest {source} validation of main to have passed, with its evidence",
                id="gate",
                env=_gate_env(settings),
                run=VALIDATED_SCRIPT,
            ),
        ),
    )
    promote = Job(
        id="promote",
        # The production approval is asked for only after the gate passed.
        needs=(validated.id,),
        environment=target,
        permissions=gate_permissions,
        timeout_minutes=10,
        concurrency=Concurrency(group=f"promote-{target}", cancel_in_progress=False),
        outputs={
            "release": "${{ steps.release.outputs.release }}",
            "previous": "${{ steps.release.outputs.previous }}",
            "promoted_at": "${{ steps.release.outputs.promoted_at }}",
        },
        steps=(
            checkout(fetch_depth=0),
            Step(
                name="Check the evidence again: still the newest green verdict",
                env={
                    **_gate_env(settings),
                    "REVISION": "${{ needs.validated.outputs.revision }}",
                    "RUN": "${{ needs.validated.outputs.run_id }}",
                },
                run=RECHECK_SCRIPT,
            ),
            Step(
                name=f"Move {release_branch(target)} to the validated revision",
                id="release",
                env={
                    "SOURCE_DIR": settings.environment_dir(source),
                    "TARGET_ENV": target,
                    "TARGET_DIR": settings.environment_dir(target),
                    "RELEASE_BRANCH": release_branch(target),
                    "REVISION": "${{ needs.validated.outputs.revision }}",
                    "RUN": "${{ needs.validated.outputs.run_id }}",
                    "AUTHOR_NAME": wf.commit_author,
                    "AUTHOR_EMAIL": wf.commit_email,
                    "PUSH_TOKEN": secret(ci_contract.DEPLOYER_GITHUB_TOKEN),
                    "SERVER": "${{ github.server_url }}",
                    "REPO": "${{ github.repository }}",
                    "RUN_ID": "${{ github.run_id }}",
                },
                run=RELEASE_SCRIPT,
            ),
        ),
    )
    # The promotion and the production deployments it made, as delivery events, from ci-main
    # (the bucket's key; main only). Observability only: the release has moved already.
    health = health_job(settings, (promote.id,))
    events = Job(
        id="events",
        # After the health job: production's deployments happen at the operator's sync, which
        # that job observes.
        needs=(validated.id, promote.id, health.id),
        if_=f"{ALWAYS} && github.ref == 'refs/heads/main' && needs.promote.outputs.release != ''",
        environment=ci_contract.CI_MAIN_ENVIRONMENT,
        advisory=True,
        # contents: read fetches the release history (image files before and after, and the
        # commits the images were built from); actions: read lists the run's jobs.
        permissions={"actions": "read", "contents": "read"},
        timeout_minutes=5,
        steps=(
            checkout(ref=release_branch(target), fetch_depth=0),
            Step(
                name=f"Record the promotion and the {target} deployments",
                continue_on_error=True,
                env={
                    **event_env(EVENTS_WORKFLOW, CHECKED_OUT_RECORDER),
                    "FROM_ENV": source,
                    "TARGET_ENV": target,
                    "TARGET_IMAGES": images_dir(settings.environment_dir(target)),
                    "REVISION": "${{ needs.validated.outputs.revision }}",
                    "RUN": "${{ needs.validated.outputs.run_id }}",
                    "RELEASE_COMMIT": "${{ needs.promote.outputs.release }}",
                    "PREVIOUS": "${{ needs.promote.outputs.previous }}",
                    "PROMOTED_AT": "${{ needs.promote.outputs.promoted_at }}",
                },
                run=PROMOTION_EVENTS_SCRIPT,
            ),
            Step(
                name=f"Fetch what the health job saw of {target}",
                uses=action("actions/download-artifact"),
                continue_on_error=True,
                with_={
                    "name": HEALTH_OBSERVATION_ARTIFACT,
                    "path": "${{ runner.temp }}/" + HEALTH_OBSERVATION_DIR,
                },
            ),
            Step(
                name=f"Record the {target} deployments at the sync, its rollbacks and incidents",
                continue_on_error=True,
                env={
                    **event_env(EVENTS_WORKFLOW, CHECKED_OUT_RECORDER),
                    "TARGET_ENV": target,
                    "TARGET_IMAGES": images_dir(settings.environment_dir(target)),
                    "RELEASE_COMMIT": "${{ needs.promote.outputs.release }}",
                    "PREVIOUS": "${{ needs.promote.outputs.previous }}",
                    "OBSERVATION": "${{ runner.temp }}/"
                    + f"{HEALTH_OBSERVATION_DIR}/{HEALTH_OBSERVATION_FILE}",
                    # The open incidents a healthy production resolves are read from the bucket.
                    **metrics_bucket_env(settings),
                },
                run=HEALTH_EVENTS_SCRIPT,
            ),
            pipeline_run_step(EVENTS_WORKFLOW, CHECKED_OUT_RECORDER),
            upload_events_step(settings, EVENTS_WORKFLOW, CHECKED_OUT_RECORDER),
        ),
    )
    return Workflow(
        file=FILE,
        name=f"Promote to {target}",
        on=Triggers(workflow_dispatch=WorkflowDispatch()),
        permissions={},
        jobs=(validated, promote, health, events),
    )
