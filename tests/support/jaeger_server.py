"""The real Jaeger v2 for the tracing tests: built from its Go module by `make jaeger` (pinned
in tools/jaeger/go.mod), run with the configuration components/monitoring/jaeger.py renders,
moved onto free ports of 127.0.0.1 and a scratch Badger directory. Tests skip LOUDLY when the
binary is absent; .ci/run builds it."""

from __future__ import annotations

import copy
import json
import os
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from tools.toolcache import cached_tool

BINARY = "jaeger"
ABSENT = (
    "Jaeger absent: build it with `make jaeger` (needs Go); the rendered Jaeger configuration was "
    "NOT run and no span was sent through a real Jaeger"
)
LOCAL = "127.0.0.1"


@dataclass(frozen=True)
class Server:
    # The rendered port -> the free local port it runs on.
    ports: dict[int, int]

    def url(self, rendered_port: int, path: str) -> str:
        return f"http://{LOCAL}:{self.ports[rendered_port]}{path}"


def require_binary() -> Path:
    path = cached_tool(BINARY)
    if path is None:
        pytest.skip(ABSENT)
    return path


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind((LOCAL, 0))
        port: int = probe.getsockname()[1]
        return port


def localised(config: dict[str, Any], data: Path) -> tuple[dict[str, Any], dict[int, int]]:
    """The rendered configuration with every listener (`endpoint: host:port`, the metrics
    reader's host and port) on a free port of 127.0.0.1 and Badger's directories under `data`;
    nothing else changes."""
    local = copy.deepcopy(config)
    ports: dict[int, int] = {}

    def move(port: int) -> int:
        return ports.setdefault(port, _free_port())

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if key == "endpoint" and isinstance(value, str) and ":" in value:
                    node[key] = f"{LOCAL}:{move(int(value.rsplit(':', 1)[1]))}"
                elif key in ("keys", "values") and isinstance(value, str) and value.startswith("/"):
                    node[key] = str(data / value.lstrip("/"))
                else:
                    walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(local)
    for reader in local["service"]["telemetry"]["metrics"]["readers"]:
        prometheus = reader["pull"]["exporter"]["prometheus"]
        prometheus["host"], prometheus["port"] = LOCAL, move(prometheus["port"])
    return local, ports


def get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=5) as answer:
            return answer.status, answer.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def post_json(url: str, body: dict[str, Any]) -> tuple[int, bytes]:
    request = urllib.request.Request(
        url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}, method="POST"
    )
    try:
        with urllib.request.urlopen(request, timeout=5) as answer:
            return answer.status, answer.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


@contextmanager
def running(config: dict[str, Any], scratch: Path, health_port: int, health_path: str) -> Iterator[Server]:
    """Jaeger running `config` (localised into `scratch`) until the block ends; ready once its
    health endpoint answers 200."""
    path = require_binary()
    local, ports = localised(config, scratch / "data")
    config_file = scratch / "config.yaml"
    config_file.write_text(yaml.safe_dump(local))
    log_path = scratch / "jaeger.log"
    log = log_path.open("a")
    process = subprocess.Popen(
        [str(path), f"--config={config_file}"],
        env={"PATH": os.environ["PATH"], "HOME": str(scratch)},
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    server = Server(ports=ports)
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                if get(server.url(health_port, health_path))[0] == 200:
                    break
            except OSError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                log.flush()
                raise RuntimeError(f"Jaeger did not start: {log_path.read_text()[-3000:]}")
            time.sleep(0.3)
        yield server
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()
