"""A real S3-compatible server for the DORA report's tests: MinIO, built from its Go module by
`make minio` (pinned in tools/minio/go.mod), started on 127.0.0.1 with a scratch data
directory. Tests skip LOUDLY when the binary is absent; .ci/run builds it."""

from __future__ import annotations

import os
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from tools.toolcache import cached_tool

BINARY = "minio"
ABSENT = (
    "MinIO absent: build it with `make minio` (needs Go); the DORA report and the event uploads "
    "were NOT checked against a real S3 server"
)
ACCESS_KEY = "delivery-test"
SECRET_KEY = "delivery-test-secret"


@dataclass(frozen=True)
class Server:
    endpoint: str
    access_key: str = ACCESS_KEY
    secret_key: str = SECRET_KEY


def binary() -> Path | None:
    return cached_tool(BINARY)


def require_binary() -> Path:
    path = binary()
    if path is None:
        pytest.skip(ABSENT)
    return path


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@contextmanager
def running(data: Path) -> Iterator[Server]:
    """MinIO serving ``data`` on a free port of 127.0.0.1 until the block ends."""
    path = require_binary()
    port, console = _free_port(), _free_port()
    env = {
        "PATH": os.environ["PATH"],
        "HOME": str(data),
        "MINIO_ROOT_USER": ACCESS_KEY,
        "MINIO_ROOT_PASSWORD": SECRET_KEY,
        "MINIO_BROWSER": "off",
        "MINIO_UPDATE": "off",
    }
    log = (data.parent / "minio.log").open("w")
    process = subprocess.Popen(
        [str(path), "server", str(data), "--address", f"127.0.0.1:{port}", "--console-address",
         f"127.0.0.1:{console}", "--quiet"],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )  # fmt: skip
    endpoint = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                # Not /minio/health/live, which answers before the object layer is up (a bucket
                # created then is refused with XMinioServerNotInitialized): the cluster check
                # answers 200 only once it can take writes
                # (https://min.io/docs/minio/linux/operations/monitoring/healthcheck-probe.html).
                with urllib.request.urlopen(f"{endpoint}/minio/health/cluster", timeout=2) as answer:
                    if answer.status == 200:
                        break
            except OSError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                log.flush()
                raise RuntimeError(f"MinIO did not start: {(data.parent / 'minio.log').read_text()[-2000:]}")
            time.sleep(0.2)
        yield Server(endpoint=endpoint)
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()
