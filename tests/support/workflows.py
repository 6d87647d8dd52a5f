"""The workflow files the managing stack commits, read back from its recorded resources."""

from __future__ import annotations

from typing import Any

import yaml

from tests.support.types import REPOSITORY_FILE
from tools.offline import Run


def managing_stack(runs: dict[str, Run]) -> Run:
    (owner,) = [run for run in runs.values() if run.recorder.of_type(REPOSITORY_FILE)]
    return owner


def committed_workflows(runs: dict[str, Run]) -> dict[str, dict[str, Any]]:
    return workflows_of(managing_stack(runs))


def workflows_of(run: Run) -> dict[str, dict[str, Any]]:
    files = run.recorder.of_type(REPOSITORY_FILE)
    return {
        f.plain["file"]: yaml.safe_load(f.plain["content"])
        for f in files
        if f.plain["file"].startswith(".github/workflows/")
    }
