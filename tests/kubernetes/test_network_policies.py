"""Who reaches what inside each cluster: the NetworkPolicies of Argo CD's and the monitoring
namespaces, evaluated the way Kubernetes evaluates them over what the program declares (its
policies, its Namespaces and their labels), checked against Kubernetes' schema, and the
ports and labels they name checked against the pinned charts.

The point (review M12): no pod of a service namespace reaches Alertmanager (whose API
creates silences), Prometheus, or Argo CD's repo server and Redis.
"""

from __future__ import annotations

from typing import Any

import kubernetes_validate

from components.config.adapters import gitops_spec
from components.gitops.argocd_values import COMPONENT_PODS, POD_NAME_LABEL, metrics_endpoints
from components.kubernetes.network_policies import NAMESPACE_NAME_LABEL
from components.monitoring.jaeger import LABELS as JAEGER_LABELS
from components.monitoring.jaeger import METRICS_PORT as JAEGER_METRICS_PORT
from components.monitoring.jaeger import OTLP_GRPC_PORT as JAEGER_OTLP_PORT
from components.monitoring.jaeger import QUERY_GRPC_PORT, QUERY_HTTP_PORT
from components.monitoring.stack_values import (
    ALERTMANAGER_PODS,
    ALERTMANAGER_PORT,
    OPERATOR_WEBHOOK_PORT,
    PROMETHEUS_PODS,
    PROMETHEUS_PORT,
)
from components.monitoring.tracing import COLLECTOR_PODS, OTLP_GRPC_PORT, OTLP_HTTP_PORT
from tests.support.charts import argocd_release, chart_values, monitoring_release
from tests.support.stacks import stack_config
from tests.support.types import NAMESPACE
from tools.offline import Run, unwrap

NETWORK_POLICY = "kubernetes:networking.k8s.io/v1:NetworkPolicy"
# Namespaces every cluster has, and one an Application could create tomorrow.
UNDECLARED = ("default", "kube-system", "kube-public", "a-namespace-created-later")

# The pods and ports that matter, by the labels the charts give them (Argo CD's: nameOverride
# `argocd` and the component's name; redis-ha's subchart: `app`; the operator's for
# Prometheus and Alertmanager).
REPO_SERVER = {POD_NAME_LABEL: "argocd-repo-server"}
REDIS_PODS = (
    {POD_NAME_LABEL: "argocd-redis"},
    {"app": "redis-ha"},
    {POD_NAME_LABEL: "argocd-redis-ha-haproxy"},
)
ARGOCD_SERVER = {POD_NAME_LABEL: "argocd-server"}
REPO_SERVER_PORT, REDIS_PORT, SERVER_PORT, ALERTMANAGER_GOSSIP_PORT = 8081, 6379, 8080, 9094


def policies(run: Run) -> list[dict[str, Any]]:
    return [unwrap(r.inputs) for r in run.recorder.of_type(NETWORK_POLICY)]


def namespace_labels(run: Run) -> dict[str, dict[str, str]]:
    """Every namespace's labels: the declared Namespaces', plus the name label the API server
    sets on each (and on the namespaces nobody declares)."""
    labels = {name: {NAMESPACE_NAME_LABEL: name} for name in UNDECLARED}
    for res in run.recorder.of_type(NAMESPACE):
        meta = unwrap(res.inputs)["metadata"]
        labels[meta["name"]] = {**meta.get("labels", {}), NAMESPACE_NAME_LABEL: meta["name"]}
    return labels


def selects(selector: dict[str, Any], labels: dict[str, str]) -> bool:
    assert set(selector) <= {"matchLabels"}, f"the model reads matchLabels only: {selector}"
    return all(labels.get(k) == v for k, v in selector.get("matchLabels", {}).items())


