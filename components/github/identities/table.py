"""The "Identities and their permissions" tables of docs/reference/identities.md, rendered as
Markdown from the catalog and the needs it is derived from (``make reference``)."""

from __future__ import annotations

import re
from collections.abc import Iterable

from components.github.identities.catalog import IDENTITIES, github_grants, linode_grants
from components.github.identities.github import ALWAYS, GITHUB_NEEDS, WORKFLOWS_DIR
from components.github.identities.linode import LINODE_NEEDS
from components.github.identities.token_uses import DISPATCH_CALLS, WORKFLOW_COMMANDS


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
            f"<br>under `{WORKFLOWS_DIR}`: {_code(github_grants(need.workflow_files))}"
            if need.workflow_files
            else ""
        )
        lines.append(f"| `{type_token}` | {_code(github_grants(need.permissions))}{extra} | {need.why} |")
    for command in WORKFLOW_COMMANDS:
        lines.append(
            f"| workflow script: `{command.name}` | {_code(github_grants(command.permissions))} | {command.why} |"
        )
    for call in DISPATCH_CALLS:
        lines.append(
            f"| the dispatcher's webhook: `{call.name}` | {_code(github_grants(call.permissions))} | {call.why} |"
        )
    lines.append(f"| every fine-grained token | {_code(github_grants(ALWAYS))} | added by GitHub |")
    lines += [
        "",
        "What the bootstrap identity's Linode scopes are derived from (the first `pulumi up` of a stack):",
        "",
        "| declared by the program | Linode scopes |",
        "|---|---|",
    ]
    for type_token, scopes in sorted(LINODE_NEEDS.items()):
        lines.append(f"| `{type_token}` | {_code(linode_grants(scopes))} |")
    return "\n".join(lines)


def _is_scope(grant: str) -> bool:
    return bool(
        re.fullmatch(r"[a-z_]+:(read_only|read_write)|read:packages|[A-Z][a-z ]+( \(\w+\))?: \w+", grant)
    )
