"""Across the three committed stacks: one owner per object, secrets stay secret, scoped tokens.

Three stacks share one GitHub repository and one Linode account. An object two stacks
declared would be overwritten by whichever ran `pulumi up` last, and deleted by either's
`destroy`. These tests compare what the three recorded runs declare.
"""

from __future__ import annotations

import re
from collections import defaultdict
from datetime import date
from typing import Any

import yaml

from components.github import ci_contract
from tests.support.stacks import TEST_SECRETS
from tools.offline import MOCK_OUTPUTS, STACKS, RecordedResource, Run, stack_file, walk, with_offline_pins

# Inputs that name the object a resource manages (what GitHub or Linode identify it by).
IDENTITY_KEYS = (
    "repository",
    "repositoryId",
    "environment",
    "secretName",
    "variableName",
    "branchPattern",
    "tagPattern",
    "pattern",
    "branch",
    "file",
    "name",
    "title",
    "label",
    "region",
    "target",
)
# Objects of the whole repository (or account): the managing stack alone declares them.
REPOSITORY_WIDE = {
    "github:index/repositoryRuleset:RepositoryRuleset",
    "github:index/branchProtection:BranchProtection",
    "github:index/actionsSecret:ActionsSecret",
    "github:index/actionsVariable:ActionsVariable",
    "github:index/actionsRepositoryOidcSubjectClaimCustomizationTemplate:ActionsRepositoryOidcSubjectClaimCustomizationTemplate",
    "github:index/repositoryFile:RepositoryFile",
    "github:index/actionsRepositoryPermissions:ActionsRepositoryPermissions",
    "github:index/workflowRepositoryPermissions:WorkflowRepositoryPermissions",
    "github:index/actionsRunnerGroup:ActionsRunnerGroup",
    "linode:index/objectStorageBucket:ObjectStorageBucket",
}
# Credential outputs of the mocks: none may reach an input unmarked.
CREDENTIAL_OUTPUTS = ("token", "accessKey", "secretKey", "privateKeyOpenssh", "privateKeyPem")
SCOPE = re.compile(r"^[a-z_]+:(read_only|read_write)$")


def stack_doc(stack: str) -> dict[str, Any]:
    doc: dict[str, Any] = with_offline_pins(yaml.safe_load(stack_file(stack).read_text())["config"], stack)
    return doc


def identity(res: RecordedResource) -> tuple[Any, ...]:
    plain = res.plain
    return (res.type, *((k, plain[k]) for k in IDENTITY_KEYS if isinstance(plain.get(k), str | int | float)))


def managed_objects(run: Run) -> list[RecordedResource]:
    return [r for r in run.resources if r.custom and r.type.split(":", 1)[0] in ("github", "linode")]


def test_exactly_one_committed_stack_manages_the_repository_and_all_name_it() -> None:
    github = {stack: stack_doc(stack)["delivery:github"] for stack in STACKS}
    owners = [stack for stack, gh in github.items() if gh.get("manageRepository") is True]
    assert len(owners) == 1, f"repository-wide objects declared by {owners}"
    named = {gh.get("managingStack") for gh in github.values()}
    assert named == set(owners), "every stack file names the managing stack explicitly, the same one"
    targets = {(gh["owner"], gh["repository"]) for gh in github.values()}
    assert len(targets) == 1, "the stacks govern one repository"


def test_no_github_object_or_bucket_is_declared_by_two_stacks(runs: dict[str, Run]) -> None:
    declared_by: dict[tuple[Any, ...], set[str]] = defaultdict(set)
    for stack, run in runs.items():
        for res in managed_objects(run):
            declared_by[identity(res)].add(stack)
    shared = {ident: stacks for ident, stacks in declared_by.items() if len(stacks) > 1}
    assert shared == {}, "\n".join(f"{sorted(s)}: {i}" for i, s in shared.items())
    kinds = {ident[0] for ident in declared_by}
    assert {
        "github:index/repositoryEnvironment:RepositoryEnvironment",
        "github:index/actionsEnvironmentSecret:ActionsEnvironmentSecret",
        "github:index/repositoryRuleset:RepositoryRuleset",
        "linode:index/objectStorageBucket:ObjectStorageBucket",
        "linode:index/token:Token",
    } <= kinds, "the comparison saw too little to prove anything"


