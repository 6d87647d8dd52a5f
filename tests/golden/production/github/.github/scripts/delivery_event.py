"""Delivery events for the metrics bucket: build them from what a workflow run knows, upload them.

Each subcommand writes event files (schema ``delivery-event/1``,
``components/contracts/delivery-events.schema.json``) into ``--out``; ``upload`` puts every
file of that directory into the bucket with the AWS CLI under
``events/v1/<kind>/<yyyy>/<mm>/<dd>/<id>.json``.

Recording never fails a delivery: every subcommand exits 0 whatever happens, and says what
went wrong as a workflow warning. An event that cannot be uploaded (after three tries) is a
*gap*: counted in the job summary, and recorded as a ``gap`` event when the bucket takes that
one; the report counts both.

Inputs arrive as files and environment variables (never through the command line from
``${{ }}`` expressions). The source of every event is the run itself: ``REPO``, ``WORKFLOW``,
``RUN_ID`` and ``RUN_ATTEMPT``.

Standard library only: the runner's own Python runs it.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

SCHEMA_VERSION = "delivery-event/1"
PREFIX = "events/v1"
KINDS = ("pipeline_run", "deployment", "promotion", "validation", "rollback", "incident", "gap")
ROLLOUT_ABORTED_EVENT = "rollout-aborted"
INCIDENT_OPENED_EVENT = "incident-opened"
INCIDENT_RESOLVED_EVENT = "incident-resolved"
SHA = re.compile(r"^[0-9a-f]{40}$")
DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")
SERVICE = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")
REVERTS = re.compile(r"This reverts commit ([0-9a-f]{40})")
_FILE_DIGEST = re.compile(r"^  digest: (sha256:[0-9a-f]{64})\s*$", re.MULTILINE)
_FILE_TAG = re.compile(r'^  tag: "?([0-9a-f]{40})(?:@sha256:[0-9a-f]{64})?"?\s*$', re.MULTILINE)
ATTEMPTS = 3


class SkipEventError(Exception):
    """The run knows too little to record this event (said as a warning, never an error)."""


def now() -> str:
    return utc(dt.datetime.now(dt.UTC))


def utc(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(value: str) -> dt.datetime:
    return dt.datetime.fromisoformat(value.replace("Z", "+00:00"))


def normal_time(value: str) -> str:
    """Any RFC 3339 time (git's %aI keeps the author's offset) as UTC with a Z."""
    return utc(parse_time(value))


def source(trigger: str | None = None) -> dict[str, str]:
    found = {
        "repository": os.environ.get("REPO", ""),
        "workflow": os.environ.get("WORKFLOW", ""),
        "run_id": os.environ.get("RUN_ID", ""),
        "run_attempt": os.environ.get("RUN_ATTEMPT", "1"),
    }
    missing = [name for name, value in found.items() if not value]
    if missing:
        raise SkipEventError(f"no {', '.join(missing)} in the environment")
    if trigger:
        found["trigger"] = trigger
    return found


def event(
    kind: str, event_id: str, occurred_at: str, trigger: str | None = None, **fields: Any
) -> dict[str, Any]:
    if kind not in KINDS:
        raise SkipEventError(f"unknown event kind {kind}")
    safe_id = re.sub(r"[^A-Za-z0-9._-]", "-", event_id)[:200]
    return {
        "schema": SCHEMA_VERSION,
        "kind": kind,
        "id": safe_id,
        "occurred_at": normal_time(occurred_at),
        "recorded_at": now(),
        "source": source(trigger),
        **fields,
    }


def object_key(record: dict[str, Any]) -> str:
    year, month, day = record["occurred_at"][:10].split("-")
    return f"{PREFIX}/{record['kind']}/{year}/{month}/{day}/{record['id']}.json"


def write(out: Path, record: dict[str, Any]) -> None:
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{record['kind']}-{record['id']}.json").write_text(
        json.dumps(record, indent=2, sort_keys=True) + "\n"
    )


def git(*args: str) -> str:
    return subprocess.run(["git", *args], check=True, capture_output=True, text=True).stdout


def commit_facts(commit: str) -> tuple[str, str | None]:
    """The commit's author time (UTC) and the commit it reverts, if it is a revert."""
    if not SHA.match(commit):
        raise SkipEventError(f"not a commit: {commit!r}")
    try:
        authored, _, message = git("show", "-s", "--format=%aI%n%B", commit).partition("\n")
    except subprocess.CalledProcessError as error:
        raise SkipEventError(f"commit {commit} is not in the checkout: {error.stderr.strip()}") from error
    reverted = REVERTS.search(message)
    return normal_time(authored.strip()), reverted.group(1) if reverted else None


