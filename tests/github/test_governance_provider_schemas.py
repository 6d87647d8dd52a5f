"""Every key the program passes to a `github:` or `linode:` resource exists in the provider schema.

The Python SDKs take nested inputs as plain dictionaries too and do not check their keys: a
misspelt `requiredApprovingReviewCount` or `bucketAccess` would reach the provider and be
dropped or refused only at `pulumi up`. This walks the recorded inputs of every such
resource of every stack (whoever's component declared it) against the providers' published
schemas (`tests/schemas/pulumi-*-inputs.json`). The schemas type enum-like fields as plain
strings; the values the providers accept there are checked in `test_provider_input_rules.py`.
"""

from __future__ import annotations

import json
from functools import cache
from typing import Any

import pytest

from tests.support.paths import SCHEMAS
from tools.offline import STACKS, RecordedResource, Run, unwrap

PACKAGES = ("github", "linode")


@cache
def schema(package: str) -> dict[str, Any]:
    schema_doc: dict[str, Any] = json.loads((SCHEMAS / f"pulumi-{package}-inputs.json").read_text())
    return schema_doc


def _scalar_ok(kind: str, value: Any) -> bool:
    if kind == "string":
        return isinstance(value, str)
    if kind == "boolean":
        return isinstance(value, bool)
    if kind == "integer":
        # The engine carries every number as a double.
        return isinstance(value, int | float) and not isinstance(value, bool) and float(value).is_integer()
    if kind == "number":
        return isinstance(value, int | float) and not isinstance(value, bool)
    return True


def check(package: str, spec: dict[str, Any], value: Any, path: str) -> list[str]:
    """Problems of `value` against a schema property spec, with key paths."""
    if value is None:
        return []
    if "oneOf" in spec:
        options = [check(package, option, value, path) for option in spec["oneOf"]]
        return [] if any(not problems for problems in options) else options[0]
    ref = spec.get("$ref")
    if ref is not None:
        if not ref.startswith("#/types/"):
            return []  # pulumi.json#/Any, #/Archive, ...
        token = ref.removeprefix("#/types/")
        object_type = schema(package)["types"].get(token)
        if object_type is None:
            return []  # an enum type: a scalar
        return check_object(package, token, object_type["properties"], value, path)
    kind = spec.get("type")
    if kind == "array":
        if not isinstance(value, list):
            return [f"{path}: expected a list, got {type(value).__name__}"]
        return [
            p
            for i, item in enumerate(value)
            for p in check(package, spec.get("items", {}), item, f"{path}[{i}]")
        ]
    if kind == "object":
        if not isinstance(value, dict):
            return [f"{path}: expected a map, got {type(value).__name__}"]
        item_spec = spec.get("additionalProperties", {})
        return [p for k, v in value.items() for p in check(package, item_spec, v, f"{path}.{k}")]
    if kind and not _scalar_ok(kind, value):
        return [f"{path}: expected {kind}, got {value!r}"]
    return []


def check_object(package: str, token: str, properties: dict[str, Any], value: Any, path: str) -> list[str]:
    if not isinstance(value, dict):
        return [f"{path}: expected an object of {token.rsplit(':', 1)[-1]}, got {type(value).__name__}"]
    problems: list[str] = []
    for key, item in value.items():
        where = f"{path}.{key}" if path else key
        if key in properties:
            problems += check(package, properties[key], item, where)
        else:
            problems.append(f"{where}: no such input of {token} (known: {', '.join(sorted(properties))})")
    return problems


def resource_problems(res: RecordedResource) -> list[str]:
    package = res.type.split(":", 1)[0]
    declared = schema(package)["resources"].get(res.type)
    if declared is None:
        return [f"{res.type}: no such resource in the {package} schema"]
    inputs = unwrap(res.inputs)
    problems = check_object(package, res.type, declared["inputProperties"], inputs, "")
    missing = [k for k in declared["requiredInputs"] if inputs.get(k) is None]
    problems += [f"{k}: required input missing" for k in missing]
    return [f"{res.name} ({res.type}): {p}" for p in problems]


def provider_resources(run: Run) -> list[RecordedResource]:
    return [r for r in run.resources if r.custom and r.type.split(":", 1)[0] in PACKAGES]


@pytest.mark.parametrize("stack", STACKS)
def test_every_github_and_linode_input_matches_the_provider_schema(stack: str, runs: dict[str, Run]) -> None:
    resources = provider_resources(runs[stack])
    assert {r.type.split(":", 1)[0] for r in resources} == set(PACKAGES), "nothing to check"
    problems = [p for res in resources for p in resource_problems(res)]
    assert problems == [], "\n".join(problems)


def test_the_check_sees_nested_typos_and_wrong_types() -> None:
    """The checker itself: it must fail on what it is there to catch."""
    ruleset = RecordedResource(
        type="github:index/repositoryRuleset:RepositoryRuleset",
        name="typo",
        custom=True,
        inputs={
            "name": "main",
            "repository": "platform",
            "target": "branch",
            "enforcement": "active",
            "rules": {"pullRequest": {"requiredApprovals": 2, "dismissStaleReviewsOnPush": "yes"}},
            "bypassActors": [{"actorId": 1.5, "actorType": "Team", "bypassMode": "always"}],
        },
    )
    problems = resource_problems(ruleset)
    assert any("rules.pullRequest.requiredApprovals: no such input" in p for p in problems), problems
    assert any("rules.pullRequest.dismissStaleReviewsOnPush: expected boolean" in p for p in problems)
    assert any("bypassActors[0].actorId: expected integer" in p for p in problems)
    key = RecordedResource(
        type="linode:index/objectStorageKey:ObjectStorageKey",
        name="typo",
        custom=True,
        inputs={
            "label": "k",
            "bucketAccesses": [{"bucket": "b", "region": "us-ord", "permissions": "read_only"}],
        },
    )
    assert any("bucketAccesses[0].bucket: no such input" in p for p in resource_problems(key))
    token = RecordedResource(type="linode:index/token:Token", name="t", custom=True, inputs={"label": "t"})
    assert any("scopes: required input missing" in p for p in resource_problems(token))
