"""Every workflow that deploys, promotes, validates or rolls back uploads a delivery event that
validates against the schema (components/contracts/delivery-events.schema.json).

Which workflows those are is read from the rendered workflow files: a job in a deployment
environment (deploys; pushing to an environment's GitOps directory, it moves images, so it must
record `deployment`s), the validation evidence artifact (validates: `validation`), a
repository_dispatch of Argo CD's rollback and incident notifications (`rollback`,
`incident`). Each such workflow's recording job, as rendered, is then run: its `run:` steps
in bash, with the runner's variables, against a scratch git repository, a `gh` that answers
the two API calls from canned run data, and an `aws` that uploads to a real MinIO
(tests/support/s3_server.py) through boto3 and, like Linode Object Storage, refuses a request whose
checksum settings are not `when_required` (linode/terraform-provider-linode#1834). What lands
in the bucket is read back and checked against the schema.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import jsonschema
import pytest
import yaml
from botocore.config import Config

from components.config.base import ENVIRONMENTS
from components.contracts import delivery_events
from components.contracts.gitops_layout import image_file, release_branch
from components.github import ci_contract
from components.github.workflows import workflows
from components.github.workflows.render import render
from components.github.workflows.scripts import SCRIPTS_DIR
from components.github.workflows.settings import REFERENCE
from tests.support import s3_server
from tests.support.delivery_events_harness import RECORDER

pytestmark = [pytest.mark.go, pytest.mark.slow]

BUCKET = "delivery-metrics"
AUTHOR_TIME = "2026-11-20T08:00:00+02:00"  # git keeps the author's offset; events are UTC
RECORDED_DISPATCHES = {
    delivery_events.ROLLOUT_ABORTED_EVENT: "rollback",
    delivery_events.INCIDENT_OPENED_EVENT: "incident",
    delivery_events.INCIDENT_RESOLVED_EVENT: "incident",
}


def rendered() -> dict[str, dict[str, Any]]:
    return {w.file: yaml.safe_load(render(w)) for w in workflows(REFERENCE)}


def environment_of(job: dict[str, Any]) -> str | None:
    env = job.get("environment")
    return env.get("name") if isinstance(env, dict) else env


def triggers(doc: dict[str, Any]) -> dict[str, Any]:
    return doc.get("on") or doc.get(True) or {}  # YAML 1.1 reads a bare `on` as True


def expected_kinds(doc: dict[str, Any]) -> set[str]:
    """The event kinds a workflow must record, from what its rendered jobs do."""
    kinds = set()
    for job in doc["jobs"].values():
        steps = job.get("steps", [])
        if environment_of(job) in ENVIRONMENTS:
            # It deploys (a pipeline run at least); pushing to an environment's GitOps
            # directory, it moves images.
            kinds.add("pipeline_run")
            gitops_dirs = {REFERENCE.environment_dir(e) for e in ENVIRONMENTS}
            if any("PUSH_TOKEN" in s.get("env", {}) and gitops_dirs & set(s["env"].values()) for s in steps):
                kinds.add("deployment")
        for step in steps:
            if "upload-artifact" in str(step.get("uses")) and (step.get("with") or {}).get("name") == (
                ci_contract.VALIDATION_EVIDENCE_ARTIFACT
            ):
                kinds.add("validation")
            if "ROUTING_KEY" in (step.get("env") or {}):
                # It pages when an environment is unhealthy after a deployment: the rollbacks
                # and the incident must be on record too (production's health job).
                kinds |= {"rollback", "incident"}
    types = (triggers(doc).get("repository_dispatch") or {}).get("types", [])
    kinds |= {RECORDED_DISPATCHES[t] for t in types if t in RECORDED_DISPATCHES}
    return kinds


def recording_jobs(doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        job_id: job
        for job_id, job in doc["jobs"].items()
        if any('"$RECORDER" upload' in (s.get("run") or "") for s in job.get("steps", []))
    }


def test_the_workflows_that_deploy_promote_validate_or_roll_back_are_the_expected_ones() -> None:
    """Guards the classification itself: if it found nothing, the next tests would prove nothing."""
    found = {file: kinds for file, doc in rendered().items() if (kinds := expected_kinds(doc))}
    assert found == {
        "infrastructure.yml": {"pipeline_run"},
        "delivery.yml": {"pipeline_run", "deployment"},
        "staging-validation.yml": {"validation"},
        "promote.yml": {"pipeline_run", "deployment", "rollback", "incident"},
        "delivery-events.yml": {"rollback", "incident"},
    }


@pytest.mark.parametrize("file", sorted(rendered()))
def test_every_recording_job_uploads_from_main_only_with_linode_checksums_and_never_fails(file: str) -> None:
    doc = rendered()[file]
    jobs = recording_jobs(doc)
    if expected_kinds(doc):
        assert jobs, f"{file} deploys, promotes, validates or rolls back but uploads no delivery event"
    gate_needs = {
        n
        for job in doc["jobs"].values()
        if job.get("name", "").endswith("gate")
        for n in job.get("needs", [])
    }
    for job_id, job in jobs.items():
        where = f"{file} {job_id}"
        assert environment_of(job) == ci_contract.CI_MAIN_ENVIRONMENT, where
        assert "github.ref == 'refs/heads/main'" in job["if"], where
        assert job_id not in gate_needs, f"{where}: observability must not decide a gate"
        for step in job["steps"]:
            if "run" in step and "$RECORDER" in step["run"]:
                assert step.get("continue-on-error") is True, f"{where} {step['name']}"
            if '"$RECORDER" upload' in step.get("run", ""):
                env = step["env"]
                assert env["AWS_REQUEST_CHECKSUM_CALCULATION"] == "when_required", where
                assert env["AWS_RESPONSE_CHECKSUM_VALIDATION"] == "when_required", where
                assert (
                    env["AWS_ACCESS_KEY_ID"] == f"${{{{ secrets.{ci_contract.METRICS_ACCESS_KEY_ID} }}}}"
                ), where
                assert step["if"] == "always()", where


# --------------------------------------------------------------------------- running the jobs

GH_STUB = """#!/usr/bin/env python3
# `gh api [--paginate] <path> [--jq '.jobs[]']` answered from $GH_STUB_DIR.
import json, os, sys
path = next(a for a in sys.argv[2:] if a.startswith("repos/"))
data = os.environ["GH_STUB_DIR"]
if path.endswith("/jobs"):
    for job in json.load(open(os.path.join(data, "jobs.json"))):
        print(json.dumps(job))
