"""Production's deployments, rollbacks and incidents, recorded from promote.yml's health job
(the production cluster holds no GitHub credential, so Argo CD's notifications cannot record
them there), and the DORA figures they give.

A scripted history of four promotions runs through the recorder as the workflow runs it:
`observe` reduces what Argo CD reported (Application listings with the status fields of the
v3.5.1 CRD: `status.history[].deployedAt`, `status.operationState`, `status.health`,
`status.resources[]`) to the observation the health job hands on, and `production-health`
turns it into events, reading the open incidents back from a bucket (here a directory behind
an `aws` stand-in; tests/contracts/test_delivery_events.py runs the same job against MinIO).
The events are checked against the schema and fed to the report's analysis; every production
figure is compared with the answer worked out by hand below.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from components.contracts import delivery_events
from components.contracts.gitops_layout import images_dir
from components.github.workflows import promote
from components.github.workflows.settings import REFERENCE
from tests.support.delivery_events_harness import run_recorder
from tools.dora import metrics

ENV = "production"
IMAGES = images_dir(REFERENCE.environment_dir(ENV))
REGISTRY = "ghcr.io/reference"
DIGEST = {name: "sha256:" + char * 64 for name, char in (("api1", "1"), ("api2", "2"), ("api3", "3"),
                                                          ("web1", "4"), ("web2", "5"))}  # fmt: skip

# A stand-in for the two AWS CLI calls the recorder reads the bucket with, over a directory
# holding objects at their keys. Like Linode Object Storage, it refuses the SDK's default
# checksum settings.
AWS_DIRECTORY = """#!{python}
import json, os, sys
from pathlib import Path
args = sys.argv[1:]
root = Path(os.environ["BUCKET_DIR"])
if os.environ.get("AWS_REQUEST_CHECKSUM_CALCULATION") != "when_required":
    sys.exit("An error occurred (InvalidRequest): checksum")
if not root.is_dir():
    sys.exit("An error occurred (NoSuchBucket) when calling the ListObjectsV2 operation")
if args[:2] == ["s3api", "list-objects-v2"]:
    prefix = args[args.index("--prefix") + 1]
    keys = sorted(p.relative_to(root).as_posix() for p in root.rglob("*.json"))
    print(json.dumps([k for k in keys if k.startswith(prefix)] or None))
elif args[:2] == ["s3", "cp"] and args[3] == "-":
    key = args[2].removeprefix("s3://").partition("/")[2]
    sys.stdout.write((root / key).read_text())
else:
    sys.exit(f"unexpected aws call {{args}}")
