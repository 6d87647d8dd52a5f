"""Run the Pulumi program offline: stack config as the engine builds it, mocks, a recording.

Used by the test suite (``tests/conftest.py``) and by the offline plan (``tools/plan.py``).
Nothing here talks to a cloud: every resource is answered by ``Recorder`` with inputs
echoed back plus the few computed outputs the program reads (``MOCK_OUTPUTS``).
"""

from __future__ import annotations

import asyncio
import base64
import copy
import hashlib
import json
import runpy
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pulumi
import yaml
from pulumi.runtime import mocks as pulumi_mocks
from pulumi.runtime import rpc

from components.github.config import PULUMI_PLUGIN_VERSIONS

ROOT = Path(__file__).resolve().parent.parent
PROJECT_FILE = ROOT / "Pulumi.yaml"
STACKS = ("development", "staging", "production")

_SECRET_SIG = (rpc._special_sig_key, rpc._special_secret_sig)


class EngineConfigError(Exception):
    """What `pulumi up` itself would refuse before the program runs."""


class StackFileError(EngineConfigError):
    """A stack file that is not valid YAML or repeats a key: one problem, with file and line."""

    def __init__(self, path: Path, line: int, column: int, message: str):
        self.path, self.line, self.column = path, line, column
        super().__init__(
            "invalid stack configuration (1 problem); nothing was declared:\n"
            f"  - {path.name}, line {line}, column {column}: {message}"
        )


class _DuplicateKeyError(yaml.constructor.ConstructorError):
    pass


class _UniqueKeyLoader(yaml.SafeLoader):
    """PyYAML keeps the last of two equal keys without a word; a stack file must not."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        first: dict[Any, int] = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            try:
                line = first.setdefault(key, key_node.start_mark.line)
            except TypeError:  # an unhashable key: the base class reports it
                continue
            if line != key_node.start_mark.line:
                raise _DuplicateKeyError(
                    None,
                    None,
                    f"duplicate key {json.dumps(key, default=str)} (first at line {line + 1});"
                    " a key may appear once in a mapping",
                    key_node.start_mark,
                )
        return super().construct_mapping(node, deep=deep)


def read_stack_file(path: Path) -> dict[str, Any]:
    """A stack file's document, or StackFileError naming the file and line of the problem."""
    try:
        doc = yaml.load(path.read_text(), Loader=_UniqueKeyLoader)  # a SafeLoader subclass
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        problem = " ".join(str(part) for part in (error.problem, error.context) if part)
        if isinstance(error, _DuplicateKeyError):
            pass
        elif "\\t" in problem:  # PyYAML names the character as `'\t'`
            problem = f"a tab character; indent with spaces, YAML does not allow tabs ({problem})"
        else:
            problem = (
                f"not valid YAML here ({problem}); check this line's indentation against the lines above"
            )
        raise StackFileError(
            path, mark.line + 1 if mark else 0, mark.column + 1 if mark else 0, problem
        ) from None
    if doc is None:
        return {}
    if not isinstance(doc, dict):
        raise StackFileError(path, 1, 1, "the file must be a mapping with a `config:` block")
    return doc


@dataclass(frozen=True)
class Secret:
    """An input value the program marked secret (as it reaches the engine)."""

    value: Any

    def __repr__(self) -> str:
        return "Secret([masked])"


def project() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(PROJECT_FILE.read_text())
    return loaded


def project_name() -> str:
    return str(project()["name"])


def declared_secrets() -> list[str]:
    """Project config keys Pulumi.yaml declares `secret: true` (without namespace)."""
    decls = project().get("config") or {}
    return sorted(k for k, v in decls.items() if isinstance(v, dict) and v.get("secret"))


def stack_file(stack: str) -> Path:
    return ROOT / f"Pulumi.{stack}.yaml"


def _encode(value: Any) -> str:
    """How the engine hands a config value to the language host: strings as-is, a key with no
    value (YAML null) as the empty string (seen from the real CLI v3.274.1), else JSON."""
    if value is None:
        return ""
    return value if isinstance(value, str) else json.dumps(value)


