"""``delivery.yml``: images of the undelivered services to GHCR, their tags into GitOps.

On a push to ``main`` touching the services (seed 000's deployment process):
``discover`` (the services not yet delivered) -> ``images`` (per service: multi-arch build
into an OCI archive on the runner, SBOM and provenance attached, then a trivy scan of every
platform in it at CRITICAL,HIGH that fails on any critical finding; no registry credential
in the job) -> ``image-findings`` (every platform's SARIF to code scanning, high findings
counted) -> ``accept-high-findings`` (only with high findings: a production approver accepts
them in the ``image-risk-acceptance`` environment, and GitHub records the review) ->
``publish`` (per service: the scanned archive pushed to GHCR as it is, its digest checked
against the registry's) -> ``deploy-development`` -> ``deploy-staging``. An image that
fails its scan never reaches GHCR under any name, and the digest the deploy jobs commit is
the digest that was scanned.
Each deploy job runs in its GitHub environment and commits the images' tags and digests to
``<clustersPath>/<env>/images/<service>.yaml`` on ``main`` with that environment's deployer
token (the only identity allowed to push to ``main``); Argo CD syncs them. Production is
promoted by ``promote.yml``.

The workflow is one concurrency group that never cancels a run in progress: GitOps commits
land in order. GitHub keeps only one pending run per group and cancels the older pending
one, so a run cannot build just its own push (``github.event.before..github.sha``): the
cancelled push's services would never be delivered. ``discover`` instead compares each
service's source with the commit its image file on ``main`` records (the image tag), in
every automatically deployed environment: whatever an earlier run missed is delivered by
the next one (docs/pipelines.md, "The delivery loop").
No build cache is used: a workflow that publishes must not restore caches a pull request
could have written (cache poisoning).
"""

from __future__ import annotations

from components.config.base import Environment
from components.contracts.gitops_layout import image_file, images_dir
from components.github import ci_contract
from components.github.workflows.common import (
    ANY_SERVICE,
    CHECKED_OUT_RECORDER,
    GIT_AUTH_FUNCTION,
    READ,
    checkout,
    discover_job,
    event_env,
    notify_job,
    pipeline_run_step,
    secret,
    services_matrix,
    upload_events_step,
)
from components.github.workflows.model import (
    ALWAYS,
    Concurrency,
    Job,
    Push,
    Step,
    Strategy,
    Triggers,
    Workflow,
    WorkflowDispatch,
)
from components.github.workflows.pins import action
from components.github.workflows.settings import Settings
from components.github.workflows.toolchain import trivy_install_step

FILE = "delivery.yml"
FAILED_ON_MAIN = "failure() && github.ref == 'refs/heads/main'"
MAIN = "main"
# Where the discover job checks out main's image files (inside the workspace, as
# actions/checkout requires), to learn what is delivered.
DELIVERED_CHECKOUT = ".delivered"
IMAGE_ARTIFACT_PREFIX = "image-"

RECORD_SCRIPT = r"""set -euo pipefail
# One JSON record per pushed image, handed to the deploy jobs as an artifact.
if [[ ! "$DIGEST" =~ ^sha256:[0-9a-f]{64}$ ]]; then
  echo "::error::the build reported no image digest"
  exit 1
fi
mkdir -p "$RUNNER_TEMP/image"
jq -n --arg service "$SERVICE" --arg repository "$REPOSITORY" --arg tag "$TAG" --arg digest "$DIGEST" \
  '{service: $service, repository: $repository, tag: $tag, digest: $digest}' \
  > "$RUNNER_TEMP/image/$SERVICE.json"
"""

# Writes one image file per record below the environment directory <target dir>. The paths
# come from gitops_layout, called with shell variables: the Applications read the same files.
WRITE_IMAGES_FUNCTION = (
    r"""write_image() {  # <record.json> <target dir>
  local record="$1" target="$2" service
  service="$(jq -r .service "$record")"
  # Every field is checked before it reaches YAML: the record is an artifact of another job.
  if [[ ! "$service" =~ ^[a-z0-9][a-z0-9-]{0,62}$ ]] \
     || ! jq -e '(.digest | test("^sha256:[0-9a-f]{64}$"))
                 and (.repository | test("^[a-z0-9][a-z0-9._/-]*$"))
                 and (.tag | test("^[0-9a-f]{40}$"))' "$record" >/dev/null; then
    echo "::error::malformed image record"
    exit 1
  fi
"""
    + f'  mkdir -p "{images_dir("$target")}"\n'
    + r"""  # The values contract (gitops_layout): every field a chart may render names the digest.
  jq -r '"# Written by the delivery workflow; Argo CD deploys this image, by digest.\nimage:\n  repository: \(.repository)\n  tag: \"\(.tag)@\(.digest)\"\n  digest: \(.digest)\n  reference: \(.repository)@\(.digest)"' \
"""
    + f'    "$record" > "{image_file("$target", "$service")}"\n'
    + "}\n"
)

