"""Governance config: bad input is refused by validation, with the key named, before any resource.

Rows change the committed stack file the way a user would and name the lines the one
ConfigError must contain; every row also checks that nothing was declared.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from tests.support.stacks import assert_refused, parsed
from tools.offline import STACKS

# (stack, {config key: new value, None deletes}, [lines the error must contain])
BAD_GOVERNANCE: list[tuple[str, dict[str, Any], list[str]]] = [
    (
        # GitHub Team: environments, but no required reviewers in a private repository.
        "production",
        {"delivery:github.plan": {"tier": "team"}},
        [
            'delivery:github.plan.tier = "team": production deploys only after a required reviewer approves, '
            "and a private repository on GitHub Team has no required reviewers on environments; allowed: "
            "enterprise, or visibility public"
        ],
    ),
    (
        "staging",
        {"delivery:github.plan": {"tier": "free", "codeSecurity": False}},
        [
            'delivery:github.plan.tier = "free": a private repository on GitHub Free has no deployment environments'
        ],
    ),
    (
        "production",
        {"delivery:github.plan": {"tier": "pro"}},
        [
            'delivery:github.plan.tier = "pro": production deploys only after a required reviewer approves',
            "delivery:github.plan.codeSecurity = true: GitHub Code Security is sold for organisations on Team "
            "or Enterprise, not a private repository on GitHub Pro; allowed: false, or tier team or enterprise",
        ],
    ),
    (
        "production",
        {"delivery:github.productionReviewers": {"users": [], "teams": []}},
        ["delivery:github.productionReviewers = ", "production deployments need at least one reviewer"],
    ),
    (
        # A second owner: staging copied production's `manageRepository: true`.
        "staging",
        {"delivery:github.manageRepository": True},
        [
            "delivery:github.manageRepository = true: `github.managingStack` names 'production'",
            "must not declare them too; allowed: false",
            "delivery:github.deployer: the stack that manages the repository needs the deploying identity",
        ],
    ),
    (
        # The owner's own file names another stack as owner: two stacks would both claim it.
        "production",
        {"delivery:github.managingStack": "staging"},
        ["delivery:github.manageRepository = true: `github.managingStack` names 'staging'"],
    ),
    (
        "production",
        {"delivery:github.managingStack": "qa"},
        ["delivery:github.managingStack = \"qa\": Input should be 'development', 'staging' or 'production'"],
    ),
    (
        "production",
        {"delivery:github.deployer": None},
        ["delivery:github.deployer: the stack that manages the repository needs the deploying identity"],
    ),
    (
        "production",
        {"delivery:github.deployer.team": None},
        ["delivery:github.deployer.team: required key is missing"],
    ),
    (
        "production",
        {"delivery:github.productionReviewers.users": ["platform_lead"]},
        ['delivery:github.productionReviewers.users[0] = "platform_lead": must be a GitHub login'],
    ),
    (
        "production",
        {
            "delivery:github.productionReviewers.users": ["-lead"],
            "delivery:github.productionReviewers.teams": ["SRE Team"],
        },
        [
            'delivery:github.productionReviewers.users[0] = "-lead": must be a GitHub login',
            'delivery:github.productionReviewers.teams[0] = "SRE Team": must be a DNS label',
        ],
    ),
    (
        "production",
        {"delivery:github.productionReviewers.users": ["a1", "a2", "a3", "a4", "a5", "a6"]},
        [
            "delivery:github.productionReviewers = ",
            "at most 6 required reviewers (users and teams together); 7 given",
        ],
    ),
    (
        "production",
        {"delivery:github.productionReviewers.users": ["platform-lead", "Platform-Lead"]},
        [
            'delivery:github.productionReviewers.users = ["platform-lead", "Platform-Lead"]: lists a '
            "reviewer twice; allowed: each reviewer once"
        ],
    ),
    (
        "production",
        {"delivery:github.productionReviewers.users": ["ai-aas-deployer"]},
        [
            'delivery:github.productionReviewers.users = ["ai-aas-deployer"]: the deploying identity '
            "'ai-aas-deployer' must not approve the deployments it runs"
        ],
    ),
    (
        "production",
        {"delivery:github.productionReviewers.teams": ["platform-deployers"]},
        [
            "delivery:github.productionReviewers.teams = ",
            "the deployer's team 'platform-deployers' must not approve",
        ],
    ),
    (
        "staging",
        {"delivery:github.deploymentBranches": ["main", "feature/*"]},
        [
            "delivery:github.deploymentBranches = ",
            "staging deploys only what was merged to main; allowed: [main]",
        ],
    ),
    (
        "production",
        {"delivery:github.deploymentBranches": ["release/*"]},
        ["delivery:github.deploymentBranches = ", "production deploys only what was merged to main"],
    ),
    (
        "development",
        {"delivery:github.deploymentBranches": ["refs/heads/main"]},
        [
            'delivery:github.deploymentBranches[0] = "refs/heads/main": must be a branch name or fnmatch pattern'
        ],
    ),
    (
        "development",
        {"delivery:github.deploymentBranches": []},
        ["delivery:github.deploymentBranches = []: List should have at least 1 item"],
    ),
    (
        "development",
        {"delivery:github.productionReviewers": {"users": ["platform-lead"]}},
        [
            "delivery:github.productionReviewers = ",
            "only the production stack's environment has required reviewers; development deploys on merge",
        ],
    ),
    (
        "development",
        {"delivery:pipeline.credentials.lifetimeDays": 0},
        ["delivery:pipeline.credentials.lifetimeDays = 0: Input should be greater than or equal to 1"],
    ),
    (
        "production",
        {"delivery:pipeline.credentials.lifetimeDays": 400},
        ["delivery:pipeline.credentials.lifetimeDays = 400: Input should be less than or equal to 365"],
    ),
    (
        "staging",
        {"delivery:pipeline.credentials.issuedOn": "2026-02-30"},
        ['delivery:pipeline.credentials.issuedOn = "2026-02-30": not a calendar date'],
    ),
    (
        "staging",
        {"delivery:pipeline.credentials.issuedOn": "1999-12-31"},
        [
            'delivery:pipeline.credentials.issuedOn = "1999-12-31": out of range; allowed: a date from 2000-01-01'
        ],
    ),
    (
        "staging",
        {"delivery:pipeline.credentials.issuedOn": 20261123},
        ["delivery:pipeline.credentials.issuedOn = 20261123: YAML read this as a number, not text"],
    ),
    (
        "staging",
        {"delivery:pipeline.credentials.issuedOn": None},
        ["delivery:pipeline.credentials.issuedOn: required key is missing"],
    ),
    (
        "staging",
        {"delivery:pipeline.stateBackend.bucket": "Pulumi_State"},
        ['delivery:pipeline.stateBackend.bucket = "Pulumi_State": must be a DNS label'],
    ),
    (
        "staging",
        {"delivery:pipeline.stateBackend.endpoint": "https://us-ord-1.linodeobjects.com"},
        [
            'delivery:pipeline.stateBackend.endpoint = "https://us-ord-1.linodeobjects.com": not a valid value '
            "here; allowed: values like us-ord-1.linodeobjects.com"
        ],
    ),
    (
        "development",
        {"delivery:pipeline": None},
        ["delivery:pipeline: required key is missing"],
    ),
    (
        "production",
        {"delivery:metrics.noncurrentVersionDays": 120},
        ["delivery:metrics.noncurrentVersionDays = 120: old versions would outlive the metrics themselves"],
    ),
    (
        "production",
        {"delivery:metrics.abortIncompleteUploadDays": 0},
        ["delivery:metrics.abortIncompleteUploadDays = 0: Input should be greater than or equal to 1"],
    ),
]


@pytest.mark.parametrize(("stack", "changes", "expected"), BAD_GOVERNANCE, ids=lambda v: str(v)[:70])
def test_bad_governance_config_is_refused_with_the_key_named(
    stack: str, changes: dict[str, Any], expected: list[str]
) -> None:
    assert_refused(stack, changes, expected)


@pytest.mark.parametrize("stack", STACKS)
def test_committed_stacks_agree_on_one_managing_stack(stack: str) -> None:
    config = parsed(stack)
    assert config.github.managing_stack == "production"
    assert config.github.manage_repository == (stack == "production")


def test_development_may_deploy_from_configured_branches() -> None:
    config = parsed("development", {"delivery:github.deploymentBranches": ["main", "release/*"]})
    assert config.github.deployment_branches == ["main", "release/*"]


def test_token_expiry_is_issue_date_plus_lifetime_in_utc() -> None:
    config = parsed(
        "staging", {"delivery:pipeline.credentials": {"issuedOn": "2026-12-31", "lifetimeDays": 1}}
    )
    assert config.pipeline.credentials.expiry == "2027-01-01T00:00:00Z"
    production = parsed("production").pipeline.credentials
    expires = date.fromisoformat(production.expiry[:10])
    assert (expires - date.fromisoformat(production.issued_on)).days == production.lifetime_days <= 365


def test_state_endpoint_defaults_to_the_bucket_region() -> None:
    state = parsed("staging", {"delivery:pipeline.stateBackend.region": "eu-central"}).pipeline.state_backend
    assert state.endpoint_host == "eu-central-1.linodeobjects.com"
    custom = parsed("staging", {"delivery:pipeline.stateBackend.endpoint": "eu-central-10.linodeobjects.com"})
    assert custom.pipeline.state_backend.endpoint_host == "eu-central-10.linodeobjects.com"


# --------------------------------------------------------------------------- code owners

DEPLOYER = {"user": "ai-aas-deployer", "team": "platform-deployers"}


@pytest.mark.parametrize(
    ("stack", "changes", "expected"),
    [
        (
            # Only the managing stack commits CODEOWNERS.
            "staging",
            {"delivery:github.codeOwners": {"teams": ["platform-sre"]}},
            [
                'delivery:github.codeOwners = {"users": [], "teams": ["platform-sre"]}: only the managing '
                "stack (production) commits .github/CODEOWNERS; allowed: none in this stack"
            ],
        ),
        (
            # The deployer's token must not approve as a code owner.
            "production",
            {"delivery:github.codeOwners": {"users": ["platform-lead"], "teams": ["platform-deployers"]}},
            [
                'delivery:github.codeOwners.teams = ["platform-deployers"]: the deployer\'s team '
                "'platform-deployers' must not approve changes as a code owner; allowed: teams other than "
                "the deployer's"
            ],
        ),
        (
            "production",
            {"delivery:github.codeOwners": {"users": ["ai-aas-deployer"]}},
            ['delivery:github.codeOwners.users = ["ai-aas-deployer"]: the deploying identity'],
        ),
        (
            "production",
            {"delivery:github.codeOwners": {"teams": ["platform-sre", "platform-sre"]}},
            ["delivery:github.codeOwners.teams = ", "lists an owner twice; allowed: each owner once"],
        ),
        (
            # A managing stack other than production has no production reviewers to fall back on.
            "staging",
            {
                "delivery:github.managingStack": "staging",
                "delivery:github.manageRepository": True,
                "delivery:github.deployer": DEPLOYER,
                "delivery:github.workflows": {"validation": {"baseUrl": "https://api.staging.example.com"}},
            },
            [
                "delivery:github.codeOwners: the stack that manages the repository commits "
                ".github/CODEOWNERS and main requires a code owner's review; allowed: {users: [<login>], "
                "teams: [<team slug>]}, or github.productionReviewers in this stack"
            ],
        ),
    ],
    ids=["elsewhere", "deployer-team", "deployer-user", "twice", "missing"],
)
def test_bad_code_owners_are_refused_with_the_key_named(
    stack: str, changes: dict[str, Any], expected: list[str]
) -> None:
    assert_refused(stack, changes, expected)


def test_code_owners_default_to_the_production_reviewers() -> None:
    github = parsed("production").github
    assert github.code_owners is None
    owners = github.owners_of_code
    assert (owners.users, owners.teams) == (["platform-lead"], ["platform-sre"])
    chosen = parsed("production", {"delivery:github.codeOwners": {"teams": ["security"]}}).github
    assert (chosen.owners_of_code.users, chosen.owners_of_code.teams) == ([], ["security"])
