"""Stack configuration: the committed files validate, bad input fails early and completely."""

from __future__ import annotations

import contextlib
import copy
import json
import re
from typing import Any

import pulumi
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel

from components.config.base import NAMESPACE, SECRET_KEYS, ConfigError
from components.config.loader import parse_namespace
from components.config.stack import StackConfig
from tests.support.stacks import TEST_SECRETS, assert_refused, stack_values
from tools import offline, plan
from tools.offline import (
    STACKS,
    EngineConfigError,
    Recorder,
    StackFileError,
    declared_secrets,
    engine_config,
    project,
    run_program,
    stack_file,
    with_offline_pins,
)


def namespace_values(stack: str, values: dict[str, Any] | None = None) -> dict[str, str]:
    """What the engine hands the program for `delivery:*`, without the prefix."""
    config, _ = engine_config(stack, TEST_SECRETS, values)
    prefix = f"{NAMESPACE}:"
    return {k[len(prefix) :]: v for k, v in config.items() if k.startswith(prefix)}


@pytest.mark.parametrize("stack", STACKS)
def test_committed_stack_validates_as_its_environment(stack: str) -> None:
    config = parse_namespace(namespace_values(stack), stack)
    assert config.environment == stack


def test_environment_defaults_to_stack_name_but_can_be_set() -> None:
    values = namespace_values("staging")
    values.pop("environment", None)
    assert parse_namespace(values, "staging").environment == "staging"
    values["environment"] = "development"
    # Staging's file sends the staging-deployed dispatch, which development may not.
    argocd = json.loads(values["argocd"])
    argocd.pop("notifications")
    values["argocd"] = json.dumps(argocd)
    assert parse_namespace(values, "staging").environment == "development"


def test_every_secret_read_is_declared_secret_with_a_description() -> None:
    decls = project()["config"]
    assert declared_secrets() == sorted(SECRET_KEYS)
    for key in SECRET_KEYS:
        assert decls[key]["secret"] is True
        assert decls[key]["type"] == "string"
        assert "default" not in decls[key], f"{key}: a secret default would sit in Pulumi.yaml in plain text"
        assert len(decls[key]["description"]) > 40


@pytest.mark.parametrize("stack", STACKS)
def test_stack_files_hold_secrets_only_encrypted_and_only_declared_ones(stack: str) -> None:
    """The files committed here carry no ciphertext at all (the passphrases are the user's);
    a deployment's own files carry `secure:` values, and only for declared secrets."""
    config = with_offline_pins(yaml.safe_load(stack_file(stack).read_text())["config"], stack)
    for key, value in config.items():
        namespace, _, name = key.partition(":")
        assert namespace == NAMESPACE, f"{key}: provider settings belong to the provider objects"
        if isinstance(value, dict) and "secure" in value:
            assert name in SECRET_KEYS, f"{key} is encrypted but Pulumi.yaml does not declare it secret"
        assert name not in SECRET_KEYS or isinstance(value, dict), f"{key} is a secret set in plain text"


def test_committed_stack_files_carry_no_ciphertext() -> None:
    for stack in STACKS:
        text = stack_file(stack).read_text()
        assert "secure:" not in text
        assert "encryptionsalt" not in text


def test_harness_reads_an_encrypted_stack_file_as_the_engine_would() -> None:
    values = stack_values("staging")
    values["delivery:slackWebhookUrl"] = {"secure": "v1:ciphertext-only-the-passphrase-opens"}
    config, secret_keys = engine_config("staging", TEST_SECRETS, values)
    assert config["delivery:slackWebhookUrl"] == TEST_SECRETS["slackWebhookUrl"]
    assert "delivery:slackWebhookUrl" in secret_keys


def test_engine_refuses_a_secret_set_in_plain_text() -> None:
    values = stack_values("staging")
    values["delivery:slackWebhookUrl"] = "https://hooks.slack.com/services/plain"
    with pytest.raises(Exception, match="must be encrypted"):
        engine_config("staging", TEST_SECRETS, values)


