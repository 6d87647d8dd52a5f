"""Delivery events for the metrics bucket: build them from what a workflow run knows, upload them.

Each subcommand but ``observe`` writes event files (schema ``delivery-event/1``,
``components/contracts/delivery-events.schema.json``) into ``--out``; ``upload`` puts every
file of that directory into the bucket with the AWS CLI under
``events/v1/<kind>/<yyyy>/<mm>/<dd>/<id>.json``.

Recording never fails a delivery: every subcommand exits 0 whatever happens, and says what
went wrong as a workflow warning. An event that cannot be uploaded (after three tries) is a
*gap*: counted in the job summary, and recorded as a ``gap`` event when the bucket takes that
one; the report counts both.

Inputs arrive as files and environment variables (never through the command line from
``${{ }}`` expressions). ``observe`` runs in promote.yml's production-health job (which
holds no bucket key): it notes what Argo CD reported for the release (``--observation``), and
the events job turns that into production's deployments, rollbacks and incidents
(``production-health``). The source of every event is the run itself: ``REPO``, ``WORKFLOW``,
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


def changed_services(release: str, previous: str, images_dir: str) -> list[dict[str, Any]]:
    """The release's services (``{service, digest, changed, built_from}``): changed when the
    previous release (if any) named another digest."""
    current = _image_files(release, images_dir)
    before = _image_files(previous, images_dir) if SHA.match(previous) else {}
    return [
        {"service": name, "digest": digest, "changed": before.get(name, ("", ""))[0] != digest,
         "built_from": built_from}
        for name, (digest, built_from) in sorted(current.items())
    ]  # fmt: skip


def promotion(args: argparse.Namespace) -> list[dict[str, Any]]:
    """The promotion: ``RELEASE_COMMIT`` now the release branch, ``PREVIOUS`` before (if any),
    and which services' digests it changed. The deployments it leads to are recorded when
    production's health job saw Argo CD finish the sync (``production-health``): the
    operator's manual sync deploys, not the promotion."""
    release, previous = os.environ.get("RELEASE_COMMIT", ""), os.environ.get("PREVIOUS", "")
    revision, run = os.environ.get("REVISION", ""), os.environ.get("RUN", "")
    if not SHA.match(release) or not SHA.match(revision):
        raise SkipEventError("no release commit or revision: nothing was promoted")
    services = [
        {key: entry[key] for key in ("service", "digest", "changed")}
        for entry in changed_services(release, previous, args.images_dir)
    ]
    return [
        event(
            "promotion",
            f"{args.to_environment}-{release[:12]}",
            os.environ.get("PROMOTED_AT") or now(),
            from_environment=args.from_environment,
            to_environment=args.to_environment,
            revision=revision,
            validation_run_id=run,
            release_commit=release,
            services=services,
        )
    ]


# --------------------------------------------------------------------------- production health

# Argo CD Application status (CRD argoproj.io/v1alpha1 Application, v3.5.1,
# https://github.com/argoproj/argo-cd/blob/v3.5.1/manifests/crds/application-crd.yaml):
# `status.history[]` is the sync history, `deployedAt` "the time the sync operation completed",
# `revision`/`revisions` (one per source) what it synced; `status.operationState` the last
# operation, `finishedAt` "time of operation completion", `phase`, and `syncResult.revision(s)`;
# `status.health.lastTransitionTime` when the Application's health last changed;
# `status.resources[].health` each managed resource's health (inline unless
# `status.resourceHealthSource` is `appTree`).
UNHEALTHY = ("Degraded", "Missing", "Unknown", "Progressing")
FAILED_PHASES = ("Failed", "Error")
OUTCOMES = ("healthy", "unhealthy", "timeout")


def _revisions(block: Any) -> list[str]:
    if not isinstance(block, dict):
        return []
    revisions = block.get("revisions") or ([block["revision"]] if block.get("revision") else [])
    return [str(r) for r in revisions]


