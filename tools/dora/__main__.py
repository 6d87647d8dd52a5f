"""``python -m tools.dora``: write ``summary.md``, ``report.html`` and ``missed.txt`` into ``--out``.

The report covers the ``--weeks`` complete ISO weeks before ``--now`` (default: now); the
last of them is judged against seed 003's targets, and every target it missed is a line of
``missed.txt`` (empty when all were met), which the weekly workflow sends to Slack.
Credentials come from ``AWS_ACCESS_KEY_ID``/``AWS_SECRET_ACCESS_KEY``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
from pathlib import Path

from tools.dora import events, metrics, render


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.dora", description=__doc__)
    parser.add_argument("--bucket", default=os.environ.get("METRICS_BUCKET"), help="the metrics bucket")
    parser.add_argument("--endpoint", default=os.environ.get("METRICS_ENDPOINT"), help="its S3 endpoint URL")
    parser.add_argument("--region", default=os.environ.get("METRICS_REGION", "us-east-1"))
    parser.add_argument("--out", default="report", type=Path)
    parser.add_argument("--weeks", default=8, type=int, help="complete weeks to show (default 8)")
    parser.add_argument("--now", help="RFC 3339 time the report is made at (default: now)")
    args = parser.parse_args(argv)
    if not args.bucket or not args.endpoint:
        parser.error("--bucket and --endpoint (or METRICS_BUCKET and METRICS_ENDPOINT) are required")
    if args.weeks < 1:
        parser.error("--weeks must be at least 1")
    now = metrics.parse_time(args.now) if args.now else dt.datetime.now(dt.UTC)
    # The last complete week: the one before the week `now` is in.
    judged_at = now - dt.timedelta(weeks=1)
    judged = metrics.week_of(judged_at)
    loaded = events.load(events.client(args.endpoint, args.region), args.bucket)
    analysis = metrics.analyse(loaded.events, now=judged_at, weeks=args.weeks, rejected=len(loaded.rejected))
    summary = render.markdown(analysis, judged_week=judged)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "summary.md").write_text(summary + "\n")
    (args.out / "report.html").write_text(render.html_page(analysis, summary, judged_week=judged))
    missed = metrics.missed_targets(analysis, judged)
    (args.out / "missed.txt").write_text("".join(f"{line}\n" for line in missed))
    for key, why in sorted(loaded.rejected.items()):
        print(f"::warning::unreadable event {key}: {why}", file=sys.stderr)
    print(f"{len(loaded.events)} events, {len(missed)} missed target(s) in {judged}; report in {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
