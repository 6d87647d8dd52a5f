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
from test_governance_config import parsed

from components.github.workflows.model import RUNNER
from tools.offline import STACKS, Run

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
