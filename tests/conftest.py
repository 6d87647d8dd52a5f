"""Fixtures: the whole program run offline per committed stack, under Pulumi mocks."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tools.offline import STACKS, Run, run_program  # noqa: E402

# What a user would set with `pulumi config set --secret <key>`; distinctive values so a
# test can find any of them that leaks into an input unmarked.
TEST_SECRETS: dict[str, str] = {
    "ciPulumiPassphrase": "test-passphrase-0f3c9a",
    "slackWebhookUrl": "https://hooks.slack.com/services/TTEST/BTEST/secret-7d1e2b",
    "ciGithubToken": "github_pat_test_write_5b8e41",
    "ciGithubReadToken": "github_pat_test_read_93c07a",
}

_RUNS: dict[str, Run] = {}


def run_stack(stack: str) -> Run:
    """The committed stack run once per session (the program is deterministic)."""
    if stack not in _RUNS:
        _RUNS[stack] = run_program(stack, TEST_SECRETS)
    return _RUNS[stack]


@pytest.fixture(params=STACKS)
def stack_run(request: pytest.FixtureRequest) -> Run:
    """The program's recording for each committed stack file."""
    return run_stack(str(request.param))


@pytest.fixture
def runs() -> dict[str, Run]:
    """All three committed stacks' recordings, keyed by stack name."""
    return {stack: run_stack(stack) for stack in STACKS}
