"""Jaeger, the tracing backend seed 002 names ("Jaeger: Distributed tracing"), in the tracing
namespace beside the OpenTelemetry collector (``monitoring.tracing.backend: jaeger``).

Jaeger v2 is one binary built on the OpenTelemetry collector
(https://www.jaegertracing.io/docs/2.12/architecture/): an OTLP receiver, a ``batch``
processor and the ``jaeger_storage_exporter`` write spans into a Badger store on a volume; the
``jaeger_query`` extension serves the UI and the HTTP API Grafana's Jaeger datasource reads.
Its whole configuration is the YAML ``jaeger_config`` renders, the one the real binary runs in
tests/monitoring/test_jaeger_engine.py (``make jaeger``). No Helm chart: five plain objects
(``jaeger_manifests``), pure functions of the config.

- One replica, ``Recreate``: Badger suits a single node only
  (https://www.jaegertracing.io/docs/2.12/storage/badger/) and locks its directory while
  open, and the volume is ReadWriteOnce.
- Spans live ``jaeger.retention`` (Badger's TTL), on a claim of ``jaeger.storageGi``.
- Pod security as the pod policies ask (components/kubernetes/pod_policies.py): the image's
  own non-root user (10001, its Dockerfile's ``USER``), read-only root filesystem, no
  privilege escalation, no capabilities; ``fsGroup`` makes the volume writable for that user
  (the Badger page's "Badger file permissions as non-root service").
- The collector's self-metrics (``service.telemetry.metrics``) on a ``metrics`` port, scraped
  through a ServiceMonitor with the release label kube-prometheus-stack's Prometheus selects.
"""

from __future__ import annotations

import hashlib
from typing import Any

import pulumi
import pulumi_kubernetes as k8s
import yaml
from pydantic import BaseModel, ConfigDict

from components.contracts.monitoring import SELECTOR_LABELS
from components.kubernetes.helm import image_ref
from components.kubernetes.providers import dependencies, require_provider
from components.monitoring.config import JAEGER_IMAGE, TracingConfig

NAME = "jaeger"
LABELS = {"app.kubernetes.io/name": NAME, "app.kubernetes.io/part-of": "tracing"}
SELECTOR = {"app.kubernetes.io/name": NAME}
# Jaeger's ports (cmd/jaeger/Dockerfile EXPOSE; jaeger_query's defaults, cmd/query/app/flags.go).
OTLP_GRPC_PORT = 4317
OTLP_HTTP_PORT = 4318
QUERY_HTTP_PORT = 16686
QUERY_GRPC_PORT = 16685
HEALTH_PORT = 13133
METRICS_PORT = 8888
# The image's user (cmd/jaeger/Dockerfile: `ARG USER_UID=10001`, `USER ${USER_UID}`).
USER_ID = 10001
CONFIG_DIR = "/etc/jaeger"
CONFIG_FILE = "config.yaml"
DATA_DIR = "/badger"
STORE = "badger_main"
# healthcheckv2's v2 HTTP status path (its README, "use_v2": `/status`).
HEALTH_PATH = "/status"
LISTEN = "0.0.0.0"


def _image(config: TracingConfig) -> str:
    return str(image_ref(config.images["jaeger"])) if "jaeger" in config.images else JAEGER_IMAGE


def otlp_endpoint(config: TracingConfig) -> str:
    """Jaeger's OTLP gRPC receiver inside the cluster (`host:port`), the collector's exporter."""
    return f"{NAME}.{config.namespace}.svc.cluster.local:{OTLP_GRPC_PORT}"


def query_url(config: TracingConfig) -> str:
    """Jaeger's query service (UI and HTTP API) inside the cluster, Grafana's datasource URL."""
    return f"http://{NAME}.{config.namespace}.svc.cluster.local:{QUERY_HTTP_PORT}"


