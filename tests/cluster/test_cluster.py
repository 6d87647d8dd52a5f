"""The LKE cluster and its Kubernetes provider, as each committed stack declares them."""

from __future__ import annotations

import json
import re
from pathlib import Path

import jsonschema
import yaml

from components.cluster.cluster import decode_kubeconfig
from tests.support.paths import SCHEMAS
from tests.support.stacks import TEST_SECRETS, run_stack
from tests.support.types import LKE_CLUSTER
from tools.offline import PROJECT_FILE, RecordedResource, Run, Secret, mock_id, run_program

K8S_PROVIDER = "pulumi:providers:kubernetes"


def only(run: Run, type_: str) -> RecordedResource:
    found = run.recorder.of_type(type_)
    assert len(found) == 1, f"{run.stack}: expected one {type_}, found {len(found)}"
    return found[0]


def test_project_file_is_what_the_pulumi_cli_accepts() -> None:
    schema = json.loads((SCHEMAS / "pulumi-project.json").read_text())
    jsonschema.validate(yaml.safe_load(PROJECT_FILE.read_text()), schema)


def test_one_cluster_per_stack_labelled_for_its_environment(stack_run: Run) -> None:
    lke = only(stack_run, LKE_CLUSTER).plain
    assert lke["label"] == f"delivery-{stack_run.stack}"
    assert re.fullmatch(r"1\.\d{2}", lke["k8sVersion"]), "Kubernetes version must be pinned as major.minor"
    assert f"env:{stack_run.stack}" in lke["tags"]
    assert "delivery" in lke["tags"]


def test_autoscaled_pools_leave_the_count_to_the_autoscaler(stack_run: Run) -> None:
    pools = only(stack_run, LKE_CLUSTER).plain["pools"]
    assert pools, "at least one node pool"
    for pool in pools:
        assert pool["label"], "pools are labelled with their config key"
        if "autoscaler" in pool:
            assert "count" not in pool, f"{pool['label']}: a fixed count fights the autoscaler"
            assert pool["autoscaler"]["min"] <= pool["autoscaler"]["max"]
        else:
            assert pool["count"] >= 1


def test_production_cluster_is_ha_protected_and_fenced() -> None:
    run = run_stack("production")
    lke = only(run, LKE_CLUSTER)
    assert lke.protect, "the production cluster must be protected against replace/delete"
    control = lke.plain["controlPlane"]
    assert control["highAvailability"] is True
    assert control["acl"]["enabled"] is True
    assert all(re.fullmatch(r"[\d.]+/\d+", cidr) for cidr in control["acl"]["addresses"][0]["ipv4s"])
    guaranteed = sum(p["autoscaler"]["min"] if "autoscaler" in p else p["count"] for p in lke.plain["pools"])
    assert guaranteed >= 3


def test_non_production_clusters_are_not_protected(runs: dict[str, Run]) -> None:
    for stack in ("development", "staging"):
        assert not only(runs[stack], LKE_CLUSTER).protect, (
            "protect would block tearing down a scratch environment"
        )


def test_kubeconfig_stays_secret_from_cluster_to_provider_to_output(stack_run: Run) -> None:
    lke = only(stack_run, LKE_CLUSTER)
    assert "kubeconfig" in lke.additional_secret_outputs
    provider = only(stack_run, K8S_PROVIDER)
    assert isinstance(provider.inputs["kubeconfig"], Secret)
    assert isinstance(stack_run.outputs["kubeconfig"], Secret)
    assert yaml.safe_load(stack_run.outputs["kubeconfig"].value)["kind"] == "Config"


def test_provider_is_replaced_only_with_the_cluster(stack_run: Run) -> None:
    provider = only(stack_run, K8S_PROVIDER)
    assert provider.plain["clusterIdentifier"] == mock_id(f"{stack_run.stack}-lke")
    assert provider.parent == stack_run.stack


def test_every_kubernetes_resource_targets_this_stacks_cluster(stack_run: Run) -> None:
    expected = f"{stack_run.stack}-k8s"
    for res in stack_run.resources:
        if res.type.startswith("kubernetes:"):
            assert res.provider == expected, f"{res.name} is not on the stack's cluster provider"


def test_outputs_a_platform_engineer_needs(stack_run: Run) -> None:
    assert {"clusterId", "apiEndpoints", "kubeconfig"} <= set(stack_run.outputs)
    assert stack_run.outputs["clusterId"] == mock_id(f"{stack_run.stack}-lke")


def test_decode_kubeconfig_reads_lke_base64() -> None:
    assert decode_kubeconfig("YXBpVmVyc2lvbjogdjE=") == "apiVersion: v1"


def test_a_pool_config_change_reaches_the_cluster_unchanged_in_meaning() -> None:
    values = yaml.safe_load(Path(PROJECT_FILE.parent / "Pulumi.staging.yaml").read_text())["config"]
    values["delivery:cluster"]["pools"] = {
        "zeta": {"type": "g6-standard-2", "count": 1},
        "alpha": {"type": "g6-standard-4", "autoscaler": {"min": 2, "max": 5}},
    }
    run = run_program("staging", TEST_SECRETS, values)
    pools = only(run, LKE_CLUSTER).plain["pools"]
    # Keyed by name and emitted in name order: reordering the config changes nothing.
    assert [p["label"] for p in pools] == ["alpha", "zeta"]
    assert "count" not in pools[0]
    assert pools[1]["count"] == 1


def test_production_provider_never_deletes_what_it_cannot_reach(runs: dict[str, Run]) -> None:
    # deleteUnreachable drops from state every resource of a cluster the provider cannot
    # reach: one API outage during a production `pulumi up` would forget the whole cluster.
    provider = only(runs["production"], K8S_PROVIDER)
    assert provider.plain.get("deleteUnreachable", "false") in ("false", False)
