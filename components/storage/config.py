"""Config model of the CI build metrics bucket (``delivery:metrics``)."""

from __future__ import annotations

from pydantic import Field

from components.config.base import DEFAULT_REGION, DnsLabel, LinodeRegion, Model


class MetricsConfig(Model):
    bucket: DnsLabel = Field(
        default="ai-aas-build-metrics", description="Object Storage bucket for CI build metrics."
    )
    region: LinodeRegion = Field(
        default=DEFAULT_REGION,
        description="Object Storage region of the bucket.",
    )
    retention_days: int = Field(default=90, ge=1, le=3650, description="Days a metrics object is kept.")
    noncurrent_version_days: int = Field(
        default=7,
        ge=1,
        le=365,
        description="Days an overwritten or deleted metrics object's old version is kept (versioning is on).",
    )
    key_issued_on: str | None = Field(
        default=None,
        pattern=r"^\d{4}-\d{2}-\d{2}$",
        examples=["2026-12-03"],
        description=(
            "Date (YYYY-MM-DD) the bucket's CI key was minted, part of its label. Changing it rotates the key: "
            "`pulumi up` mints a new one, hands it to `ci-main`, then deletes the old one. Unset: the key "
            "minted first, never rotated."
        ),
    )
    abort_incomplete_upload_days: int = Field(
        default=1,
        ge=1,
        le=30,
        description="Days after which an unfinished multipart upload is aborted and its parts freed.",
    )
