"""`make test` runs `pytest -n auto --dist loadgroup`: tests/system/test_local_up.py puts its
module in one xdist group so each stack's API server, `pulumi up` and `pulumi destroy` happen
once, on one worker. If the grouping silently stops (pytest 9.2 with pytest-xdist 3.8 does:
https://github.com/pytest-dev/pytest-xdist/issues/1386), both workers run every shape at once,
and the suite takes twice as long with nothing failing. This runs the pinned pytest and xdist
on a module shaped like test_local_up.py and checks where its tests ran."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

MODULE = """
import os
from pathlib import Path

import pytest

pytestmark = [pytest.mark.xdist_group("grouped")]


@pytest.fixture(scope="module", params=["development", "staging", "production"])
def shape(request):
    return request.param


@pytest.mark.parametrize("check", range(3))
def test_grouped(shape, check):
    Path(os.environ["RECORD"], f"{shape}-{check}").write_text(os.environ["PYTEST_XDIST_WORKER"])
"""
OTHERS = """
import pytest


@pytest.mark.parametrize("i", range(12))
def test_other(i):
    pass
"""


def test_a_grouped_module_runs_on_one_worker(tmp_path: Path) -> None:
    suite, record = tmp_path / "suite", tmp_path / "record"
    suite.mkdir()
    record.mkdir()
    (suite / "test_grouped.py").write_text(MODULE)
    (suite / "test_others.py").write_text(OTHERS)
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-n",
            "2",
            "--dist",
            "loadgroup",
            "-p",
            "no:cacheprovider",
            "-q",
            str(suite),
        ],
        capture_output=True,
        text=True,
        check=False,
        cwd=suite,
        env={"PATH": "/usr/bin:/bin", "RECORD": str(record)},
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    workers = {path.name: path.read_text() for path in record.iterdir()}
    assert len(workers) == 9, workers
    assert len(set(workers.values())) == 1, workers