else:
    print(open(os.path.join(data, "run.json")).read())
"""

AWS_STUB = """#!{python}
# The AWS CLI calls the recorder makes, through boto3, refusing, as Linode Object Storage does,
# requests with the SDKs' default CRC checksums:
#   aws s3 cp <file> s3://<bucket>/<key> --endpoint-url E --region R ...   (upload)
#   aws s3 cp s3://<bucket>/<key> - ...                                   (read to stdout)
#   aws s3api list-objects-v2 --bucket B --prefix P --query Contents[].Key --output json ...
import json, os, sys
import boto3
from botocore.config import Config
args = sys.argv[1:]
positional, options, rest = [], {{}}, list(args)
while rest:
    arg = rest.pop(0)
    if not arg.startswith("--"):
        positional.append(arg)
    elif rest and not rest[0].startswith("--"):
        options[arg] = rest.pop(0)
    else:
        options[arg] = True  # a switch: --only-show-errors
if os.environ.get("AWS_REQUEST_CHECKSUM_CALCULATION") != "when_required" or os.environ.get(
    "AWS_RESPONSE_CHECKSUM_VALIDATION"
) != "when_required":
    sys.exit("upload failed: An error occurred (InvalidRequest) when calling the PutObject operation: checksum")
client = boto3.client("s3", endpoint_url=options["--endpoint-url"], region_name=options["--region"],
                      config=Config(retries={{"max_attempts": 1}}, connect_timeout=2, read_timeout=5))
try:
    if positional[:2] == ["s3api", "list-objects-v2"]:
        assert options["--query"] == "Contents[].Key" and options["--output"] == "json", options
        pages = client.get_paginator("list_objects_v2").paginate(Bucket=options["--bucket"], Prefix=options["--prefix"])
        keys = [item["Key"] for page in pages for item in page.get("Contents", [])]
        print(json.dumps(keys or None))
    elif positional[:2] == ["s3", "cp"] and positional[3] == "-":
        bucket, _, key = positional[2].removeprefix("s3://").partition("/")
        sys.stdout.write(client.get_object(Bucket=bucket, Key=key)["Body"].read().decode())
    else:
        assert positional[:2] == ["s3", "cp"], args
        source, target = positional[2], positional[3]
        bucket, _, key = target.removeprefix("s3://").partition("/")
        client.upload_file(source, bucket, key, ExtraArgs={{"ContentType": options.get("--content-type", "binary/octet-stream")}})
