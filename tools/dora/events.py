"""Delivery events read back from the metrics bucket through the S3 API (boto3).

Linode Object Storage refuses the CRC checksums newer AWS SDKs send by default
(linode/terraform-provider-linode#1834), so the client computes and validates checksums
only where an operation requires one (botocore's ``request_checksum_calculation`` /
``response_checksum_validation`` = ``when_required``, the settings the workflows' AWS CLI
gets through ``AWS_REQUEST_CHECKSUM_CALCULATION``/``AWS_RESPONSE_CHECKSUM_VALIDATION``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import boto3
import jsonschema
from botocore.config import Config

from components.contracts import delivery_events


@dataclass
class Loaded:
    """The valid events, and what could not be used (counted in the report as gaps)."""

    events: list[dict[str, Any]] = field(default_factory=list)
    # key -> why it was refused (not JSON, or not a delivery-event/1 record)
    rejected: dict[str, str] = field(default_factory=dict)


def client(endpoint: str, region: str) -> Any:
    """An S3 client for the bucket's endpoint; credentials from the usual AWS variables."""
    config = Config(
        request_checksum_calculation="when_required",
        response_checksum_validation="when_required",
        retries={"max_attempts": 5, "mode": "standard"},
        s3={"addressing_style": "path"},
    )
    return boto3.client("s3", endpoint_url=endpoint, region_name=region, config=config)


def validator() -> jsonschema.protocols.Validator:
    schema = delivery_events.schema()
    cls = jsonschema.validators.validator_for(schema)
    checker: jsonschema.protocols.Validator = cls(schema, format_checker=cls.FORMAT_CHECKER)
    return checker


def load(s3: Any, bucket: str, prefix: str = delivery_events.PREFIX) -> Loaded:
    """Every object under ``prefix``, parsed and checked against the schema."""
    loaded = Loaded()
    check = validator()
    seen: set[tuple[str, str]] = set()
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=f"{prefix}/"):
        for item in page.get("Contents", []):
            key = item["Key"]
            body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
            try:
                record = json.loads(body)
            except ValueError as error:
                loaded.rejected[key] = f"not JSON: {error}"
                continue
            errors = sorted(check.iter_errors(record), key=lambda e: list(e.absolute_path))
            if errors:
                loaded.rejected[key] = errors[0].message[:200]
                continue
            # A re-run attempt may upload the same event again: one record per (kind, id).
            identity = (record["kind"], record["id"])
            if identity in seen:
                continue
            seen.add(identity)
            loaded.events.append(record)
    return loaded
