"""``drift.yml``: does every stack still match what main's program declares?

Daily, and by hand on ``main``: one job per stack runs ``pulumi preview --refresh
--expect-no-changes`` in the stack's ``<env>-preview`` environment (main only; production's
only after a production reviewer approves, as for every use of its passphrase), on the
stack's infrastructure runner. The refresh reads every resource the state records back
from GitHub, Linode and the cluster; the preview then fails if anything differs from what
the program declares: a reviewer removed from an environment, a ruleset or branch policy
widened, a workflow file edited by hand, a secret deleted, a node pool resized. ``notify``
(environment ``ci-main``) tells Slack when a stack drifted or could not be checked.

Without this, ``up`` and ``preview`` compare the program with the *state*, never with
GitHub or Linode, so a change made outside the program stays (docs/operations.md, "Drift detection").
The preview writes nothing: the refresh's readings are not saved (only ``pulumi refresh``
or ``up --refresh`` would), and its credentials are the read-only ones of ``<env>-preview``.
"""

from __future__ import annotations

from components.github import ci_contract
from components.github.workflows.common import READ, notify_job
from components.github.workflows.infrastructure import refresh_preview_steps
from components.github.workflows.model import Concurrency, Job, Triggers, Workflow, WorkflowDispatch
from components.github.workflows.settings import Settings

FILE = "drift.yml"
# 05:17 UTC daily: off the hour (GitHub delays schedules at :00 under load), before the
# working day in Europe and after it in the Americas, when an `up` is least likely.
SCHEDULE = "17 5 * * *"
# A scheduled run is always main's; a manual one may name another ref, which the preview
# environments (main only) would refuse anyway: skipped here instead of failing there.
ON_MAIN = "github.ref == 'refs/heads/main'"


def workflow(settings: Settings) -> Workflow:
    checks = tuple(
        Job(
            id=f"drift-{env}",
            name=f"{env} matches main's program",
            if_=ON_MAIN,
            environment=ci_contract.preview_environment(env),
            runs_on=settings.infrastructure_runner(env),
            permissions=READ,
            timeout_minutes=30,
            # One check per stack at a time; never in a group `up` uses, where a pending
            # check could displace a pending `up`.
            concurrency=Concurrency(group=f"drift-{env}", cancel_in_progress=False),
            steps=refresh_preview_steps(settings, env),
        )
        for env in settings.environments
    )
    return Workflow(
        file=FILE,
        name="Drift detection",
        on=Triggers(schedule=(SCHEDULE,), workflow_dispatch=WorkflowDispatch()),
        permissions={},
        concurrency=Concurrency(group="${{ github.workflow }}", cancel_in_progress=False),
        jobs=(
            *checks,
            notify_job(
                "drift detection (a stack differs from main's program, or could not be checked)",
                checks,
                if_=f"failure() && {ON_MAIN}",
            ),
        ),
    )