def peer_admits(peer: dict[str, Any], policy_namespace: str, source_labels: dict[str, str]) -> bool:
    """Whether some pod of the namespace labelled `source_labels` matches the peer. A pod picks
    its own labels, so only the namespace part can keep it out."""
    if "ipBlock" in peer:
        return True  # pod addresses may lie in any block
    if "namespaceSelector" not in peer:
        # A podSelector alone means the policy's own namespace.
        return source_labels[NAMESPACE_NAME_LABEL] == policy_namespace
    return selects(peer["namespaceSelector"], source_labels)


def reachable(
    declared: list[dict[str, Any]], namespace: str, pod: dict[str, str], port: int, source: dict[str, str]
) -> bool:
    """Whether a pod of the namespace labelled `source` may open a TCP connection to `port` of a
    pod labelled `pod` in `namespace`: yes when no policy isolates that pod for ingress, else
    only when a rule of one that does admits it (policies add up)."""
    isolating = [
        p
        for p in declared
        if p["metadata"]["namespace"] == namespace
        and "Ingress" in p["spec"]["policyTypes"]
        and selects(p["spec"]["podSelector"], pod)
    ]
    if not isolating:
        return True
    for policy in isolating:
        for rule in policy["spec"].get("ingress", []):
            ports = rule.get("ports")
            if ports and not any(p["port"] == port and p.get("protocol", "TCP") == "TCP" for p in ports):
                continue
            peers = rule.get("from")
            if not peers or any(peer_admits(peer, namespace, source) for peer in peers):
                return True
    return False


def sources(
    declared: list[dict[str, Any]],
    labels: dict[str, dict[str, str]],
    namespace: str,
    pod: dict[str, str],
    port: int,
) -> set[str]:
    """The namespaces some pod of which reaches `port` of the pod."""
    return {name for name, source in labels.items() if reachable(declared, namespace, pod, port, source)}


def service_namespaces(stack: str) -> set[str]:
    return set(gitops_spec(stack_config(stack)).namespaces)


# --------------------------------------------------------------------------- reachability


def test_no_service_namespace_reaches_alertmanager_prometheus_or_argo_cds_repo_server_and_redis(
    stack_run: Run,
) -> None:
    config = stack_config(stack_run.stack)
    argocd, monitoring = config.argocd.namespace, config.monitoring.namespace
    declared, labels = policies(stack_run), namespace_labels(stack_run)
    services = service_namespaces(stack_run.stack)
    assert services and services <= set(labels), "the service namespaces are declared"

    def reach(namespace: str, pod: dict[str, str], port: int) -> set[str]:
        return sources(declared, labels, namespace, pod, port)

    for port in (ALERTMANAGER_PORT, ALERTMANAGER_GOSSIP_PORT):
        assert reach(monitoring, ALERTMANAGER_PODS, port) == {monitoring}, port
    rollouts = {config.argocd.rollouts.namespace} if config.rollouts_enabled else set()
    assert reach(monitoring, PROMETHEUS_PODS, PROMETHEUS_PORT) == {monitoring, *rollouts}

    assert reach(argocd, REPO_SERVER, REPO_SERVER_PORT) == {argocd}
    for pod in REDIS_PODS:
        assert reach(argocd, pod, REDIS_PORT) == {argocd}, pod
    # Operators use `kubectl port-forward`, which no NetworkPolicy sees.
    assert reach(argocd, ARGOCD_SERVER, SERVER_PORT) == {argocd}
    # Prometheus scrapes each component's metrics port, and nothing else.
    for name, (pod, port) in metrics_endpoints(config.argocd).items():
        assert reach(argocd, pod, port) == {argocd, monitoring}, name