PUSH_FUNCTION = r"""push_main() {  # commit staged changes with MESSAGE and push them to main, rebasing on races
  git config user.name "$AUTHOR_NAME"
  git config user.email "$AUTHOR_EMAIL"
  if git diff --cached --quiet; then
    echo "nothing to commit: the image tags are current"
    return 0
  fi
  git commit --quiet --message "$MESSAGE"
  local attempt
  for attempt in 1 2 3 4 5; do
    if git_auth push --quiet origin HEAD:main; then
      echo "pushed $(git rev-parse HEAD) to main"
      return 0
    fi
    sleep $((attempt * 3))
    git_auth pull --quiet --rebase origin main
  done
  echo "::error::could not push to main"
  exit 1
}
"""

DEPLOY_SCRIPT = (
    "set -euo pipefail\n"
    "# IMAGES_DIR: the image records of this run; TARGET_DIR: the environment's GitOps directory.\n"
    + GIT_AUTH_FUNCTION
    + WRITE_IMAGES_FUNCTION
    + PUSH_FUNCTION
    + r"""shopt -s nullglob
records=("$IMAGES_DIR"/*.json)
if (( ${#records[@]} == 0 )); then
  echo "no images were built"
  exit 0
fi
for record in "${records[@]}"; do
  write_image "$record" "$TARGET_DIR"
done
"""
    + f'git add -- "{images_dir("$TARGET_DIR")}"\n'
    + "push_main\n"
)


SCAN_SCRIPT = r"""set -euo pipefail
# ARCHIVE: the built OCI archive (every platform and the attestations); PLATFORMS: the
# platforms in it, space-separated; SERVICE; OUT: the workspace directory of the reports.
# Each platform's image is taken out of the archive as it is (skopeo, on the runner image)
# and scanned at CRITICAL,HIGH (seed 004). Every platform gets a SARIF report of its own
# (its category names service and platform) and a line of counts in findings.json; any
# critical finding fails the job after all platforms are scanned (seed 003: critical blocks
# deployment); high findings wait for a production approver (accept-high-findings).
read -r -a platforms <<<"$PLATFORMS"
mkdir -p "$OUT"
critical_total=0
for platform in "${platforms[@]}"; do
  slug="${platform//\//-}"
  single="$RUNNER_TEMP/scan-$slug.tar"
  skopeo copy --quiet --override-os "${platform%%/*}" --override-arch "${platform#*/}" \
    "oci-archive:$ARCHIVE" "oci-archive:$single"
  echo "trivy: $platform"
  trivy image --input "$single" --scanners vuln --severity CRITICAL,HIGH --exit-code 0 \
    --format json --output "$RUNNER_TEMP/$slug.json" --no-progress
  trivy convert --format table "$RUNNER_TEMP/$slug.json"
  trivy convert --format sarif --output "$RUNNER_TEMP/$slug.sarif" "$RUNNER_TEMP/$slug.json"
  jq --arg id "trivy-image/$SERVICE/$slug/" '.runs[].automationDetails = {id: $id}' \
    "$RUNNER_TEMP/$slug.sarif" > "$OUT/$SERVICE-$slug.sarif"
  critical="$(jq '[.Results[]?.Vulnerabilities[]? | select(.Severity == "CRITICAL")] | length' "$RUNNER_TEMP/$slug.json")"
  high="$(jq '[.Results[]?.Vulnerabilities[]? | select(.Severity == "HIGH")] | length' "$RUNNER_TEMP/$slug.json")"
  jq -cn --arg service "$SERVICE" --arg platform "$platform" --argjson critical "$critical" --argjson high "$high" \
    '{service: $service, platform: $platform, critical: $critical, high: $high}' >> "$OUT/findings.jsonl"
  critical_total=$((critical_total + critical))
  rm -f "$single"
done
if (( critical_total > 0 )); then
  echo "::error::$critical_total critical finding(s) in $SERVICE: the image is not published"
  exit 1
fi
"""

