"""The DORA report against a real S3-compatible server and in a real browser.

A generated event history (tests/support/dora_history.py: deployments with drawn lead times and
outcomes, rollbacks, incidents, reverts, failed attempts, clock skew, a week without
production deployments, CI runs, a gap record, an unreadable object, a re-uploaded event) is
put into MinIO (tests/support/s3_server.py, a real server process on 127.0.0.1), `python -m
tools.dora` reads it back through the S3 API, and every figure of its Markdown summary must
equal the figure the history's generator computed from the drawn scenario. The HTML page is
then opened in headless Chromium: every plot must render, with no console error.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import os
import re
import shutil
import struct
import subprocess
import sys
import zlib
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config
from playwright.sync_api import sync_playwright

from components.contracts import delivery_events
from tests.support import s3_server
from tests.support.dora_history import History, generate, iso
from tests.support.paths import ROOT
from tools.dora import metrics
from tools.dora.render import PLOTS

pytestmark = [pytest.mark.go, pytest.mark.slow]

BUCKET = "delivery-metrics"
REGION = "us-east-1"
# Seed 003's targets, as thresholds written out here (not read from the report's code).
MEETS = {
    "deploys_per_day": lambda v: v >= 2,
    "lead_time_hours": lambda v: v <= 6,
    "change_failure_rate": lambda v: v < 5,
    "mttr_minutes": lambda v: v < 30,
    "deployment_success_rate": lambda v: v > 98,
    "rollback_rate": lambda v: v < 3,
    "pipeline_minutes": lambda v: v <= 45,
    "build_success_rate": lambda v: v > 95,
}
HIGHER_IS_BETTER = {"deploys_per_day", "deployment_success_rate", "build_success_rate"}
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def s3_client(server: s3_server.Server) -> Any:
    return boto3.client(
        "s3",
        endpoint_url=server.endpoint,
        region_name=REGION,
        aws_access_key_id=server.access_key,
        aws_secret_access_key=server.secret_key,
        config=Config(
            request_checksum_calculation="when_required", response_checksum_validation="when_required"
        ),
    )


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Any:
    data = tmp_path_factory.mktemp("minio") / "data"
    data.mkdir()
    with s3_server.running(data) as running:
        yield running


def load_history(server: s3_server.Server, history: History, bucket: str) -> None:
    s3 = s3_client(server)
    s3.create_bucket(Bucket=bucket)
    for record in history.events:
        key = delivery_events.object_key(record["kind"], record["occurred_at"], record["id"])
        s3.put_object(
            Bucket=bucket, Key=key, Body=json.dumps(record).encode(), ContentType="application/json"
        )
    # A re-run attempt uploading the first deployment again: counted once.
    first = next(e for e in history.events if e["kind"] == "deployment")
    again = delivery_events.object_key("deployment", first["occurred_at"], first["id"]).replace(
        ".json", "-2.json"
    )
    s3.put_object(Bucket=bucket, Key=again, Body=json.dumps(first).encode())
    for key, body in history.garbage.items():
        s3.put_object(Bucket=bucket, Key=key, Body=body)


def make_report(server: s3_server.Server, bucket: str, out: Path, now: dt.datetime, weeks: int) -> str:
    env = {
        **os.environ,
        "AWS_ACCESS_KEY_ID": server.access_key,
        "AWS_SECRET_ACCESS_KEY": server.secret_key,
    }
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "tools.dora",
            "--bucket",
            bucket,
            "--endpoint",
            server.endpoint,
            "--region",
            REGION,
            "--out",
            str(out),
            "--weeks",
            str(weeks),
            "--now",
            iso(now),
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout + done.stderr


@pytest.fixture(scope="module")
def reported(server: s3_server.Server, tmp_path_factory: pytest.TempPathFactory) -> tuple[History, Path, str]:
    history = generate(seed=18)
    load_history(server, history, BUCKET)
    out = tmp_path_factory.mktemp("report")
    output = make_report(server, BUCKET, out, history.now, len(history.weeks))
    return history, out, output


def summary_rows(text: str) -> dict[tuple[str, str, str], tuple[str, str, str]]:
    """(metric, group, week) -> (value, verdict, trend) of every table row of summary.md."""
    labels = {t.label: t.metric for t in metrics.TARGETS}
    rows: dict[tuple[str, str, str], tuple[str, str, str]] = {}
    metric = None
    for line in text.splitlines():
        heading = re.match(r"^## (.+) \(target .+\)$", line)
        if heading:
            metric = labels[heading.group(1)]
            continue
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if metric and len(cells) == 5 and re.match(r"^\d{4}-W\d{2}$", cells[1]):
            rows[metric, cells[0], cells[1]] = (cells[2], cells[3], cells[4])
    return rows


def number(cell: str) -> float | None:
    return None if cell == "—" else float(cell.split(maxsplit=1)[0])


def test_every_dora_figure_matches_the_generated_history(reported: tuple[History, Path, str]) -> None:
    history, out, _ = reported
    rows = summary_rows((out / "summary.md").read_text())
    checked = 0
    for (group, week), figures in history.expected.figures.items():
        for metric, want in figures.items():
            value, verdict, _ = rows[metric, group, week]
            got = number(value)
            if want is None:
                assert got is None and verdict == "n/a", (metric, group, week, value)
            else:
                assert got is not None and math.isclose(got, want, abs_tol=0.006), (
                    metric,
                    group,
                    week,
                    value,
                    want,
                )
                assert verdict == ("met" if MEETS[metric](want) else "missed"), (metric, group, week, verdict)
            checked += 1
    # Every environment's six figures and the pipeline's two, for each week: nothing unchecked.
    assert checked == len(rows) == len(history.weeks) * (3 * 6 + 2)
    # The history exercises what it should: failures, restores, a missed and a met target.
    verdicts = {v for _, v, _ in rows.values()}
    assert {"met", "missed", "n/a"} <= verdicts


def test_a_week_without_deployments_misses_frequency_and_judges_nothing_else(
    reported: tuple[History, Path, str],
) -> None:
    history, out, _ = reported
    rows = summary_rows((out / "summary.md").read_text())
    empty = history.weeks[1]
    assert rows["deploys_per_day", "production", empty][:2] == ("0.00 per day", "missed")
    for metric in ("lead_time_hours", "change_failure_rate", "mttr_minutes", "rollback_rate"):
        assert rows[metric, "production", empty][:2] == ("—", "n/a"), metric


def test_trends_compare_each_week_with_the_one_before(reported: tuple[History, Path, str]) -> None:
    history, out, _ = reported
    rows = summary_rows((out / "summary.md").read_text())
    for (metric, group, week), (_, _, trend) in rows.items():
        index = history.weeks.index(week)
        now = history.expected.figures[group, week][metric]
        before = history.expected.figures[group, history.weeks[index - 1]][metric] if index else None
        if now is None or before is None:
            assert trend == "n/a", (metric, group, week)
        elif math.isclose(now, before, abs_tol=1e-9):
            assert trend == "→ same"
        else:
            up = now > before
            better = up == (metric in HIGHER_IS_BETTER)
            assert trend == f"{'↑' if up else '↓'} {'better' if better else 'worse'}", (metric, group, week)


def test_missed_targets_of_the_judged_week_are_listed_for_slack(reported: tuple[History, Path, str]) -> None:
    history, out, _ = reported
    judged = history.weeks[-1]
    want = set()
    for (group, week), figures in history.expected.figures.items():
        for metric, value in figures.items():
            if week == judged and value is not None and not MEETS[metric](value):
                want.add((group, metric))
    labels = {t.label: t.metric for t in metrics.TARGETS}
    lines = (out / "missed.txt").read_text().splitlines()
    got = set()
    for line in lines:
        match = re.match(rf"^(\S+) {judged}: (.+?) [-0-9.]+ ", line)
        assert match, line
        got.add((match.group(1), labels[match.group(2)]))
    assert got == want and len(lines) == len(want)


def test_gaps_unreadable_objects_and_open_incidents_are_counted(reported: tuple[History, Path, str]) -> None:
    history, out, output = reported
    text = (out / "summary.md").read_text()
    assert (
        f"Data gaps: {history.expected.gaps} event(s) not uploaded when they happened, "
        f"{history.expected.rejected} unreadable object(s); open incidents: {history.expected.open_incidents}."
    ) in text
    assert "unreadable event events/v1/deployment/2026/11/20/broken.json" in output


def test_a_failure_belongs_to_the_deployment_it_followed() -> None:
    """Two deployments of one service: the incident after the second fails the second only,
    and a rollback without an incident restores from the deployment to the rollback."""
    base = dt.datetime(2026, 11, 16, 9, tzinfo=dt.UTC)

    def at(minutes: int) -> str:
        return iso(base + dt.timedelta(minutes=minutes))

    def deployment(minutes: int, commit: str, service: str = "api") -> dict[str, Any]:
        return {"kind": "deployment", "environment": "production", "service": service, "commit": commit * 40,
                "commit_authored_at": at(minutes - 120), "occurred_at": at(minutes), "status": "success"}  # fmt: skip

    events = [
        deployment(0, "a"),
        deployment(60, "b"),
        {
            "kind": "incident",
            "environment": "production",
            "application": "platform-production-api",
            "action": "opened",
            "occurred_at": at(70),
        },
        {
            "kind": "incident",
            "environment": "production",
            "application": "platform-production-api",
            "action": "resolved",
            "occurred_at": at(95),
        },
        deployment(200, "c", "web"),
        {
            "kind": "rollback",
            "environment": "production",
            "application": "platform-production-web",
            "occurred_at": at(212),
        },
    ]
    analysis = metrics.analyse(events, now=base + dt.timedelta(days=1), weeks=1)
    failed = dict(zip(analysis.deployments["commit"].str[0], analysis.deployments["failed"], strict=True))
    assert failed == {"a": False, "b": True, "c": True}
    assert sorted(analysis.restores["minutes"]) == [12, 25]


def test_the_page_is_self_contained(reported: tuple[History, Path, str]) -> None:
    _, out, _ = reported
    page = (out / "report.html").read_text()
    assert not re.search(r"<script[^>]+src=", page), "plotly.js must be inlined"
    assert not re.search(r"<link[^>]+href=", page), "no stylesheet to fetch"
    for plot in PLOTS:
        assert f'id="{plot}"' in page


# --------------------------------------------------------------------------- browser


def chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if not found:
        pytest.skip(
            "Chromium absent: `apt-get install -y chromium` (Debian); the HTML report was NOT opened in a browser"
        )
    return found


def distinct_bytes(png: bytes) -> int:
    """How many distinct byte values the image's pixel data holds (1 or 2: a blank image)."""
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    data, offset = b"", 8
    while offset < len(png):
        (length,) = struct.unpack(">I", png[offset : offset + 4])
        kind = png[offset + 4 : offset + 8]
        if kind == b"IDAT":
            data += png[offset + 8 : offset + 8 + length]
        offset += 12 + length
    return len(set(zlib.decompress(data)))


