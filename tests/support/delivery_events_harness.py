"""Run the delivery-event recorder (`.github/scripts/delivery_event.py`) as a workflow step
would: a subprocess of the runner's Python with the step's environment."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

from components.github.workflows.scripts import DELIVERY_EVENT
from tests.support.paths import ROOT

RECORDER = ROOT / "components" / "github" / "workflows" / "scripts" / DELIVERY_EVENT

RUN = {"REPO": "ai-aas/platform", "WORKFLOW": "test", "RUN_ID": "4242", "RUN_ATTEMPT": "1"}


def run_recorder(
    args: Sequence[str], env: Mapping[str, str], *, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    """The recorder with ``args``; it must exit 0 whatever happened (it never fails a delivery)."""
    done = subprocess.run(
        [sys.executable, str(RECORDER), *args],
        env={"PATH": os.environ["PATH"], **RUN, **env},
        cwd=cwd,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done
