"""Linode scopes: those of the token the program mints for CI per access, the state key's
level, what each Linode resource type the program declares needs, and the bootstrap
identity's personal access token."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from components.github.identities.access import Access

LinodeLevel = Literal["read_only", "read_write"]


@dataclass(frozen=True, order=True)
class Scope:
    """One Linode OAuth scope (`<area>:<level>`); never `*`."""

    area: str
    level: LinodeLevel

    def __str__(self) -> str:
        return f"{self.area}:{self.level}"


def scopes_text(scopes: Iterable[Scope]) -> str:
    """Scopes as Linode's API takes them: space-separated, sorted."""
    return " ".join(str(s) for s in sorted(set(scopes)))


def ci_linode_scopes(access: Access, manages_repository: bool) -> frozenset[Scope]:
    """Scopes of the Linode token the program mints for CI: what the stack's own resources need.

    - `lke`: the stack's cluster and node pools (read-write only for `pulumi up`).
    - `linodes:read_only`, `events:read_only`: the provider reads the pools' instances and
      polls account events while it waits for LKE operations to finish.
    - `object_storage`: read-write only where `pulumi up` manages the metrics bucket (its
      versioning and lifecycle go through temporary keys the provider mints); elsewhere the
      stack's Object Storage keys are only read. Minting keys and tokens is a rotation,
      run by the bootstrap identity (docs/security.md, "Credential model").
    - No `account` scope: it would let CI mint tokens and users, i.e. grant itself `*`.
    """
    write: LinodeLevel = "read_write" if access == "up" else "read_only"
    storage: LinodeLevel = "read_write" if access == "up" and manages_repository else "read_only"
    return frozenset(
        {
            Scope("events", "read_only"),
            Scope("linodes", "read_only"),
            Scope("lke", write),
            Scope("object_storage", storage),
        }
    )


def state_key_permissions(access: Access) -> LinodeLevel:
    """`pulumi up` locks and writes the stack's state; a DIY-backend preview only reads it.

    pulumi/pulumi pkg/backend/diy/backend.go: `Preview` calls `apply` with `DryRun` and no
    `Lock`; history and backups are written only when not a dry run.
    """
    return "read_write" if access == "up" else "read_only"


# What the first `pulumi up` of a stack needs from the Linode token it runs with, per
# resource type the program declares (a new type fails tests/github/test_identities.py).
LINODE_NEEDS: dict[str, frozenset[Scope]] = {
    "linode:index/lkeCluster:LkeCluster": frozenset(
        {Scope("lke", "read_write"), Scope("linodes", "read_only"), Scope("events", "read_only")}
    ),
    "linode:index/objectStorageBucket:ObjectStorageBucket": frozenset(
        {Scope("object_storage", "read_write")}
    ),
    "linode:index/objectStorageKey:ObjectStorageKey": frozenset({Scope("object_storage", "read_write")}),
    # Creating a personal access token is an account operation.
    "linode:index/token:Token": frozenset({Scope("account", "read_write")}),
}

# The bootstrap identity's personal access token: the first `pulumi up` of every stack and
# every rotation (which mints CI's tokens and keys). A token can mint only within its own
# scopes, so it holds every scope CI's tokens get, and `account` to mint them.
BOOTSTRAP_LINODE: frozenset[Scope] = frozenset(
    {
        Scope("account", "read_write"),
        Scope("events", "read_only"),
        Scope("linodes", "read_only"),
        Scope("lke", "read_write"),
        Scope("object_storage", "read_write"),
    }
)
