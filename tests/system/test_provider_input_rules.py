"""Values the real providers refuse in their Check, checked over the mock recording first.

Pulumi's mocks accept any input; the providers validate some fields when the engine calls
their Check, i.e. at `pulumi preview`. A trial run of the real engine refused
`enforcement: enabled` on the ruleset and `algorithm: ED25518` on the deploy key, both
passed by the mock plan. The published schemas type these fields as plain strings (no
`enum`), so the schema check in `test_governance_provider_schemas.py` cannot see them: the
rules are copied here from the providers' sources, at the versions the real previews run,
for every field the program sets that such a rule guards.

`BAD_INPUTS` lists provider-level bad inputs, each with the check that refuses it before any
engine runs (a rule here, or the stack config validation) and the message the real provider
gives; `tests/system/test_engine.py` feeds each to the real provider and expects that message.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from tests.support.stacks import assert_refused, run_stack
from tools.offline import STACKS, RecordedResource, Run, unwrap

_GITHUB = "terraform-provider-github v6.13.0 (pulumi-github 6.15.0) github/"
_TLS = "terraform-provider-tls (pulumi-tls 5.5.1) internal/provider/"
_LINODE = "terraform-provider-linode v3.9.0 (pulumi-linode 6.0.0) linode/"
_SECRET_NAME = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")


def one_of(*allowed: str) -> Callable[[Any], str | None]:
    def rule(value: Any) -> str | None:
        return None if value in allowed else f"{value!r} is not one of {list(allowed)}"

    return rule


def secret_name(value: Any) -> str | None:
    """github's validateSecretNameFunc (util.go), for secret and variable names alike."""
    if not isinstance(value, str) or not _SECRET_NAME.fullmatch(value):
        return f"{value!r}: only letters, digits and '_', not starting with a digit"
    if value.upper().startswith("GITHUB_"):
        return f"{value!r}: must not start with GITHUB_"
    return None


def at_least_one(value: Any) -> str | None:
    return None if isinstance(value, int | float) and value >= 1 else f"{value!r} is below 1"


@dataclass(frozen=True)
class Rule:
    type: str
    path: str  # dotted input path; `[]` stands for every item of a list
    check: Callable[[Any], str | None]
    source: str


RULES: tuple[Rule, ...] = (
    Rule(
        "github:index/repositoryRuleset:RepositoryRuleset",
        "enforcement",
        one_of("disabled", "active", "evaluate"),
        _GITHUB + "resource_github_repository_ruleset.go",
    ),
    Rule(
        "github:index/repositoryRuleset:RepositoryRuleset",
        "target",
        one_of("branch", "push", "tag"),
        _GITHUB + "resource_github_repository_ruleset.go",
    ),
    Rule(
        "github:index/repositoryRuleset:RepositoryRuleset",
        "bypassActors[].actorType",
        one_of(
            "RepositoryRole",
            "Team",
            "Integration",
            "OrganizationAdmin",
            "DeployKey",
            "EnterpriseOwner",
            "User",
        ),
        _GITHUB + "resource_github_repository_ruleset.go",
    ),
    Rule(
        "github:index/repositoryRuleset:RepositoryRuleset",
        "bypassActors[].bypassMode",
        one_of("always", "pull_request", "exempt"),
        _GITHUB + "resource_github_repository_ruleset.go",
    ),
    Rule(
        "github:index/actionsVariable:ActionsVariable",
        "variableName",
        secret_name,
        _GITHUB + "resource_github_actions_variable.go, util.go",
    ),
    Rule(
        "github:index/actionsEnvironmentSecret:ActionsEnvironmentSecret",
        "secretName",
        secret_name,
        _GITHUB + "resource_github_actions_environment_secret.go, util.go",
    ),
    Rule(
        "github:index/actionsEnvironmentVariable:ActionsEnvironmentVariable",
        "variableName",
        secret_name,
        _GITHUB + "resource_github_actions_environment_variable.go, util.go",
    ),
    Rule(
        "github:index/actionsRepositoryPermissions:ActionsRepositoryPermissions",
        "allowedActions",
        one_of("all", "local_only", "selected"),
        _GITHUB + "resource_github_actions_repository_permissions.go",
    ),
    Rule(
        "github:index/workflowRepositoryPermissions:WorkflowRepositoryPermissions",
        "defaultWorkflowPermissions",
        one_of("read", "write"),
        _GITHUB + "resource_github_workflow_repository_permissions.go",
    ),
    Rule(
        "github:index/actionsRunnerGroup:ActionsRunnerGroup",
        "visibility",
        one_of("all", "selected", "private"),
        _GITHUB + "resource_github_actions_runner_group.go",
    ),
    Rule(
        "tls:index/privateKey:PrivateKey",
        "algorithm",
        one_of("RSA", "ECDSA", "ED25519"),
        _TLS + "resource_private_key.go",
    ),
    Rule(
        "linode:index/lkeCluster:LkeCluster",
        "pools[].count",
        at_least_one,
        _LINODE + "lke/schema_resource.go",
    ),
)