except Exception as error:
    sys.exit(f"upload failed: {{error}}")
"""


def git(repo: Path, *args: str, date: str = AUTHOR_TIME) -> str:
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "dev",
        "GIT_AUTHOR_EMAIL": "dev@example.invalid",
        "GIT_COMMITTER_NAME": "dev",
        "GIT_COMMITTER_EMAIL": "dev@example.invalid",
        "GIT_AUTHOR_DATE": date,
        "GIT_COMMITTER_DATE": date,
    }
    return subprocess.run(
        ["git", *args], cwd=repo, env=env, check=True, capture_output=True, text=True
    ).stdout.strip()


def image_yaml(service: str, commit: str, digest: str) -> str:
    return (
        "# Written by the delivery workflow; Argo CD deploys this image, by digest.\nimage:\n"
        f'  repository: ghcr.io/reference/{service}\n  tag: "{commit}@{digest}"\n  digest: {digest}\n'
        f"  reference: ghcr.io/reference/{service}@{digest}\n"
    )


class Runner:
    """Runs one rendered job's steps the way the runner would, in a scratch workspace."""

    def __init__(self, root: Path, server: s3_server.Server) -> None:
        self.root = root
        self.server = server
        self.workspace = root / "workspace"
        self.temp = root / "runner-temp"
        self.bin = root / "bin"
        self.stub_data = root / "gh"
        for path in (self.workspace, self.temp, self.bin, self.stub_data):
            path.mkdir(parents=True, exist_ok=True)
        (self.bin / "gh").write_text(GH_STUB)
        (self.bin / "aws").write_text(AWS_STUB.format(python=sys.executable))
        for stub in ("gh", "aws"):
            (self.bin / stub).chmod(0o755)
        # The runner's python3 is this one, found first: a version manager's shim (pyenv's
        # prepends its own bin directory to PATH) would otherwise put a real `aws` ahead of
        # the stub.
        (self.bin / "python3").symlink_to(sys.executable)
        self.summary = root / "summary.md"
        git(self.workspace, "init", "-q", "-b", "main")
        recorder = RECORDER.read_text()
        for where in (self.workspace, self.workspace / ".delivery-events"):
            (where / SCRIPTS_DIR).mkdir(parents=True, exist_ok=True)
            (where / SCRIPTS_DIR / RECORDER.name).write_text(recorder)
        self.expressions: dict[str, str] = {}

    def commit(self, message: str, files: dict[str, str], date: str = AUTHOR_TIME) -> str:
        for name, text in files.items():
            (self.workspace / name).parent.mkdir(parents=True, exist_ok=True)
            (self.workspace / name).write_text(text)
        git(self.workspace, "add", "-A")
        git(self.workspace, "commit", "-q", "--allow-empty", "-m", message, date=date)
        return git(self.workspace, "rev-parse", "HEAD")

    def gh_data(self, jobs: list[dict[str, Any]], head_sha: str) -> None:
        run = {"id": 4242, "run_attempt": 1, "head_sha": head_sha, "head_branch": "main", "event": "push",
               "created_at": "2026-11-20T09:00:00Z", "run_started_at": "2026-11-20T09:00:30Z"}  # fmt: skip
        (self.stub_data / "run.json").write_text(json.dumps(run))
        (self.stub_data / "jobs.json").write_text(json.dumps(jobs))

    def substitute(self, value: str, needs: list[str]) -> str:
        known = {
            "github.repository": "ai-aas/platform",
            "github.run_id": "4242",
            "github.run_attempt": "1",
            "github.token": "token",
            "github.server_url": "https://github.com",
            "runner.temp": str(self.temp),
            "toJSON(needs)": json.dumps({n: {"result": "success", "outputs": {}} for n in needs}),
            f"secrets.{ci_contract.METRICS_ACCESS_KEY_ID}": self.server.access_key,
            f"secrets.{ci_contract.METRICS_SECRET_ACCESS_KEY}": self.server.secret_key,
            f"vars.{ci_contract.METRICS_BUCKET}": BUCKET,
            f"vars.{ci_contract.METRICS_ENDPOINT}": self.server.endpoint,
            **self.expressions,
        }

        def one(match: re.Match[str]) -> str:
            expression = match.group(1)
            assert expression in known, f"the test does not know what `{expression}` is on a runner"
            return known[expression]

        return re.sub(r"\$\{\{\s*(.+?)\s*\}\}", one, value)

    def run_job(self, job: dict[str, Any]) -> str:
        """Every `run:` step (the `uses:` ones are prepared by the test); the job's output."""
        output = ""
        for step in job["steps"]:
            if "run" not in step:
                continue
            env = {
                "PATH": f"{self.bin}:{os.environ['PATH']}",
                "HOME": str(self.root),
                "RUNNER_TEMP": str(self.temp),
                "GITHUB_STEP_SUMMARY": str(self.summary),
                "GITHUB_OUTPUT": str(self.root / "output"),
                "GH_STUB_DIR": str(self.stub_data),
                **{
                    k: self.substitute(str(v), job.get("needs", []))
                    for k, v in (step.get("env") or {}).items()
                },
            }
            done = subprocess.run(
                ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", step["run"]],
                cwd=self.workspace, env=env, capture_output=True, text=True, check=False, timeout=300,
            )  # fmt: skip
            output += done.stdout + done.stderr
            # continue-on-error or not, a recording step must not fail.
            assert done.returncode == 0, f"{step['name']}: {done.stdout}{done.stderr}"
        return output


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[s3_server.Server]:
    data = tmp_path_factory.mktemp("minio-events") / "data"
    data.mkdir()
    with s3_server.running(data) as running:
        boto3.client(
            "s3", endpoint_url=running.endpoint, region_name="us-east-1",
            aws_access_key_id=running.access_key, aws_secret_access_key=running.secret_key,
        ).create_bucket(Bucket=BUCKET)  # fmt: skip
        yield running


