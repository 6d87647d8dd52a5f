"""The repository's GitHub Actions settings: which actions may run, and what a workflow's
``GITHUB_TOKEN`` may do unless the workflow says otherwise (review finding M10).

Declared only by the stack with `github.manageRepository` (docs/governance.md).

- Allowed actions: GitHub's own (the ``actions`` and ``github`` organisations) and those of
  the publishers whose actions the generated workflows run (``owner/*``), every one pinned to
  a full commit SHA. A workflow added on a branch can then run neither another publisher's
  action nor any action by a moving tag. By publisher, not by action: the policy also holds
  the actions a composite action runs, and ``aquasecurity/trivy-action`` runs
  ``aquasecurity/setup-trivy`` (pinned by SHA in its action.yaml for this very policy).
  Calls of this repository's own reusable workflows (``./.github/workflows/...``) carry no
  ref: they run the caller's commit.
- The ``GITHUB_TOKEN`` of a workflow that states no ``permissions`` can only read, and no
  workflow's token may approve a pull request (an approval by ``github-actions[bot]`` would
  otherwise stand beside the human ones). Every generated workflow states its permissions;
  this covers whatever else runs.

Deleting the allowed-actions policy allows every action again (the provider's delete), so
it is guarded against renames without an alias (``tools/urns.py``); deleting the token's
defaults resets them to read-only without approvals, which is what is declared here.
"""

from __future__ import annotations

from collections.abc import Iterable

import pulumi
import pulumi_github as github
from pydantic import BaseModel, ConfigDict, Field

# Organisations whose actions GitHub counts as its own (`github_owned_allowed`).
GITHUB_OWNED = frozenset({"actions", "github"})


class ActionsSettingsArgs(BaseModel):
    """The repository, and the actions its workflows run (``workflows.used_actions``)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    repository: str
    actions: list[str] = Field(min_length=1)


def allowed_patterns(actions: Iterable[str]) -> list[str]:
    """`patterns_allowed` of the allowed-actions policy: the publisher of every action that
    GitHub does not own (the ref of each must still be a full SHA)."""
    owners = {name.split("/", 1)[0] for name in actions}
    return sorted(f"{owner}/*" for owner in owners - GITHUB_OWNED)


class ActionsSettings(pulumi.ComponentResource):
    """The allowed-actions policy and the workflow token's defaults of one repository."""

    allowed: github.ActionsRepositoryPermissions
    token: github.WorkflowRepositoryPermissions

    def __init__(self, name: str, args: ActionsSettingsArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("delivery:actions_settings:ActionsSettings", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        self.allowed = github.ActionsRepositoryPermissions(
            f"{name}-allowed-actions",
            repository=args.repository,
            enabled=True,
            allowed_actions="selected",
            allowed_actions_config=github.ActionsRepositoryPermissionsAllowedActionsConfigArgs(
                github_owned_allowed=True,
                # Marketplace "verified creators" are a whole class of publishers: no.
                verified_allowed=False,
                patterns_alloweds=allowed_patterns(args.actions),
            ),
            sha_pinning_required=True,
            opts=child,
        )
        self.token = github.WorkflowRepositoryPermissions(
            f"{name}-workflow-token",
            repository=args.repository,
            default_workflow_permissions="read",
            can_approve_pull_request_reviews=False,
            opts=child,
        )
        self.register_outputs({})
