"""``promote.yml``: promote the images running in staging to production, by pull request.

Manual (``workflow_dispatch``, input ``service``: one service or ``all``). The job runs in
the ``production`` environment, so a production reviewer approves before it starts; it
copies ``<clustersPath>/staging/images/<service>.yaml`` to the production directory on a
new branch and opens a pull request with the deployer token (a pull request opened with
the run's own GITHUB_TOKEN would not trigger the required checks). Once merged, an
operator syncs production by hand in Argo CD (seed 001).
"""

from __future__ import annotations

from components import ci_contract
from components.workflows.common import GIT_AUTH_FUNCTION, READ, checkout, secret
from components.workflows.model import Concurrency, Input, Job, Step, Triggers, Workflow, WorkflowDispatch
from components.workflows.settings import Settings

FILE = "promote.yml"

PROMOTE_SCRIPT = (
    "set -euo pipefail\n"
    + GIT_AUTH_FUNCTION
    + r"""
# SERVICE (input, via env only): a service name or "all". Copies the image files of
# SOURCE_DIR to TARGET_DIR on branch BRANCH and opens a pull request to main.
export LC_ALL=C
shopt -s nullglob
if [[ "$SERVICE" == all ]]; then
  files=("$SOURCE_DIR"/images/*.yaml)
elif [[ "$SERVICE" =~ ^[a-z0-9][a-z0-9-]{0,62}$ && -f "$SOURCE_DIR/images/$SERVICE.yaml" ]]; then
  files=("$SOURCE_DIR/images/$SERVICE.yaml")
else
  echo "::error::no image of that service in $SOURCE_DIR/images"
  exit 1
fi
if (( ${#files[@]} == 0 )); then
  echo "::error::$SOURCE_DIR/images holds no images to promote"
  exit 1
fi
mkdir -p "$TARGET_DIR/images"
promoted=()
for file in "${files[@]}"; do
  name="${file##*/}"
  if ! cmp -s "$file" "$TARGET_DIR/images/$name"; then
    cp "$file" "$TARGET_DIR/images/$name"
    promoted+=("${name%.yaml}")
  fi
done
if (( ${#promoted[@]} == 0 )); then
  echo "production already runs the staging images"
  exit 0
fi
git config user.name "$AUTHOR_NAME"
git config user.email "$AUTHOR_EMAIL"
git switch --quiet --create "$BRANCH"
git add -- "$TARGET_DIR/images"
git commit --quiet --message "promote(production): ${promoted[*]} from staging"
git_auth push --quiet origin "$BRANCH"
body="Images running in staging, promoted by $ACTOR in $SERVER/$REPO/actions/runs/$RUN_ID: ${promoted[*]}.

After merging, sync the production Applications by hand in Argo CD."
gh pr create --base main --head "$BRANCH" --title "Promote to production: ${promoted[*]}" --body "$body"
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
                    "SOURCE_DIR": f"{settings.clusters_path}/{source}",
                    "TARGET_DIR": f"{settings.clusters_path}/{target}",
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
