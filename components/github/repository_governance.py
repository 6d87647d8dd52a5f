"""Repository-wide governance: `main`'s ruleset, the tags' ruleset, the CI secrets (environment
`ci-main`), Actions variables, the OIDC template.

Declared only by the stack with `github.manageRepository` (docs/governance.md).

Why a ruleset and not classic branch protection: the deploying identity must commit to
`main` directly (the workflow files through the contents API, the GitOps image-tag
commits), and with required status checks no such commit can ever carry its checks. Classic
protection lets only administrators skip status checks, and only by turning off
"enforce admins" for every admin at once; its per-actor exceptions cover the pull-request
requirement only. A ruleset names one bypass actor, the deployer's team, and holds
everybody else, administrators included, to every rule.

Tags get a ruleset of their own with the same bypass actor: nobody else creates, moves or
deletes a tag. Nothing in the delivery system tags today, and Argo CD resolves
`refs/heads/main` before a tag `main`, so this is hygiene: a tag cannot later become a way
around `main`'s reviews. Both rulesets are `protect`ed: `pulumi destroy` of the managing
stack must not lift them on the way (review finding L5).
"""

from __future__ import annotations

import pulumi
import pulumi_github as github
from pydantic import BaseModel, ConfigDict, Field

from components.config.base import MAIN_BRANCH
from components.contracts.gitops_layout import RELEASE_BRANCH_PREFIX
from components.github import ci_contract
from components.github.config import Deployer

# GitHub Actions' app id: a required check must be reported by Actions itself, so a token
# that can write commit statuses cannot fake a passing check under the same name.
GITHUB_ACTIONS_APP_ID = 15368
REQUIRED_APPROVALS = 2
# The subject claim of the Actions OIDC token: repository, then `context` (the environment
# when the job names one, else the ref), then the calling workflow's ref. A cloud trust
# policy can then trust one environment of one workflow file of this repository.
OIDC_CLAIM_KEYS: tuple[str, ...] = ("repository", "context", "job_workflow_ref")


class MetricsCredentials(BaseModel):
    """Where CI writes build metrics, and the key limited to that bucket (secret Outputs)."""

    model_config = ConfigDict(frozen=True, extra="forbid", arbitrary_types_allowed=True)

    bucket: pulumi.Output[str]
    endpoint: pulumi.Output[str]
    access_key_id: pulumi.Output[str]
    secret_access_key: pulumi.Output[str]
    # The DORA report's read-only key on the same bucket.
    report_access_key_id: pulumi.Output[str]
    report_secret_access_key: pulumi.Output[str]


class RepositoryGovernanceArgs(BaseModel):
    """What the repository-wide objects need."""

    model_config = ConfigDict(frozen=True, extra="forbid", arbitrary_types_allowed=True)

    repository: str
    deployer: Deployer
    # From the workflow definitions (one source of truth): the jobs that always report.
    required_status_checks: list[str] = Field(min_length=1)
    # The plan offers merge queues (`github.plan`); without one, branches must be up to date.
    merge_queue: bool = True
    # Code-scanning tools whose results every pull request needs, each blocking at high or
    # above (empty where the plan has no code scanning): from the workflows that upload them.
    code_scanning_tools: list[str] = Field(default_factory=list)
    metrics: MetricsCredentials
    slack_webhook_url: pulumi.Output[str]


# The merge queue replaces "branches must be up to date" (docs/governance.md, "Merge queue instead of
# up to date"): it tests each approved pull request on top of main and the entries ahead of
# it (`merge_group` runs of the required workflows), so the deployer's pushes to main no
# longer send every open pull request back to its author.
MERGE_QUEUE = github.RepositoryRulesetRulesMergeQueueArgs(
    merge_method="MERGE",
    # Every entry's own merge commit must pass, not only the head of its group.
    grouping_strategy="ALLGREEN",
    min_entries_to_merge=1,
    min_entries_to_merge_wait_minutes=5,
    max_entries_to_build=5,
    max_entries_to_merge=5,
    # The slowest required workflow's jobs time out after 30 minutes (the previews).
    check_response_timeout_minutes=60,
)


# Code-scanning merge protection (issue 19; seed 003: 0 critical/high SAST findings). GitHub
# blocks the merge of a pull request while a required tool has not analysed it, or when it
# found an alert at or above these thresholds ("Set code scanning merge protection",
# docs.github.com/en/code-security/code-scanning/managing-your-code-scanning-configuration/
# set-code-scanning-merge-protection). Security alerts (results whose rule carries a
# security-severity) block from high; other alerts from `error` level. The same docs note
# that the rule does not apply to merge-queue groups: the pull request is judged before it
# is queued, and security.yml's own gate (a required status check) fails on the same
# findings in the queue.
SECURITY_ALERTS_THRESHOLD = "high_or_higher"
ALERTS_THRESHOLD = "errors"