def uploaded(server: s3_server.Server, workflow: str) -> list[dict[str, Any]]:
    """The events of one workflow (by source) in the bucket, each checked against the schema."""
    s3 = boto3.client(
        "s3", endpoint_url=server.endpoint, region_name="us-east-1", aws_access_key_id=server.access_key,
        aws_secret_access_key=server.secret_key,
        config=Config(request_checksum_calculation="when_required", response_checksum_validation="when_required"),
    )  # fmt: skip
    schema = delivery_events.schema()
    checker = jsonschema.Draft202012Validator(
        schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
    )
    found = []
    for item in s3.list_objects_v2(Bucket=BUCKET, Prefix=f"{delivery_events.PREFIX}/").get("Contents", []):
        record = json.loads(s3.get_object(Bucket=BUCKET, Key=item["Key"])["Body"].read())
        if record["source"]["workflow"] != workflow:
            continue
        checker.validate(record)
        assert item["Key"] == delivery_events.object_key(record["kind"], record["occurred_at"], record["id"])
        found.append(record)
    return found


def finished_jobs(*names: str) -> list[dict[str, Any]]:
    return [
        {"name": name, "status": "completed", "conclusion": "success",
         "started_at": f"2026-11-20T09:{10 + i:02d}:00Z", "completed_at": f"2026-11-20T09:{11 + i:02d}:30Z"}
        for i, name in enumerate(names)
    ] + [{"name": "events", "status": "in_progress", "conclusion": None, "started_at": "2026-11-20T09:40:00Z",
          "completed_at": None}]  # fmt: skip


def the_job(file: str) -> tuple[dict[str, Any], dict[str, Any]]:
    doc = rendered()[file]
    [job] = recording_jobs(doc).values()
    return doc, job


