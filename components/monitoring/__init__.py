"""Monitoring on each cluster: kube-prometheus-stack, the deployment alerts, Alertmanager routing."""
