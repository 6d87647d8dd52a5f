"""The OpenTelemetry collector the services send their traces to (seed 002: "Jaeger:
Distributed tracing", "OpenTelemetry: Observability standards").

A gateway Deployment of the ``opentelemetry-collector`` chart (pinned,
open-telemetry.github.io/opentelemetry-helm-charts) in its own namespace. It receives OTLP
(gRPC 4317, HTTP 4318) and sends traces to one exporter: by default (``backend: jaeger``)
the Jaeger this component declares beside it (components/monitoring/jaeger.py), over OTLP gRPC
to its Service; with ``backend: external``, the backend ``monitoring.tracing.exporter`` names
(Jaeger and most backends take OTLP). The configuration is the chart's
``alternateConfig``, complete and unmerged: no Jaeger, Zipkin or Prometheus receiver, no
debug exporter, no logs or metrics pipeline; the collector carries traces and nothing else. The services find it at
``endpoint()`` (``OTEL_EXPORTER_OTLP_ENDPOINT``).
"""

from __future__ import annotations

from typing import Any

import pulumi
import pulumi_kubernetes as k8s
from pydantic import BaseModel, ConfigDict, Field

from components.kubernetes.config import ChartsConfig
from components.kubernetes.helm import image_ref, pinned_release
from components.kubernetes.providers import dependencies, require_provider
from components.monitoring.config import TracingConfig, TracingExporter
from components.monitoring.jaeger import Jaeger, JaegerArgs
from components.monitoring.jaeger import otlp_endpoint as jaeger_otlp_endpoint

CHART = "opentelemetry-collector"
# Published as OCI since open-telemetry/opentelemetry-helm-charts#1429: installed by digest there
# (components/kubernetes/helm.py).
REPOSITORY = "oci://ghcr.io/open-telemetry/opentelemetry-helm-charts"
RELEASE_NAME = "otel-collector"
# The Kubernetes distribution of the collector: the receivers, processors and exporters
# this configuration uses, without the contrib distribution's hundreds of others.
IMAGE_REPOSITORY = "otel/opentelemetry-collector-k8s"
EXPORTER_NAME = "backend"
# The chart's selector labels (templates/_helpers.tpl, `opentelemetry-collector.selectorLabels`:
# the chart's name and the release's), which the tracing namespace's OTLP policy selects.
COLLECTOR_PODS = {"app.kubernetes.io/name": CHART, "app.kubernetes.io/instance": RELEASE_NAME}
OTLP_GRPC_PORT = 4317
OTLP_HTTP_PORT = 4318
# The memory_limiter works from the limit (80 %); the chart sets GOMEMLIMIT from it too.
MEMORY_LIMIT = "512Mi"


def exporter(config: TracingConfig) -> TracingExporter:
    """Where the collector sends traces: the in-cluster Jaeger's OTLP gRPC receiver (plain gRPC
    inside the cluster, which the exporter model allows only towards a `.svc.cluster.local`
    name), or the external backend the config names."""
    if config.backend == "jaeger":
        return TracingExporter(protocol="otlp", endpoint=jaeger_otlp_endpoint(config), insecure=True)
    if config.exporter is None:
        raise ValueError("monitoring.tracing.exporter is required with backend: external")
    return config.exporter


def exporter_key(config: TracingConfig) -> str:
    return f"{exporter(config).protocol}/{EXPORTER_NAME}"


def endpoint(config: TracingConfig) -> str:
    """The collector's OTLP gRPC endpoint inside the cluster (its Service, named by the release)."""
    return f"http://{RELEASE_NAME}.{config.namespace}.svc.cluster.local:{OTLP_GRPC_PORT}"


def _image(config: TracingConfig) -> dict[str, str]:
    """The collector's image: the configured tag and digest, or the chart's appVersion tag."""
    if "collector" not in config.images:
        return {"repository": IMAGE_REPOSITORY}
    ref = image_ref(config.images["collector"])
    # The chart pulls `repository@digest` when digest is set (its values.yaml, `image.digest`).
    return {"repository": f"{ref.registry}/{ref.repository}", "tag": ref.tag, "digest": ref.digest or ""}


