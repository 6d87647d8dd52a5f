"""Each stack's deployment environments: protection rules, credentials, secrets, variables."""

from __future__ import annotations

from datetime import date
from urllib.parse import parse_qs, urlsplit

import pulumi
import pytest

from components.config.base import MAIN_BRANCH
from components.github import ci_contract
from components.github.deployment_environment import ENVIRONMENT_SECRETS, ENVIRONMENT_VARIABLES
from tests.support.stacks import TEST_SECRETS, parsed, with_changes
from tests.support.types import DEPLOYMENT_POLICY, ENVIRONMENT, ENVIRONMENT_SECRET, OBJECT_STORAGE_KEY, TOKEN
from tools.offline import MOCK_CALLS, STACKS, RecordedResource, Recorder, Run, Secret, run_program

ENV_VARIABLE = "github:index/actionsEnvironmentVariable:ActionsEnvironmentVariable"
GET_USER = "github:index/getUser:getUser"
GET_TEAM = "github:index/getTeam:getTeam"


def environments(run: Run) -> dict[str, RecordedResource]:
    """The stack's deployment environments (the managing stack's `ci-main` is governance's)."""
    declared = run.recorder.of_type(ENVIRONMENT)
    found = {r.plain["environment"]: r for r in declared}
    assert len(found) == len(declared), "an environment is declared twice"
    found.pop(ci_contract.CI_MAIN_ENVIRONMENT, None)
    # The DORA report's read-only key (test_governance.py, test_system_credentials.py).
    found.pop(ci_contract.REPORT_ENVIRONMENT, None)
    # The observer environments hold no CI credentials (test_promotion_integrity.py,
    # test_production_health.py).
    found.pop(ci_contract.observer_environment("staging"), None)
    # Production's acceptance of high image findings holds nothing (test_risk_acceptance below).
    found.pop(ci_contract.IMAGE_RISK_ENVIRONMENT, None)
    found.pop(ci_contract.observer_environment("production"), None)
    return found


def in_environment(run: Run, type_: str, name: str) -> list[RecordedResource]:
    return [r for r in run.recorder.of_type(type_) if r.plain["environment"] == name]


def protected(stack: str) -> str:
    return stack


def preview(stack: str) -> str:
    return ci_contract.preview_environment(stack)  # type: ignore[arg-type]


@pytest.mark.parametrize("stack", STACKS)
def test_each_stack_declares_exactly_its_own_two_environments(stack: str, runs: dict[str, Run]) -> None:
    assert set(environments(runs[stack])) == {stack, f"{stack}-preview"}


@pytest.mark.parametrize("stack", STACKS)
def test_protected_environment_admits_only_its_branches_and_no_admin_bypass(
    stack: str, runs: dict[str, Run]
) -> None:
    run = runs[stack]
    env = environments(run)[protected(stack)].plain
    assert env["canAdminsBypass"] is False
    assert env["preventSelfReview"] is True
    # Named branch policies need custom policies on and protected-branch mode off.
    assert env["deploymentBranchPolicy"] == {"customBranchPolicies": True, "protectedBranches": False}
    policies = in_environment(run, DEPLOYMENT_POLICY, protected(stack))
    assert all("tagPattern" not in p.plain for p in policies)
    patterns = sorted(p.plain["branchPattern"] for p in policies)
    if stack in ("staging", "production"):
        assert patterns == [MAIN_BRANCH]
    else:
        assert patterns == sorted(parsed(stack).github.deployment_branches)


def test_development_deploys_from_the_branches_its_config_names() -> None:
    values = with_changes("development", {"delivery:github.deploymentBranches": ["main", "release/*"]})
    run = run_program("development", TEST_SECRETS, values)
    policies = in_environment(run, DEPLOYMENT_POLICY, "development")
    assert sorted(p.plain["branchPattern"] for p in policies) == ["main", "release/*"]
    # Keyed by pattern: reordering the list renames nothing.
    assert {p.name for p in policies} == {
        "development-deployment-branch-main",
        "development-deployment-branch-release/*",
    }


def test_production_requires_reviewers_resolved_to_numeric_ids(runs: dict[str, Run]) -> None:
    run = runs["production"]
    config = parsed("production").github.production_reviewers
    assert config.count > 0
    env = environments(run)[protected("production")].plain
    expected_users = [int(MOCK_CALLS[GET_USER]({"username": u})["id"]) for u in config.users]
    expected_teams = [int(MOCK_CALLS[GET_TEAM]({"slug": t})["id"]) for t in config.teams]
    (reviewers,) = env["reviewers"]
    assert reviewers["users"] == expected_users
    assert reviewers["teams"] == expected_teams
    assert all(float(i).is_integer() for i in reviewers["users"] + reviewers["teams"])
    looked_up = {(token, args.get("username") or args.get("slug")) for token, args in run.recorder.calls}
    assert {(GET_USER, u) for u in config.users} <= looked_up
    # Only a team's summary: no member or repository listing is fetched.
    assert all(args.get("summaryOnly") is True for token, args in run.recorder.calls if token == GET_TEAM)