def test_delivery_records_each_environment_s_deployments(server: s3_server.Server, tmp_path: Path) -> None:
    _, job = the_job("delivery.yml")
    runner = Runner(tmp_path, server)
    sha = runner.commit(
        "change the api\n\nThis reverts commit " + "a" * 40 + ".", {"services/api/main.go": "x"}
    )
    runner.expressions = {"github.sha": sha}
    images = runner.temp / "images"
    images.mkdir()
    for service in ("api", "web"):
        (images / f"{service}.json").write_text(json.dumps({
            "service": service, "repository": f"ghcr.io/reference/{service}", "tag": sha,
            "digest": "sha256:" + f"{service}".encode().hex().ljust(64, "0"),
        }))  # fmt: skip
    runner.gh_data(
        finished_jobs("discover", "images", "publish", "deploy-development", "deploy-staging"), sha
    )
    runner.run_job(job)
    events = uploaded(server, "delivery")
    deployments = sorted((e["environment"], e["service"]) for e in events if e["kind"] == "deployment")
    assert deployments == [(env, s) for env in REFERENCE.auto_deploy for s in ("api", "web")]
    for event in (e for e in events if e["kind"] == "deployment"):
        assert event["commit"] == sha and event["commit_authored_at"] == "2026-11-20T06:00:00Z"
        assert event["reverts"] == "a" * 40
        assert event["occurred_at"] == (
            "2026-11-20T09:14:30Z" if event["environment"] == "development" else "2026-11-20T09:15:30Z"
        )
    [run] = [e for e in events if e["kind"] == "pipeline_run"]
    assert [j["name"] for j in run["jobs"]] == [
        "discover",
        "images",
        "publish",
        "deploy-development",
        "deploy-staging",
    ]
    assert run["queued_at"] == "2026-11-20T09:00:00Z" and run["conclusion"] == "success"


def observation(release: str, outcome: str, observed_at: str, apps: dict[str, Any]) -> dict[str, Any]:
    """What the health job's `observe` step hands the events job (delivery_event.py observe)."""
    return {"environment": REFERENCE.promote_to, "release": release, "outcome": outcome,
            "observed_at": observed_at, "applications": apps}  # fmt: skip


def health_app(
    synced: tuple[str, str] | None, health: str = "Healthy", since: str | None = None, aborted: bool = False
) -> dict[str, Any]:
    return {"sync": "Synced", "health": health, "health_since": since, "phase": "Succeeded",
            "synced": {"status": synced[0], "at": synced[1]} if synced else None, "rollout_aborted": aborted}  # fmt: skip


