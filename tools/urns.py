"""URNs of what a stack declares, the committed snapshot of them, and the rename guard.

A resource's URN is its stack, project, type chain through its parents and name: renaming a
resource, or moving it under another parent, gives it a new URN. For the engine a new URN is a
new resource: `pulumi up` creates it during the update and deletes the old URN's resource at
the end, `delete_before_replace` notwithstanding (that option orders replacements of one URN).
For the types in ``GUARDED_TYPES`` the cloud object is named by the program (a file path, a
secret name, a ruleset, a cluster label), so the create adopts or rewrites the very object
the delete then removes (review finding M5): `main` loses its workflow files, CI its secrets.

``tests/golden/<stack>/urns.txt`` holds every URN the stack declared when the golden files
were last written. ``orphans`` lists those of guarded types that the current program no longer
declares and that no resource takes over through ``aliases`` (its own, or inherited from a
renamed parent, as the engine works them out). ``tests/system/test_urns.py`` fails on any, and
``make golden`` refuses to drop one from the snapshot unless told that the delete is meant
(``ALLOW_DELETE=1``), so the deletion shows in the pull request as a removed line.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from tools.offline import RecordedResource

URNS_FILE = "urns.txt"

# Types whose object the program names, with what a delete after a rename takes away.
GUARDED_TYPES: dict[str, str] = {
    "github:index/repositoryFile:RepositoryFile": "the file on main (the new resource adopts it first)",
    "github:index/actionsSecret:ActionsSecret": "the secret of that name",
    "github:index/actionsEnvironmentSecret:ActionsEnvironmentSecret": "the environment's secret of that name",
    "github:index/actionsVariable:ActionsVariable": "the variable of that name",
    "github:index/actionsEnvironmentVariable:ActionsEnvironmentVariable": "the environment's variable",
    "github:index/repositoryEnvironment:RepositoryEnvironment": "the environment with its secrets",
    "github:index/repositoryRuleset:RepositoryRuleset": "the ruleset (or the create fails on its name)",
    "github:index/actionsRunnerGroup:ActionsRunnerGroup": "the group; its runners fall back to the default group",
    "github:index/actionsRepositoryPermissions:ActionsRepositoryPermissions": (
        "the allowed-actions policy (its delete allows every action again)"
    ),
    "github:index/actionsRepositoryOidcSubjectClaimCustomizationTemplate:"
    "ActionsRepositoryOidcSubjectClaimCustomizationTemplate": "the OIDC subject template (reset to the default)",
    "linode:index/lkeCluster:LkeCluster": "the cluster and everything on it",
    "linode:index/objectStorageBucket:ObjectStorageBucket": "the bucket and its objects",
    "linode:index/objectStorageKey:ObjectStorageKey": "the key CI holds",
    "kubernetes:core/v1:Secret": "the Secret of that name",
    "kubernetes:helm.sh/v3:Release": "the release of that name and its workloads",
}


def is_guarded(type_: str) -> bool:
    """A guarded type, or a custom resource (an Argo CD Application, a PrometheusRule: a
    Kubernetes kind of an API group with a dot, named by the program)."""
    if type_ in GUARDED_TYPES:
        return True
    group = type_.split(":", 2)[1].split("/", 1)[0] if type_.startswith("kubernetes:") else ""
    return "." in group and group != "helm.sh"


def snapshot_text(resources: Iterable[RecordedResource]) -> str:
    """The snapshot file: every URN, sorted, one per line."""
    return "".join(f"{urn}\n" for urn in sorted(r.urn for r in resources))


def read_snapshot(text: str) -> set[str]:
    return {line.strip() for line in text.splitlines() if line.strip()}


def _parts(urn: str) -> tuple[str, str, str, str]:
    """(stack, project, qualified type, name) of a URN."""
    head, project, qualified, name = urn.split("::", 3)
    return head.removeprefix("urn:pulumi:"), project, qualified, name


def _inherited(child_type: str, child_name: str, parent_name: str, taken: str) -> str:
    """The alias a child gets from its parent's earlier URN `taken` (the engine's
    inheritedChildAlias): under the old parent, and with the parent's old name in place of
    its new one where the child's name starts with it (the `f"{name}-<role>"` convention)."""
    stack, project, parent_qualified, parent_old_name = _parts(taken)
    name = (
        parent_old_name + child_name[len(parent_name) :] if child_name.startswith(parent_name) else child_name
    )
    return f"urn:pulumi:{stack}::{project}::{parent_qualified}${child_type}::{name}"


def alias_urns(res: RecordedResource, parent: RecordedResource | None, parent_took: str | None) -> list[str]:
    """Every earlier URN `res` answers for, in the engine's order: its own aliases, then, if its
    parent took over an earlier URN, the same under that parent (pulumi's step generator,
    generateAliases)."""
    found = list(res.aliases)
    if parent is not None and parent_took is not None:
        found.append(_inherited(res.type, res.name, parent.name, parent_took))
        for alias in res.aliases:
            _, _, qualified, name = _parts(alias)
            found.append(_inherited(qualified.rsplit("$", 1)[-1], name, parent.name, parent_took))
    return list(dict.fromkeys(found))


def takeovers(olds: set[str], resources: Sequence[RecordedResource]) -> dict[str, str]:
    """Old URN -> the current URN that takes it over through an alias, matched as the engine
    matches them against the old state: parents first, a resource's own URN before its
    aliases, each old URN taken once."""
    by_name = {r.name: r for r in resources}
    took: dict[str, str] = {}  # current URN -> the old URN it took over
    taken: dict[str, str] = {}
    for res in resources:
        if res.urn in olds:
            continue
        parent = by_name.get(res.parent) if res.parent is not None else None
        parent_took = took.get(parent.urn) if parent is not None else None
        for alias in alias_urns(res, parent, parent_took):
            if alias in olds and alias not in taken:
                took[res.urn] = alias
                taken[alias] = res.urn
                break
    return taken


def orphans(olds: set[str], resources: Sequence[RecordedResource]) -> list[str]:
    """Guarded URNs of the snapshot that nothing declares now, not even through an alias."""
    current = {r.urn for r in resources}
    answered = current | set(takeovers(olds, resources))
    return sorted(u for u in olds - answered if is_guarded(_parts(u)[2].rsplit("$", 1)[-1]))


def orphans_message(stack: str, found: list[str]) -> str:
    lines = [
        f"stack {stack}: {len(found)} URN(s) of tests/golden/{stack}/urns.txt disappeared without an alias. "
        "`pulumi up` would create the renamed resource, then delete the old one and with it what "
        "the new one just wrote:"
    ]
    for urn in found:
        lines.append(
            f"  - {urn}  ({GUARDED_TYPES.get(_parts(urn)[2].rsplit('$', 1)[-1], 'the custom resource')})"
        )
    lines.append(
        "Rename with `opts=pulumi.ResourceOptions(aliases=[pulumi.Alias(name=<old name>)])` (or "
        "`parent=`/`type_=` for a move) on the resource, or on the component whose name changed; "
        "keep the alias until every stack has run `pulumi up`. If the delete is meant, rewrite the "
        "snapshot with `make golden ALLOW_DELETE=1` and say so in the pull request."
    )
    return "\n".join(lines)
