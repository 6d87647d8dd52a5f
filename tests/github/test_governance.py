"""Repository-wide governance in the managing stack: main's ruleset, secrets, variables, OIDC.

And where every secret value comes from: a run whose mock credentials are distinct per
resource shows which minted token or key lands in which Actions secret.
"""

from __future__ import annotations

from typing import Any

import pytest

from components.github import ci_contract
from components.github.workflows import required_status_checks
from tests.support.stacks import TEST_SECRETS, parsed
from tests.support.types import (
    ACTIONS_SECRET,
    BUCKET,
    DEPLOYMENT_POLICY,
    ENVIRONMENT,
    ENVIRONMENT_SECRET,
    OBJECT_STORAGE_KEY,
    RULESET,
    TOKEN,
)
from tools.offline import MOCK_CALLS, MOCK_OUTPUTS, RecordedResource, Recorder, Run, Secret, run_program

BRANCH_PROTECTION = "github:index/branchProtection:BranchProtection"
REPO_VARIABLE = "github:index/actionsVariable:ActionsVariable"
OIDC = "github:index/actionsRepositoryOidcSubjectClaimCustomizationTemplate:ActionsRepositoryOidcSubjectClaimCustomizationTemplate"
WORKFLOW_FILES = "delivery:workflow_files:WorkflowFiles"
GITHUB_ACTIONS_APP_ID = 15368


@pytest.fixture
def owner(runs: dict[str, Run]) -> Run:
    (stack,) = [s for s, run in runs.items() if run.recorder.of_type(RULESET)]
    assert parsed(stack).github.manage_repository
    return runs[stack]


def ruleset_named(run: Run, name: str) -> RecordedResource:
    (ruleset,) = [r for r in run.recorder.of_type(RULESET) if r.plain["name"] == name]
    return ruleset


def main_ruleset(run: Run) -> dict[str, Any]:
    return ruleset_named(run, "protect-main").plain


def test_main_needs_two_fresh_approvals_and_resolved_conversations(owner: Run) -> None:
    ruleset = main_ruleset(owner)
    assert ruleset["target"] == "branch"
    assert ruleset["enforcement"] == "active"
    assert ruleset["conditions"]["refName"]["includes"] == ["refs/heads/main"]
    review = ruleset["rules"]["pullRequest"]
    assert review["requiredApprovingReviewCount"] == 2
    assert review["dismissStaleReviewsOnPush"] is True
    assert review["requireLastPushApproval"] is True
    assert review["requiredReviewThreadResolution"] is True


def test_main_refuses_force_pushes_and_deletion(owner: Run) -> None:
    rules = main_ruleset(owner)["rules"]
    assert rules["nonFastForward"] is True
    assert rules["deletion"] is True


def test_required_checks_are_the_workflows_gate_jobs_reported_by_actions(owner: Run) -> None:
    checks = main_ruleset(owner)["rules"]["requiredStatusChecks"]
    # The merge queue tests every change on the latest main (tests/github/test_merge_queue.py).
    assert checks["strictRequiredStatusChecksPolicy"] is False
    names = [c["context"] for c in checks["requiredChecks"]]
    assert names == sorted(required_status_checks()), "the ruleset must require exactly the gate jobs"
    assert all(c["integrationId"] == GITHUB_ACTIONS_APP_ID for c in checks["requiredChecks"])


def test_only_the_deployer_team_may_push_to_main_directly(owner: Run) -> None:
    deployer = parsed(owner.stack).github.deployer
    assert deployer is not None
    team_id = int(MOCK_CALLS["github:index/getTeam:getTeam"]({"slug": deployer.team})["id"])
    assert main_ruleset(owner)["bypassActors"] == [
        {"actorId": team_id, "actorType": "Team", "bypassMode": "always"}
    ]
    # Pull requests are required, so nobody else (administrators included) pushes directly.
    assert "pullRequest" in main_ruleset(owner)["rules"]
    assert owner.recorder.of_type(BRANCH_PROTECTION) == [], "one mechanism protects main, not two"


def test_ruleset_comes_after_the_workflow_files_it_would_block(owner: Run) -> None:
    (files,) = owner.recorder.of_type(WORKFLOW_FILES)
    assert files.name in ruleset_named(owner, "protect-main").depends_on