"""


def git(repo: Path, *args: str, date: str = "2026-11-16T07:00:00Z") -> str:
    env = {**os.environ, "GIT_AUTHOR_NAME": "dev", "GIT_AUTHOR_EMAIL": "dev@example.invalid",
           "GIT_COMMITTER_NAME": "dev", "GIT_COMMITTER_EMAIL": "dev@example.invalid",
           "GIT_AUTHOR_DATE": date, "GIT_COMMITTER_DATE": date}  # fmt: skip
    return subprocess.run(
        ["git", *args], cwd=repo, env=env, check=True, capture_output=True, text=True
    ).stdout.strip()


def image_yaml(service: str, built_from: str, digest: str) -> str:
    return (
        f'image:\n  repository: {REGISTRY}/{service}\n  tag: "{built_from}@{digest}"\n  digest: {digest}\n'
        f"  reference: {REGISTRY}/{service}@{digest}\n"
    )


class History:
    """A release branch, promotion by promotion, and the bucket the events land in."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.repo = root / "repo"
        self.repo.mkdir()
        self.bucket = root / "bucket"
        self.bucket.mkdir()
        git(self.repo, "init", "-q", "-b", "release/production")
        self.releases: list[str] = []
        self.events: list[dict[str, Any]] = []
        bin_dir = root / "bin"
        bin_dir.mkdir()
        (bin_dir / "aws").write_text(AWS_DIRECTORY.format(python=sys.executable))
        (bin_dir / "aws").chmod(0o755)
        self.path = f"{bin_dir}:{os.environ['PATH']}"
        self.checker = jsonschema.Draft202012Validator(
            delivery_events.schema(), format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
        )

    def built(self, name: str, authored: str) -> str:
        """A commit an image is built from, authored at ``authored``."""
        (self.repo / "src").mkdir(exist_ok=True)
        (self.repo / "src" / name).write_text(name)
        git(self.repo, "add", "-A")
        git(self.repo, "commit", "-q", "-m", name, date=authored)
        return git(self.repo, "rev-parse", "HEAD")

    def release(self, images: dict[str, tuple[str, str]]) -> str:
        """A release commit: service -> (built-from commit, digest)."""
        for service, (built_from, digest) in images.items():
            path = self.repo / IMAGES / f"{service}.yaml"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(image_yaml(service, built_from, digest))
        git(self.repo, "add", "-A")
        git(self.repo, "commit", "-q", "-m", f"promote({ENV})")
        self.releases.append(git(self.repo, "rev-parse", "HEAD"))
        return self.releases[-1]

    def health_job(self, outcome: str | None, observed_at: str, apps: list[dict[str, Any]]) -> dict[str, Any]:
        """The health job's `observe` step on the last listing it read; the observation."""
        work = self.root / f"health-{len(self.releases)}"
        work.mkdir()
        (work / "applications.json").write_text(json.dumps({"items": apps}))
        if outcome is not None:
            (work / "outcome").write_text(outcome + "\n")
        observation = work / "observation" / "observation.json"
        run_recorder(
            ["observe", "--environment", ENV, "--release", self.releases[-1],
             "--applications", str(work / "applications.json"), "--outcome", str(work / "outcome"),
             "--observation", str(observation)],
            {"OBSERVED_AT": observed_at},
        )  # fmt: skip
        loaded: dict[str, Any] = json.loads(observation.read_text())
        return loaded

    def events_job(self, observation: dict[str, Any] | None) -> list[dict[str, Any]]:
        """The events job's production-health step; its events, uploaded into the bucket."""
        work = self.root / f"events-{len(self.releases)}"
        work.mkdir()
        path = work / "observation.json"
        if observation is not None:
            path.write_text(json.dumps(observation))
        out = work / "out"
        previous = self.releases[-2] if len(self.releases) > 1 else ""
        run_recorder(
            ["production-health", "--environment", ENV, "--images-dir", IMAGES, "--observation", str(path),
             "--out", str(out)],
            {"PATH": self.path, "RELEASE_COMMIT": self.releases[-1], "PREVIOUS": previous, "WORKFLOW": "promote",
             "AWS_ACCESS_KEY_ID": "k", "AWS_SECRET_ACCESS_KEY": "s", "BUCKET": "metrics", "ENDPOINT": "http://x",
             "REGION": "us-ord-1", "BUCKET_DIR": str(self.bucket),
             **promote_checksums()},
            cwd=self.repo,
        )  # fmt: skip
        recorded = [json.loads(p.read_text()) for p in sorted(out.glob("*.json"))] if out.is_dir() else []
        for record in recorded:
            self.checker.validate(record)
            key = delivery_events.object_key(record["kind"], record["occurred_at"], record["id"])
            (self.bucket / key).parent.mkdir(parents=True, exist_ok=True)
            (self.bucket / key).write_text(json.dumps(record))
        self.events += recorded
        return recorded


def promote_checksums() -> dict[str, str]:
    """The checksum settings the events job's recording step is given (as rendered)."""
    return {k: v for k, v in _health_events_env().items() if k.startswith("AWS_") and "CHECKSUM" in k}


def _health_events_env() -> dict[str, str]:
    job = promote.workflow(REFERENCE).jobs[-1]
    [step] = [s for s in job.steps if s.run == promote.HEALTH_EVENTS_SCRIPT]
    return dict(step.env or {})