# --------------------------------------------------------------------------- bad input

# (stack, {config key: new value or None to delete}, [expected problem lines])
BAD_CONFIGS: list[tuple[str, dict[str, Any], list[str]]] = [
    (
        "staging",
        {"delivery:clustr": {"pools": {}}},
        [
            "delivery:clustr = ",
            "unknown key; allowed keys here: argocd, charts, cluster, environment, github",
        ],
    ),
    (
        "staging",
        {"delivery:cluster.pools.default.count": "three"},
        ['delivery:cluster.pools.default.count = "three": Input should be a valid integer'],
    ),
    (
        "staging",
        {"delivery:cluster.pools.default.cuont": 3},
        [
            "delivery:cluster.pools.default.cuont = 3: unknown key; allowed keys here: autoscaler, count, labels, type"
        ],
    ),
    (
        "production",
        {"delivery:cluster.pools.default.autoscaler": {"min": 5, "max": 3}},
        ["delivery:cluster.pools.default.autoscaler.max = 3: below min (5); allowed: 5 to 100"],
    ),
    (
        "staging",
        {"delivery:cluster.pools.default.autoscaler": {"min": 2, "max": 4}},
        [
            "delivery:cluster.pools.default.count = 3: set with `autoscaler`, which owns the node count; "
            "allowed: `count` or `autoscaler`, not both"
        ],
    ),
    (
        "production",
        {"delivery:argocd.highAvailability": False},
        ["delivery:argocd.highAvailability = false: production runs Argo CD highly available"],
    ),
    (
        "production",
        {"delivery:cluster.highAvailability": False},
        ["delivery:cluster.highAvailability = false: production needs an HA control plane; allowed: true"],
    ),
    (
        "production",
        {
            "delivery:cluster.pools": {"default": {"type": "g6-standard-8", "count": 2}},
            "delivery:argocd.highAvailability": False,
        },
        [
            "delivery:cluster.pools = 2: production needs at least 3 nodes in total",
            "delivery:argocd.highAvailability = false: production runs Argo CD highly available",
        ],
    ),
    (
        "development",
        {"delivery:argocd.highAvailability": True},
        ["delivery:argocd.highAvailability = true: HA Argo CD runs redis-ha, which needs at least 3 nodes"],
    ),
    (
        "production",
        {"delivery:monitoring.prometheus.replicas": 1, "delivery:monitoring.alertmanager.replicas": 1},
        [
            "delivery:monitoring.prometheus.replicas = 1: production runs Prometheus highly available "
            "(a second replica scrapes and alerts while one is down); allowed: 2 or more",
            "delivery:monitoring.alertmanager.replicas = 1: production runs Alertmanager highly available "
            "(a second replica notifies while one is down); allowed: 2 or more",
        ],
    ),
    (
        "production",
        {
            "delivery:cluster.pools": {"default": {"type": "g6-standard-8", "count": 2}},
            "delivery:argocd.highAvailability": False,
            "delivery:monitoring.prometheus.replicas": 3,
        },
        [
            "delivery:cluster.pools = 2: production needs at least 3 nodes in total",
            "delivery:argocd.highAvailability = false: production runs Argo CD highly available",
            "delivery:monitoring.prometheus.replicas = 3: two or more replicas run one per node (hard "
            "anti-affinity) and the cluster guarantees 2 nodes; allowed: 1 to 2",
        ],
    ),
    (
        "staging",
        {"delivery:monitoring.alertmanager.replicas": 4},
        [
            "delivery:monitoring.alertmanager.replicas = 4: two or more replicas run one per node (hard "
            "anti-affinity) and the cluster guarantees 3 nodes; allowed: 1 to 3"
        ],
    ),
    (
        "staging",
        {
            "delivery:monitoring.alerts.degradedFor": "10 minutes",
            "delivery:monitoring.prometheus.storageGi": 5,
        },
        [
            'delivery:monitoring.alerts.degradedFor = "10 minutes": not a valid value here; allowed: values '
            "like 30s, 15m, 2h, 15d",
            "delivery:monitoring.prometheus.storageGi = 5: Input should be greater than or equal to 10",
        ],
    ),
    (
        "staging",
        {"delivery:services.web-portal.namespace": "monitoring"},
        [
            'delivery:services.web-portal.namespace = "monitoring": Applications may not deploy into Argo '
            "CD's, Argo Rollouts', monitoring's, the ingress add-ons' or Kubernetes' own namespaces"
        ],
    ),
    (
        "staging",
        {"delivery:argocd.rollouts.analysis": {"count": 3, "failureLimit": 3}},
        ["delivery:argocd.rollouts.analysis = ", "failureLimit (3) must be below count (3)"],
    ),
    (
        "production",
        {"delivery:github.productionReviewers": {"users": [], "teams": []}},
        ["delivery:github.productionReviewers = ", "production deployments need at least one reviewer"],
    ),
    (
        "staging",
        {"delivery:environment": "prod"},
        ["delivery:environment = \"prod\": Input should be 'development', 'staging' or 'production'"],
    ),
    (
        "staging",
        # `kubernetesVersion: 1.30` unquoted: YAML hands over the number 1.3.
        {"delivery:cluster.kubernetesVersion": 1.30},
        [
            "delivery:cluster.kubernetesVersion = 1.3: YAML read this as a number, not text (an unquoted "
            '1.30 becomes 1.3); allowed: the value in quotes, e.g. "1.30"'
        ],
    ),
    (
        "staging",
        {"delivery:cluster.controlPlaneAcl": ["10.0.0.1"]},
        ['delivery:cluster.controlPlaneAcl[0] = "10.0.0.1": must be an IPv4 CIDR such as 203.0.113.0/24'],
    ),
    # Reachability: the runner of the stack's infrastructure jobs must get through its ACL.
    (
        "production",
        {"delivery:pipeline.runners": None},
        [
            'delivery:cluster.controlPlaneAcl = ["203.0.113.0/24", "198.51.100.0/24"]: the production '
            "infrastructure jobs run on GitHub-hosted runners (delivery:pipeline.runners.production is not set)",
            "allowed: [], or a self-hosted group in delivery:pipeline.runners.production",
        ],
    ),
    (
        "production",
        {"delivery:pipeline.runners.production.egressCidrs": ["203.0.113.32/28", "192.0.2.0/28"]},
        [
            'delivery:pipeline.runners.production.egressCidrs = ["192.0.2.0/28"]: outside '
            'delivery:cluster.controlPlaneAcl ["203.0.113.0/24", "198.51.100.0/24"]',
        ],
    ),
    (
        "staging",
        {"delivery:cluster.controlPlaneAcl": ["203.0.113.0/24"]},
        [
            'delivery:cluster.controlPlaneAcl = ["203.0.113.0/24"]: the staging infrastructure jobs and staging '
            "validation's observer jobs (which read its Argo CD Applications) run on GitHub-hosted runners",
            "a self-hosted group in delivery:pipeline.runners.staging with validationObserver: true",
        ],
    ),
    (
        "production",
        {"delivery:pipeline.runners.production.egressCidrs": []},
        ["delivery:pipeline.runners.production.egressCidrs = []: List should have at least 1 item"],
    ),
    (
        "staging",
        {"delivery:services": {"Api_Router": {}}},
        ['delivery:services.Api_Router = "Api_Router": invalid name: must be a DNS label'],
    ),
    (
        "staging",
        {"delivery:github": None},
        ["delivery:github: required key is missing"],
    ),
    (
        "staging",
        {"delivery:services": {}},
        ["delivery:services = {}: at least one service is needed (one Argo CD Application each)"],
    ),
    (
        "production",
        {"delivery:cluster.pools.default": {"type": "g6-standard-4"}},
        ["delivery:cluster.pools.default.count: a pool needs a fixed `count` or an `autoscaler`"],
    ),
    (
        "development",
        {
            "delivery:cluster.pools.default.type": "big-box",
            "delivery:region": "Chicago",
            "delivery:metrics.retentionDays": 0,
        },
        [
            'delivery:cluster.pools.default.type = "big-box": not a valid value here; allowed: values like '
            "g6-standard-4, g6-dedicated-16",
            'delivery:region = "Chicago": not a valid value here; allowed: values like us-ord, eu-central',
            "delivery:metrics.retentionDays = 0: Input should be greater than or equal to 1",
        ],
    ),
]


