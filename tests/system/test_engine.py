"""The real engine: `pulumi preview` of every stack with the real CLI and providers, offline.

Runs when the Pulumi CLI is on PATH or built into the engine cache (`make engine`), and
skips with the reason otherwise. Every preview goes through `tools/preview.py`, the same
code as `make preview`: a scratch copy of the project, a `file://` backend, dummy secrets set
with `pulumi config set --secret`, and the providers pointed at the fake API of
`tools/fake_api.py`. Each stack is previewed once per session.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tempfile
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from pathlib import Path
from typing import Any

import pytest

from components.github.config import WorkflowsConfig
from tests.config.test_config import BAD_CONFIGS
from tests.support.stacks import run_stack, with_changes
from tests.system.test_provider_input_rules import BAD_INPUTS, BadInput
from tools.fake_api import route_of
from tools.offline import STACKS, Run, project_name, unwrap
from tools.preview import (
    DUMMY_GITHUB_TOKEN,
    DUMMY_LINODE_TOKEN,
    Preview,
    find_pulumi,
    preview_project,
    run_preview,
)

pytestmark = pytest.mark.engine

# Previews at once: each is mostly process start-up and waiting, so a few overlap well.
PARALLEL = 4


@pytest.fixture(scope="module")
def previews() -> dict[str, Preview]:
    """Every real preview this module checks, run once, a few at a time: the committed
    stacks (by name), the bad-config sample (`config-<i>`) and the probes (`probe-<id>`)."""
    if find_pulumi() is None:
        pytest.skip(
            "REAL ENGINE ABSENT: no `pulumi` on PATH and none built in ~/.cache/delivery-engine/bin; "
            "install the Pulumi CLI, or on this team's machines build it with `make engine`"
        )
    jobs: dict[str, Callable[[], Preview]] = {stack: partial(run_preview, stack) for stack in STACKS}
    for i, (stack, changes, _) in enumerate(BAD_CONFIG_SAMPLE):
        jobs[f"config-{i}"] = partial(run_preview, stack, stack_values=with_changes(stack, changes))
    # The mock recordings run here, in this thread: the Pulumi runtime state is global.
    owner = run_stack("production").recorder.named("github").inputs["owner"]
    for bad in BAD_INPUTS:
        res = run_stack(bad.stack).recorder.named(bad.resource)
        jobs[f"probe-{bad.id}"] = partial(probe, res.type, res.name, bad.apply(unwrap(res.inputs)), owner)
    with ThreadPoolExecutor(max_workers=PARALLEL) as pool:
        futures = {key: pool.submit(job) for key, job in jobs.items()}
        return {key: future.result() for key, future in futures.items()}


# --------------------------------------------------------------------------- committed stacks


@pytest.mark.parametrize("stack", STACKS)
def test_every_stack_previews_without_errors(stack: str, previews: dict[str, Preview]) -> None:
    preview = previews[stack]
    assert preview.returncode == 0, preview.output
    assert preview.diagnostics("error") == [], preview.output
    assert preview.operations()["create"] > 0, preview.summary()


@pytest.mark.parametrize("stack", STACKS)
def test_plugin_versions_agree_with_the_sdk_pins(stack: str, previews: dict[str, Preview]) -> None:
    """No `resource plugin X is expected to have version >=A, but has B` warning."""
    preview = previews[stack]
    assert "expected to have version" not in preview.output, preview.output
    warnings = [d["message"] for d in preview.diagnostics("warning")]
    assert not [w for w in warnings if "version" in w], warnings


def test_the_workflow_pins_the_cli_the_previews_run(previews: dict[str, Preview]) -> None:
    pulumi = find_pulumi()
    assert pulumi is not None
    version = subprocess.run([pulumi, "version"], capture_output=True, text=True, check=True).stdout.strip()
    assert version.lstrip("v") == WorkflowsConfig().pulumi_version, (
        f"the previews ran Pulumi {version}, the infrastructure workflow pins "
        f"{WorkflowsConfig().pulumi_version} (github.workflows.pulumiVersion): make them agree"
    )


def mock_urns(run: Run) -> set[str]:
    """The URN the engine gives each resource the mock harness recorded (its type chain
    through its parents, the stack itself no part of it, and its name), as recorded."""
    return {res.urn for res in run.resources}


def engine_urns(preview: Preview) -> set[str]:
    """What the real engine plans, less what only it declares: the stack resource and the
    default providers of the packages the program uses without an explicit provider."""
    return {
        urn
        for urn in preview.urns()
        if not urn.endswith(f"::pulumi:pulumi:Stack::{project_name()}-{preview.stack}")
        and not re.search(r"::pulumi:providers:[a-z]+::default(_[0-9_]+)?$", urn)
    }


@pytest.mark.parametrize("stack", STACKS)
def test_the_real_engine_plans_exactly_the_resources_the_mocks_record(
    stack: str, previews: dict[str, Preview]
) -> None:
    real, mocked = engine_urns(previews[stack]), mock_urns(run_stack(stack))
    assert real, "the real preview planned nothing"
    assert sorted(real - mocked) == [] and sorted(mocked - real) == []


@pytest.mark.parametrize("stack", STACKS)
def test_the_fake_api_saw_only_the_calls_the_readme_lists(stack: str, previews: dict[str, Preview]) -> None:
    preview = previews[stack]
    unexpected = [str(r) for r in preview.requests if route_of(r.method, r.path) is None]
    assert unexpected == []
    paths = {r.path for r in preview.requests}
    assert "/v4/linode/types" in paths, "the linode provider did not start against the fake API"
    assert any(p.startswith("/api/v3/orgs/") for p in paths), "the github provider did not start"
    # The tokens come from `pulumi config set --secret github:token / linode:token`: no
    # GITHUB_TOKEN or LINODE_TOKEN is in the preview's environment.
    tokens = {r.token for r in preview.requests}
    assert tokens <= {DUMMY_GITHUB_TOKEN, DUMMY_LINODE_TOKEN}, tokens
    github = {r.token for r in preview.requests if r.path.startswith("/api/v3/")}
    assert github == {DUMMY_GITHUB_TOKEN}


# --------------------------------------------------------------------------- bad stack config


def _bad_config(stack: str, key: str) -> tuple[str, dict[str, Any], list[str]]:
    """The bad-config table's case of `stack` that changes `key`."""
    return next(case for case in BAD_CONFIGS if case[0] == stack and key in case[1])


