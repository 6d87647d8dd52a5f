"""Renames keep what they rename (review finding M5).

Each stack's URNs are committed in `tests/golden/<stack>/urns.txt`. A URN of a resource whose
cloud object the program names (a file path, a secret name, a ruleset, a cluster label, a
custom resource) may leave the snapshot only when a current resource takes it over through
an alias; otherwise `pulumi up` would create the renamed resource and then delete, with the
old URN, what the new one had just written.
"""

from __future__ import annotations

import runpy
from pathlib import Path

import pulumi
import pytest

import tools.plan
from tests.support.stacks import TEST_SECRETS, run_stack
from tests.support.types import REPOSITORY_FILE
from tools.offline import ROOT, STACKS, RecordedResource, Run, run_program
from tools.plan import GOLDEN
from tools.urns import URNS_FILE, alias_urns, is_guarded, orphans, read_snapshot, takeovers

PREFIX = "urn:pulumi:production::delivery::"


def snapshot(stack: str) -> set[str]:
    return read_snapshot((GOLDEN / stack / URNS_FILE).read_text())


@pytest.mark.parametrize("stack", STACKS)
def test_no_guarded_urn_of_the_snapshot_disappears_without_an_alias(stack: str) -> None:
    found = orphans(snapshot(stack), run_stack(stack).resources)
    assert found == [], "\n".join(found)


@pytest.mark.parametrize("stack", STACKS)
def test_every_declared_resource_has_its_own_urn(stack: str) -> None:
    urns = [r.urn for r in run_stack(stack).resources]
    assert all(u.startswith(f"urn:pulumi:{stack}::delivery::") for u in urns)
    assert len(set(urns)) == len(urns)


def test_the_guard_covers_the_stateful_and_path_owning_types() -> None:
    for type_ in (
        REPOSITORY_FILE,
        "github:index/actionsEnvironmentSecret:ActionsEnvironmentSecret",
        "github:index/actionsVariable:ActionsVariable",
        "github:index/repositoryRuleset:RepositoryRuleset",
        "linode:index/lkeCluster:LkeCluster",
        "kubernetes:core/v1:Secret",
        "kubernetes:helm.sh/v3:Release",
        "kubernetes:argoproj.io/v1alpha1:Application",
        "kubernetes:monitoring.coreos.com/v1:PrometheusRule",
    ):
        assert is_guarded(type_), type_
    for type_ in ("kubernetes:core/v1:Namespace", "linode:index/token:Token", "delivery:cluster:Cluster"):
        assert not is_guarded(type_), type_


def _program_copy(tmp_path: Path, old: str, new: str) -> Path:
    text = (ROOT / "__main__.py").read_text()
    assert text.count(old) == 1, f"{old!r} is not in __main__.py once"
    copy = tmp_path / "__main__.py"
    copy.write_text(text.replace(old, new))
    return copy


def _run_copy(copy: Path) -> Run:
    return run_program(
        "production", TEST_SECRETS, program=lambda: runpy.run_path(str(copy), run_name="__main__")
    )


# The workflow files component as __main__.py declares it; renamed; renamed with an alias.
COMPONENT = '"workflows", workflow_args, opts=pulumi.ResourceOptions(provider=github_provider)'
RENAMED = '"workflow-files", workflow_args, opts=pulumi.ResourceOptions(provider=github_provider)'
ALIASED = (
    '"workflow-files",\n'
    "            workflow_args,\n"
    '            opts=pulumi.ResourceOptions(provider=github_provider, aliases=[pulumi.Alias(name="workflows")]),'
)


def test_renaming_the_workflow_files_component_without_an_alias_fails(tmp_path: Path) -> None:
    """The component's new name renames every file resource under it (`<name>-<file>`)."""
    copy = _program_copy(tmp_path, COMPONENT, RENAMED)
    renamed = _run_copy(copy)
    found = orphans(snapshot("production"), renamed.resources)
    files = [u for u in found if f"${REPOSITORY_FILE}::workflows-" in u]
    assert (
        f"{PREFIX}delivery:workflow_files:WorkflowFiles${REPOSITORY_FILE}::workflows-infrastructure" in files
    )
    assert len(files) == len([r for r in run_stack("production").resources if r.parent == "workflows"])


def test_an_alias_on_the_renamed_component_carries_its_files_over(tmp_path: Path) -> None:
    copy = _program_copy(tmp_path, COMPONENT, ALIASED)
    renamed = _run_copy(copy)
    assert orphans(snapshot("production"), renamed.resources) == []
    taken = takeovers(snapshot("production"), renamed.resources)
    old = f"{PREFIX}delivery:workflow_files:WorkflowFiles${REPOSITORY_FILE}::workflows-infrastructure"
    assert taken[old] == old.replace("::workflows-infrastructure", "::workflow-files-infrastructure")