@pytest.mark.parametrize(("stack", "changes", "expected"), BAD_CONFIGS, ids=lambda v: str(v)[:60])
def test_bad_config_reports_every_problem_and_declares_nothing(
    stack: str, changes: dict[str, Any], expected: list[str]
) -> None:
    assert_refused(stack, changes, expected)


# Stack files that are not valid YAML or repeat a key, as edits of the committed staging file:
# (old text, new text, the line the error must name (its text in the edited file), message;
# `{first}` in it is the line number of the key's first occurrence, the old text's first line)
BAD_STACK_FILES: list[tuple[str, str, str, str]] = [
    (
        "  delivery:region: us-ord\n",
        "  delivery:region: us-ord\n  delivery:region: eu-central\n",
        "  delivery:region: eu-central",
        'duplicate key "delivery:region" (first at line {first}); a key may appear once in a mapping',
    ),
    (
        "        count: 3\n",
        "        count: 3\n        count: 4\n",
        "        count: 4",
        'duplicate key "count" (first at line {first}); a key may appear once in a mapping',
    ),
    (
        "    highAvailability: false\n    pools:",
        "\thighAvailability: false\n    pools:",
        "\thighAvailability: false",
        "a tab character; indent with spaces, YAML does not allow tabs",
    ),
    (
        "    highAvailability: false\n    pools:",
        "      highAvailability: false\n    pools:",
        "      highAvailability: false",
        "not valid YAML here",
    ),
    (
        "    pools:\n",
        "   pools:\n",
        "   pools:",
        "check this line's indentation against the lines above",
    ),
]


