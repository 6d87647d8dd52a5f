"""Seed 002's Jaeger, declared per cluster beside the collector: what each stack declares
(objects, image pin, pod security, protection, retention), how the collector and Grafana find
it, and that `backend: external` declares none of it."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml

from components.config.adapters import gitops_spec
from components.config.base import ConfigError
from components.kubernetes.pod_policies import pod_policies
from components.monitoring.config import JAEGER_IMAGE
from components.monitoring.jaeger import (
    NAME,
    OTLP_GRPC_PORT,
    QUERY_HTTP_PORT,
    jaeger_config,
    jaeger_manifests,
    otlp_endpoint,
    query_url,
)
from components.monitoring.stack_values import JAEGER_DATASOURCE_UID
from components.monitoring.tracing import EXPORTER_NAME
from tests.support.cel_harness import evaluate, request
from tests.support.charts import monitoring_release
from tests.support.stacks import TEST_SECRETS, assert_refused, k8s_version, stack_config, with_changes
from tools.offline import Recorder, Run, run_program, unwrap

SCHEMAS = Path(__file__).resolve().parents[2] / "components" / "schemas"
DIGEST_REF = re.compile(r"^[^@]+:[^@:/]+@sha256:[0-9a-f]{64}$")
KINDS = {
    "kubernetes:core/v1:ConfigMap": "config",
    "kubernetes:core/v1:PersistentVolumeClaim": "data",
    "kubernetes:apps/v1:Deployment": "deployment",
    "kubernetes:core/v1:Service": "service",
    "kubernetes:monitoring.coreos.com/v1:ServiceMonitor": "service-monitor",
}


def declared(run: Run) -> dict[str, Any]:
    """Jaeger's objects as the stack declares them, by role."""
    found = {
        KINDS[r.type]: r
        for r in run.resources
        if r.type in KINDS and r.name.endswith(f"-jaeger-{KINDS[r.type]}")
    }
    return found


def collector_exporters(run: Run) -> dict[str, Any]:
    [release] = [
        r
        for r in run.resources
        if r.type == "kubernetes:helm.sh/v3:Release" and "opentelemetry-collector" in str(r.inputs["chart"])
    ]
    exporters: dict[str, Any] = release.plain["values"]["alternateConfig"]["exporters"]
    return exporters


def test_every_stack_declares_jaeger_in_the_tracing_namespace(stack_run: Run) -> None:
    config = stack_config(stack_run.stack).monitoring.tracing
    assert config.in_cluster_jaeger
    found = declared(stack_run)
    assert set(found) == set(KINDS.values())
    for role, resource in found.items():
        inputs = unwrap(resource.inputs)
        assert inputs["metadata"]["namespace"] == config.namespace, role
        assert inputs == {k: v for k, v in jaeger_manifests(config)[role].items() if k in inputs}, role
    # The ConfigMap holds exactly the configuration jaeger_config renders (what the engine test runs).
    configmap = unwrap(found["config"].inputs)
    assert yaml.safe_load(configmap["data"]["config.yaml"]) == jaeger_config(config)


def test_the_collector_exports_to_jaegers_otlp_port(stack_run: Run) -> None:
    config = stack_config(stack_run.stack).monitoring.tracing
    exporters = collector_exporters(stack_run)
    assert exporters == {
        f"otlp/{EXPORTER_NAME}": {"endpoint": otlp_endpoint(config), "tls": {"insecure": True}}
    }
    # The endpoint is the declared Service, on a port it serves, targeting Jaeger's OTLP gRPC receiver.
    service = unwrap(declared(stack_run)["service"].inputs)
    host, port = otlp_endpoint(config).rsplit(":", 1)
    assert host == f"{service['metadata']['name']}.{service['metadata']['namespace']}.svc.cluster.local"
    [served] = [p for p in service["spec"]["ports"] if p["port"] == int(port)]
    receiver = jaeger_config(config)["receivers"]["otlp"]["protocols"]["grpc"]["endpoint"]
    assert int(receiver.rsplit(":", 1)[1]) == OTLP_GRPC_PORT == int(port)
    container = unwrap(declared(stack_run)["deployment"].inputs)["spec"]["template"]["spec"]["containers"][0]
    assert {p["name"]: p["containerPort"] for p in container["ports"]}[served["targetPort"]] == OTLP_GRPC_PORT