def jaeger_config(config: TracingConfig) -> dict[str, Any]:
    """Jaeger's own configuration (an OpenTelemetry collector config with Jaeger's extensions):
    OTLP in, Badger storage with the configured TTL, the query service, health and metrics."""
    return {
        "service": {
            "extensions": ["jaeger_storage", "jaeger_query", "healthcheckv2"],
            "pipelines": {
                "traces": {
                    "receivers": ["otlp"],
                    "processors": ["batch"],
                    "exporters": ["jaeger_storage_exporter"],
                }
            },
            "telemetry": {
                "resource": {"service.name": NAME},
                "metrics": {
                    "level": "detailed",
                    "readers": [
                        {"pull": {"exporter": {"prometheus": {"host": LISTEN, "port": METRICS_PORT}}}}
                    ],
                },
                "logs": {"level": "info"},
            },
        },
        "extensions": {
            "healthcheckv2": {"use_v2": True, "http": {"endpoint": f"{LISTEN}:{HEALTH_PORT}"}},
            "jaeger_query": {
                "storage": {"traces": STORE},
                "http": {"endpoint": f"{LISTEN}:{QUERY_HTTP_PORT}"},
                "grpc": {"endpoint": f"{LISTEN}:{QUERY_GRPC_PORT}"},
            },
            "jaeger_storage": {
                "backends": {
                    STORE: {
                        # internal/storage/v1/badger/config.go: keys and values directories,
                        # `ttl.spans` a Go duration, `ephemeral: false` to keep them on disk.
                        "badger": {
                            "directories": {"keys": f"{DATA_DIR}/keys", "values": f"{DATA_DIR}/values"},
                            "ephemeral": False,
                            "ttl": {"spans": config.jaeger.retention_go},
                        }
                    }
                }
            },
        },
        "receivers": {
            "otlp": {
                "protocols": {
                    "grpc": {"endpoint": f"{LISTEN}:{OTLP_GRPC_PORT}"},
                    "http": {"endpoint": f"{LISTEN}:{OTLP_HTTP_PORT}"},
                }
            }
        },
        "processors": {"batch": {}},
        "exporters": {"jaeger_storage_exporter": {"trace_storage": STORE}},
    }


def config_yaml(config: TracingConfig) -> str:
    return yaml.safe_dump(jaeger_config(config), sort_keys=True)


def _metadata(config: TracingConfig, name: str = NAME) -> dict[str, Any]:
    return {"name": name, "namespace": config.namespace, "labels": dict(LABELS)}


def _container(config: TracingConfig) -> dict[str, Any]:
    probe = {"httpGet": {"path": HEALTH_PATH, "port": "health"}}
    return {
        "name": NAME,
        "image": _image(config),
        "args": [f"--config={CONFIG_DIR}/{CONFIG_FILE}"],
        "ports": [
            {"name": "otlp-grpc", "containerPort": OTLP_GRPC_PORT, "protocol": "TCP"},
            {"name": "otlp-http", "containerPort": OTLP_HTTP_PORT, "protocol": "TCP"},
            {"name": "query-http", "containerPort": QUERY_HTTP_PORT, "protocol": "TCP"},
            {"name": "query-grpc", "containerPort": QUERY_GRPC_PORT, "protocol": "TCP"},
            {"name": "health", "containerPort": HEALTH_PORT, "protocol": "TCP"},
            {"name": "metrics", "containerPort": METRICS_PORT, "protocol": "TCP"},
        ],
        "readinessProbe": {**probe, "periodSeconds": 10},
        "livenessProbe": {**probe, "periodSeconds": 20, "failureThreshold": 6},
        # Badger replays its value log on start: a large store takes a while to open.
        "startupProbe": {**probe, "periodSeconds": 10, "failureThreshold": 30},
        "resources": {"requests": {"cpu": "100m", "memory": "256Mi"}, "limits": {"memory": "1Gi"}},
        "securityContext": {
            "runAsNonRoot": True,
            "runAsUser": USER_ID,
            "runAsGroup": USER_ID,
            "readOnlyRootFilesystem": True,
            "allowPrivilegeEscalation": False,
            "capabilities": {"drop": ["ALL"]},
        },
        "volumeMounts": [
            {"name": "config", "mountPath": CONFIG_DIR, "readOnly": True},
            {"name": "data", "mountPath": DATA_DIR},
            # The image declares /tmp a volume (cmd/jaeger/Dockerfile `VOLUME ["/tmp"]`).
            {"name": "tmp", "mountPath": "/tmp"},
        ],
    }


