"""The environment in which a production approver accepts an image's high findings.

Seed 003's vulnerability management: critical findings block deployment, high findings
"require approval". ``delivery.yml``'s ``accept-high-findings`` job names this environment
and runs only when an image scan found high findings; GitHub holds the job until one of the
required reviewers (the production reviewers, ``github.productionReviewers``) approves, and
keeps that review (who, when, comment) in the run's deployment history: the acceptance is
recorded. The environment deploys from ``main`` only and holds no secret.

Declared by the production stack, which owns the production reviewers.
"""

from __future__ import annotations

import pulumi
import pulumi_github as github
from pydantic import BaseModel, ConfigDict

from components.config.base import MAIN_BRANCH
from components.github import ci_contract
from components.github.config import Reviewers


class RiskAcceptanceEnvironmentArgs(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    repository: str
    reviewers: Reviewers


class RiskAcceptanceEnvironment(pulumi.ComponentResource):
    """``image-risk-acceptance``: production reviewers required, main only, no secrets."""

    environment: github.RepositoryEnvironment

    def __init__(
        self, name: str, args: RiskAcceptanceEnvironmentArgs, opts: pulumi.ResourceOptions | None = None
    ):
        super().__init__("delivery:risk_acceptance:RiskAcceptanceEnvironment", name, None, opts)
        if args.reviewers.count == 0:
            raise ValueError("the acceptance of high findings needs at least one production reviewer")
        invoke = pulumi.InvokeOptions(parent=self)
        user_ids = [github.get_user_output(username=u, opts=invoke).id for u in args.reviewers.users]
        team_ids = [
            github.get_team_output(slug=t, summary_only=True, opts=invoke).id for t in args.reviewers.teams
        ]
        self.environment = github.RepositoryEnvironment(
            f"{name}-environment",
            repository=args.repository,
            environment=ci_contract.IMAGE_RISK_ENVIRONMENT,
            # Environment reviewers take numeric ids; the data sources answer strings.
            reviewers=[
                github.RepositoryEnvironmentReviewerArgs(
                    users=pulumi.Output.all(*user_ids).apply(lambda ids: [int(i) for i in ids]),
                    teams=pulumi.Output.all(*team_ids).apply(lambda ids: [int(i) for i in ids]),
                )
            ],
            # Whoever started the run (the merger) cannot accept its findings alone.
            prevent_self_review=True,
            can_admins_bypass=False,
            deployment_branch_policy=github.RepositoryEnvironmentDeploymentBranchPolicyArgs(
                protected_branches=False, custom_branch_policies=True
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )
        github.RepositoryEnvironmentDeploymentPolicy(
            f"{name}-branch-{MAIN_BRANCH}",
            repository=args.repository,
            environment=self.environment.environment,
            branch_pattern=MAIN_BRANCH,
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.register_outputs({"environment": self.environment.environment})