def collector_values(config: TracingConfig) -> dict[str, Any]:
    """Values of the opentelemetry-collector chart: a traces-only OTLP gateway."""
    target = exporter(config)
    return {
        "mode": "deployment",
        # The chart names the release's objects after it: the Service is RELEASE_NAME.
        "fullnameOverride": RELEASE_NAME,
        "replicaCount": config.replicas,
        "image": _image(config),
        "resources": {
            "requests": {"cpu": "100m", "memory": "256Mi"},
            "limits": {"memory": MEMORY_LIMIT},
        },
        "ports": {
            "jaeger-compact": {"enabled": False},
            "jaeger-thrift": {"enabled": False},
            "jaeger-grpc": {"enabled": False},
            "zipkin": {"enabled": False},
        },
        # The whole collector configuration, not merged with the chart's default `config`
        # (its Jaeger, Zipkin and Prometheus receivers, debug exporter, logs and metrics
        # pipelines). Removing those with `null`s in `config` would rely on nulls surviving
        # Pulumi's property serialisation, which treats null as absent in places
        # (`deserialize_properties` in pulumi/runtime/rpc.py: "values that deserialize to
        # None ... as if they don't exist"); `alternateConfig` needs no null.
        "alternateConfig": {
            "extensions": {
                # The chart's probes call it (its values: "should never be removed").
                "health_check": {"endpoint": "${env:MY_POD_IP}:13133"},
            },
            "receivers": {
                "otlp": {
                    "protocols": {
                        "grpc": {"endpoint": f"${{env:MY_POD_IP}}:{OTLP_GRPC_PORT}"},
                        "http": {"endpoint": f"${{env:MY_POD_IP}}:{OTLP_HTTP_PORT}"},
                    }
                }
            },
            "processors": {
                "memory_limiter": {
                    "check_interval": "5s",
                    "limit_percentage": 80,
                    "spike_limit_percentage": 25,
                },
                "batch": {},
            },
            "exporters": {
                exporter_key(config): {"endpoint": target.endpoint, "tls": {"insecure": target.insecure}},
            },
            "service": {
                "extensions": ["health_check"],
                "pipelines": {
                    "traces": {
                        "receivers": ["otlp"],
                        "processors": ["memory_limiter", "batch"],
                        "exporters": [exporter_key(config)],
                    }
                },
            },
        },
    }


class TracingArgs(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    environment: str
    tracing: TracingConfig
    timeout_seconds: int
    # Where the chart comes from and whether the release waits (delivery:charts).
    charts: ChartsConfig = Field(default_factory=ChartsConfig)


class Tracing(pulumi.ComponentResource):
    """The tracing namespace, the collector's pinned release and, with ``backend: jaeger``,
    Jaeger. Pass the cluster's Kubernetes provider in ``opts.providers``; ``opts.depends_on``
    must hold the monitoring release (Jaeger's ServiceMonitor needs its CRD)."""

    namespace: k8s.core.v1.Namespace
    release: k8s.helm.v3.Release
    jaeger: Jaeger | None

    def __init__(self, name: str, args: TracingArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("delivery:tracing:Tracing", name, None, opts)
        provider = require_provider(self, "kubernetes")
        after = dependencies(opts)
        config = args.tracing
        self.namespace = k8s.core.v1.Namespace(
            f"{name}-namespace",
            metadata={"name": config.namespace, "labels": {"app.kubernetes.io/part-of": "tracing"}},
            # Deleting the namespace deletes Jaeger's volume claim with the spans.
            opts=pulumi.ResourceOptions(
                parent=self,
                provider=provider,
                protect=args.environment == "production" and config.backend == "jaeger",
            ),
        )
        self.jaeger = None
        if config.backend == "jaeger":
            self.jaeger = Jaeger(
                f"{name}-jaeger",
                JaegerArgs(environment=args.environment, tracing=config),
                opts=pulumi.ResourceOptions(
                    parent=self, providers={"kubernetes": provider}, depends_on=[*after, self.namespace]
                ),
            )
        self.release = pinned_release(
            f"{name}-release",
            release_name=RELEASE_NAME,
            chart=CHART,
            version=config.chart_version,
            repository=REPOSITORY,
            digest=config.chart_digest,
            namespace=config.namespace,
            values=collector_values(config),
            timeout_seconds=args.timeout_seconds,
            charts=args.charts,
            opts=pulumi.ResourceOptions(parent=self, provider=provider, depends_on=[self.namespace]),
        )
        self.register_outputs({"endpoint": endpoint(config), "backend": exporter(config).endpoint})
