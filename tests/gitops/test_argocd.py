"""Argo CD on every stack: the pinned release, its Helm values against the chart, notifications,
the read-only deploy key and the private key's secrecy."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
import yaml

from components.config.base import ConfigError
from components.gitops.argocd_values import (
    GITHUB_DISPATCH_KEY,
    GITHUB_DISPATCH_SERVICE,
    HA_REPLICAS,
    NOTIFICATIONS_SECRET,
    OPERATOR_ROLE,
    SLACK_WEBHOOK_KEY,
    argocd_values,
)
from components.gitops.config import ArgoCdConfig
from components.kubernetes.helm import chart_reference
from components.monitoring.stack_values import RECEIVERS_SECRET
from tests.support.charts import (
    argocd_release,
    chart_values,
    unknown_key_paths,
)
from tests.support.paths import ROOT
from tests.support.stacks import TEST_SECRETS, assert_refused, stack_config
from tests.support.types import DEPLOY_KEY, NAMESPACE, PRIVATE_KEY, RELEASE, SECRET
from tools.offline import (
    MOCK_OUTPUTS,
    STACKS,
    RecordedResource,
    Run,
    run_program,
    stack_file,
    walk,
    with_offline_pins,
)
from tools.plan import render_documents

CHARTS = ROOT / "components" / "schemas" / "charts"
MOCK_PRIVATE_KEY = MOCK_OUTPUTS[PRIVATE_KEY]["privateKeyOpenssh"]

# What Argo CD documents inside the notification documents themselves.
TRIGGER_FIELDS = {"description", "when", "send", "oncePer"}
TEMPLATE_FIELDS = {"message", "email", "slack", "webhook", "teams", "googlechat", "opsgenie"}
WEBHOOK_TEMPLATE_FIELDS = {"method", "path", "body"}
WEBHOOK_SERVICE_FIELDS = {
    "url",
    "headers",
    "basicAuth",
    "insecureSkipVerify",
    "retryWaitMin",
    "retryWaitMax",
    "retryMax",
}


def of_type(run: Run, type_: str) -> list[RecordedResource]:
    return run.recorder.of_type(type_)


# --------------------------------------------------------------------------- the release


def test_one_pinned_argocd_release_on_the_stack_cluster(stack_run: Run) -> None:
    config = stack_config(stack_run.stack)
    release = argocd_release(stack_run)
    assert release.inputs["chart"] == chart_reference(
        "oci://ghcr.io/argoproj/argo-helm", "argo-cd", config.argocd.chart_digest
    )
    assert "repositoryOpts" not in release.inputs, "an OCI chart is addressed by its reference alone"
    assert re.fullmatch(r"\d+\.\d+\.\d+", release.inputs["version"]), "chart version must be an exact pin"
    assert release.inputs["version"] == config.argocd.chart_version
    [cluster_provider] = [r.name for r in stack_run.resources if r.type == "pulumi:providers:kubernetes"]
    assert release.provider == cluster_provider, (
        "Argo CD must go to this stack's cluster, not the ambient one"
    )
    assert release.inputs["name"] == "argocd"
    assert release.inputs["namespace"] == config.argocd.namespace


def test_every_kubernetes_resource_names_the_stack_cluster_provider(stack_run: Run) -> None:
    [cluster_provider] = [r.name for r in stack_run.resources if r.type == "pulumi:providers:kubernetes"]
    gitops = [r for r in stack_run.resources if r.custom and r.type.startswith("kubernetes:")]
    assert gitops
    assert {r.name: r.provider for r in gitops} == {r.name: cluster_provider for r in gitops}


def test_release_upgrade_behaviour_is_deliberate(stack_run: Run) -> None:
    config = stack_config(stack_run.stack)
    for release in of_type(stack_run, RELEASE):
        inputs = release.inputs
        # Failed installs are removed and failed upgrades rolled back (see components/gitops/argocd.py).
        assert inputs["atomic"] is True and inputs["cleanupOnFail"] is True
        assert inputs["skipAwait"] is False, "Applications must wait for a serving Argo CD"
        assert inputs["timeout"] == config.argocd.helm_timeout_seconds
        assert inputs["createNamespace"] is False, "the namespace is a declared resource, not Helm's"
        assert 1 <= inputs["maxHistory"] <= 20
        namespace = next(
            r for r in of_type(stack_run, NAMESPACE) if r.inputs["metadata"]["name"] == inputs["namespace"]
        )
        assert namespace.name in release.depends_on


# Keys of the redis-ha subchart the parent's values.yaml shows only in part: its HAProxy image
# takes `tag` beside the `repository` argo-cd's values set (tests/kubernetes/test_chart_images.py checks
# the rendered reference).
SUBCHART_KEYS = {"redis-ha.haproxy.image.tag"}


def test_argocd_values_use_only_chart_keys(stack_run: Run) -> None:
    release = argocd_release(stack_run)
    chart = chart_values("argo-cd", release.inputs["version"])
    assert [p for p in unknown_key_paths(release.plain["values"], chart) if p not in SUBCHART_KEYS] == []


def test_key_path_check_catches_typos() -> None:
    chart = chart_values("argo-cd", "10.1.1")
    bad = {
        "server": {"replica": 2},
        "redisHa": {"enabled": True},
        "configs": {"cm": {"exec.enable": False}, "rbac": {"policy.defaults": "role:readonly"}},
        "notifications": {"triggers": {"on-deployed": "x"}},
        "controller": {"pdb": True},
    }
    assert sorted(unknown_key_paths(bad, chart)) == sorted(
        [
            "server.replica",
            "redisHa",
            "configs.cm.exec.enable (not a key Argo CD documents)",
            "configs.rbac.policy.defaults (not a key Argo CD documents)",
            "notifications.triggers.on-deployed (not a key Argo CD documents)",
            "controller.pdb (bool where the chart has dict)",
        ]
    )


def test_production_argocd_is_highly_available_and_development_lean(runs: dict[str, Run]) -> None:
    production = argocd_release(runs["production"]).plain["values"]
    for component in ("controller", "server", "repoServer", "applicationSet"):
        assert production[component]["replicas"] >= HA_REPLICAS, component
        assert production[component]["pdb"] == {"enabled": True, "minAvailable": 1}, component
    assert production["redis-ha"]["enabled"] is True

    development = argocd_release(runs["development"]).plain["values"]
    for component in ("controller", "server", "repoServer", "applicationSet"):
        assert development[component]["replicas"] == 1, component
        assert "pdb" not in development[component], component
    assert development["redis-ha"]["enabled"] is False
    assert development["dex"]["enabled"] is False


def test_ha_values_follow_the_config_not_the_environment_name() -> None:
    assert argocd_values("staging", ArgoCdConfig(high_availability=True))["redis-ha"]["enabled"] is True
    assert argocd_values("production", ArgoCdConfig(high_availability=False))["redis-ha"]["enabled"] is False


def test_ha_without_the_redis_ha_subchart_keeps_the_replicas_on_the_charts_single_redis() -> None:
    """charts.withoutSubcharts: [redis-ha] (a mirror without it): the replicated components stay, the
    chart's own Redis runs (redis-ha off), pinned under `redis`, and no HAProxy image is set."""
    images = {
        "redis": "ecr-public.aws.com/docker/library/redis:8.2.2-alpine@sha256:" + "a" * 64,
        "haproxy": "ecr-public.aws.com/docker/library/haproxy:3.0.8-alpine@sha256:" + "b" * 64,
    }
    config = ArgoCdConfig(high_availability=True, images=images)
    whole = argocd_values("production", config)
    plain = argocd_values("production", config, redis_ha=False)
    for component in ("controller", "server", "repoServer", "applicationSet"):
        assert plain[component] == whole[component], component
        assert plain[component]["replicas"] == HA_REPLICAS, component
    assert whole["redis-ha"]["enabled"] is True and whole["redis-ha"]["haproxy"]["image"]["tag"].endswith(
        "b" * 64
    )
    assert plain["redis-ha"] == {"enabled": False}
    assert plain["redis"]["image"]["tag"].endswith("a" * 64) and "redis" not in whole
    # Nothing else differs: the subchart's absence changes Redis and nothing of Argo CD itself.
    assert {k: v for k, v in plain.items() if k not in ("redis", "redis-ha")} == {
        k: v for k, v in whole.items() if k not in ("redis", "redis-ha")
    }


