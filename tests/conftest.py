"""Fixtures: the whole program run offline per committed stack, under Pulumi mocks.
Fixtures only: helpers that test modules import live in tests/support/."""

from __future__ import annotations

import pytest

from tests.support.stacks import run_stack
from tools.offline import STACKS, Run


@pytest.fixture(params=STACKS)
def stack_run(request: pytest.FixtureRequest) -> Run:
    """The program's recording for each committed stack file."""
    return run_stack(str(request.param))


@pytest.fixture
def runs() -> dict[str, Run]:
    """All three committed stacks' recordings, keyed by stack name."""
    return {stack: run_stack(stack) for stack in STACKS}
