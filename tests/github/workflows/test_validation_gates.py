"""The gate scripts of staging validation, run for real.

- The Locust gate judges statistics of the real ``locust`` (pinned in requirements-dev)
  run headless against a small HTTP server started here on 127.0.0.1, failing or slow on
  purpose: the error rate exactly at 0.9 % and 1.1 % (the server fails a fixed number of
  a fixed number of requests), P95 clearly above the threshold (every response slower than
  a second). P95 at 999 and 1001 ms is judged on crafted statistics files in the format
  Locust writes, because Locust buckets response times (10 ms steps below a second, 100 ms
  above), so a live server cannot land on 999 ms.
- The ZAP gate judges crafted ZAP JSON reports.
The promotion gate and staging's state are tested in ``test_promotion_integrity.py``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from components.github.config import LoadTestConfig
from components.github.workflows import scripts, staging_validation
from components.github.workflows.scripts import locust_gate, zap_gate
from components.github.workflows.settings import REFERENCE
from tests.support import paths
from tests.support.paths import ROOT

# Real tools and processes (docs/development.md, "Tests"): left out of `make test-fast`.
pytestmark = pytest.mark.slow

FIXTURES = paths.FIXTURES / "github"
LOCUST = Path(sys.executable).parent / "locust"
MAX_P95 = Decimal(1000)
MAX_ERRORS = Decimal(1)


# --------------------------------------------------------------------------- Locust gate, exact


def entry(times: dict[int, int], failures: int = 0, name: str = "/") -> dict[str, Any]:
    """One statistics entry as `locust --json-file` writes it (the fields the gate reads)."""
    return {
        "name": name,
        "method": "GET",
        "num_requests": sum(times.values()),
        "num_failures": failures,
        "response_times": {str(k): v for k, v in times.items()},
    }


@pytest.mark.parametrize(
    ("times", "passed"),
    [
        ({999: 100}, True),
        ({1001: 100}, False),
        ({1000: 100}, False),
        # P95 of 100 requests is the 95th fastest: 4 slow ones leave it fast, 5 do not.
        ({100: 96, 1001: 4}, True),
        ({100: 95, 1001: 5}, False),
    ],
)
def test_locust_gate_p95_threshold_is_exact(times: dict[int, int], passed: bool) -> None:
    figures = locust_gate.evaluate([entry(times)], MAX_P95, MAX_ERRORS)
    assert figures["passed"] is passed, figures


@pytest.mark.parametrize(("failures", "passed"), [(9, True), (10, False), (11, False)])
def test_locust_gate_error_rate_threshold_is_exact(failures: int, passed: bool) -> None:
    figures = locust_gate.evaluate([entry({50: 1000}, failures)], MAX_P95, MAX_ERRORS)
    assert figures["passed"] is passed, figures


def test_locust_gate_aggregates_every_request_name() -> None:
    # The verdict is over every request together (Locust's "Aggregated" row): /a alone passes.
    entries = [entry({50: 500}, 4, "/a"), entry({50: 440, 1200: 60}, 6, "/b")]
    figures = locust_gate.evaluate(entries, MAX_P95, MAX_ERRORS)
    assert (figures["requests"], figures["failures"], figures["p95_ms"]) == (1000, 10, 1200)
    assert not figures["passed"] and len(figures["problems"]) == 2


def test_locust_gate_fails_a_run_without_requests_and_a_missing_file(tmp_path: Path) -> None:
    assert not locust_gate.evaluate([], MAX_P95, MAX_ERRORS)["passed"]
    assert (
        locust_gate.main([str(tmp_path / "absent.json"), "--max-p95-ms", "1000", "--max-error-percent", "1"])
        == 1
    )


# --------------------------------------------------------------------------- Locust gate, real Locust


LOCUSTFILE = """
import os
from locust import FastHttpUser, constant, task
from locust.exception import StopUser

REQUESTS = int(os.environ["PROBE_REQUESTS"])


