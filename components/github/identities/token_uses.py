"""What is done with the GitHub tokens besides declaring resources: the commands of the workflow
scripts that receive the deployer's token, and the calls of Argo CD's dispatch webhook."""

from __future__ import annotations

import re
from dataclasses import dataclass

from components.github.identities.github import CONTENTS_READ, CONTENTS_WRITE, Permission


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
