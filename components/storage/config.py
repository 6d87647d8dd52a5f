"""Config model of the CI build metrics bucket (``delivery:metrics``)."""

from __future__ import annotations

from pydantic import Field

from components.config.base import DnsLabel, LinodeRegion, Model


class MetricsConfig(Model):
    bucket: DnsLabel = Field(
        default="ai-aas-build-metrics", description="Object Storage bucket for CI build metrics."
    )
    region: LinodeRegion = Field(
        default="us-ord",
        description="Object Storage region of the bucket.",
    )
    retention_days: int = Field(default=90, ge=1, le=3650, description="Days a metrics object is kept.")
    noncurrent_version_days: int = Field(
        default=7,
        ge=1,
        le=365,
        description="Days an overwritten or deleted metrics object's old version is kept (versioning is on).",
    )
    abort_incomplete_upload_days: int = Field(
        default=1,
        ge=1,
        le=30,
        description="Days after which an unfinished multipart upload is aborted and its parts freed.",
    )
