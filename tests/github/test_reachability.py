"""Which runner reaches which cluster: infrastructure jobs run where the control-plane ACL admits them.

The managing stack renders `infrastructure.yml` from its own file's `pipeline.runners`; each
stack validates its own entry against its own `cluster.controlPlaneAcl`. These tests join
the two across the committed stacks, from what they declare: the recorded LKE cluster's ACL
and the committed workflow's `runs-on` (docs/security.md, "Reachability").
"""

from __future__ import annotations

import ipaddress
from typing import Any

import pytest

from components.config.stack import VALIDATED
from components.github import ci_contract
from components.github.workflows.model import RUNNER
from components.github.workflows.settings import REFERENCE
from tests.support.stacks import TEST_SECRETS, assert_refused, parsed, with_changes
from tests.support.types import DEPLOYMENT_POLICY, ENVIRONMENT, LKE_CLUSTER
from tests.support.workflows import committed_workflows, managing_stack, workflows_of
from tools.offline import MOCK_CALLS, STACKS, Run, run_program

INFRASTRUCTURE = ".github/workflows/infrastructure.yml"
STAGING_VALIDATION = ".github/workflows/staging-validation.yml"
PROMOTE = ".github/workflows/promote.yml"
# staging-validation.yml's jobs that read staging's Kubernetes API through the observer.
OBSERVER_JOBS = ("target", "gate")
# A self-hosted group for staging inside an ACL, as staging's file and the managing stack's
# would both list it.
STAGING_ACL = ["203.0.113.0/24"]
STAGING_GROUP = {
    "group": "staging-infrastructure",
    "labels": ["self-hosted", "linux", "x64", "staging-infrastructure"],
    "egressCidrs": ["203.0.113.64/28"],
    "validationObserver": True,
}


def acl(run: Run) -> list[str]:
    (cluster,) = run.recorder.of_type(LKE_CLUSTER)
    control = cluster.plain.get("controlPlane") or {}
    access = control.get("acl") or {}
    if not access.get("enabled"):
        return []
    return [cidr for address in access.get("addresses") or [] for cidr in address.get("ipv4s") or []]


@pytest.mark.parametrize("stack", STACKS)
def test_each_stacks_infrastructure_jobs_run_on_the_runner_its_own_file_declares(
    stack: str, runs: dict[str, Run]
) -> None:
    jobs = committed_workflows(runs)[INFRASTRUCTURE]["jobs"]
    runner = parsed(stack).pipeline.runners.get(stack)
    expected: Any = RUNNER if runner is None else {"group": runner.group, "labels": runner.labels}
    for job_id in (f"state-preview-{stack}", f"up-{stack}"):
        assert jobs[job_id]["runs-on"] == expected, (
            f"{job_id}: the managing stack's pipeline.runners.{stack} differs from {stack}'s own file"
        )


@pytest.mark.parametrize("stack", STACKS)
def test_the_declared_control_plane_acl_admits_the_runner_of_the_stacks_jobs(
    stack: str, runs: dict[str, Run]
) -> None:
    allowed = [ipaddress.IPv4Network(c, strict=False) for c in acl(runs[stack])]
    jobs = committed_workflows(runs)[INFRASTRUCTURE]["jobs"]
    runs_on = jobs[f"up-{stack}"]["runs-on"]
    if not allowed:
        return  # no ACL: any runner reaches the API (authenticated)
    assert isinstance(runs_on, dict), f"{stack} has an ACL but its jobs run on GitHub-hosted {runs_on!r}"
    runner = parsed(stack).pipeline.runners[stack]
    assert runner.group == runs_on["group"]
    for cidr in runner.egress_cidrs:
        network = ipaddress.IPv4Network(cidr, strict=False)
        assert any(network.subnet_of(a) for a in allowed), f"{stack}: egress {cidr} outside the ACL"


def test_production_declares_an_acl_and_a_self_hosted_group_inside_it(runs: dict[str, Run]) -> None:
    """The committed production stack exercises the check above (it would pass vacuously otherwise)."""
    assert acl(runs["production"]), "production's cluster declares no control-plane ACL"
    assert isinstance(committed_workflows(runs)[INFRASTRUCTURE]["jobs"]["up-production"]["runs-on"], dict)