@pytest.mark.parametrize("nodes", [1, 2])
def test_production_on_fewer_than_three_nodes_is_refused_before_anything_is_declared(nodes: int) -> None:
    doc = with_offline_pins(yaml.safe_load(stack_file("production").read_text())["config"], "production")
    doc["delivery:cluster"] = {
        **doc["delivery:cluster"],
        "pools": {"default": {"type": "g6-standard-8", "count": nodes}},
    }
    with pytest.raises(ConfigError) as caught:
        run_program("production", TEST_SECRETS, stack_values=doc)
    paths = {p.path for p in caught.value.problems}
    assert "argocd.highAvailability" in paths, str(caught.value)
    assert "redis-ha" in str(caught.value)


def test_rbac_default_is_read_only(stack_run: Run) -> None:
    rbac = argocd_release(stack_run).plain["values"]["configs"]["rbac"]
    assert rbac["policy.default"] in ("role:readonly", "")
    assert stack_config(stack_run.stack).argocd.rbac_default_policy == "role:readonly"


def rbac_lines(values: dict[str, Any]) -> list[list[str]]:
    csv = values["configs"]["rbac"]["policy.csv"]
    return [[field.strip() for field in line.split(",")] for line in csv.splitlines() if line.strip()]


def test_rbac_grants_only_run_the_environments_releases(stack_run: Run) -> None:
    """Every grant is scoped to the environment's project and none creates, changes or deletes
    what Pulumi declares; every account gets the operator role or the read-only one."""
    values = argocd_release(stack_run).plain["values"]
    project = f"platform-{stack_run.stack}"
    accounts = {
        key.removeprefix("accounts."): value
        for key, value in values["configs"]["cm"].items()
        if key.startswith("accounts.")
    }
    roles: dict[str, str] = {}
    for line in rbac_lines(values):
        if line[0] == "p":
            _, role, resource, action, scope, effect = line
            assert role == OPERATOR_ROLE and effect == "allow", line
            assert (resource, action) in {
                ("applications", "get"),
                ("applications", "sync"),
                ("applications", "action/*"),
                ("logs", "get"),
                ("projects", "get"),
            }, line
            assert scope == (project if resource == "projects" else f"{project}/*"), line
        else:
            _, subject, role = line
            assert subject in accounts, f"{subject} is not a declared account"
            roles[subject] = role
    assert roles.keys() == accounts.keys(), "every account has exactly one role"
    assert set(roles.values()) <= {OPERATOR_ROLE, "role:readonly"}
    assert set(accounts.values()) <= {"login"}, "no account may mint API keys"


