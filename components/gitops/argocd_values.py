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
from components.contracts.delivery_events import (
    INCIDENT_OPENED_EVENT,
    INCIDENT_RESOLVED_EVENT,
    ROLLOUT_ABORTED_EVENT,
)
from components.contracts.events import STAGING_DEPLOYED_EVENT
from components.contracts.monitoring import SELECTOR_LABELS
from components.gitops.config import ArgoCdAccount, ArgoCdConfig, ArgoCdImage
from components.gitops.gitops_manifests import project_name
from components.kubernetes.helm import image_ref

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
# The GitHub repository_dispatch of staging validation: Argo CD's generic webhook service
# against the REST API, authenticated with the token kept in the notifications Secret.
GITHUB_DISPATCH_KEY = "github-dispatch-token"
GITHUB_DISPATCH_SERVICE = "github-dispatch"
GITHUB_API = "https://api.github.com"


# Where a notification reads the revision it names: a single-source Application reports
# `revision`, a multi-source one leaves it out and reports `revisions`, one per source
# (argoproj/argo-cd#13188, #15617); every source of ours is the GitOps repository at one
# tracked revision, so the first stands for all.
_SYNCED = ".app.status.sync"  # what Argo CD last compared the live state to
_DEPLOYED = ".app.status.operationState.syncResult"  # what the last sync operation applied


@dataclass(frozen=True)
class _Notification:
    """One trigger and the Slack message it sends.

    The text is built with printf and `toJson` (sprig, which notification templates have), so
    whatever an app reports, e.g. a sync error with quotes in it, stays valid JSON. Each text
    names the short revision read from `revision_of` (its first `%s` after the app name).
    """

    description: str
    when: str
    colour: str
    text_format: str
    arguments: str
    revision_of: str
    once_per: str | None = None


# Conditions test `operationState != nil` first: an Application that never synced has none,
# and expr refuses to read a field of nil (the engine logs the error and skips the trigger).
_NOTIFICATIONS: dict[str, _Notification] = {
    "on-deployed": _Notification(
        description="Application is synced and healthy (once per synced revision)",
        when=(
            "app.status.operationState != nil and app.status.operationState.phase in ['Succeeded']"
            " and app.status.health.status == 'Healthy'"
        ),
        colour="good",
        text_format="%s deployed %s and is healthy",
        arguments=".app.metadata.name $revision",
        revision_of=_DEPLOYED,
        # One message per revision a sync applied, not one per reconciliation, nor one per
        # commit to the GitOps repository (every Application tracks it, so `status.sync`
        # moves for all of them on any commit, without a sync). Argo CD writes `revision`
        # empty beside `revisions` for a multi-source sync, hence the list first.
        once_per=(
            "join(app.status.operationState.syncResult.revisions"
            " ?? [app.status.operationState.syncResult.revision], ',')"
        ),
    ),
    "on-sync-failed": _Notification(
        description="Application sync has failed",
        when="app.status.operationState != nil and app.status.operationState.phase in ['Error', 'Failed']",
        colour="danger",
        text_format="%s failed to sync %s: %s",
        arguments=".app.metadata.name $revision .app.status.operationState.message",
        revision_of=_SYNCED,
    ),
    "on-health-degraded": _Notification(
        description="Application has degraded",
        when="app.status.health.status == 'Degraded'",
        colour="warning",
        text_format="%s is degraded at %s",
        arguments=".app.metadata.name $revision",
        revision_of=_SYNCED,
    ),
    # A Rollout turns Degraded when its update is aborted (a failed analysis, or by hand) or
    # exceeds its progress deadline: Argo Rollouts has sent the traffic back to the stable
    # version. `resources` lists every resource the Application manages with its health
    # (absent for kinds without a health check), hence the nil guards.
    "on-rollout-degraded": _Notification(
        description="A Rollout of the Application is degraded: its update was aborted and rolled back",
        when=(
            "app.status.resources != nil and any(app.status.resources, "
            "{.kind == 'Rollout' and .health != nil and .health.status == 'Degraded'})"
        ),
        colour="danger",
        text_format=(
            "%s has a degraded Rollout at %s: its update was aborted and traffic is back on the stable version"
        ),
        arguments=".app.metadata.name $revision",
        revision_of=_SYNCED,
    ),
}


@dataclass(frozen=True)
class _Dispatch:
    """One trigger and the repository_dispatch it sends to GitHub (``POST .../dispatches``).

    The client payload names the Application, the revisions its last sync applied and its
    images (``status.summary.images``). Revisions come from ``operationState.syncResult``,
    like on-deployed's: a multi-source Application (every service Application: chart plus
    the `ref` source of its image file) reports ``revisions`` and an empty ``revision``
    (argoproj/argo-cd#13188), a single-source one only ``revision``; the template takes
    whichever is there.
    """

    description: str
    when: str
    event_type: str
    once_per: str | None = None
    # A delivery event (delivery-events.yml records it): the payload names the Application,
    # the environment, the revision Argo CD compared last and the time it was sent.
    records_event: bool = False


