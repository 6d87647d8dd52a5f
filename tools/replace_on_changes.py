"""Which inputs of a provider's resources force a replacement, from its published schema.

Pulumi package schemas mark such inputs `willReplaceOnChanges`; the offline plan reads the
extract (`tools/replace_on_changes.json`) to mark a change `+-` (replace) instead of `~`.
Regenerate after a provider upgrade from the provider's `schema.json` (source and licence in
`tools/README.md`):

    python -m tools.replace_on_changes github-schema.json linode-schema.json
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

TARGET = Path(__file__).with_suffix(".json")


def extract(schema: dict[str, object]) -> dict[str, list[str]]:
    resources = schema.get("resources")
    assert isinstance(resources, dict)
    found: dict[str, list[str]] = {}
    for token, resource in sorted(resources.items()):
        keys = sorted(
            key
            for key, spec in (resource.get("inputProperties") or {}).items()
            if isinstance(spec, dict) and spec.get("willReplaceOnChanges")
        )
        if keys:
            found[token] = keys
    return found


def main(argv: list[str]) -> int:
    merged: dict[str, list[str]] = {}
    for path in argv:
        merged.update(extract(json.loads(Path(path).read_text())))
    TARGET.write_text(json.dumps(dict(sorted(merged.items())), indent=1) + "\n")
    print(f"wrote {len(merged)} resource types to {TARGET.name}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
