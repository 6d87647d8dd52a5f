"""The one list of identities (components/github/identities/) against what the program
declares, what the workflows do with the deployer's token, and what the documentation says.

Least privilege both ways: the deployer's GitHub permissions are exactly what the declared
resources, data sources and workflow scripts need; the bootstrap token's Linode scopes are
exactly what the declared Linode resources need; every minted token has its identity's scopes.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
import yaml

from components.github import ci_contract
from components.github.identities import (
    ALWAYS,
    BOOTSTRAP_LINODE,
    DEPLOYER_GITHUB,
    DEPLOYER_JOBS,
    DISPATCH_CALLS,
    DISPATCH_GITHUB,
    GITHUB_NEEDS,
    IDENTITIES,
    IMAGE_PULL_SCOPES,
    LINODE_NEEDS,
    MANAGING_DEPLOYER_GITHUB,
    MANAGING_ONLY,
    MANAGING_PREVIEW_GITHUB,
    PREVIEW_GITHUB,
    PREVIEW_JOBS,
    Permission,
    Scope,
    UnknownGithubTypeError,
    ci_linode_scopes,
    github_needs,
    read_level,
    reduce,
    scopes_text,
    script_needs,
    state_key_permissions,
    unknown_uses,
)
from components.gitops.argocd_values import GITHUB_DISPATCH_SERVICE
from tests.support.stacks import stack_values
from tests.support.types import TOKEN
from tools.docs_sections import IDENTITIES_TABLE, UPDATE, pages
from tools.offline import ROOT, STACKS, Run

STATE_KEY_SUFFIX = "-state-key"
DEPLOYER_SECRET = f"secrets.{ci_contract.DEPLOYER_GITHUB_TOKEN}"


def _manages(stack: str) -> bool:
    return bool(stack_values(stack)["delivery:github"].get("manageRepository", False))


def _declared_github(runs: dict[str, Run]) -> Iterator[tuple[str, dict[str, Any]]]:
    """(type token, inputs) of every GitHub resource and data-source call of the three stacks."""
    for run in runs.values():
        for res in run.resources:
            if res.custom and res.type.startswith("github:"):
                yield res.type, res.plain
        for token, inputs in run.recorder.calls:
            if token.startswith("github:"):
                yield token, inputs


def _workflows(runs: dict[str, Run]) -> dict[str, dict[str, Any]]:
    """The rendered workflow files the stacks commit, by path."""
    return {
        r.plain["file"]: yaml.safe_load(r.plain["content"])
        for run in runs.values()
        for r in run.resources
        if r.type == "github:index/repositoryFile:RepositoryFile" and r.plain["file"].endswith(".yml")
    }


def _token_steps(runs: dict[str, Run]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """(workflow file, job's environment, step) of every step that receives the deployer's token."""
    for path, _job_id, env_name, step in _token_jobs(runs):
        yield path, env_name, step


def _token_jobs(runs: dict[str, Run]) -> Iterator[tuple[str, str, str, dict[str, Any]]]:
    """(workflow file, job id, job's environment, step) of every step with the deployer's token."""
    for path, doc in _workflows(runs).items():
        for job_id, job in (doc.get("jobs") or {}).items():
            environment = job.get("environment")
            env_name = environment.get("name") if isinstance(environment, dict) else environment
            for step in job.get("steps") or []:
                env = {**(job.get("env") or {}), **(step.get("env") or {})}
                if any(DEPLOYER_SECRET in str(v) for v in env.values()):
                    yield path, str(job_id), str(env_name), step


def _workflow_needs(runs: dict[str, Run]) -> frozenset[Permission]:
    needs: set[Permission] = set()
    for path, env_name, step in _token_steps(runs):
        if "run" in step:
            found = script_needs(step["run"])
            assert found, (
                f"{path}: step {step.get('name')!r} receives {ci_contract.DEPLOYER_GITHUB_TOKEN} and does "
                "nothing WORKFLOW_COMMANDS knows: add what it does to components/github/identities/token_uses.py"
            )
            assert not env_name.endswith("-preview"), f"{path}: a preview environment's token in a script"
            unknown = unknown_uses(step["run"])
            assert not unknown, f"{path}: {step.get('name')!r} uses the deployer's token for {unknown}"
            needs |= found
        else:
            uses = str(step.get("uses", ""))
            command = (step.get("with") or {}).get("command")
            assert uses.startswith("pulumi/actions@") and command in ("up", "preview"), (
                f"{path}: step {step.get('name')!r} hands the deployer's token to {uses!r}: "
                "decide its permissions in components/github/identities/token_uses.py"
            )
            # `pulumi up` needs what the program declares; a preview runs in `<env>-preview`.
            assert (command == "preview") == env_name.endswith("-preview"), f"{path}: {step.get('name')}"
    return frozenset(needs)


def test_the_listed_jobs_are_those_that_receive_the_deployers_token(runs: dict[str, Run]) -> None:
    found: dict[str, set[str]] = {"up": set(), "preview": set()}
    for path, job_id, env_name, _ in _token_jobs(runs):
        access = "preview" if env_name.endswith("-preview") else "up"
        env = env_name.removesuffix("-preview")
        found[access].add(f"{path.rsplit('/', 1)[-1]} {job_id.replace(env, '<env>')}")
    assert found == {"up": set(DEPLOYER_JOBS), "preview": set(PREVIEW_JOBS)}


def test_every_declared_github_type_has_its_permissions_decided(runs: dict[str, Run]) -> None:
    declared = {t for t, _ in _declared_github(runs)}
    unknown = declared - GITHUB_NEEDS.keys()
    assert not unknown, f"add to GITHUB_NEEDS in components/github/identities/github.py: {sorted(unknown)}"
    unused = GITHUB_NEEDS.keys() - declared
    assert not unused, f"GITHUB_NEEDS lists types no stack declares: {sorted(unused)}"


def test_an_unknown_github_type_is_refused() -> None:
    with pytest.raises(UnknownGithubTypeError, match="GITHUB_NEEDS"):
        github_needs("github:index/actionsSecret:ActionsSecret", {})


def _program_needs(runs: dict[str, Run], managing_only: bool) -> set[Permission]:
    return {
        p
        for t, inputs in _declared_github(runs)
        if (t in MANAGING_ONLY) == managing_only
        for p in github_needs(t, inputs)
    }


def test_deployer_permissions_are_exactly_what_the_program_and_workflows_need(runs: dict[str, Run]) -> None:
    needed = reduce(_program_needs(runs, managing_only=False) | _workflow_needs(runs) | ALWAYS)
    missing, extra = needed - DEPLOYER_GITHUB, DEPLOYER_GITHUB - needed
    assert not missing and not extra, f"ciGithubToken lacks {sorted(missing)}; grants unused {sorted(extra)}"


def test_organisation_objects_are_the_managing_stacks_and_its_tokens_alone_may_write_them(
    runs: dict[str, Run],
) -> None:
    """The runner groups need an organisation permission; the tokens of the stacks whose `up`
    runs without a reviewer never get it."""
    for stack, run in runs.items():
        types = {r.type for r in run.resources}
        assert (types & MANAGING_ONLY != set()) == _manages(stack), stack
    needed = reduce(_program_needs(runs, managing_only=True))
    assert needed == MANAGING_DEPLOYER_GITHUB
    assert all(p.organisation for p in needed) and not needed & DEPLOYER_GITHUB
    assert reduce(read_level(needed)) == MANAGING_PREVIEW_GITHUB


def test_workflow_files_need_the_workflows_permission(runs: dict[str, Run]) -> None:
    workflow = {"file": ".github/workflows/ci.yml"}
    assert Permission("Workflows", "write") in github_needs(
        "github:index/repositoryFile:RepositoryFile", workflow
    )
    assert _workflows(runs), "the managing stack commits no workflow file"


def test_the_workflows_push_and_open_no_pull_request(runs: dict[str, Run]) -> None:
    needs = _workflow_needs(runs)
    assert Permission("Contents", "write") in needs
    # Promotion moves the release branch; it opens no pull request any more.
    assert Permission("Pull requests", "write") not in needs
    # A script that uses the token for anything else is unknown (and fails the scan above).
    assert script_needs('gh api -X PUT "repos/$REPO/collaborators/someone"') == frozenset()
    assert unknown_uses("git_auth push origin HEAD\ngh pr merge 1 --admin\n") == ["gh pr merge"]


def test_preview_permissions_are_the_read_level_of_what_the_program_declares(runs: dict[str, Run]) -> None:
    program = _program_needs(runs, managing_only=False)
    assert reduce(read_level(program) | ALWAYS) == PREVIEW_GITHUB
    assert all(p.level == "read" for p in PREVIEW_GITHUB)


def _dispatch_calls(runs: dict[str, Run]) -> list[str]:
    """ "METHOD path" of every template of Argo CD's GitHub dispatch webhook, in every stack."""
    calls = []
    for run in runs.values():
        for res in run.resources:
            if res.type != "kubernetes:helm.sh/v3:Release":
                continue
            templates = ((res.plain.get("values") or {}).get("notifications") or {}).get("templates") or {}
            for text in templates.values():
                webhook = (yaml.safe_load(text).get("webhook") or {}).get(GITHUB_DISPATCH_SERVICE)
                if webhook:
                    calls.append(f"{webhook['method']} {webhook['path']}")
    return calls


def test_dispatcher_permissions_are_exactly_what_its_webhook_calls_need(runs: dict[str, Run]) -> None:
    calls = _dispatch_calls(runs)
    assert calls, "no stack sends the staging-deployed dispatch"
    needed: set[Permission] = set(ALWAYS)
    for call in calls:
        known = [c for c in DISPATCH_CALLS if c.pattern.fullmatch(call)]
        assert known, (
            f"Argo CD's dispatch webhook calls {call!r}: add it to DISPATCH_CALLS with its permissions"
        )
        needed |= {p for c in known for p in c.permissions}
    assert reduce(needed) == DISPATCH_GITHUB


@pytest.mark.parametrize("stack", STACKS)
def test_every_minted_linode_token_has_its_identitys_scopes(stack: str, runs: dict[str, Run]) -> None:
    run = runs[stack]
    tokens = [r for r in run.resources if r.type == TOKEN]
    assert len(tokens) == 2, [t.name for t in tokens]
    secrets = {
        r.plain["value"]: r.plain["environment"]
        for r in run.resources
        if r.type == "github:index/actionsEnvironmentSecret:ActionsEnvironmentSecret"
        and r.plain["secretName"] == ci_contract.LINODE_TOKEN
    }
    for token in tokens:
        # Which environment (and so which identity) holds it, from the secret its value is in.
        environment = secrets[f"mock-linode-token-{token.name}"]
        access = "preview" if environment.endswith("-preview") else "up"
        assert token.plain["scopes"] == scopes_text(ci_linode_scopes(access, _manages(stack))), token.name


@pytest.mark.parametrize("stack", STACKS)
def test_state_keys_have_their_identitys_access_to_the_own_bucket_only(
    stack: str, runs: dict[str, Run]
) -> None:
    state = stack_values(stack)["delivery:pipeline"]["stateBackend"]
    bucket, region = state["bucket"], state.get("region", "us-ord")
    keys = [r for r in runs[stack].resources if r.name.endswith(STATE_KEY_SUFFIX)]
    assert sorted(k.name.split("-")[-3] for k in keys) == ["preview", "up"]
    for key in keys:
        access = "preview" if "-preview-" in key.name else "up"
        assert key.plain["bucketAccesses"] == [
            {"bucketName": bucket, "region": region, "permissions": state_key_permissions(access)}
        ]
        assert "regions" not in key.plain


def _covers(held: frozenset[Scope], wanted: Scope) -> bool:
    return any(s.area == wanted.area and (s.level in ("read_write", wanted.level)) for s in held)


def test_bootstrap_token_can_mint_every_ci_token_and_nothing_more(runs: dict[str, Run]) -> None:
    minted = {Scope(*s.split(":")) for run in runs.values() for r in run.resources if r.type == TOKEN
              for s in r.plain["scopes"].split()}  # fmt: skip
    # A Linode token can mint only within its own scopes; minting needs `account`.
    assert all(_covers(BOOTSTRAP_LINODE, s) for s in minted), sorted(minted)
    assert Scope("account", "read_write") in BOOTSTRAP_LINODE
    declared = {
        r.type for run in runs.values() for r in run.resources if r.custom and r.type.startswith("linode:")
    }
    unknown = declared - LINODE_NEEDS.keys()
    assert not unknown, f"add to LINODE_NEEDS in components/github/identities/linode.py: {sorted(unknown)}"
    needed: set[Scope] = set().union(*(LINODE_NEEDS[t] for t in declared))
    best = {s for s in needed if s.level == "read_write" or Scope(s.area, "read_write") not in needed}
    assert best == BOOTSTRAP_LINODE, f"the first `pulumi up` needs exactly {sorted(best)}"


def test_ci_tokens_never_hold_account_or_everything() -> None:
    for access in ("up", "preview"):
        for manages in (True, False):
            scopes = ci_linode_scopes(access, manages)
            assert all(s.area not in ("account", "*") for s in scopes)


def test_no_identity_has_everything() -> None:
    grants = [g for i in IDENTITIES for c in i.credentials for g in c.grants]
    assert grants and not [g for g in grants if "*" in g]
    assert IMAGE_PULL_SCOPES == ("read:packages",)


def test_argocd_deploy_keys_are_read_only(runs: dict[str, Run]) -> None:
    keys = [r for run in runs.values() for r in run.resources if r.type.endswith("RepositoryDeployKey")]
    assert len(keys) == len(STACKS) and all(k.plain["readOnly"] is True for k in keys)


def test_the_metrics_keys_write_and_read_the_metrics_bucket_only(runs: dict[str, Run]) -> None:
    keys = {
        r.name: r
        for run in runs.values()
        for r in run.resources
        if r.type == "linode:index/objectStorageKey:ObjectStorageKey"
        and not r.name.endswith(STATE_KEY_SUFFIX)
    }
    bucket = runs["production"].outputs["metricsBucket"]
    assert {name: k.plain["bucketAccesses"] for name, k in keys.items()} == {
        "metrics-ci-key": [{"bucketName": bucket, "region": "us-ord", "permissions": "read_write"}],
        "metrics-report-key": [{"bucketName": bucket, "region": "us-ord", "permissions": "read_only"}],
    }


# --------------------------------------------------------------------------- documentation

LINODE_SCOPE = re.compile(r"\b[a-z_]+:(?:read_only|read_write)\b|\bread:packages\b")
PERMISSION_NAMES = sorted({p.name for p in DEPLOYER_GITHUB | PREVIEW_GITHUB | MANAGING_DEPLOYER_GITHUB})
PERMISSION_NAME = re.compile(r"\b(" + "|".join(re.escape(n) for n in PERMISSION_NAMES) + r")\b", re.I)
LEVEL = re.compile(r"\b(read|write|read/write|read-only|read-write)\b", re.I)


def _outside_the_identities_tables() -> str:
    """Every documentation page, README.md included, less the generated identities tables."""
    texts = pages()
    generated = IDENTITIES_TABLE.path.relative_to(ROOT).as_posix()
    texts[generated] = IDENTITIES_TABLE.outside(texts[generated])
    return "\n".join(texts.values())


def test_docs_identities_table_matches_the_module() -> None:
    assert not IDENTITIES_TABLE.stale(), f"run: {UPDATE}"


def test_docs_state_scopes_only_in_the_identities_table() -> None:
    outside = _outside_the_identities_tables()
    found = sorted(set(LINODE_SCOPE.findall(outside)))
    assert not found, f"scopes outside the identities table (refer to it instead): {found}"


def test_docs_list_github_permissions_only_in_the_identities_table() -> None:
    """A line naming three or more fine-grained permissions with a level is a permission list."""
    outside = _outside_the_identities_tables()
    lists = [
        line
        for line in outside.splitlines()
        if len({m.lower() for m in PERMISSION_NAME.findall(line)}) >= 3 and LEVEL.search(line)
    ]
    assert not lists, "permission lists outside the identities table (refer to it instead):\n" + "\n".join(
        lists
    )


def test_the_readme_checks_catch_a_repeated_scope() -> None:
    repeated = "Create a token with `lke:read_write` and Administration, Contents, Workflows read/write.\n"
    assert LINODE_SCOPE.search(repeated)
    assert len({m.lower() for m in PERMISSION_NAME.findall(repeated)}) >= 3 and LEVEL.search(repeated)
