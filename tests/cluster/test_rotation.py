"""The cluster's admin kubeconfig: where it goes, how a rotation replaces what holds it, and
the alert that asks for the rotation (docs/rotation.md).

LKE hands the admin kubeconfig to whoever reads the cluster through the Linode API (GET
/lke/clusters/{id}/kubeconfig); the program keeps it in the stack's state only: the Kubernetes
provider is built from it, the `kubeconfig` stack output shows it (secret), and staging's
observer kubeconfig takes the API server and CA from it, never its token. No GitHub secret holds
it: CI's `pulumi up` reads it from state. Regenerating it (POST /lke/clusters/{id}/regenerate
with kubeconfig: true, https://techdocs.akamai.com/linode-api/reference/post-lke-cluster-regenerate)
invalidates the old one; `cluster.kubeconfigIssuedOn` then drives the `up` that brings every
consumer to the new one.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import yaml

from components.monitoring.rules import CREDENTIALS_GROUP
from tests.support.stacks import TEST_SECRETS, assert_refused, stack_config, with_changes
from tests.support.types import LKE_CLUSTER, PROMETHEUS_RULE, SECRET
from tools.offline import STACKS, RecordedResource, Recorder, Run, run_program

PROVIDER = "pulumi:providers:kubernetes"
GITHUB_SECRETS = (
    "github:index/actionsSecret:ActionsSecret",
    "github:index/actionsEnvironmentSecret:ActionsEnvironmentSecret",
)
ALERT = "ClusterKubeconfigRotationDue"
ROTATED = "2026-12-03"


def one(run: Run, type_: str) -> RecordedResource:
    [resource] = run.recorder.of_type(type_)
    return resource


def observer_token(run: Run) -> RecordedResource:
    [token] = [
        r
        for r in run.recorder.of_type(SECRET)
        if r.plain.get("type") == "kubernetes.io/service-account-token"
    ]
    return token


def observer_secret(run: Run) -> RecordedResource:
    [secret] = [
        r for r in run.recorder.of_type(GITHUB_SECRETS[1]) if r.plain["secretName"] == "OBSERVER_KUBECONFIG"
    ]
    return secret


def admin_token(run: Run) -> str:
    """The user token of the admin kubeconfig (as the provider is built from it)."""
    kubeconfig = yaml.safe_load(str(one(run, PROVIDER).plain["kubeconfig"]))
    token: str = kubeconfig["users"][0]["user"]["token"]
    assert token, "the mock cluster's kubeconfig has no token"
    return token


def test_the_admin_kubeconfig_stays_in_state_and_reaches_no_github_secret(runs: dict[str, Run]) -> None:
    for stack, run in runs.items():
        provider = one(run, PROVIDER)
        cluster = one(run, LKE_CLUSTER)
        assert "kubeconfig" in cluster.additional_secret_outputs, stack
        assert provider.plain["clusterIdentifier"], (
            f"{stack}: a new kubeconfig must update the provider, not replace it"
        )
        token = admin_token(run)
        for type_ in GITHUB_SECRETS:
            for secret in run.recorder.of_type(type_):
                assert token not in str(secret.plain), f"{stack}: {secret.name} holds the admin kubeconfig"
        assert run.outputs["kubeconfig"], "the kubeconfig stack output (secret) is how operators read it"


def test_staging_and_production_schedule_the_rotation() -> None:
    for stack in ("staging", "production"):
        assert_refused(
            stack,
            {"delivery:cluster.kubeconfigIssuedOn": None},
            ["delivery:cluster.kubeconfigIssuedOn"],
        )
    assert_refused(
        "staging",
        {"delivery:cluster.kubeconfigIssuedOn": "2026-02-30"},
        ["delivery:cluster.kubeconfigIssuedOn"],
    )


def test_the_rotation_alert_is_declared_where_a_rotation_is_scheduled(runs: dict[str, Run]) -> None:
    for stack in STACKS:
        config = stack_config(stack)
        rule = one(runs[stack], PROMETHEUS_RULE)
        [group] = [g for g in rule.plain["spec"]["groups"] if g["name"] == CREDENTIALS_GROUP]
        alerts = {r["alert"]: r for r in group["rules"]}
        rotate_by = config.cluster.kubeconfig_rotate_by
        if rotate_by is None:
            assert ALERT not in alerts, stack
            continue
        alert = alerts[ALERT]
        match = re.fullmatch(r"vector\(time\(\)\) >= (\d+)", alert["expr"])
        assert match, alert["expr"]
        due = datetime(rotate_by.year, rotate_by.month, rotate_by.day, tzinfo=UTC)
        lead = timedelta(days=config.monitoring.alerts.credentials_expiry_warning_days)
        assert datetime.fromtimestamp(int(match.group(1)), tz=UTC) == due - lead
        assert alert["labels"]["severity"] == "warning"
        assert rotate_by.isoformat() in alert["annotations"]["summary"]
        assert "docs/rotation.md" in alert["annotations"]["description"]


def test_a_new_kubeconfig_date_rotates_the_consumers_in_order(runs: dict[str, Run]) -> None:
    """Staging (the stack with the most consumers): a new `cluster.kubeconfigIssuedOn` is, in
    one `up`, (1) an in-place update of the cluster, whose provider reads the regenerated
    kubeconfig back (updateResource ends in readResource in terraform-provider-linode's
    linode/lke/resource.go), (2) an update of the Kubernetes provider built from it (its
    clusterIdentifier is the cluster's id, which does not change), (3) a new observer token
    Secret, created before the old one is deleted, from which (4) the OBSERVER_KUBECONFIG
    environment secret is rebuilt; the alert moves to the new date."""
    before = runs["staging"]
    after = run_program(
        "staging",
        TEST_SECRETS,
        with_changes("staging", {"delivery:cluster.kubeconfigIssuedOn": ROTATED}),
        recorder=Recorder(),
    )
    old_cluster, new_cluster = one(before, LKE_CLUSTER), one(after, LKE_CLUSTER)
    assert "kubeconfig:2026-11-23" in old_cluster.plain["tags"]
    assert "kubeconfig:2026-12-03" in new_cluster.plain["tags"]
    assert "kubeconfig:2026-11-23" not in new_cluster.plain["tags"]
    assert {k: v for k, v in new_cluster.plain.items() if k != "tags"} == {
        k: v for k, v in old_cluster.plain.items() if k != "tags"
    }, "only the tag changes: nothing else of the cluster is touched"
    assert "tags" not in new_cluster.replace_on_changes + new_cluster.ignore_changes

    provider = one(after, PROVIDER)
    assert provider.parent == new_cluster.parent, "the provider is the cluster component's"
    assert provider.plain["clusterIdentifier"] == one(before, PROVIDER).plain["clusterIdentifier"]

    old_token, new_token = observer_token(before), observer_token(after)
    assert old_token.plain["metadata"]["name"] == "validation-observer-token-2026-11-23"
    assert new_token.plain["metadata"]["name"] == f"validation-observer-token-{ROTATED}"
    assert new_token.name == old_token.name, "same resource: a replacement, not a rename"
    assert not new_token.delete_before_replace, "the new token exists before the old one goes"

    secret = observer_secret(after)
    kubeconfig = yaml.safe_load(str(secret.plain["value"]))
    assert kubeconfig["users"][0]["user"]["token"] == f"mock-service-account-token-{new_token.name}"
    assert admin_token(after) not in str(secret.plain["value"])

    [group] = [
        g for g in one(after, PROMETHEUS_RULE).plain["spec"]["groups"] if g["name"] == CREDENTIALS_GROUP
    ]
    [alert] = [r for r in group["rules"] if r["alert"] == ALERT]
    assert "2027-03-03" in alert["annotations"]["summary"], "90 days after the new date"