# Checksums the stack that manages the repository must set and that no file published where
# this repository could read it gives (docs/pipelines.md, "Pinned downloads"): the Pulumi CLI's and some
# plugins'. Offline runs (tests, plan, golden files, the credential-free preview) fill what a
# stack file leaves out with the sha256 of a label, which is no release archive's, so a
# workflow rendered with one fails at its checksum check; the plan and the golden files show
# each as `unpublished-checksum-stand-in-<key>`.
def _placeholder(label: str) -> str:
    return hashlib.sha256(f"offline placeholder for {label}: not a published checksum".encode()).hexdigest()


# Staging and production also pin their Helm charts and the charts' images by digest
# (delivery:<chart>.chartDigest, delivery:<chart>.images, docs/supply-chain.md); no registry is
# reachable here, so offline runs fill those too, each image at the tag its chart version runs
# (the charts' values.yaml and appVersion in components/schemas/charts/; haproxy, as Argo CD's
# HA install manifests run it; kube-state-metrics 8.4.0 and prometheus-node-exporter 4.56.1,
# whose values are not copied here, at their appVersions 2.20.0 and 1.12.1; the OpenTelemetry
# collector at chart 0.170.0's appVersion 0.158.0; Jaeger, which no chart installs, at the tag
# components/monitoring/config.py pins (JAEGER_IMAGE); Grafana and its sidecar at the tags a public
# consumer of the grafana chart pins, not read from chart 12.11.1, whose values are not here).
OFFLINE_CHARTS: tuple[str, ...] = ("argocd", "argocd.rollouts", "monitoring", "monitoring.tracing")
OFFLINE_CHART_IMAGES: dict[str, str] = {
    "argocd.images.argocd": "quay.io/argoproj/argocd:v3.4.4",
    "argocd.images.redis": "ecr-public.aws.com/docker/library/redis:8.2.3-alpine",
    "argocd.images.haproxy": "ecr-public.aws.com/docker/library/haproxy:3.0.8-alpine",
    "argocd.rollouts.images.controller": "quay.io/argoproj/argo-rollouts:v1.9.0",
    "monitoring.images.prometheusOperator": "quay.io/prometheus-operator/prometheus-operator:v0.93.1",
    "monitoring.images.prometheusConfigReloader": "quay.io/prometheus-operator/prometheus-config-reloader:v0.93.1",
    "monitoring.images.prometheus": "quay.io/prometheus/prometheus:v3.14.0-distroless",
    "monitoring.images.alertmanager": "quay.io/prometheus/alertmanager:v0.34.0",
    "monitoring.images.admissionWebhookPatch": "ghcr.io/jkroepke/kube-webhook-certgen:1.8.7",
    "monitoring.images.kubeStateMetrics": "registry.k8s.io/kube-state-metrics/kube-state-metrics:v2.20.0",
    "monitoring.images.nodeExporter": "quay.io/prometheus/node-exporter:v1.12.1",
    "monitoring.images.grafana": "docker.io/grafana/grafana:12.3.1",
    "monitoring.images.grafanaSidecar": "quay.io/kiwigrid/k8s-sidecar:2.5.0",
    "monitoring.tracing.images.collector": "docker.io/otel/opentelemetry-collector-k8s:0.158.0",
    "monitoring.tracing.images.jaeger": "docker.io/jaegertracing/jaeger:2.12.0",
    "ingress.images.traefik": "docker.io/traefik:v3.7.11",
    "ingress.images.certManagerController": "quay.io/jetstack/cert-manager-controller:v1.21.2",
    "ingress.images.certManagerWebhook": "quay.io/jetstack/cert-manager-webhook:v1.21.2",
    "ingress.images.certManagerCainjector": "quay.io/jetstack/cert-manager-cainjector:v1.21.2",
    "ingress.images.certManagerAcmesolver": "quay.io/jetstack/cert-manager-acmesolver:v1.21.2",
}
# The ingress add-ons name their two charts' digests apart (one config node, two charts).
OFFLINE_INGRESS_DIGESTS: tuple[str, ...] = ("ingress.traefikChartDigest", "ingress.certManagerChartDigest")
PINNED_ENVIRONMENTS = ("staging", "production")