# A sample of the bad-config table of test_config.py: an unknown key, a cross-field rule of
# production, and three problems at once, there with a `github:` key the explicit provider
# would ignore (test_provider_config.py) to show both namespaces in one message.
_MANY = _bad_config("development", "delivery:region")
BAD_CONFIG_SAMPLE = [
    _bad_config("staging", "delivery:cluster.pools.default.cuont"),
    _bad_config("production", "delivery:argocd.highAvailability"),
    (
        _MANY[0],
        {**_MANY[1], "github:owner": "someone-else"},
        [*_MANY[2], "github:owner: the program creates its github provider itself"],
    ),
]


def planned_resources(preview: Preview) -> list[str]:
    return [urn for urn in preview.urns() if "::pulumi:pulumi:Stack::" not in urn]


def assert_config_refusal(preview: Preview, expected: list[str]) -> None:
    """One error diagnostic holds the whole message; each problem line is printed once (the
    display repeats only a diagnostic's first line, beside the stack's row); no traceback."""
    assert preview.returncode != 0
    refusals = [d for d in preview.diagnostics("error") if "invalid stack configuration" in d["message"]]
    assert len(refusals) == 1, preview.output
    for line in expected:
        assert line in refusals[0]["message"], f"missing {line!r} in:\n{preview.output}"
        if "\n" not in line and not refusals[0]["message"].startswith(line):
            assert preview.output.count(line) == 1, preview.output
    assert "Traceback" not in preview.output, preview.output
    assert planned_resources(preview) == [], "a resource was planned before the config was validated"


@pytest.mark.parametrize(
    "index", range(len(BAD_CONFIG_SAMPLE)), ids=lambda i: str(BAD_CONFIG_SAMPLE[i][1])[:50]
)
def test_bad_config_reads_the_same_through_the_real_engine(index: int, previews: dict[str, Preview]) -> None:
    assert_config_refusal(previews[f"config-{index}"], BAD_CONFIG_SAMPLE[index][2])


# --------------------------------------------------------------------------- provider-level bad inputs

PROBE_PROGRAM = """\
import json
import pulumi

for resource in json.load(open("resources.json")):
    pulumi.CustomResource(resource["type"], resource["name"], resource["inputs"])
"""


def probe(type_: str, name: str, inputs: dict[str, Any], owner: str) -> Preview:
    """The real provider's Check of one resource (the program's own, with one bad input)."""
    with tempfile.TemporaryDirectory(prefix="delivery-probe-") as tmp:
        project = Path(tmp) / "project"
        project.mkdir()
        runtime = {"name": "python", "options": {"toolchain": "pip", "virtualenv": sys.prefix}}
        (project / "Pulumi.yaml").write_text(json.dumps({"name": "probe", "runtime": runtime}))
        (project / "__main__.py").write_text(PROBE_PROGRAM)
        (project / "resources.json").write_text(json.dumps([{"type": type_, "name": name, "inputs": inputs}]))
        # The default github provider needs an owner (else it asks the API whose token it has).
        return preview_project(project, "probe", Path(tmp), secrets=(), config={"github:owner": owner})


@pytest.mark.parametrize("bad", BAD_INPUTS, ids=lambda b: b.id)
def test_the_real_provider_refuses_each_bad_input_the_mocks_accept(
    bad: BadInput, previews: dict[str, Preview]
) -> None:
    preview = previews[f"probe-{bad.id}"]
    assert preview.returncode != 0, preview.output
    refusals = [d["message"] for d in preview.diagnostics("error") if bad.refusal in d["message"]]
    assert refusals, preview.output