def test_services_reach_the_collector_and_only_the_collector_grafana_and_prometheus_reach_jaeger(
    stack_run: Run,
) -> None:
    """The services send OTLP to the collector; Jaeger takes spans only from inside the tracing
    namespace (the collector), its query port only from Grafana's namespace, its metrics only
    from Prometheus'."""
    config = stack_config(stack_run.stack)
    tracing, monitoring = config.monitoring.tracing.namespace, config.monitoring.namespace
    declared, labels = policies(stack_run), namespace_labels(stack_run)
    services = service_namespaces(stack_run.stack)
    assert tracing in labels and services

    def reach(pod: dict[str, str], port: int) -> set[str]:
        return sources(declared, labels, tracing, pod, port)

    collector = {**COLLECTOR_PODS, "component": "standalone-collector"}
    for port in (OTLP_GRPC_PORT, OTLP_HTTP_PORT):
        assert reach(collector, port) == {tracing, *services}, port
    assert reach(JAEGER_LABELS, JAEGER_OTLP_PORT) == {tracing}
    assert reach(JAEGER_LABELS, QUERY_GRPC_PORT) == {tracing}
    for port in (QUERY_HTTP_PORT, JAEGER_METRICS_PORT):
        assert reach(JAEGER_LABELS, port) == {tracing, monitoring}, port
    # Without the program's policies every namespace reaches Jaeger: the check can fail.
    assert services <= sources([], labels, tracing, JAEGER_LABELS, JAEGER_OTLP_PORT)


def test_the_api_server_reaches_the_operators_webhook_and_no_other_port(stack_run: Run) -> None:
    """The control plane calls the admission webhook for every PrometheusRule: it is no pod, so
    that one port is open to every source, and no other port with it."""
    monitoring = stack_config(stack_run.stack).monitoring.namespace
    declared, labels = policies(stack_run), namespace_labels(stack_run)
    operator = {"app": "kube-prometheus-stack-operator"}
    assert sources(declared, labels, monitoring, operator, OPERATOR_WEBHOOK_PORT) == set(labels)
    assert sources(declared, labels, monitoring, operator, 8080) == {monitoring}


def test_the_model_sees_open_namespaces_and_what_the_charts_own_policies_reopen(runs: dict[str, Run]) -> None:
    """The checks above can fail: with no policies every service namespace reaches Alertmanager
    and the repo server, and one policy of the shape argo-cd's chart creates by default (its
    server's: `ingress: [{}]`) reopens argocd-server to everyone, whatever the program denies."""
    run = runs["staging"]
    config = stack_config("staging")
    labels, services = namespace_labels(run), service_namespaces("staging")
    argocd = config.argocd.namespace
    assert services <= sources([], labels, config.monitoring.namespace, ALERTMANAGER_PODS, ALERTMANAGER_PORT)
    assert services <= sources([], labels, argocd, REPO_SERVER, REPO_SERVER_PORT)
    charts_server_policy = {
        "metadata": {"name": "argocd-server", "namespace": argocd},
        "spec": {"podSelector": {"matchLabels": ARGOCD_SERVER}, "policyTypes": ["Ingress"], "ingress": [{}]},
    }
    reopened = sources([*policies(run), charts_server_policy], labels, argocd, ARGOCD_SERVER, SERVER_PORT)
    assert services <= reopened


# --------------------------------------------------------------------------- the policies


def test_each_namespace_denies_ingress_by_default(stack_run: Run) -> None:
    config = stack_config(stack_run.stack)
    for namespace in (
        config.argocd.namespace,
        config.monitoring.namespace,
        config.monitoring.tracing.namespace,
    ):
        deny = [
            p
            for p in policies(stack_run)
            if p["metadata"]["namespace"] == namespace
            and p["spec"]["podSelector"] == {}
            and p["spec"]["policyTypes"] == ["Ingress"]
            and p["spec"]["ingress"] == []
        ]
        assert len(deny) == 1, f"{namespace} needs one default-deny ingress policy"


