"""`pulumi config set --secret github:token` (or `linode:token`) reaches the providers the
program creates itself.

An explicitly created provider ignores its namespace's stack config unless the program passes
it on; the config loader reads `github:token` and `linode:token` (secret only), `github:baseUrl`
and `linode:url`, and refuses any other `github:` key, which the explicit github provider would
silently ignore (other `linode:` keys still reach the cluster's default linode provider).
"""

from __future__ import annotations

from typing import Any

import pytest

from components.config.base import ConfigError
from tests.support.stacks import TEST_SECRETS, stack_values
from tools.offline import Recorder, Secret, run_program

GITHUB_TOKEN = "ghp_from_stack_config_4e1d"


def _run(stack: str, extra: dict[str, Any], secrets: dict[str, str] | None = None) -> Recorder:
    recorder = Recorder()
    values = {**stack_values(stack), **extra}
    run_program(stack, {**TEST_SECRETS, **(secrets or {})}, values, recorder=recorder)
    return recorder


def test_github_token_and_base_url_from_stack_config_reach_the_provider_as_a_secret() -> None:
    recorder = _run(
        "staging",
        {"github:token": {"secure": "v1:ciphertext"}, "github:baseUrl": "https://ghe.example.org/"},
        {"token": GITHUB_TOKEN},
    )
    provider = recorder.named("github")
    assert provider.type == "pulumi:providers:github"
    assert provider.inputs["token"] == Secret(GITHUB_TOKEN)
    assert provider.inputs["baseUrl"] == "https://ghe.example.org/"
    assert provider.inputs["owner"] == "ai-aas"


def test_without_github_stack_config_the_provider_takes_no_token_from_the_program() -> None:
    """The provider then reads GITHUB_TOKEN itself (the CI way)."""
    provider = _run("staging", {}).named("github")
    assert "token" not in provider.inputs


def test_linode_token_and_url_from_stack_config_reach_the_metrics_bucket_provider() -> None:
    recorder = _run(
        "production",
        {"linode:token": {"secure": "v1:ciphertext"}, "linode:url": "http://127.0.0.1:8080"},
        {"token": "linode-token-from-config-77"},
    )
    provider = recorder.named("metrics-s3")
    assert provider.type == "pulumi:providers:linode"
    assert provider.inputs["token"] == Secret("linode-token-from-config-77")
    assert provider.inputs["url"] == "http://127.0.0.1:8080"


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        (
            {"github:token": "ghp_plain"},
            "github:token: stored in plain text; allowed: a secret, `pulumi config set --secret github:token`",
        ),
        (
            {"github:owner": "someone-else"},
            "github:owner: the program creates its github provider itself and passes it only the owner "
            "(`delivery:github.owner`), the token and the base URL; "
            "allowed keys here: github:token (secret), github:baseUrl",
        ),
        (
            {"linode:token": "plain-linode-token"},
            "linode:token: stored in plain text; allowed: a secret, `pulumi config set --secret linode:token`",
        ),
        (
            {"github:baseUrl": "ghe.example.org"},
            'github:baseUrl = "ghe.example.org": allowed: an http(s) URL ending in `/`',
        ),
    ],
)
def test_github_keys_the_explicit_provider_would_ignore_or_leak_are_refused(
    extra: dict[str, Any], expected: str
) -> None:
    recorder = Recorder()
    with pytest.raises(ConfigError) as caught:
        run_program("staging", TEST_SECRETS, {**stack_values("staging"), **extra}, recorder=recorder)
    assert expected in str(caught.value)
    assert len(caught.value.problems) == 1
    assert recorder.resources == []


def test_github_problems_join_the_delivery_problems_in_one_message() -> None:
    values = {**stack_values("staging"), "github:owner": "x", "delivery:region": "Chicago"}
    with pytest.raises(ConfigError) as caught:
        run_program("staging", TEST_SECRETS, values)
    message = str(caught.value)
    assert "(2 problems)" in message
    assert "delivery:region" in message and "github:owner" in message