# --------------------------------------------------------------------------- pipeline runs


def worst(results: list[str]) -> str:
    for result in ("failure", "timed_out", "cancelled"):
        if result in results:
            return result
    return "success"


def pipeline_run(args: argparse.Namespace) -> list[dict[str, Any]]:
    """The run (``gh api repos/{repo}/actions/runs/{id}``), its jobs (the ``jobs`` listing's
    entries, one JSON object a line or a JSON array) and the ``needs`` context of the job
    recording it: the jobs that finished, their durations, and the run's conclusion."""
    run = json.loads(Path(args.run).read_text())
    raw = Path(args.jobs).read_text().strip()
    jobs_in = (
        json.loads(raw) if raw.startswith("[") else [json.loads(line) for line in raw.splitlines() if line]
    )
    needs = json.loads(os.environ.get("NEEDS", "{}") or "{}")
    jobs: list[dict[str, Any]] = []
    for job in jobs_in:
        # The recording job itself is still running: only finished jobs have a duration.
        if not job.get("started_at") or not job.get("completed_at") or not job.get("conclusion"):
            continue
        started, completed = parse_time(job["started_at"]), parse_time(job["completed_at"])
        jobs.append(
            {
                "name": str(job["name"]),
                "conclusion": str(job["conclusion"]),
                "started_at": utc(started),
                "completed_at": utc(completed),
                "duration_seconds": max(0.0, (completed - started).total_seconds()),
            }
        )
    if not jobs:
        raise SkipEventError("no finished job in this run")
    completed_at = max(str(job["completed_at"]) for job in jobs)
    conclusion = worst(
        [str(need.get("result")) for need in needs.values()] + [str(j["conclusion"]) for j in jobs]
    )
    record = event(
        "pipeline_run",
        f"{os.environ.get('WORKFLOW')}-{run['id']}-{run.get('run_attempt', 1)}",
        completed_at,
        workflow=os.environ["WORKFLOW"],
        commit=str(run["head_sha"]),
        ref=str(run.get("head_branch") or ""),
        event=str(run.get("event") or ""),
        conclusion=conclusion,
        queued_at=normal_time(run["created_at"]),
        started_at=normal_time(run.get("run_started_at") or run["created_at"]),
        completed_at=completed_at,
        jobs=jobs,
    )
    return [record]


# --------------------------------------------------------------------------- deployments


def deployment(args: argparse.Namespace) -> list[dict[str, Any]]:
    """One event per image record (``{service, digest, tag}``, delivery.yml's) in ``--records``,
    deployed to ``--environment`` by the commit ``COMMIT`` at ``DEPLOYED_AT``; ``STATUS`` is
    the deploy job's result."""
    commit = os.environ.get("COMMIT", "")
    authored, reverts = commit_facts(commit)
    deployed_at = os.environ.get("DEPLOYED_AT") or now()
    status = "success" if os.environ.get("STATUS") == "success" else "failure"
    records = sorted(Path(args.records).glob("*.json")) if Path(args.records).is_dir() else []
    events = []
    for path in records:
        image = json.loads(path.read_text())
        if not SERVICE.match(str(image.get("service"))) or not DIGEST.match(str(image.get("digest"))):
            warn(f"malformed image record {path.name}: not recorded")
            continue
        extra = {"reverts": reverts} if reverts else {}
        events.append(
            event(
                "deployment",
                f"{args.environment}-{image['service']}-{commit[:12]}-{os.environ.get('RUN_ID')}-{os.environ.get('RUN_ATTEMPT', '1')}",
                deployed_at,
                environment=args.environment,
                service=image["service"],
                digest=image["digest"],
                commit=commit,
                commit_authored_at=authored,
                status=status,
                **extra,
            )
        )
    return events


def _image_files(treeish: str, images_dir: str) -> dict[str, tuple[str, str]]:
    """service -> (digest, built-from commit) of the image files at ``treeish`` (empty if none)."""
    try:
        listing = git("ls-tree", "--name-only", f"{treeish}:{images_dir}")
    except subprocess.CalledProcessError:
        return {}
    found = {}
    for name in listing.split():
        if not name.endswith(".yaml"):
            continue
        text = git("show", f"{treeish}:{images_dir}/{name}")
        digest, tag = _FILE_DIGEST.search(text), _FILE_TAG.search(text)
        if digest and tag and SERVICE.match(name[: -len(".yaml")]):
            found[name[: -len(".yaml")]] = (digest.group(1), tag.group(1))
    return found


