"""Benchmark: the offline plan and the program, against a bare Pulumi program (`make bench`).

Times, best of several runs, in this process:
- the offline plan of each committed stack (run the program under mocks, render every
  document, compare with the golden files);
- the program alone for the staging stack with 6 and with 200 services.
Wall-clock and CPU time are both shown; each is divided by the time of a bare Pulumi program under the same mocks that registers
the same number of resources (one plain custom resource each), so the ratio says what the
program costs beyond Pulumi's own per-resource work, whatever the machine's speed. Nothing
asserts a time: the tests never do. Prints a table.

    python -m tools.bench [--runs 5]
"""

from __future__ import annotations

import argparse
import functools
import os
import platform
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pulumi

from tools.offline import STACKS, read_stack_file, run_program, stack_file
from tools.plan import GOLDEN, PLACEHOLDER_SECRETS, plan_steps, render_documents
from tools.plan_diff import read_directory


def best(runs: int, work: Callable[[], object]) -> tuple[float, float]:
    """The fastest of `runs` timings, wall clock and CPU time of this process.

    The minimum is the run least disturbed by whatever else the machine does; CPU time
    leaves out the time spent waiting for a core, so it moves least on a busy machine.
    """
    wall, cpu = [], []
    for _ in range(runs):
        started, started_cpu = time.perf_counter(), time.process_time()
        work()
        wall.append(time.perf_counter() - started)
        cpu.append(time.process_time() - started_cpu)
    return min(wall), min(cpu)


def bare(count: int) -> Callable[[], object]:
    """A Pulumi program that registers `count` plain custom resources under the same mocks."""

    def program() -> None:
        for i in range(count):
            pulumi.CustomResource("bench:index:Thing", f"thing-{i}", {"index": i, "label": f"thing-{i}"})

    return lambda: run_program("staging", PLACEHOLDER_SECRETS, program=program)


def with_services(count: int) -> dict[str, Any]:
    values: dict[str, Any] = dict(read_stack_file(stack_file("staging"))["config"])
    values["delivery:services"] = {f"service-{i:03d}": {} for i in range(count)}
    return values


def program(values: dict[str, Any]) -> object:
    return run_program("staging", PLACEHOLDER_SECRETS, values)


def plan(stack: str, golden: dict[str, str]) -> Callable[[], object]:
    def work() -> None:
        run = run_program(stack, PLACEHOLDER_SECRETS)
        render_documents(run)
        plan_steps(run, golden)

    return work


def machine() -> str:
    cpu = "unknown CPU"
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    return f"{os.cpu_count()} CPUs ({cpu}), Python {platform.python_version()}, {platform.system()}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=5, help="timings per case; the best counts (default 5)")
    args = parser.parse_args(argv)
    cases: list[tuple[str, Callable[[], object], int]] = []
    for stack in STACKS:
        count = len(run_program(stack, PLACEHOLDER_SECRETS).resources)
        cases.append((f"plan {stack}", plan(stack, read_directory(GOLDEN / stack)), count))
    for services in (6, 200):
        values = with_services(services)
        count = len(run_program("staging", PLACEHOLDER_SECRETS, values).resources)
        cases.append((f"program, {services} services", functools.partial(program, values), count))
    print(f"machine: {machine()}; best of {args.runs} runs")
    header = (
        f"{'case':<24} {'resources':>9} {'wall (s)':>9} {'bare':>7} {'ratio':>6}"
        f" {'cpu (s)':>9} {'bare':>7} {'ratio':>6}"
    )
    print(header)
    print("-" * len(header))
    for name, work, count in cases:
        wall, cpu = best(args.runs, work)
        bare_wall, bare_cpu = best(args.runs, bare(count))
        print(
            f"{name:<24} {count:>9} {wall:>9.3f} {bare_wall:>7.3f} {wall / bare_wall:>6.1f}"
            f" {cpu:>9.3f} {bare_cpu:>7.3f} {cpu / bare_cpu:>6.1f}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