def code_scanning_rule(tools: list[str]) -> github.RepositoryRulesetRulesRequiredCodeScanningArgs | None:
    if not tools:
        return None
    return github.RepositoryRulesetRulesRequiredCodeScanningArgs(
        required_code_scanning_tools=[
            github.RepositoryRulesetRulesRequiredCodeScanningRequiredCodeScanningToolArgs(
                tool=tool,
                security_alerts_threshold=SECURITY_ALERTS_THRESHOLD,
                alerts_threshold=ALERTS_THRESHOLD,
            )
            for tool in sorted(set(tools))
        ]
    )


def main_ruleset_rules(
    required_status_checks: list[str],
    *,
    merge_queue: bool = True,
    code_scanning_tools: list[str] | None = None,
) -> github.RepositoryRulesetRulesArgs:
    """Every change reaches `main` through a reviewed pull request whose checks passed on top of
    what `main` will be: in the merge queue, or (on a plan without one) on a branch kept up to
    date with `main`; and, where the plan has code scanning, with no high or critical alert
    from the required SAST tools."""
    return github.RepositoryRulesetRulesArgs(
        required_code_scanning=code_scanning_rule(code_scanning_tools or []),
        deletion=True,
        non_fast_forward=True,
        # Requiring pull requests is what stops direct pushes for everyone but the bypass actor.
        pull_request=github.RepositoryRulesetRulesPullRequestArgs(
            required_approving_review_count=REQUIRED_APPROVALS,
            dismiss_stale_reviews_on_push=True,
            require_last_push_approval=True,
            required_review_thread_resolution=True,
            # `.github/CODEOWNERS` (code_owners.py): production's GitOps directory, the
            # workflows and this program need one of their owners among the approvals.
            require_code_owner_review=True,
        ),
        merge_queue=MERGE_QUEUE if merge_queue else None,
        required_status_checks=github.RepositoryRulesetRulesRequiredStatusChecksArgs(
            # The queue tests every change on the latest main: no need to make authors update.
            strict_required_status_checks_policy=not merge_queue,
            required_checks=[
                github.RepositoryRulesetRulesRequiredStatusChecksRequiredCheckArgs(
                    context=check, integration_id=GITHUB_ACTIONS_APP_ID
                )
                for check in sorted(set(required_status_checks))
            ],
        ),
    )


# Every tag, in the ref-name condition syntax of rulesets.
ALL_REFS = "~ALL"


def restricted_ref_rules() -> github.RepositoryRulesetRulesArgs:
    """Refs (every tag, the release branches) created, moved and deleted by the bypass actor
    only, and never rewritten."""
    return github.RepositoryRulesetRulesArgs(
        creation=True,
        update=True,
        deletion=True,
        non_fast_forward=True,
    )