def test_built_in_admin_is_off_outside_development_and_an_operator_can_log_in(stack_run: Run) -> None:
    values = argocd_release(stack_run).plain["values"]
    admin = values["configs"]["cm"]["admin.enabled"]
    assert admin is (stack_run.stack == "development")
    operators = [line[1] for line in rbac_lines(values) if line[0] == "g" and line[2] == OPERATOR_ROLE]
    if not admin:
        assert operators, "with admin off, an operator account must exist"
        for name in operators:
            assert values["configs"]["cm"][f"accounts.{name}"] == "login"


def test_admin_can_be_switched_on_for_the_bootstrap_without_accounts() -> None:
    values = argocd_values("production", ArgoCdConfig(admin_enabled=True))
    assert values["configs"]["cm"]["admin.enabled"] is True
    assert values["configs"]["rbac"]["policy.csv"] == ""


@pytest.mark.parametrize(
    ("stack", "changes", "expected"),
    [
        (
            "staging",
            {"delivery:argocd.accounts": None},
            [
                "delivery:argocd.adminEnabled: the built-in admin is off (the default in staging) and no "
                "account in delivery:argocd.accounts has role operator",
                "allowed: true (the bootstrap's first login",
            ],
        ),
        (
            "production",
            {
                "delivery:argocd.accounts": {"platform-lead": {"role": "readonly"}},
                "delivery:argocd.adminEnabled": False,
            },
            ["delivery:argocd.adminEnabled = false: the built-in admin is off and no account"],
        ),
        (
            "development",
            {"delivery:argocd.adminEnabled": False},
            ["delivery:argocd.adminEnabled = false: the built-in admin is off"],
        ),
        (
            "staging",
            {
                "delivery:argocd.accounts": {
                    "admin": {"role": "operator"},
                    "platform-lead": {"role": "operator"},
                }
            },
            ['delivery:argocd.accounts.admin = {"role": "operator"}: admin is Argo CD\'s built-in account'],
        ),
    ],
)
def test_admin_off_without_an_operator_is_refused(
    stack: str, changes: dict[str, Any], expected: list[str]
) -> None:
    assert_refused(stack, changes, expected)