def test_grafana_reads_jaeger_through_its_query_service(stack_run: Run) -> None:
    config = stack_config(stack_run.stack).monitoring.tracing
    grafana = monitoring_release(stack_run).plain["values"]["grafana"]
    [source] = grafana["additionalDataSources"]
    assert source["type"] == "jaeger" and source["uid"] == JAEGER_DATASOURCE_UID
    assert source["url"] == query_url(config)
    service = unwrap(declared(stack_run)["service"].inputs)
    assert query_url(config) == (
        f"http://{service['metadata']['name']}.{config.namespace}.svc.cluster.local:{QUERY_HTTP_PORT}"
    )
    assert QUERY_HTTP_PORT in {p["port"] for p in service["spec"]["ports"]}
    query = jaeger_config(config)["extensions"]["jaeger_query"]["http"]["endpoint"]
    assert query.endswith(f":{QUERY_HTTP_PORT}")


def test_the_image_is_pinned_by_digest_where_the_stack_requires_it(stack_run: Run) -> None:
    container = unwrap(declared(stack_run)["deployment"].inputs)["spec"]["template"]["spec"]["containers"][0]
    if stack_run.stack == "development":
        assert container["image"] == JAEGER_IMAGE
    else:
        assert DIGEST_REF.fullmatch(container["image"]), container["image"]
        assert container["image"].startswith(JAEGER_IMAGE + "@"), "the pinned tag with its digest"


@pytest.mark.parametrize("stack", ["staging", "production"])
def test_staging_and_production_refuse_jaeger_without_a_digest(stack: str) -> None:
    assert_refused(
        stack,
        {"delivery:monitoring.tracing.images.jaeger": JAEGER_IMAGE},
        ["delivery:monitoring.tracing.images.jaeger"],
    )


def test_retention_and_volume_size_come_from_config(stack_run: Run) -> None:
    config = stack_config(stack_run.stack).monitoring.tracing
    rendered = jaeger_config(config)["extensions"]["jaeger_storage"]["backends"]
    [store] = rendered.values()
    hours = {"development": 168, "staging": 168, "production": 336}[stack_run.stack]
    assert store["badger"]["ttl"] == {"spans": f"{hours}h"} and store["badger"]["ephemeral"] is False
    claim = unwrap(declared(stack_run)["data"].inputs)
    assert claim["spec"]["resources"]["requests"]["storage"] == f"{config.jaeger.storage_gi}Gi"
    # Badger's directories sit on the claim's mount.
    pod = unwrap(declared(stack_run)["deployment"].inputs)["spec"]["template"]["spec"]
    [mount] = [m for m in pod["containers"][0]["volumeMounts"] if m["name"] == "data"]
    [volume] = [v for v in pod["volumes"] if v["name"] == "data"]
    assert volume["persistentVolumeClaim"]["claimName"] == claim["metadata"]["name"]
    for directory in store["badger"]["directories"].values():
        assert directory.startswith(mount["mountPath"] + "/")


def test_production_protects_the_spans(runs: dict[str, Run]) -> None:
    for stack, run in runs.items():
        claim = declared(run)["data"]
        [namespace] = [
            r
            for r in run.resources
            if r.type == "kubernetes:core/v1:Namespace" and r.name.endswith("-tracing-namespace")
        ]
        assert claim.protect is (stack == "production"), stack
        assert namespace.protect is (stack == "production"), stack


def test_one_replica_replaced_not_rolled(stack_run: Run) -> None:
    """Badger locks its directory and the volume is ReadWriteOnce: two pods never overlap."""
    spec = unwrap(declared(stack_run)["deployment"].inputs)["spec"]
    assert spec["replicas"] == 1 and spec["strategy"] == {"type": "Recreate"}
    assert unwrap(declared(stack_run)["data"].inputs)["spec"]["accessModes"] == ["ReadWriteOnce"]


def test_the_service_monitor_scrapes_jaegers_metrics_port(stack_run: Run) -> None:
    monitor = unwrap(declared(stack_run)["service-monitor"].inputs)
    service = unwrap(declared(stack_run)["service"].inputs)
    assert monitor["metadata"]["labels"]["release"] == "kube-prometheus-stack"
    assert monitor["spec"]["selector"]["matchLabels"].items() <= service["metadata"]["labels"].items()
    [endpoint] = monitor["spec"]["endpoints"]
    [port] = [p for p in service["spec"]["ports"] if p["name"] == endpoint["port"]]
    telemetry = jaeger_config(stack_config(stack_run.stack).monitoring.tracing)["service"]["telemetry"]
    [reader] = telemetry["metrics"]["readers"]
    assert port["port"] == reader["pull"]["exporter"]["prometheus"]["port"]


