"""Every identity of the delivery system and what each may do: the one list, one module per job.

- ``access``: the two ways CI runs a stack (``up``, ``preview``);
- ``github``: the fine-grained permissions each declared GitHub type needs and each token holds;
- ``token_uses``: what the workflow scripts and the dispatch webhook do with their tokens;
- ``linode``: the Linode scopes of CI's minted tokens and of the bootstrap token;
- ``catalog``: the identities, their credentials and where each is kept;
- ``table``: those lists rendered for docs/reference/identities.md (``make reference``).

The Linode tokens the program mints take their scopes from here
(``components.github.deployment_environment``), and ``tests/github/test_identities.py`` checks
the lists against what the three stacks declare and what the rendered workflows do with the
deployer's token, both ways (nothing missing, nothing extra).
"""

from __future__ import annotations

from components.github.identities.access import ACCESSES, Access
from components.github.identities.catalog import (
    DEPLOYER_JOBS,
    IDENTITIES,
    OBSERVER_GRANTS,
    PREVIEW_JOBS,
    Credential,
    Identity,
)
from components.github.identities.github import (
    ACTIONS_READ,
    ACTIONS_WRITE,
    ADMINISTRATION_WRITE,
    ALWAYS,
    CONTENTS_READ,
    CONTENTS_WRITE,
    DEPLOYER_GITHUB,
    DISPATCH_GITHUB,
    ENVIRONMENTS_WRITE,
    GITHUB_NEEDS,
    IMAGE_PULL_SCOPES,
    MANAGING_DEPLOYER_GITHUB,
    MANAGING_ONLY,
    MANAGING_PREVIEW_GITHUB,
    MEMBERS_READ,
    METADATA_READ,
    PREVIEW_GITHUB,
    RUNNERS_WRITE,
    SECRETS_WRITE,
    VARIABLES_WRITE,
    WORKFLOWS_DIR,
    WORKFLOWS_WRITE,
    WRITE_ONLY,
    Level,
    Need,
    Permission,
    UnknownGithubTypeError,
    github_needs,
    read_level,
    reduce,
)
from components.github.identities.linode import (
    BOOTSTRAP_LINODE,
    LINODE_NEEDS,
    LinodeLevel,
    Scope,
    ci_linode_scopes,
    scopes_text,
    state_key_permissions,
)
from components.github.identities.table import table
from components.github.identities.token_uses import (
    DISPATCH_CALLS,
    TOKEN_USE,
    WORKFLOW_COMMANDS,
    Command,
    script_needs,
    unknown_uses,
)

# Everything the module offered before it was split, importable from the package as before.
__all__ = [
    "ACCESSES",
    "ACTIONS_READ",
    "ACTIONS_WRITE",
    "ADMINISTRATION_WRITE",
    "ALWAYS",
    "BOOTSTRAP_LINODE",
    "CONTENTS_READ",
    "CONTENTS_WRITE",
    "DEPLOYER_GITHUB",
    "DEPLOYER_JOBS",
    "DISPATCH_CALLS",
    "DISPATCH_GITHUB",
    "ENVIRONMENTS_WRITE",
    "GITHUB_NEEDS",
    "IDENTITIES",
    "IMAGE_PULL_SCOPES",
    "LINODE_NEEDS",
    "MANAGING_DEPLOYER_GITHUB",
    "MANAGING_ONLY",
    "MANAGING_PREVIEW_GITHUB",
    "MEMBERS_READ",
    "METADATA_READ",
    "OBSERVER_GRANTS",
    "PREVIEW_GITHUB",
    "PREVIEW_JOBS",
    "RUNNERS_WRITE",
    "SECRETS_WRITE",
    "TOKEN_USE",
    "VARIABLES_WRITE",
    "WORKFLOWS_DIR",
    "WORKFLOWS_WRITE",
    "WORKFLOW_COMMANDS",
    "WRITE_ONLY",
    "Access",
    "Command",
    "Credential",
    "Identity",
    "Level",
    "LinodeLevel",
    "Need",
    "Permission",
    "Scope",
    "UnknownGithubTypeError",
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
