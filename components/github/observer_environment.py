"""The GitHub environment that holds an environment's read-only observer kubeconfig.

Staging validation's ``target`` and ``gate`` jobs read what staging runs through it
(``components.gitops.validation_observer``). It deploys from ``main`` only and has no
reviewers: validation runs unattended, and only ``main``'s reviewed workflow files can name it
in a run GitHub admits (a run on a branch, or on a tag named ``main``, is refused before its
first step; GitHub docs, "Deployment branches and tags"). Declared by the stack of the
environment it observes, like that stack's other environments.
"""

from __future__ import annotations

import pulumi
import pulumi_github as github
from pydantic import BaseModel, ConfigDict

from components.config.base import MAIN_BRANCH, Environment
from components.github import ci_contract


class ObserverEnvironmentArgs(BaseModel):
    """The repository and the observed environment; the kubeconfig is a secret Output."""

    model_config = ConfigDict(frozen=True, extra="forbid", arbitrary_types_allowed=True)

    repository: str
    environment: Environment
    kubeconfig: pulumi.Output[str]
    # Production: the key promote.yml's production-health job pages with (a secret Output).
    pagerduty_routing_key: pulumi.Output[str] | None = None


class ObserverEnvironment(pulumi.ComponentResource):
    """`<env>-observer`: main only, no reviewers, one secret. Pass the github provider in
    `opts.providers`."""

    environment: github.RepositoryEnvironment

    def __init__(self, name: str, args: ObserverEnvironmentArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("delivery:observer_environment:ObserverEnvironment", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        self.environment = github.RepositoryEnvironment(
            f"{name}-environment",
            repository=args.repository,
            environment=ci_contract.observer_environment(args.environment),
            can_admins_bypass=False,
            deployment_branch_policy=github.RepositoryEnvironmentDeploymentBranchPolicyArgs(
                protected_branches=False, custom_branch_policies=True
            ),
            opts=child,
        )
        github.RepositoryEnvironmentDeploymentPolicy(
            f"{name}-branch-{MAIN_BRANCH}",
            repository=args.repository,
            environment=self.environment.environment,
            branch_pattern=MAIN_BRANCH,
            opts=child,
        )
        sealed: pulumi.Output[str] = pulumi.Output.secret(args.kubeconfig)
        github.ActionsEnvironmentSecret(
            f"{name}-{ci_contract.OBSERVER_KUBECONFIG}",
            repository=args.repository,
            environment=self.environment.environment,
            secret_name=ci_contract.OBSERVER_KUBECONFIG,
            value=sealed,
            # Same name on both sides of a replacement (pulumi/pulumi-github#223, #250).
            opts=pulumi.ResourceOptions(parent=self, delete_before_replace=True),
        )
        if args.pagerduty_routing_key is not None:
            routing_key: pulumi.Output[str] = pulumi.Output.secret(args.pagerduty_routing_key)
            github.ActionsEnvironmentSecret(
                f"{name}-{ci_contract.PAGERDUTY_ROUTING_KEY}",
                repository=args.repository,
                environment=self.environment.environment,
                secret_name=ci_contract.PAGERDUTY_ROUTING_KEY,
                value=routing_key,
                opts=pulumi.ResourceOptions(parent=self, delete_before_replace=True),
            )
        self.register_outputs({"environment": self.environment.environment})
