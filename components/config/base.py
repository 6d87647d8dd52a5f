"""Shared building blocks of the stack configuration: the ``Model`` base class, the
annotated value types every domain's config uses, the environments, and ``Problem`` /
``ConfigError``, the one error bad input raises (every problem with its config key path).

Keys in YAML are camelCase (Pulumi's convention); Python attributes are snake_case.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Annotated, Any, Literal

import pulumi
from pydantic import AfterValidator, BaseModel, ConfigDict, Field
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
    "ghcrPullToken",
    "argocdDispatchToken",
    "pagerdutyRoutingKey",
)

_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_K8S_VERSION = re.compile(r"^1\.\d{2}$")
_CHART_VERSION = re.compile(r"^\d+\.\d+\.\d+$")
_IPV4_CIDR = re.compile(r"^((25[0-5]|2[0-4]\d|1?\d?\d)\.){3}(25[0-5]|2[0-4]\d|1?\d?\d)/(3[0-2]|[12]?\d)$")
_GITHUB_NAME = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9._-]{0,99})$")


def _dns_label(value: str) -> str:
    if len(value) > 63 or not _DNS_LABEL.fullmatch(value):
        raise ValueError(
            "must be a DNS label: lowercase letters, digits and '-', "
            "starting and ending with a letter or digit, at most 63 characters"
        )
    return value


def _ipv4_cidr(value: str) -> str:
    if not _IPV4_CIDR.fullmatch(value):
        raise ValueError("must be an IPv4 CIDR such as 203.0.113.0/24")
    return value


def _github_name(value: str) -> str:
    if not _GITHUB_NAME.fullmatch(value):
        raise ValueError("must be a GitHub account or repository name (letters, digits, '.', '_', '-')")
    return value


DnsLabel = Annotated[str, AfterValidator(_dns_label)]
Ipv4Cidr = Annotated[str, AfterValidator(_ipv4_cidr)]
GithubName = Annotated[str, AfterValidator(_github_name)]
K8sVersion = Annotated[str, Field(pattern=_K8S_VERSION.pattern)]
ChartVersion = Annotated[str, Field(pattern=_CHART_VERSION.pattern)]
# Default Linode region of the cluster, the metrics bucket and the state buckets.
DEFAULT_REGION = "us-ord"
LinodeRegion = Annotated[str, Field(pattern=r"^[a-z]{2}-[a-z]+(-\d)?$", examples=["us-ord", "eu-central"])]
# A one-unit duration as Prometheus, Alertmanager and Argo Rollouts all accept it.
Duration = Annotated[str, Field(pattern=r"^[1-9][0-9]*(s|m|h|d|w)$", examples=["30s", "15m", "2h", "15d"])]


class Model(BaseModel):
    """Base of every config model: camelCase keys, unknown keys refused, frozen."""

    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        extra="forbid",
        frozen=True,
        strict=True,
    )


# GitHub logins: letters, digits and single inner hyphens, at most 39 characters (no '_' or '.').
_GITHUB_LOGIN = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9]|-(?=[A-Za-z0-9])){0,38}$")
# Branch name patterns of deployment policies (fnmatch, as GitHub matches them).
_BRANCH_PATTERN = re.compile(r"^[A-Za-z0-9._/*-]+$")
MAIN_BRANCH = "main"


def _github_login(value: str) -> str:
    if not _GITHUB_LOGIN.fullmatch(value):
        raise ValueError(
            "must be a GitHub login: letters, digits and single hyphens, not starting or ending "
            "with a hyphen, at most 39 characters"
        )
    return value


def _branch_pattern(value: str) -> str:
    if not _BRANCH_PATTERN.fullmatch(value) or value.startswith(("/", "refs/")) or "//" in value:
        raise ValueError("must be a branch name or fnmatch pattern such as main or release/*")
    return value


GithubLogin = Annotated[str, AfterValidator(_github_login)]
BranchPattern = Annotated[str, AfterValidator(_branch_pattern)]


# --------------------------------------------------------------------------- errors


@dataclass(frozen=True)
class Problem:
    """One bad config value: where (key path below the namespace), what, and why."""

    path: str
    value: Any
    message: str
    namespace: str = NAMESPACE

    def render(self) -> str:
        key = f"{self.namespace}:{self.path}" if self.path else self.namespace
        shown = "" if self.value is _MISSING else f" = {json.dumps(self.value, default=str)}"
        return f"{key}{shown}: {self.message}"


_MISSING: Any = object()


class FieldError(ValueError):
    """Raised by a model-level validator to report on one of the model's own keys.

    Pydantic places a model validator's error on the model's path; the key that is wrong
    (`issuedOn`, `autoscaler.max`) is where the user has to look, so the message goes there.
    """

    def __init__(self, key: str, message: str):
        super().__init__(message)
        self.key = key


class ConfigError(pulumi.RunError):
    """The stack configuration is invalid; the message lists every problem.

    A `RunError`, so `pulumi up` prints the message without a Python traceback.
    """

    def __init__(self, problems: list[Problem]):
        self.problems = problems
        count = f"{len(problems)} problem" + ("s" if len(problems) != 1 else "")
        lines = "\n".join(f"  - {p.render()}" for p in problems)
        super().__init__(f"invalid stack configuration ({count}); nothing was declared:\n{lines}")