def app(
    service: str,
    *,
    health: str = "Healthy",
    health_since: str | None = None,
    history: tuple[tuple[str, str], ...] = (),
    operation: tuple[str, str, str] | None = None,
    rollout: str = "Healthy",
    sync: str = "Synced",
) -> dict[str, Any]:
    """An Application as `kubectl get applications.argoproj.io -o json` lists it (CRD v3.5.1
    field names): ``history`` (revision, deployedAt), ``operation`` (phase, revision, finishedAt)."""
    status: dict[str, Any] = {
        "sync": {"status": sync},
        "health": {"status": health, **({"lastTransitionTime": health_since} if health_since else {})},
        # Multi-source: the chart and the image file's `ref` source, both this repository.
        "history": [
            {"id": n, "revisions": [rev, rev], "deployedAt": at, "deployStartedAt": at}
            for n, (rev, at) in enumerate(history)
        ],
        "resources": [
            {"kind": "Service", "name": service, "status": "Synced", "health": {"status": "Healthy"}},
            {"kind": "Rollout", "group": "argoproj.io", "name": service, "status": "Synced",
             "health": {"status": rollout, "message": "Rollout aborted update to revision 2" if rollout ==
                        "Degraded" else ""}},
        ],
    }  # fmt: skip
    if operation:
        phase, revision, finished = operation
        status["operationState"] = {
            "phase": phase,
            "startedAt": finished,
            "finishedAt": finished,
            "operation": {"sync": {"revisions": [revision, revision]}},
            "syncResult": {"revisions": [revision, revision]},
        }
    return {"metadata": {"name": f"platform-{ENV}-{service}"}, "status": status}


def deployments(events: list[dict[str, Any]]) -> list[tuple[str, str, str]]:
    return sorted((e["service"], e["status"], e["occurred_at"]) for e in events if e["kind"] == "deployment")


@pytest.fixture
def history(tmp_path: Path) -> History:
    return History(tmp_path)