class Probe(FastHttpUser):
    wait_time = constant(0)
    sent = 0

    @task
    def probe(self):
        if Probe.sent >= REQUESTS:
            raise StopUser()  # every request is sent; the last answer quits the run
        Probe.sent += 1
        self.client.get("/")
        if Probe.sent == REQUESTS:
            # Exactly REQUESTS requests, then stop: the error rate is known to the request.
            self.environment.runner.quit()
"""


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    # Keep-alive: one connection for a user's requests, so 1000 requests take a second or two.
    protocol_version = "HTTP/1.1"
    # Headers and body go out in two writes: without this, Nagle's algorithm holds the body
    # for the client's delayed ACK (40 ms a request).
    disable_nagle_algorithm = True

    def do_GET(self) -> None:
        status = self.server.next_status()
        if self.server.delay:
            threading.Event().wait(self.server.delay)
        self.send_response(status)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet."""


class _Server(ThreadingHTTPServer):
    """Fails its first `fail_first` requests with 500; answers each after `delay` seconds."""

    daemon_threads = True

    def __init__(self, fail_first: int, delay: float) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.fail_first = fail_first
        self.delay = delay
        self._count = 0
        self._lock = threading.Lock()

    def next_status(self) -> int:
        with self._lock:
            self._count += 1
            return 500 if self._count <= self.fail_first else 200

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


@dataclass(frozen=True)
class Case:
    fail_first: int
    delay: float
    requests: int
    users: int


# Error rates at 0.9 % and 1.1 % of exactly 1000 requests; every response 1.3 s late (P95
# reads 1300 ms whatever the machine's load adds, as long as it is under 50 ms).
CASES = {
    "errors-0.9": Case(fail_first=9, delay=0.0, requests=1000, users=1),
    "errors-1.1": Case(fail_first=11, delay=0.0, requests=1000, users=1),
    "slow": Case(fail_first=0, delay=1.3, requests=4, users=4),
}