FINDINGS_SCRIPT = r"""set -euo pipefail
# REPORTS: the directory holding every service's findings.jsonl. Out: high=true|false.
shopt -s nullglob
files=("$REPORTS"/*/findings.jsonl)
if (( ${#files[@]} == 0 )); then
  echo "::error::no image scan reported its findings"
  exit 1
fi
cat "${files[@]}" > all-findings.jsonl
{
  echo "### Image scan (trivy, CRITICAL,HIGH, every platform)"
  echo "| service | platform | critical | high |"
  echo "|---|---|---|---|"
  jq -r '"| \(.service) | \(.platform) | \(.critical) | \(.high) |"' all-findings.jsonl
} >> "$GITHUB_STEP_SUMMARY"
high="$(jq -s 'map(.high) | add // 0' all-findings.jsonl)"
if (( high > 0 )); then
  echo "::warning::$high high finding(s): publishing waits for a production approver (environment $ACCEPTANCE)"
  echo "high=true" >> "$GITHUB_OUTPUT"
else
  echo "high=false" >> "$GITHUB_OUTPUT"
fi
"""

ACCEPT_SCRIPT = r"""set -euo pipefail
# Runs only after a required reviewer of the acceptance environment approved this job:
# GitHub keeps that review (who, when, comment) in the run's deployment history.
{
  echo "### High findings accepted"
  echo "A production approver accepted the high image findings of run $RUN_ID (commit $SHA)"
  echo "through environment $ACCEPTANCE; the review is recorded in $SERVER/$REPO/actions/runs/$RUN_ID."
} >> "$GITHUB_STEP_SUMMARY"
"""

PUBLISH_SCRIPT = r"""set -euo pipefail
# ARCHIVE: the scanned OCI archive; IMAGE: <repository>:<tag> it is published as. Pushed as
# it is (--all: every platform and attestation; --preserve-digests: refuse any rewrite), then
# the registry's digest of the tag must be the archive's.
index="$(tar -xOf "$ARCHIVE" index.json)"
if [[ "$(jq '.manifests | length' <<<"$index")" != 1 ]]; then
  echo "::error::the archive must hold exactly one image index"
  exit 1
fi
digest="$(jq -r '.manifests[0].digest' <<<"$index")"
if [[ ! "$digest" =~ ^sha256:[0-9a-f]{64}$ ]]; then
  echo "::error::the archive names no image digest"
  exit 1
fi
skopeo copy --all --preserve-digests --retry-times 3 "oci-archive:$ARCHIVE" "docker://$IMAGE"
pushed="sha256:$(skopeo inspect --raw "docker://$IMAGE" | sha256sum | cut -d' ' -f1)"
if [[ "$pushed" != "$digest" ]]; then
  echo "::error::GHCR holds $pushed under $IMAGE, not the scanned $digest"
  exit 1
fi
echo "digest=$digest" >> "$GITHUB_OUTPUT"
echo "published $IMAGE@$digest"
"""

# Each deploy job's images as `deployment` delivery events, at the time the job committed them
# (Argo CD syncs development and staging automatically from that commit), and the run as a
# `pipeline_run` (docs/dora-metrics.md).
DEPLOYMENT_EVENTS_SCRIPT = r"""set -euo pipefail
gh api --paginate "repos/$REPO/actions/runs/$RUN_ID/attempts/$RUN_ATTEMPT/jobs" --jq '.jobs[]' \
  > "$RUNNER_TEMP/deploy-jobs.json" || echo "::warning::the run's jobs could not be read: deployments get this step's time"
read -r -a environments <<<"$ENVIRONMENTS"
for environment in "${environments[@]}"; do
  status="$(jq -r --arg job "deploy-$environment" '.[$job].result // "skipped"' <<<"$NEEDS")"
  case "$status" in
    success|failure) ;;
    *) echo "deploy-$environment: $status, nothing deployed"; continue ;;
  esac
  deployed_at="$(jq -r --arg job "deploy-$environment" 'select(.name == $job) | .completed_at // empty' \
    "$RUNNER_TEMP/deploy-jobs.json" 2>/dev/null | head -n 1 || true)"
  STATUS="$status" DEPLOYED_AT="$deployed_at" \
    python3 "$RECORDER" deployment --environment "$environment" --records "$IMAGES_DIR" --out "$OUT"
done
"""
EVENTS_WORKFLOW = "delivery"

