"""The repository's Actions settings, as the managing stack declares them (review finding M10).

The allowed-actions policy is checked the way GitHub applies it to the workflows the same
stack commits: every `uses:` must be this repository's own, GitHub's, or match a pattern, and
name a full commit SHA; and nothing is allowed that no workflow needs.
"""

from __future__ import annotations

import fnmatch
import re
from typing import Any

import pytest
import yaml

from components.github.actions_settings import GITHUB_OWNED, allowed_patterns
from tests.support.stacks import run_stack
from tests.support.types import REPOSITORY_FILE
from tools.offline import STACKS, Run

PERMISSIONS = "github:index/actionsRepositoryPermissions:ActionsRepositoryPermissions"
TOKEN_DEFAULTS = "github:index/workflowRepositoryPermissions:WorkflowRepositoryPermissions"
OWNER_STACK = "production"
FULL_SHA = re.compile(r"^[0-9a-f]{40}$")


def one(run: Run, type_: str) -> dict[str, Any]:
    (res,) = run.recorder.of_type(type_)
    return res.plain


def workflow_uses(run: Run) -> list[str]:
    """Every `uses:` of every job and step of the workflows the stack commits."""
    found: list[str] = []
    for res in run.recorder.of_type(REPOSITORY_FILE):
        if not res.plain["file"].startswith(".github/workflows/"):
            continue
        doc = yaml.safe_load(res.plain["content"])
        for job in doc["jobs"].values():
            found += [job["uses"]] if "uses" in job else []
            found += [step["uses"] for step in job.get("steps", []) if "uses" in step]
    return found


def github_allows(uses: str, policy: dict[str, Any]) -> bool:
    """GitHub's check of one `uses:` against the repository's policy (`selected`)."""
    if uses.startswith("./"):
        return True  # this repository's own: allowed under `selected`, and carries no ref
    name, _, ref = uses.partition("@")
    if policy["shaPinningRequired"] and not FULL_SHA.match(ref):
        return False
    config = policy["allowedActionsConfig"]
    if config["githubOwnedAllowed"] and name.split("/", 1)[0] in GITHUB_OWNED:
        return True
    return any(fnmatch.fnmatchcase(uses, p) for p in config["patternsAlloweds"])


@pytest.mark.parametrize("stack", STACKS)
def test_only_the_managing_stack_declares_the_actions_settings(stack: str) -> None:
    run = run_stack(stack)
    declared = [r for r in run.resources if r.type in (PERMISSIONS, TOKEN_DEFAULTS)]
    assert (len(declared) == 2) == (stack == OWNER_STACK)


def test_only_selected_actions_pinned_by_sha_may_run() -> None:
    policy = one(run_stack(OWNER_STACK), PERMISSIONS)
    assert policy["enabled"] is True and policy["allowedActions"] == "selected"
    assert policy["shaPinningRequired"] is True
    assert policy["allowedActionsConfig"]["githubOwnedAllowed"] is True
    assert policy["allowedActionsConfig"]["verifiedAllowed"] is False


def test_the_committed_workflows_run_under_the_policy_and_nothing_else_is_allowed() -> None:
    run = run_stack(OWNER_STACK)
    policy = one(run, PERMISSIONS)
    uses = workflow_uses(run)
    assert uses, "no workflow to check"
    refused = [u for u in uses if not github_allows(u, policy)]
    assert refused == [], f"GitHub would refuse {refused}"
    needed = {p for p in policy["allowedActionsConfig"]["patternsAlloweds"] if any(
        fnmatch.fnmatchcase(u, p) for u in uses)}  # fmt: skip
    assert needed == set(policy["allowedActionsConfig"]["patternsAlloweds"]), "a pattern no workflow needs"


def test_the_policy_refuses_what_it_is_there_to_refuse() -> None:
    policy = one(run_stack(OWNER_STACK), PERMISSIONS)
    sha = "8e5e406f4007fca908480587cb9893c07090f58d"
    assert github_allows(f"pulumi/actions@{sha}", policy)
    assert not github_allows("pulumi/actions@v7", policy), "a moving tag"
    assert not github_allows(f"someone/exfiltrate@{sha}", policy), "another publisher"
    assert not github_allows("actions/checkout@v7", policy), "GitHub's own, by tag"


def test_patterns_name_publishers_github_does_not_own() -> None:
    names = [
        "actions/checkout",
        "github/codeql-action/init",
        "aquasecurity/trivy-action",
        "docker/login-action",
    ]
    assert allowed_patterns(names) == ["aquasecurity/*", "docker/*"]


def test_the_workflow_token_reads_by_default_and_approves_nothing() -> None:
    defaults = one(run_stack(OWNER_STACK), TOKEN_DEFAULTS)
    assert defaults == {
        "repository": "platform",
        "defaultWorkflowPermissions": "read",
        "canApprovePullRequestReviews": False,
    }