def test_promote_records_the_promotion_and_production_s_deployments_rollbacks_and_incidents(
    server: s3_server.Server, tmp_path: Path
) -> None:
    """Two promotions. The first changes orders; Argo CD finishes its sync at 12:20 (the
    deployment's time, not the promotion's 12:00), its Rollout aborts: a rollback and an
    incident. The second finds production healthy and resolves that incident, read back from
    the bucket."""
    _, job = the_job("promote.yml")
    prod = REFERENCE.environment_dir(REFERENCE.promote_to)
    # Not `api`: the dispatch tests record incidents of platform-production-api in the same bucket.
    orders = f"platform-{REFERENCE.promote_to}-orders"
    old, new, same, fixed = ("sha256:" + c * 64 for c in "1234")

    runner = Runner(tmp_path / "first", server)
    built = runner.commit("api change", {"services/orders/main.go": "v1"}, date="2026-11-19T10:00:00Z")
    previous = runner.commit("release 1", {image_file(prod, "orders"): image_yaml("orders", built, old),
                                           image_file(prod, "web"): image_yaml("web", built, same)})  # fmt: skip
    newer = runner.commit("api change 2", {"services/orders/main.go": "v2"}, date="2026-11-20T07:30:00Z")
    release = runner.commit("release 2", {image_file(prod, "orders"): image_yaml("orders", newer, new)})
    git(runner.workspace, "branch", release_branch(REFERENCE.promote_to))
    seen = observation(release, "unhealthy", "2026-11-20T12:40:00Z", {
        orders: health_app(("success", "2026-11-20T12:20:00Z"), "Degraded", "2026-11-20T12:31:00Z", aborted=True),
        f"platform-{REFERENCE.promote_to}-web": health_app(("success", "2026-11-20T12:20:00Z")),
    })  # fmt: skip
    (runner.temp / "health-observation").mkdir()
    (runner.temp / "health-observation" / "observation.json").write_text(json.dumps(seen))
    runner.expressions = {
        "needs.validated.outputs.revision": newer,
        "needs.validated.outputs.run_id": "777",
        "needs.promote.outputs.release": release,
        "needs.promote.outputs.previous": previous,
        "needs.promote.outputs.promoted_at": "2026-11-20T12:00:00Z",
    }
    runner.gh_data(finished_jobs("validated", "promote", "production-health"), release)
    runner.run_job(job)
    events = uploaded(server, "promote")
    [promotion] = [e for e in events if e["kind"] == "promotion"]
    assert promotion["services"] == [
        {"service": "orders", "digest": new, "changed": True},
        {"service": "web", "digest": same, "changed": False},
    ]
    assert (promotion["revision"], promotion["validation_run_id"], promotion["release_commit"]) == (
        newer,
        "777",
        release,
    )
    assert promotion["occurred_at"] == "2026-11-20T12:00:00Z"
    [deployment] = [e for e in events if e["kind"] == "deployment"]
    assert (deployment["environment"], deployment["service"], deployment["digest"]) == (
        "production",
        "orders",
        new,
    )
    # Lead time runs from the commit the image was built from to Argo CD's sync.
    assert (deployment["commit"], deployment["commit_authored_at"], deployment["occurred_at"]) == (
        newer, "2026-11-20T07:30:00Z", "2026-11-20T12:20:00Z",
    )  # fmt: skip
    [rollback] = [e for e in events if e["kind"] == "rollback"]
    assert (rollback["application"], rollback["service"], rollback["revision"]) == (orders, "orders", release)
    [opened] = [e for e in events if e["kind"] == "incident"]
    assert (opened["action"], opened["occurred_at"]) == ("opened", "2026-11-20T12:31:00Z")

    # The next promotion: a fix, synced and healthy (orders Healthy since 14:02).
    second = Runner(tmp_path / "second", server)
    branch = release_branch(REFERENCE.promote_to)
    git(second.workspace, "fetch", "-q", str(runner.workspace), f"{branch}:{branch}")
    git(second.workspace, "checkout", "-q", "--force", branch)  # over the recorder copies it holds too
    fix = second.commit("api fix", {"services/orders/main.go": "v3"}, date="2026-11-20T13:00:00Z")
    then = second.commit("release 3", {image_file(prod, "orders"): image_yaml("orders", fix, fixed)})
    seen = observation(then, "healthy", "2026-11-20T14:05:00Z", {
        orders: health_app(("success", "2026-11-20T14:00:00Z"), "Healthy", "2026-11-20T14:02:00Z"),
        f"platform-{REFERENCE.promote_to}-web": health_app(("success", "2026-11-20T14:00:00Z")),
    })  # fmt: skip
    (second.temp / "health-observation").mkdir()
    (second.temp / "health-observation" / "observation.json").write_text(json.dumps(seen))
    second.expressions = {
        **runner.expressions,
        "needs.validated.outputs.revision": fix,
        "needs.promote.outputs.release": then,
        "needs.promote.outputs.previous": release,
        "needs.promote.outputs.promoted_at": "2026-11-20T13:50:00Z",
    }
    second.gh_data(finished_jobs("validated", "promote", "production-health"), then)
    second.run_job(job)
    [resolved] = [
        e for e in uploaded(server, "promote") if e["kind"] == "incident" and e["action"] == "resolved"
    ]
    assert (resolved["application"], resolved["occurred_at"], resolved["revision"]) == (
        orders, "2026-11-20T14:02:00Z", then,
    )  # fmt: skip


def test_staging_validation_records_its_verdict_with_the_figures(
    server: s3_server.Server, tmp_path: Path
) -> None:
    _, job = the_job("staging-validation.yml")
    runner = Runner(tmp_path, server)
    revision = runner.commit("staging", {})
    evidence = {
        "schema": 1, "workflow": "staging-validation", "repository": "ai-aas/platform", "run_id": "4242",
        "run_attempt": "1", "revision": revision, "result": "failure",
        "results": {"smoke": "success", "load": "failure"},
        "load": {"p95_ms": 1234.5, "max_p95_ms": 1000, "error_rate_percent": 0.4, "max_error_rate_percent": 1},
    }  # fmt: skip
    (runner.workspace / "evidence").mkdir()
    (runner.workspace / "evidence" / "evidence.json").write_text(json.dumps(evidence))
    runner.gh_data(finished_jobs("target", "smoke", "load", "gate"), revision)
    runner.run_job(job)
    events = uploaded(server, "staging-validation")
    [verdict] = [e for e in events if e["kind"] == "validation"]
    assert (verdict["verdict"], verdict["revision"], verdict["environment"]) == (
        "failed",
        revision,
        "staging",
    )
    assert verdict["figures"]["p95_ms"] == 1234.5 and verdict["checks"]["load"] == "failure"
    assert [e["kind"] for e in events if e["kind"] == "pipeline_run"] == ["pipeline_run"]


