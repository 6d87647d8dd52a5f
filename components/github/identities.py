"""Every identity of the delivery system and what each may do: the one list.

The Linode tokens the program mints take their scopes from here
(``components.github.deployment_environment``), docs/reference/identities.md, "Identities and their
permissions" table is generated from here (``make reference``), and
``tests/github/test_identities.py`` checks the lists against what the three stacks declare and what
the rendered workflows do with the deployer's token, both ways (nothing missing, nothing
extra).

GitHub permissions are those of fine-grained personal access tokens, checked endpoint by
endpoint against GitHub's REST reference ("Fine-grained access tokens for ..." of each
endpoint the provider calls; docs.github.com/en/rest/authentication/
permissions-required-for-fine-grained-personal-access-tokens).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

Access = Literal["up", "preview"]
ACCESSES: tuple[Access, ...] = ("up", "preview")

Level = Literal["read", "write"]
LinodeLevel = Literal["read_only", "read_write"]


# --------------------------------------------------------------------------- GitHub


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
            f"{type_token}: no entry in components/github/identities.py GITHUB_NEEDS; "
            "add the fine-grained permissions its endpoints need"
        )
    extra = need.workflow_files if str(inputs.get("file", "")).startswith(WORKFLOWS_DIR) else ()
    return frozenset((*need.permissions, *extra))


@dataclass(frozen=True)
class Command:
    """Something a workflow script does with the deployer's token."""

    name: str
    pattern: re.Pattern[str]
    permissions: tuple[Permission, ...]
    why: str


# What the workflow scripts that receive DEPLOYER_GITHUB_TOKEN do with it. A script with the
# token that does none of these fails tests/github/test_identities.py.
WORKFLOW_COMMANDS: tuple[Command, ...] = (
    # `git_auth` is the workflows' wrapper that passes the token to one git command.
    Command(
        "git push",
        re.compile(r"\bgit(?:_auth)?\s+push\b"),
        (CONTENTS_WRITE,),
        "delivery's image tags to `main`, promotion's release branch",
    ),
    Command(
        "git pull", re.compile(r"\bgit(?:_auth)?\s+pull\b"), (CONTENTS_READ,), "delivery's rebase on a race"
    ),
    Command(
        "git fetch",
        re.compile(r"\bgit(?:_auth)?\s+fetch\b"),
        (CONTENTS_READ,),
        "promotion reads the release branch it moves",
    ),
)


# Where a script uses the token: `gh` reads GH_TOKEN, `git_auth` passes PUSH_TOKEN to git.
TOKEN_USE = re.compile(r"\b(?:gh\s+\w+\s+\w+|git_auth\s+\w+)")


def unknown_uses(script: str) -> list[str]:
    """Uses of the token (`gh ...`, `git_auth ...`) in a script that no command here covers."""
    return [u for u in TOKEN_USE.findall(script) if not any(c.pattern.search(u) for c in WORKFLOW_COMMANDS)]


# What Argo CD's `github-dispatch` webhook service calls with `argocdDispatchToken`, as
# "METHOD path" of its templates. A call not listed fails tests/github/test_identities.py.
DISPATCH_CALLS: tuple[Command, ...] = (
    Command(
        "POST /repos/{owner}/{repo}/dispatches",
        re.compile(r"POST /repos/[^/\s]+/[^/\s]+/dispatches"),
        (CONTENTS_WRITE,),
        "staging's `staging-deployed` repository_dispatch (create a repository dispatch event)",
    ),
)


def script_needs(script: str) -> frozenset[Permission]:
    """The permissions a workflow script's uses of the deployer's token need."""
    return frozenset(p for c in WORKFLOW_COMMANDS if c.pattern.search(script) for p in c.permissions)


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


# The workflow jobs that receive DEPLOYER_GITHUB_TOKEN, per environment kind (`<env>` stands
# for each stack's name), as `<file> <job id>`; tests/github/test_identities.py reads them from the
# rendered workflows.
DEPLOYER_JOBS: tuple[str, ...] = (
    "delivery.yml deploy-<env>",
    "infrastructure.yml up-<env>",
    "promote.yml promote",
)
PREVIEW_JOBS: tuple[str, ...] = ("infrastructure.yml state-preview-<env>", "drift.yml drift-<env>")


def _jobs(jobs: tuple[str, ...]) -> str:
    return ", ".join(f"`{job.split()[1]}` ({job.split()[0]})" for job in jobs)


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
        Permission("Actions", "read"),
        Permission("Administration", "read"),
        Permission("Contents", "read"),
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


