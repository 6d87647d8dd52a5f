"""``promotion-guard.yml``: production's images change only through promotion.

Production's Applications track ``release/production``, which only ``promote.yml`` moves
(after the production approval, to a validated revision) and the release ruleset lets no one
else push. This required check keeps pull requests off that path: it refuses a pull request
into a release branch, whoever opened it, and any change to production's image files on
``main`` (nothing reads them there: the promotion writes production's image files from the
validated staging set, so a hand-edited copy would only mislead its readers). It runs on
every pull request and merge-queue entry, so the ruleset can require it.
"""

from __future__ import annotations

from components.contracts.gitops_layout import RELEASE_BRANCH_PREFIX, images_dir
from components.github.workflows.common import READ, checkout, gate_job, supersede_pull_request_runs
from components.github.workflows.model import Job, MergeGroup, PullRequest, Step, Triggers, Workflow
from components.github.workflows.settings import Settings

FILE = "promotion-guard.yml"
GATE = "promotion-guard"

GUARD_SCRIPT = r"""set -euo pipefail
# BASE_REF: the branch the change goes to; BASE, HEAD: the commits to compare;
# PROTECTED: production's image files; RELEASE_PREFIX: the branches only promotion moves.
base_ref="${BASE_REF#refs/heads/}"
if [[ "$base_ref" == "$RELEASE_PREFIX"* ]]; then
  echo "::error::$base_ref moves only by promote.yml after production's approval, never by a pull request"
  exit 1
fi
# What the change adds on top of where it branched off (the checkout holds the whole history).
mapfile -t changed < <(git diff --name-only "$BASE...$HEAD" -- "$PROTECTED")
if (( ${#changed[@]} > 0 )); then
  for path in "${changed[@]}"; do
    echo "::error file=$path::production's images change only through promote.yml (staging validation, then production's approval)"
  done
  exit 1
fi
echo "no change to production's images"
"""


def workflow(settings: Settings) -> Workflow:
    target = settings.promote_to
    guard = Job(
        id="production-images",
        name="production images",
        permissions=READ,
        timeout_minutes=5,
        steps=(
            checkout(fetch_depth=0),
            Step(
                name=f"Refuse changes to {target}'s images outside promotion",
                env={
                    "BASE_REF": "${{ github.base_ref || github.event.merge_group.base_ref }}",
                    "BASE": "${{ github.event.pull_request.base.sha || github.event.merge_group.base_sha }}",
                    "HEAD": "${{ github.event.pull_request.head.sha || github.event.merge_group.head_sha }}",
                    "PROTECTED": images_dir(settings.environment_dir(target)),
                    "RELEASE_PREFIX": RELEASE_BRANCH_PREFIX,
                },
                run=GUARD_SCRIPT,
            ),
        ),
    )
    return Workflow(
        file=FILE,
        name="Promotion guard",
        on=Triggers(pull_request=PullRequest(), merge_group=MergeGroup()),
        permissions={},
        concurrency=supersede_pull_request_runs(),
        jobs=(guard, gate_job(GATE, (guard,))),
    )
