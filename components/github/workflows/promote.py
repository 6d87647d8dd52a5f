"""``promote.yml``: promote the images staging validated to production, by pull request.

Manual (``workflow_dispatch``, input ``service``: one service or ``all``). Two jobs:

- ``validated`` (check ``staging validated``): the image set promotion copies is staging's
  image files at this commit; the commit that last changed them must carry a green
  ``staging-validation`` status written by GitHub Actions (``staging-validation.yml``).
  The gate script (``.github/scripts/promotion_gate.py``) says which checks failed, or that
  the status is pending or missing, and refuses;
- ``promote``, only then, in the ``production`` environment, so a production reviewer
  approves after the gate and never for an unvalidated set. It checks that the staging
  images are still the validated tree, copies ``<clustersPath>/staging/images/<service>.yaml``
  to the production directory on a new branch and opens a pull request, linking the
  validation run, with the deployer token (a pull request opened with the run's own
  GITHUB_TOKEN would not trigger the required checks). Once merged, an operator syncs
  production by hand in Argo CD (seed 001).
"""

from __future__ import annotations

from components.github import ci_contract
from components.github.workflows.common import GIT_AUTH_FUNCTION, READ, checkout, secret
from components.github.workflows.model import (
    Concurrency,
    Input,
    Job,
    Step,
    Triggers,
    Workflow,
    WorkflowDispatch,
)
from components.github.workflows.scripts import PROMOTION_GATE, SCRIPTS_DIR
from components.github.workflows.settings import Settings
from components.gitops.gitops_layout import IMAGE_FILE_SUFFIX, image_file, images_dir

FILE = "promote.yml"

# Paths from gitops_layout with the script's shell variables in them: promote.yml writes
# where the production Applications read.
_SOURCE_IMAGES = images_dir("$SOURCE_DIR")
_TARGET_IMAGES = images_dir("$TARGET_DIR")
_REQUESTED_IMAGE = image_file("$SOURCE_DIR", "$SERVICE")
# Every image file of SOURCE_DIR: the directory quoted, the `*` left for the shell to glob.
_EVERY_SOURCE_IMAGE = image_file('"$SOURCE_DIR"', "*")

PROMOTE_SCRIPT = (
    "set -euo pipefail\n"
    + GIT_AUTH_FUNCTION
    + rf"""
# SERVICE (input, via env only): a service name or "all". Copies the image files of
# SOURCE_DIR to TARGET_DIR on branch BRANCH and opens a pull request to main.
export LC_ALL=C
shopt -s nullglob
if [[ "$SERVICE" == all ]]; then
  files=({_EVERY_SOURCE_IMAGE})
elif [[ "$SERVICE" =~ ^[a-z0-9][a-z0-9-]{{0,62}}$ && -f "{_REQUESTED_IMAGE}" ]]; then
  files=("{_REQUESTED_IMAGE}")
else
  echo "::error::no image of that service in {_SOURCE_IMAGES}"
  exit 1
fi
if (( ${{#files[@]}} == 0 )); then
  echo "::error::{_SOURCE_IMAGES} holds no images to promote"
  exit 1
fi
# IMAGES_TREE: the tree of the staging images the `validated` job found validated.
if [[ "$(git rev-parse "HEAD:{_SOURCE_IMAGES}")" != "$IMAGES_TREE" ]]; then
  echo "::error::the staging images are not the set staging validation passed"
  exit 1
fi
mkdir -p "{_TARGET_IMAGES}"
promoted=()
for file in "${{files[@]}}"; do
  name="${{file##*/}}"
  if ! cmp -s "$file" "{_TARGET_IMAGES}/$name"; then
    cp "$file" "{_TARGET_IMAGES}/$name"
    promoted+=("${{name%{IMAGE_FILE_SUFFIX}}}")
  fi
done
if (( ${{#promoted[@]}} == 0 )); then
  echo "production already runs the staging images"
  exit 0
fi
git config user.name "$AUTHOR_NAME"
git config user.email "$AUTHOR_EMAIL"
git switch --quiet --create "$BRANCH"
git add -- "{_TARGET_IMAGES}"
git commit --quiet --message "promote(production): ${{promoted[*]}} from staging"
git_auth push --quiet origin "$BRANCH"
body="Images running in staging, promoted by $ACTOR in $SERVER/$REPO/actions/runs/$RUN_ID: ${{promoted[*]}}.

Staging validation passed for this image set (commit $IMAGE_COMMIT): $VALIDATION_URL

After merging, sync the production Applications by hand in Argo CD."
gh pr create --base main --head "$BRANCH" --title "Promote to production: ${{promoted[*]}}" --body "$body"
"""
)


