"""The deployment and credential alerts as a PrometheusRule manifest (pure: no Pulumi).

Metric names are the exporters' own: Argo CD's application controller (`argocd_app_info`,
`argocd_app_sync_total`), the Argo Rollouts controller (`rollout_phase`, see
controller/metrics/rollouts.go of argoproj/argo-rollouts v1.9) and kube-state-metrics
(`kube_pod_container_status_waiting_reason`). Prometheus scrapes the Argo controllers
through ServiceMonitors without `honorLabels`, so an exporter's own `namespace` label
arrives as `exported_namespace` (the target's namespace takes `namespace`); the Rollout's
namespace is therefore `exported_namespace`. kube-state-metrics is scraped with
`honorLabels`, so there `namespace` is the pod's.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Literal

from components.config.base import Environment
from components.contracts.monitoring import SELECTOR_LABELS
from components.monitoring.config import AlertsConfig

RULE_NAME = "delivery-alerts"
GROUP_NAME = "delivery.deployments"
CREDENTIALS_GROUP = "delivery.credentials"

Severity = Literal["critical", "warning"]


@dataclass(frozen=True)
class Alert:
    """One alerting rule: what it watches, for how long, how loud."""

    name: str
    expr: str
    for_: str
    severity: Severity
    summary: str
    description: str

    def rule(self) -> dict[str, Any]:
        rule: dict[str, Any] = {"alert": self.name, "expr": self.expr}
        if self.for_ != "0s":
            rule["for"] = self.for_
        rule["labels"] = {"severity": self.severity}
        rule["annotations"] = {"summary": self.summary, "description": self.description}
        return rule


@dataclass(frozen=True)
class RuleInputs:
    """What the rules are rendered from besides their thresholds: the environment (how loud
    an image pull failure is), the namespaces whose pods are watched, and the day CI's
    Linode token expires (`pipeline.credentials`)."""

    environment: Environment
    platform_namespaces: Sequence[str]
    ci_credentials_expire_on: date
    # The day the cluster's admin kubeconfig is due for regeneration (cluster.kubeconfigIssuedOn
    # + kubeconfigRotationDays); None: no rotation is scheduled.
    kubeconfig_rotate_by: date | None = None


def _waiting(reasons: str, namespaces: Sequence[str]) -> str:
    """Containers of the namespaces waiting for one of `reasons` within the last 5 minutes:
    kube-state-metrics exports one series per current reason, and a pod flapping between two
    reasons (ErrImagePull and ImagePullBackOff) or restarting stays one alert."""
    pattern = "|".join(sorted(set(namespaces)))
    return (
        "max by (namespace, pod, container) (max_over_time(kube_pod_container_status_waiting_reason"
        f'{{reason=~"{reasons}", namespace=~"{pattern}"}}[5m])) >= 1'
    )


def alerts(config: AlertsConfig, inputs: RuleInputs) -> list[Alert]:
    """Every alert: the deployment alerts, then the credential alerts."""
    return [*deployment_alerts(config, inputs), *credential_alerts(config, inputs)]


def deployment_alerts(config: AlertsConfig, inputs: RuleInputs) -> list[Alert]:
    """The deployment alerts; the platform namespaces are watched for crash loops and image pulls."""
    platform_namespaces = inputs.platform_namespaces
    window = config.sync_failed_window
    failed_syncs = 'argocd_app_sync_total{phase=~"Error|Failed"}'
    # A sync counter series starts at its first failure, which `increase()` cannot see (it
    # needs two samples): a series that did not exist one window ago counts as a failure too.
    sync_failed = (
        f"sum by (name, project) (increase({failed_syncs}[{window}])) > 0 or "
        f"sum by (name, project) ({failed_syncs} unless {failed_syncs} offset {window}) > 0"
    )
    return [
        Alert(
            name="ArgoCdApplicationOutOfSync",
            expr='max by (name, project, dest_namespace) (argocd_app_info{sync_status="OutOfSync"}) > 0',
            for_=config.out_of_sync_for,
            severity="warning",
            summary="Application {{ $labels.name }} is out of sync",
            description=(
                f"Argo CD Application {{{{ $labels.name }}}} (project {{{{ $labels.project }}}}) has "
                f"differed from Git for more than {config.out_of_sync_for}."
            ),
        ),
        Alert(
            name="ArgoCdApplicationDegraded",
            expr='max by (name, project, dest_namespace) (argocd_app_info{health_status="Degraded"}) > 0',
            for_=config.degraded_for,
            severity="critical",
            summary="Application {{ $labels.name }} is degraded",
            description=(
                f"Argo CD reports Application {{{{ $labels.name }}}} (namespace "
                f"{{{{ $labels.dest_namespace }}}}) Degraded for more than {config.degraded_for}."
            ),
        ),
        Alert(
            name="ArgoCdApplicationSyncFailed",
            expr=sync_failed,
            for_="0s",
            severity="warning",
            summary="Application {{ $labels.name }} failed to sync",
            description=(
                f"A sync of Argo CD Application {{{{ $labels.name }}}} ended in Error or Failed "
                f"within the last {window}."
            ),
        ),
        Alert(
            name="ArgoRolloutAborted",
            expr='max by (exported_namespace, name, strategy) (rollout_phase{phase="Abort"}) > 0',
            for_="1m",
            severity="warning",
            summary="Rollout {{ $labels.exported_namespace }}/{{ $labels.name }} was aborted",
            description=(
                "The update of Rollout {{ $labels.name }} ({{ $labels.strategy }}) was aborted, by a "
                "failed analysis or by hand: traffic is back on the stable version."
            ),
        ),
        Alert(
            name="ArgoRolloutDegraded",
            expr='max by (exported_namespace, name, strategy) (rollout_phase{phase=~"Error|Timeout"}) > 0',
            for_=config.rollout_degraded_for,
            severity="critical",
            summary="Rollout {{ $labels.exported_namespace }}/{{ $labels.name }} is degraded",
            description=(
                "Rollout {{ $labels.name }} has been in an Error or Timeout phase for more than "
                f"{config.rollout_degraded_for}."
            ),
        ),
        Alert(
            name="PlatformPodCrashLooping",
            expr=_waiting("CrashLoopBackOff", platform_namespaces),
            for_=config.crash_looping_for,
            severity="critical",
            summary="{{ $labels.namespace }}/{{ $labels.pod }} is crash-looping",
            description=(
                "Container {{ $labels.container }} of pod {{ $labels.pod }} has been in "
                f"CrashLoopBackOff for more than {config.crash_looping_for}."
            ),
        ),
        # The clusters pull with one classic token (ghcrPullToken) that Pulumi cannot see expire:
        # once it does, every new pod (a rollout, a rescheduled pod, a node the autoscaler adds)
        # fails here. Production pages; elsewhere it is a warning.
        Alert(
            name="PlatformImagePullFailing",
            expr=_waiting("ErrImagePull|ImagePullBackOff", platform_namespaces),
            for_=config.image_pull_failing_for,
            severity="critical" if inputs.environment == "production" else "warning",
            summary="{{ $labels.namespace }}/{{ $labels.pod }} cannot pull its image",
            description=(
                "Container {{ $labels.container }} of pod {{ $labels.pod }} has failed to pull its image "
                f"(ErrImagePull, ImagePullBackOff) for more than {config.image_pull_failing_for}: an image "
                "file naming a digest that is not in GHCR, or the clusters' pull token (ghcrPullToken) "
                "expired or revoked, in which case every new pod fails the same way."
            ),
        ),
    ]


def credential_alerts(config: AlertsConfig, inputs: RuleInputs) -> list[Alert]:
    """A warning `credentialsExpiryWarningDays` before CI's Linode token expires.

    Nothing in the cluster knows when a token minted outside it expires, so the date is
    rendered into the rule as a constant (Unix seconds): rotating the token changes
    `issuedOn`, and the `up` that mints the new one moves the date. `vector()`, because
    PromQL compares two scalars only with `bool`, and an alert needs a vector.
    """
    expires = datetime.combine(inputs.ci_credentials_expire_on, time(), tzinfo=UTC)
    warn_from = expires - timedelta(days=config.credentials_expiry_warning_days)
    day = f"{inputs.ci_credentials_expire_on:%Y-%m-%d}"
    return [
        Alert(
            name="CiCredentialsExpiring",
            expr=f"vector(time()) >= {int(warn_from.timestamp())}",
            for_="0s",
            severity="warning",
            summary=f"CI's Linode token of {inputs.environment} expires on {day}",
            description=(
                f"The Linode token `pulumi up` minted for {inputs.environment}'s CI expires on {day} "
                "00:00 UTC (pipeline.credentials: issuedOn + lifetimeDays); from then every CI job of "
                "the stack fails. Rotate it: set pipeline.credentials.issuedOn to today and run "
                "`pulumi up` (docs/operations.md, Rotating credentials)."
            ),
        ),
        *_kubeconfig_alerts(config, inputs),
    ]


def _kubeconfig_alerts(config: AlertsConfig, inputs: RuleInputs) -> list[Alert]:
    """A warning the same number of days before the admin kubeconfig is due for regeneration."""
    if inputs.kubeconfig_rotate_by is None:
        return []
    due = datetime.combine(inputs.kubeconfig_rotate_by, time(), tzinfo=UTC)
    warn_from = due - timedelta(days=config.credentials_expiry_warning_days)
    day = f"{inputs.kubeconfig_rotate_by:%Y-%m-%d}"
    return [
        Alert(
            name="ClusterKubeconfigRotationDue",
            expr=f"vector(time()) >= {int(warn_from.timestamp())}",
            for_="0s",
            severity="warning",
            summary=f"The admin kubeconfig of {inputs.environment}'s cluster is due for rotation on {day}",
            description=(
                f"The LKE admin kubeconfig of {inputs.environment} (in the stack's state, the Kubernetes "
                f"provider and the `kubeconfig` stack output) is due for regeneration on {day} "
                "(cluster.kubeconfigIssuedOn + kubeconfigRotationDays). Rotate it: "
                "`linode-cli lke regenerate <clusterId> --kubeconfig true`, then merge "
                "cluster.kubeconfigIssuedOn set to that day (docs/rotation.md)."
            ),
        ),
    ]


def rule_groups(config: AlertsConfig, inputs: RuleInputs) -> list[dict[str, Any]]:
    """The rule groups, as both the PrometheusRule spec and a Prometheus rule file hold them."""
    return [
        {"name": GROUP_NAME, "rules": [a.rule() for a in deployment_alerts(config, inputs)]},
        {"name": CREDENTIALS_GROUP, "rules": [a.rule() for a in credential_alerts(config, inputs)]},
    ]


def prometheus_rule(
    namespace: str,
    config: AlertsConfig,
    inputs: RuleInputs,
    extra_groups: Sequence[dict[str, Any]] = (),
) -> dict[str, Any]:
    """The PrometheusRule custom resource holding the deployment and credential alerts (and
    ``extra_groups``: the services' SLO rules, slo.py)."""
    return {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "PrometheusRule",
        "metadata": {
            "name": RULE_NAME,
            "namespace": namespace,
            "labels": {**SELECTOR_LABELS, "app.kubernetes.io/part-of": "delivery"},
        },
        "spec": {"groups": [*rule_groups(config, inputs), *extra_groups]},
    }
