"""Loading the stack configuration: the only code that reads ``pulumi.Config``.

Every key of the ``delivery`` namespace is read once, here, and parsed into ``StackConfig``
(pydantic v2, ``extra="forbid"``); bad input raises one ``ConfigError`` before the program
declares any resource. Secrets are read as secret Outputs. The `github:` and `linode:`
connection settings are read here too, for the providers the program creates itself.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pulumi
import yaml
from pulumi.runtime import config as runtime_config

from components.config.base import _MISSING, NAMESPACE, SECRET_KEYS, ConfigError, Problem
from components.config.passphrase import MalformedSaltError, opens_stack
from components.config.stack import StackConfig, parse_config

PASSPHRASE_KEY = "ciPulumiPassphrase"
# The secret an existing cluster is reached with (`cluster.source: kubeconfig`). Not declared in
# Pulumi.yaml: a declared key without a default is one every stack must set.
KUBECONFIG_KEY = "kubeconfig"


@dataclass(frozen=True)
class StackSecrets:
    """Secret config values, kept as secret Outputs end to end."""

    ci_pulumi_passphrase: pulumi.Output[str]
    slack_webhook_url: pulumi.Output[str]
    ci_github_token: pulumi.Output[str]
    ci_github_read_token: pulumi.Output[str]
    ghcr_pull_token: pulumi.Output[str]
    argocd_dispatch_token: pulumi.Output[str]
    pagerduty_routing_key: pulumi.Output[str]
    # Set exactly when the stack targets an existing cluster (`cluster.source: kubeconfig`).
    kubeconfig: pulumi.Output[str] | None = None


@dataclass(frozen=True)
class ProviderSettings:
    """The providers' own stack config, handed to the providers the program creates itself.

    An explicitly created provider takes only the arguments the program passes (stack config
    `github:*` and `linode:*` reaches the default providers alone), so the loader reads the
    connection settings here: `github:token`, `github:baseUrl` for the github provider, and
    `linode:token`, `linode:url` for the metrics bucket's linode provider (the cluster's
    default linode provider reads them itself). Unset, the providers fall back to
    GITHUB_TOKEN / GITHUB_BASE_URL and LINODE_TOKEN / LINODE_URL.
    """

    github_token: pulumi.Output[str] | None
    github_base_url: str | None
    linode_token: pulumi.Output[str] | None
    linode_url: str | None


GITHUB_PROVIDER_KEYS = ("token", "baseUrl")


def _secret_setting(
    namespace: str, key: str, values: dict[str, Any]
) -> tuple[pulumi.Output[str] | None, list[Problem]]:
    if key not in values:
        return None, []
    if runtime_config.is_config_secret(f"{namespace}:{key}"):
        return pulumi.Config(namespace).require_secret(key), []
    message = f"stored in plain text; allowed: a secret, `pulumi config set --secret {namespace}:{key}`"
    return None, [Problem(key, _MISSING, message, namespace=namespace)]


def _url_setting(
    namespace: str, key: str, values: dict[str, Any], slash: bool
) -> tuple[str | None, list[Problem]]:
    url = values.get(key)
    if url is None:
        return None, []
    if re.fullmatch(r"https?://\S+/" if slash else r"https?://\S+", str(url)):
        return str(url), []
    allowed = (
        "an http(s) URL ending in `/` (GitHub Enterprise: https://<host>/)" if slash else "an http(s) URL"
    )
    return None, [Problem(key, url, f"allowed: {allowed}", namespace=namespace)]


def _provider_settings() -> tuple[ProviderSettings, list[Problem]]:
    github = _raw_namespace_values("github")
    problems = [
        Problem(
            key,
            _MISSING,
            "the program creates its github provider itself and passes it only the owner "
            "(`delivery:github.owner`), the token and the base URL; "
            "allowed keys here: github:token (secret), github:baseUrl",
            namespace="github",
        )
        for key in sorted(github)
        if key not in GITHUB_PROVIDER_KEYS
    ]
    linode = _raw_namespace_values("linode")
    github_token, more = _secret_setting("github", "token", github)
    problems += more
    github_base_url, more = _url_setting("github", "baseUrl", github, slash=True)
    problems += more
    linode_token, more = _secret_setting("linode", "token", linode)
    problems += more
    linode_url, more = _url_setting("linode", "url", linode, slash=False)
    problems += more
    settings = ProviderSettings(github_token, github_base_url, linode_token, linode_url)
    return settings, problems


def _raw_namespace_values(namespace: str = NAMESPACE) -> dict[str, Any]:
    """Every `<namespace>:*` key set for this stack (stack file and Pulumi.yaml defaults)."""
    keys = set(runtime_config.CONFIG.get()) | set(runtime_config.get_config_env())
    prefix = f"{namespace}:"
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
    raw = {k: _decode(v) for k, v in values.items() if k not in (*SECRET_KEYS, KUBECONFIG_KEY)}
    raw.setdefault("environment", stack)
    return parse_config(raw)


def passphrase_problems(passphrase: str | None, stack_file: Path) -> list[Problem]:
    """`ciPulumiPassphrase` must open the stack it is handed to CI for.

    Checked against the stack file's `encryptionsalt`, which `pulumi stack init` writes for a
    passphrase-encrypted stack; a stack without one (another secrets provider, or a stack file
    not yet initialised) has nothing to check against.
    """
    if passphrase is None or not stack_file.is_file():
        return []
    salt = (yaml.safe_load(stack_file.read_text()) or {}).get("encryptionsalt")
    if not isinstance(salt, str):
        return []
    try:
        if opens_stack(passphrase, salt):
            return []
    except MalformedSaltError as error:
        return [
            Problem(PASSPHRASE_KEY, _MISSING, f"{stack_file.name} has an unreadable encryptionsalt: {error}")
        ]
    return [
        Problem(
            PASSPHRASE_KEY,
            _MISSING,  # never print a secret, even a wrong one
            f"does not decrypt this stack (the encryptionsalt of {stack_file.name}), so every CI run of "
            "it would fail; allowed: this stack's own passphrase, the one `pulumi` is using now "
            "(PULUMI_CONFIG_PASSPHRASE): `pulumi config set --secret ciPulumiPassphrase`",
        )
    ]


def kubeconfig_problems(source: str, is_set: bool, is_secret: bool) -> list[Problem]:
    """`delivery:kubeconfig` is set, as a secret, exactly when the stack targets an existing cluster."""
    if source == "kubeconfig":
        if not is_set:
            return [
                Problem(
                    KUBECONFIG_KEY,
                    _MISSING,
                    "delivery:cluster.source is kubeconfig: the existing cluster is reached with this kubeconfig; "
                    "allowed: the kubeconfig as a secret, `pulumi config set --secret kubeconfig < path/to/kubeconfig`",
                )
            ]
        if not is_secret:
            return [
                Problem(
                    KUBECONFIG_KEY,
                    _MISSING,  # never print credentials
                    "stored in plain text; allowed: a secret, `pulumi config set --secret kubeconfig < path/to/kubeconfig`",
                )
            ]
        return []
    if is_set:
        return [
            Problem(
                KUBECONFIG_KEY,
                _MISSING,
                "set while delivery:cluster.source is lke: the program creates the LKE cluster and uses its "
                "kubeconfig; allowed: unset, or delivery:cluster.source: kubeconfig",
            )
        ]
    return []


def _kubeconfig_setting(
    source: str, values: dict[str, Any]
) -> tuple[pulumi.Output[str] | None, list[Problem]]:
    is_set = KUBECONFIG_KEY in values
    is_secret = is_set and runtime_config.is_config_secret(f"{NAMESPACE}:{KUBECONFIG_KEY}")
    problems = kubeconfig_problems(source, is_set, is_secret)
    if problems or not is_set:
        return None, problems
    return pulumi.Config(NAMESPACE).require_secret(KUBECONFIG_KEY), []


def load_config() -> tuple[StackConfig, StackSecrets, ProviderSettings]:
    """Read and validate the whole stack configuration; raise ConfigError on bad input."""
    stack = pulumi.get_stack()
    providers, provider_problems = _provider_settings()
    values = _raw_namespace_values()
    try:
        config = parse_namespace(values, stack)
    except ConfigError as error:
        raise ConfigError([*error.problems, *provider_problems]) from None
    kubeconfig, kubeconfig_problems = _kubeconfig_setting(config.cluster.source, values)
    # The engine runs the program in the project directory, beside the stack files.
    problems = passphrase_problems(
        runtime_config.get_config(f"{NAMESPACE}:{PASSPHRASE_KEY}"), Path.cwd() / f"Pulumi.{stack}.yaml"
    )
    problems += provider_problems + kubeconfig_problems
    if problems:
        raise ConfigError(problems)
    cfg = pulumi.Config(NAMESPACE)
    secrets = StackSecrets(
        ci_pulumi_passphrase=cfg.require_secret(PASSPHRASE_KEY),
        slack_webhook_url=cfg.require_secret("slackWebhookUrl"),
        ci_github_token=cfg.require_secret("ciGithubToken"),
        ci_github_read_token=cfg.require_secret("ciGithubReadToken"),
        ghcr_pull_token=cfg.require_secret("ghcrPullToken"),
        argocd_dispatch_token=cfg.require_secret("argocdDispatchToken"),
        pagerduty_routing_key=cfg.require_secret("pagerdutyRoutingKey"),
        kubeconfig=kubeconfig,
    )
    return config, secrets, providers
