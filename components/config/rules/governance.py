"""The GitHub repository's governance: one stack owns the repository-wide objects, who reviews
and owns the code (never the deployer), what a user account lacks, what the plan offers."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from components.config.base import _MISSING, MAIN_BRANCH, Problem

if TYPE_CHECKING:
    from components.config.stack import StackConfig


def ownership_problems(config: StackConfig) -> list[Problem]:
    """One owner of the repository-wide objects; seed 001's promotion rules per environment; the
    deployer never approves its own deployments."""
    problems: list[Problem] = []
    env = config.environment
    gh = config.github
    owner = gh.managing_stack
    # Production adopted without GitHub (github.enabled: false, cluster.existingInProduction: true)
    # declares no GitHub object, the repository-wide ones included; repository_access_problems
    # refuses manageRepository there.
    adopted_without_github = not gh.enabled and env == "production" and config.cluster.existing_in_production
    if not adopted_without_github and gh.manage_repository != (env == owner):
        problems.append(
            Problem(
                "github.manageRepository",
                gh.manage_repository,
                f"`github.managingStack` names {owner!r} as the one stack declaring the repository-wide "
                f"objects, so this {env!r} stack must not declare them too; allowed: {str(env == owner).lower()}",
            )
        )
    if gh.manage_repository and gh.deployer is None:
        problems.append(
            Problem(
                "github.deployer",
                _MISSING,
                "the stack that manages the repository needs the deploying identity (user and team) "
                "that alone may push to main; allowed: {user: <login>, team: <team slug>}",
            )
        )
    if env in ("staging", "production") and gh.deployment_branches != [MAIN_BRANCH]:
        problems.append(
            Problem(
                "github.deploymentBranches",
                gh.deployment_branches,
                f"{env} deploys only what was merged to {MAIN_BRANCH}; allowed: [{MAIN_BRANCH}]",
            )
        )
    if env != "production" and gh.production_reviewers.count:
        problems.append(
            Problem(
                "github.productionReviewers",
                gh.production_reviewers.model_dump(by_alias=True),
                f"only the production stack's environment has required reviewers; {env} deploys on "
                "merge without approval (seed 001); allowed: none",
            )
        )
    if gh.deployer is not None:
        reviewers = gh.production_reviewers
        if gh.deployer.user.lower() in {u.lower() for u in reviewers.users}:
            problems.append(
                Problem(
                    "github.productionReviewers.users",
                    reviewers.users,
                    f"the deploying identity {gh.deployer.user!r} must not approve the deployments it "
                    "runs; allowed: people other than the deployer",
                )
            )
        if gh.deployer.team in reviewers.teams:
            problems.append(
                Problem(
                    "github.productionReviewers.teams",
                    reviewers.teams,
                    f"the deployer's team {gh.deployer.team!r} must not approve the deployments it "
                    "runs; allowed: teams other than the deployer's",
                )
            )
    return problems


def code_owner_problems(config: StackConfig) -> list[Problem]:
    """The managing stack commits `.github/CODEOWNERS`, and main's ruleset requires a code
    owner's review: someone must own the paths, and never the deployer, whose token could
    then approve what it is about to deploy."""
    gh = config.github
    if not gh.manage_repository:
        if gh.code_owners is not None:
            return [
                Problem(
                    "github.codeOwners",
                    gh.code_owners.model_dump(by_alias=True),
                    f"only the managing stack ({gh.managing_stack}) commits .github/CODEOWNERS; "
                    "allowed: none in this stack",
                )
            ]
        return []
    if config.environment != gh.managing_stack:
        return []  # a stray manageRepository: reported as such
    owners = gh.owners_of_code
    if owners.count == 0:
        if gh.code_owners is None and config.environment == "production":
            return []  # production's missing reviewers are reported as such
        return [
            Problem(
                "github.codeOwners",
                _MISSING,
                "the stack that manages the repository commits .github/CODEOWNERS and main requires "
                "a code owner's review; allowed: {users: [<login>], teams: [<team slug>]}, or "
                "github.productionReviewers in this stack",
            )
        ]
    problems: list[Problem] = []
    # The production reviewers, when they own the code, are checked as reviewers already.
    if gh.deployer is not None and gh.code_owners is not None:
        if gh.deployer.user.lower() in {u.lower() for u in owners.users}:
            problems.append(
                Problem(
                    "github.codeOwners.users",
                    owners.users,
                    f"the deploying identity {gh.deployer.user!r} must not approve changes as a code "
                    "owner; allowed: people other than the deployer",
                )
            )
        if gh.deployer.team in owners.teams:
            problems.append(
                Problem(
                    "github.codeOwners.teams",
                    owners.teams,
                    f"the deployer's team {gh.deployer.team!r} must not approve changes as a code "
                    "owner; allowed: teams other than the deployer's",
                )
            )
    return problems


def organisation_problems(config: StackConfig) -> list[Problem]:
    """Teams and runner groups belong to organisations: a user account has neither."""
    gh = config.github
    if gh.owner_type == "organization":
        return []
    why = f"github.owner {gh.owner!r} is a user account (github.ownerType: user), which has no "
    problems = [
        Problem(
            f"pipeline.runners.{env}",
            config.pipeline.runners[env].group,
            why + "self-hosted runner groups; allowed: none, or an organisation as owner",
        )
        for env in sorted(config.pipeline.runners)
    ]
    teams: list[tuple[str, Any]] = [
        ("github.deployer.team", gh.deployer.team if gh.deployer is not None else None),
        ("github.productionReviewers.teams", gh.production_reviewers.teams),
        ("github.codeOwners.teams", gh.code_owners.teams if gh.code_owners is not None else None),
    ]
    problems += [
        Problem(key, value, why + "teams; allowed: an organisation as owner") for key, value in teams if value
    ]
    return problems


def plan_problems(config: StackConfig) -> list[Problem]:
    """Features the delivery system cannot do without, against what the plan offers."""
    plan = config.github.plan
    where = f"a {plan.visibility} repository on GitHub {plan.tier.capitalize()}"
    problems: list[Problem] = []
    if not plan.environments:
        problems.append(
            Problem(
                "github.plan.tier",
                plan.tier,
                f"{where} has no deployment environments, which hold every stack's CI credentials; "
                "allowed: pro, team or enterprise, or visibility public",
            )
        )
    elif config.environment == "production" and not plan.environment_reviewers:
        problems.append(
            Problem(
                "github.plan.tier",
                plan.tier,
                f"production deploys only after a required reviewer approves, and {where} has no "
                "required reviewers on environments; allowed: enterprise, or visibility public",
            )
        )
    if config.github.manage_repository and not plan.rulesets:
        problems.append(
            Problem(
                "github.plan.tier",
                plan.tier,
                f"{where} has no rulesets, which protect main; allowed: pro, team or enterprise, "
                "or visibility public",
            )
        )
    if plan.code_security and not plan.public and plan.tier in ("free", "pro"):
        problems.append(
            Problem(
                "github.plan.codeSecurity",
                True,
                f"GitHub Code Security is sold for organisations on Team or Enterprise, not {where}; "
                "allowed: false, or tier team or enterprise",
            )
        )
    return problems