def test_tags_are_created_moved_and_deleted_by_the_deployer_alone(owner: Run) -> None:
    tags = ruleset_named(owner, "protect-tags").plain
    assert tags["target"] == "tag" and tags["enforcement"] == "active"
    assert tags["conditions"]["refName"] == {"includes": ["~ALL"], "excludes": []}
    assert tags["rules"] == {"creation": True, "update": True, "deletion": True, "nonFastForward": True}
    assert tags["bypassActors"] == main_ruleset(owner)["bypassActors"], "one bypass actor for both"


def test_the_rulesets_survive_a_destroy_of_the_managing_stack(owner: Run) -> None:
    """`pulumi destroy` would otherwise lift main's protection first (review finding L5)."""
    rulesets = owner.recorder.of_type(RULESET)
    assert len(rulesets) == 3 and all(r.protect for r in rulesets)


def test_oidc_subject_names_repository_environment_and_workflow(owner: Run) -> None:
    (template,) = owner.recorder.of_type(OIDC)
    assert template.plain["useDefault"] is False
    assert template.plain["includeClaimKeys"] == ["repository", "context", "job_workflow_ref"]


def test_repository_secrets_and_variables_ci_needs(owner: Run) -> None:
    # A workflow any branch adds would receive repository secrets: CI's live in ci-main.
    assert owner.recorder.of_type(ACTIONS_SECRET) == []
    secrets = [
        s
        for s in owner.recorder.of_type(ENVIRONMENT_SECRET)
        if s.plain["environment"] == ci_contract.CI_MAIN_ENVIRONMENT
    ]
    (ci_main,) = [
        e
        for e in owner.recorder.of_type(ENVIRONMENT)
        if e.plain["environment"] == ci_contract.CI_MAIN_ENVIRONMENT
    ]
    assert ci_main.plain["deploymentBranchPolicy"] == {
        "customBranchPolicies": True,
        "protectedBranches": False,
    }
    policies = [
        p
        for p in owner.recorder.of_type(DEPLOYMENT_POLICY)
        if p.plain["environment"] == ci_contract.CI_MAIN_ENVIRONMENT
    ]
    assert [p.plain["branchPattern"] for p in policies] == ["main"]
    assert sorted(s.plain["secretName"] for s in secrets) == sorted(
        [
            ci_contract.METRICS_ACCESS_KEY_ID,
            ci_contract.METRICS_SECRET_ACCESS_KEY,
            ci_contract.SLACK_WEBHOOK_URL,
        ]
    )
    for res in secrets:
        assert isinstance(res.inputs["value"], Secret), f"{res.name}: value not marked secret"
        assert res.delete_before_replace, f"{res.name}: create-before-delete would delete it"
    variables = {v.plain["variableName"]: v for v in owner.recorder.of_type(REPO_VARIABLE)}
    assert set(variables) == {ci_contract.METRICS_BUCKET, ci_contract.METRICS_ENDPOINT}
    (bucket,) = owner.recorder.of_type(BUCKET)
    assert variables[ci_contract.METRICS_BUCKET].plain["value"] == bucket.plain["label"]
    # The endpoint is the bucket's computed s3Endpoint, known only after apply.
    assert (
        variables[ci_contract.METRICS_ENDPOINT].plain["value"]
        == f"https://{MOCK_OUTPUTS[BUCKET]['s3Endpoint']}"
    )
    assert all(v.delete_before_replace for v in variables.values())


# --------------------------------------------------------------------------- wiring


class DistinctRecorder(Recorder):
    """Mock credentials that name the resource minting them, to trace them into secrets."""

    def new_resource(self, args: Any) -> tuple[str | None, dict[str, Any]]:
        resource_id, outputs = super().new_resource(args)
        if args.typ == TOKEN:
            outputs["token"] = f"token-of:{args.name}"
        elif args.typ == OBJECT_STORAGE_KEY:
            outputs["accessKey"] = f"access-key-of:{args.name}"
            outputs["secretKey"] = f"secret-key-of:{args.name}"
        return resource_id, outputs


@pytest.fixture(scope="module")
def traced() -> Recorder:
    recorder = DistinctRecorder()
    run_program("production", TEST_SECRETS, recorder=recorder)
    return recorder


def secret_values(recorder: Recorder, type_: str, environment: str | None = None) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for res in recorder.of_type(type_):
        if environment is None or res.plain["environment"] == environment:
            assert isinstance(res.inputs["value"], Secret)
            found[res.plain["secretName"]] = res.plain["value"]
    return found


