"""GitHub permissions of the fine-grained tokens: what each resource type and data source the
program declares needs (``GITHUB_NEEDS``), the permission sets of the deployer's, the preview's
and the dispatcher's tokens, and the classic scopes of the image puller's token.

Checked endpoint by endpoint against GitHub's REST reference ("Fine-grained access tokens for
..." of each endpoint the provider calls; docs.github.com/en/rest/authentication/
permissions-required-for-fine-grained-personal-access-tokens).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

Level = Literal["read", "write"]


@dataclass(frozen=True, order=True)
class Permission:
    """One permission of a fine-grained token, named as GitHub's token settings name it."""

    name: str
    level: Level
    organisation: bool = False

    def __str__(self) -> str:
        return f"{self.name}{' (organisation)' if self.organisation else ''}: {self.level}"

    def read(self) -> Permission | None:
        """The read level of this permission; None where GitHub offers no read level."""
        if self.name in WRITE_ONLY:
            return None
        return Permission(self.name, "read", self.organisation)


# GitHub offers "Workflows" only as read and write: without write it is absent.
WRITE_ONLY = frozenset({"Workflows"})

ACTIONS_READ = Permission("Actions", "read")
ACTIONS_WRITE = Permission("Actions", "write")
ADMINISTRATION_WRITE = Permission("Administration", "write")
CONTENTS_READ = Permission("Contents", "read")
CONTENTS_WRITE = Permission("Contents", "write")
ENVIRONMENTS_WRITE = Permission("Environments", "write")
METADATA_READ = Permission("Metadata", "read")
SECRETS_WRITE = Permission("Secrets", "write")
VARIABLES_WRITE = Permission("Variables", "write")
WORKFLOWS_WRITE = Permission("Workflows", "write")
MEMBERS_READ = Permission("Members", "read", organisation=True)
RUNNERS_WRITE = Permission("Self-hosted runners", "write", organisation=True)

# GitHub adds it to every fine-grained token that can reach a repository.
ALWAYS: frozenset[Permission] = frozenset({METADATA_READ})

WORKFLOWS_DIR = ".github/workflows/"


@dataclass(frozen=True)
class Need:
    """What one GitHub resource type or data source of the program needs from its token."""

    permissions: tuple[Permission, ...]
    why: str
    # Extra permissions for a RepositoryFile under `.github/workflows/`.
    workflow_files: tuple[Permission, ...] = ()


# Every GitHub resource type and data source the program declares (type tokens as the
# engine records them). A new one fails tests/github/test_identities.py until it is listed here.
GITHUB_NEEDS: dict[str, Need] = {
    "github:index/repositoryRuleset:RepositoryRuleset": Need(
        (ADMINISTRATION_WRITE,), "main's ruleset (create a repository ruleset)"
    ),
    "github:index/repositoryEnvironment:RepositoryEnvironment": Need(
        # PUT needs Administration; reading an environment back needs Actions (read).
        (ADMINISTRATION_WRITE, ACTIONS_READ),
        "the deployment environments (create or update, get an environment)",
    ),
    "github:index/repositoryEnvironmentDeploymentPolicy:RepositoryEnvironmentDeploymentPolicy": Need(
        (ADMINISTRATION_WRITE,), "the environments' branch policies (create a deployment branch policy)"
    ),
    "github:index/repositoryDeployKey:RepositoryDeployKey": Need(
        (ADMINISTRATION_WRITE,), "Argo CD's read-only deploy key (create a deploy key)"
    ),
    "github:index/actionsEnvironmentSecret:ActionsEnvironmentSecret": Need(
        (ENVIRONMENTS_WRITE, SECRETS_WRITE),
        "the environments' secrets (create or update an environment secret)",
    ),
    "github:index/actionsEnvironmentVariable:ActionsEnvironmentVariable": Need(
        (ENVIRONMENTS_WRITE,), "the environments' variables (create an environment variable)"
    ),
    "github:index/actionsVariable:ActionsVariable": Need(
        (VARIABLES_WRITE,), "the repository variables (create a repository variable)"
    ),
    "github:index/actionsRepositoryOidcSubjectClaimCustomizationTemplate:"
    "ActionsRepositoryOidcSubjectClaimCustomizationTemplate": Need(
        (ACTIONS_WRITE,), "the OIDC subject-claim template (set the customization template for a repository)"
    ),
    "github:index/repositoryFile:RepositoryFile": Need(
        (CONTENTS_WRITE,),
        "the workflow files (create or update file contents)",
        workflow_files=(WORKFLOWS_WRITE,),
    ),
    "github:index/actionsRepositoryPermissions:ActionsRepositoryPermissions": Need(
        (ADMINISTRATION_WRITE,),
        "the allowed-actions policy (set GitHub Actions permissions, set allowed actions for a repository)",
    ),
    "github:index/workflowRepositoryPermissions:WorkflowRepositoryPermissions": Need(
        (ADMINISTRATION_WRITE,),
        "the GITHUB_TOKEN defaults (set default workflow permissions for a repository)",
    ),
    "github:index/actionsRunnerGroup:ActionsRunnerGroup": Need(
        (RUNNERS_WRITE,),
        "the infrastructure jobs' runner groups (create, update a self-hosted runner group for an "
        "organization, set its repository access)",
    ),
    "github:index/getRepository:getRepository": Need(
        (METADATA_READ,), "the repository's id for the runner groups (get a repository)"
    ),
    "github:index/getTeam:getTeam": Need(
        (MEMBERS_READ,), "reviewer and bypass teams resolved to ids (get a team by name)"
    ),
    "github:index/getUser:getUser": Need((), "reviewers resolved to ids (get a user: no permission needed)"),
}