def main_only_environments(runs: dict[str, Run]) -> set[str]:
    """GitHub environments the stacks declare that deploy from `main` alone: GitHub refuses a
    job naming one on any other ref before it reaches a runner."""
    names: set[str] = set()
    for run in runs.values():
        policies: dict[str, set[str]] = {}
        for policy in run.recorder.of_type(DEPLOYMENT_POLICY):
            policies.setdefault(policy.plain["environment"], set()).add(policy.plain["branchPattern"])
        for env in run.recorder.of_type(ENVIRONMENT):
            branch_policy = env.plain.get("deploymentBranchPolicy") or {}
            name = env.plain["environment"]
            if branch_policy.get("customBranchPolicies") and policies.get(name) == {"main"}:
                names.add(name)
    return names


def assert_self_hosted_jobs_run_on_main_only(runs: dict[str, Run], workflows: dict[str, Any]) -> int:
    main_only = main_only_environments(runs)
    self_hosted = 0
    for path, doc in workflows.items():
        on = doc.get("on", doc.get(True))  # YAML 1.1 reads the key `on` as True
        for job_id, job in doc["jobs"].items():
            if not isinstance(job.get("runs-on"), dict):
                continue
            self_hosted += 1
            assert "pull_request" not in on or job.get("environment"), (
                f"{path}:{job_id} runs on a self-hosted group without a main-only environment"
            )
            on_main = bool(job.get("if")) and "refs/heads/main" in job["if"]
            assert on_main or job.get("environment") in main_only, f"{path}:{job_id} must run on main only"
    return self_hosted


def test_jobs_a_pull_request_starts_never_run_on_a_self_hosted_group(runs: dict[str, Run]) -> None:
    """A self-hosted runner inside the ACL is reserved for main: a pull request's job there
    could leave something behind for the next `up`. A job runs on main only by its `if`, or
    by naming an environment that deploys from main alone."""
    self_hosted = assert_self_hosted_jobs_run_on_main_only(runs, committed_workflows(runs))
    assert self_hosted, "no job runs on a self-hosted group: the check proved nothing"


# --------------------------------------------------------------------------- runner groups

RUNNER_GROUP = "github:index/actionsRunnerGroup:ActionsRunnerGroup"


def test_every_self_hosted_group_admits_only_the_infrastructure_workflow_on_main(
    runs: dict[str, Run],
) -> None:
    """A branch's workflow asking for the group's labels gets no runner inside the ACL (review H5)."""
    owner = managing_stack(runs)
    github = parsed(owner.stack).github
    groups = {r.plain["name"]: r for r in owner.recorder.of_type(RUNNER_GROUP)}
    used = {
        job["runs-on"]["group"]
        for job in committed_workflows(runs)[INFRASTRUCTURE]["jobs"].values()
        if isinstance(job.get("runs-on"), dict)
    }
    assert used and set(groups) == used, "one declared group per group the workflows run on"
    (repository_id,) = {
        int(answer["repoId"])
        for token, asked in owner.recorder.calls
        if token == "github:index/getRepository:getRepository" and asked["name"] == github.repository
        for answer in [MOCK_CALLS[token](asked)]
    }
    for group in groups.values():
        assert group.plain["visibility"] == "selected"
        assert group.plain["selectedRepositoryIds"] == [repository_id]
        assert group.plain["allowsPublicRepositories"] is False
        assert group.plain["restrictedToWorkflows"] is True
        runner = parsed(owner.stack).pipeline.runners
        [env] = [e for e, r in runner.items() if r.group == group.plain["name"]]
        expected = [INFRASTRUCTURE]
        if runner[env].validation_observer:
            expected.append(STAGING_VALIDATION)
        if runner[env].health_observer:
            expected.append(PROMOTE)
        assert group.plain["selectedWorkflows"] == [
            f"{github.owner}/{github.repository}/{path}@refs/heads/main" for path in expected
        ]
        assert group.protect, "deleting a group moves its runners to the organisation's default group"