OFFLINE_PINS: dict[str, str] = {
    "pulumiCliSha256": _placeholder("pulumiCliSha256"),
    **{
        f"pulumiPlugins.{name}.sha256": _placeholder(f"pulumiPlugins.{name}.sha256")
        for name in PULUMI_PLUGIN_VERSIONS
    },
    **{f"{chart}.chartDigest": _placeholder(f"{chart}.chartDigest") for chart in OFFLINE_CHARTS},
    **{key: _placeholder(key) for key in OFFLINE_CHART_IMAGES},
    **{key: _placeholder(key) for key in OFFLINE_INGRESS_DIGESTS},
}


def _fill_chart_pins(values: dict[str, Any]) -> None:
    """OFFLINE_PINS for the chart digests and chart images a pinned environment leaves out."""
    name = project_name()
    ingress = values.setdefault(f"{name}:ingress", {})
    if isinstance(ingress, dict):
        for key in OFFLINE_INGRESS_DIGESTS:
            ingress.setdefault(key.split(".", 1)[1], f"sha256:{OFFLINE_PINS[key]}")
        images = ingress.setdefault("images", {})
        if isinstance(images, dict):
            for key, image in OFFLINE_CHART_IMAGES.items():
                if key.startswith("ingress.images."):
                    images.setdefault(key.rpartition(".")[2], f"{image}@sha256:{OFFLINE_PINS[key]}")
    for chart in OFFLINE_CHARTS:
        top, *rest = chart.split(".")
        node = values.setdefault(f"{name}:{top}", {})
        for part in rest:
            if not isinstance(node, dict):
                return  # the config check reports the wrong type
            node = node.setdefault(part, {})
        if not isinstance(node, dict):
            return
        node.setdefault("chartDigest", f"sha256:{OFFLINE_PINS[f'{chart}.chartDigest']}")
        images = node.setdefault("images", {})
        if not isinstance(images, dict):
            return
        for key, image in OFFLINE_CHART_IMAGES.items():
            owner, _, image_name = key.rpartition(".images.")
            if owner == chart:
                images.setdefault(image_name, f"{image}@sha256:{OFFLINE_PINS[key]}")


def with_offline_pins(stack_values: Mapping[str, Any], stack: str) -> dict[str, Any]:
    """The stack values with OFFLINE_PINS filled in where the stack leaves them out: the
    toolchain checksums of the stack that manages the repository, the chart and image digests
    of staging and production."""
    values = copy.deepcopy(dict(stack_values))
    environment = values.get(f"{project_name()}:environment", stack)
    if environment in PINNED_ENVIRONMENTS:
        _fill_chart_pins(values)
    github = values.get(f"{project_name()}:github")
    if not isinstance(github, dict) or github.get("manageRepository") is not True:
        return values
    workflows = github.setdefault("workflows", {})
    toolchain = workflows.setdefault("toolchain", {}) if isinstance(workflows, dict) else None
    if not isinstance(toolchain, dict):
        return values  # the config check reports the wrong type
    toolchain.setdefault("pulumiCliSha256", OFFLINE_PINS["pulumiCliSha256"])
    plugins = toolchain.setdefault("pulumiPlugins", {})
    if isinstance(plugins, dict):
        for name, version in PULUMI_PLUGIN_VERSIONS.items():
            plugins.setdefault(
                name, {"version": version, "sha256": OFFLINE_PINS[f"pulumiPlugins.{name}.sha256"]}
            )
    return values


