"""DORA figures from delivery events, per environment and ISO week (docs/dora-metrics.md).

Pure: events in, tables out (pandas). The definitions, in short:

- a *deployment* is a ``deployment`` event with status ``success``; its week is the week it
  was deployed; *deployment frequency* is a week's deployments divided by 7 (per day);
- *lead time for changes* is a deployment's time minus its commit's author time; a negative
  one is clock skew, left out of the median and counted;
- a deployment *failed* when, before the next deployment attempt of the same service to the
  same environment, a rollback or an incident of that service there followed it, or when a later
  deployment there reverts its commit; *change failure rate* is failed / deployments;
- *time to restore* is an incident's open-to-resolved time, or, for a failed deployment no
  incident covered, the time from the deployment to its rollback or revert; *MTTR* is their
  mean, by the week the failure started;
- *deployment success rate* counts failed deployment attempts (status ``failure``) too;
  *rollback rate* is a week's rollbacks divided by its deployments;
- the pipeline's figures come from ``pipeline_run`` events of the CI workflow: the median
  duration of successful runs (start to completion) and the build success rate (successes
  over successes and failures; cancelled runs are no verdict).
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from statistics import mean, median
from typing import Any

import pandas as pd

ENVIRONMENTS = ("development", "staging", "production")
PIPELINE = "pipeline"  # the row group of the CI figures, which belong to no environment
CI_WORKFLOW = "ci"
WEEK_DAYS = 7


def parse_time(value: str) -> dt.datetime:
    return dt.datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(dt.UTC)


def week_of(moment: dt.datetime) -> str:
    year, week, _ = moment.isocalendar()
    return f"{year}-W{week:02d}"


def week_start(label: str) -> dt.datetime:
    return dt.datetime.strptime(label + "-1", "%G-W%V-%u").replace(tzinfo=dt.UTC)


def weeks_until(now: dt.datetime, count: int) -> list[str]:
    """The ``count`` ISO weeks ending with the week of ``now``, oldest first."""
    return [week_of(now - dt.timedelta(weeks=back)) for back in range(count - 1, -1, -1)]


@dataclass(frozen=True)
class Target:
    """A seed 003 target: ``met`` says whether a figure meets it."""

    metric: str
    label: str
    unit: str
    seed: str  # the target as seed 003 words it
    better: str  # "higher" or "lower"
    met: Callable[[float], bool]
    scope: str = "environment"  # or "pipeline"


TARGETS: tuple[Target, ...] = (
    Target(
        "deploys_per_day", "Deployment frequency", "per day", "2-3 times per day", "higher", lambda v: v >= 2
    ),
    Target("lead_time_hours", "Lead time for changes (median)", "h", "4-6 hours", "lower", lambda v: v <= 6),
    Target("change_failure_rate", "Change failure rate", "%", "< 5 %", "lower", lambda v: v < 5),
    Target("mttr_minutes", "Time to restore (mean)", "min", "< 30 minutes", "lower", lambda v: v < 30),
    Target("deployment_success_rate", "Deployment success rate", "%", "> 98 %", "higher", lambda v: v > 98),
    Target("rollback_rate", "Rollback rate", "%", "< 3 %", "lower", lambda v: v < 3),
    Target(
        "pipeline_minutes",
        "Pipeline duration (median)",
        "min",
        "30-45 minutes",
        "lower",
        lambda v: v <= 45,
        scope="pipeline",
    ),
    Target(
        "build_success_rate",
        "Build success rate",
        "%",
        "> 95 %",
        "higher",
        lambda v: v > 95,
        scope="pipeline",
    ),
)


def _service_of(event: dict[str, Any]) -> str | None:
    """The service an Argo CD event names: its ``service``, else the Application's name
    ``platform-<env>-<service>`` (the infrastructure Application names none)."""
    if event.get("service"):
        return str(event["service"])
    prefix = f"platform-{event['environment']}-"
    application = str(event.get("application", ""))
    if application.startswith(prefix) and application != f"{prefix}infrastructure":
        return application[len(prefix) :]
    return None


@dataclass
class Analysis:
    """Everything the report shows, as frames."""

    weeks: list[str]
    deployments: pd.DataFrame  # one row per successful deployment, with lead time and failure
    restores: pd.DataFrame  # one row per restore: environment, started, minutes, cause
    pipeline_runs: pd.DataFrame  # one row per CI run
    jobs: pd.DataFrame  # one row per job of every pipeline run
    figures: pd.DataFrame  # (group, week) rows, one column per metric
    gaps: int
    rejected: int
    open_incidents: int


def _deployments(events: Sequence[dict[str, Any]]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    attempts = [e for e in events if e["kind"] == "deployment"]
    done = sorted(
        (e for e in attempts if e["status"] == "success"),
        key=lambda e: (e["environment"], e["service"], parse_time(e["occurred_at"])),
    )
    return attempts, done


def analyse(
    events: Iterable[dict[str, Any]], *, now: dt.datetime, weeks: int = 8, rejected: int = 0
) -> Analysis:
    events = list(events)
    window = weeks_until(now, weeks)
    attempts, done = _deployments(events)
    rollbacks = [e for e in events if e["kind"] == "rollback"]
    incidents = sorted((e for e in events if e["kind"] == "incident"), key=lambda e: e["occurred_at"])

    # Incidents: each opened one is resolved by the first later `resolved` of its Application.
    paired: list[dict[str, Any]] = []
    open_incidents = 0
    resolutions = [e for e in incidents if e["action"] == "resolved"]
    used: set[int] = set()
    for opened in (e for e in incidents if e["action"] == "opened"):
        start = parse_time(opened["occurred_at"])
        resolved_at = None
        for index, resolved in enumerate(resolutions):
            if (
                index not in used
                and resolved["environment"] == opened["environment"]
                and resolved["application"] == opened["application"]
                and parse_time(resolved["occurred_at"]) >= start
            ):
                used.add(index)
                resolved_at = parse_time(resolved["occurred_at"])
                break
        if resolved_at is None:
            open_incidents += 1
        paired.append(
            {
                "environment": opened["environment"],
                "service": _service_of(opened),
                "start": start,
                "end": resolved_at,
                "covered": False,
            }
        )

    rows: list[dict[str, Any]] = []
    restores: list[dict[str, Any]] = []
    for deployment in done:
        env, service = deployment["environment"], deployment["service"]
        at = parse_time(deployment["occurred_at"])
        # Until the service's next deployment attempt there, failed ones included: what follows
        # a failed attempt (production's failed sync and its incident) is not this one's failure.
        window_end = min(
            (
                parse_time(a["occurred_at"])
                for a in attempts
                if a["environment"] == env and a["service"] == service and parse_time(a["occurred_at"]) > at
            ),
            default=None,
        )

        def in_window(
            moment: dt.datetime, at: dt.datetime = at, end: dt.datetime | None = window_end
        ) -> bool:
            return moment >= at and (end is None or moment < end)

        rollback_times = sorted(
            parse_time(r["occurred_at"])
            for r in rollbacks
            if r["environment"] == env
            and _service_of(r) == service
            and in_window(parse_time(r["occurred_at"]))
        )
        revert_times = sorted(
            parse_time(d["occurred_at"])
            for d in done
            if d["environment"] == env
            and d.get("reverts") == deployment["commit"]
            and parse_time(d["occurred_at"]) > at
        )
        covering = [
            p for p in paired if p["environment"] == env and p["service"] == service and in_window(p["start"])
        ]
        failed = bool(rollback_times or revert_times or covering)
        lead = (at - parse_time(deployment["commit_authored_at"])).total_seconds() / 3600
        rows.append(
            {
                "environment": env,
                "service": service,
                "commit": deployment["commit"],
                "deployed_at": at,
                "week": week_of(at),
                "lead_time_hours": lead if lead >= 0 else math.nan,
                "clock_skew": lead < 0,
                "failed": failed,
            }
        )
        if covering:
            for incident in covering:
                incident["covered"] = True
        elif failed:
            recovered = min([*rollback_times, *revert_times])
            restores.append(
                {
                    "environment": env,
                    "started": at,
                    "week": week_of(at),
                    "minutes": (recovered - at).total_seconds() / 60,
                    "cause": "rollback" if rollback_times and recovered == rollback_times[0] else "revert",
                }
            )
    for incident in paired:
        if incident["end"] is not None:
            restores.append(
                {
                    "environment": incident["environment"],
                    "started": incident["start"],
                    "week": week_of(incident["start"]),
                    "minutes": (incident["end"] - incident["start"]).total_seconds() / 60,
                    "cause": "incident",
                }
            )

    deployments = pd.DataFrame(
        rows,
        columns=[
            "environment", "service", "commit", "deployed_at", "week", "lead_time_hours", "clock_skew", "failed",
        ],
    )  # fmt: skip
    restore_frame = pd.DataFrame(restores, columns=["environment", "started", "week", "minutes", "cause"])

    runs = [e for e in events if e["kind"] == "pipeline_run" and e["workflow"] == CI_WORKFLOW]
    pipeline_runs = pd.DataFrame(
        [
            {
                "commit": r["commit"],
                "conclusion": r["conclusion"],
                "started_at": parse_time(r["started_at"]),
                "week": week_of(parse_time(r["started_at"])),
                "minutes": (parse_time(r["completed_at"]) - parse_time(r["started_at"])).total_seconds() / 60,
                "queued_minutes": (parse_time(r["started_at"]) - parse_time(r["queued_at"])).total_seconds()
                / 60,
            }
            for r in runs
        ],
        columns=["commit", "conclusion", "started_at", "week", "minutes", "queued_minutes"],
    )
    jobs = pd.DataFrame(
        [
            {
                "workflow": r["workflow"],
                "job": j["name"],
                "started_at": parse_time(j["started_at"]),
                "minutes": j["duration_seconds"] / 60,
                "conclusion": j["conclusion"],
            }
            for r in events
            if r["kind"] == "pipeline_run"
            for j in r["jobs"]
        ],
        columns=["workflow", "job", "started_at", "minutes", "conclusion"],
    )

    figures: list[dict[str, Any]] = []
    for env in ENVIRONMENTS:
        for week in window:
            figures.append(
                _environment_figures(
                    env,
                    week=week,
                    deployments=deployments,
                    restores=restore_frame,
                    attempts=attempts,
                    rollbacks=rollbacks,
                )
            )
    for week in window:
        figures.append(_pipeline_figures(week, pipeline_runs))
    gaps = sum(1 for e in events if e["kind"] == "gap")
    return Analysis(
        weeks=window,
        deployments=deployments,
        restores=restore_frame,
        pipeline_runs=pipeline_runs,
        jobs=jobs,
        figures=pd.DataFrame(figures),
        gaps=gaps,
        rejected=rejected,
        open_incidents=open_incidents,
    )


def _or_none(value: float) -> float | None:
    return None if value is None or (isinstance(value, float) and math.isnan(value)) else float(value)


def _environment_figures(
    env: str,
    *,
    week: str,
    deployments: pd.DataFrame,
    restores: pd.DataFrame,
    attempts: Sequence[dict[str, Any]],
    rollbacks: Sequence[dict[str, Any]],
) -> dict[str, Any]:
    mine = deployments[(deployments["environment"] == env) & (deployments["week"] == week)]
    count = len(mine)
    leads = mine["lead_time_hours"].dropna()
    tried = [a for a in attempts if a["environment"] == env and week_of(parse_time(a["occurred_at"])) == week]
    succeeded = sum(1 for a in tried if a["status"] == "success")
    rolled_back = sum(
        1 for r in rollbacks if r["environment"] == env and week_of(parse_time(r["occurred_at"])) == week
    )
    restored = restores[(restores["environment"] == env) & (restores["week"] == week)]["minutes"]
    return {
        "group": env,
        "week": week,
        "deployments": count,
        "deploys_per_day": count / WEEK_DAYS,
        "lead_time_hours": _or_none(float(median(leads))) if len(leads) else None,
        "clock_skew": int(mine["clock_skew"].sum()),
        "failed_deployments": int(mine["failed"].sum()),
        "change_failure_rate": 100 * float(mine["failed"].sum()) / count if count else None,
        "mttr_minutes": float(mean(restored)) if len(restored) else None,
        "deployment_success_rate": 100 * succeeded / len(tried) if tried else None,
        "rollbacks": rolled_back,
        "rollback_rate": 100 * rolled_back / count if count else None,
    }


def _pipeline_figures(week: str, runs: pd.DataFrame) -> dict[str, Any]:
    mine = runs[runs["week"] == week]
    succeeded = mine[mine["conclusion"] == "success"]
    judged = mine[mine["conclusion"].isin(["success", "failure", "timed_out"])]
    return {
        "group": PIPELINE,
        "week": week,
        "runs": len(mine),
        "pipeline_minutes": float(median(succeeded["minutes"])) if len(succeeded) else None,
        "build_success_rate": 100 * len(succeeded) / len(judged) if len(judged) else None,
    }


def trend(target: Target, current: float | None, previous: float | None) -> str:
    """How a figure moved since the week before, in the target's direction."""
    if current is None or previous is None:
        return "n/a"
    if math.isclose(current, previous, rel_tol=1e-9, abs_tol=1e-9):
        return "→ same"
    up = current > previous
    improved = up if target.better == "higher" else not up
    return f"{'↑' if up else '↓'} {'better' if improved else 'worse'}"


def verdict(target: Target, value: float | None, *, deployments: int | None = None) -> str:
    """``met``, ``missed`` or ``n/a``. A week without deployments misses the frequency target
    and has no failure rate, time to restore or rollback rate to judge."""
    if value is None:
        return "n/a"
    return "met" if target.met(value) else "missed"


def missed_targets(analysis: Analysis, week: str) -> list[str]:
    """Every target the given week missed, one line each (for Slack)."""
    lines = []
    for target in TARGETS:
        groups = [PIPELINE] if target.scope == PIPELINE else list(ENVIRONMENTS)
        for group in groups:
            row = analysis.figures[(analysis.figures["group"] == group) & (analysis.figures["week"] == week)]
            if row.empty or target.metric not in row:
                continue
            value = _or_none(row.iloc[0][target.metric])
            if verdict(target, value) == "missed":
                lines.append(
                    f"{group} {week}: {target.label} {format_value(target, value)} (target {target.seed})"
                )
    return lines


def format_value(target: Target, value: float | None) -> str:
    if value is None:
        return "—"
    return f"{value:.2f} {target.unit}".replace(" %", " %")
