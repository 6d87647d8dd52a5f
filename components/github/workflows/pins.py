"""The GitHub Actions the workflows use, each pinned to a full commit SHA.

The pins live in ``actions-pins.json`` beside this module: for each action its newest
stable release as of 2026-08-21, the commit behind that tag, and the inputs its
``action.yml`` declares (its ``_source`` field says how the entries were read). A step can only name an action listed there, so every ``uses:``
is SHA-pinned and its ``with:`` keys are checked against the inputs the action declares.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

PINS_FILE = Path(__file__).with_name("actions-pins.json")
_SHA = re.compile(r"^[0-9a-f]{40}$")
_TAG = re.compile(r"^v\d+\.\d+\.\d+$")


@dataclass(frozen=True)
class Action:
    """One action at one pinned commit."""

    name: str  # owner/repo or owner/repo/subpath
    sha: str
    tag: str
    inputs: frozenset[str]
    required_inputs: frozenset[str]

    def __post_init__(self) -> None:
        if not _SHA.match(self.sha):
            raise ValueError(f"{self.name}: pin must be a full 40-character commit SHA, got {self.sha!r}")
        if not _TAG.match(self.tag):
            raise ValueError(f"{self.name}: version comment must be vX.Y.Z, got {self.tag!r}")

    @property
    def ref(self) -> str:
        """The value of ``uses:``; the renderer appends ``# <tag>``."""
        return f"{self.name}@{self.sha}"


@cache
def _pins() -> dict[str, Action]:
    doc: dict[str, Any] = json.loads(PINS_FILE.read_text())
    pins: dict[str, Action] = {}
    for entry in doc["actions"]:
        name = str(entry["action"])
        if name in pins:
            raise ValueError(f"{PINS_FILE.name}: {name} is pinned twice")
        pins[name] = Action(
            name=name,
            sha=str(entry["sha"]),
            tag=str(entry["tag"]),
            inputs=frozenset(entry["inputs"]),
            required_inputs=frozenset(entry.get("required_inputs", [])),
        )
    return pins


def action(name: str) -> Action:
    """The pinned action ``name``; a KeyError names the pins file if it is not pinned."""
    try:
        return _pins()[name]
    except KeyError:
        raise KeyError(
            f"{name} is not pinned in {PINS_FILE.name}; copy its entry from the reference"
        ) from None


def all_pins() -> dict[str, Action]:
    return dict(_pins())