def test_bootstrap_with_admin_on_needs_no_account() -> None:
    doc = yaml.safe_load(stack_file("staging").read_text())["config"]
    doc["delivery:argocd"] = {**doc["delivery:argocd"], "adminEnabled": True}
    doc["delivery:argocd"].pop("accounts")
    run = run_program("staging", TEST_SECRETS, stack_values=doc)
    assert argocd_release(run).plain["values"]["configs"]["cm"]["admin.enabled"] is True


def test_ui_exec_and_anonymous_access_are_off(stack_run: Run) -> None:
    cm = argocd_release(stack_run).plain["values"]["configs"]["cm"]
    assert cm["exec.enabled"] is False
    assert cm["users.anonymous.enabled"] == "false"


# --------------------------------------------------------------------------- notifications


def notifications_secret(run: Run) -> RecordedResource:
    [secret] = [r for r in of_type(run, SECRET) if r.inputs["metadata"]["name"] == NOTIFICATIONS_SECRET]
    return secret


def test_notifications_reach_slack_through_the_secret_webhook(stack_run: Run) -> None:
    release = argocd_release(stack_run)
    notifications = release.plain["values"]["notifications"]
    assert notifications["enabled"] is True
    assert notifications["secret"] == {"create": False, "name": NOTIFICATIONS_SECRET}

    secret = notifications_secret(stack_run)
    assert secret.name in release.depends_on, "the controller must find its Secret at start"
    expected = {SLACK_WEBHOOK_KEY: TEST_SECRETS["slackWebhookUrl"]}
    if stack_run.stack == "staging":
        # Only the stack that sends the staging-deployed dispatch holds its token.
        expected[GITHUB_DISPATCH_KEY] = TEST_SECRETS["argocdDispatchToken"]
    assert secret.plain["stringData"] == expected
    leaves = list(walk(secret.inputs["stringData"]))
    assert leaves and all(is_secret for _, _, is_secret in leaves), "the webhook URL must stay secret"
    assert TEST_SECRETS["slackWebhookUrl"] not in json.dumps(release.plain), "the URL must not reach Helm"
    assert TEST_SECRETS["argocdDispatchToken"] not in json.dumps(release.plain), (
        "the token must not reach Helm"
    )

    services: dict[str, dict[str, Any]] = {}
    for key, text in notifications["notifiers"].items():
        kind, _, name = key.removeprefix("service.").partition(".")
        assert kind == "webhook", key
        service = yaml.safe_load(text)
        assert set(service) <= WEBHOOK_SERVICE_FIELDS, key
        for ref in re.findall(r"\$([\w-]+)", json.dumps(service)):
            assert ref in secret.plain["stringData"], f"{key} refers to ${ref}, which the Secret lacks"
        services[name] = service

    templates = {}
    for key, text in notifications["templates"].items():
        template = yaml.safe_load(text)
        assert set(template) <= TEMPLATE_FIELDS, key
        for service, request in template["webhook"].items():
            assert service in services, f"{key} posts to undeclared webhook {service}"
            assert set(request) <= WEBHOOK_TEMPLATE_FIELDS and request["method"] == "POST"
            if service == GITHUB_DISPATCH_SERVICE:
                # Its payload is checked in test_dispatch_* and by the engine in test_notifications.py.
                assert request["path"] == "/repos/ai-aas/platform/dispatches"
                continue
            # The body is JSON once the Go template runs: stand in for its actions (the
            # notifications engine renders them for real in test_notifications.py).
            *actions, last = request["body"].splitlines()
            assert all(a.startswith("{{- $") and a.endswith(" -}}") for a in actions), actions
            [printf] = [a for a in actions if a.startswith("{{- $text := printf ")]
            assert f"[{stack_run.stack}]" in printf, "messages must name the environment"
            payload = json.loads(last.replace("{{ toJson $text }}", json.dumps('a "quoted" error')))
            assert payload["attachments"][0]["text"] == 'a "quoted" error'
        templates[key.removeprefix("template.")] = template

    triggers = {}
    for key, text in notifications["triggers"].items():
        conditions = yaml.safe_load(text)
        for condition in conditions:
            assert set(condition) <= TRIGGER_FIELDS and {"when", "send"} <= set(condition), key
            assert set(condition["send"]) <= set(templates), key
        triggers[key.removeprefix("trigger.")] = conditions
    assert {"on-deployed", "on-sync-failed", "on-health-degraded"} <= set(triggers)

    subscribed: set[str] = set()
    for subscription in notifications["subscriptions"]:
        assert set(subscription["recipients"]) <= set(services)
        subscribed |= set(subscription["triggers"])
    assert subscribed == set(triggers), "every trigger must reach someone"
    assert (GITHUB_DISPATCH_SERVICE in services) == (stack_run.stack == "staging")