def test_every_plot_renders_in_headless_chromium(reported: tuple[History, Path, str], tmp_path: Path) -> None:
    executable = chromium()
    _, out, _ = reported
    errors: list[str] = []
    fetched: list[str] = []
    profile = tmp_path / "profile"  # a new, empty user-data-dir
    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(profile), executable_path=executable, headless=True, args=CHROMIUM_FLAGS
        )
        try:
            page = context.new_page()
            page.on(
                "console", lambda message: errors.append(message.text) if message.type == "error" else None
            )
            page.on("pageerror", lambda error: errors.append(str(error)))
            # Self-contained: the page asks the network for nothing.
            page.on("request", lambda request: fetched.append(request.url))
            page.goto((out / "report.html").as_uri(), wait_until="load")
            for plot in PLOTS:
                page.wait_for_selector(f"#{plot} .main-svg", timeout=60_000)
                # Data drawn: plotly's trace groups, not an empty frame.
                assert page.locator(f"#{plot} .trace").count() > 0, plot
                box = page.locator(f"#{plot}").bounding_box()
                assert box is not None and box["width"] > 300 and box["height"] > 300, (plot, box)
                shot = page.locator(f"#{plot}").screenshot()
                assert len(shot) > 5_000 and distinct_bytes(shot) > 16, plot
        finally:
            context.close()
    assert errors == []
    assert [url for url in fetched if not url.startswith(("file:", "data:"))] == []
