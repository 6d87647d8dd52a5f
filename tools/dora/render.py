"""The report as Markdown (job summary) and as one self-contained HTML page of plotly plots."""

from __future__ import annotations

import html
import math
from typing import Any

import pandas as pd
import plotly.express as px
import plotly.graph_objects as go
import plotly.offline

from tools.dora.metrics import ENVIRONMENTS, PIPELINE, TARGETS, Analysis, Target, format_value, trend, verdict

# The plots the page holds, by element id (the browser test checks each one rendered).
PLOTS = ("lead-time", "deployment-frequency", "change-failure-rate", "mttr", "pipeline-jobs")


def _value(figures: pd.DataFrame, group: str, week: str, metric: str) -> float | None:
    row = figures[(figures["group"] == group) & (figures["week"] == week)]
    if row.empty or metric not in row:
        return None
    value = row.iloc[0][metric]
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    return float(value)


def _groups(target: Target) -> tuple[str, ...]:
    return (PIPELINE,) if target.scope == PIPELINE else ENVIRONMENTS


def markdown(analysis: Analysis, *, judged_week: str) -> str:
    """One table per target: rows per environment and week, the figure, the verdict, the trend."""
    lines = [
        "# Delivery performance (DORA)",
        "",
        f"Weeks {analysis.weeks[0]} to {analysis.weeks[-1]} (ISO weeks, UTC). Targets from seed 003; "
        f"definitions in docs/dora-metrics.md. Judged week: **{judged_week}**.",
        "",
        f"Data gaps: {analysis.gaps} event(s) not uploaded when they happened, "
        f"{analysis.rejected} unreadable object(s); open incidents: {analysis.open_incidents}.",
        "",
    ]
    for target in TARGETS:
        lines += [
            f"## {target.label} (target {target.seed})",
            "",
            "| group | week | value | verdict | trend |",
        ]
        lines.append("|---|---|---|---|---|")
        for group in _groups(target):
            previous: float | None = None
            for week in analysis.weeks:
                value = _value(analysis.figures, group, week, target.metric)
                lines.append(
                    f"| {group} | {week} | {format_value(target, value)} | {verdict(target, value)} "
                    f"| {trend(target, value, previous)} |"
                )
                previous = value
        lines.append("")
    return "\n".join(lines)


def _figures(analysis: Analysis) -> dict[str, go.Figure]:
    figures = analysis.figures
    environments = figures[figures["group"] != PIPELINE].copy()
    deployments = analysis.deployments.dropna(subset=["lead_time_hours"])
    lead = px.histogram(
        deployments if not deployments.empty else pd.DataFrame({"lead_time_hours": [], "environment": []}),
        x="lead_time_hours",
        color="environment",
        barmode="overlay",
        nbins=40,
        title="Lead time for changes (hours, commit to deployment)",
        labels={"lead_time_hours": "hours"},
    )
    lead.add_vline(x=6, line_dash="dash", annotation_text="target ≤ 6 h")
    frequency = px.bar(
        environments,
        x="week",
        y="deploys_per_day",
        color="group",
        barmode="group",
        title="Deployment frequency (deployments per day)",
        labels={"deploys_per_day": "per day", "group": "environment"},
    )
    frequency.add_hline(y=2, line_dash="dash", annotation_text="target ≥ 2 per day")
    failure = px.line(
        environments,
        x="week",
        y="change_failure_rate",
        color="group",
        markers=True,
        title="Change failure rate (%)",
        labels={"change_failure_rate": "%", "group": "environment"},
    )
    failure.add_hline(y=5, line_dash="dash", annotation_text="target < 5 %")
    mttr = px.line(
        environments,
        x="week",
        y="mttr_minutes",
        color="group",
        markers=True,
        title="Time to restore service (mean, minutes)",
        labels={"mttr_minutes": "minutes", "group": "environment"},
    )
    mttr.add_hline(y=30, line_dash="dash", annotation_text="target < 30 min")
    jobs = analysis.jobs.sort_values("started_at") if not analysis.jobs.empty else analysis.jobs
    pipeline = px.scatter(
        jobs,
        x="started_at",
        y="minutes",
        color="job",
        symbol="workflow",
        title="Pipeline duration per job over time (minutes)",
        labels={"started_at": "job started", "minutes": "minutes"},
    )
    return {
        "lead-time": lead,
        "deployment-frequency": frequency,
        "change-failure-rate": failure,
        "mttr": mttr,
        "pipeline-jobs": pipeline,
    }


def html_page(analysis: Analysis, summary_markdown: str, *, judged_week: str) -> str:
    """A page that needs nothing from the network: plotly.js is inlined once."""
    plots = []
    for plot_id, figure in _figures(analysis).items():
        figure.update_layout(height=420, margin={"l": 60, "r": 30, "t": 60, "b": 50})
        plots.append(
            f'<section class="plot-card"><div class="plot" id="{plot_id}-card">'
            + figure.to_html(full_html=False, include_plotlyjs=False, div_id=plot_id)
            + "</div></section>"
        )
    table = _html_table(analysis)
    script: str = plotly.offline.get_plotlyjs()
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        "<title>Delivery performance (DORA)</title>"
        "<style>body{font-family:sans-serif;margin:2em;max-width:1200px}"
        "table{border-collapse:collapse;margin-bottom:1.5em}td,th{border:1px solid #ccc;padding:4px 8px}"
        ".missed{background:#fdd}.met{background:#dfd}</style>"
        f"<script>{script}</script></head><body>"
        "<h1>Delivery performance (DORA)</h1>"
        f"<p>Weeks {html.escape(analysis.weeks[0])} to {html.escape(analysis.weeks[-1])}; judged week "
        f"<b>{html.escape(judged_week)}</b>. Gaps: {analysis.gaps}; unreadable objects: {analysis.rejected}; "
        f"open incidents: {analysis.open_incidents}.</p>"
        + table
        + "".join(plots)
        + f"<details><summary>Markdown summary</summary><pre>{html.escape(summary_markdown)}</pre></details>"
        + "</body></html>\n"
    )


def _html_table(analysis: Analysis) -> str:
    week = analysis.weeks[-1]
    previous_week = analysis.weeks[-2] if len(analysis.weeks) > 1 else None
    rows = [
        "<table><tr><th>metric</th><th>group</th><th>value</th><th>target</th><th>verdict</th><th>trend</th></tr>"
    ]
    for target in TARGETS:
        for group in _groups(target):
            value = _value(analysis.figures, group, week, target.metric)
            before = _value(analysis.figures, group, previous_week, target.metric) if previous_week else None
            result = verdict(target, value)
            cells: list[Any] = [
                target.label, group, format_value(target, value), target.seed, result, trend(target, value, before)
            ]  # fmt: skip
            rows.append(
                f'<tr class="{result}">' + "".join(f"<td>{html.escape(str(c))}</td>" for c in cells) + "</tr>"
            )
    rows.append("</table>")
    return f"<h2>Week {html.escape(week)}</h2>" + "".join(rows)