@pytest.mark.parametrize("case", BAD_STACK_FILES, ids=lambda case: repr(case[2]))
def test_bad_stack_file_is_one_problem_with_file_and_line(
    case: tuple[str, str, str, str],
    tmp_path: Any,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    old, new, line, message = case
    committed = stack_file("staging").read_text()
    assert committed.count(old) == 1, "the edit must apply to the committed file once"
    text = committed.replace(old, new)
    bad = tmp_path / "Pulumi.staging.yaml"
    bad.write_text(text)
    monkeypatch.setattr(offline, "stack_file", lambda stack: bad)
    recorder = Recorder()
    with pytest.raises(StackFileError) as caught:
        run_program("staging", TEST_SECRETS, recorder=recorder)
    number = text.splitlines().index(line) + 1
    if "{first}" in message:
        message = message.format(first=text.splitlines().index(old.splitlines()[0]) + 1)
    first, problem = str(caught.value).splitlines()
    assert first == "invalid stack configuration (1 problem); nothing was declared:"
    assert problem.startswith(f"  - Pulumi.staging.yaml, line {number}, column "), problem
    assert message in problem
    assert recorder.resources == []
    # The offline plan reports it as one message, no traceback.
    assert plan.main(["staging"]) == 1
    printed = capsys.readouterr()
    assert problem in printed.err and "Traceback" not in printed.err


def test_services_key_with_no_value_asks_for_a_service() -> None:
    """`delivery:services:` with nothing after it reaches the program as "", as the real CLI
    (v3.274.1) passes it."""
    values = stack_values("staging")
    values["delivery:services"] = None
    recorder = Recorder()
    with pytest.raises(ConfigError) as caught:
        run_program("staging", TEST_SECRETS, values, recorder=recorder)
    assert [p.render() for p in caught.value.problems] == [
        'delivery:services = "": at least one service is needed (one Argo CD Application each); '
        "allowed: a map of service names to their settings, e.g. api-router-service: {}"
    ]
    assert recorder.resources == []


def test_config_error_is_a_clean_run_error() -> None:
    with pytest.raises(
        pulumi.RunError, match=r"invalid stack configuration \(1 problem\); nothing was declared"
    ):
        parse_namespace({**namespace_values("staging"), "region": "Chicago"}, "staging")


# --------------------------------------------------------------------------- fuzzing


def _leaf_paths(
    model: type[BaseModel], sample: dict[str, Any], prefix: tuple[str, ...] = ()
) -> list[tuple[str, ...]]:
    """Every config key path of the model, using the committed sample for collection keys."""
    paths: list[tuple[str, ...]] = []
    for name, field in model.model_fields.items():
        key = field.alias or name
        path = (*prefix, key)
        paths.append(path)
        annotation = field.annotation
        nested = [a for a in (annotation, *getattr(annotation, "__args__", ())) if isinstance(a, type)]
        sub = sample.get(key) if isinstance(sample, dict) else None
        if getattr(annotation, "__origin__", None) is dict and isinstance(sub, dict) and sub:
            item_model = annotation.__args__[1]  # type: ignore[union-attr]
            if isinstance(item_model, type) and issubclass(item_model, BaseModel):
                first = sorted(sub)[0]
                paths += _leaf_paths(item_model, sub[first], (*path, first))
            continue
        for candidate in nested:
            if issubclass(candidate, BaseModel):
                paths += _leaf_paths(candidate, sub if isinstance(sub, dict) else {}, path)
    return paths


def _decoded(stack: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in namespace_values(stack).items():
        out[key] = json.loads(value) if isinstance(value, str) and value[:1] in "{[" else value
    return out


SAMPLE = _decoded("production")
KEY_PATHS = _leaf_paths(StackConfig, SAMPLE)

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3)
    ),
    max_leaves=8,
)


