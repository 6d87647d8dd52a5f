"""Reduce a Pulumi package schema to what the input-shape test reads.

Keeps, per resource, its `inputProperties` and `requiredInputs`, and per object type its
`properties`, each property reduced to its shape (`type`, `items`, `$ref`,
`additionalProperties`, `oneOf`); descriptions, outputs, functions and language settings
are dropped. The result is a few hundred kilobytes instead of megabytes.

    python tests/schemas/trim_pulumi_schema.py SCHEMA.json OUT.json
"""

from __future__ import annotations

import json
import sys
from typing import Any

_SHAPE_KEYS = ("type", "items", "$ref", "additionalProperties", "oneOf")


def shape(spec: Any) -> Any:
    if not isinstance(spec, dict):
        return spec
    out: dict[str, Any] = {}
    for key in _SHAPE_KEYS:
        if key in spec:
            value = spec[key]
            if key == "oneOf":
                out[key] = [shape(v) for v in value]
            elif isinstance(value, dict):
                out[key] = shape(value)
            else:
                out[key] = value
    return out


def trim(schema: dict[str, Any]) -> dict[str, Any]:
    resources = {
        token: {
            "inputProperties": {k: shape(v) for k, v in sorted((res.get("inputProperties") or {}).items())},
            "requiredInputs": sorted(res.get("requiredInputs") or []),
        }
        for token, res in sorted(schema.get("resources", {}).items())
    }
    types = {
        token: {"properties": {k: shape(v) for k, v in sorted((t.get("properties") or {}).items())}}
        for token, t in sorted(schema.get("types", {}).items())
        if t.get("type") == "object"
    }
    return {
        "name": schema.get("name"),
        "version": schema.get("version"),
        "resources": resources,
        "types": types,
    }


def main(argv: list[str]) -> int:
    source, target = argv
    with open(source) as f:
        trimmed = trim(json.load(f))
    with open(target, "w") as f:
        json.dump(trimmed, f, indent=None, separators=(",", ":"), sort_keys=True)
        f.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