def test_within_a_stack_no_object_is_declared_twice(runs: dict[str, Run]) -> None:
    for stack, run in runs.items():
        seen = defaultdict(list)
        for res in managed_objects(run):
            seen[identity(res)].append(res.name)
        twice = {i: names for i, names in seen.items() if len(names) > 1}
        assert twice == {}, f"{stack}: {twice}"


def test_repository_wide_objects_only_in_the_managing_stack(runs: dict[str, Run]) -> None:
    for stack, run in runs.items():
        wide = sorted({r.type for r in managed_objects(run) if r.type in REPOSITORY_WIDE})
        if stack_doc(stack)["delivery:github"].get("manageRepository"):
            assert len(wide) >= 5, f"{stack} manages the repository but declares only {wide}"
        else:
            assert wide == [], f"{stack} declares repository-wide {wide}"


def test_environment_scoped_objects_belong_to_the_stacks_own_environments(runs: dict[str, Run]) -> None:
    for stack, run in runs.items():
        scoped = [
            r for r in managed_objects(run) if r.type.startswith("github:") and "environment" in r.plain
        ]
        assert scoped, f"{stack} declares no environment"
        own = {stack, f"{stack}-preview"}
        if stack in ("staging", "production"):
            # The read-only observer: staging validation's, the promotion's health job's.
            own.add(ci_contract.observer_environment(stack))
        if stack_doc(stack)["delivery:github"].get("manageRepository"):
            own.add(ci_contract.CI_MAIN_ENVIRONMENT)  # the repository's CI secrets (main only)
            own.add(ci_contract.REPORT_ENVIRONMENT)  # the DORA report's read-only key (main only)
        if stack == "production":
            own.add(ci_contract.IMAGE_RISK_ENVIRONMENT)  # production's reviewers accept high findings
        assert {r.plain["environment"] for r in scoped} == own


def _credential_values() -> set[str]:
    values = set(TEST_SECRETS.values())
    for outputs in MOCK_OUTPUTS.values():
        values |= {str(outputs[k]) for k in CREDENTIAL_OUTPUTS if k in outputs}
    return values


def test_no_secret_value_appears_unmarked_in_any_input_or_output(runs: dict[str, Run]) -> None:
    credentials = _credential_values()
    assert len(credentials) >= len(TEST_SECRETS) + 3
    leaks: list[str] = []
    marked = 0
    for stack, run in runs.items():
        for res in run.resources:
            for path, leaf, secret in walk(res.inputs):
                if isinstance(leaf, str) and any(c in leaf for c in credentials):
                    if secret:
                        marked += 1
                    else:
                        leaks.append(f"{stack} {res.name}.{path}")
        for path, leaf, secret in walk(run.outputs):
            if isinstance(leaf, str) and not secret and any(c in leaf for c in credentials):
                leaks.append(f"{stack} output {path}")
    assert leaks == [], "secret values in plain text:\n" + "\n".join(leaks)
    assert marked > 0, "no secret value reached any input: the check proved nothing"


def test_every_minted_linode_token_has_explicit_scopes_and_an_expiry(runs: dict[str, Run]) -> None:
    tokens = [
        (stack, t) for stack, run in runs.items() for t in run.recorder.of_type("linode:index/token:Token")
    ]
    assert len(tokens) == 2 * len(STACKS)
    for stack, token in tokens:
        scopes = token.plain["scopes"].split()
        assert scopes, f"{stack} {token.name}: no scopes"
        assert all(SCOPE.match(s) for s in scopes), f"{stack} {token.name}: {scopes} (never `*`)"
        assert not any(s.startswith("account:") for s in scopes), "account scope can mint tokens and users"
        assert len({s.split(":")[0] for s in scopes}) == len(scopes), "one level per area"
        expiry = token.plain.get("expiry")
        assert expiry and re.fullmatch(r"\d{4}-\d{2}-\d{2}T00:00:00Z", expiry), (
            f"{stack} {token.name}: {expiry}"
        )
        date.fromisoformat(expiry[:10])