def engine_config(
    stack: str,
    secrets: Mapping[str, str],
    stack_values: Mapping[str, Any] | None = None,
    *,
    offline_pins: bool = True,
) -> tuple[dict[str, str], list[str]]:
    """The config map `pulumi up` passes to the program, and its secret keys.

    Mirrors the engine: Pulumi.yaml defaults (and namespaced `value`s) first, the stack
    file over them, every declared secret required and required to be `secure:`, declared
    types checked. `secrets` plays the part of `pulumi config set --secret`; with
    `offline_pins` (the default) OFFLINE_PINS stand in for the checksums the file leaves out.
    """
    name = project_name()
    decls: dict[str, Any] = project().get("config") or {}
    if stack_values is None:
        stack_values = read_stack_file(stack_file(stack)).get("config") or {}
    if offline_pins:
        stack_values = with_offline_pins(stack_values, stack)
    merged: dict[str, Any] = {}
    secret_keys: list[str] = []
    for key, value in stack_values.items():
        full = key if ":" in key else f"{name}:{key}"
        if isinstance(value, dict) and set(value) == {"secure"}:
            short = full.split(":", 1)[1]
            if short not in secrets:
                raise EngineConfigError(f"no test value for secret {full}")
            merged[full] = secrets[short]
            secret_keys.append(full)
        else:
            merged[full] = value
    for key, decl in decls.items():
        full = key if ":" in key else f"{name}:{key}"
        if not isinstance(decl, dict):
            merged.setdefault(full, decl)
            continue
        if decl.get("secret"):
            if full in merged and full not in secret_keys:
                raise EngineConfigError(
                    f"Stack '{stack}' with configuration key '{key}' must be encrypted as it's secret"
                )
            if full not in merged:
                if key not in secrets:
                    raise EngineConfigError(f"Stack '{stack}' is missing configuration value '{key}'")
                merged[full] = secrets[key]
                secret_keys.append(full)
            continue
        if full not in merged:
            if "default" in decl:
                merged[full] = decl["default"]
            elif "value" in decl:
                merged[full] = decl["value"]
            elif full.startswith(f"{name}:"):
                raise EngineConfigError(f"Stack '{stack}' is missing configuration value '{key}'")
        expected = decl.get("type")
        if expected and full in merged and not _has_type(merged[full], expected):
            raise EngineConfigError(
                f"Stack '{stack}' with configuration key '{key}' must be of type '{expected}'"
            )
    return {k: _encode(v) for k, v in merged.items()}, sorted(secret_keys)


def _has_type(value: Any, expected: str) -> bool:
    checks: dict[str, Callable[[Any], bool]] = {
        "string": lambda v: isinstance(v, str),
        "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
        "boolean": lambda v: isinstance(v, bool),
        "array": lambda v: isinstance(v, list),
    }
    return checks[expected](value)


# --------------------------------------------------------------------------- recording


@dataclass
class RecordedResource:
    """One resource the program registered: what it is, where, with which inputs and options."""

    type: str
    name: str
    custom: bool
    parent: str | None = None
    # The URN the engine gives it: stack, project, the type chain through its parents, its name.
    urn: str = ""
    inputs: dict[str, Any] = field(default_factory=dict)
    provider: str | None = None
    protect: bool = False
    depends_on: list[str] = field(default_factory=list)
    delete_before_replace: bool = False
    retain_on_delete: bool = False
    ignore_changes: list[str] = field(default_factory=list)
    replace_on_changes: list[str] = field(default_factory=list)
    # Earlier URNs the resource answers for (its `aliases` option), each as a full URN.
    aliases: list[str] = field(default_factory=list)
    additional_secret_outputs: list[str] = field(default_factory=list)

    @property
    def plain(self) -> dict[str, Any]:
        """Inputs with secret markers removed (for reading values)."""
        plain: dict[str, Any] = unwrap(self.inputs)
        return plain


