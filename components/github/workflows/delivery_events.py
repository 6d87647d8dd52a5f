"""``delivery-events.yml``: records what Argo CD's notifications report as delivery events.

Argo CD's notifications controller sends a ``repository_dispatch`` when a Rollout of an
Application is aborted (``rollout-aborted``: its update failed analysis or was aborted by
hand, and traffic went back to the stable version) and when an Application turns Degraded
(``incident-opened``) or Healthy (``incident-resolved``): gitops' notifications, one trigger
each. The one job, in ``ci-main`` (the bucket's key; main only: a dispatch always runs the
default branch's workflow), turns the client payload into a ``rollback`` or ``incident``
event and uploads it. Nothing here can fail a delivery: the job is observability only.
"""

from __future__ import annotations

from components.contracts.delivery_events import RECORDED_DISPATCH_EVENTS
from components.github import ci_contract
from components.github.workflows.common import event_env, event_recorder_checkout, upload_events_step
from components.github.workflows.model import Job, RepositoryDispatch, Step, Triggers, Workflow
from components.github.workflows.settings import Settings

FILE = "delivery-events.yml"
EVENTS_WORKFLOW = "delivery-events"

RECORD_SCRIPT = r"""set -euo pipefail
# EVENT_TYPE: the dispatch's event type; PAYLOAD: its client_payload as JSON (from env, never
# spliced into the script).
python3 "$RECORDER" dispatch --out "$OUT"
"""


def workflow(settings: Settings) -> Workflow:
    record = Job(
        id="record",
        if_="github.ref == 'refs/heads/main'",
        environment=ci_contract.CI_MAIN_ENVIRONMENT,
        advisory=True,
        permissions={"contents": "read"},
        timeout_minutes=5,
        steps=(
            event_recorder_checkout(),
            Step(
                name="Record the notification",
                continue_on_error=True,
                env={
                    **event_env(EVENTS_WORKFLOW),
                    "EVENT_TYPE": "${{ github.event.action }}",
                    "PAYLOAD": "${{ toJSON(github.event.client_payload) }}",
                },
                run=RECORD_SCRIPT,
            ),
            upload_events_step(settings, EVENTS_WORKFLOW),
        ),
    )
    return Workflow(
        file=FILE,
        name="Delivery events",
        on=Triggers(repository_dispatch=RepositoryDispatch(types=RECORDED_DISPATCH_EVENTS)),
        permissions={},
        jobs=(record,),
    )
