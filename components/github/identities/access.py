"""The two ways CI runs a stack, each with credentials of its own: `up` (the deployer) and
`preview` (the real `pulumi preview` on main, read-only)."""

from __future__ import annotations

from typing import Literal

Access = Literal["up", "preview"]
ACCESSES: tuple[Access, ...] = ("up", "preview")