def _wrap_secrets(value: Any) -> Any:
    # The wire format carries every number as a double; a whole one was an int in the program.
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        if value.get(_SECRET_SIG[0]) == _SECRET_SIG[1]:
            return Secret(_wrap_secrets(value.get("value")))
        return {k: _wrap_secrets(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_wrap_secrets(v) for v in value]
    return value


def unwrap(value: Any) -> Any:
    if isinstance(value, Secret):
        return unwrap(value.value)
    if isinstance(value, dict):
        return {k: unwrap(v) for k, v in value.items()}
    if isinstance(value, list):
        return [unwrap(v) for v in value]
    return value


def mask(value: Any) -> Any:
    """Inputs with every secret replaced by a marker (for printing and golden files)."""
    if isinstance(value, Secret):
        return "[secret]"
    if isinstance(value, dict):
        return {k: mask(v) for k, v in value.items()}
    if isinstance(value, list):
        return [mask(v) for v in value]
    return value


def walk(value: Any, path: str = "") -> Iterator[tuple[str, Any, bool]]:
    """(path, leaf value, under a secret marker) for every leaf of an input tree."""

    def go(v: Any, p: str, secret: bool) -> Iterator[tuple[str, Any, bool]]:
        if isinstance(v, Secret):
            yield from go(v.value, p, True)
        elif isinstance(v, dict):
            for k, item in v.items():
                yield from go(item, f"{p}.{k}" if p else str(k), secret)
        elif isinstance(v, list):
            for i, item in enumerate(v):
                yield from go(item, f"{p}[{i}]", secret)
        else:
            yield p, v, secret

    yield from go(value, path, False)


def unknown(what: str) -> str:
    """The stand-in for a value only the provider knows, after apply (an id, a computed output).

    The offline run cannot know these; the stand-in says so wherever it lands (the plan, the
    golden files, a string the program builds from it), so it never passes for a real value.
    """
    return f"<unknown: {what}>"


def mock_id(name: str) -> str:
    """The id the mocks give the resource named `name`."""
    return unknown(f"id of {name}")


_FAKE_KUBECONFIG = base64.b64encode(
    yaml.safe_dump(
        {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [
                {
                    "name": "lke",
                    "cluster": {
                        "server": "https://lke.example.invalid:443",
                        "certificate-authority-data": base64.b64encode(b"mock-cluster-ca").decode(),
                    },
                }
            ],
            "users": [{"name": "lke-admin", "user": {"token": "mock-token"}}],
            "contexts": [{"name": "lke", "context": {"cluster": "lke", "user": "lke-admin"}}],
            "current-context": "lke",
        }
    ).encode()
).decode()

# Computed outputs the program reads, per resource type (inputs are echoed back as well).
# Credentials keep a credential's shape (they are secrets, masked wherever shown, and the
# tests trace them); everything else is an `unknown(...)` stand-in.
MOCK_OUTPUTS: dict[str, dict[str, Any]] = {
    "linode:index/lkeCluster:LkeCluster": {
        "kubeconfig": _FAKE_KUBECONFIG,
        "apiEndpoints": [unknown("apiEndpoints of the LkeCluster")],
        "status": unknown("status of the LkeCluster"),
    },
    "tls:index/privateKey:PrivateKey": {
        "privateKeyOpenssh": "-----BEGIN OPENSSH PRIVATE KEY-----\nmock\n-----END OPENSSH PRIVATE KEY-----\n",
        "privateKeyPem": "-----BEGIN PRIVATE KEY-----\nmock\n-----END PRIVATE KEY-----\n",
        "publicKeyOpenssh": unknown("publicKeyOpenssh of the tls PrivateKey"),
    },
    "linode:index/objectStorageKey:ObjectStorageKey": {
        "accessKey": "MOCKACCESSKEY",
        "secretKey": "mock-secret-key",
    },
    "linode:index/token:Token": {"token": "mock-linode-token"},
    "linode:index/objectStorageBucket:ObjectStorageBucket": {
        "hostname": unknown("hostname of the ObjectStorageBucket"),
        "endpoint": unknown("endpoint of the ObjectStorageBucket"),
        "s3Endpoint": unknown("s3Endpoint of the ObjectStorageBucket"),
    },
}

# GitHub's numeric ids of looked-up users and teams: the program needs integers, so these are
# numbers in a range no config value reaches; `Recorder.unknowns` names each one for the plan.
_USER_IDS = 7_000_000_000
_TEAM_IDS = 8_000_000_000

SERVICE_ACCOUNT_TOKEN = "kubernetes.io/service-account-token"

# Minted credentials: each resource's value ends in its own name, so a test can trace which
# resource a secret holds (tests/github/test_system_credentials.py follows every CI secret to it).
MINTED_CREDENTIALS = ("token", "accessKey", "secretKey")


def mock_outputs(type_: str, name: str) -> dict[str, Any]:
    """The computed outputs the mocks answer for one resource."""
    outputs = MOCK_OUTPUTS.get(type_, {})
    return {k: f"{v}-{name}" if k in MINTED_CREDENTIALS else v for k, v in outputs.items()}


# Answers to provider functions (data sources) the program calls.
MOCK_CALLS: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
    "github:index/getUser:getUser": lambda a: {
        "id": str(_USER_IDS + sum(map(ord, a.get("username", "")))),
        "login": a.get("username", ""),
        "nodeId": unknown(f"node id of GitHub user {a.get('username', '')}"),
    },
    "github:index/getTeam:getTeam": lambda a: {
        "id": str(_TEAM_IDS + sum(map(ord, a.get("slug", "")))),
        "slug": a.get("slug", ""),
        "nodeId": unknown(f"node id of GitHub team {a.get('slug', '')}"),
    },
    "github:index/getRepository:getRepository": lambda a: {
        "repoId": 6_000_000_000,
        "nodeId": unknown("node id of the repository"),
        "fullName": a.get("fullName") or a.get("name", ""),
        "name": a.get("name", ""),
    },
}