def _set(doc: dict[str, Any], path: tuple[str, ...], value: Any) -> dict[str, Any]:
    doc = copy.deepcopy(doc)
    node = doc
    for part in path[:-1]:
        if not isinstance(node.get(part), dict):
            node[part] = {}
        node = node[part]
    node[path[-1]] = value
    return doc


def test_fuzzing_covers_every_config_key() -> None:
    assert len(KEY_PATHS) > 30
    assert ("cluster", "pools", "default", "autoscaler", "min") in KEY_PATHS


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(path=st.sampled_from(KEY_PATHS), value=json_values)
@pytest.mark.slow
def test_arbitrary_values_fail_only_as_config_errors(path: tuple[str, ...], value: Any) -> None:
    raw = {k: (v if isinstance(v, str) else json.dumps(v)) for k, v in _set(SAMPLE, path, value).items()}
    try:
        parse_namespace(raw, "production")
    except ConfigError as error:
        rendered = str(error)
        assert all(re.match(rf"  - {NAMESPACE}:", line) for line in rendered.split("\n")[1:])


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(path=st.sampled_from(KEY_PATHS), value=json_values)
@pytest.mark.slow
def test_arbitrary_values_through_the_whole_program(path: tuple[str, ...], value: Any) -> None:
    """Values that pass validation must also run the whole program without any other error.

    The engine's own type check of Pulumi.yaml's typed keys (EngineConfigError) comes first,
    as it would under `pulumi up`.
    """
    doc = _set(SAMPLE, path, value)
    values = {f"{NAMESPACE}:{k}": v for k, v in doc.items() if k not in SECRET_KEYS}
    with contextlib.suppress(ConfigError, EngineConfigError):
        run_program("production", TEST_SECRETS, values)
