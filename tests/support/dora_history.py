"""Generated delivery-event histories with known answers, for the DORA report's tests.

`generate(seed)` draws a history (deployments with chosen lead times and outcomes, failed
deployment attempts, CI runs) and returns the events the workflows would have uploaded
together with the figures docs/dora-metrics.md defines, computed here from the drawn
scenario itself -- plain loops over what was drawn, not the report's code.
"""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass, field
from statistics import mean, median
from typing import Any

ENVIRONMENTS = ("development", "staging", "production")
REPO = "ai-aas/platform"


def iso(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def week_label(moment: dt.datetime) -> str:
    year, week, _ = moment.isocalendar()
    return f"{year}-W{week:02d}"


def _sha(rng: random.Random) -> str:
    return f"{rng.getrandbits(160):040x}"


def _digest(rng: random.Random) -> str:
    return f"sha256:{rng.getrandbits(256):064x}"


def _source(workflow: str, run: int) -> dict[str, str]:
    return {"repository": REPO, "workflow": workflow, "run_id": str(run), "run_attempt": "1"}


@dataclass
class Expected:
    """Per (group, week): metric -> value (None where the metric has nothing to judge)."""

    figures: dict[tuple[str, str], dict[str, float | None]] = field(default_factory=dict)
    gaps: int = 0
    rejected: int = 0
    open_incidents: int = 0


@dataclass
class History:
    events: list[dict[str, Any]]
    expected: Expected
    weeks: list[str]
    now: dt.datetime  # the report is made at this time; weeks[-1] is the judged week
    garbage: dict[str, bytes]  # extra objects that are not delivery events


def generate(seed: int, *, weeks: int = 4) -> History:
    rng = random.Random(seed)
    counter = iter(range(1, 10**9))
    # The judged week is the last complete one before `now` (a Wednesday).
    now = dt.datetime(2026, 11, 25, 10, 0, tzinfo=dt.UTC)
    monday = (now - dt.timedelta(days=now.weekday())).replace(hour=0, minute=0)
    starts = [monday - dt.timedelta(weeks=back) for back in range(weeks, 0, -1)]
    labels = [week_label(s) for s in starts]
    events: list[dict[str, Any]] = []

    def event(kind: str, at: dt.datetime, workflow: str, /, **fields: Any) -> dict[str, Any]:
        run = next(counter)
        record = {
            "schema": "delivery-event/1",
            "kind": kind,
            "id": f"{kind}-{run}",
            "occurred_at": iso(at),
            "recorded_at": iso(at + dt.timedelta(minutes=1)),
            "source": _source(workflow, run),
            **fields,
        }
        events.append(record)
        return record

    # What is expected, from the scenario as drawn.
    deployed: dict[tuple[str, str], list[dict[str, Any]]] = {}  # (env, week) -> deployments
    attempts: dict[tuple[str, str], list[bool]] = {}  # (env, week) -> succeeded?
    restores: dict[tuple[str, str], list[float]] = {}  # (env, week of start) -> minutes
    rollbacks_in: dict[tuple[str, str], int] = {}
    open_incidents = 0
    services = iter(f"svc-{n}" for n in range(10**6))

    def deploy(
        env: str,
        at: dt.datetime,
        lead_hours: float,
        *,
        reverts: str | None = None,
        service: str | None = None,
    ) -> dict[str, Any]:
        commit = _sha(rng)
        fields: dict[str, Any] = {
            "environment": env,
            "service": service or next(services),
            "digest": _digest(rng),
            "commit": commit,
            # Whole seconds, as the events carry times.
            "commit_authored_at": iso(at - dt.timedelta(seconds=round(lead_hours * 3600))),
            "status": "success",
        }
        if reverts:
            fields["reverts"] = reverts
        record = event("deployment", at, "promote" if env == "production" else "delivery", **fields)
        key = (env, week_label(at))
        deployed.setdefault(key, []).append({"lead": round(lead_hours * 3600) / 3600, "failed": False})
        attempts.setdefault(key, []).append(True)
        return record

    for env in ENVIRONMENTS:
        for index, start in enumerate(starts):
            # Production's second week deploys nothing at all (the edge case).
            if env == "production" and index == 1:
                continue
            count = rng.randint(3, 18)
            for _ in range(count):
                # Deployments inside the week, early enough that a failure's recovery (at most
                # 11 hours later) stays in the same week.
                at = start + dt.timedelta(minutes=rng.randint(0, 6 * 24 * 60 - 12 * 60))
                skewed = rng.random() < 0.08
                lead = -rng.uniform(0.1, 2.0) if skewed else rng.uniform(0.2, 30.0)
                record = deploy(env, at, lead)
                entry = deployed[(env, week_label(at))][-1]
                if skewed:
                    entry["lead"] = None
                outcome = rng.choices(
                    ["ok", "rollback", "incident", "unresolved", "revert"], weights=[70, 8, 10, 3, 9]
                )[0]
                if outcome == "ok":
                    continue
                entry["failed"] = True
                if outcome == "rollback":
                    minutes = rng.randint(2, 90)
                    rolled = at + dt.timedelta(minutes=minutes)
                    event(
                        "rollback", rolled, "delivery-events", environment=env,
                        application=f"platform-{env}-{record['service']}", revision=record["commit"],
                        reason="rollout-aborted",
                    )  # fmt: skip
                    restores.setdefault((env, week_label(at)), []).append(minutes)
                    rollbacks_in[(env, week_label(rolled))] = (
                        rollbacks_in.get((env, week_label(rolled)), 0) + 1
                    )
                elif outcome in ("incident", "unresolved"):
                    opened = at + dt.timedelta(minutes=rng.randint(1, 60))
                    application = f"platform-{env}-{record['service']}"
                    event("incident", opened, "delivery-events", environment=env, application=application,
                          revision=record["commit"], action="opened")  # fmt: skip
                    if outcome == "incident":
                        minutes = rng.randint(3, 240)
                        event("incident", opened + dt.timedelta(minutes=minutes), "delivery-events",
                              environment=env, application=application, revision=record["commit"],
                              action="resolved")  # fmt: skip
                        restores.setdefault((env, week_label(opened)), []).append(minutes)
                    else:
                        open_incidents += 1
                else:  # reverted by a later deployment of the same service
                    minutes = rng.randint(10, 600)
                    deploy(
                        env, at + dt.timedelta(minutes=minutes), rng.uniform(0.1, 3.0),
                        reverts=record["commit"], service=record["service"],
                    )  # fmt: skip
                    restores.setdefault((env, week_label(at)), []).append(minutes)
            if env == "production":
                # A release whose sync failed (promote.yml's health job): a failed attempt of a
                # deployed service, then an incident of it. The incident follows the failed
                # attempt, not the deployment before it: no change failure, but a restore.
                at = start + dt.timedelta(minutes=rng.randint(0, 4 * 24 * 60))
                record = deploy(env, at, rng.uniform(0.2, 30.0))
                tried_at = at + dt.timedelta(minutes=rng.randint(30, 600))
                event("deployment", tried_at, "promote", environment=env, service=record["service"],
                      digest=_digest(rng), commit=_sha(rng), commit_authored_at=iso(tried_at - dt.timedelta(hours=2)),
                      status="failure")  # fmt: skip
                attempts.setdefault((env, week_label(tried_at)), []).append(False)
                opened = tried_at + dt.timedelta(minutes=rng.randint(1, 20))
                minutes = rng.randint(5, 120)
                for action, moment in (
                    ("opened", opened),
                    ("resolved", opened + dt.timedelta(minutes=minutes)),
                ):
                    event("incident", moment, "promote", environment=env, application=f"platform-{env}-{record['service']}",
                          service=record["service"], revision=_sha(rng), action=action)  # fmt: skip
                restores.setdefault((env, week_label(opened)), []).append(minutes)
            # Failed deployment attempts (the GitOps push failed).
            for _ in range(rng.randint(0, 2)):
                at = start + dt.timedelta(minutes=rng.randint(0, 7 * 24 * 60 - 1))
                event("deployment", at, "delivery", environment=env, service=next(services), digest=_digest(rng),
                      commit=_sha(rng), commit_authored_at=iso(at - dt.timedelta(hours=1)), status="failure")  # fmt: skip
                attempts.setdefault((env, week_label(at)), []).append(False)

    # An incident of the infrastructure Application (no service): a restore, not a change failure.
    infra_open = starts[-1] + dt.timedelta(days=2, hours=3)
    for action, at in (("opened", infra_open), ("resolved", infra_open + dt.timedelta(minutes=44))):
        event("incident", at, "delivery-events", environment="staging", application="platform-staging-infrastructure",
              revision=_sha(rng), action=action)  # fmt: skip
    restores.setdefault(("staging", week_label(infra_open)), []).append(44)
    # A recovery without an open incident (an ordinary sync turning healthy): ignored.
    event("incident", starts[-1] + dt.timedelta(days=1), "delivery-events", environment="production",
          application="platform-production-svc-none", revision=_sha(rng), action="resolved")  # fmt: skip

    # CI runs: durations and conclusions drawn; other workflows' runs must not count.
    ci_runs: dict[str, list[tuple[str, float]]] = {}
    for start in starts:
        for _ in range(rng.randint(4, 14)):
            begun = start + dt.timedelta(minutes=rng.randint(0, 7 * 24 * 60 - 120))
            conclusion = rng.choices(["success", "failure", "cancelled", "timed_out"], weights=[85, 9, 4, 2])[
                0
            ]
            minutes = rng.uniform(18, 70)
            jobs = []
            cursor = begun
            for name, share in (("discover", 0.05), ("build", 0.4), ("test", 0.35), ("scan", 0.2)):
                length = minutes * share
                jobs.append({"name": name, "conclusion": "success", "started_at": iso(cursor),
                             "completed_at": iso(cursor + dt.timedelta(minutes=length)),
                             "duration_seconds": round(length * 60, 3)})  # fmt: skip
                cursor += dt.timedelta(minutes=length)
            finished = begun + dt.timedelta(minutes=minutes)
            event("pipeline_run", finished, "ci", workflow="ci", commit=_sha(rng), ref="main", event="push",
                  conclusion=conclusion, queued_at=iso(begun - dt.timedelta(minutes=1)), started_at=iso(begun),
                  completed_at=iso(finished), jobs=jobs)  # fmt: skip
            # Whole seconds on both ends, as the events carry them.
            exact = (
                dt.datetime.fromisoformat(iso(finished)) - dt.datetime.fromisoformat(iso(begun))
            ).total_seconds()
            ci_runs.setdefault(week_label(begun), []).append((conclusion, exact / 60))
        other = start + dt.timedelta(days=3)
        event("pipeline_run", other + dt.timedelta(minutes=200), "delivery", workflow="delivery", commit=_sha(rng),
              ref="main", event="push", conclusion="failure", queued_at=iso(other), started_at=iso(other),
              completed_at=iso(other + dt.timedelta(minutes=200)), jobs=[])  # fmt: skip

    # One event lost (recorded as a gap by a later attempt) and one object that is not an event.
    event("gap", starts[-1] + dt.timedelta(days=4), "delivery", lost_kind="deployment", lost_id="deployment-lost",
          error="An error occurred (InvalidRequest)")  # fmt: skip
    garbage = {
        "events/v1/deployment/2026/11/20/broken.json": b"{not json",
        "ci/ci/2026/11/20/1-1.json": b"{}",
    }

    expected = Expected(gaps=1, rejected=1, open_incidents=open_incidents)
    for env in ENVIRONMENTS:
        for label in labels:
            mine = deployed.get((env, label), [])
            count = len(mine)
            leads = [d["lead"] for d in mine if d["lead"] is not None]
            failed = sum(1 for d in mine if d["failed"])
            tried = attempts.get((env, label), [])
            restored = restores.get((env, label), [])
            rolled = rollbacks_in.get((env, label), 0)
            expected.figures[(env, label)] = {
                "deploys_per_day": count / 7,
                "lead_time_hours": median(leads) if leads else None,
                "change_failure_rate": 100 * failed / count if count else None,
                "mttr_minutes": mean(restored) if restored else None,
                "deployment_success_rate": 100 * sum(tried) / len(tried) if tried else None,
                "rollback_rate": 100 * rolled / count if count else None,
            }
    for label in labels:
        runs = ci_runs.get(label, [])
        succeeded = [m for c, m in runs if c == "success"]
        judged = [c for c, _ in runs if c in ("success", "failure", "timed_out")]
        expected.figures[("pipeline", label)] = {
            "pipeline_minutes": median(succeeded) if succeeded else None,
            "build_success_rate": 100 * len(succeeded) / len(judged) if judged else None,
        }
    return History(events=events, expected=expected, weeks=labels, now=now, garbage=garbage)