_DISPATCHES: dict[str, _Dispatch] = {
    "on-staging-deployed": _Dispatch(
        description="Application is synced and healthy: tell GitHub, which starts staging validation",
        when=_NOTIFICATIONS["on-deployed"].when,
        event_type=STAGING_DEPLOYED_EVENT,
        # Once per revision set a sync applied, as on-deployed.
        once_per=str(_NOTIFICATIONS["on-deployed"].once_per),
    ),
    # Delivery events (docs/dora-metrics.md). No oncePer: the engine sends again each time the
    # condition turns true after having been false, which is one message per degradation,
    # per abort and per recovery.
    "on-rollout-aborted-event": _Dispatch(
        description="A Rollout's update was aborted and rolled back: record a rollback",
        when=_NOTIFICATIONS["on-rollout-degraded"].when,
        event_type=ROLLOUT_ABORTED_EVENT,
        records_event=True,
    ),
    "on-incident-opened-event": _Dispatch(
        description="Application has degraded: record an incident opened",
        when=_NOTIFICATIONS["on-health-degraded"].when,
        event_type=INCIDENT_OPENED_EVENT,
        records_event=True,
    ),
    "on-incident-resolved-event": _Dispatch(
        description="Application is healthy: record the recovery of an open incident (the report pairs them)",
        when="app.status.health.status == 'Healthy'",
        event_type=INCIDENT_RESOLVED_EVENT,
        records_event=True,
    ),
}


def _event_body(environment: Environment, note: _Dispatch) -> str:
    """A delivery event's dispatch: the revision Argo CD compared last (`status.sync`: the
    one running when the health changed), and the send time in UTC (sprig's `now`)."""
    return (
        f'{{{{- $revision := or {_SYNCED}.revision (index (default (list "") {_SYNCED}.revisions) 0) -}}}}\n'
        f'{{{{ toJson (dict "event_type" {json.dumps(note.event_type)} "client_payload" (dict '
        '"application" .app.metadata.name "environment" '
        + json.dumps(environment)
        + ' "revision" $revision "at" (dateInZone "2006-01-02T15:04:05Z" (now) "UTC"))) }}'
    )


def _dispatch_template(environment: Environment, repository: str, note: _Dispatch) -> str:
    """A webhook template posting the repository_dispatch; the body is one sprig `toJson`
    of a `dict`, so it is valid JSON whatever the Application reports."""
    if note.records_event:
        return _webhook_template(repository, _event_body(environment, note))
    body = (
        f"{{{{- $revisions := {_DEPLOYED}.revisions -}}}}\n"
        f"{{{{- if not $revisions }}}}{{{{ $revisions = list {_DEPLOYED}.revision }}}}{{{{ end -}}}}\n"
        f'{{{{ toJson (dict "event_type" {json.dumps(note.event_type)} "client_payload" (dict '
        '"application" .app.metadata.name "environment" '
        + json.dumps(environment)
        + ' "revisions" $revisions '
        '"images" (default (list) .app.status.summary.images))) }}'
    )
    return _webhook_template(repository, body)


def _webhook_template(repository: str, body: str) -> str:
    # Written as YAML by hand, like the Slack templates, so the ConfigMap shows a readable block.
    lines = "".join(f"      {line}\n" for line in body.splitlines())
    return (
        "webhook:\n"
        f"  {GITHUB_DISPATCH_SERVICE}:\n"
        "    method: POST\n"
        f"    path: /repos/{repository}/dispatches\n"
        "    body: |\n"
        f"{lines}"
    )