def test_production_events_give_the_known_change_failure_rate_and_time_to_restore(history: History) -> None:
    h = history
    # Monday 2026-11-16 (ISO week 2026-W47). Every image commit authored at 07:00, 08:00, 11:00.
    api1, web1 = h.built("api1", "2026-11-16T07:00:00Z"), h.built("web1", "2026-11-16T07:00:00Z")
    r1 = h.release({"api": (api1, DIGEST["api1"]), "web": (web1, DIGEST["web1"])})
    # 1. The first release: both services synced at 09:00, healthy.
    seen = h.health_job("healthy", "2026-11-16T09:10:00Z", [
        app("api", history=((r1, "2026-11-16T09:00:00Z"),), operation=("Succeeded", r1, "2026-11-16T09:00:00Z")),
        app("web", history=((r1, "2026-11-16T09:00:00Z"),), operation=("Succeeded", r1, "2026-11-16T09:00:00Z")),
    ])  # fmt: skip
    first = h.events_job(seen)
    assert deployments(first) == [
        ("api", "success", "2026-11-16T09:00:00Z"), ("web", "success", "2026-11-16T09:00:00Z"),
    ]  # fmt: skip
    assert not [e for e in first if e["kind"] != "deployment"], "healthy, and no incident open"

    # 2. api's new image syncs at 10:00; its post-promotion analysis aborts the Rollout (traffic
    # back on the stable version), the Application is Degraded from 10:20; the job gives up.
    api2 = h.built("api2", "2026-11-16T08:00:00Z")
    r2 = h.release({"api": (api2, DIGEST["api2"])})
    seen = h.health_job("unhealthy", "2026-11-16T10:25:00Z", [
        app("api", health="Degraded", health_since="2026-11-16T10:20:00Z", rollout="Degraded",
            history=((r1, "2026-11-16T09:00:00Z"), (r2, "2026-11-16T10:00:00Z")),
            operation=("Succeeded", r2, "2026-11-16T10:00:00Z")),
        app("web", history=((r1, "2026-11-16T09:00:00Z"), (r2, "2026-11-16T10:00:30Z"))),
    ])  # fmt: skip
    assert seen["applications"][f"platform-{ENV}-api"]["synced"] == {
        "status": "success",
        "at": "2026-11-16T10:00:00Z",
    }
    second = h.events_job(seen)
    # The deployment is Argo CD's sync, not the promotion: lead time 10:00 - 08:00.
    assert deployments(second) == [("api", "success", "2026-11-16T10:00:00Z")]
    [rollback] = [e for e in second if e["kind"] == "rollback"]
    assert (rollback["service"], rollback["revision"], rollback["occurred_at"]) == (
        "api",
        r2,
        "2026-11-16T10:25:00Z",
    )
    [opened] = [e for e in second if e["kind"] == "incident"]
    assert (opened["action"], opened["application"], opened["occurred_at"]) == (
        "opened", f"platform-{ENV}-api", "2026-11-16T10:20:00Z",
    )  # fmt: skip

    # 3. A fix syncs at 12:00 and production is healthy again (api Healthy since 12:05): the
    # open incident, read back from the bucket, is resolved.
    api3 = h.built("api3", "2026-11-16T11:00:00Z")
    r3 = h.release({"api": (api3, DIGEST["api3"])})
    seen = h.health_job("healthy", "2026-11-16T12:10:00Z", [
        app("api", health_since="2026-11-16T12:05:00Z", history=((r2, "2026-11-16T10:00:00Z"),
            (r3, "2026-11-16T12:00:00Z")), operation=("Succeeded", r3, "2026-11-16T12:00:00Z")),
        app("web", history=((r3, "2026-11-16T12:00:00Z"),)),
    ])  # fmt: skip
    third = h.events_job(seen)
    assert deployments(third) == [("api", "success", "2026-11-16T12:00:00Z")]
    [resolved] = [e for e in third if e["kind"] == "incident"]
    assert (resolved["action"], resolved["application"], resolved["occurred_at"]) == (
        "resolved", f"platform-{ENV}-api", "2026-11-16T12:05:00Z",
    )  # fmt: skip
    assert resolved["id"] == f"resolved-{opened['id']}"

    # 4. web's new image: the sync fails at 13:00 (no history entry), web Degraded from 13:01.
    web2 = h.built("web2", "2026-11-16T12:30:00Z")
    r4 = h.release({"web": (web2, DIGEST["web2"])})
    seen = h.health_job("unhealthy", "2026-11-16T13:05:00Z", [
        app("api", history=((r3, "2026-11-16T12:00:00Z"),)),
        app("web", health="Degraded", health_since="2026-11-16T13:01:00Z", sync="OutOfSync",
            history=((r3, "2026-11-16T12:00:00Z"),), operation=("Failed", r4, "2026-11-16T13:00:00Z")),
    ])  # fmt: skip
    fourth = h.events_job(seen)
    assert deployments(fourth) == [("web", "failure", "2026-11-16T13:00:00Z")]
    assert [(e["kind"], e.get("action"), e["application"]) for e in fourth if e["kind"] != "deployment"] == [
        ("incident", "opened", f"platform-{ENV}-web")
    ], "a failed sync is an incident, not a rollback"

    # The answer, by hand, for production in 2026-W47:
    # - deployments: api 09:00, web 09:00, api 10:00, api 12:00 -> 4 (web 13:00 is a failed attempt);
    # - lead times 2 h, 2 h, 2 h, 1 h -> median 2 h;
    # - failed: api 10:00 (rolled back at 10:25, incident 10:20, both before api's next deployment
    #   at 12:00). web 09:00 is not failed: web's incident follows web's failed attempt at 13:00,
    #   which ends web 09:00's window -> 1 of 4 = 25 %;
    # - time to restore: the incident, 10:20 -> 12:05 = 105 min (it covers api 10:00's failure);
    #   web's incident is still open -> MTTR 105 min, one open incident;
    # - rollbacks 1 of 4 deployments = 25 %; deployment success 4 of 5 attempts = 80 %.
    analysis = metrics.analyse(h.events, now=dt.datetime(2026, 11, 18, tzinfo=dt.UTC), weeks=1)
    [row] = analysis.figures[analysis.figures["group"] == ENV].to_dict("records")
    assert (row["week"], row["deployments"], row["failed_deployments"]) == ("2026-W47", 4, 1)
    assert row["lead_time_hours"] == pytest.approx(2.0)
    assert row["change_failure_rate"] == pytest.approx(25.0)
    assert row["mttr_minutes"] == pytest.approx(105.0)
    assert row["rollback_rate"] == pytest.approx(25.0)
    assert row["deployment_success_rate"] == pytest.approx(80.0)
    assert analysis.open_incidents == 1


