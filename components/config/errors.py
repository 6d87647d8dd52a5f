"""Pydantic's validation errors translated into ``Problem``s: the full config key path
(``cluster.pools.default.count``), the value given and what is allowed there, found by walking
the root model down the error's location (the keys a mapping allows, a field's examples)."""

from __future__ import annotations

import json
import re
from typing import Any

from pydantic import BaseModel, ValidationError

from components.config.base import _MISSING, NAMESPACE, FieldError, Problem


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


def _owner_model(root: type[BaseModel], loc: tuple[str | int, ...]) -> type[BaseModel] | None:
    model: Any = root
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


def _pattern_message(root: type[BaseModel], loc: tuple[str | int, ...], pattern: str) -> str:
    """A pattern mismatch, with the field's examples where it declares them."""
    owner = _owner_model(root, loc[:-1])
    field = (
        next((f for n, f in owner.model_fields.items() if loc[-1] in (n, f.alias)), None) if owner else None
    )
    examples = ", ".join(str(e) for e in (field.examples or [])) if field else ""
    allowed = f"values like {examples}" if examples else f"values matching {pattern}"
    return f"not a valid value here; allowed: {allowed}"


def _renamed(root: type[BaseModel], loc: tuple[str | int, ...]) -> str | None:
    """What to say about a key a model no longer has because it was renamed or removed (the
    model's `renamed_keys`: old key below the model -> (new key or None, why)), else None."""
    parts = tuple(p for p in loc if p != "[key]")
    for i in range(len(parts)):
        owner = _owner_model(root, parts[:i])
        renamed: dict[str, tuple[str | None, str]] = getattr(owner, "renamed_keys", {})
        key = ".".join(str(p) for p in parts[i:])
        if key in renamed:
            new, why = renamed[key]
            if new is None:
                return f"removed: {why}"
            prefix = "".join(f"{p}." for p in parts[:i])
            return f"renamed: set {NAMESPACE}:{prefix}{new} instead; {why}"
    return None


def problems_from(error: ValidationError, root: type[BaseModel]) -> list[Problem]:
    """Every error pydantic found validating `root`, as a `Problem` with its config key path."""
    problems: list[Problem] = []
    items = error.errors(include_url=False)
    # A renamed map key is the one problem of its entry: its value's errors would only repeat it.
    renamed_entries = {
        tuple(i["loc"])[:-1]
        for i in items
        if i["type"] == "literal_error"
        and tuple(i["loc"])[-1:] == ("[key]",)
        and _renamed(root, tuple(i["loc"]))
    }
    for item in items:
        loc = tuple(item["loc"])
        path = _key_path(loc)
        kind = item["type"]
        renamed = _renamed(root, loc) if kind in ("extra_forbidden", "literal_error") else None
        if renamed is not None:
            problems.append(Problem(path, _MISSING if loc[-1] == "[key]" else item["input"], renamed))
        elif any(loc[: len(entry)] == entry for entry in renamed_entries):
            continue
        elif kind == "extra_forbidden":
            owner = _owner_model(root, loc[:-1])
            allowed = ", ".join(_allowed_keys(owner)) if owner else "none"
            problems.append(Problem(path, item["input"], f"unknown key; allowed keys here: {allowed}"))
        elif kind == "missing":
            problems.append(Problem(path, _MISSING, "required key is missing"))
        elif isinstance(cause := item.get("ctx", {}).get("error"), FieldError):
            given = item["input"]
            value = given.get(cause.key, _MISSING) if isinstance(given, dict) else _MISSING
            problems.append(Problem(_key_path((*loc, cause.key)), value, str(cause)))
        elif (
            kind == "string_type"
            and isinstance(item["input"], int | float)
            and not isinstance(item["input"], bool)
        ):
            # `kubernetesVersion: 1.30` is the YAML number 1.3 by the time it reaches the program.
            problems.append(
                Problem(
                    path,
                    item["input"],
                    "YAML read this as a number, not text (an unquoted 1.30 becomes 1.3); "
                    'allowed: the value in quotes, e.g. "1.30"',
                )
            )
        elif loc == ("services",) and not item["input"]:
            # `services: {}`, or `services:` with no value, which the engine passes as "".
            problems.append(
                Problem(
                    path,
                    item["input"],
                    "at least one service is needed (one Argo CD Application each); allowed: a map of "
                    "service names to their settings, e.g. api-router-service: {}",
                )
            )
        else:
            message = str(item["msg"]).removeprefix("Value error, ")
            if kind == "string_pattern_mismatch":
                message = _pattern_message(root, loc, str(item.get("ctx", {}).get("pattern", "")))
            if loc and loc[-1] == "[key]":
                message = f"invalid name: {message}"
            problems.append(Problem(path, item["input"], message))
    return problems