def _time_or_none(value: Any) -> str | None:
    try:
        return normal_time(str(value)) if value else None
    except ValueError:
        return None


def sync_of(status: dict[str, Any], release: str) -> dict[str, str] | None:
    """How the sync to ``release`` ended (``{status, at}``), or None if Argo CD reports none:
    the first history entry at the release (when it first reached the environment), else the
    last operation if it was a finished sync to the release (a failed one records no history)."""
    deployed = sorted(
        at
        for entry in status.get("history") or []
        if release in _revisions(entry) and (at := _time_or_none((entry or {}).get("deployedAt")))
    )
    if deployed:
        return {"status": "success", "at": deployed[0]}
    operation = status.get("operationState") or {}
    phase = str(operation.get("phase") or "")
    revisions = _revisions(operation.get("syncResult")) or _revisions(
        (operation.get("operation") or {}).get("sync")
    )
    finished = _time_or_none(operation.get("finishedAt"))
    if release in revisions and finished and phase in ("Succeeded", *FAILED_PHASES):
        return {"status": "success" if phase == "Succeeded" else "failure", "at": finished}
    return None


def observe_application(app: dict[str, Any], release: str) -> dict[str, Any]:
    status = app.get("status") or {}
    health = status.get("health") or {}
    operation = status.get("operationState") or {}
    resources = status.get("resources") or []
    inline = status.get("resourceHealthSource", "") in ("", "inline")
    return {
        "sync": str((status.get("sync") or {}).get("status") or "Unknown"),
        "health": str(health.get("status") or "Unknown"),
        "health_since": _time_or_none(health.get("lastTransitionTime")),
        "phase": str(operation.get("phase") or ""),
        "synced": sync_of(status, release),
        # An aborted Rollout is Degraded (argo-cd docs, "Resource Health", argoproj.io/Rollout):
        # the update was rolled back to the stable version. Unknown (None) where Argo CD keeps
        # resource health in its application tree instead of the Application.
        "rollout_aborted": any(
            isinstance(r, dict) and r.get("kind") == "Rollout"
            and (r.get("health") or {}).get("status") == "Degraded"
            for r in resources
        ) if inline else None,
    }  # fmt: skip


def observe(args: argparse.Namespace) -> None:
    """What the health job saw last (``--applications``: the listing; ``--outcome``: a file
    holding healthy, unhealthy or timeout), reduced to what the events need, as JSON."""
    outcome_file = Path(args.outcome)
    outcome = outcome_file.read_text().strip() if outcome_file.is_file() else ""
    applications: dict[str, Any] = {}
    listing = Path(args.applications)
    if listing.is_file():
        for app in json.loads(listing.read_text()).get("items") or []:
            name = str((app.get("metadata") or {}).get("name") or "")
            if name:
                applications[name] = observe_application(app, args.release)
    observation = {
        "environment": args.environment,
        "release": args.release,
        # Anything else: the job stopped before it could say (cancelled, or the listing failed).
        "outcome": outcome if outcome in OUTCOMES else "unknown",
        "observed_at": normal_time(os.environ.get("OBSERVED_AT") or now()),
        "applications": applications,
    }
    Path(args.observation).parent.mkdir(parents=True, exist_ok=True)
    Path(args.observation).write_text(json.dumps(observation, indent=2, sort_keys=True) + "\n")
    print(
        f"{args.environment} {observation['outcome']} at {args.release}: {len(applications)} Application(s)"
    )


def service_of(application: str, environment: str) -> str | None:
    """Service Applications are named platform-<env>-<service> (gitops' naming); the
    infrastructure Application names no service."""
    prefix = f"platform-{environment}-"
    if application.startswith(prefix) and application != f"{prefix}infrastructure":
        service = application[len(prefix) :]
        return service if SERVICE.match(service) else None
    return None


def aws(*args: str) -> str:
    command = ["aws", *args, "--endpoint-url", os.environ["ENDPOINT"], "--region", os.environ["REGION"]]
    done = subprocess.run(command, capture_output=True, text=True, check=False, timeout=120)
    if done.returncode != 0:
        raise OSError((done.stderr or done.stdout).strip()[-300:] or "aws failed")
    return done.stdout