def values_at(value: Any, path: str) -> list[tuple[str, Any]]:
    """(concrete path, value) of every value at `path` (`[]` expands a list)."""
    found: list[tuple[str, Any]] = [("", value)]
    for part in path.split("."):
        key, expand = (part[:-2], True) if part.endswith("[]") else (part, False)
        step: list[tuple[str, Any]] = []
        for where, node in found:
            if not isinstance(node, dict) or node.get(key) is None:
                continue
            here = f"{where}.{key}" if where else key
            child = node[key]
            if expand and isinstance(child, list):
                step += [(f"{here}[{i}]", item) for i, item in enumerate(child)]
            elif not expand:
                step.append((here, child))
        found = step
    return found


def rule_problems(res: RecordedResource) -> list[str]:
    inputs = unwrap(res.inputs)
    problems = []
    for rule in RULES:
        if rule.type != res.type:
            continue
        for where, value in values_at(inputs, rule.path):
            problem = rule.check(value)
            if problem is not None:
                problems.append(f"{res.name} ({res.type}) {where}: {problem} [{rule.source}]")
    return problems


@pytest.mark.parametrize("stack", STACKS)
def test_every_guarded_input_is_one_the_real_provider_accepts(stack: str, runs: dict[str, Run]) -> None:
    problems = [p for res in runs[stack].resources for p in rule_problems(res)]
    assert problems == [], "\n".join(problems)


def test_every_rule_guards_a_field_the_program_sets() -> None:
    """A rule over a field no stack sets checks nothing: drop it or fix its path."""
    resources = [r for stack in STACKS for r in run_stack(stack).resources]
    unused = [
        f"{rule.type} {rule.path}"
        for rule in RULES
        if not any(values_at(unwrap(r.inputs), rule.path) for r in resources if r.type == rule.type)
    ]
    assert unused == []


# --------------------------------------------------------------------------- the table


@dataclass(frozen=True)
class BadInput:
    """A value mocks accept and the real provider refuses, and what catches it earlier."""

    id: str
    stack: str
    resource: str  # name of the program's resource that gets the bad value
    path: str  # dotted input path, `name[i]` for a list item
    value: Any
    refusal: str  # what the real provider's Check says (a fragment)
    caught_by: str  # the earlier check
    config: dict[str, Any] | None = None  # the stack config that would produce it, if any

    def apply(self, inputs: dict[str, Any]) -> dict[str, Any]:
        changed = copy.deepcopy(inputs)
        node: Any = changed
        parts = re.findall(r"[^.\[\]]+|\[\d+\]", self.path)
        for part in parts[:-1]:
            node = node[int(part[1:-1])] if part.startswith("[") else node[part]
        last = parts[-1]
        if last.startswith("["):
            node[int(last[1:-1])] = self.value
        else:
            node[last] = self.value
        return changed


RULE_TEST = (
    "tests/system/test_provider_input_rules.py::test_every_guarded_input_is_one_the_real_provider_accepts"
)

BAD_INPUTS: tuple[BadInput, ...] = (
    BadInput(
        "ruleset-enforcement",
        "production",
        "repository-main-ruleset",
        "enforcement",
        "enabled",
        'expected enforcement to be one of ["disabled" "active" "evaluate"], got enabled',
        RULE_TEST,
    ),
    BadInput(
        "ruleset-target",
        "production",
        "repository-main-ruleset",
        "target",
        "branches",
        "expected target to be one of",
        RULE_TEST,
    ),
    BadInput(
        "ruleset-bypass-mode",
        "production",
        "repository-main-ruleset",
        "bypassActors[0].bypassMode",
        "allways",
        'to be one of ["always" "pull_request" "exempt"], got allways',
        RULE_TEST,
    ),
    BadInput(
        "ruleset-actor-type",
        "production",
        "repository-main-ruleset",
        "bypassActors[0].actorType",
        "team",
        "got team",
        RULE_TEST,
    ),
    BadInput(
        "deploy-key-algorithm",
        "staging",
        "staging-gitops-repository-key",
        "algorithm",
        "ED25518",
        'Attribute algorithm value must be one of: ["RSA" "ECDSA" "ED25519"], got: "ED25518"',
        RULE_TEST,
    ),
    BadInput(
        "secret-name-prefix",
        "production",
        "repository-SLACK_WEBHOOK_URL",
        "secretName",
        "GITHUB_SLACK_WEBHOOK_URL",
        "secret names must not start with the GITHUB_ prefix",
        RULE_TEST,
    ),
    BadInput(
        "lke-pool-count",
        "staging",
        "staging-lke",
        "pools[0].count",
        0,
        "to be at least (1), got 0",
        "stack config validation: delivery:cluster.pools.<pool>.count (ge=1)",
        config={"delivery:cluster.pools.default.count": 0},
    ),
)


def recorded(bad: BadInput) -> RecordedResource:
    return run_stack(bad.stack).recorder.named(bad.resource)


@pytest.mark.parametrize("bad", BAD_INPUTS, ids=lambda b: b.id)
def test_each_provider_level_bad_input_is_refused_before_any_engine_runs(bad: BadInput) -> None:
    res = recorded(bad)
    original = unwrap(res.inputs)
    if bad.config is not None:
        assert_refused(bad.stack, bad.config, [next(iter(bad.config)) + " = "])
        return
    assert rule_problems(res) == []
    changed = RecordedResource(type=res.type, name=res.name, custom=True, inputs=bad.apply(original))
    problems = rule_problems(changed)
    assert len(problems) == 1 and bad.path in problems[0], problems