def test_the_objects_are_valid_against_the_kubernetes_and_prometheus_operator_schemas(stack_run: Run) -> None:
    version = k8s_version(stack_run)
    manifests = jaeger_manifests(stack_config(stack_run.stack).monitoring.tracing)
    for role, manifest in manifests.items():
        if role == "service-monitor":
            schema = json.loads((SCHEMAS / "monitoring.coreos.com" / "servicemonitor_v1.json").read_text())
            jsonschema.validate(manifest, schema)
        else:
            kubernetes_validate.validate(manifest, version, strict=True)
    broken = json.loads(json.dumps(manifests["deployment"]))
    broken["spec"]["template"]["spec"]["containers"][0]["readOnlyRootFS"] = True
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, version, strict=True)


@pytest.mark.go
@pytest.mark.parametrize("stack", ["development", "staging", "production"])
def test_jaegers_pod_passes_the_pod_policies(stack: str) -> None:
    """Jaeger's pod, judged by the stack's pod policies as if it ran where they bind (the
    services' namespaces): non-root, read-only root filesystem. The same pod as root is refused."""
    config = stack_config(stack)
    spec = gitops_spec(config)
    policies_and_bindings = pod_policies(
        config.github.workflows.registry_for(config.github.owner) + "/",
        spec.namespaces,
        config.pod_policies.image_digest_actions,
        config.pod_policies.pod_security_actions,
    )
    policies = [p for p, _ in policies_and_bindings.values()]
    bindings = [b for _, b in policies_and_bindings.values()]
    template = jaeger_manifests(config.monitoring.tracing)["deployment"]["spec"]["template"]
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": template["metadata"], "spec": template["spec"]}
    writable = json.loads(json.dumps(pod))
    writable["spec"]["containers"][0]["securityContext"]["readOnlyRootFilesystem"] = False
    namespace = spec.platform_namespace
    evaluation = evaluate(
        policies,
        bindings,
        [request(NAME, pod, namespace), request("writable", writable, namespace)],
        config.cluster.kubernetes_version,
    )
    assert evaluation.of(NAME).allowed, evaluation.of(NAME).status_message
    enforced = "Deny" in config.pod_policies.pod_security_actions
    assert evaluation.of("writable").allowed is not enforced, "the policy judged Jaeger's pod"


# --------------------------------------------------------------------------- config


def test_an_external_backend_declares_no_jaeger_and_no_datasource() -> None:
    endpoint = "otlp.tracing.example.com:4317"
    values = with_changes(
        "staging",
        {
            "delivery:monitoring.tracing.backend": "external",
            "delivery:monitoring.tracing.exporter": {"endpoint": endpoint},
            # No digest is asked of an image that does not run.
            "delivery:monitoring.tracing.images.jaeger": None,
        },
    )
    run = run_program("staging", TEST_SECRETS, values, recorder=Recorder())
    assert declared(run) == {}
    assert collector_exporters(run) == {
        f"otlp/{EXPORTER_NAME}": {"endpoint": endpoint, "tls": {"insecure": False}}
    }
    assert "additionalDataSources" not in monitoring_release(run).plain["values"]["grafana"]


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        (
            {"delivery:monitoring.tracing.exporter": {"endpoint": "otlp.tracing.example.com:4317"}},
            "`backend: jaeger` exports to the Jaeger this program declares",
        ),
        ({"delivery:monitoring.tracing.backend": "external"}, "`backend: external` needs somewhere"),
        ({"delivery:monitoring.tracing.backend": "zipkin"}, "delivery:monitoring.tracing.backend"),
        (
            {"delivery:monitoring.tracing.jaeger.retention": "90m"},
            "delivery:monitoring.tracing.jaeger.retention",
        ),
        ({"delivery:monitoring.tracing.jaeger.storageGi": 5}, "delivery:monitoring.tracing.jaeger.storageGi"),
    ],
)
def test_bad_backend_config_declares_nothing(changes: dict[str, Any], message: str) -> None:
    recorder = Recorder()
    with pytest.raises(ConfigError) as caught:
        run_program("staging", TEST_SECRETS, with_changes("staging", changes), recorder=recorder)
    assert message in str(caught.value), str(caught.value)
    assert recorder.resources == []