def make_urn(qualified_type: str, name: str, *, stack: str | None = None, project: str | None = None) -> str:
    """`urn:pulumi:<stack>::<project>::<qualified type>::<name>` (the current stack and project
    unless given); the qualified type is the type chain through the parents, the root stack
    left out."""
    return f"urn:pulumi:{stack or pulumi.get_stack()}::{project or pulumi.get_project()}::{qualified_type}::{name}"


class Recorder(pulumi_mocks.Mocks):
    """Mocks that record every resource the program registers."""

    def __init__(self) -> None:
        self.resources: list[RecordedResource] = []
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self._by_key: dict[tuple[str, str], RecordedResource] = {}
        self._names: dict[int, str] = {}
        # Resource name -> its qualified type (the type chain through its parents, `$`-joined).
        self._qualified: dict[str, str] = {}
        # Numbers the mocks made up (lookup ids) -> what they stand for, for the plan.
        self.unknowns: dict[int, str] = {}

    def _get(self, type_: str, name: str, custom: bool) -> RecordedResource:
        key = (type_, name)
        if key not in self._by_key:
            res = RecordedResource(type=type_, name=name, custom=custom)
            self._by_key[key] = res
            self.resources.append(res)
        return self._by_key[key]

    def transformation(self, args: pulumi.ResourceTransformationArgs) -> None:
        """Stack transformation: sees every resource's options before registration."""
        self._names[id(args.resource)] = args.name
        opts = args.opts
        res = self._get(args.type_, args.name, custom=isinstance(args.resource, pulumi.CustomResource))
        res.parent = self._names.get(id(opts.parent)) if opts.parent is not None else None
        parent_type = self._qualified.get(res.parent) if res.parent is not None else None
        self._qualified[args.name] = f"{parent_type}${args.type_}" if parent_type else args.type_
        res.urn = make_urn(self._qualified[args.name], args.name)
        res.provider = self._names.get(id(opts.provider)) if opts.provider is not None else None
        res.protect = bool(opts.protect)
        deps = opts.depends_on
        listed: list[Any] = list(deps) if isinstance(deps, list) else [] if deps is None else [deps]
        res.depends_on = [self._names.get(id(d), "?") for d in listed if isinstance(d, pulumi.Resource)]
        res.delete_before_replace = bool(opts.delete_before_replace)
        res.retain_on_delete = bool(opts.retain_on_delete)
        res.ignore_changes = list(opts.ignore_changes or [])
        res.replace_on_changes = list(opts.replace_on_changes or [])
        res.aliases = [self._alias_urn(alias, res, parent_type) for alias in opts.aliases or []]
        res.additional_secret_outputs = list(opts.additional_secret_outputs or [])

    def _alias_urn(self, alias: Any, res: RecordedResource, parent_type: str | None) -> str:
        """One `aliases` entry as the URN it names, the way the engine collapses an alias spec:
        what the spec leaves out is the resource's own (name, type, parent, stack, project).
        `parent=None` is the root stack, as in `pulumi.Alias`."""
        if isinstance(alias, str):
            return alias
        if not isinstance(alias, pulumi.Alias):
            raise TypeError(f"{res.name}: alias {alias!r} is neither a URN nor a pulumi.Alias")

        def given(value: Any, default: str) -> str:
            if value is ... or value is None:
                return default
            if not isinstance(value, str):
                raise TypeError(f"{res.name}: alias field {value!r} must be a plain string offline")
            return value

        name = given(alias.name, res.name)
        type_ = given(alias.type_, res.type)
        # `...` (the field left out) is the SDK's marker for "the resource's own parent".
        old_parent: Any = alias.parent
        if old_parent is ...:
            parent = parent_type
        elif old_parent is None:
            parent = None
        elif isinstance(old_parent, pulumi.Resource):
            parent = self._qualified[self._names[id(old_parent)]]
        elif isinstance(old_parent, str):
            parent = old_parent.split("::")[2]
        else:
            raise TypeError(f"{res.name}: alias parent {old_parent!r} must be a resource or a URN offline")
        return make_urn(
            f"{parent}${type_}" if parent else type_,
            name,
            stack=given(alias.stack, pulumi.get_stack()),
            project=given(alias.project, pulumi.get_project()),
        )

    def new_resource(self, args: pulumi_mocks.MockResourceArgs) -> tuple[str | None, dict[str, Any]]:
        res = self._get(args.typ, args.name, custom=bool(args.custom))
        res.inputs = _wrap_secrets(dict(args.inputs))
        if args.provider:
            # A provider reference is `<provider urn>::<provider id>`; the URN ends in its name.
            res.provider = args.provider.split("::")[-2]
        outputs = {**unwrap(res.inputs), **mock_outputs(args.typ, args.name)}
        if outputs.get("type") == SERVICE_ACCOUNT_TOKEN:
            # Kubernetes' token controller fills in the token (pulumi-kubernetes waits for it).
            outputs["data"] = {
                "token": base64.b64encode(f"mock-service-account-token-{args.name}".encode()).decode()
            }
        return mock_id(args.name), outputs

    def call(self, args: pulumi_mocks.MockCallArgs) -> tuple[dict[str, Any], list[tuple[str, str]] | None]:
        inputs = unwrap(_wrap_secrets(dict(args.args)))
        self.calls.append((args.token, inputs))
        answer = MOCK_CALLS[args.token](inputs) if args.token in MOCK_CALLS else {}
        function = args.token.rsplit(":", 1)[-1]
        asked = ", ".join(f"{k}={v}" for k, v in sorted(inputs.items()))
        for key, value in answer.items():
            if isinstance(value, int) or (isinstance(value, str) and value.isdigit()):
                self.unknowns[int(value)] = f"{key} from {function}({asked})"
        # An empty failure list, not None: pulumi's mock monitor iterates it (3.272).
        return {**inputs, **answer}, []

    # Queries for tests -----------------------------------------------------------

    def of_type(self, type_: str) -> list[RecordedResource]:
        return [r for r in self.resources if r.type == type_]

    def named(self, name: str) -> RecordedResource:
        matches = [r for r in self.resources if r.name == name]
        if len(matches) != 1:
            raise KeyError(f"{len(matches)} resources named {name!r}")
        return matches[0]


