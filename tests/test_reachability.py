"""Which runner reaches which cluster: infrastructure jobs run where the control-plane ACL admits them.

The managing stack renders `infrastructure.yml` from its own file's `pipeline.runners`; each
stack validates its own entry against its own `cluster.controlPlaneAcl`. These tests join
the two across the committed stacks, from what they declare: the recorded LKE cluster's ACL
and the committed workflow's `runs-on` (README, "Reachability").
"""

from __future__ import annotations

import ipaddress
from typing import Any

import pytest
import yaml
from conftest import assert_refused
from test_governance_config import parsed

from components.github.workflows.model import RUNNER
from tools.offline import MOCK_CALLS, STACKS, Run

LKE = "linode:index/lkeCluster:LkeCluster"
WORKFLOW_FILE = "github:index/repositoryFile:RepositoryFile"
INFRASTRUCTURE = ".github/workflows/infrastructure.yml"


def managing_stack(runs: dict[str, Run]) -> Run:
    (owner,) = [run for run in runs.values() if run.recorder.of_type(WORKFLOW_FILE)]
    return owner


def committed_workflows(runs: dict[str, Run]) -> dict[str, dict[str, Any]]:
    files = managing_stack(runs).recorder.of_type(WORKFLOW_FILE)
    return {
        f.plain["file"]: yaml.safe_load(f.plain["content"])
        for f in files
        if f.plain["file"].startswith(".github/workflows/")
    }


def acl(run: Run) -> list[str]:
    (cluster,) = run.recorder.of_type(LKE)
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


def test_jobs_a_pull_request_starts_never_run_on_a_self_hosted_group(runs: dict[str, Run]) -> None:
    """A self-hosted runner inside the ACL is reserved for main: a pull request's job there
    could leave something behind for the next `up`."""
    self_hosted = 0
    for path, doc in committed_workflows(runs).items():
        on = doc.get("on", doc.get(True))  # YAML 1.1 reads the key `on` as True
        for job_id, job in doc["jobs"].items():
            if not isinstance(job.get("runs-on"), dict):
                continue
            self_hosted += 1
            assert "pull_request" not in on or job.get("environment"), (
                f"{path}:{job_id} runs on a self-hosted group without a main-only environment"
            )
            assert job["if"] and "refs/heads/main" in job["if"], f"{path}:{job_id} must run on main only"
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
        assert group.plain["selectedWorkflows"] == [
            f"{github.owner}/{github.repository}/{INFRASTRUCTURE}@refs/heads/main"
        ]
        assert group.protect, "deleting a group moves its runners to the organisation's default group"


@pytest.mark.parametrize("stack", [s for s in STACKS if s != "production"])
def test_only_the_managing_stack_declares_runner_groups(stack: str, runs: dict[str, Run]) -> None:
    assert runs[stack].recorder.of_type(RUNNER_GROUP) == []


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
