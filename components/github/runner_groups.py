"""The organisation's self-hosted runner groups of the infrastructure jobs (`pipeline.runners`).

A stack whose control plane admits only fixed addresses runs `state-preview-<env>` and
`up-<env>` on a self-hosted group inside that ACL (docs/security.md, "Reachability"). GitHub's default
lets every workflow of every repository the group admits ask for its runners; a workflow
pushed to any branch would then run on a host inside production's ACL that later runs its
`up` (review finding H5). So each group admits this repository only (`visibility: selected`,
never a public one) and, within it, only `infrastructure.yml` as committed on `main`.

Runner groups belong to the organisation, not the repository: the provider refuses them for
a user account (config validation says so first, `github.ownerType`), and the managing
stack's deployer token needs the organisation's "Self-hosted runners" permission
(`components.github.identities`). The groups are `protect`ed: deleting a group moves its
runners to the organisation's default group, which admits every repository.
"""

from __future__ import annotations

import pulumi
import pulumi_github as github
from pydantic import BaseModel, ConfigDict, Field

from components.config.base import MAIN_BRANCH, Environment
from components.github.workflows import infrastructure, promote, staging_validation

# The workflow file whose jobs run on the groups, as GitHub names it in a workflow restriction.
WORKFLOW_PATH = f".github/workflows/{infrastructure.FILE}"
# Staging validation's observer jobs, on a group whose stack puts them there
# (`pipeline.runners.staging.validationObserver`, for a staging control-plane ACL).
OBSERVER_WORKFLOW_PATH = f".github/workflows/{staging_validation.FILE}"
# The promotion's production-health job, on production's group where it has an ACL
# (`pipeline.runners.production.healthObserver`).
HEALTH_WORKFLOW_PATH = f".github/workflows/{promote.FILE}"


class RunnerGroupsArgs(BaseModel):
    """The repository, and each stack's group name (`pipeline.runners.<stack>.group`)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    owner: str
    repository: str
    groups: dict[Environment, str] = Field(min_length=1)
    # Stacks whose group also runs staging validation's observer jobs.
    observers: frozenset[Environment] = frozenset()
    # Stacks whose group also runs promote.yml's production-health job.
    health_observers: frozenset[Environment] = frozenset()


def selected_workflow(owner: str, repository: str, path: str = WORKFLOW_PATH) -> str:
    """A workflow a group runs: `<owner>/<repo>/<path>@refs/heads/main`."""
    return f"{owner}/{repository}/{path}@refs/heads/{MAIN_BRANCH}"


class RunnerGroups(pulumi.ComponentResource):
    """One restricted runner group per stack that runs its infrastructure jobs self-hosted."""

    groups: dict[Environment, github.ActionsRunnerGroup]

    def __init__(self, name: str, args: RunnerGroupsArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("delivery:runner_groups:RunnerGroups", name, None, opts)
        # The repository's numeric id, which the group's repository list takes.
        repository = github.get_repository_output(
            name=args.repository, opts=pulumi.InvokeOptions(parent=self)
        )
        self.groups = {}
        for env in sorted(args.groups):
            self.groups[env] = github.ActionsRunnerGroup(
                f"{name}-{env}",
                name=args.groups[env],
                visibility="selected",
                selected_repository_ids=[repository.repo_id],
                allows_public_repositories=False,
                restricted_to_workflows=True,
                selected_workflows=[
                    selected_workflow(args.owner, args.repository),
                    *(
                        [selected_workflow(args.owner, args.repository, OBSERVER_WORKFLOW_PATH)]
                        if env in args.observers
                        else []
                    ),
                    *(
                        [selected_workflow(args.owner, args.repository, HEALTH_WORKFLOW_PATH)]
                        if env in args.health_observers
                        else []
                    ),
                ],
                opts=pulumi.ResourceOptions(parent=self, protect=True),
            )
        self.register_outputs({"groups": {env: group.name for env, group in self.groups.items()}})
