"""tools/local_up.py's LocalStack.run without the engine: a command that can never finish (a
destroy waiting on a finalizer nobody clears) is interrupted with SIGINT, as Ctrl-C stops the
Pulumi CLI, and the step says why; one that finishes is left alone. A stand-in executable
takes the CLI's place: it writes one engine event and waits until interrupted."""

from __future__ import annotations

import sys
import time
from pathlib import Path

from tools.local_up import LocalStack

FAKE_CLI = """#!{python}
import json, signal, sys, time
args = sys.argv[1:]
log = args[args.index("--event-log") + 1]
with open(log, "w") as out:
    out.write(json.dumps({{"resourcePreEvent": {{"metadata": {{"op": "delete", "urn": "urn:a"}}}}}}) + "\\n")
if args[0] == "quick":
    sys.exit(0)
signal.signal(signal.SIGINT, lambda *_: sys.exit(130))
time.sleep(120)
sys.exit(0)
"""


def fake_stack(tmp_path: Path) -> LocalStack:
    cli = tmp_path / "pulumi"
    cli.write_text(FAKE_CLI.format(python=sys.executable))
    cli.chmod(0o755)
    # Without __init__: no scratch project nor `pulumi stack init`, only what run() reads.
    stack = LocalStack.__new__(LocalStack)
    stack.stack, stack.work, stack.timeout = "development", tmp_path, 90.0
    stack.project, stack.env, stack.pulumi = tmp_path, {"PATH": "/usr/bin:/bin"}, str(cli)
    return stack


def test_a_command_that_can_never_finish_is_interrupted(tmp_path: Path) -> None:
    stack = fake_stack(tmp_path)
    asked = []

    def give_up() -> str | None:
        asked.append(time.monotonic())
        return "the finalizer stays" if len(asked) >= 2 else None

    started = time.monotonic()
    step = stack.run("destroy", "--yes", give_up=give_up)
    assert time.monotonic() - started < 60
    assert step.returncode == 130
    assert "(interrupted: the finalizer stays)" in step.output
    assert step.order("resourcePreEvent", "delete") == {"urn:a": 0}


def test_a_command_that_finishes_is_left_alone(tmp_path: Path) -> None:
    step = fake_stack(tmp_path).run("quick", give_up=lambda: None)
    assert step.returncode == 0
    assert "interrupted" not in step.output
