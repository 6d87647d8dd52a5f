"""The GitHub Actions workflows of the delivery system, as typed models.

    workflows(settings)          every workflow file, built from the stack's settings
    required_status_checks()     the check names branch protection must require
    used_actions(settings)       the pinned actions the workflows run (the allowed-actions policy)

One module per workflow file builds its ``Workflow``; ``render.render`` turns one into the
YAML committed under ``.github/workflows/``.
"""

from __future__ import annotations

from components.github.workflows import (
    ci,
    ci_remote,
    db_guardrails,
    delivery,
    delivery_events,
    dora_report,
    drift,
    infrastructure,
    promote,
    promotion_guard,
    reusable_build,
    security,
    staging_validation,
)
from components.github.workflows.model import Workflow
from components.github.workflows.settings import REFERENCE, Settings

__all__ = [
    "Settings",
    "Workflow",
    "required_code_scanning_tools",
    "required_status_checks",
    "used_actions",
    "workflows",
]

_BUILDERS = (
    ci.workflow,
    reusable_build.workflow,
    ci_remote.workflow,
    security.workflow,
    db_guardrails.workflow,
    infrastructure.workflow,
    drift.workflow,
    delivery.workflow,
    delivery_events.workflow,
    staging_validation.workflow,
    promote.workflow,
    promotion_guard.workflow,
    dora_report.workflow,
)


def workflows(settings: Settings) -> list[Workflow]:
    """Every workflow file the repository gets, in a stable order."""
    built = [build(settings) for build in _BUILDERS]
    files = [w.file for w in built]
    if len(files) != len(set(files)):
        raise ValueError(f"two workflows share a file name: {files}")
    return built


def pull_request_gates(settings: Settings = REFERENCE) -> list[tuple[Workflow, str]]:
    """(workflow, gate check name) of every workflow that runs on every pull request."""
    gates: list[tuple[Workflow, str]] = []
    for workflow in workflows(settings):
        if workflow.on.on_every_pull_request:
            if workflow.gate is None:
                raise ValueError(f"{workflow.file} runs on pull requests but has no gate job")
            gates.append((workflow, workflow.gate.check_name))
    return gates


def required_status_checks() -> list[str]:
    """Names of the always-running gate jobs of the workflows that run on pull requests.

    These are the check names GitHub reports (a job's ``name:``, else its id); branch
    protection requires exactly these. They do not depend on the stack's settings.
    """
    names = [name for _, name in pull_request_gates()]
    if len(names) != len(set(names)):
        raise ValueError(f"gate check names must be unique across workflows: {names}")
    return sorted(names)


def used_actions(settings: Settings) -> list[str]:
    """Names (``owner/repo`` or ``owner/repo/path``) of the pinned actions the workflows run."""
    return sorted(
        {step.uses.name for w in workflows(settings) for job in w.jobs for step in job.steps if step.uses}
    )


def required_code_scanning_tools(settings: Settings) -> list[str]:
    """The SAST tools whose code-scanning results the ruleset requires on every pull request:
    those security.yml uploads on pull requests (none where the plan has no code scanning)."""
    if not settings.code_scanning:
        return []
    return sorted(security.SAST_TOOLS)