def test_production_health_runs_where_productions_acl_admits_it(runs: dict[str, Run]) -> None:
    """promote.yml's production-health job reads production's Applications: on production's
    group, which admits promote.yml on main, in the main-only production-observer environment."""
    job = committed_workflows(runs)[PROMOTE]["jobs"]["production-health"]
    runner = parsed("production").pipeline.runners["production"]
    assert runner.health_observer, "production's committed file has a control-plane ACL"
    assert job["runs-on"] == {"group": runner.group, "labels": runner.labels}
    assert job["environment"] == ci_contract.observer_environment("production")


@pytest.mark.parametrize("stack", [s for s in STACKS if s != "production"])
def test_only_the_managing_stack_declares_runner_groups(stack: str, runs: dict[str, Run]) -> None:
    assert runs[stack].recorder.of_type(RUNNER_GROUP) == []


# --------------------------------------------------------------------------- staging's ACL


def test_staging_validation_observes_the_environment_config_validation_guards() -> None:
    assert REFERENCE.auto_deploy[-1] == VALIDATED


def test_the_observer_jobs_run_where_stagings_own_file_puts_them(runs: dict[str, Run]) -> None:
    jobs = committed_workflows(runs)[STAGING_VALIDATION]["jobs"]
    runner = parsed(VALIDATED).pipeline.runners.get(VALIDATED)
    expected: Any = (
        {"group": runner.group, "labels": runner.labels}
        if runner is not None and runner.validation_observer
        else RUNNER
    )
    for job_id in OBSERVER_JOBS:
        assert jobs[job_id]["runs-on"] == expected, (
            f"{job_id}: the managing stack's pipeline.runners.{VALIDATED} differs from {VALIDATED}'s own file"
        )
    assert (
        jobs["target"]["environment"]
        == jobs["gate"]["environment"]
        == ci_contract.observer_environment(VALIDATED)
    )


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        (
            {"delivery:github.ownerType": "user"},
            [
                "delivery:pipeline.runners.production = \"production-infrastructure\": github.owner 'ai-aas' "
                "is a user account (github.ownerType: user), which has no self-hosted runner groups; "
                "allowed: none, or an organisation as owner",
                "delivery:github.deployer.team = \"platform-deployers\": github.owner 'ai-aas' is a user "
                "account (github.ownerType: user), which has no teams; allowed: an organisation as owner",
                'delivery:github.productionReviewers.teams = ["platform-sre"]: github.owner',
            ],
        ),
        (
            {
                "delivery:pipeline.runners.staging": {
                    "group": "production-infrastructure",
                    "egressCidrs": ["203.0.113.32/28"],
                }
            },
            [
                'delivery:pipeline.runners.staging.group = "production-infrastructure": already the group '
                "of production, whose runners would then run both stacks' infrastructure jobs; allowed: a "
                "group name no other stack uses",
            ],
        ),
        (
            {"delivery:github.ownerType": "enterprise"},
            ["delivery:github.ownerType = \"enterprise\": Input should be 'organization' or 'user'"],
        ),
    ],
    ids=["user-account", "shared-group", "unknown-type"],
)
def test_runner_groups_need_an_organisation_and_one_group_per_stack(
    changes: dict[str, Any], expected: list[str]
) -> None:
    assert_refused("production", changes, expected)


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        (
            {"delivery:cluster.controlPlaneAcl": STAGING_ACL},
            [
                'delivery:cluster.controlPlaneAcl = ["203.0.113.0/24"]: the staging infrastructure jobs and '
                "staging validation's observer jobs (which read its Argo CD Applications) run on GitHub-hosted",
            ],
        ),
        (
            {
                "delivery:cluster.controlPlaneAcl": STAGING_ACL,
                "delivery:pipeline.runners": {"staging": {**STAGING_GROUP, "validationObserver": False}},
            },
            [
                "delivery:pipeline.runners.staging.validationObserver = false: staging validation's observer "
                "jobs (target and gate of staging-validation.yml) read staging's Argo CD Applications",
                "have no fixed addresses",
                "allowed: true (this group runs them too, and must admit staging-validation.yml on main), "
                "or an empty controlPlaneAcl",
            ],
        ),
        (
            {
                "delivery:cluster.controlPlaneAcl": STAGING_ACL,
                "delivery:pipeline.runners": {"staging": {**STAGING_GROUP, "egressCidrs": ["192.0.2.0/28"]}},
            },
            ['delivery:pipeline.runners.staging.egressCidrs = ["192.0.2.0/28"]: outside'],
        ),
    ],
)
def test_a_staging_acl_needs_a_self_hosted_group_for_its_observer_too(
    changes: dict[str, Any], expected: list[str]
) -> None:
    assert_refused("staging", changes, expected)