def test_namespaces_are_selected_only_by_their_immutable_name_label(stack_run: Run) -> None:
    """An Application may label the namespaces it creates: a selector on any other label would
    let it in. `kubernetes.io/metadata.name` is set by the API server and cannot change."""
    peers = [
        peer
        for p in policies(stack_run)
        for rule in p["spec"].get("ingress", [])
        for peer in rule.get("from", [])
    ]
    assert peers
    for peer in peers:
        assert "ipBlock" not in peer
        if "namespaceSelector" in peer:
            assert set(peer["namespaceSelector"]) == {"matchLabels"}
            assert set(peer["namespaceSelector"]["matchLabels"]) == {NAMESPACE_NAME_LABEL}, peer
            assert "podSelector" not in peer


def test_policies_are_valid_kubernetes_objects(stack_run: Run) -> None:
    [cluster] = stack_run.recorder.of_type("linode:index/lkeCluster:LkeCluster")
    declared = policies(stack_run)
    assert declared
    for policy in declared:
        kubernetes_validate.validate(policy, str(cluster.inputs["k8sVersion"]), strict=True)
        for rule in policy["spec"]["ingress"]:
            assert all(isinstance(p["port"], int) for p in rule.get("ports", [])), "numbered ports only"


def test_policies_follow_their_namespaces(stack_run: Run) -> None:
    namespaces = {unwrap(r.inputs)["metadata"]["name"]: r.name for r in stack_run.recorder.of_type(NAMESPACE)}
    for res in stack_run.recorder.of_type(NETWORK_POLICY):
        assert namespaces[unwrap(res.inputs)["metadata"]["namespace"]] in res.depends_on, res.name


# --------------------------------------------------------------------------- the charts' side


def test_the_charts_declare_no_network_policies_of_their_own(stack_run: Run) -> None:
    """Policies add up: a chart's own (argo-cd's are on by default and admit argocd-server and
    every metrics port from everywhere) would reopen what the program closes."""
    argocd = argocd_release(stack_run).plain["values"]
    assert argocd["global"]["networkPolicy"]["create"] is False
    for component in ("controller", "server", "repoServer", "applicationSet", "notifications", "redis"):
        assert "networkPolicy" not in argocd.get(component, {}), component
    ours = monitoring_release(stack_run).plain["values"]
    chart = chart_values("kube-prometheus-stack", monitoring_release(stack_run).inputs["version"])
    for key in ("alertmanager", "prometheus", "prometheusOperator"):
        merged = {**chart[key]["networkPolicy"], **ours.get(key, {}).get("networkPolicy", {})}
        assert merged["enabled"] is False, key


def test_ports_and_pod_labels_are_the_pinned_charts() -> None:
    argocd = chart_values("argo-cd", "10.1.1")
    for component, (pod_name, port) in COMPONENT_PODS.items():
        assert pod_name == f"{argocd['nameOverride']}-{argocd[component]['name']}", component
        assert port == argocd[component]["containerPorts"]["metrics"], component
    assert argocd["repoServer"]["containerPorts"]["server"] == REPO_SERVER_PORT
    assert argocd["redis"]["containerPorts"]["redis"] == REDIS_PORT
    assert argocd["server"]["containerPorts"]["server"] == SERVER_PORT
    stack = chart_values("kube-prometheus-stack", "88.5.3")
    assert stack["prometheus"]["service"]["targetPort"] == PROMETHEUS_PORT
    assert stack["alertmanager"]["service"]["targetPort"] == ALERTMANAGER_PORT
    assert stack["prometheusOperator"]["tls"]["internalPort"] == OPERATOR_WEBHOOK_PORT


def test_every_pod_the_policies_open_to_prometheus_exports_metrics(stack_run: Run) -> None:
    values = argocd_release(stack_run).plain["values"]
    by_pod = {pod_name: component for component, (pod_name, _) in COMPONENT_PODS.items()}
    opened = [
        p["spec"]["podSelector"]["matchLabels"][POD_NAME_LABEL]
        for p in policies(stack_run)
        if p["metadata"]["name"].startswith("allow-metrics-")
    ]
    assert opened
    for pod in opened:
        assert values[by_pod[pod]]["metrics"]["enabled"] is True, pod