STAGING_VALIDATED_SCRIPT = (
    "set -euo pipefail\n"
    + rf"""# The image set to promote is SOURCE_DIR's image files at this commit. The commit that last
# changed them is the one staging validation records its status on.
images="{_SOURCE_IMAGES}"
image_commit="$(git log -1 --format=%H -- "$images")"
if [[ -z "$image_commit" ]]; then
  echo "::error::$images holds no images to promote"
  exit 1
fi
tree="$(git rev-parse "HEAD:$images")"
gh api "repos/$REPO/commits/$image_commit/statuses?per_page=100" > "$RUNNER_TEMP/statuses.json"
python3 "$GATE_SCRIPT" "$RUNNER_TEMP/statuses.json" --sha "$image_commit" --context "$REQUIRED_STATUS"
{{
  echo "image_commit=$image_commit"
  echo "images_tree=$tree"
}} >> "$GITHUB_OUTPUT"
"""
)


def workflow(settings: Settings) -> Workflow:
    wf = settings.workflows
    target = settings.promote_to
    source = settings.auto_deploy[-1]
    validated = Job(
        id="validated",
        name=f"{source} validated",
        # statuses: read for the one status lookup; nothing else.
        permissions={"contents": "read", "statuses": "read"},
        timeout_minutes=5,
        outputs={
            "image_commit": "${{ steps.gate.outputs.image_commit }}",
            "images_tree": "${{ steps.gate.outputs.images_tree }}",
            "run_url": "${{ steps.gate.outputs.run_url }}",
        },
        steps=(
            checkout(fetch_depth=0),
            Step(
                name=f"Require a green {ci_contract.STAGING_VALIDATION_STATUS} on the {source} image set",
                id="gate",
                env={
                    "SOURCE_DIR": settings.environment_dir(source),
                    "REQUIRED_STATUS": ci_contract.STAGING_VALIDATION_STATUS,
                    "GATE_SCRIPT": f"{SCRIPTS_DIR}/{PROMOTION_GATE}",
                    "GH_TOKEN": "${{ github.token }}",
                    "REPO": "${{ github.repository }}",
                },
                run=STAGING_VALIDATED_SCRIPT,
            ),
        ),
    )
    promote = Job(
        id="promote",
        # The production approval is asked for only after the gate passed.
        needs=(validated.id,),
        environment=target,
        permissions=READ,
        timeout_minutes=10,
        concurrency=Concurrency(group=f"promote-{target}", cancel_in_progress=False),
        steps=(
            checkout(),
            Step(
                name=f"Open a pull request promoting {source} images to {target}",
                env={
                    "SERVICE": "${{ inputs.service }}",
                    "SOURCE_DIR": settings.environment_dir(source),
                    "TARGET_DIR": settings.environment_dir(target),
                    "BRANCH": f"promote/{target}-${{{{ github.run_id }}}}",
                    "AUTHOR_NAME": wf.commit_author,
                    "AUTHOR_EMAIL": wf.commit_email,
                    "GH_TOKEN": secret(ci_contract.DEPLOYER_GITHUB_TOKEN),
                    "PUSH_TOKEN": secret(ci_contract.DEPLOYER_GITHUB_TOKEN),
                    "ACTOR": "${{ github.triggering_actor }}",
                    "SERVER": "${{ github.server_url }}",
                    "REPO": "${{ github.repository }}",
                    "RUN_ID": "${{ github.run_id }}",
                    "IMAGES_TREE": "${{ needs.validated.outputs.images_tree }}",
                    "IMAGE_COMMIT": "${{ needs.validated.outputs.image_commit }}",
                    "VALIDATION_URL": "${{ needs.validated.outputs.run_url }}",
                },
                run=PROMOTE_SCRIPT,
            ),
        ),
    )
    return Workflow(
        file=FILE,
        name=f"Promote to {target}",
        on=Triggers(
            workflow_dispatch=WorkflowDispatch(
                inputs={
                    "service": Input(description='Service to promote, or "all".', default="all"),
                }
            )
        ),
        permissions={},
        jobs=(validated, promote),
    )
