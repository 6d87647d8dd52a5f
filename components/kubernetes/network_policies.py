"""NetworkPolicies of Argo CD's, the monitoring stack's and the tracing namespaces (pure: no Pulumi).

Each namespace denies all ingress, then admits only what its components need, so that no
workload of a service namespace reaches Alertmanager (whose API creates silences), Prometheus,
or Argo CD's repo server and Redis (which hold rendered manifests and the cache the
controller trusts). Egress stays open: Argo CD pulls from GitHub, Alertmanager posts to
PagerDuty and Slack.

- **Same namespace**: every pod of the namespace reaches every other. Only the charts'
  components run in these namespaces (config keeps Applications out of them), and they talk
  to each other on ports that vary with HA (redis-ha, Alertmanager's gossip).
- **Prometheus scrapes Argo CD**: from the monitoring namespace, each scraped component's
  metrics port and no other (the ApplicationSet controller's metrics port is the server's
  HTTP port number, so one policy per component keeps the server's API closed).
- **Argo Rollouts' analysis queries Prometheus**: from the Rollouts namespace (the
  controller runs the AnalysisRuns), Prometheus' web port only.
- **The API server calls the Prometheus operator's admission webhook**: from anywhere (the
  control plane is no pod, and LKE's has no fixed address in the cluster), on the webhook's
  port only, which no other pod of the namespace listens on.
- **Tracing** (where the collector runs): the services' namespaces send OTLP to the
  collector's pods on its OTLP ports; the collector reaches Jaeger inside the namespace;
  from the monitoring namespace, Grafana reads Jaeger's query port and Prometheus scrapes its
  metrics port. Nothing else reaches Jaeger: its own OTLP receiver is not open to the
  services, so every span passes the collector's memory limiter.

Nothing admits Argo CD's server from another namespace: operators reach it with
`kubectl port-forward`, which the kubelet connects from inside the pod's own network
namespace (to 127.0.0.1, kubernetes/kubernetes#72597), where no NetworkPolicy applies.
Namespaces are selected only by `kubernetes.io/metadata.name`, which the API server sets to
the namespace's name and nobody can change: an Application that labels its own namespace
gains nothing.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

# Set by the API server on every namespace, equal to its name, immutable.
NAMESPACE_NAME_LABEL = "kubernetes.io/metadata.name"
POLICY_LABELS = {"app.kubernetes.io/part-of": "delivery"}


class TracingIsolation(BaseModel):
    """The tracing namespace: who sends OTLP to the collector, and Jaeger's open ports."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    namespace: str
    collector_pods: dict[str, str]
    otlp_ports: tuple[int, ...]
    # The namespaces whose workloads send traces (the services').
    trace_sources: tuple[str, ...]
    # Jaeger's pods and the ports the monitoring namespace reaches (query, metrics); None
    # when the backend is external.
    jaeger_pods: dict[str, str] | None = None
    jaeger_monitoring_ports: tuple[int, ...] = ()