def minted_by(recorder: Recorder, type_: str, read_only: bool) -> RecordedResource:
    def is_read_only(res: RecordedResource) -> bool:
        if type_ == TOKEN:
            return "read_write" not in res.plain["scopes"]
        return all(a["permissions"] == "read_only" for a in res.plain["bucketAccesses"])

    state = [r for r in recorder.of_type(type_) if type_ == TOKEN or "state" in r.name]
    (res,) = [r for r in state if is_read_only(r) == read_only]
    return res


@pytest.mark.parametrize("environment", ["production", "production-preview"])
def test_each_environment_gets_the_credentials_of_its_access_level(
    traced: Recorder, environment: str
) -> None:
    preview = environment.endswith("-preview")
    values = secret_values(traced, ENVIRONMENT_SECRET, environment)
    token = minted_by(traced, TOKEN, read_only=preview)
    key = minted_by(traced, OBJECT_STORAGE_KEY, read_only=preview)
    assert values[ci_contract.LINODE_TOKEN] == f"token-of:{token.name}"
    assert values[ci_contract.STATE_ACCESS_KEY_ID] == f"access-key-of:{key.name}"
    assert values[ci_contract.STATE_SECRET_ACCESS_KEY] == f"secret-key-of:{key.name}"
    github_token = TEST_SECRETS["ciGithubReadToken" if preview else "ciGithubToken"]
    assert values[ci_contract.DEPLOYER_GITHUB_TOKEN] == github_token
    assert values[ci_contract.PULUMI_CONFIG_PASSPHRASE] == TEST_SECRETS["ciPulumiPassphrase"]


def _metrics_key(traced: Recorder, permissions: str) -> Any:
    (bucket,) = traced.of_type(BUCKET)
    (key,) = [
        k
        for k in traced.of_type(OBJECT_STORAGE_KEY)
        if [(a["bucketName"], a["permissions"]) for a in k.plain["bucketAccesses"]]
        == [(bucket.plain["label"], permissions)]
    ]
    return key


def test_ci_main_secrets_carry_the_metrics_key_and_the_slack_webhook(traced: Recorder) -> None:
    values = secret_values(traced, ENVIRONMENT_SECRET, ci_contract.CI_MAIN_ENVIRONMENT)
    metrics_key = _metrics_key(traced, "read_write")
    assert set(values) == {
        ci_contract.METRICS_ACCESS_KEY_ID, ci_contract.METRICS_SECRET_ACCESS_KEY, ci_contract.SLACK_WEBHOOK_URL,
    }  # fmt: skip
    assert values[ci_contract.METRICS_ACCESS_KEY_ID] == f"access-key-of:{metrics_key.name}"
    assert values[ci_contract.METRICS_SECRET_ACCESS_KEY] == f"secret-key-of:{metrics_key.name}"
    assert values[ci_contract.SLACK_WEBHOOK_URL] == TEST_SECRETS["slackWebhookUrl"]


def test_the_report_environment_carries_the_read_only_key_and_the_slack_webhook(traced: Recorder) -> None:
    values = secret_values(traced, ENVIRONMENT_SECRET, ci_contract.REPORT_ENVIRONMENT)
    report_key = _metrics_key(traced, "read_only")
    assert set(values) == {
        ci_contract.METRICS_READ_ACCESS_KEY_ID, ci_contract.METRICS_READ_SECRET_ACCESS_KEY,
        ci_contract.SLACK_WEBHOOK_URL,
    }  # fmt: skip
    assert values[ci_contract.METRICS_READ_ACCESS_KEY_ID] == f"access-key-of:{report_key.name}"
    assert values[ci_contract.METRICS_READ_SECRET_ACCESS_KEY] == f"secret-key-of:{report_key.name}"
    assert values[ci_contract.SLACK_WEBHOOK_URL] == TEST_SECRETS["slackWebhookUrl"]
    # Main only, like ci-main: nothing a branch starts gets the key.
    (environment,) = [
        e for e in traced.of_type(ENVIRONMENT) if e.plain["environment"] == ci_contract.REPORT_ENVIRONMENT
    ]
    assert environment.plain["deploymentBranchPolicy"] == {
        "customBranchPolicies": True,
        "protectedBranches": False,
    }
    assert environment.plain.get("canAdminsBypass") is False
    assert [
        p.plain["branchPattern"]
        for p in traced.of_type(DEPLOYMENT_POLICY)
        if p.plain["environment"] == ci_contract.REPORT_ENVIRONMENT
    ] == ["main"]
