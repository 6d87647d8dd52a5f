"""The generated documentation sections moved to docs/reference/ (tools/docs_sections.py); this
name still runs the same check and rewrite, as the older notes and branches invoke it."""

from __future__ import annotations

import sys

from tools.docs_sections import CONFIG_REFERENCE, IDENTITIES_TABLE, SECTIONS, UPDATE, main

__all__ = ["CONFIG_REFERENCE", "IDENTITIES_TABLE", "SECTIONS", "UPDATE", "main"]

if __name__ == "__main__":
    sys.exit(main())
