"""This stack's GitHub deployment environments and the CI credentials the program mints for them.

Each stack declares two environments of its own (never another stack's):

- ``<env>``: protected; the ``pulumi up`` jobs on ``main`` run in it. Deployment branch
  policy (only ``main`` in staging and production), required reviewers in production,
  self-review prevented, admins not bypassing. It holds read-write credentials.
- ``<env>-preview``: the real ``pulumi preview`` on ``main``, before ``up``. It deploys from
  ``main`` only, whatever ``deploymentBranches`` says, and in production only after one of
  the production reviewers approves: it holds the stack's passphrase, which decrypts every
  secret of the stack's config and state, so it is as sensitive as ``<env>``. Its own
  credentials cannot change infrastructure: a read-only Linode token, a read-only key to
  the state bucket (a DIY-backend preview takes no lock and writes nothing) and the
  read-only GitHub token. Pull requests preview without any of them (docs/security.md, "Credential
  closure").

Both hold the same secret names (``components.github.ci_contract``), so a workflow job reads the
same ``secrets.X`` whichever environment it runs in.
"""

from __future__ import annotations

from urllib.parse import urlencode

import pulumi
import pulumi_github as github
import pulumi_linode as linode
from pydantic import BaseModel, ConfigDict

from components.config.base import MAIN_BRANCH, Environment
from components.github import ci_contract
from components.github.config import CredentialsConfig, Reviewers, StateBackendConfig
from components.github.identities import (
    ACCESSES,
    Access,
    ci_linode_scopes,
    scopes_text,
    state_key_permissions,
)

# Secrets every environment of the stack holds (values differ by access level).
ENVIRONMENT_SECRETS: tuple[str, ...] = (
    ci_contract.LINODE_TOKEN,
    ci_contract.DEPLOYER_GITHUB_TOKEN,
    ci_contract.PULUMI_CONFIG_PASSPHRASE,
    ci_contract.STATE_ACCESS_KEY_ID,
    ci_contract.STATE_SECRET_ACCESS_KEY,
)
ENVIRONMENT_VARIABLES: tuple[str, ...] = (ci_contract.PULUMI_BACKEND_URL,)


def environment_name(env: Environment, access: Access) -> str:
    """The GitHub environment a job of `access` runs in."""
    return env if access == "up" else ci_contract.preview_environment(env)


def backend_url(state: StateBackendConfig) -> str:
    """`PULUMI_BACKEND_URL` of the stack's S3-compatible DIY backend on Linode Object Storage."""
    query = urlencode({"endpoint": f"https://{state.endpoint_host}", "region": state.region})
    return f"s3://{state.bucket}?{query}"


class EnvironmentSecrets(BaseModel):
    """Secret config values the environments hand to CI (secret Outputs end to end)."""

    model_config = ConfigDict(frozen=True, extra="forbid", arbitrary_types_allowed=True)

    pulumi_passphrase: pulumi.Output[str]
    github_token: pulumi.Output[str]
    github_read_token: pulumi.Output[str]


class DeploymentEnvironmentArgs(BaseModel):
    """What the stack's deployment environments need."""

    model_config = ConfigDict(frozen=True, extra="forbid", arbitrary_types_allowed=True)

    environment: Environment
    project: str
    repository: str
    manages_repository: bool
    reviewers: Reviewers
    deployment_branches: list[str]
    state_backend: StateBackendConfig
    credentials: CredentialsConfig
    secrets: EnvironmentSecrets