def test_notifications_disabled_means_no_controller_and_no_secret() -> None:
    doc = with_offline_pins(yaml.safe_load(stack_file("staging").read_text())["config"], "staging")
    doc["delivery:argocd"] = {**doc["delivery:argocd"], "notifications": {"enabled": False}}
    run = run_program("staging", TEST_SECRETS, stack_values=doc)
    assert argocd_release(run).plain["values"]["notifications"] == {"enabled": False}
    assert not [r for r in of_type(run, SECRET) if r.inputs["metadata"]["name"] == NOTIFICATIONS_SECRET]
    # Alertmanager's receivers Secret still holds it (warning alerts go to the same webhook).
    others = [r.plain for r in run.resources if r.inputs.get("metadata", {}).get("name") != RECEIVERS_SECRET]
    assert TEST_SECRETS["slackWebhookUrl"] not in json.dumps(others)


# --------------------------------------------------------------------------- repository access


def repository_secret(run: Run) -> RecordedResource:
    [secret] = [
        r
        for r in of_type(run, SECRET)
        if r.inputs["metadata"].get("labels", {}).get("argocd.argoproj.io/secret-type") == "repository"
    ]
    return secret


def test_deploy_key_is_ed25519_read_only_and_titled_for_the_environment(stack_run: Run) -> None:
    config = stack_config(stack_run.stack)
    [key] = of_type(stack_run, PRIVATE_KEY)
    assert key.inputs["algorithm"] == "ED25519"
    [deploy_key] = of_type(stack_run, DEPLOY_KEY)
    assert deploy_key.inputs["readOnly"] is True
    assert deploy_key.inputs["repository"] == config.github.repository
    assert stack_run.stack in deploy_key.inputs["title"]
    assert deploy_key.inputs["key"] == MOCK_OUTPUTS[PRIVATE_KEY]["publicKeyOpenssh"]
    assert deploy_key.provider == "github", "the deploy key must use the owner-bound GitHub provider"


def test_deploy_key_titles_differ_per_environment(runs: dict[str, Run]) -> None:
    titles = {stack: of_type(run, DEPLOY_KEY)[0].inputs["title"] for stack, run in runs.items()}
    assert len(set(titles.values())) == len(STACKS), titles


def test_repository_secret_hands_argo_cd_the_key_for_the_gitops_repository(stack_run: Run) -> None:
    config = stack_config(stack_run.stack)
    secret = repository_secret(stack_run)
    assert secret.inputs["metadata"]["namespace"] == config.argocd.namespace
    data = secret.plain["stringData"]
    assert data == {
        "type": "git",
        "url": config.gitops_repo_url,
        "project": f"platform-{stack_run.stack}",
        "sshPrivateKey": MOCK_PRIVATE_KEY,
    }
    [deploy_key] = of_type(stack_run, DEPLOY_KEY)
    assert deploy_key.name in secret.depends_on