@dataclass
class Run:
    """The outcome of one offline run of the program for one stack."""

    stack: str
    recorder: Recorder
    outputs: dict[str, Any]

    @property
    def resources(self) -> list[RecordedResource]:
        return self.recorder.resources


def run_program(
    stack: str,
    secrets: Mapping[str, str],
    stack_values: Mapping[str, Any] | None = None,
    recorder: Recorder | None = None,
    program: Callable[[], None] | None = None,
    *,
    offline_pins: bool = True,
) -> Run:
    """Run `__main__.py` for `stack` under mocks on a fresh event loop; return the recording.

    Pass a `recorder` to inspect what was declared even when the program raises, and a
    `program` to run another one under the same mocks (the benchmark's baseline).
    """
    config, secret_keys = engine_config(stack, secrets, stack_values, offline_pins=offline_pins)
    recorder = recorder or Recorder()
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    try:
        pulumi.runtime.reset_options(project=project_name(), stack=stack)
        pulumi.runtime.set_all_config(config, secret_keys)
        pulumi.runtime.set_mocks(recorder, project=project_name(), stack=stack, preview=False)
        pulumi.runtime.register_stack_transformation(recorder.transformation)
        root = pulumi.runtime.get_root_resource()

        def main() -> None:
            runpy.run_path(str(ROOT / "__main__.py"), run_name="__main__")

        loop.run_until_complete(pulumi.runtime.stack.run_pulumi_func(program or main))
        outputs = loop.run_until_complete(_resolve(getattr(root, "outputs", {})))
    finally:
        pulumi.runtime.set_all_config({}, [])
        loop.close()
        asyncio.set_event_loop(None)
    return Run(stack=stack, recorder=recorder, outputs=outputs)


async def _resolve(outputs: dict[str, Any]) -> dict[str, Any]:
    resolved: dict[str, Any] = {}
    for name, value in outputs.items():
        out = pulumi.Output.from_input(value)
        plain = await out.future()
        resolved[name] = Secret(plain) if await out.is_secret() else plain
    return resolved
