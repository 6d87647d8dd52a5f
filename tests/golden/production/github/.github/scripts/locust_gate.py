"""Performance gate of staging validation: Locust's statistics against the thresholds.

Reads the statistics Locust writes at exit with ``--json-file <prefix>`` (``<prefix>.json``:
one entry per request name with its request and failure counts and its response-time
histogram) and fails (exit 1) when the 95th percentile response time over all requests is
at or above ``--max-p95-ms`` or the error rate is at or above ``--max-error-percent``
(seed 003: "P95 < 1000ms", "Error rate < 1%", "Block pipeline"). No requests at all also
fails: a load test that measured nothing proves nothing.

Why the JSON file and not ``--csv``: Locust rewrites its CSV files once a second while it
runs and not again at exit, so the CSV misses the last second; the JSON file is written at
exit from the final statistics.

The percentile is Locust's own (``locust.stats.calculate_response_time_percentile``) over
the histogram Locust keeps, whose keys are response times rounded into buckets (to 10 ms
from 100 ms, to 100 ms from 1000 ms: ``locust.stats.bucket_response_time``). So a true
P95 of 995 to 999 ms is counted as 1000 and fails: the gate errs towards failing and never
passes a P95 of 1000 ms or more.

Writes the figures as JSON (``--figures``) for the validation gate and its metrics upload,
and a table to ``$GITHUB_STEP_SUMMARY`` when that is set. Standard library only: the
workflow runs it with the runner's Python.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

P95 = Decimal("0.95")


class GateInputError(Exception):
    """The statistics file is missing or not what Locust writes."""


def _threshold(text: str, what: str) -> Decimal:
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise GateInputError(f"{what} is not a number: {text!r}") from None
    if not value.is_finite() or value <= 0:
        raise GateInputError(f"{what} must be a positive number: {text!r}")
    return value


def _count(entry: dict[str, Any], key: str) -> int:
    value = entry.get(key)
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise GateInputError(f"entry {entry.get('name')!r}: {key} is not a count: {value!r}")
    return value


def aggregate(entries: list[dict[str, Any]]) -> tuple[int, int, dict[int, int]]:
    """Requests, failures and the merged response-time histogram over every entry."""
    requests = failures = 0
    histogram: dict[int, int] = {}
    for entry in entries:
        requests += _count(entry, "num_requests")
        failures += _count(entry, "num_failures")
        times = entry.get("response_times")
        if not isinstance(times, dict):
            raise GateInputError(f"entry {entry.get('name')!r} has no response_times histogram")
        for key, count in times.items():
            histogram[int(key)] = histogram.get(int(key), 0) + int(count)
    return requests, failures, histogram


def percentile(histogram: dict[int, int], requests: int, percent: Decimal) -> int:
    """Locust's percentile: walk the histogram down from the slowest response time until
    no more than ``percent`` of the requests are left (``calculate_response_time_percentile``)."""
    within = int(requests * percent)
    processed = 0
    for response_time in sorted(histogram, reverse=True):
        processed += histogram[response_time]
        if requests - processed <= within:
            return response_time
    return 0


def read_stats(path: Path) -> list[dict[str, Any]]:
    try:
        entries = json.loads(path.read_text())
    except FileNotFoundError:
        raise GateInputError(f"{path} does not exist: did Locust run with --json-file?") from None
    except ValueError as error:
        raise GateInputError(f"{path} is not JSON: {error}") from None
    if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
        raise GateInputError(f"{path} is not a list of Locust statistics entries")
    return entries


def evaluate(
    entries: list[dict[str, Any]], max_p95_ms: Decimal, max_error_percent: Decimal
) -> dict[str, Any]:
    """The figures of one run and the verdict: passed, and why not."""
    requests, failures, histogram = aggregate(entries)
    problems: list[str] = []
    p95: int | None = None
    error_percent: Decimal | None = None
    if requests == 0:
        problems.append("the load test made no requests")
    else:
        p95 = percentile(histogram, requests, P95)
        # Exact decimal arithmetic: 10 failures of 1000 requests is 1 %, not 0.999...
        error_percent = Decimal(failures) * 100 / Decimal(requests)
        if p95 >= max_p95_ms:
            problems.append(f"P95 {p95} ms is not below {max_p95_ms} ms")
        if error_percent >= max_error_percent:
            problems.append(f"error rate {error_percent:.2f} % is not below {max_error_percent} %")
    return {
        "requests": requests,
        "failures": failures,
        "p95_ms": p95,
        "error_rate_percent": None if error_percent is None else float(round(error_percent, 4)),
        "max_p95_ms": float(max_p95_ms),
        "max_error_rate_percent": float(max_error_percent),
        "passed": not problems,
        "problems": problems,
    }


def summary_table(figures: dict[str, Any]) -> str:
    p95 = "n/a" if figures["p95_ms"] is None else f"{figures['p95_ms']} ms"
    errors = "n/a" if figures["error_rate_percent"] is None else f"{figures['error_rate_percent']:.2f} %"
    verdict = "passed" if figures["passed"] else "failed"
    return (
        f"### Load test: {verdict}\n\n"
        "| measure | value | must be below |\n|---|---|---|\n"
        f"| P95 response time | {p95} | {figures['max_p95_ms']:g} ms |\n"
        f"| error rate | {errors} ({figures['failures']} of {figures['requests']}) "
        f"| {figures['max_error_rate_percent']:g} % |\n"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Judge Locust's statistics against the thresholds.")
    parser.add_argument("stats", type=Path, help="the <prefix>.json file of `locust --json-file <prefix>`")
    parser.add_argument("--max-p95-ms", required=True, help="fail when P95 is at or above this (ms)")
    parser.add_argument("--max-error-percent", required=True, help="fail when errors reach this (%%)")
    parser.add_argument("--figures", type=Path, help="write the figures and verdict here as JSON")
    args = parser.parse_args(argv)
    try:
        max_p95 = _threshold(args.max_p95_ms, "--max-p95-ms")
        max_errors = _threshold(args.max_error_percent, "--max-error-percent")
        figures = evaluate(read_stats(args.stats), max_p95, max_errors)
    except GateInputError as error:
        print(f"::error::load test gate: {error}")
        return 1
    if args.figures is not None:
        args.figures.write_text(json.dumps(figures, indent=2) + "\n")
    summary = os.environ.get("GITHUB_STEP_SUMMARY")
    if summary:
        with open(summary, "a") as handle:
            handle.write(summary_table(figures))
    for problem in figures["problems"]:
        print(f"::error::load test gate: {problem}")
    if figures["passed"]:
        print(
            f"load test gate passed: P95 {figures['p95_ms']} ms, errors {figures['error_rate_percent']:.2f} %"
        )
    return 0 if figures["passed"] else 1


if __name__ == "__main__":
    sys.exit(main())
