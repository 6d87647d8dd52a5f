"""The Jaeger configuration the program renders, run by the real Jaeger v2 (`make jaeger`):
a span sent over OTLP/HTTP (JSON encoding, as an instrumented service's SDK may send it) is
read back through the query API Grafana's datasource uses, survives a restart on the same
Badger directory (the volume's job), and the health and metrics ports the Deployment's probes
and the ServiceMonitor name answer. Skips loudly without the binary."""

from __future__ import annotations

import json
import secrets
import time
from pathlib import Path
from typing import Any

import pytest

from components.monitoring.jaeger import (
    HEALTH_PATH,
    HEALTH_PORT,
    METRICS_PORT,
    OTLP_HTTP_PORT,
    QUERY_HTTP_PORT,
    jaeger_config,
)
from tests.support.jaeger_server import get, localised, post_json, running
from tests.support.stacks import stack_config

pytestmark = [pytest.mark.go, pytest.mark.slow]

SERVICE = "api-router-service"
OPERATION = "GET /v1/models"


def otlp_trace(trace_id: str, span_id: str) -> dict[str, Any]:
    """One server span in OTLP/JSON (https://opentelemetry.io/docs/specs/otlp/#json-protobuf-encoding:
    trace and span ids as hex strings, 64-bit integers as decimal strings, enums as numbers)."""
    now = time.time_ns()
    return {
        "resourceSpans": [
            {
                "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": SERVICE}}]},
                "scopeSpans": [
                    {
                        "scope": {"name": "delivery-tests"},
                        "spans": [
                            {
                                "traceId": trace_id,
                                "spanId": span_id,
                                "name": OPERATION,
                                "kind": 2,
                                "startTimeUnixNano": str(now - 5_000_000),
                                "endTimeUnixNano": str(now),
                                "attributes": [
                                    {"key": "http.response.status_code", "value": {"intValue": "200"}}
                                ],
                                "status": {"code": 1},
                            }
                        ],
                    }
                ],
            }
        ]
    }


def read_trace(server: Any, trace_id: str, wait: float = 20) -> dict[str, Any] | None:
    """The trace from Jaeger's query API (`/api/traces/<id>`, the HTTP API the UI and Grafana's
    datasource read), once the batch processor has written it; None if it never appears."""
    deadline = time.monotonic() + wait
    while True:
        status, body = get(server.url(QUERY_HTTP_PORT, f"/api/traces/{trace_id}"))
        if status == 200:
            [trace] = json.loads(body)["data"]
            found: dict[str, Any] = trace
            return found
        if time.monotonic() > deadline:
            return None
        time.sleep(0.3)


@pytest.fixture(scope="module")
def config() -> dict[str, Any]:
    # Production's configuration: its retention, as the stack file sets it.
    return jaeger_config(stack_config("production").monitoring.tracing)


def test_the_localised_config_moves_only_listeners_and_directories(
    config: dict[str, Any], tmp_path: Path
) -> None:
    local, ports = localised(config, tmp_path)
    assert set(ports) >= {OTLP_HTTP_PORT, QUERY_HTTP_PORT, HEALTH_PORT, METRICS_PORT}
    badger = local["extensions"]["jaeger_storage"]["backends"]
    [store] = badger.values()
    assert store["badger"]["directories"]["keys"].startswith(str(tmp_path))
    assert store["badger"]["ttl"] == {"spans": "336h"}  # production's 14d
    # Same components, pipelines and storage settings as rendered.
    assert local["service"]["pipelines"] == config["service"]["pipelines"]
    assert set(local["extensions"]) == set(config["extensions"])


def test_a_span_sent_over_otlp_is_read_back_through_the_query_api(
    config: dict[str, Any], tmp_path: Path
) -> None:
    trace_id, span_id = secrets.token_hex(16), secrets.token_hex(8)
    with running(config, tmp_path, HEALTH_PORT, HEALTH_PATH) as server:
        status, body = post_json(server.url(OTLP_HTTP_PORT, "/v1/traces"), otlp_trace(trace_id, span_id))
        assert status == 200, body
        trace = read_trace(server, trace_id)
        assert trace is not None, "the span never reached the query API"
        [span] = trace["spans"]
        assert (span["traceID"], span["spanID"], span["operationName"]) == (trace_id, span_id, OPERATION)
        assert trace["processes"][span["processID"]]["serviceName"] == SERVICE
        status, body = get(server.url(QUERY_HTTP_PORT, "/api/services"))
        assert status == 200 and SERVICE in json.loads(body)["data"]
        # The check can fail: a trace nobody sent is not found.
        assert read_trace(server, secrets.token_hex(16), wait=1) is None
        # The port the ServiceMonitor scrapes serves the collector's own metrics.
        status, body = get(server.url(METRICS_PORT, "/metrics"))
        assert status == 200 and b"otelcol_receiver_accepted_spans" in body
    # Badger on disk (the volume): the span outlives the process.
    with running(config, tmp_path, HEALTH_PORT, HEALTH_PATH) as server:
        trace = read_trace(server, trace_id)
        assert trace is not None, "the span did not survive a restart on the same directory"
