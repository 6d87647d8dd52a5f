"""promtool of `make promtool` and the alert-text rendering the alert-rule tests share."""

from __future__ import annotations

import re

from tools.toolcache import tools_cache

TOOLS_CACHE = tools_cache()
PROMTOOL = TOOLS_CACHE / "promtool"


def render(text: str, labels: dict[str, str]) -> str:
    """An alert annotation with its `{{ $labels.x }}` filled in, as Alertmanager shows it."""
    return re.sub(r"\{\{ \$labels\.(\w+) \}\}", lambda m: labels[m.group(1)], text)