def open_incidents(environment: str) -> list[dict[str, Any]]:
    """The environment's incidents opened and not resolved yet, read back from the bucket
    through the S3 API: every ``incident`` event of the environment, each opened one
    resolved by the first later ``resolved`` of its Application (as the report pairs them)."""
    bucket = os.environ["BUCKET"]
    listed = aws("s3api", "list-objects-v2", "--bucket", bucket, "--prefix", f"{PREFIX}/incident/",
                 "--query", "Contents[].Key", "--output", "json")  # fmt: skip
    keys = json.loads(listed or "null") or []
    records: dict[str, dict[str, Any]] = {}
    for key in keys:
        try:
            record = json.loads(aws("s3", "cp", f"s3://{bucket}/{key}", "-", "--only-show-errors"))
        except ValueError:
            continue  # not an event: the report counts it as unreadable
        if isinstance(record, dict) and record.get("environment") == environment:
            # A re-run attempt may have uploaded the same event again (same id).
            records[str(record.get("id"))] = record
    ordered = sorted(records.values(), key=lambda r: parse_time(str(r["occurred_at"])))
    still_open: list[dict[str, Any]] = []
    for record in ordered:
        if record.get("action") == "opened":
            still_open.append(record)
        elif record.get("action") == "resolved":
            for opened in still_open:
                if opened.get("application") == record.get("application") and parse_time(
                    str(opened["occurred_at"])
                ) <= parse_time(str(record["occurred_at"])):
                    still_open.remove(opened)
                    break
    return still_open