@pytest.fixture(scope="module")
def locust_runs(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[dict[str, tuple[int, str, dict[str, Any]]]]:
    """Each case: real Locust against its own local server, all at once; the gate's exit
    code, output and figures per case."""
    assert LOCUST.exists(), "locust (requirements-dev.txt) is not installed: run `make install`"
    root = tmp_path_factory.mktemp("locust")
    (root / "locustfile.py").write_text(LOCUSTFILE)
    servers = {name: _Server(case.fail_first, case.delay) for name, case in CASES.items()}
    for server in servers.values():
        threading.Thread(target=server.serve_forever, daemon=True).start()
    procs = {}
    for name, case in CASES.items():
        procs[name] = subprocess.Popen(
            [
                str(LOCUST),
                "--locustfile",
                "locustfile.py",
                "--headless",
                "--only-summary",
                "--host",
                servers[name].url,
                "--users",
                str(case.users),
                "--spawn-rate",
                str(case.users),
                # An upper bound only; each run stops itself after its requests.
                "--run-time",
                "60s",
                "--json-file",
                f"{name}",
                "--exit-code-on-error",
                "0",
            ],
            cwd=root,
            env={**os.environ, "PROBE_REQUESTS": str(case.requests)},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
    results = {}
    try:
        for name, proc in procs.items():
            _, stderr = proc.communicate(timeout=90)
            assert proc.returncode == 0, stderr[-2000:]
            figures_file = root / f"{name}-figures.json"
            done = subprocess.run(
                [
                    sys.executable,
                    locust_gate.__file__,
                    str(root / f"{name}.json"),
                    "--max-p95-ms",
                    "1000",
                    "--max-error-percent",
                    "1",
                    "--figures",
                    str(figures_file),
                ],
                capture_output=True,
                text=True,
                check=False,
                timeout=30,
            )
            results[name] = (done.returncode, done.stdout, json.loads(figures_file.read_text()))
    finally:
        for proc in procs.values():
            if proc.poll() is None:
                proc.kill()
        for server in servers.values():
            server.shutdown()
    yield results


def test_real_locust_at_0_9_percent_errors_passes(
    locust_runs: dict[str, tuple[int, str, dict[str, Any]]],
) -> None:
    code, output, figures = locust_runs["errors-0.9"]
    assert (figures["requests"], figures["failures"]) == (1000, 9)
    assert code == 0 and figures["passed"], output


def test_real_locust_at_1_1_percent_errors_fails(
    locust_runs: dict[str, tuple[int, str, dict[str, Any]]],
) -> None:
    code, output, figures = locust_runs["errors-1.1"]
    assert (figures["requests"], figures["failures"]) == (1000, 11)
    assert code == 1 and not figures["passed"]
    assert "error rate 1.10 % is not below 1 %" in output


def test_real_locust_with_slow_responses_fails_on_p95(
    locust_runs: dict[str, tuple[int, str, dict[str, Any]]],
) -> None:
    code, output, figures = locust_runs["slow"]
    assert figures["failures"] == 0 and figures["requests"] == CASES["slow"].requests
    assert code == 1 and figures["p95_ms"] >= 1300
    assert "P95" in output and "error rate" not in output


# --------------------------------------------------------------------------- ZAP gate


def zap_report(*alerts: tuple[str, str]) -> dict[str, Any]:
    """A ZAP JSON report (report_json.json) with (plugin id, risk code) alerts."""
    return {
        "@version": "2.16.1",
        "site": [
            {
                "@name": "https://api.staging.example",
                "alerts": [
                    {"pluginid": rule, "alert": f"rule {rule}", "riskcode": risk, "count": "1"}
                    for rule, risk in alerts
                ],
            }
        ],
    }


def test_zap_gate_fails_only_on_new_high_findings(tmp_path: Path) -> None:
    rules = tmp_path / "rules.tsv"
    rules.write_text(
        "# accepted after review\n40012\tIGNORE\t(reflected XSS: false positive on /echo)\n10038\tWARN\n"
    )
    report = tmp_path / "report_json.json"

    def gate(*alerts: tuple[str, str]) -> int:
        report.write_text(json.dumps(zap_report(*alerts)))
        return zap_gate.main([str(report), "--rules", str(rules)])

    assert gate(("10038", "2"), ("10020", "1")) == 0  # medium and low: reported, not blocking
    assert gate(("40012", "3")) == 0  # high, but accepted in the rules file
    assert gate(("40018", "3")) == 1  # a new high finding
    assert gate(("10038", "3")) == 1  # WARN is not acceptance
    assert zap_gate.main([str(tmp_path / "absent.json")]) == 1


# --------------------------------------------------------------------------- promotion gate


def test_staging_validation_installs_the_locust_release_these_tests_run() -> None:
    pins = (ROOT / "requirements-dev.txt").read_text().splitlines()
    assert f"locust=={LoadTestConfig().locust_version}" in pins


def test_every_gate_script_path_is_where_the_sparse_checkout_puts_it() -> None:
    """actions/checkout with `path` and `sparse-checkout` keeps the repository's own paths below
    `path` (README of actions/checkout, "sparse-checkout"): the script is at
    `<path>/.github/scripts/<name>`, and it is one the program commits."""
    committed = set(scripts.files())
    wf = staging_validation.workflow(REFERENCE)
    seen = []
    for job in wf.jobs:
        checkouts = [s for s in job.steps if s.with_.get("path") == staging_validation.GATES_PATH]
        for step in job.steps:
            for key in ("GATE_SCRIPT", "STATE_SCRIPT"):
                if key in step.env:
                    path = step.env[key]
                    assert checkouts, f"{job.id}: {key} without the gates checkout"
                    (sparse,) = {str(c.with_["sparse-checkout"]) for c in checkouts}
                    relative = path.removeprefix(f"{staging_validation.GATES_PATH}/")
                    assert relative in committed and relative.startswith(f"{sparse}/"), (job.id, path)
                    seen.append(path)
    assert len(seen) >= 4, seen