def _dispatch_service() -> dict[str, Any]:
    return {
        "url": GITHUB_API,
        "headers": [
            # `$key` is resolved from the notifications Secret, so the token stays out of the ConfigMap.
            {"name": "Authorization", "value": f"Bearer ${GITHUB_DISPATCH_KEY}"},
            {"name": "Accept", "value": "application/vnd.github+json"},
            {"name": "X-GitHub-Api-Version", "value": "2022-11-28"},
            {"name": "Content-Type", "value": "application/json"},
        ],
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
    # `revision`, else the first of `revisions` (sprig's `default` stands in for a missing list).
    revision = (
        f"{{{{- $revision := trunc 7 (or {note.revision_of}.revision"
        f' (index (default (list "") {note.revision_of}.revisions) 0)) -}}}}'
    )
    return (
        "webhook:\n"
        f"  {SLACK_WEBHOOK_SERVICE}:\n"
        "    method: POST\n"
        "    body: |\n"
        f"      {revision}\n"
        f"      {{{{- $text := printf {text} {note.arguments} -}}}}\n"
        f"      {attachment}\n"
    )


def notifications_values(environment: Environment, dispatch_repository: str | None = None) -> dict[str, Any]:
    """The notifications controller's Slack webhook service, templates, triggers and subscription;
    with ``dispatch_repository`` (``owner/name``) also the GitHub dispatch service and its triggers."""
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
    notifiers = {f"service.webhook.{SLACK_WEBHOOK_SERVICE}": yaml.safe_dump(service, sort_keys=False)}
    # Global subscriptions: every Application notifies without per-app annotations.
    subscriptions: list[dict[str, Any]] = [
        {"recipients": [SLACK_WEBHOOK_SERVICE], "triggers": sorted(_NOTIFICATIONS)}
    ]
    if dispatch_repository is not None:
        for trigger, dispatch in _DISPATCHES.items():
            template = "github-" + trigger.removeprefix("on-")
            condition = {"description": dispatch.description, "send": [template], "when": dispatch.when}
            if dispatch.once_per:
                condition["oncePer"] = dispatch.once_per
            triggers[f"trigger.{trigger}"] = yaml.safe_dump([condition], sort_keys=False, width=1000)
            templates[f"template.{template}"] = _dispatch_template(environment, dispatch_repository, dispatch)
        notifiers[f"service.webhook.{GITHUB_DISPATCH_SERVICE}"] = yaml.safe_dump(
            _dispatch_service(), sort_keys=False
        )
        subscriptions.append({"recipients": [GITHUB_DISPATCH_SERVICE], "triggers": sorted(_DISPATCHES)})
    return {
        "enabled": True,
        "secret": {"create": False, "name": NOTIFICATIONS_SECRET},
        "notifiers": notifiers,
        "templates": templates,
        "triggers": triggers,
        "subscriptions": subscriptions,
    }


# The operators' role: what running the environment's releases takes, in its project only.
# `action/*` covers resource actions such as a Rollout's promote and abort; no `create`,
# `update` or `delete`, so Applications and the AppProject stay as Pulumi declares them.
OPERATOR_ROLE = "role:platform-operator"
_OPERATOR_GRANTS = (
    ("applications", "get"),
    ("applications", "sync"),
    ("applications", "action/*"),
    ("logs", "get"),
)
_ROLES = {"operator": OPERATOR_ROLE, "readonly": "role:readonly"}


def rbac_policy_csv(environment: Environment, accounts: dict[str, ArgoCdAccount]) -> str:
    """argocd-rbac-cm's `policy.csv`: the operator role (when an account has it) and each
    account's role (https://argo-cd.readthedocs.io/en/stable/operator-manual/rbac/)."""
    if not accounts:
        return ""
    project = project_name(environment)
    lines: list[str] = []
    if any(account.role == "operator" for account in accounts.values()):
        lines += [
            f"p, {OPERATOR_ROLE}, {kind}, {action}, {project}/*, allow" for kind, action in _OPERATOR_GRANTS
        ]
        lines.append(f"p, {OPERATOR_ROLE}, projects, get, {project}, allow")
    lines += [f"g, {name}, {_ROLES[accounts[name].role]}" for name in sorted(accounts)]
    return "\n".join(lines) + "\n"


def _pdb() -> dict[str, Any]:
    return {"enabled": True, "minAvailable": 1}


# Components whose metrics the monitoring stack's Prometheus scrapes: the application
# controller exports argocd_app_info and argocd_app_sync_total, which the deployment alerts
# watch; the others show how the API, manifest generation and ApplicationSets fare, and the
# notifications controller (where notifications are on) whether Slack and GitHub took them.
METRICS_COMPONENTS = ("controller", "server", "repoServer", "applicationSet")
NOTIFICATIONS_COMPONENT = "notifications"

# Each component's pod name label and metrics container port as the pinned chart sets them:
# `app.kubernetes.io/name` is the chart's nameOverride (`argocd`) and the component's `name`;
# the port is its `containerPorts.metrics` (a test reads both from the chart's values.yaml).
# The namespace's NetworkPolicies open exactly these ports to Prometheus.
POD_NAME_LABEL = "app.kubernetes.io/name"
COMPONENT_PODS: dict[str, tuple[str, int]] = {
    "controller": ("argocd-application-controller", 8082),
    "server": ("argocd-server", 8083),
    "repoServer": ("argocd-repo-server", 8084),
    "applicationSet": ("argocd-applicationset-controller", 8080),
    NOTIFICATIONS_COMPONENT: ("argocd-notifications-controller", 9001),
}


def scraped_components(argocd: ArgoCdConfig) -> tuple[str, ...]:
    """The chart components whose metrics Prometheus scrapes with this config."""
    notifications = (NOTIFICATIONS_COMPONENT,) if argocd.notifications.enabled else ()
    return (*METRICS_COMPONENTS, *notifications)


def metrics_endpoints(argocd: ArgoCdConfig) -> dict[str, tuple[dict[str, str], int]]:
    """Pod name -> (its pod labels, its metrics port), for every scraped component."""
    return {
        name: ({POD_NAME_LABEL: name}, port)
        for name, port in (COMPONENT_PODS[c] for c in scraped_components(argocd))
    }


def _metrics() -> dict[str, Any]:
    # The release label is what the monitoring Prometheus selects ServiceMonitors by.
    return {"enabled": True, "serviceMonitor": {"enabled": True, "additionalLabels": dict(SELECTOR_LABELS)}}


def argocd_values(
    environment: Environment,
    argocd: ArgoCdConfig,
    dispatch_repository: str | None = None,
    *,
    redis_ha: bool = True,
) -> dict[str, Any]:
    """Values of the argo-cd chart for one environment (``dispatch_repository``: the
    ``owner/name`` that receives the staging-deployed dispatch, when it is on). ``redis_ha``
    false (charts.withoutSubcharts: the mirror lacks the subchart) keeps HA's replicated
    components with the chart's single Redis."""
    ha = argocd.high_availability
    values: dict[str, Any] = {
        # The program creates and guards the namespace; the chart installs its own CRDs and
        # keeps them on uninstall, so deleting the release never cascades to Applications.
        "crds": {"install": True, "keep": True},
        # The chart's own NetworkPolicies (on by default) admit argocd-server from everywhere
        # and every metrics port from every namespace, and would add up with the program's:
        # the namespace's policies are the program's alone (components/kubernetes/).
        "global": {"networkPolicy": {"create": False}},
        "configs": {
            "cm": {
                # No shell into pods through the UI, no anonymous access (both Argo CD defaults,
                # pinned here so a chart upgrade cannot loosen them).
                "exec.enabled": False,
                "users.anonymous.enabled": "false",
                # The built-in admin can do anything, its password sits in a Secret until someone
                # deletes it, and it cannot be scoped: off outside development once the
                # bootstrap's first login has set the accounts' passwords (config validation
                # refuses it off without an operator account).
                "admin.enabled": argocd.admin_on(environment),
                # Local accounts log in with a password only: no `apiKey`, so no long-lived
                # tokens exist to leak (https://argo-cd.readthedocs.io/en/stable/operator-manual/user-management/).
                **{f"accounts.{name}": "login" for name in sorted(argocd.accounts)},
            },
            "rbac": {
                # Logged-in users without an explicit rule get read-only access at most.
                "policy.default": argocd.rbac_default_policy,
                "policy.csv": rbac_policy_csv(environment, dict(argocd.accounts)),
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
            notifications_values(environment, dispatch_repository)
            if argocd.notifications.enabled
            else {"enabled": False}
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
        # config rule that HA needs a cluster of at least three nodes. Without the subchart
        # (charts.withoutSubcharts) redis-ha stays off, which keeps the chart's single Redis
        # Deployment (its values.yaml: redis-ha.enabled "disables the custom Redis single node
        # deployment"); on, the chart's helpers would point every component at redis-ha's HAProxy.
        values["redis-ha"] = {"enabled": redis_ha}
    for component in scraped_components(argocd):
        values[component]["metrics"] = _metrics()
    _pin_images(values, argocd, redis_ha=ha and redis_ha)
    return values


def _pin_images(values: dict[str, Any], argocd: ArgoCdConfig, *, redis_ha: bool) -> None:
    """The configured images, by tag and digest, in the keys the chart reads them from. The
    chart (and redis-ha) joins `repository:tag`, so the digest rides in `tag` (argo-cd's version
    label replaces what a label may not hold: `argo-cd.versionLabelValue` in _helpers.tpl)."""

    def image(key: ArgoCdImage) -> dict[str, str] | None:
        reference = argocd.images.get(key)
        if reference is None:
            return None
        ref = image_ref(reference)
        return {"repository": ref.name, "tag": ref.tag_at_digest}

    if (argocd_image := image("argocd")) is not None:
        # Every Argo CD component (and the Redis secret-init job) runs global.image.
        values["global"]["image"] = argocd_image
    # Redis without HA; in HA redis-ha's Redis and Sentinel, and its HAProxy.
    redis_key = "redis-ha" if redis_ha else "redis"
    if (redis := image("redis")) is not None:
        values.setdefault(redis_key, {})["image"] = redis
    if redis_ha and (haproxy := image("haproxy")) is not None:
        values["redis-ha"]["haproxy"] = {"image": haproxy}
