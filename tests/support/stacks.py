"""The committed stacks run offline under Pulumi mocks, and their config edited for a test."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from components.config.base import ConfigError
from components.config.loader import parse_namespace
from tests.support.types import LKE_CLUSTER
from tools.offline import Recorder, Run, engine_config, run_program, stack_file, with_offline_pins

# What a user would set with `pulumi config set --secret <key>`; distinctive values so a
# test can find any of them that leaks into an input unmarked.
TEST_SECRETS: dict[str, str] = {
    "ciPulumiPassphrase": "test-passphrase-0f3c9a",
    "slackWebhookUrl": "https://hooks.slack.com/services/TTEST/BTEST/secret-7d1e2b",
    "ciGithubToken": "github_pat_test_write_5b8e41",
    "ciGithubReadToken": "github_pat_test_read_93c07a",
    "ghcrPullToken": "ghp_test_pull_4a61d2",
    "argocdDispatchToken": "github_pat_test_dispatch_4e6a12",
    "pagerdutyRoutingKey": "pd-routing-test-4a61f0",
}


_RUNS: dict[str, Run] = {}


def run_stack(stack: str) -> Run:
    """The committed stack run once per session (the program is deterministic)."""
    if stack not in _RUNS:
        _RUNS[stack] = run_program(stack, TEST_SECRETS)
    return _RUNS[stack]


def stack_values(stack: str) -> dict[str, Any]:
    """A fresh copy of the committed stack file's `config:` block, the offline pins filled in."""
    return with_offline_pins(yaml.safe_load(stack_file(stack).read_text())["config"], stack)


def with_changes(stack: str, changes: dict[str, Any]) -> dict[str, Any]:
    """The committed stack values with `delivery:a.b.c` paths set (None deletes the key)."""
    values = stack_values(stack)
    for dotted, value in changes.items():
        top, _, rest = dotted.partition(".")
        if not rest:
            if value is None:
                values.pop(top, None)
            else:
                values[top] = value
            continue
        node = values.setdefault(top, {})
        *parents, leaf = rest.split(".")
        for part in parents:
            node = node.setdefault(part, {})
        if value is None:
            node.pop(leaf, None)
        else:
            node[leaf] = value
    return values


def assert_refused(stack: str, changes: dict[str, Any], expected: list[str]) -> None:
    """The whole program refuses the changed stack config with exactly the expected problems
    (each `delivery:...` line is one problem) and declares nothing."""
    recorder = Recorder()
    with pytest.raises(ConfigError) as caught:
        run_program(stack, TEST_SECRETS, with_changes(stack, changes), recorder=recorder)
    message = str(caught.value)
    for line in expected:
        assert line in message, f"missing {line!r} in:\n{message}"
    assert len(caught.value.problems) == len([e for e in expected if e.startswith("delivery:")]), message
    assert recorder.resources == [], "a resource was declared before the config was validated"


def stack_config(stack: str) -> Any:
    """The committed stack file parsed into its typed config, the offline pins filled in."""
    doc = with_offline_pins(yaml.safe_load(stack_file(stack).read_text())["config"], stack)
    values = {k.split(":", 1)[1]: v for k, v in doc.items() if k.startswith("delivery:")}
    return parse_namespace(values, stack)


def parsed(stack: str, changes: dict[str, Any] | None = None) -> Any:
    """The typed config the engine would hand the program, with the test secrets and `changes`."""
    config, _ = engine_config(stack, TEST_SECRETS, with_changes(stack, changes or {}))
    prefix = "delivery:"
    return parse_namespace({k[len(prefix) :]: v for k, v in config.items() if k.startswith(prefix)}, stack)


def k8s_version(run: Run) -> str:
    """The Kubernetes version the stack's LKE cluster runs."""
    [cluster] = run.recorder.of_type(LKE_CLUSTER)
    return str(cluster.inputs["k8sVersion"])