def test_private_key_appears_nowhere_unmarked_as_secret(stack_run: Run) -> None:
    marked = 0
    for res in stack_run.resources:
        for path, value, is_secret in walk(res.inputs):
            if isinstance(value, str) and "PRIVATE KEY" in value:
                assert is_secret, f"{res.name}.{path} carries a private key unmarked"
                marked += 1
    assert marked >= 1, "the repository Secret must carry the key (marked secret)"
    for name, value, is_secret in walk(stack_run.outputs):
        assert not (isinstance(value, str) and "PRIVATE KEY" in value and not is_secret), name
    rendered = "\n".join(render_documents(stack_run).values())
    assert MOCK_PRIVATE_KEY not in rendered and "PRIVATE KEY" not in rendered


# --------------------------------------------------------------------------- staging-deployed dispatch


def test_dispatch_token_is_deployed_only_by_the_stack_that_sends_the_dispatch(runs: dict[str, Run]) -> None:
    token = TEST_SECRETS["argocdDispatchToken"]
    for stack, run in runs.items():
        holders = [r for r in run.resources if token in json.dumps(r.plain)]
        if stack == "staging":
            assert [r.name for r in holders] == [notifications_secret(run).name]
            leaves = [v for _, v, _ in walk(holders[0].inputs["stringData"])]
            assert token in leaves
        else:
            assert holders == [], f"{stack} must not deploy the dispatch token"


def test_dispatch_trigger_fires_once_per_synced_revisions_when_healthy(stack_run: Run) -> None:
    notifications = argocd_release(stack_run).plain["values"]["notifications"]
    if stack_run.stack != "staging":
        assert "trigger.on-staging-deployed" not in notifications["triggers"]
        return
    [condition] = yaml.safe_load(notifications["triggers"]["trigger.on-staging-deployed"])
    assert "'Succeeded'" in condition["when"] and "'Healthy'" in condition["when"]
    # The revisions the sync applied; a multi-source Application reports `revisions` only
    # (argoproj/argo-cd#13188). The engine evaluates both in test_notifications.py.
    assert condition["oncePer"] == (
        "join(app.status.operationState.syncResult.revisions"
        " ?? [app.status.operationState.syncResult.revision], ',')"
    )
    [template] = condition["send"]
    request = yaml.safe_load(notifications["templates"][f"template.{template}"])["webhook"]["github-dispatch"]
    assert '"event_type" "staging-deployed"' in request["body"]
    assert ".app.status.summary.images" in request["body"]
    assert ".app.status.operationState.syncResult.revisions" in request["body"]
    service = yaml.safe_load(notifications["notifiers"]["service.webhook.github-dispatch"])
    assert service["url"] == "https://api.github.com"
    assert {"name": "Authorization", "value": f"Bearer ${GITHUB_DISPATCH_KEY}"} in service["headers"]


@pytest.mark.parametrize(
    ("stack", "changes", "expected"),
    [
        (
            "production",
            {"delivery:argocd.notifications.githubDispatch": True},
            ["delivery:argocd.notifications.githubDispatch = true: the dispatch tells GitHub that staging"],
        ),
        (
            "staging",
            {"delivery:argocd.notifications.enabled": False},
            ["delivery:argocd.notifications.githubDispatch = true: the dispatch is an Argo CD notification"],
        ),
        (
            "production",
            {"delivery:github.workflows.validation.baseUrl": None},
            ["delivery:github.workflows.validation.baseUrl: the stack that manages the repository commits"],
        ),
    ],
)
def test_validation_config_refusals(stack: str, changes: dict[str, Any], expected: list[str]) -> None:
    assert_refused(stack, changes, expected)


def test_argocd_release_keeps_its_crds_on_uninstall(stack_run: Run) -> None:
    # Helm deletes the CRDs it installed with the release unless told to keep them, and
    # with the Application CRD goes every Application and everything they deployed.
    values = argocd_release(stack_run).plain["values"]
    assert values["crds"]["keep"] is True
