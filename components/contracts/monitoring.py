"""What the in-cluster domains agree on with monitoring: which ServiceMonitors Prometheus picks up."""

from __future__ import annotations

# The kube-prometheus-stack Helm release; its Prometheus selects ServiceMonitors (and rules)
# carrying `release: <this name>`, so the Argo charts label theirs with it.
PROMETHEUS_RELEASE = "kube-prometheus-stack"
SELECTOR_LABELS = {"release": PROMETHEUS_RELEASE}