def production_health(args: argparse.Namespace) -> list[dict[str, Any]]:
    """The events of one promotion's health job (``--observation``, ``observe``'s):

    - one ``deployment`` per service the release changed, at the time Argo CD finished its
      sync to the release (status ``failure`` when that sync failed); a sync the job did not
      see is a ``gap`` (lead time must end at the real deployment, so none is made up);
    - when production was not healthy (``unhealthy``, ``timeout``): a ``rollback`` per
      Application whose Rollout aborted, and an ``incident`` opened per Application that is
      not healthy (Degraded, Missing, Unknown, still Progressing at the deadline, or its sync
      to the release failed); Applications waiting for a person (OutOfSync or Suspended, but
      healthy) are no incident;
    - when it was healthy: the environment's open incidents (read from the bucket) resolved.
    """
    release, previous = os.environ.get("RELEASE_COMMIT", ""), os.environ.get("PREVIOUS", "")
    if not SHA.match(release):
        raise SkipEventError("no release commit: nothing was promoted")
    environment = args.environment
    path = Path(args.observation)
    observation: dict[str, Any] = json.loads(path.read_text()) if path.is_file() else {}
    if observation and (
        observation.get("release") != release or observation.get("environment") != environment
    ):
        raise SkipEventError(f"the observation is of another release: {observation.get('release')}")
    apps: dict[str, dict[str, Any]] = observation.get("applications") or {}
    outcome = str(observation.get("outcome") or "unknown")
    observed_at = str(observation.get("observed_at") or now())
    events: list[dict[str, Any]] = []

    for entry in changed_services(release, previous, args.images_dir):
        if not entry["changed"]:
            continue
        deployment_id = f"{environment}-{entry['service']}-{release[:12]}"
        synced = (apps.get(f"platform-{environment}-{entry['service']}") or {}).get("synced")
        if not synced:
            events.append(event("gap", f"gap-deployment-{deployment_id}", observed_at, lost_kind="deployment",
                                lost_id=deployment_id, error=f"the health job saw no sync of {release} "
                                f"(outcome {outcome}): no deployment time"))  # fmt: skip
            continue
        try:
            authored, reverts = commit_facts(entry["built_from"])
        except SkipEventError as error:
            events.append(event("gap", f"gap-deployment-{deployment_id}", observed_at, lost_kind="deployment",
                                lost_id=deployment_id, error=str(error)[:300]))  # fmt: skip
            continue
        extra = {"reverts": reverts} if reverts else {}
        events.append(
            event("deployment", deployment_id, synced["at"], environment=environment, service=entry["service"],
                  digest=entry["digest"], commit=entry["built_from"], commit_authored_at=authored,
                  status=synced["status"], **extra)
        )  # fmt: skip

    if outcome in ("unhealthy", "timeout"):
        for name, app in sorted(apps.items()):
            service = service_of(name, environment)
            fields: dict[str, Any] = {"environment": environment, "application": name, "revision": release}
            if service:
                fields["service"] = service
            synced = app.get("synced") or {}
            if app.get("rollout_aborted"):
                # Seen now; no earlier than the sync that started the update.
                at = max(observed_at, str(synced.get("at") or observed_at))
                events.append(event("rollback", f"{environment}-{name}-{release[:12]}", at,
                                    reason="rollout-aborted", **fields))  # fmt: skip
            if (
                app.get("health") in UNHEALTHY
                or synced.get("status") == "failure"
                or app.get("phase") in FAILED_PHASES
            ):
                # Degraded since Argo CD says so (its health's last transition), if that was
                # after the sync; else when the job saw it.
                since = app.get("health_since") if app.get("health") == "Degraded" else None
                opened = since if since and synced.get("at") and since >= synced["at"] else observed_at
                events.append(event("incident", f"opened-{environment}-{name}-{release[:12]}", opened,
                                    action="opened", **fields))  # fmt: skip
    elif outcome == "healthy":
        if not all(
            os.environ.get(n) for n in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "BUCKET", "ENDPOINT")
        ):
            print("::notice::no metrics credentials in this run: open incidents not read, none resolved")
            return events
        try:
            found = open_incidents(environment)
        except (OSError, ValueError, KeyError, subprocess.TimeoutExpired) as error:
            warn(f"metrics gap: open incidents could not be read, none resolved: {error}")
            summary(f"**Metrics gap:** open {environment} incidents could not be read ({error}).")
            events.append(event("gap", f"gap-resolved-{environment}-{release[:12]}", observed_at,
                                lost_kind="incident", lost_id=f"resolved-{environment}-{release[:12]}",
                                error=str(error)[:300]))  # fmt: skip
            return events
        for opened in found:
            name = str(opened["application"])
            app = apps.get(name) or {}
            # Healthy again since Argo CD's last health transition, if it says; else now.
            since = app.get("health_since") if app.get("health") == "Healthy" else None
            at = (
                since if since and since >= opened["occurred_at"] else max(observed_at, opened["occurred_at"])
            )
            fields = {"environment": environment, "application": name, "revision": release}
            if opened.get("service"):
                fields["service"] = opened["service"]
            events.append(
                event("incident", f"resolved-{opened['id']}"[:200], at, action="resolved", **fields)
            )
    else:
        warn(f"metrics gap: the health job said nothing about {release} ({outcome}): no incident judged")
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
    "production-health": production_health,
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
    health = commands.add_parser("production-health")
    health.add_argument("--environment", required=True)
    health.add_argument("--observation", required=True)
    health.add_argument("--images-dir", required=True)
    up = commands.add_parser("upload")
    for sub in (run, deploy, promote, validate, commands.choices["dispatch"], health, up):
        sub.add_argument("--out", required=True)
    seen = commands.add_parser("observe")
    seen.add_argument("--environment", required=True)
    seen.add_argument("--release", required=True)
    seen.add_argument("--applications", required=True)
    seen.add_argument("--outcome", required=True)
    seen.add_argument("--observation", required=True)
    args = parser.parse_args(argv)
    if args.command == "observe":
        try:
            observe(args)
        except (OSError, ValueError, AttributeError, TypeError) as error:
            warn(f"metrics gap: production's state not noted for the delivery events: {error}")
        return 0
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