class RepositoryGovernance(pulumi.ComponentResource):
    """`main`'s ruleset, the `ci-main` environment and its secrets, repository variables, and the
    OIDC template.

    Pass the workflow files and CODEOWNERS in `opts.depends_on`: the ruleset is declared after
    them, so the first `pulumi up` can still commit them before `main` is protected.
    """

    ruleset: github.RepositoryRuleset
    release_ruleset: github.RepositoryRuleset
    tag_ruleset: github.RepositoryRuleset

    def __init__(
        self,
        name: str,
        args: RepositoryGovernanceArgs,
        opts: pulumi.ResourceOptions | None = None,
    ):
        super().__init__("delivery:repository_governance:RepositoryGovernance", name, None, opts)
        repo = args.repository
        child = pulumi.ResourceOptions(parent=self)
        # A component's depends_on does not hold back its children: hand it on.
        after = opts.depends_on if opts is not None else None

        deployer_team = github.get_team_output(
            slug=args.deployer.team, summary_only=True, opts=pulumi.InvokeOptions(parent=self)
        )
        # Only the deployer (its own team) skips the rules; admins and org owners do not.
        bypass = [
            github.RepositoryRulesetBypassActorArgs(
                actor_id=deployer_team.id.apply(int),
                actor_type="Team",
                bypass_mode="always",
            )
        ]
        self.ruleset = github.RepositoryRuleset(
            f"{name}-main-ruleset",
            name=f"protect-{MAIN_BRANCH}",
            repository=repo,
            target="branch",
            enforcement="active",
            conditions=github.RepositoryRulesetConditionsArgs(
                ref_name=github.RepositoryRulesetConditionsRefNameArgs(
                    includes=[f"refs/heads/{MAIN_BRANCH}"], excludes=[]
                )
            ),
            bypass_actors=bypass,
            rules=main_ruleset_rules(
                args.required_status_checks,
                merge_queue=args.merge_queue,
                code_scanning_tools=args.code_scanning_tools,
            ),
            opts=pulumi.ResourceOptions(parent=self, depends_on=after, protect=True),
        )
        self.tag_ruleset = github.RepositoryRuleset(
            f"{name}-tag-ruleset",
            name="protect-tags",
            repository=repo,
            target="tag",
            enforcement="active",
            conditions=github.RepositoryRulesetConditionsArgs(
                ref_name=github.RepositoryRulesetConditionsRefNameArgs(includes=[ALL_REFS], excludes=[])
            ),
            bypass_actors=bypass,
            rules=restricted_ref_rules(),
            opts=pulumi.ResourceOptions(parent=self, protect=True),
        )

        # The release branches production's Applications track: only the deployer (promote.yml's
        # post-approval job) creates, moves or deletes them, and only forward; a pull request
        # into them cannot merge either (docs/promotion.md).
        self.release_ruleset = github.RepositoryRuleset(
            f"{name}-release-ruleset",
            name="protect-release-branches",
            repository=repo,
            target="branch",
            enforcement="active",
            conditions=github.RepositoryRulesetConditionsArgs(
                ref_name=github.RepositoryRulesetConditionsRefNameArgs(
                    includes=[f"refs/heads/{RELEASE_BRANCH_PREFIX}*"], excludes=[]
                )
            ),
            bypass_actors=bypass,
            rules=restricted_ref_rules(),
            opts=pulumi.ResourceOptions(parent=self, protect=True),
        )

        # Deployments from main only, no reviewers: the metrics upload and the failure alerts
        # on main run in ci-main, nothing a branch or pull request starts can. The weekly
        # report runs in its own main-only environment with the bucket's read-only key.
        main_only: dict[str, tuple[str, dict[str, pulumi.Output[str]]]] = {
            "ci-main": (
                ci_contract.CI_MAIN_ENVIRONMENT,
                {
                    ci_contract.METRICS_ACCESS_KEY_ID: args.metrics.access_key_id,
                    ci_contract.METRICS_SECRET_ACCESS_KEY: args.metrics.secret_access_key,
                    ci_contract.SLACK_WEBHOOK_URL: args.slack_webhook_url,
                },
            ),
            "report": (
                ci_contract.REPORT_ENVIRONMENT,
                {
                    ci_contract.METRICS_READ_ACCESS_KEY_ID: args.metrics.report_access_key_id,
                    ci_contract.METRICS_READ_SECRET_ACCESS_KEY: args.metrics.report_secret_access_key,
                    ci_contract.SLACK_WEBHOOK_URL: args.slack_webhook_url,
                },
            ),
        }
        for role, (environment_name, secrets) in main_only.items():
            environment = github.RepositoryEnvironment(
                f"{name}-{role}-environment",
                repository=repo,
                environment=environment_name,
                can_admins_bypass=False,
                deployment_branch_policy=github.RepositoryEnvironmentDeploymentBranchPolicyArgs(
                    protected_branches=False, custom_branch_policies=True
                ),
                opts=child,
            )
            github.RepositoryEnvironmentDeploymentPolicy(
                f"{name}-{role}-branch-{MAIN_BRANCH}",
                repository=repo,
                environment=environment.environment,
                branch_pattern=MAIN_BRANCH,
                opts=child,
            )
            for secret_name in sorted(secrets):
                sealed: pulumi.Output[str] = pulumi.Output.secret(secrets[secret_name])
                github.ActionsEnvironmentSecret(
                    # ci-main's keep their names from before the report's environment existed.
                    f"{name}-{secret_name}" if role == "ci-main" else f"{name}-{role}-{secret_name}",
                    repository=repo,
                    environment=environment.environment,
                    secret_name=secret_name,
                    value=sealed,
                    # Create-before-delete writes the new secret under the same name, then
                    # deletes it with the old one: pulumi/pulumi-github#223, #250.
                    opts=pulumi.ResourceOptions(parent=self, delete_before_replace=True),
                )
        variables: dict[str, pulumi.Output[str]] = {
            ci_contract.METRICS_BUCKET: args.metrics.bucket,
            ci_contract.METRICS_ENDPOINT: args.metrics.endpoint,
        }
        for variable_name in sorted(variables):
            github.ActionsVariable(
                f"{name}-{variable_name}",
                repository=repo,
                variable_name=variable_name,
                value=variables[variable_name],
                # Same name on both sides of a replacement: the old one must go first.
                opts=pulumi.ResourceOptions(parent=self, delete_before_replace=True),
            )

        github.ActionsRepositoryOidcSubjectClaimCustomizationTemplate(
            f"{name}-oidc-subject",
            repository=repo,
            use_default=False,
            include_claim_keys=list(OIDC_CLAIM_KEYS),
            opts=child,
        )
        self.register_outputs(
            {
                "ruleset": self.ruleset.name,
                "tagRuleset": self.tag_ruleset.name,
                "releaseRuleset": self.release_ruleset.name,
            }
        )
