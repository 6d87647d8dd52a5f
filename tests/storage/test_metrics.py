"""The CI metrics bucket: private, versioned, expiring, protected, reachable by two keys only:
CI's read-write one and the DORA report's read-only one."""

from __future__ import annotations

from typing import Any

import pytest

from components.storage.metrics_bucket import lifecycle_rules
from tests.support.stacks import TEST_SECRETS, parsed, with_changes
from tests.support.types import BUCKET, OBJECT_STORAGE_KEY
from tools.offline import STACKS, RecordedResource, Run, run_program

LINODE_PROVIDER = "pulumi:providers:linode"


def the_bucket(runs: dict[str, Run]) -> tuple[Run, RecordedResource]:
    owners = [(run, b) for run in runs.values() for b in run.recorder.of_type(BUCKET)]
    assert len(owners) == 1, "exactly one stack declares the metrics bucket"
    return owners[0]


def test_only_the_managing_stack_declares_the_bucket(runs: dict[str, Run]) -> None:
    run, _ = the_bucket(runs)
    assert parsed(run.stack).github.manage_repository
    for stack in STACKS:
        if stack != run.stack:
            assert runs[stack].recorder.of_type(BUCKET) == []


def test_bucket_is_private_versioned_and_protected(runs: dict[str, Run]) -> None:
    run, bucket = the_bucket(runs)
    metrics = parsed(run.stack).metrics
    assert bucket.plain["label"] == metrics.bucket
    assert bucket.plain["region"] == metrics.region
    assert bucket.plain["acl"] == "private"
    assert bucket.plain.get("corsEnabled") is False
    assert bucket.plain["versioning"] is True
    assert bucket.protect is True
    assert not {"accessKey", "secretKey"} & set(bucket.inputs), "no long-lived admin key in the program"


def test_bucket_lifecycle_needs_the_provider_minting_temporary_keys(runs: dict[str, Run]) -> None:
    run, bucket = the_bucket(runs)
    (provider,) = [r for r in run.recorder.of_type(LINODE_PROVIDER) if r.name == bucket.provider]
    assert provider.plain["objUseTempKeys"] in (True, "true")


def _rules(bucket: RecordedResource) -> dict[str, dict[str, Any]]:
    rules = {rule["id"]: rule for rule in bucket.plain["lifecycleRules"]}
    assert all(rule["enabled"] is True for rule in rules.values())
    return rules


def test_old_metrics_versions_and_abandoned_uploads_expire(runs: dict[str, Run]) -> None:
    run, bucket = the_bucket(runs)
    metrics = parsed(run.stack).metrics
    rules = _rules(bucket)
    current = [r for r in rules.values() if r.get("expiration", {}).get("days")]
    assert [r["expiration"]["days"] for r in current] == [metrics.retention_days]
    noncurrent = [
        r["noncurrentVersionExpiration"]["days"] for r in rules.values() if "noncurrentVersionExpiration" in r
    ]
    assert noncurrent == [metrics.noncurrent_version_days]
    assert noncurrent[0] <= metrics.retention_days
    aborts = [
        r["abortIncompleteMultipartUploadDays"]
        for r in rules.values()
        if "abortIncompleteMultipartUploadDays" in r
    ]
    assert aborts == [metrics.abort_incomplete_upload_days]
    markers = [r for r in rules.values() if r.get("expiration", {}).get("expiredObjectDeleteMarker")]
    assert len(markers) == 1 and "days" not in markers[0]["expiration"], (
        "S3 refuses days with the marker flag"
    )


def test_lifecycle_rules_follow_the_config() -> None:
    metrics = parsed("production", {"delivery:metrics.retentionDays": 30}).metrics
    (expire,) = [r for r in lifecycle_rules(metrics) if r.expiration is not None and r.expiration.days]
    assert expire.expiration is not None and expire.expiration.days == 30