def test_a_sync_the_health_job_did_not_see_is_a_gap_not_a_made_up_deployment(history: History) -> None:
    h = history
    api1 = h.built("api1", "2026-11-16T07:00:00Z")
    h.release({"api": (api1, DIGEST["api1"])})
    # Cancelled before it could note anything: no observation at all.
    recorded = h.events_job(None)
    assert [(e["kind"], e["lost_kind"]) for e in recorded] == [("gap", "deployment")]
    # Timed out with the operator never syncing: api still at no revision of this release,
    # healthy and OutOfSync (waiting for a person), so a gap and no incident.
    api2 = h.built("api2", "2026-11-16T08:00:00Z")
    r2 = h.release({"api": (api2, DIGEST["api2"])})
    seen = h.health_job("timeout", "2026-11-16T11:00:00Z", [app("api", sync="OutOfSync")])
    assert seen["outcome"] == "timeout" and seen["release"] == r2
    recorded = h.events_job(seen)
    assert [(e["kind"], e.get("lost_id")) for e in recorded] == [("gap", f"{ENV}-api-{r2[:12]}")]


def test_a_rollout_still_progressing_at_the_deadline_is_an_incident(history: History) -> None:
    h = history
    api1 = h.built("api1", "2026-11-16T07:00:00Z")
    r1 = h.release({"api": (api1, DIGEST["api1"])})
    seen = h.health_job("timeout", "2026-11-16T10:00:00Z", [
        app("api", health="Progressing", history=((r1, "2026-11-16T09:00:00Z"),)),
    ])  # fmt: skip
    recorded = h.events_job(seen)
    assert deployments(recorded) == [("api", "success", "2026-11-16T09:00:00Z")]
    assert [(e["kind"], e.get("action"), e["occurred_at"]) for e in recorded if e["kind"] == "incident"] == [
        ("incident", "opened", "2026-11-16T10:00:00Z")
    ]


def test_open_incidents_that_cannot_be_read_are_a_counted_gap(history: History) -> None:
    h = history
    api1 = h.built("api1", "2026-11-16T07:00:00Z")
    r1 = h.release({"api": (api1, DIGEST["api1"])})
    seen = h.health_job(
        "healthy", "2026-11-16T09:10:00Z", [app("api", history=((r1, "2026-11-16T09:00:00Z"),))]
    )
    h.bucket.rename(h.root / "gone")  # the listing fails
    recorded = h.events_job(seen)
    assert sorted(e["kind"] for e in recorded) == ["deployment", "gap"]
    [gap] = [e for e in recorded if e["kind"] == "gap"]
    assert gap["lost_kind"] == "incident"


def test_the_observation_keeps_nothing_of_the_listing_but_what_the_events_need(history: History) -> None:
    h = history
    api1 = h.built("api1", "2026-11-16T07:00:00Z")
    r1 = h.release({"api": (api1, DIGEST["api1"])})
    seen = h.health_job(None, "2026-11-16T09:10:00Z", [app("api", history=((r1, "2026-11-16T09:00:00Z"),))])
    assert seen["outcome"] == "unknown", "no outcome file: the wait never ended"
    assert seen["applications"] == {
        f"platform-{ENV}-api": {
            "sync": "Synced", "health": "Healthy", "health_since": None, "phase": "",
            "synced": {"status": "success", "at": "2026-11-16T09:00:00Z"}, "rollout_aborted": False,
        }
    }  # fmt: skip