OCI_ARTIFACT_PREFIX = "oci-"
SCAN_ARTIFACT_PREFIX = "image-scan-"
SCAN_DIR = "image-scan"
# publish runs when every image passed its scan and either nothing is high or a production
# approver accepted the high findings (seed 003, "Vulnerability Management").
PUBLISH_IF = (
    f"!cancelled() && {ANY_SERVICE} && needs.images.result == 'success' "
    "&& needs.image-findings.result == 'success' "
    "&& (needs.image-findings.outputs.high == 'false' || needs.accept-high-findings.result == 'success')"
)
ARCHIVE = "${{ runner.temp }}/image.tar"


def image_repository(settings: Settings) -> str:
    return f"{settings.image_registry}/${{{{ matrix.service }}}}"


def deploy_job(settings: Settings, env: Environment, needs: tuple[str, ...]) -> Job:
    wf = settings.workflows
    return Job(
        id=f"deploy-{env}",
        needs=needs,
        environment=env,
        # GITHUB_TOKEN only reads; the push uses the environment's deployer token.
        permissions=READ,
        timeout_minutes=10,
        steps=(
            # main as it is now, not the pushed commit: the image files are written on top of
            # whatever landed since the push, and only they change.
            checkout(ref=MAIN),
            Step(
                name="Download the image records",
                uses=action("actions/download-artifact"),
                with_={
                    "pattern": f"{IMAGE_ARTIFACT_PREFIX}*",
                    "merge-multiple": True,
                    "path": "${{ runner.temp }}/images",
                },
            ),
            Step(
                name=f"Commit the image tags to {settings.environment_dir(env)}",
                env={
                    "IMAGES_DIR": "${{ runner.temp }}/images",
                    "TARGET_DIR": settings.environment_dir(env),
                    "AUTHOR_NAME": wf.commit_author,
                    "AUTHOR_EMAIL": wf.commit_email,
                    "MESSAGE": f"deploy({env}): images of ${{{{ github.sha }}}} [skip ci]",
                    "PUSH_TOKEN": secret(ci_contract.DEPLOYER_GITHUB_TOKEN),
                    "SERVER": "${{ github.server_url }}",
                },
                run=DEPLOY_SCRIPT,
            ),
        ),
    )