def test_metrics_keys_reach_only_the_metrics_bucket_and_only_ci_s_writes(runs: dict[str, Run]) -> None:
    run, bucket = the_bucket(runs)
    reaching = {
        k.name: k
        for k in run.recorder.of_type(OBJECT_STORAGE_KEY)
        if any(a["bucketName"] == bucket.plain["label"] for a in k.plain.get("bucketAccesses", []))
    }
    assert set(reaching) == {"metrics-ci-key", "metrics-report-key"}, "CI's uploads and the report's reads"
    for name, permissions in (("metrics-ci-key", "read_write"), ("metrics-report-key", "read_only")):
        key = reaching[name]
        assert key.plain["bucketAccesses"] == [
            {
                "bucketName": bucket.plain["label"],
                "region": bucket.plain["region"],
                "permissions": permissions,
            }
        ], name
        assert "regions" not in key.plain, "a key with regions may create buckets"
        # The secret key never lands in the state in plain text.
        assert "secretKey" in key.additional_secret_outputs, name


@pytest.mark.parametrize("stack", STACKS)
def test_every_object_storage_key_is_limited_to_named_buckets(stack: str, runs: dict[str, Run]) -> None:
    keys = runs[stack].recorder.of_type(OBJECT_STORAGE_KEY)
    assert keys, "every stack mints state keys"
    for key in keys:
        accesses = key.plain.get("bucketAccesses") or []
        assert accesses, f"{key.name}: an unlimited key reaches every bucket of the account"
        assert "regions" not in key.plain
        assert {a["permissions"] for a in accesses} <= {"read_only", "read_write"}


def test_a_new_key_date_rotates_the_metrics_key_and_hands_the_new_one_to_ci_main(
    runs: dict[str, Run],
) -> None:
    """`metrics.keyIssuedOn` is part of the key's label, and a new label replaces the key
    (create first, delete last): the `ci-main` secrets take the new key's outputs in the same up."""
    owner, _ = the_bucket(runs)
    rotated = run_program(
        owner.stack, TEST_SECRETS, with_changes(owner.stack, {"delivery:metrics.keyIssuedOn": "2026-12-03"})
    )
    (before,) = [r for r in owner.recorder.of_type(OBJECT_STORAGE_KEY) if r.name == "metrics-ci-key"]
    (after,) = [r for r in rotated.recorder.of_type(OBJECT_STORAGE_KEY) if r.name == "metrics-ci-key"]
    assert before.plain["label"] == "delivery-ci-metrics"
    assert after.plain["label"] == "delivery-ci-metrics-2026-12-03"
    assert "label" in after.replace_on_changes and not after.delete_before_replace
    secrets = {
        r.plain["secretName"]: r
        for r in rotated.recorder.of_type("github:index/actionsEnvironmentSecret:ActionsEnvironmentSecret")
        if r.plain["environment"] == "ci-main"
    }
    # Each secret's value is the key's own output (the mocks end it in the key's name).
    assert secrets["METRICS_SECRET_ACCESS_KEY"].inputs["value"].value == "mock-secret-key-metrics-ci-key"
    # The report's read-only key rotates with it, into the report's environment.
    (report,) = [r for r in rotated.recorder.of_type(OBJECT_STORAGE_KEY) if r.name == "metrics-report-key"]
    assert report.plain["label"] == "delivery-report-metrics-2026-12-03"
    assert "label" in report.replace_on_changes and not report.delete_before_replace
    report_secrets = {
        r.plain["secretName"]: r
        for r in rotated.recorder.of_type("github:index/actionsEnvironmentSecret:ActionsEnvironmentSecret")
        if r.plain["environment"] == "metrics-report"
    }
    assert set(report_secrets) == {
        "METRICS_READ_ACCESS_KEY_ID",
        "METRICS_READ_SECRET_ACCESS_KEY",
        "SLACK_WEBHOOK_URL",
    }
    assert (
        report_secrets["METRICS_READ_SECRET_ACCESS_KEY"].inputs["value"].value
        == "mock-secret-key-metrics-report-key"
    )