class DeploymentEnvironment(pulumi.ComponentResource):
    """`<env>` and `<env>-preview`: protection rules, minted CI credentials, secrets, variables."""

    environments: dict[Access, github.RepositoryEnvironment]
    tokens: dict[Access, linode.Token]
    state_keys: dict[Access, linode.ObjectStorageKey]

    def __init__(
        self,
        name: str,
        args: DeploymentEnvironmentArgs,
        opts: pulumi.ResourceOptions | None = None,
    ):
        super().__init__("delivery:deployment_environment:DeploymentEnvironment", name, None, opts)
        env = args.environment
        issued = args.credentials.issued_on
        self.environments = {}
        self.tokens = {}
        self.state_keys = {}

        for access in ACCESSES:
            self.tokens[access] = linode.Token(
                f"{name}-{access}-token",
                label=f"{args.project}-ci-{env}-{access}-{issued}",
                # The one list of what each identity may do (components/github/identities/).
                scopes=scopes_text(ci_linode_scopes(access, args.manages_repository)),
                expiry=args.credentials.expiry,
                opts=pulumi.ResourceOptions(
                    parent=self,
                    # The API cannot change a token's scopes or expiry: a change mints a new one.
                    replace_on_changes=["scopes", "expiry"],
                    additional_secret_outputs=["token"],
                ),
            )
            self.state_keys[access] = linode.ObjectStorageKey(
                f"{name}-{access}-state-key",
                # The issue date in the label makes a rotation (new `issuedOn`) mint a new key.
                label=f"ci-{env}-{access}-state-{issued}",
                bucket_accesses=[
                    linode.ObjectStorageKeyBucketAccessArgs(
                        bucket_name=args.state_backend.bucket,
                        region=args.state_backend.region,
                        permissions=state_key_permissions(access),
                    )
                ],
                opts=pulumi.ResourceOptions(
                    parent=self,
                    replace_on_changes=["label", "bucketAccesses"],
                    additional_secret_outputs=["secretKey"],
                ),
            )

        for access in ACCESSES:
            self.environments[access] = self._environment(name, access, args)

        github_tokens = {"up": args.secrets.github_token, "preview": args.secrets.github_read_token}
        for access in ACCESSES:
            values: dict[str, pulumi.Output[str]] = {
                ci_contract.LINODE_TOKEN: self.tokens[access].token,
                ci_contract.DEPLOYER_GITHUB_TOKEN: github_tokens[access],
                ci_contract.PULUMI_CONFIG_PASSPHRASE: args.secrets.pulumi_passphrase,
                ci_contract.STATE_ACCESS_KEY_ID: self.state_keys[access].access_key,
                ci_contract.STATE_SECRET_ACCESS_KEY: self.state_keys[access].secret_key,
            }
            for secret_name in ENVIRONMENT_SECRETS:
                sealed: pulumi.Output[str] = pulumi.Output.secret(values[secret_name])
                github.ActionsEnvironmentSecret(
                    f"{name}-{access}-{secret_name}",
                    repository=args.repository,
                    environment=self.environments[access].environment,
                    secret_name=secret_name,
                    value=sealed,
                    # Create-before-delete writes the new secret under the same name, then
                    # deletes it with the old one: pulumi/pulumi-github#223, #250.
                    opts=pulumi.ResourceOptions(parent=self, delete_before_replace=True),
                )
            github.ActionsEnvironmentVariable(
                f"{name}-{access}-{ci_contract.PULUMI_BACKEND_URL}",
                repository=args.repository,
                environment=self.environments[access].environment,
                variable_name=ci_contract.PULUMI_BACKEND_URL,
                value=backend_url(args.state_backend),
                # Same name on both sides of a replacement: the old one must go first.
                opts=pulumi.ResourceOptions(parent=self, delete_before_replace=True),
            )

        self.register_outputs(
            {
                "environments": {a: e.environment for a, e in self.environments.items()},
                "credentialsExpire": args.credentials.expiry,
            }
        )

    def _environment(
        self, name: str, access: Access, args: DeploymentEnvironmentArgs
    ) -> github.RepositoryEnvironment:
        env = args.environment
        # Only reviewed code on main may hold the passphrase; development's `<env>` may deploy
        # from more branches (`deploymentBranches`), its preview environment never does.
        branches = args.deployment_branches if access == "up" else [MAIN_BRANCH]
        role = "environment" if access == "up" else "preview-environment"
        reviewers = None
        if args.reviewers.count:
            invoke = pulumi.InvokeOptions(parent=self)
            user_ids = [github.get_user_output(username=u, opts=invoke).id for u in args.reviewers.users]
            team_ids = [
                github.get_team_output(slug=t, summary_only=True, opts=invoke).id
                for t in args.reviewers.teams
            ]
            # Environment reviewers take numeric ids; the data sources answer strings.
            reviewers = [
                github.RepositoryEnvironmentReviewerArgs(
                    users=pulumi.Output.all(*user_ids).apply(lambda ids: [int(i) for i in ids]),
                    teams=pulumi.Output.all(*team_ids).apply(lambda ids: [int(i) for i in ids]),
                )
            ]
        environment = github.RepositoryEnvironment(
            f"{name}-{role}",
            repository=args.repository,
            environment=environment_name(env, access),
            reviewers=reviewers,
            prevent_self_review=True,
            can_admins_bypass=False,
            # Branch policies below name the branches; `RepositoryEnvironmentDeploymentPolicy`
            # requires custom policies on (and protected-branch mode off).
            deployment_branch_policy=github.RepositoryEnvironmentDeploymentBranchPolicyArgs(
                protected_branches=False, custom_branch_policies=True
            ),
            # Production's environment carries its deployment history and approval rules.
            opts=pulumi.ResourceOptions(parent=self, protect=env == "production" and access == "up"),
        )
        for pattern in sorted(set(branches)):
            github.RepositoryEnvironmentDeploymentPolicy(
                f"{name}-{'' if access == 'up' else 'preview-'}branch-{pattern}",
                repository=args.repository,
                environment=environment.environment,
                branch_pattern=pattern,
                opts=pulumi.ResourceOptions(parent=self),
            )
        return environment


__all__ = [
    "ACCESSES",
    "ENVIRONMENT_SECRETS",
    "ENVIRONMENT_VARIABLES",
    "MAIN_BRANCH",
    "DeploymentEnvironment",
    "DeploymentEnvironmentArgs",
    "EnvironmentSecrets",
    "backend_url",
    "environment_name",
]
