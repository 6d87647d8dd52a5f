"""`.github/CODEOWNERS`: the pure render, and what the managing stack commits and requires.

The ownership checks read the committed file the way GitHub matches it (the last matching
pattern wins; a pattern ending in `/` owns the directory's whole tree).
"""

from __future__ import annotations

import fnmatch

import pytest

from components.github.code_owners import PATH, CodeOwnersArgs, handles, render
from components.github.config import CodeOwners
from tests.support.stacks import run_stack, stack_values
from tests.support.types import REPOSITORY_FILE, RULESET
from tools.offline import STACKS
from tools.plan import GOLDEN

OWNER_STACK = "production"

ARGS = CodeOwnersArgs(
    repository="platform",
    organisation="ai-aas",
    owners=CodeOwners(users=["zed", "amy"], teams=["sre"]),
    production_dir="deploy/prod",
    pulumi_path="ops/pulumi",
    commit_author="delivery-bot",
    commit_email="delivery-bot@users.noreply.github.com",
)


def owners_of(text: str, path: str) -> list[str]:
    """GitHub's reading of a CODEOWNERS file for one repository path."""
    found: list[str] = []
    for line in text.splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        pattern, *owners = line.split()
        anchored = pattern.lstrip("/")
        glob = f"{anchored}*" if anchored.endswith("/") else anchored
        if fnmatch.fnmatchcase(path, glob):
            found = owners
    return found


def test_render_owns_production_the_workflows_and_the_program_with_every_owner() -> None:
    text = render(ARGS)
    everyone = ["@ai-aas/sre", "@amy", "@zed"]
    assert handles(ARGS.organisation, ARGS.owners) == everyone
    for path in (
        "deploy/prod/images/web-portal.yaml",
        "deploy/prod/infrastructure.yaml",
        ".github/workflows/infrastructure.yml",
        ".github/scripts/promotion_gate.py",
        ".github/CODEOWNERS",
        "ops/pulumi/Pulumi.production.yaml",
        "ops/pulumi/Pulumi.yaml",
        "ops/pulumi/__main__.py",
        "ops/pulumi/components/github/config.py",
        "ops/pulumi/requirements.txt",
    ):
        assert owners_of(text, path) == everyone, path
    for path in (
        "deploy/staging/images/web-portal.yaml",  # delivered without a pull request
        "services/billing-service/main.go",
        "ops/pulumi/tests/github/test_governance.py",
        "deploy/production-copy/x.yaml",
    ):
        assert owners_of(text, path) == [], path
    # Every rule is anchored at the root: a `deploy/prod` elsewhere in the tree owns nothing.
    assert all(line.startswith(("#", "/")) for line in text.splitlines() if line)


def test_the_managing_stack_commits_codeowners_from_its_config() -> None:
    run = run_stack(OWNER_STACK)
    (file,) = [r for r in run.recorder.of_type(REPOSITORY_FILE) if r.plain["file"] == PATH]
    assert file.plain["branch"] == "main" and "[skip ci]" in file.plain["commitMessage"]
    assert file.plain["overwriteOnCreate"] is True
    text = file.plain["content"]
    assert text == (GOLDEN / OWNER_STACK / "github" / PATH).read_text()
    config = stack_values(OWNER_STACK)["delivery:github"]
    reviewers = config["productionReviewers"]  # the default code owners
    expected = sorted(f"@{config['owner']}/{t}" for t in reviewers["teams"]) + sorted(
        f"@{u}" for u in reviewers["users"]
    )
    clusters = "gitops/clusters"  # gitops.clustersPath's default: the stack file leaves it
    assert owners_of(text, f"{clusters}/production/images/web-portal.yaml") == expected
    assert owners_of(text, f"{clusters}/staging/images/web-portal.yaml") == []
    assert owners_of(text, "infra/pulumi/components/github/code_owners.py") == expected
    deployer = config["deployer"]
    assert f"@{deployer['user']}" not in text and f"/{deployer['team']}" not in text


@pytest.mark.parametrize("stack", STACKS)
def test_only_the_managing_stack_commits_codeowners(stack: str) -> None:
    files = [r for r in run_stack(stack).recorder.of_type(REPOSITORY_FILE) if r.plain["file"] == PATH]
    assert len(files) == (1 if stack == OWNER_STACK else 0)


def test_main_requires_a_code_owners_review_after_the_file_is_committed() -> None:
    run = run_stack(OWNER_STACK)
    (main,) = [r for r in run.recorder.of_type(RULESET) if r.name.endswith("-main-ruleset")]
    assert main.plain["rules"]["pullRequest"]["requireCodeOwnerReview"] is True
    assert "code-owners" in main.depends_on, "committed while main is still open on the first up"
