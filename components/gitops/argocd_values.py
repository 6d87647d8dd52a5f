"""Helm values of the argo-cd chart, built from the typed config (pure: no Pulumi).

Only keys of the pinned chart's `values.yaml` are used (a test walks every key path against
the copy in `components/schemas/charts/`). Inside the chart's free-form maps, which end up
verbatim in Argo CD's ConfigMaps, only keys Argo CD documents are used:
`configs.cm` -> argocd-cm, `configs.rbac` -> argocd-rbac-cm, and `notifications.notifiers`
/ `templates` / `triggers` / `subscriptions` -> argocd-notifications-cm.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import yaml

from components.config.base import Environment
from components.gitops.config import ArgoCdConfig

CHART = "argo-cd"
RELEASE_NAME = "argocd"

# Replicas of each stateless component in HA mode: two keep the API, manifest generation
# and ApplicationSets serving through a node drain; the PDBs below stop a drain from taking
# both at once.
HA_REPLICAS = 2

# The chart reads the notifications Secret by this name; the program creates it (so the
# webhook URL never passes through Helm values) and tells the chart not to.
NOTIFICATIONS_SECRET = "argocd-notifications-secret"
SLACK_WEBHOOK_KEY = "slack-webhook-url"
# `service.webhook.<name>`: Slack incoming webhooks go through Argo CD's generic webhook
# service (its Slack service needs a bot token instead), as Argo CD's webhook docs show:
# https://argo-cd.readthedocs.io/en/stable/operator-manual/notifications/services/webhook/#send-slack
SLACK_WEBHOOK_SERVICE = "slack-webhook"


@dataclass(frozen=True)
class _Notification:
    """One trigger and the Slack message it sends.

    The text is built with printf and `toJson` (sprig, which notification templates have), so
    whatever an app reports, e.g. a sync error with quotes in it, stays valid JSON.
    """

    description: str
    when: str
    colour: str
    text_format: str
    arguments: str
    once_per: str | None = None


_NOTIFICATIONS: dict[str, _Notification] = {
    "on-deployed": _Notification(
        description="Application is synced and healthy (once per revision)",
        when="app.status.operationState.phase in ['Succeeded'] and app.status.health.status == 'Healthy'",
        colour="good",
        text_format="%s deployed %s and is healthy",
        arguments=".app.metadata.name (trunc 7 .app.status.sync.revision)",
        # One message per synced revision, not one per reconciliation.
        once_per="app.status.sync.revision",
    ),
    "on-sync-failed": _Notification(
        description="Application sync has failed",
        when="app.status.operationState.phase in ['Error', 'Failed']",
        colour="danger",
        text_format="%s failed to sync: %s",
        arguments=".app.metadata.name .app.status.operationState.message",
    ),
    "on-health-degraded": _Notification(
        description="Application has degraded",
        when="app.status.health.status == 'Degraded'",
        colour="warning",
        text_format="%s is degraded",
        arguments=".app.metadata.name",
    ),
}


def _template_name(trigger: str) -> str:
    return "slack-" + trigger.removeprefix("on-")


def _slack_template(environment: Environment, note: _Notification) -> str:
    """A webhook template posting one Slack attachment to the incoming webhook.

    Written as YAML by hand so the ConfigMap shows the body as a readable block.
    """
    text = json.dumps(f"[{environment}] {note.text_format}")  # also a valid Go string literal
    attachment = (
        f'{{"attachments": [{{"color": {json.dumps(note.colour)}, "text": {{{{ toJson $text }}}}}}]}}'
    )
    return (
        "webhook:\n"
        f"  {SLACK_WEBHOOK_SERVICE}:\n"
        "    method: POST\n"
        "    body: |\n"
        f"      {{{{- $text := printf {text} {note.arguments} -}}}}\n"
        f"      {attachment}\n"
    )


def notifications_values(environment: Environment) -> dict[str, Any]:
    """The notifications controller's Slack webhook service, templates, triggers and subscription."""
    triggers: dict[str, str] = {}
    templates: dict[str, str] = {}
    for trigger, note in _NOTIFICATIONS.items():
        template = _template_name(trigger)
        condition: dict[str, Any] = {"description": note.description, "send": [template], "when": note.when}
        if note.once_per:
            condition["oncePer"] = note.once_per
        triggers[f"trigger.{trigger}"] = yaml.safe_dump([condition], sort_keys=False, width=1000)
        templates[f"template.{template}"] = _slack_template(environment, note)
    service = {
        # `$key` is resolved from the notifications Secret, so the URL stays out of the ConfigMap.
        "url": f"${SLACK_WEBHOOK_KEY}",
        "headers": [{"name": "Content-Type", "value": "application/json"}],
    }
    return {
        "enabled": True,
        "secret": {"create": False, "name": NOTIFICATIONS_SECRET},
        "notifiers": {f"service.webhook.{SLACK_WEBHOOK_SERVICE}": yaml.safe_dump(service, sort_keys=False)},
        "templates": templates,
        "triggers": triggers,
        # One global subscription: every Application notifies without per-app annotations.
        "subscriptions": [{"recipients": [SLACK_WEBHOOK_SERVICE], "triggers": sorted(_NOTIFICATIONS)}],
    }


def _pdb() -> dict[str, Any]:
    return {"enabled": True, "minAvailable": 1}


def argocd_values(environment: Environment, argocd: ArgoCdConfig) -> dict[str, Any]:
    """Values of the argo-cd chart for one environment."""
    ha = argocd.high_availability
    values: dict[str, Any] = {
        # The program creates and guards the namespace; the chart installs its own CRDs and
        # keeps them on uninstall, so deleting the release never cascades to Applications.
        "crds": {"install": True, "keep": True},
        "configs": {
            "cm": {
                # No shell into pods through the UI, no anonymous access (both Argo CD defaults,
                # pinned here so a chart upgrade cannot loosen them).
                "exec.enabled": False,
                "users.anonymous.enabled": "false",
            },
            "rbac": {
                # Logged-in users without an explicit rule get read-only access at most.
                "policy.default": argocd.rbac_default_policy,
                "policy.csv": "",
            },
        },
        # No SSO is configured, so Dex would run for nothing.
        "dex": {"enabled": False},
        "controller": {"replicas": 1},
        "server": {"replicas": 1},
        "repoServer": {"replicas": 1},
        "applicationSet": {"replicas": 1},
        "redis-ha": {"enabled": False},
        "notifications": (
            notifications_values(environment) if argocd.notifications.enabled else {"enabled": False}
        ),
    }
    if ha:
        # Argo CD shards the application controller by cluster and this Argo CD manages only
        # its own cluster, so one replica reconciles while the other idles, and a lost pod is
        # recreated by the StatefulSet. Failover between replicas needs dynamic cluster
        # distribution, which is alpha and so stays off in production:
        # https://argo-cd.readthedocs.io/en/stable/operator-manual/feature-maturity/
        values["controller"] = {"replicas": HA_REPLICAS, "pdb": _pdb()}
        for component in ("server", "repoServer", "applicationSet"):
            values[component] = {"replicas": HA_REPLICAS, "pdb": _pdb()}
        # Three Redis servers and HAProxies with hard anti-affinity: one per node, hence the
        # config rule that HA needs a cluster of at least three nodes.
        values["redis-ha"] = {"enabled": True}
    return values
