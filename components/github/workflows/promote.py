"""``promote.yml``: promote the images running in staging to production, by pull request.

Manual (``workflow_dispatch``, input ``service``: one service or ``all``). The job runs in
the ``production`` environment, so a production reviewer approves before it starts; it
copies ``<clustersPath>/staging/images/<service>.yaml`` to the production directory on a
new branch and opens a pull request with the deployer token (a pull request opened with
the run's own GITHUB_TOKEN would not trigger the required checks). Once merged, an
operator syncs production by hand in Argo CD (seed 001).
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

After merging, sync the production Applications by hand in Argo CD."
gh pr create --base main --head "$BRANCH" --title "Promote to production: ${{promoted[*]}}" --body "$body"
"""
)


def workflow(settings: Settings) -> Workflow:
    wf = settings.workflows
    target = settings.promote_to
    source = settings.auto_deploy[-1]
    promote = Job(
        id="promote",
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
        jobs=(promote,),
    )