def jaeger_manifests(config: TracingConfig) -> dict[str, dict[str, Any]]:
    """Jaeger's objects by role: ConfigMap, PersistentVolumeClaim, Deployment, Service,
    ServiceMonitor."""
    rendered = config_yaml(config)
    return {
        "config": {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": _metadata(config, f"{NAME}-config"),
            "data": {CONFIG_FILE: rendered},
        },
        "data": {
            "apiVersion": "v1",
            "kind": "PersistentVolumeClaim",
            "metadata": _metadata(config, f"{NAME}-data"),
            # No storageClassName: LKE's default, linode-block-storage-retain, keeps the volume
            # when the claim goes (https://techdocs.akamai.com/cloud-computing/docs/deploy-persistent-volume-claims-with-the-linode-block-storage-csi-driver).
            "spec": {
                "accessModes": ["ReadWriteOnce"],
                "resources": {"requests": {"storage": f"{config.jaeger.storage_gi}Gi"}},
            },
        },
        "deployment": {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": _metadata(config),
            "spec": {
                "replicas": 1,
                "strategy": {"type": "Recreate"},
                "selector": {"matchLabels": dict(SELECTOR)},
                "template": {
                    "metadata": {
                        "labels": dict(LABELS),
                        # A new configuration restarts the pod (the file is read once).
                        "annotations": {"checksum/config": hashlib.sha256(rendered.encode()).hexdigest()},
                    },
                    "spec": {
                        "automountServiceAccountToken": False,
                        "securityContext": {
                            "runAsNonRoot": True,
                            "runAsUser": USER_ID,
                            "runAsGroup": USER_ID,
                            "fsGroup": USER_ID,
                            "seccompProfile": {"type": "RuntimeDefault"},
                        },
                        "containers": [_container(config)],
                        "volumes": [
                            {"name": "config", "configMap": {"name": f"{NAME}-config"}},
                            {"name": "data", "persistentVolumeClaim": {"claimName": f"{NAME}-data"}},
                            {"name": "tmp", "emptyDir": {}},
                        ],
                    },
                },
            },
        },
        "service": {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": _metadata(config),
            "spec": {
                "selector": dict(SELECTOR),
                "ports": [
                    {"name": name, "port": port, "targetPort": name, "protocol": "TCP"}
                    for name, port in (
                        ("otlp-grpc", OTLP_GRPC_PORT),
                        ("otlp-http", OTLP_HTTP_PORT),
                        ("query-http", QUERY_HTTP_PORT),
                        ("query-grpc", QUERY_GRPC_PORT),
                        ("metrics", METRICS_PORT),
                    )
                ],
            },
        },
        "service-monitor": {
            "apiVersion": "monitoring.coreos.com/v1",
            "kind": "ServiceMonitor",
            "metadata": {**_metadata(config), "labels": {**LABELS, **SELECTOR_LABELS}},
            "spec": {
                "selector": {"matchLabels": dict(SELECTOR)},
                "namespaceSelector": {"matchNames": [config.namespace]},
                "endpoints": [{"port": "metrics", "interval": "30s"}],
            },
        },
    }


class JaegerArgs(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    environment: str
    tracing: TracingConfig


class Jaeger(pulumi.ComponentResource):
    """Jaeger's five objects in the tracing namespace. Pass the cluster's Kubernetes provider in
    ``opts.providers``; ``opts.depends_on`` must hold the namespace and the monitoring release
    (which installs the ServiceMonitor CRD)."""

    objects: dict[str, pulumi.CustomResource]

    def __init__(self, name: str, args: JaegerArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("delivery:jaeger:Jaeger", name, None, opts)
        provider = require_provider(self, "kubernetes")
        after = dependencies(opts)
        manifests = jaeger_manifests(args.tracing)
        production = args.environment == "production"

        def options(
            *, protect: bool = False, depends_on: list[pulumi.Resource] | None = None
        ) -> pulumi.ResourceOptions:
            return pulumi.ResourceOptions(
                parent=self, provider=provider, protect=protect, depends_on=[*after, *(depends_on or [])]
            )

        config = k8s.core.v1.ConfigMap(
            f"{name}-config",
            metadata=manifests["config"]["metadata"],
            data=manifests["config"]["data"],
            opts=options(),
        )
        # Production's spans outlive a mistaken `pulumi destroy`: removing the claim needs an
        # explicit unprotect, as production's other stateful objects do.
        data = k8s.core.v1.PersistentVolumeClaim(
            f"{name}-data",
            metadata=manifests["data"]["metadata"],
            spec=manifests["data"]["spec"],
            opts=options(protect=production),
        )
        deployment = k8s.apps.v1.Deployment(
            f"{name}-deployment",
            metadata=manifests["deployment"]["metadata"],
            spec=manifests["deployment"]["spec"],
            opts=options(depends_on=[config, data]),
        )
        service = k8s.core.v1.Service(
            f"{name}-service",
            metadata=manifests["service"]["metadata"],
            spec=manifests["service"]["spec"],
            opts=options(),
        )
        monitor = k8s.apiextensions.CustomResource(
            f"{name}-service-monitor",
            api_version=manifests["service-monitor"]["apiVersion"],
            kind=manifests["service-monitor"]["kind"],
            metadata=manifests["service-monitor"]["metadata"],
            spec=manifests["service-monitor"]["spec"],
            opts=options(),
        )
        self.objects = {
            "config": config,
            "data": data,
            "deployment": deployment,
            "service": service,
            "service-monitor": monitor,
        }
        self.register_outputs(
            {"otlpEndpoint": otlp_endpoint(args.tracing), "queryUrl": query_url(args.tracing)}
        )
