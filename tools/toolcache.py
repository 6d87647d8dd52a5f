"""Where the Go-built tools live (`make promtool`, `make helm`, ...): `$TOOLS_CACHE`, by default
`~/.cache/delivery-tools`, the Makefile's own default. One lookup for every harness and tool."""

from __future__ import annotations

import os
import shutil
from pathlib import Path


def tools_cache() -> Path:
    """The cache the make targets build into."""
    return Path(os.environ.get("TOOLS_CACHE") or Path.home() / ".cache" / "delivery-tools")


def cached_tool(name: str) -> Path | None:
    """The executable `name` from the cache, else from PATH, else None."""
    path = tools_cache() / name
    if path.is_file() and os.access(path, os.X_OK):
        return path
    found = shutil.which(name)
    return Path(found) if found else None
