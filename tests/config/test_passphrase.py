"""`ciPulumiPassphrase` must open the stack it is handed to CI for, or every CI run fails."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from components.config.base import ConfigError
from components.config.passphrase import MalformedSaltError, opens_stack
from tests.support.stacks import TEST_SECRETS, stack_values
from tools.offline import Recorder, run_program

# Written by the real Pulumi CLI (v3.274.1, built from ../shared/engine) for a new stack:
#   PULUMI_CONFIG_PASSPHRASE='correct horse battery staple' pulumi stack init vector --secrets-provider passphrase
PASSPHRASE = "correct horse battery staple"
ENCRYPTION_SALT = "v1:WNj6D/xonq8=:v1:/n4gfaTo4ymNJGRw:Y3Rccwi+s5x6AXw8jOCEb75hTri4TA=="


def test_the_stack_passphrase_opens_it_and_no_other_does() -> None:
    assert opens_stack(PASSPHRASE, ENCRYPTION_SALT)
    assert not opens_stack("correct horse battery stapler", ENCRYPTION_SALT)
    assert not opens_stack("", ENCRYPTION_SALT)


@pytest.mark.parametrize(
    "salt",
    [
        "v2:WNj6D/xonq8=:v1:/n4gfaTo4ymNJGRw:Y3Rccwi+s5x6AXw8jOCEb75hTri4TA==",
        "v1:not base64!:v1:x:y",
        "v1:abc",
    ],
)
def test_a_salt_pulumi_would_not_write_is_reported_not_guessed(salt: str) -> None:
    with pytest.raises(MalformedSaltError):
        opens_stack(PASSPHRASE, salt)


def _run_in_deployment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, passphrase: str) -> Recorder:
    """The program run as `pulumi up` runs it: in a project directory whose stack file
    `pulumi stack init` salted, with `passphrase` set as `ciPulumiPassphrase`."""
    (tmp_path / "Pulumi.staging.yaml").write_text(yaml.safe_dump({"encryptionsalt": ENCRYPTION_SALT}))
    monkeypatch.chdir(tmp_path)
    recorder = Recorder()
    secrets = {**TEST_SECRETS, "ciPulumiPassphrase": passphrase}
    run_program("staging", secrets, stack_values("staging"), recorder=recorder)
    return recorder


def test_a_wrong_ci_passphrase_stops_the_program_before_anything_is_declared(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(ConfigError) as caught:
        _run_in_deployment(tmp_path, monkeypatch, "a passphrase of another stack")
    message = str(caught.value)
    assert "delivery:ciPulumiPassphrase: does not decrypt this stack" in message
    assert "Pulumi.staging.yaml" in message
    assert "a passphrase of another stack" not in message, "the wrong value is a secret too"


def test_the_right_ci_passphrase_lets_the_program_declare(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert _run_in_deployment(tmp_path, monkeypatch, PASSPHRASE).resources