def promotion(args: argparse.Namespace) -> list[dict[str, Any]]:
    """The promotion (``RELEASE_COMMIT`` now the release branch, ``PREVIOUS`` before, if any) and
    one deployment per service whose digest it changed: the service's image commit is its
    tag's, so lead time runs from that commit to the promotion."""
    release, previous = os.environ.get("RELEASE_COMMIT", ""), os.environ.get("PREVIOUS", "")
    revision, run = os.environ.get("REVISION", ""), os.environ.get("RUN", "")
    if not SHA.match(release) or not SHA.match(revision):
        raise SkipEventError("no release commit or revision: nothing was promoted")
    promoted_at = os.environ.get("PROMOTED_AT") or now()
    current = _image_files(release, args.images_dir)
    before = _image_files(previous, args.images_dir) if SHA.match(previous) else {}
    services: list[dict[str, Any]] = [
        {"service": name, "digest": digest, "changed": before.get(name, ("", ""))[0] != digest}
        for name, (digest, _) in sorted(current.items())
    ]
    events = [
        event(
            "promotion",
            f"{args.to_environment}-{release[:12]}",
            promoted_at,
            from_environment=args.from_environment,
            to_environment=args.to_environment,
            revision=revision,
            validation_run_id=run,
            release_commit=release,
            services=services,
        )
    ]
    for entry in services:
        if not entry["changed"]:
            continue
        built_from = current[str(entry["service"])][1]
        authored, reverts = commit_facts(built_from)
        extra = {"reverts": reverts} if reverts else {}
        events.append(
            event(
                "deployment",
                f"{args.to_environment}-{entry['service']}-{release[:12]}",
                promoted_at,
                environment=args.to_environment,
                service=entry["service"],
                digest=entry["digest"],
                commit=built_from,
                commit_authored_at=authored,
                status="success",
                **extra,
            )
        )
    return events


# --------------------------------------------------------------------------- validation


def validation(args: argparse.Namespace) -> list[dict[str, Any]]:
    """The verdict of staging validation's evidence (``evidence.json``) with its load figures."""
    evidence = json.loads(Path(args.evidence).read_text())
    revision = str(evidence.get("revision"))
    if not SHA.match(revision):
        raise SkipEventError("the evidence names no revision")
    figures = {
        key: value
        for key, value in (evidence.get("load") or {}).items()
        if value is None or (isinstance(value, int | float) and not isinstance(value, bool))
    }
    return [
        event(
            "validation",
            f"{args.environment}-{evidence.get('run_id')}-{evidence.get('run_attempt', 1)}",
            os.environ.get("VALIDATED_AT") or now(),
            environment=args.environment,
            revision=revision,
            verdict="passed" if evidence.get("result") == "success" else "failed",
            checks={str(k): str(v) for k, v in (evidence.get("results") or {}).items()},
            figures=figures,
        )
    ]


# --------------------------------------------------------------------------- notifications


def dispatched(args: argparse.Namespace) -> list[dict[str, Any]]:
    """A repository_dispatch of Argo CD's notifications (``EVENT_TYPE``, ``PAYLOAD``: its
    client_payload ``{application, environment, revision, service, at}``)."""
    event_type = os.environ.get("EVENT_TYPE", "")
    payload = json.loads(os.environ.get("PAYLOAD") or "{}")
    application = str(payload.get("application") or "")
    environment = str(payload.get("environment") or "")
    if not application or environment not in ("development", "staging", "production"):
        raise SkipEventError("the dispatch names no application or environment")
    # The notification's own time when it sent one; the run's start is minutes later at most.
    occurred_at = str(payload.get("at") or "") or os.environ.get("RECEIVED_AT") or now()
    try:
        occurred_at = normal_time(occurred_at)
    except ValueError:
        occurred_at = now()
    revision = str(payload.get("revision") or "")
    fields: dict[str, Any] = {"environment": environment, "application": application, "revision": revision}
    # Service Applications are named platform-<env>-<service> (gitops' naming); the
    # infrastructure Application names no service.
    service = str(payload.get("service") or "")
    prefix = f"platform-{environment}-"
    if not service and application.startswith(prefix) and application != f"{prefix}infrastructure":
        service = application[len(prefix) :]
    if SERVICE.match(service):
        fields["service"] = service
    key = f"{environment}-{application}-{occurred_at}"
    if event_type == ROLLOUT_ABORTED_EVENT:
        return [event("rollback", key, occurred_at, trigger=event_type, reason="rollout-aborted", **fields)]
    if event_type in (INCIDENT_OPENED_EVENT, INCIDENT_RESOLVED_EVENT):
        action = "opened" if event_type == INCIDENT_OPENED_EVENT else "resolved"
        return [
            event("incident", f"{action}-{key}", occurred_at, trigger=event_type, action=action, **fields)
        ]
    raise SkipEventError(f"dispatch {event_type!r} records nothing")