class UnknownGithubTypeError(KeyError):
    """A GitHub resource type or data source nobody decided the permissions of."""


def github_needs(type_token: str, inputs: Mapping[str, Any]) -> frozenset[Permission]:
    """The permissions one declared resource (or data-source call) with these inputs needs."""
    need = GITHUB_NEEDS.get(type_token)
    if need is None:
        raise UnknownGithubTypeError(
            f"{type_token}: no entry in components/github/identities/github.py GITHUB_NEEDS; "
            "add the fine-grained permissions its endpoints need"
        )
    extra = need.workflow_files if str(inputs.get("file", "")).startswith(WORKFLOWS_DIR) else ()
    return frozenset((*need.permissions, *extra))


def reduce(permissions: Iterable[Permission]) -> frozenset[Permission]:
    """One entry per permission, at the highest level asked for (write includes read)."""
    best: dict[tuple[str, bool], Permission] = {}
    for p in permissions:
        key = (p.name, p.organisation)
        if key not in best or p.level == "write":
            best[key] = p
    return frozenset(best.values())


def read_level(permissions: Iterable[Permission]) -> frozenset[Permission]:
    """The read level of each permission that has one."""
    return frozenset(r for p in permissions if (r := p.read()) is not None)


# Organisation-wide objects only the managing stack declares: the organisation permissions
# they need go to the managing stack's tokens alone (`MANAGING_*`), never to the tokens of
# the stacks whose `up` runs without a reviewer.
MANAGING_ONLY: frozenset[str] = frozenset({"github:index/actionsRunnerGroup:ActionsRunnerGroup"})

# `ciGithubToken`: everything `pulumi up` declares, plus the workflows' pushes and the
# promotion pull request. On the repository only, plus organisation Members (read).
DEPLOYER_GITHUB: frozenset[Permission] = frozenset(
    {
        ACTIONS_WRITE,
        ADMINISTRATION_WRITE,
        CONTENTS_WRITE,
        ENVIRONMENTS_WRITE,
        METADATA_READ,
        SECRETS_WRITE,
        VARIABLES_WRITE,
        WORKFLOWS_WRITE,
        MEMBERS_READ,
    }
)

# `ciGithubReadToken`: the read level of what the program declares, so the real
# `pulumi preview` can read all of it and change none of it. It opens no pull request and
# pushes nothing, so the workflow scripts' needs are not part of it.
PREVIEW_GITHUB: frozenset[Permission] = frozenset(
    {
        ACTIONS_READ,
        Permission("Administration", "read"),
        CONTENTS_READ,
        Permission("Environments", "read"),
        METADATA_READ,
        Permission("Secrets", "read"),
        Permission("Variables", "read"),
        MEMBERS_READ,
    }
)


# What the managing stack's `ciGithubToken` and `ciGithubReadToken` hold besides those.
MANAGING_DEPLOYER_GITHUB: frozenset[Permission] = frozenset({RUNNERS_WRITE})
MANAGING_PREVIEW_GITHUB: frozenset[Permission] = frozenset({Permission("Self-hosted runners", "read", True)})

# `argocdDispatchToken`: the one call Argo CD's dispatch webhook makes.
DISPATCH_GITHUB: frozenset[Permission] = frozenset({CONTENTS_WRITE, METADATA_READ})

# The image puller's classic token: GitHub Packages take no fine-grained token.
IMAGE_PULL_SCOPES: tuple[str, ...] = ("read:packages",)