def test_only_staging_has_observer_jobs_to_place() -> None:
    assert_refused(
        "production",
        {"delivery:pipeline.runners.production.validationObserver": True},
        [
            "delivery:pipeline.runners.production.validationObserver = true: staging validation observes "
            "staging only",
        ],
    )


def test_a_staging_acl_with_its_group_puts_the_observer_jobs_inside_it(runs: dict[str, Run]) -> None:
    """Staging's file with an ACL and its group, and the managing stack's file listing the same
    group: staging's cluster admits the group, and the jobs that read staging's API run on it."""
    staging = run_program(
        "staging",
        TEST_SECRETS,
        with_changes(
            "staging",
            {
                "delivery:cluster.controlPlaneAcl": STAGING_ACL,
                "delivery:pipeline.runners": {"staging": STAGING_GROUP},
            },
        ),
    )
    assert acl(staging) == STAGING_ACL
    owner = managing_stack(runs).stack
    managing = run_program(
        owner,
        TEST_SECRETS,
        with_changes(owner, {f"delivery:pipeline.runners.{VALIDATED}": STAGING_GROUP}),
    )
    workflows = workflows_of(managing)
    group = {"group": STAGING_GROUP["group"], "labels": STAGING_GROUP["labels"]}
    jobs = workflows[STAGING_VALIDATION]["jobs"]
    for job_id in OBSERVER_JOBS:
        assert jobs[job_id]["runs-on"] == group, job_id
    # The suites test staging's public URL, not its API: they stay on GitHub-hosted runners.
    others = {job_id for job_id, job in jobs.items() if job["runs-on"] == group}
    assert others == set(OBSERVER_JOBS)
    for job_id in ("state-preview-staging", "up-staging"):
        assert workflows[INFRASTRUCTURE]["jobs"][job_id]["runs-on"] == group
    allowed = [ipaddress.IPv4Network(c, strict=False) for c in acl(staging)]
    for cidr in STAGING_GROUP["egressCidrs"]:
        assert any(ipaddress.IPv4Network(cidr).subnet_of(a) for a in allowed)
    # The group admits staging validation on main beside the infrastructure workflow, and no more.
    (group_resource,) = [
        r for r in managing.recorder.of_type(RUNNER_GROUP) if r.plain["name"] == STAGING_GROUP["group"]
    ]
    github = parsed(owner).github
    assert sorted(group_resource.plain["selectedWorkflows"]) == [
        f"{github.owner}/{github.repository}/{path}@refs/heads/main"
        for path in (INFRASTRUCTURE, STAGING_VALIDATION)
    ]
    # The observer jobs on the group run on main only: `target` by its `if`, the gate (which
    # must run always) by its main-only environment.
    assert assert_self_hosted_jobs_run_on_main_only({**runs, "staging": staging}, workflows) >= 4


def test_production_refuses_a_health_job_its_acl_would_lock_out() -> None:
    assert_refused(
        "production",
        {"delivery:pipeline.runners.production.healthObserver": False},
        [
            "delivery:pipeline.runners.production.healthObserver = false: promote.yml's production-health "
            "job reads production's Argo CD Applications",
        ],
    )


def test_only_production_runs_the_health_job() -> None:
    assert_refused(
        "production",
        {
            "delivery:pipeline.runners.staging": {
                "group": "staging-infrastructure",
                "egressCidrs": ["203.0.113.64/28"],
                "healthObserver": True,
            }
        },
        [
            "delivery:pipeline.runners.staging.healthObserver = true: promote.yml's health job observes "
            "production only",
        ],
    )