def workflow(settings: Settings) -> Workflow:
    wf = settings.workflows
    discover = discover_job(
        settings,
        select="${{ github.event_name == 'push' && 'undelivered' || 'all' }}",
        # The whole history: the commits the image files record must resolve.
        fetch_depth=0,
        extra_steps=(
            checkout(
                name="Check out what main has delivered",
                ref=MAIN,
                path=DELIVERED_CHECKOUT,
                sparse=[images_dir(settings.environment_dir(env)) for env in settings.auto_deploy],
            ),
        ),
        extra_env={
            "DELIVERED_DIRS": " ".join(
                f"{DELIVERED_CHECKOUT}/{settings.environment_dir(env)}" for env in settings.auto_deploy
            )
        },
    )
    image = f"{image_repository(settings)}:${{{{ github.sha }}}}"
    toolchain = wf.toolchain
    oci_artifact = f"{OCI_ARTIFACT_PREFIX}${{{{ matrix.service }}}}"
    # Scan before push (docs/pipelines.md, "Pinned downloads and scan before push"): a multi-platform
    # image cannot be loaded into the runner's docker store, so the build writes an OCI
    # archive instead, Trivy scans each platform's image out of it, and only then a second
    # job, the only one allowed to write packages, pushes that same archive. Trivy thus never
    # runs beside a token that writes GHCR (the March 2026 compromise of its binary read
    # such tokens from runner memory), and nothing unscanned is ever pushed: no quarantine
    # tag a deploy could pick up by mistake.
    images = Job(
        id="images",
        needs=(discover.id,),
        if_=ANY_SERVICE,
        permissions=READ,
        timeout_minutes=60,
        strategy=Strategy(matrix={"service": services_matrix()}),
        steps=(
            checkout(),
            Step(
                name="Set up QEMU (multi-arch)",
                uses=action("docker/setup-qemu-action"),
                with_={
                    # By digest: the action's default is `tonistiigi/binfmt:latest`, run privileged.
                    "image": toolchain.qemu_image,
                    # No image cache: a cached image is loaded without checking its digest.
                    "cache-image": False,
                },
            ),
            Step(
                name="Set up Buildx",
                uses=action("docker/setup-buildx-action"),
                # The builder's BuildKit by digest, not the floating buildx-stable-1.
                with_={"driver-opts": f"image={toolchain.buildkit_image}"},
            ),
            Step(
                name="Build into an OCI archive (nothing is pushed yet)",
                id="build",
                uses=action("docker/build-push-action"),
                with_={
                    "context": f"{wf.services_path}/${{{{ matrix.service }}}}",
                    "platforms": ",".join(wf.image_platforms),
                    "push": False,
                    "tags": image,
                    "outputs": f"type=oci,dest={ARCHIVE}",
                    # SBOM and SLSA provenance attestations travel with the image.
                    "sbom": True,
                    "provenance": "mode=max",
                },
            ),
            trivy_install_step(settings),
            Step(
                name="Scan every platform; critical findings stop the image here (trivy)",
                env={
                    "ARCHIVE": ARCHIVE,
                    "PLATFORMS": " ".join(wf.image_platforms),
                    "SERVICE": "${{ matrix.service }}",
                    "OUT": SCAN_DIR,
                },
                run=SCAN_SCRIPT,
            ),
            Step(
                name="Hand the scan reports on (also when the scan failed)",
                if_=f"always() && hashFiles('{SCAN_DIR}/findings.jsonl') != ''",
                uses=action("actions/upload-artifact"),
                with_={
                    "name": f"{SCAN_ARTIFACT_PREFIX}${{{{ matrix.service }}}}",
                    "path": f"{SCAN_DIR}/",
                    "retention-days": 30,
                    "if-no-files-found": "error",
                },
            ),
            Step(
                name="Hand the scanned archive to the publish job",
                uses=action("actions/upload-artifact"),
                with_={
                    "name": oci_artifact,
                    "path": ARCHIVE,
                    "retention-days": 1,
                    "if-no-files-found": "error",
                    # Layers are compressed already.
                    "compression-level": 0,
                },
            ),
        ),
    )
    # The scan reports of every service and platform: to code scanning (SARIF, where the plan
    # has it) and into one verdict on high findings. No scanner runs beside this token.
    findings = Job(
        id="image-findings",
        needs=(discover.id, images.id),
        if_=f"!cancelled() && {ANY_SERVICE}",
        permissions=(
            {"actions": "read", "contents": "read", "security-events": "write"}
            if settings.code_scanning
            else {"contents": "read"}
        ),
        timeout_minutes=10,
        outputs={"high": "${{ steps.findings.outputs.high }}"},
        steps=(
            Step(
                name="Fetch every scan report",
                uses=action("actions/download-artifact"),
                with_={"pattern": f"{SCAN_ARTIFACT_PREFIX}*", "path": SCAN_DIR},
            ),
            *(
                (
                    Step(
                        name="Upload the image scans (one category per service and platform)",
                        uses=action("github/codeql-action/upload-sarif"),
                        with_={"sarif_file": SCAN_DIR},
                    ),
                )
                if settings.code_scanning
                else ()
            ),
            Step(
                name="Count high findings",
                id="findings",
                env={"REPORTS": SCAN_DIR, "ACCEPTANCE": ci_contract.IMAGE_RISK_ENVIRONMENT},
                run=FINDINGS_SCRIPT,
            ),
        ),
    )
    # Seed 003: "High: Require approval". The job waits for a required reviewer of the
    # acceptance environment (the production approvers, main only, no secrets); GitHub records
    # who approved. Without high findings it is skipped and publish does not wait.
    accept = Job(
        id="accept-high-findings",
        needs=(images.id, findings.id),
        # Only for images that can be published: none failed its scan on a critical finding.
        if_="needs.images.result == 'success' && needs.image-findings.outputs.high == 'true'",
        environment=ci_contract.IMAGE_RISK_ENVIRONMENT,
        permissions={},
        timeout_minutes=5,
        steps=(
            Step(
                name="Record the acceptance",
                env={
                    "ACCEPTANCE": ci_contract.IMAGE_RISK_ENVIRONMENT,
                    "RUN_ID": "${{ github.run_id }}",
                    "SHA": "${{ github.sha }}",
                    "SERVER": "${{ github.server_url }}",
                    "REPO": "${{ github.repository }}",
                },
                run=ACCEPT_SCRIPT,
            ),
        ),
    )
    publish = Job(
        id="publish",
        # discover too: the matrix and the condition read its output.
        needs=(discover.id, images.id, findings.id, accept.id),
        if_=PUBLISH_IF,
        # packages: write to push to GHCR; nothing else, and no scanner runs here.
        permissions={"contents": "read", "packages": "write"},
        timeout_minutes=30,
        strategy=Strategy(matrix={"service": services_matrix()}),
        steps=(
            Step(
                name="Fetch the scanned archive",
                uses=action("actions/download-artifact"),
                with_={"name": oci_artifact, "path": "${{ runner.temp }}"},
            ),
            Step(
                name="Log in to GHCR",
                uses=action("docker/login-action"),
                with_={
                    "registry": "ghcr.io",
                    "username": "${{ github.actor }}",
                    "password": "${{ github.token }}",
                },
            ),
            Step(
                name="Push the scanned archive as it is",
                id="publish",
                env={"ARCHIVE": ARCHIVE, "IMAGE": image},
                run=PUBLISH_SCRIPT,
            ),
            Step(
                name="Record the image",
                env={
                    "SERVICE": "${{ matrix.service }}",
                    "REPOSITORY": image_repository(settings),
                    "TAG": "${{ github.sha }}",
                    "DIGEST": "${{ steps.publish.outputs.digest }}",
                },
                run=RECORD_SCRIPT,
            ),
            Step(
                name="Hand the record to the deploy jobs",
                uses=action("actions/upload-artifact"),
                with_={
                    "name": f"{IMAGE_ARTIFACT_PREFIX}${{{{ matrix.service }}}}",
                    "path": "${{ runner.temp }}/image/",
                    "retention-days": 7,
                    "if-no-files-found": "error",
                },
            ),
        ),
    )
    deploys: list[Job] = []
    for env in settings.auto_deploy:
        deploys.append(deploy_job(settings, env, (deploys[-1].id,) if deploys else (publish.id,)))
    jobs = (discover, images, findings, accept, publish, *deploys)
    # In ci-main, which holds the bucket's key and deploys from main only; observability only.
    events = Job(
        id="events",
        needs=tuple(j.id for j in jobs),
        if_=f"{ALWAYS} && github.ref == 'refs/heads/{MAIN}'",
        environment=ci_contract.CI_MAIN_ENVIRONMENT,
        advisory=True,
        # actions: read lists the run's jobs; contents: read checks out the pushed commit
        # (the recorder, and the commit's author time for lead time).
        permissions={"actions": "read", "contents": "read"},
        timeout_minutes=5,
        steps=(
            checkout(),
            Step(
                name="Fetch the image records",
                uses=action("actions/download-artifact"),
                continue_on_error=True,
                with_={
                    "pattern": f"{IMAGE_ARTIFACT_PREFIX}*",
                    "merge-multiple": True,
                    "path": "${{ runner.temp }}/images",
                },
            ),
            Step(
                name="Record the deployments",
                continue_on_error=True,
                env={
                    **event_env(EVENTS_WORKFLOW, CHECKED_OUT_RECORDER),
                    "GH_TOKEN": "${{ github.token }}",
                    "NEEDS": "${{ toJSON(needs) }}",
                    "ENVIRONMENTS": " ".join(settings.auto_deploy),
                    "IMAGES_DIR": "${{ runner.temp }}/images",
                    "COMMIT": "${{ github.sha }}",
                },
                run=DEPLOYMENT_EVENTS_SCRIPT,
            ),
            pipeline_run_step(EVENTS_WORKFLOW, CHECKED_OUT_RECORDER),
            upload_events_step(settings, EVENTS_WORKFLOW, CHECKED_OUT_RECORDER),
        ),
    )
    return Workflow(
        file=FILE,
        name="Delivery",
        on=Triggers(
            push=Push(branches=("main",), paths=(f"{wf.services_path}/**",)),
            workflow_dispatch=WorkflowDispatch(),
        ),
        permissions={},
        concurrency=Concurrency(group="${{ github.workflow }}", cancel_in_progress=False),
        jobs=(*jobs, events, notify_job("delivery", jobs, if_=FAILED_ON_MAIN)),
    )
