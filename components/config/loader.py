"""Loading the stack configuration: the only code that reads ``pulumi.Config``.

Every key of the ``delivery`` namespace is read once, here, and parsed into ``StackConfig``
(pydantic v2, ``extra="forbid"``); bad input raises one ``ConfigError`` before the program
declares any resource. Secrets are read as secret Outputs.
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


@dataclass(frozen=True)
class StackSecrets:
    """Secret config values, kept as secret Outputs end to end."""

    ci_pulumi_passphrase: pulumi.Output[str]
    slack_webhook_url: pulumi.Output[str]
    ci_github_token: pulumi.Output[str]
    ci_github_read_token: pulumi.Output[str]
    ghcr_pull_token: pulumi.Output[str]


@dataclass(frozen=True)
class GithubProviderSettings:
    """The github provider's own stack config, handed to the program's explicit provider.

    An explicitly created provider takes only the arguments the program passes (stack config
    `github:*` reaches the default provider alone), so the loader reads `github:token` and
    `github:baseUrl` here. Unset, the provider falls back to GITHUB_TOKEN and GITHUB_BASE_URL.
    """

    token: pulumi.Output[str] | None
    base_url: str | None


GITHUB_PROVIDER_KEYS = ("token", "baseUrl")


def _github_provider_settings() -> tuple[GithubProviderSettings, list[Problem]]:
    values = _raw_namespace_values("github")
    problems = [
        Problem(
            key,
            _MISSING,
            "the program creates its github provider itself and passes it only the owner "
            "(`delivery:github.owner`), the token and the base URL; "
            "allowed keys here: github:token (secret), github:baseUrl",
            namespace="github",
        )
        for key in sorted(values)
        if key not in GITHUB_PROVIDER_KEYS
    ]
    token: pulumi.Output[str] | None = None
    if "token" in values:
        if runtime_config.is_config_secret("github:token"):
            token = pulumi.Config("github").require_secret("token")
        else:
            problems.append(
                Problem(
                    "token",
                    _MISSING,
                    "stored in plain text; allowed: a secret, `pulumi config set --secret github:token`",
                    namespace="github",
                )
            )
    base_url = values.get("baseUrl")
    if base_url is not None and not re.fullmatch(r"https?://\S+/", str(base_url)):
        problems.append(
            Problem(
                "baseUrl",
                base_url,
                "allowed: an http(s) URL ending in `/` (GitHub Enterprise: https://<host>/)",
                namespace="github",
            )
        )
    return GithubProviderSettings(token=token, base_url=base_url), problems


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
    raw = {k: _decode(v) for k, v in values.items() if k not in SECRET_KEYS}
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


def load_config() -> tuple[StackConfig, StackSecrets, GithubProviderSettings]:
    """Read and validate the whole stack configuration; raise ConfigError on bad input."""
    stack = pulumi.get_stack()
    github_provider, provider_problems = _github_provider_settings()
    try:
        config = parse_namespace(_raw_namespace_values(), stack)
    except ConfigError as error:
        raise ConfigError([*error.problems, *provider_problems]) from None
    # The engine runs the program in the project directory, beside the stack files.
    problems = passphrase_problems(
        runtime_config.get_config(f"{NAMESPACE}:{PASSPHRASE_KEY}"), Path.cwd() / f"Pulumi.{stack}.yaml"
    )
    problems += provider_problems
    if problems:
        raise ConfigError(problems)
    cfg = pulumi.Config(NAMESPACE)
    secrets = StackSecrets(
        ci_pulumi_passphrase=cfg.require_secret(PASSPHRASE_KEY),
        slack_webhook_url=cfg.require_secret("slackWebhookUrl"),
        ci_github_token=cfg.require_secret("ciGithubToken"),
        ci_github_read_token=cfg.require_secret("ciGithubReadToken"),
        ghcr_pull_token=cfg.require_secret("ghcrPullToken"),
    )
    return config, secrets, github_provider