# --------------------------------------------------------------------------- upload


def warn(message: str) -> None:
    print(f"::warning::{message}")


def summary(line: str) -> None:
    path = os.environ.get("GITHUB_STEP_SUMMARY")
    if path:
        with open(path, "a") as handle:
            handle.write(line + "\n")


def put(path: Path, key: str) -> str | None:
    """Upload one file (three tries); the last error, or None once it is there."""
    command = [
        "aws", "s3", "cp", str(path), f"s3://{os.environ['BUCKET']}/{key}",
        "--endpoint-url", os.environ["ENDPOINT"], "--region", os.environ["REGION"],
        "--content-type", "application/json", "--only-show-errors",
    ]  # fmt: skip
    error = ""
    for attempt in range(1, ATTEMPTS + 1):
        try:
            done = subprocess.run(command, capture_output=True, text=True, check=False, timeout=60)
        except (OSError, subprocess.TimeoutExpired) as failure:
            error = str(failure)
        else:
            if done.returncode == 0:
                return None
            error = (done.stderr or done.stdout).strip()[-300:]
        if attempt < ATTEMPTS:
            time.sleep(2 * attempt)
    return error or "upload failed"


def upload(args: argparse.Namespace) -> int:
    """Every event file of ``--out`` into the bucket; returns how many could not be uploaded."""
    files = sorted(Path(args.out).glob("*.json")) if Path(args.out).is_dir() else []
    if not files:
        print("no events to upload")
        return 0
    if not all(
        os.environ.get(name) for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "BUCKET", "ENDPOINT")
    ):
        # The key is a secret of the ci-main environment: without it nothing is recorded.
        print(f"::notice::no metrics credentials in this run; {len(files)} event(s) not uploaded")
        return 0
    gaps = []
    for path in files:
        record = json.loads(path.read_text())
        key = object_key(record)
        error = put(path, key)
        if error is None:
            print(f"uploaded s3://{os.environ['BUCKET']}/{key}")
        else:
            warn(f"metrics gap: {record['kind']} {record['id']} was not uploaded: {error}")
            gaps.append((record, error))
    if gaps:
        summary(f"**Metrics gaps: {len(gaps)}** event(s) could not be uploaded to the metrics bucket.")
        for record, error in gaps:
            try:
                gap = event("gap", f"gap-{record['kind']}-{record['id']}", now(), lost_kind=record["kind"],
                            lost_id=record["id"], error=error[:300])  # fmt: skip
            except SkipEventError:
                continue
            gap_file = Path(args.out) / "gaps" / f"{gap['id']}.json"
            gap_file.parent.mkdir(parents=True, exist_ok=True)
            gap_file.write_text(json.dumps(gap) + "\n")
            put(gap_file, object_key(gap))
    return len(gaps)


BUILDERS = {
    "pipeline-run": pipeline_run,
    "deployment": deployment,
    "promotion": promotion,
    "validation": validation,
    "dispatch": dispatched,
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("pipeline-run")
    run.add_argument("--run", required=True)
    run.add_argument("--jobs", required=True)
    deploy = commands.add_parser("deployment")
    deploy.add_argument("--environment", required=True)
    deploy.add_argument("--records", required=True)
    promote = commands.add_parser("promotion")
    promote.add_argument("--from-environment", required=True)
    promote.add_argument("--to-environment", required=True)
    promote.add_argument("--images-dir", required=True)
    validate = commands.add_parser("validation")
    validate.add_argument("--environment", required=True)
    validate.add_argument("--evidence", required=True)
    commands.add_parser("dispatch")
    up = commands.add_parser("upload")
    for sub in (run, deploy, promote, validate, commands.choices["dispatch"], up):
        sub.add_argument("--out", required=True)
    args = parser.parse_args(argv)
    if args.command == "upload":
        gaps = upload(args)
        print(f"metrics gaps: {gaps}")
        return 0
    try:
        records = BUILDERS[args.command](args)
    except (SkipEventError, OSError, ValueError, KeyError, TypeError) as error:
        # Observability only: a delivery never fails because its record could not be made.
        warn(f"metrics gap: no {args.command} event recorded: {error}")
        summary(f"**Metrics gap:** no {args.command} event recorded ({error}).")
        return 0
    for record in records:
        write(Path(args.out), record)
    print(f"{len(records)} {args.command} event(s) written to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
