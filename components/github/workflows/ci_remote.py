"""``ci-remote.yml``: the CI pipeline on demand, for contributors on restricted machines.

``workflow_dispatch`` with inputs ``service`` (default ``all``) and ``notes`` (seed 001:
``make ci-remote SERVICE=... NOTES=...``). The notes are written to the run summary
through an environment variable, so no input text is ever spliced into a script.
"""

from __future__ import annotations

from components.github.workflows import ci
from components.github.workflows.common import discover_job
from components.github.workflows.model import Input, Job, Step, Triggers, Workflow, WorkflowDispatch
from components.github.workflows.settings import Settings

FILE = "ci-remote.yml"
GATE = "ci-remote-gate"

NOTES_SCRIPT = r"""set -euo pipefail
# The requester's notes are data: printed from env as quoted text, never evaluated.
{
  echo "### Remote CI"
  echo
  printf -- '- requested by: %s\n' "$ACTOR"
  printf -- '- service: %s\n' "$SERVICE"
  echo
  echo "Notes:"
  echo
  while IFS= read -r line; do printf '> %s\n' "$line"; done <<<"${NOTES:-(none)}"
} >> "$GITHUB_STEP_SUMMARY"
"""


def workflow(settings: Settings) -> Workflow:
    discover = discover_job(
        settings,
        select="named",
        fetch_depth=1,
        extra_env={"REQUESTED": "${{ inputs.service }}"},
    )
    summary = Job(
        id="summary",
        advisory=True,
        permissions={},
        timeout_minutes=5,
        steps=(
            Step(
                name="Record the request in the run summary",
                env={
                    "NOTES": "${{ inputs.notes }}",
                    "SERVICE": "${{ inputs.service }}",
                    "ACTOR": "${{ github.triggering_actor }}",
                },
                run=NOTES_SCRIPT,
            ),
        ),
    )
    jobs = ci.pipeline_jobs(settings, discover, workflow_name="ci-remote", gate=GATE)
    return Workflow(
        file=FILE,
        name="CI (remote)",
        on=Triggers(
            workflow_dispatch=WorkflowDispatch(
                inputs={
                    "service": Input(
                        description='Service to build and test (a directory of the services path), or "all".',
                        default="all",
                    ),
                    "notes": Input(
                        description="Notes for the audit trail, shown in the run summary.", default=""
                    ),
                }
            )
        ),
        permissions={"contents": "read"},
        jobs=(summary, *jobs),
    )