def test_infrastructure_records_its_run(server: s3_server.Server, tmp_path: Path) -> None:
    _, job = the_job("infrastructure.yml")
    runner = Runner(tmp_path, server)
    sha = runner.commit("infra", {})
    runner.gh_data(finished_jobs(*(f"up-{env}" for env in ENVIRONMENTS)), sha)
    runner.run_job(job)
    [run] = uploaded(server, "infrastructure")
    assert run["kind"] == "pipeline_run" and run["commit"] == sha


@pytest.mark.parametrize("event_type", sorted(RECORDED_DISPATCHES))
def test_argo_cd_dispatches_become_rollbacks_and_incidents(
    event_type: str, server: s3_server.Server, tmp_path: Path
) -> None:
    _, job = the_job("delivery-events.yml")
    runner = Runner(tmp_path, server)
    payload = {"application": "platform-production-api", "environment": "production",
               "revision": "b" * 40, "at": f"2026-11-2{len(event_type) % 10}T10:00:00Z"}  # fmt: skip
    runner.expressions = {
        "github.event.action": event_type,
        "toJSON(github.event.client_payload)": json.dumps(payload),
    }
    runner.run_job(job)
    [event] = [e for e in uploaded(server, "delivery-events") if e["source"]["trigger"] == event_type]
    assert event["kind"] == RECORDED_DISPATCHES[event_type]
    assert (event["application"], event["service"], event["occurred_at"]) == (
        "platform-production-api", "api", payload["at"],
    )  # fmt: skip


def test_a_failed_upload_is_a_warning_and_a_counted_gap_never_a_failure(
    server: s3_server.Server, tmp_path: Path
) -> None:
    """The bucket unreachable (nothing listens on the endpoint): the job still succeeds, says
    why, and counts the gaps in the job summary."""
    _, job = the_job("infrastructure.yml")
    runner = Runner(tmp_path, server)
    sha = runner.commit("infra", {})
    runner.gh_data(finished_jobs("up-production"), sha)
    runner.server = s3_server.Server(endpoint="http://127.0.0.1:9")  # discard port: refused
    output = runner.run_job(job)
    assert "::warning::metrics gap: pipeline_run" in output
    assert "metrics gaps: 1" in output
    assert "**Metrics gaps: 1**" in runner.summary.read_text()


def test_without_the_checksum_settings_linode_would_refuse_the_upload(
    server: s3_server.Server, tmp_path: Path
) -> None:
    """The stub stands in for Linode's refusal: the same job without the two settings uploads
    nothing and reports a gap (so the settings, not luck, make the uploads above work)."""
    _, job = the_job("infrastructure.yml")
    for step in job["steps"]:
        for key in ("AWS_REQUEST_CHECKSUM_CALCULATION", "AWS_RESPONSE_CHECKSUM_VALIDATION"):
            (step.get("env") or {}).pop(key, None)
    runner = Runner(tmp_path, server)
    sha = runner.commit("infra", {})
    runner.gh_data(finished_jobs("up-staging"), sha)
    output = runner.run_job(job)
    assert "InvalidRequest" in output and "metrics gaps: 1" in output


def test_the_recorder_repeats_the_contract_exactly() -> None:
    """The recorder runs with the standard library only, so it repeats the contract's names;
    they must not drift apart (nor from the schema)."""
    spec = importlib.util.spec_from_file_location("delivery_event", RECORDER)
    assert spec is not None and spec.loader is not None
    recorder = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(recorder)
    schema = delivery_events.schema()
    assert (
        recorder.SCHEMA_VERSION == delivery_events.SCHEMA_VERSION == schema["properties"]["schema"]["const"]
    )
    assert recorder.PREFIX == delivery_events.PREFIX
    assert tuple(recorder.KINDS) == delivery_events.KINDS == tuple(schema["properties"]["kind"]["enum"])
    assert (
        recorder.ROLLOUT_ABORTED_EVENT,
        recorder.INCIDENT_OPENED_EVENT,
        recorder.INCIDENT_RESOLVED_EVENT,
    ) == (delivery_events.RECORDED_DISPATCH_EVENTS)
    record = {"kind": "deployment", "occurred_at": "2026-11-20T09:00:00Z", "id": "x-1"}
    assert recorder.object_key(record) == delivery_events.object_key(
        "deployment", "2026-11-20T09:00:00Z", "x-1"
    )