@pytest.mark.parametrize("stack", ["development", "staging"])
def test_development_and_staging_deploy_on_merge_without_approval(stack: str, runs: dict[str, Run]) -> None:
    env = environments(runs[stack])[protected(stack)].plain
    assert not env.get("reviewers")
    assert not env.get("waitTimer")


@pytest.mark.parametrize("stack", STACKS)
def test_preview_environment_deploys_from_main_only_and_production_previews_wait_for_its_reviewers(
    stack: str, runs: dict[str, Run]
) -> None:
    """It holds the passphrase, which unlocks every secret of the stack: only reviewed code on
    main may run in it, whatever `deploymentBranches` allows the stack's own environment."""
    run = runs[stack]
    envs = environments(run)
    env = envs[preview(stack)].plain
    assert env["deploymentBranchPolicy"] == {"customBranchPolicies": True, "protectedBranches": False}
    assert [p.plain["branchPattern"] for p in in_environment(run, DEPLOYMENT_POLICY, preview(stack))] == [
        MAIN_BRANCH
    ]
    assert env["canAdminsBypass"] is False and env["preventSelfReview"] is True
    assert env.get("reviewers") == envs[protected(stack)].plain.get("reviewers")
    assert bool(env.get("reviewers")) == (stack == "production")


@pytest.mark.parametrize("stack", STACKS)
def test_only_the_production_environment_is_protected_from_deletion(stack: str, runs: dict[str, Run]) -> None:
    flags = {name: res.protect for name, res in environments(runs[stack]).items()}
    assert flags == {protected(stack): stack == "production", preview(stack): False}


@pytest.mark.parametrize("stack", STACKS)
def test_both_environments_hold_every_secret_name_as_secret_replaced_delete_first(
    stack: str, runs: dict[str, Run]
) -> None:
    run = runs[stack]
    for name in (protected(stack), preview(stack)):
        secrets = in_environment(run, ENVIRONMENT_SECRET, name)
        assert sorted(s.plain["secretName"] for s in secrets) == sorted(ENVIRONMENT_SECRETS)
        for res in secrets:
            assert isinstance(res.inputs["value"], Secret), f"{res.name}: value not marked secret"
            assert res.inputs["value"].value, f"{res.name}: empty secret"
            assert res.delete_before_replace, f"{res.name}: create-before-delete would delete it"
            assert not {"plaintextValue", "encryptedValue"} & set(res.inputs)
        variables = in_environment(run, ENV_VARIABLE, name)
        assert sorted(v.plain["variableName"] for v in variables) == sorted(ENVIRONMENT_VARIABLES)
        assert all(v.delete_before_replace for v in variables)


@pytest.mark.parametrize("stack", STACKS)
def test_backend_url_points_at_this_stacks_own_state_bucket(stack: str, runs: dict[str, Run]) -> None:
    state = parsed(stack).pipeline.state_backend
    urls = {
        v.plain["environment"]: v.plain["value"]
        for v in runs[stack].recorder.of_type(ENV_VARIABLE)
        if v.plain["variableName"] == ci_contract.PULUMI_BACKEND_URL
    }
    assert set(urls) == {protected(stack), preview(stack)}
    for url in urls.values():
        parts = urlsplit(url)
        query = parse_qs(parts.query)
        assert (parts.scheme, parts.netloc, parts.path) == ("s3", state.bucket, "")
        assert query["endpoint"] == [f"https://{state.region}-1.linodeobjects.com"]
        assert query["region"] == [state.region]
    buckets = {url.split("?")[0] for stack_runs in runs.values() for url in _backend_urls(stack_runs)}
    assert len(buckets) == len(STACKS), "two stacks share a state bucket"


def _backend_urls(run: Run) -> list[str]:
    return [
        v.plain["value"]
        for v in run.recorder.of_type(ENV_VARIABLE)
        if v.plain["variableName"] == ci_contract.PULUMI_BACKEND_URL
    ]


def _scopes(token: RecordedResource) -> dict[str, str]:
    pairs = [scope.split(":") for scope in token.plain["scopes"].split()]
    return dict(pairs)  # type: ignore[arg-type]


@pytest.mark.parametrize("stack", STACKS)
def test_preview_credentials_cannot_change_infrastructure(stack: str, runs: dict[str, Run]) -> None:
    run = runs[stack]
    tokens = {("preview" if "-preview-" in t.name else "up"): t for t in run.recorder.of_type(TOKEN)}
    assert set(tokens) == {"up", "preview"}
    assert set(_scopes(tokens["preview"]).values()) == {"read_only"}
    assert "read_write" in _scopes(tokens["up"]).values()
    # Same areas, so a preview sees everything `up` manages.
    assert set(_scopes(tokens["preview"])) == set(_scopes(tokens["up"]))
    keys = {
        ("preview" if "-preview-" in k.name else "up"): k
        for k in run.recorder.of_type(OBJECT_STORAGE_KEY)
        if "state" in k.name
    }
    perms = {access: [a["permissions"] for a in k.plain["bucketAccesses"]] for access, k in keys.items()}
    # A DIY-backend preview takes no lock and writes no history: reading the state is enough.
    assert perms == {"up": ["read_write"], "preview": ["read_only"]}