def _resource(
    name: str, type_: str, parent: RecordedResource | None = None, **kw: object
) -> RecordedResource:
    qualified = f"{parent.urn.split('::')[2]}${type_}" if parent is not None else type_
    return RecordedResource(
        type=type_,
        name=name,
        custom=parent is not None,
        parent=parent.name if parent is not None else None,
        urn=f"{PREFIX}{qualified}::{name}",
        **kw,  # type: ignore[arg-type]
    )


def test_a_renamed_leaf_needs_its_own_alias() -> None:
    component = _resource("repository", "delivery:repository_governance:RepositoryGovernance")
    old = _resource("repository-main-ruleset", "github:index/repositoryRuleset:RepositoryRuleset", component)
    olds = {component.urn, old.urn}
    renamed = _resource("repository-ruleset-main", old.type, component)
    assert orphans(olds, [component, renamed]) == [old.urn]
    aliased = _resource(renamed.name, old.type, component, aliases=[old.urn])
    assert orphans(olds, [component, aliased]) == []


def test_a_moved_child_is_found_under_its_parents_old_urn_with_the_old_name_prefix() -> None:
    old_parent = _resource("repository", "delivery:repository_governance:RepositoryGovernance")
    new_parent = _resource(
        "governance", "delivery:repository_governance:RepositoryGovernance", aliases=[old_parent.urn]
    )
    child = _resource(
        "governance-SLACK_WEBHOOK_URL", "github:index/actionsVariable:ActionsVariable", new_parent
    )
    took = takeovers({old_parent.urn}, [new_parent])
    assert took == {old_parent.urn: new_parent.urn}
    assert alias_urns(child, new_parent, old_parent.urn) == [
        f"{PREFIX}delivery:repository_governance:RepositoryGovernance$"
        "github:index/actionsVariable:ActionsVariable::repository-SLACK_WEBHOOK_URL"
    ]


def test_the_recorder_resolves_alias_specs_to_urns() -> None:
    """`aliases` as the program writes them reach the recording (and the golden files) as URNs."""

    def program() -> None:
        parent = pulumi.ComponentResource("delivery:test:Parent", "p")
        pulumi.ComponentResource(
            "delivery:test:Child",
            "p-child",
            opts=pulumi.ResourceOptions(
                parent=parent,
                aliases=[
                    pulumi.Alias(name="p-old"),
                    pulumi.Alias(parent=None),
                    pulumi.Alias(type_="delivery:test:Before", stack="staging"),
                    "urn:pulumi:production::delivery::delivery:test:Gone::g",
                ],
            ),
        )

    run = run_program("production", TEST_SECRETS, program=program)
    child = run.recorder.named("p-child")
    assert child.urn == f"{PREFIX}delivery:test:Parent$delivery:test:Child::p-child"
    assert child.aliases == [
        f"{PREFIX}delivery:test:Parent$delivery:test:Child::p-old",
        f"{PREFIX}delivery:test:Child::p-child",
        "urn:pulumi:staging::delivery::delivery:test:Parent$delivery:test:Before::p-child",
        "urn:pulumi:production::delivery::delivery:test:Gone::g",
    ]


def test_make_golden_refuses_to_drop_a_guarded_urn_unless_the_delete_is_meant(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Rewriting the snapshot must not launder a rename: `make golden` keeps the URN and says
    why, and drops it only with ALLOW_DELETE=1 (`--allow-delete`)."""
    gone = f"{PREFIX}delivery:workflow_files:WorkflowFiles${REPOSITORY_FILE}::workflows-retired"
    golden = tmp_path / "production"
    golden.mkdir()
    (golden / URNS_FILE).write_text((GOLDEN / "production" / URNS_FILE).read_text() + gone + "\n")
    monkeypatch.setattr(tools.plan, "GOLDEN", tmp_path)
    monkeypatch.setattr(tools.plan, "ROOT", Path("/"))  # where it prints paths from
    assert tools.plan.main(["--update-golden", "production"]) == 1
    assert gone in capsys.readouterr().err
    assert gone in (golden / URNS_FILE).read_text()
    assert tools.plan.main(["--update-golden", "--allow-delete", "production"]) == 0
    assert (golden / URNS_FILE).read_text() == (GOLDEN / "production" / URNS_FILE).read_text()