# --------------------------------------------------------------------------- Linode


@dataclass(frozen=True, order=True)
class Scope:
    """One Linode OAuth scope (`<area>:<level>`); never `*`."""

    area: str
    level: LinodeLevel

    def __str__(self) -> str:
        return f"{self.area}:{self.level}"


def scopes_text(scopes: Iterable[Scope]) -> str:
    """Scopes as Linode's API takes them: space-separated, sorted."""
    return " ".join(str(s) for s in sorted(set(scopes)))


def ci_linode_scopes(access: Access, manages_repository: bool) -> frozenset[Scope]:
    """Scopes of the Linode token the program mints for CI: what the stack's own resources need.

    - `lke`: the stack's cluster and node pools (read-write only for `pulumi up`).
    - `linodes:read_only`, `events:read_only`: the provider reads the pools' instances and
      polls account events while it waits for LKE operations to finish.
    - `object_storage`: read-write only where `pulumi up` manages the metrics bucket (its
      versioning and lifecycle go through temporary keys the provider mints); elsewhere the
      stack's Object Storage keys are only read. Minting keys and tokens is a rotation,
      run by the bootstrap identity (docs/security.md, "Credential model").
    - No `account` scope: it would let CI mint tokens and users, i.e. grant itself `*`.
    """
    write: LinodeLevel = "read_write" if access == "up" else "read_only"
    storage: LinodeLevel = "read_write" if access == "up" and manages_repository else "read_only"
    return frozenset(
        {
            Scope("events", "read_only"),
            Scope("linodes", "read_only"),
            Scope("lke", write),
            Scope("object_storage", storage),
        }
    )


def state_key_permissions(access: Access) -> LinodeLevel:
    """`pulumi up` locks and writes the stack's state; a DIY-backend preview only reads it.

    pulumi/pulumi pkg/backend/diy/backend.go: `Preview` calls `apply` with `DryRun` and no
    `Lock`; history and backups are written only when not a dry run.
    """
    return "read_write" if access == "up" else "read_only"


# What the first `pulumi up` of a stack needs from the Linode token it runs with, per
# resource type the program declares (a new type fails tests/github/test_identities.py).
LINODE_NEEDS: dict[str, frozenset[Scope]] = {
    "linode:index/lkeCluster:LkeCluster": frozenset(
        {Scope("lke", "read_write"), Scope("linodes", "read_only"), Scope("events", "read_only")}
    ),
    "linode:index/objectStorageBucket:ObjectStorageBucket": frozenset(
        {Scope("object_storage", "read_write")}
    ),
    "linode:index/objectStorageKey:ObjectStorageKey": frozenset({Scope("object_storage", "read_write")}),
    # Creating a personal access token is an account operation.
    "linode:index/token:Token": frozenset({Scope("account", "read_write")}),
}

# The bootstrap identity's personal access token: the first `pulumi up` of every stack and
# every rotation (which mints CI's tokens and keys). A token can mint only within its own
# scopes, so it holds every scope CI's tokens get, and `account` to mint them.
BOOTSTRAP_LINODE: frozenset[Scope] = frozenset(
    {
        Scope("account", "read_write"),
        Scope("events", "read_only"),
        Scope("linodes", "read_only"),
        Scope("lke", "read_write"),
        Scope("object_storage", "read_write"),
    }
)

# The image puller's classic token: GitHub Packages take no fine-grained token.
IMAGE_PULL_SCOPES: tuple[str, ...] = ("read:packages",)


# --------------------------------------------------------------------------- the list


@dataclass(frozen=True)
class Credential:
    """One credential of an identity: what it is, where it is kept, what it may do."""

    name: str
    kept_in: str
    grants: tuple[str, ...]


# The staging observer's Role, as `<verbs> <group>/<resource> in <namespace>`; the test holds
# the staging stack's declared Role to it.
OBSERVER_GRANTS: tuple[str, ...] = ("get, list, watch argoproj.io/applications in Argo CD's namespace",)


@dataclass(frozen=True)
class Identity:
    key: str
    who: str
    credentials: tuple[Credential, ...]


def _github(permissions: Iterable[Permission]) -> tuple[str, ...]:
    ordered = sorted(permissions, key=lambda p: (p.organisation, p.name))
    return tuple(str(p) for p in ordered)


def _linode(scopes: Iterable[Scope]) -> tuple[str, ...]:
    return tuple(str(s) for s in sorted(set(scopes)))