@pytest.mark.parametrize("stack", STACKS)
def test_object_storage_write_scope_only_where_up_manages_the_metrics_bucket(
    stack: str, runs: dict[str, Run]
) -> None:
    run = runs[stack]
    up = next(t for t in run.recorder.of_type(TOKEN) if "-up-" in t.name)
    owns_bucket = bool(run.recorder.of_type("linode:index/objectStorageBucket:ObjectStorageBucket"))
    assert _scopes(up)["object_storage"] == ("read_write" if owns_bucket else "read_only")


class ReplacementRecorder(Recorder):
    """Also records `replace_on_changes`, which the shared recorder does not keep."""

    def __init__(self) -> None:
        super().__init__()
        self.replace_on_changes: dict[str, list[str]] = {}

    def transformation(self, args: pulumi.ResourceTransformationArgs) -> None:
        super().transformation(args)
        self.replace_on_changes[args.name] = list(args.opts.replace_on_changes or [])


@pytest.fixture(scope="module")
def rotation_runs() -> dict[str, ReplacementRecorder]:
    """Staging as committed and with a new issue date (a rotation)."""
    recorders = {"committed": ReplacementRecorder(), "rotated": ReplacementRecorder()}
    run_program("staging", TEST_SECRETS, recorder=recorders["committed"])
    values = with_changes("staging", {"delivery:pipeline.credentials.issuedOn": "2027-01-15"})
    run_program("staging", TEST_SECRETS, values, recorder=recorders["rotated"])
    return recorders


def test_minted_credentials_are_replaced_not_updated(rotation_runs: dict[str, ReplacementRecorder]) -> None:
    """The API cannot change a token's scopes or expiry, nor a key's bucket access, in place."""
    recorder = rotation_runs["committed"]
    for token in recorder.of_type(TOKEN):
        assert {"scopes", "expiry"} <= set(recorder.replace_on_changes[token.name])
        assert "token" in token.additional_secret_outputs
    for key in recorder.of_type(OBJECT_STORAGE_KEY):
        assert {"label", "bucketAccesses"} <= set(recorder.replace_on_changes[key.name])
        assert "secretKey" in key.additional_secret_outputs


@pytest.mark.parametrize("stack", STACKS)
def test_tokens_expire_within_a_year_of_their_issue_date(stack: str, runs: dict[str, Run]) -> None:
    credentials = parsed(stack).pipeline.credentials
    tokens = runs[stack].recorder.of_type(TOKEN)
    assert len(tokens) == 2
    for token in tokens:
        expires = date.fromisoformat(token.plain["expiry"].removesuffix("T00:00:00Z"))
        assert 1 <= (expires - date.fromisoformat(credentials.issued_on)).days <= 365


def test_a_new_issue_date_mints_every_credential_anew(rotation_runs: dict[str, ReplacementRecorder]) -> None:
    before, after = rotation_runs["committed"], rotation_runs["rotated"]
    for type_, field in ((TOKEN, "expiry"), (OBJECT_STORAGE_KEY, "label")):
        old = {r.name: r.plain[field] for r in before.of_type(type_)}
        new = {r.name: r.plain[field] for r in after.of_type(type_)}
        assert set(old) == set(new) and len(old) == 2
        # Every field that forces a replacement changed: each credential is minted again.
        assert all(old[name] != new[name] for name in old), (old, new)
    assert all(t.plain["expiry"].startswith("2027-07-14") for t in after.of_type(TOKEN))


def test_risk_acceptance_is_production_s_reviewers_main_only_and_holds_nothing(runs: dict[str, Run]) -> None:
    """delivery.yml's accept-high-findings waits here: production's reviewers, main only, no secret."""
    for stack, run in runs.items():
        declared = [
            r
            for r in run.recorder.of_type(ENVIRONMENT)
            if r.plain["environment"] == ci_contract.IMAGE_RISK_ENVIRONMENT
        ]
        if stack != "production":
            assert declared == [], stack
            continue
        [env] = declared
        assert env.plain["canAdminsBypass"] is False and env.plain["preventSelfReview"] is True
        assert env.plain["reviewers"], "the production reviewers must approve"
        assert env.plain["deploymentBranchPolicy"] == {
            "customBranchPolicies": True,
            "protectedBranches": False,
        }
        policies = in_environment(run, DEPLOYMENT_POLICY, ci_contract.IMAGE_RISK_ENVIRONMENT)
        assert sorted(p.plain["branchPattern"] for p in policies) == [MAIN_BRANCH]
        assert in_environment(run, ENVIRONMENT_SECRET, ci_contract.IMAGE_RISK_ENVIRONMENT) == []
