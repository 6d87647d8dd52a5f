"""The CI build-metrics bucket (seeds 000/001), the key CI writes it with, and the read-only
key the weekly DORA report reads it with.

Declared only by the stack that manages the repository: the bucket is repository-wide,
like the Actions secrets that hand its key to CI.
"""

from __future__ import annotations

import pulumi
import pulumi_linode as linode
from pydantic import BaseModel, ConfigDict

from components.storage.config import MetricsConfig


class MetricsBucketArgs(BaseModel):
    """The metrics settings of the stack config, and the project the labels name."""

    model_config = ConfigDict(frozen=True, extra="forbid", arbitrary_types_allowed=True)

    project: str
    metrics: MetricsConfig
    # The bucket's own linode provider's connection (`linode:token`, secret, and `linode:url`
    # from stack config); unset, it reads LINODE_TOKEN / LINODE_URL.
    linode_token: pulumi.Output[str] | None = None
    linode_url: str | None = None


def lifecycle_rules(metrics: MetricsConfig) -> list[linode.ObjectStorageBucketLifecycleRuleArgs]:
    """Expire old metrics and their old versions, clear what expiry leaves, free abandoned uploads.

    Versioning keeps every overwritten or deleted object as a noncurrent version, so current
    objects expire after `retentionDays`, noncurrent ones after `noncurrentVersionDays`, and
    delete markers with nothing left behind them are removed.
    """
    return [
        linode.ObjectStorageBucketLifecycleRuleArgs(
            id="expire-metrics",
            enabled=True,
            expiration=linode.ObjectStorageBucketLifecycleRuleExpirationArgs(days=metrics.retention_days),
            noncurrent_version_expiration=linode.ObjectStorageBucketLifecycleRuleNoncurrentVersionExpirationArgs(
                days=metrics.noncurrent_version_days
            ),
        ),
        linode.ObjectStorageBucketLifecycleRuleArgs(
            id="remove-expired-delete-markers",
            enabled=True,
            # S3 refuses this flag together with `days` in one expiration: its own rule.
            expiration=linode.ObjectStorageBucketLifecycleRuleExpirationArgs(
                expired_object_delete_marker=True
            ),
        ),
        linode.ObjectStorageBucketLifecycleRuleArgs(
            id="abort-incomplete-uploads",
            enabled=True,
            abort_incomplete_multipart_upload_days=metrics.abort_incomplete_upload_days,
        ),
    ]


def key_label(project: str, issued_on: str | None) -> str:
    """The CI key's label; its date names the rotation it belongs to."""
    return f"{project}-ci-metrics" + (f"-{issued_on}" if issued_on else "")


def report_key_label(project: str, issued_on: str | None) -> str:
    """The report's read-only key's label; rotated with the CI key (same date)."""
    return f"{project}-report-metrics" + (f"-{issued_on}" if issued_on else "")


class MetricsBucket(pulumi.ComponentResource):
    """A private, versioned, protected bucket with lifecycle rules, a read-write key limited
    to it (CI's uploads) and a read-only one (the DORA report)."""

    bucket: linode.ObjectStorageBucket
    key: linode.ObjectStorageKey
    report_key: linode.ObjectStorageKey
    endpoint: pulumi.Output[str]
    access_key_id: pulumi.Output[str]
    secret_access_key: pulumi.Output[str]
    report_access_key_id: pulumi.Output[str]
    report_secret_access_key: pulumi.Output[str]

    def __init__(
        self,
        name: str,
        args: MetricsBucketArgs,
        opts: pulumi.ResourceOptions | None = None,
    ):
        super().__init__("delivery:metrics_bucket:MetricsBucket", name, None, opts)
        metrics = args.metrics
        # Versioning and lifecycle rules go through the S3 API, which needs an access key; the
        # provider mints a temporary one per operation instead of a long-lived admin key.
        # Provider settings belong to the provider object, not to Pulumi.yaml; being explicit, it
        # gets `linode:token` / `linode:url` only from the program (else LINODE_TOKEN / LINODE_URL).
        s3_provider = linode.Provider(
            f"{name}-s3",
            obj_use_temp_keys=True,
            token=args.linode_token,
            url=args.linode_url,
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.bucket = linode.ObjectStorageBucket(
            f"{name}-bucket",
            label=metrics.bucket,
            region=metrics.region,
            acl="private",
            cors_enabled=False,
            # Versioning cannot be switched off again once on; only suspended.
            versioning=True,
            lifecycle_rules=lifecycle_rules(metrics),
            opts=pulumi.ResourceOptions(
                parent=self,
                provider=s3_provider,
                # The build history of every pipeline run: never replaced or deleted by accident.
                protect=True,
            ),
        )
        self.key = linode.ObjectStorageKey(
            f"{name}-ci-key",
            label=key_label(args.project, metrics.key_issued_on),
            # A limited key: this one bucket, nothing else (and no `regions`, which would let it
            # create buckets).
            bucket_accesses=[
                linode.ObjectStorageKeyBucketAccessArgs(
                    bucket_name=self.bucket.label,
                    region=self.bucket.region,
                    permissions="read_write",
                )
            ],
            opts=pulumi.ResourceOptions(
                parent=self,
                # The API cannot change a key's bucket access in place; a new label is a rotation
                # (metrics.keyIssuedOn): a new key first, the ci-main secrets updated to it, the old
                # key deleted last.
                replace_on_changes=["bucketAccesses", "label"],
                additional_secret_outputs=["secretKey"],
            ),
        )
        # The weekly report only reads: a key of its own, read_only on this one bucket
        # (Linode's limited access keys: bucket_access permissions `read_only` or `read_write`,
        # https://techdocs.akamai.com/linode-api/reference/keys), so the
        # report's environment holds no credential that could alter the history it reports on.
        self.report_key = linode.ObjectStorageKey(
            f"{name}-report-key",
            label=report_key_label(args.project, metrics.key_issued_on),
            bucket_accesses=[
                linode.ObjectStorageKeyBucketAccessArgs(
                    bucket_name=self.bucket.label,
                    region=self.bucket.region,
                    permissions="read_only",
                )
            ],
            opts=pulumi.ResourceOptions(
                parent=self,
                # Rotated as the CI key is (metrics.keyIssuedOn): new key first, old one last.
                replace_on_changes=["bucketAccesses", "label"],
                additional_secret_outputs=["secretKey"],
            ),
        )
        self.endpoint = self.bucket.s3_endpoint.apply(lambda host: f"https://{host}")
        self.access_key_id = pulumi.Output.secret(self.key.access_key)
        self.secret_access_key = pulumi.Output.secret(self.key.secret_key)
        self.report_access_key_id = pulumi.Output.secret(self.report_key.access_key)
        self.report_secret_access_key = pulumi.Output.secret(self.report_key.secret_key)
        self.register_outputs(
            {
                "bucket": self.bucket.label,
                "endpoint": self.endpoint,
                "accessKeyId": self.access_key_id,
                "secretAccessKey": self.secret_access_key,
                "reportAccessKeyId": self.report_access_key_id,
                "reportSecretAccessKey": self.report_secret_access_key,
            }
        )