class Isolation(BaseModel):
    """The namespaces, the pods Prometheus scrapes or Rollouts query, and their ports."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    argocd_namespace: str
    monitoring_namespace: str
    # Argo Rollouts' namespace, where it runs (its analysis queries Prometheus).
    rollouts_namespace: str | None
    # Argo CD's scraped components: pod labels (a `matchLabels`) -> metrics port.
    argocd_metrics: dict[str, tuple[dict[str, str], int]]
    prometheus_pods: dict[str, str]
    prometheus_port: int = Field(ge=1, le=65535)
    webhook_port: int = Field(ge=1, le=65535)
    tracing: TracingIsolation | None = None


def _namespace(name: str) -> dict[str, Any]:
    """A peer: every pod of the namespace called `name`."""
    return {"namespaceSelector": {"matchLabels": {NAMESPACE_NAME_LABEL: name}}}


def _ports(*ports: int) -> list[dict[str, Any]]:
    return [{"protocol": "TCP", "port": port} for port in ports]


def _policy(namespace: str, name: str, pods: dict[str, str], ingress: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": name, "namespace": namespace, "labels": dict(POLICY_LABELS)},
        "spec": {
            "podSelector": {"matchLabels": pods} if pods else {},
            "policyTypes": ["Ingress"],
            "ingress": ingress,
        },
    }


def _isolated(namespace: str) -> dict[str, dict[str, Any]]:
    """Deny all ingress, then admit the namespace's own pods (policies add up: a pod takes
    what any policy selecting it allows)."""
    return {
        "default-deny-ingress": _policy(namespace, "default-deny-ingress", {}, []),
        "allow-same-namespace": _policy(
            namespace, "allow-same-namespace", {}, [{"from": [{"podSelector": {}}]}]
        ),
    }


def argocd_policies(isolation: Isolation) -> dict[str, dict[str, Any]]:
    """Argo CD's namespace: its own components, and Prometheus on each metrics port."""
    namespace = isolation.argocd_namespace
    policies = _isolated(namespace)
    for name, (pods, port) in sorted(isolation.argocd_metrics.items()):
        role = f"allow-metrics-{name}"
        policies[role] = _policy(
            namespace,
            role,
            pods,
            [{"from": [_namespace(isolation.monitoring_namespace)], "ports": _ports(port)}],
        )
    return policies


def monitoring_policies(isolation: Isolation) -> dict[str, dict[str, Any]]:
    """The monitoring namespace: its own components (Grafana, were it on, is one), Rollouts'
    analysis on Prometheus' port, and the API server on the operator's webhook port."""
    namespace = isolation.monitoring_namespace
    policies = _isolated(namespace)
    policies["allow-admission-webhook"] = _policy(
        namespace, "allow-admission-webhook", {}, [{"ports": _ports(isolation.webhook_port)}]
    )
    if isolation.rollouts_namespace is not None:
        policies["allow-rollouts-analysis"] = _policy(
            namespace,
            "allow-rollouts-analysis",
            isolation.prometheus_pods,
            [
                {
                    "from": [_namespace(isolation.rollouts_namespace)],
                    "ports": _ports(isolation.prometheus_port),
                }
            ],
        )
    return policies


def tracing_policies(isolation: Isolation) -> dict[str, dict[str, Any]]:
    """The tracing namespace: its own pods, the services' OTLP on the collector, and the
    monitoring namespace on Jaeger's query and metrics ports."""
    tracing = isolation.tracing
    if tracing is None:
        return {}
    policies = _isolated(tracing.namespace)
    if tracing.trace_sources:
        policies["allow-otlp"] = _policy(
            tracing.namespace,
            "allow-otlp",
            tracing.collector_pods,
            [
                {
                    "from": [_namespace(source) for source in sorted(tracing.trace_sources)],
                    "ports": _ports(*tracing.otlp_ports),
                }
            ],
        )
    if tracing.jaeger_pods is not None:
        policies["allow-monitoring-jaeger"] = _policy(
            tracing.namespace,
            "allow-monitoring-jaeger",
            tracing.jaeger_pods,
            [
                {
                    "from": [_namespace(isolation.monitoring_namespace)],
                    "ports": _ports(*tracing.jaeger_monitoring_ports),
                }
            ],
        )
    return policies


def network_policies(isolation: Isolation) -> dict[str, dict[str, Any]]:
    """Every policy, keyed `argocd-<name>`, `monitoring-<name>` or `tracing-<name>` (stable
    whatever the namespaces are called)."""
    return {
        **{f"argocd-{role}": doc for role, doc in argocd_policies(isolation).items()},
        **{f"monitoring-{role}": doc for role, doc in monitoring_policies(isolation).items()},
        **{f"tracing-{role}": doc for role, doc in tracing_policies(isolation).items()},
    }
