"""Argo Rollouts documents checked against the CRDs' JSON schemas (components/schemas/argoproj.io)."""

from __future__ import annotations

import json
from functools import cache
from typing import Any

import jsonschema

from tests.support.paths import ROOT

SCHEMAS = ROOT / "components" / "schemas" / "argoproj.io"
TOP_LEVEL = {"apiVersion", "kind", "metadata", "spec"}


@cache
def validator(kind: str) -> jsonschema.Draft7Validator:
    schema = json.loads((SCHEMAS / f"{kind.lower()}_v1alpha1.json").read_text())
    return jsonschema.Draft7Validator(schema)


def problems(doc: dict[str, Any]) -> list[str]:
    found = [f"unknown top-level key {k!r}" for k in sorted(set(doc) - TOP_LEVEL)]
    found += [
        f"{'.'.join(map(str, e.absolute_path))}: {e.message}" for e in validator(doc["kind"]).iter_errors(doc)
    ]
    return found
