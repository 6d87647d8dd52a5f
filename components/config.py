"""Typed stack configuration: the only module that reads ``pulumi.Config``.

Every key of the ``delivery`` namespace is parsed once, here, into ``StackConfig``
(pydantic v2, ``extra="forbid"``). Bad input raises one ``ConfigError`` that lists every
problem with its full config key path (``delivery:cluster.pools.default.count``), the bad
value and what is allowed, before the program declares any resource.

Keys in YAML are camelCase (Pulumi's convention); Python attributes are snake_case.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Annotated, Any, Literal

import pulumi
from pulumi.runtime import config as runtime_config
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    model_validator,
)
from pydantic.alias_generators import to_camel

NAMESPACE = "delivery"

Environment = Literal["development", "staging", "production"]
ENVIRONMENTS: tuple[Environment, ...] = ("development", "staging", "production")

# Secrets the program reads; each is declared in Pulumi.yaml with `secret: true`, so the
# engine refuses a stack whose value is missing or stored in plain text.
SECRET_KEYS: tuple[str, ...] = (
    "ciPulumiPassphrase",
    "slackWebhookUrl",
    "ciGithubToken",
    "ciGithubReadToken",
)

_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_K8S_VERSION = re.compile(r"^1\.\d{2}$")
_CHART_VERSION = re.compile(r"^\d+\.\d+\.\d+$")
_IPV4_CIDR = re.compile(r"^((25[0-5]|2[0-4]\d|1?\d?\d)\.){3}(25[0-5]|2[0-4]\d|1?\d?\d)/(3[0-2]|[12]?\d)$")
_GITHUB_NAME = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9._-]{0,99})$")


def _dns_label(value: str) -> str:
    if len(value) > 63 or not _DNS_LABEL.match(value):
        raise ValueError(
            "must be a DNS label: lowercase letters, digits and '-', "
            "starting and ending with a letter or digit, at most 63 characters"
        )
    return value


def _ipv4_cidr(value: str) -> str:
    if not _IPV4_CIDR.match(value):
        raise ValueError("must be an IPv4 CIDR such as 203.0.113.0/24")
    return value


def _github_name(value: str) -> str:
    if not _GITHUB_NAME.match(value):
        raise ValueError("must be a GitHub account or repository name (letters, digits, '.', '_', '-')")
    return value


DnsLabel = Annotated[str, AfterValidator(_dns_label)]
Ipv4Cidr = Annotated[str, AfterValidator(_ipv4_cidr)]
GithubName = Annotated[str, AfterValidator(_github_name)]
K8sVersion = Annotated[str, Field(pattern=_K8S_VERSION.pattern)]
ChartVersion = Annotated[str, Field(pattern=_CHART_VERSION.pattern)]


class Model(BaseModel):
    """Base of every config model: camelCase keys, unknown keys refused, frozen."""

    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        extra="forbid",
        frozen=True,
        strict=True,
    )


# --------------------------------------------------------------------------- cluster


class Autoscaler(Model):
    min: int = Field(ge=1, le=100, description="Fewest nodes the LKE autoscaler keeps in the pool.")
    max: int = Field(ge=1, le=100, description="Most nodes the LKE autoscaler grows the pool to.")

    @model_validator(mode="after")
    def _min_not_above_max(self) -> Autoscaler:
        if self.min > self.max:
            raise ValueError(f"min ({self.min}) must not exceed max ({self.max})")
        return self


class NodePool(Model):
    type: str = Field(
        default="g6-standard-2",
        pattern=r"^g\d+-[a-z0-9-]+$",
        description="Linode instance type of the pool's nodes (e.g. g6-standard-4).",
    )
    count: int | None = Field(
        default=None,
        ge=1,
        le=100,
        description=(
            "Fixed node count. Leave it out when `autoscaler` is set: the autoscaler owns "
            "the count and a fixed one would fight it on every `pulumi up`."
        ),
    )
    autoscaler: Autoscaler | None = Field(
        default=None, description="Autoscaler bounds; when set the pool scales between them."
    )
    labels: dict[str, str] = Field(
        default_factory=dict, description="Kubernetes node labels applied to every node."
    )

    @model_validator(mode="after")
    def _count_xor_autoscaler(self) -> NodePool:
        if self.count is None and self.autoscaler is None:
            raise ValueError("set either `count` or `autoscaler`")
        if self.count is not None and self.autoscaler is not None:
            raise ValueError("set `count` or `autoscaler`, not both: the autoscaler owns the node count")
        return self

    @property
    def min_nodes(self) -> int:
        """Nodes the pool is guaranteed to have."""
        return self.autoscaler.min if self.autoscaler else (self.count or 0)


class ClusterConfig(Model):
    kubernetes_version: K8sVersion = Field(
        default="1.33", description="LKE Kubernetes version, pinned as `major.minor`."
    )
    high_availability: bool = Field(
        default=False,
        description="HA control plane. Irreversible once on; required in production.",
    )
    control_plane_acl: list[Ipv4Cidr] = Field(
        default_factory=list,
        description=(
            "IPv4 CIDRs allowed to reach the Kubernetes API. Empty: no ACL (API open to "
            "the internet, authenticated)."
        ),
    )
    pools: dict[DnsLabel, NodePool] = Field(
        default_factory=lambda: {"default": NodePool(count=1)},
        min_length=1,
        description="Node pools keyed by name; reordering replaces nothing.",
    )
    tags: list[str] = Field(
        default_factory=list, description="Extra Linode tags (environment and project are always added)."
    )

    @property
    def min_nodes(self) -> int:
        return sum(pool.min_nodes for pool in self.pools.values())


# --------------------------------------------------------------------------- argo cd


class RolloutsConfig(Model):
    enabled: bool | None = Field(
        default=None,
        description="Install Argo Rollouts. Default: on in staging and production.",
    )
    chart_version: ChartVersion = Field(
        default="2.41.0", description="Pinned version of the argo-rollouts Helm chart."
    )
    namespace: DnsLabel = Field(default="argo-rollouts", description="Namespace of Argo Rollouts.")


class NotificationsConfig(Model):
    enabled: bool = Field(
        default=True,
        description="Send Argo CD sync and health notifications to Slack (webhook: `slackWebhookUrl`).",
    )
    slack_channel: str = Field(
        default="deployments", min_length=1, description="Slack channel named in notifications."
    )


class ArgoCdConfig(Model):
    chart_version: ChartVersion = Field(
        default="10.1.1", description="Pinned version of the argo-cd Helm chart."
    )
    namespace: DnsLabel = Field(default="argocd", description="Namespace Argo CD is installed in.")
    high_availability: bool = Field(
        default=False,
        description="Replicated controller, server, repo server, ApplicationSet controller and redis-ha. Needs >= 3 nodes.",
    )
    rbac_default_policy: Literal["role:readonly", ""] = Field(
        default="role:readonly",
        description='Role of an authenticated user without a matching RBAC rule (`""`: none).',
    )
    helm_timeout_seconds: int = Field(
        default=900, ge=60, le=3600, description="How long `pulumi up` waits for the Argo CD release."
    )
    notifications: NotificationsConfig = Field(
        default_factory=NotificationsConfig, description="Argo CD notifications."
    )
    rollouts: RolloutsConfig = Field(default_factory=RolloutsConfig, description="Argo Rollouts.")


# --------------------------------------------------------------------------- gitops


class GitOpsConfig(Model):
    repo_url: str | None = Field(
        default=None,
        pattern=r"^git@github\.com:[A-Za-z0-9._-]+/[A-Za-z0-9._-]+\.git$",
        description="SSH URL Argo CD pulls from. Default: the `github` repository's SSH URL.",
    )
    target_revision: str = Field(
        default="main", min_length=1, description="Branch, tag or commit Argo CD tracks."
    )
    clusters_path: str = Field(
        default="gitops/clusters",
        pattern=r"^[A-Za-z0-9._-]+(/[A-Za-z0-9._-]+)*$",
        description="Directory holding one manifest directory per environment.",
    )
    charts_path: str = Field(
        default="infra/helm/charts",
        pattern=r"^[A-Za-z0-9._-]+(/[A-Za-z0-9._-]+)*$",
        description="Directory holding one Helm chart per service.",
    )


# --------------------------------------------------------------------------- services


class ServiceConfig(Model):
    namespace: DnsLabel | None = Field(
        default=None, description="Namespace the service deploys to. Default: `platform-<env>`."
    )
    chart: DnsLabel | None = Field(
        default=None, description="Chart directory under `gitops.chartsPath`. Default: the service name."
    )


# --------------------------------------------------------------------------- github


class Reviewers(Model):
    users: list[GithubName] = Field(default_factory=list, description="GitHub logins allowed to approve.")
    teams: list[DnsLabel] = Field(default_factory=list, description="Team slugs allowed to approve.")

    @property
    def count(self) -> int:
        return len(self.users) + len(self.teams)


class GithubConfig(Model):
    owner: GithubName = Field(description="GitHub organisation or user that owns the repository.")
    repository: GithubName = Field(
        description="Repository holding services, charts, GitOps manifests and this program."
    )
    manage_repository: bool = Field(
        default=False,
        description=(
            "This stack declares the repository-wide objects (branch protection, repository "
            "secrets and variables, OIDC template, workflow files, metrics bucket). Exactly "
            "one stack sets it."
        ),
    )
    production_reviewers: Reviewers = Field(
        default_factory=Reviewers,
        description="Who approves production deployments (required in production).",
    )

    @property
    def ssh_url(self) -> str:
        return f"git@github.com:{self.owner}/{self.repository}.git"


# --------------------------------------------------------------------------- metrics


class MetricsConfig(Model):
    bucket: DnsLabel = Field(
        default="ai-aas-build-metrics", description="Object Storage bucket for CI build metrics."
    )
    region: str = Field(
        default="us-ord",
        pattern=r"^[a-z]{2}-[a-z]+(-\d)?$",
        description="Object Storage region of the bucket.",
    )
    retention_days: int = Field(default=90, ge=1, le=3650, description="Days a metrics object is kept.")


# --------------------------------------------------------------------------- stack


class StackConfig(Model):
    environment: Environment = Field(
        description="Environment of this stack.",
        json_schema_extra={"defaultText": "the stack name"},
    )
    region: str = Field(
        default="us-ord",
        pattern=r"^[a-z]{2}-[a-z]+(-\d)?$",
        description="Linode region of the cluster (e.g. us-ord, eu-central).",
    )
    cluster: ClusterConfig = Field(default_factory=ClusterConfig, description="The LKE cluster.")
    argocd: ArgoCdConfig = Field(default_factory=ArgoCdConfig, description="Argo CD and Argo Rollouts.")
    gitops: GitOpsConfig = Field(
        default_factory=GitOpsConfig, description="Where Argo CD reads desired state."
    )
    services: dict[DnsLabel, ServiceConfig] = Field(
        min_length=1, description="The platform's services, keyed by name (one Argo CD Application each)."
    )
    github: GithubConfig = Field(description="The GitHub repository and its governance.")
    metrics: MetricsConfig = Field(default_factory=MetricsConfig, description="CI build metrics bucket.")

    @model_validator(mode="after")
    def _cross_field_rules(self) -> StackConfig:
        problems: list[Problem] = []
        env = self.environment
        nodes = self.cluster.min_nodes
        if env == "production":
            if not self.cluster.high_availability:
                problems.append(
                    Problem(
                        "cluster.highAvailability",
                        False,
                        "production needs an HA control plane; allowed: true",
                    )
                )
            if nodes < 3:
                problems.append(
                    Problem(
                        "cluster.pools",
                        nodes,
                        "production needs at least 3 nodes in total (count, or autoscaler min); allowed: 3 or more",
                    )
                )
            if self.github.production_reviewers.count == 0:
                problems.append(
                    Problem(
                        "github.productionReviewers",
                        self.github.production_reviewers.model_dump(by_alias=True),
                        "production deployments need at least one reviewer; allowed: one or more users or teams",
                    )
                )
        if self.argocd.high_availability and nodes < 3:
            problems.append(
                Problem(
                    "argocd.highAvailability",
                    True,
                    f"HA Argo CD runs redis-ha, which needs at least 3 nodes and the cluster guarantees {nodes}; "
                    "allowed: false, or pools with 3 or more nodes",
                )
            )
        if problems:
            raise ConfigError(problems)
        return self

    # Derived settings, computed here so every component agrees on them.
    @property
    def rollouts_enabled(self) -> bool:
        enabled = self.argocd.rollouts.enabled
        return self.environment != "development" if enabled is None else enabled

    @property
    def gitops_repo_url(self) -> str:
        return self.gitops.repo_url or self.github.ssh_url

    def service_namespace(self, name: str) -> str:
        return self.services[name].namespace or f"platform-{self.environment}"


# --------------------------------------------------------------------------- errors


@dataclass(frozen=True)
class Problem:
    """One bad config value: where (key path below the namespace), what, and why."""

    path: str
    value: Any
    message: str

    def render(self) -> str:
        key = f"{NAMESPACE}:{self.path}" if self.path else f"{NAMESPACE}"
        shown = "" if self.value is _MISSING else f" = {json.dumps(self.value, default=str)}"
        return f"{key}{shown}: {self.message}"


_MISSING: Any = object()


class ConfigError(pulumi.RunError):
    """The stack configuration is invalid; the message lists every problem.

    A `RunError`, so `pulumi up` prints the message without a Python traceback.
    """

    def __init__(self, problems: list[Problem]):
        self.problems = problems
        count = f"{len(problems)} problem" + ("s" if len(problems) != 1 else "")
        lines = "\n".join(f"  - {p.render()}" for p in problems)
        super().__init__(f"invalid stack configuration ({count}); nothing was declared:\n{lines}")


def _key_path(loc: tuple[str | int, ...]) -> str:
    """`("cluster", "controlPlaneAcl", 0)` -> `cluster.controlPlaneAcl[0]`."""
    path = ""
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        elif part != "[key]":
            # Keys from user input may hold anything: quote the odd ones so the path stays one line.
            shown = part if re.fullmatch(r"[A-Za-z0-9_-]+", part) else json.dumps(part)
            path += f".{shown}" if path else shown
    return path


def _allowed_keys(model: type[BaseModel]) -> list[str]:
    return sorted(f.alias or name for name, f in model.model_fields.items())


def _owner_model(loc: tuple[str | int, ...]) -> type[BaseModel] | None:
    model: Any = StackConfig
    i = 0
    while i < len(loc):
        part = loc[i]
        if isinstance(part, int):  # a list index: the item model was resolved already
            i += 1
            continue
        if not (isinstance(model, type) and issubclass(model, BaseModel)):
            return None
        field = next((f for n, f in model.model_fields.items() if part in (n, f.alias)), None)
        if field is None:
            return None
        annotation = field.annotation
        if getattr(annotation, "__origin__", None) is dict:
            model = annotation.__args__[1]  # type: ignore[union-attr]
            i += 2  # the next part is the collection key
            continue
        model = next(
            (
                a
                for a in (annotation, *getattr(annotation, "__args__", ()))
                if isinstance(a, type) and issubclass(a, BaseModel)
            ),
            None,
        )
        i += 1
    return model if isinstance(model, type) and issubclass(model, BaseModel) else None


def _problems_from(error: ValidationError) -> list[Problem]:
    problems: list[Problem] = []
    for item in error.errors(include_url=False):
        loc = tuple(item["loc"])
        path = _key_path(loc)
        kind = item["type"]
        if kind == "extra_forbidden":
            owner = _owner_model(loc[:-1])
            allowed = ", ".join(_allowed_keys(owner)) if owner else "none"
            problems.append(Problem(path, item["input"], f"unknown key; allowed keys here: {allowed}"))
        elif kind == "missing":
            problems.append(Problem(path, _MISSING, "required key is missing"))
        else:
            message = str(item["msg"]).removeprefix("Value error, ")
            if loc and loc[-1] == "[key]":
                message = f"invalid name: {message}"
            problems.append(Problem(path, item["input"], message))
    return problems


def parse_config(raw: dict[str, Any]) -> StackConfig:
    """Validate raw config values (top-level keys without namespace) into a StackConfig."""
    try:
        return StackConfig.model_validate(raw)
    except ValidationError as error:
        raise ConfigError(_problems_from(error)) from None


# --------------------------------------------------------------------------- loading


@dataclass(frozen=True)
class StackSecrets:
    """Secret config values, kept as secret Outputs end to end."""

    ci_pulumi_passphrase: pulumi.Output[str]
    slack_webhook_url: pulumi.Output[str]
    ci_github_token: pulumi.Output[str]
    ci_github_read_token: pulumi.Output[str]


def _raw_namespace_values() -> dict[str, Any]:
    """Every `delivery:*` key set for this stack (stack file and Pulumi.yaml defaults)."""
    keys = set(runtime_config.CONFIG.get()) | set(runtime_config.get_config_env())
    prefix = f"{NAMESPACE}:"
    return {k[len(prefix) :]: runtime_config.get_config(k) for k in sorted(keys) if k.startswith(prefix)}


def _decode(value: Any) -> Any:
    """Structured config values (objects, lists) arrive as JSON strings; scalars stay as set."""
    if isinstance(value, str) and value[:1] in ("{", "["):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def parse_namespace(values: dict[str, Any], stack: str) -> StackConfig:
    """Validate the `delivery:*` values as the engine passes them (without the prefix)."""
    raw = {k: _decode(v) for k, v in values.items() if k not in SECRET_KEYS}
    raw.setdefault("environment", stack)
    return parse_config(raw)


def load_config() -> tuple[StackConfig, StackSecrets]:
    """Read and validate the whole stack configuration; raise ConfigError on bad input."""
    config = parse_namespace(_raw_namespace_values(), pulumi.get_stack())
    cfg = pulumi.Config(NAMESPACE)
    secrets = StackSecrets(
        ci_pulumi_passphrase=cfg.require_secret("ciPulumiPassphrase"),
        slack_webhook_url=cfg.require_secret("slackWebhookUrl"),
        ci_github_token=cfg.require_secret("ciGithubToken"),
        ci_github_read_token=cfg.require_secret("ciGithubReadToken"),
    )
    return config, secrets