def _state_key(access: Access, buckets: str) -> Credential:
    return Credential(
        "Object Storage key",
        "minted by the stack; environment secrets `PULUMI_BACKEND_ACCESS_KEY_ID`/`..._SECRET_ACCESS_KEY`",
        (f"{state_key_permissions(access)} on {buckets}",),
    )


IDENTITIES: tuple[Identity, ...] = (
    Identity(
        "bootstrap",
        "A platform engineer, from a workstation: the first `pulumi up` of each stack and every "
        "credential rotation. Keep these credentials off CI.",
        (
            Credential(
                "Linode personal access token, short expiry",
                "`LINODE_TOKEN` on the workstation",
                _linode(BOOTSTRAP_LINODE),
            ),
            Credential(
                "Object Storage key, made by hand",
                "`AWS_ACCESS_KEY_ID`/`AWS_SECRET_ACCESS_KEY` on the workstation",
                ("read_write on the three state buckets only",),
            ),
            Credential(
                "GitHub token", "`GITHUB_TOKEN` on the workstation", ("the deployer's `ciGithubToken`",)
            ),
        ),
    ),
    Identity(
        "deployer",
        "Machine user `github.deployer.user`, admin role on the repository, only member of "
        f"`github.deployer.team` (main's bypass actor). CI jobs in `<env>`: {_jobs(DEPLOYER_JOBS)}.",
        (
            Credential(
                "`ciGithubToken`, fine-grained, this repository only",
                "config secret; environment secret `DEPLOYER_GITHUB_TOKEN` of `<env>`",
                _github(DEPLOYER_GITHUB),
            ),
            Credential(
                "`ciGithubToken` of the managing stack: a token of its own, with in addition",
                "the managing stack's config secret and `<env>`",
                _github(MANAGING_DEPLOYER_GITHUB),
            ),
            Credential(
                "Linode token minted for `<env>`, managing stack",
                "environment secret `LINODE_TOKEN` of `<env>`",
                _linode(ci_linode_scopes("up", True)),
            ),
            Credential(
                "Linode token minted for `<env>`, other stacks",
                "environment secret `LINODE_TOKEN` of `<env>`",
                _linode(ci_linode_scopes("up", False)),
            ),
            _state_key("up", "the stack's own state bucket"),
        ),
    ),
    Identity(
        "preview",
        f"The real `pulumi preview` on `main`, in `<env>-preview`: {_jobs(PREVIEW_JOBS)}. Pull "
        "requests preview without any credential.",
        (
            Credential(
                "`ciGithubReadToken`, fine-grained, this repository only, made by the deployer",
                "config secret; environment secret `DEPLOYER_GITHUB_TOKEN` of `<env>-preview`",
                _github(PREVIEW_GITHUB),
            ),
            Credential(
                "`ciGithubReadToken` of the managing stack: a token of its own, with in addition",
                "the managing stack's config secret and `<env>-preview`",
                _github(MANAGING_PREVIEW_GITHUB),
            ),
            Credential(
                "Linode token minted for `<env>-preview`, every stack",
                "environment secret `LINODE_TOKEN` of `<env>-preview`",
                _linode(ci_linode_scopes("preview", True) | ci_linode_scopes("preview", False)),
            ),
            _state_key("preview", "the stack's own state bucket"),
        ),
    ),
    Identity(
        "image puller",
        "Machine user `imagePull.user` with read access to the repository: every cluster's kubelets "
        "pulling the platform's images from GHCR.",
        (
            Credential(
                "`ghcrPullToken`, classic (GitHub Packages take no fine-grained token)",
                "config secret; `imagePull.secretName` Secret in each service namespace",
                IMAGE_PULL_SCOPES,
            ),
        ),
    ),
    Identity(
        "Argo CD",
        "Each cluster's Argo CD reading the GitOps repository.",
        (
            Credential(
                "SSH deploy key minted by the stack",
                "a repository Secret in Argo CD's namespace (`argocd.namespace`)",
                ("read-only deploy key of this repository",),
            ),
        ),
    ),
    Identity(
        "dispatcher",
        "Staging's Argo CD notifications (`argocd.notifications.githubDispatch`), telling GitHub that "
        "staging is deployed. A user outside the deployer's team, so it cannot push to `main`.",
        (
            Credential(
                "`argocdDispatchToken`, fine-grained, this repository only",
                "config secret; key `github-dispatch-token` of staging's `argocd-notifications-secret`",
                _github(DISPATCH_GITHUB),
            ),
        ),
    ),
    Identity(
        "staging observer",
        "Staging validation's `target` and `gate` jobs (environment `staging-observer`, main only), reading "
        "what staging runs: its Argo CD Applications' revision, health and images.",
        (
            Credential(
                "ServiceAccount token minted by the staging stack (a kubeconfig)",
                "environment secret `OBSERVER_KUBECONFIG` of `staging-observer`",
                OBSERVER_GRANTS,
            ),
        ),
    ),
    Identity(
        "CI on main",
        "Jobs in the `ci-main` environment (managing stack): the build-metrics upload and the "
        "failure alerts on `main`.",
        (
            Credential(
                "Object Storage key minted by the managing stack",
                "environment secrets `METRICS_ACCESS_KEY_ID`/`METRICS_SECRET_ACCESS_KEY` of `ci-main`",
                ("read_write on the metrics bucket only",),
            ),
            Credential(
                "Slack incoming webhook `slackWebhookUrl`",
                "config secret; `ci-main` secret `SLACK_WEBHOOK_URL` and Argo CD's notifications",
                ("posts to the webhook's one channel",),
            ),
        ),
    ),
)


def _code(grants: Iterable[str]) -> str:
    return "<br>".join(f"`{g}`" for g in grants) or "none"


def table() -> str:
    """The "Identities and their permissions" tables of docs/reference/identities.md (Markdown).

    The identities first, then what each declared resource type and workflow command needs:
    the lists the tests hold the identities to.
    """
    lines = ["| identity | who | credential | kept in | may |", "|---|---|---|---|---|"]
    for identity in IDENTITIES:
        for i, cred in enumerate(identity.credentials):
            first = i == 0
            grants = "<br>".join(f"`{g}`" if _is_scope(g) else g for g in cred.grants)
            lines.append(
                f"| {'**' + identity.key + '**' if first else ''} | {identity.who if first else ''} "
                f"| {cred.name} | {cred.kept_in} | {grants} |"
            )
    lines += [
        "",
        "What the GitHub permissions are derived from: the deployer's from the program's types and "
        "the workflow commands, the preview identity's from the read level of the program's types, "
        "the dispatcher's from its webhook:",
        "",
        "| declared by the program, or done by a workflow with `DEPLOYER_GITHUB_TOKEN` "
        "| fine-grained permissions | for |",
        "|---|---|---|",
    ]
    for type_token, need in sorted(GITHUB_NEEDS.items()):
        extra = (
            f"<br>under `{WORKFLOWS_DIR}`: {_code(_github(need.workflow_files))}"
            if need.workflow_files
            else ""
        )
        lines.append(f"| `{type_token}` | {_code(_github(need.permissions))}{extra} | {need.why} |")
    for command in WORKFLOW_COMMANDS:
        lines.append(
            f"| workflow script: `{command.name}` | {_code(_github(command.permissions))} | {command.why} |"
        )
    for call in DISPATCH_CALLS:
        lines.append(
            f"| the dispatcher's webhook: `{call.name}` | {_code(_github(call.permissions))} | {call.why} |"
        )
    lines.append(f"| every fine-grained token | {_code(_github(ALWAYS))} | added by GitHub |")
    lines += [
        "",
        "What the bootstrap identity's Linode scopes are derived from (the first `pulumi up` of a stack):",
        "",
        "| declared by the program | Linode scopes |",
        "|---|---|",
    ]
    for type_token, scopes in sorted(LINODE_NEEDS.items()):
        lines.append(f"| `{type_token}` | {_code(_linode(scopes))} |")
    return "\n".join(lines)


def _is_scope(grant: str) -> bool:
    return bool(
        re.fullmatch(r"[a-z_]+:(read_only|read_write)|read:packages|[A-Z][a-z ]+( \(\w+\))?: \w+", grant)
    )


__all__ = [
    "ACCESSES",
    "BOOTSTRAP_LINODE",
    "DEPLOYER_GITHUB",
    "DEPLOYER_JOBS",
    "DISPATCH_CALLS",
    "DISPATCH_GITHUB",
    "GITHUB_NEEDS",
    "IDENTITIES",
    "IMAGE_PULL_SCOPES",
    "LINODE_NEEDS",
    "MANAGING_DEPLOYER_GITHUB",
    "MANAGING_ONLY",
    "MANAGING_PREVIEW_GITHUB",
    "PREVIEW_GITHUB",
    "PREVIEW_JOBS",
    "WORKFLOW_COMMANDS",
    "Access",
    "Credential",
    "Identity",
    "Permission",
    "Scope",
    "ci_linode_scopes",
    "github_needs",
    "read_level",
    "reduce",
    "scopes_text",
    "script_needs",
    "state_key_permissions",
    "table",
    "unknown_uses",
]
