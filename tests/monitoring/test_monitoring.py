"""Monitoring on every stack: the pinned kube-prometheus-stack release sized from config, HA in
production, the Argo charts' ServiceMonitors, the alert rules' resource, Alertmanager's routes
and the receivers' secrets kept out of Helm."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from components.contracts.monitoring import SELECTOR_LABELS
from components.kubernetes.helm import chart_name, chart_reference
from components.monitoring.rules import (
    CREDENTIALS_GROUP,
    GROUP_NAME,
    RULE_NAME,
    RuleInputs,
    alerts,
    prometheus_rule,
)
from components.monitoring.slo import GROUP_ALERTS, GROUP_RECORDING, slo_alerts, slo_rule_groups
from components.monitoring.stack_values import (
    PAGERDUTY_ROUTING_KEY,
    RECEIVERS_SECRET,
    RELEASE_NAME,
    ROUTES,
    SECRETS_DIR,
    SLACK_WEBHOOK_KEY,
    alertmanager_config,
)
from tests.support.charts import argocd_release, chart_values, monitoring_release, unknown_key_paths
from tests.support.paths import ROOT
from tests.support.stacks import TEST_SECRETS, stack_config
from tests.support.types import PROMETHEUS_RULE, RELEASE, SECRET
from tools.offline import Run, walk
from tools.toolcache import tools_cache

SCHEMAS = ROOT / "components" / "schemas"
AMTOOL = tools_cache() / "amtool"

# Maps the chart passes on verbatim (its default is `{}` or a sample): checked by their own
# tests below instead of against the chart's values.yaml.
FREE_FORM = {
    # The subcharts' image maps (kube-state-metrics: registry, repository, tag, sha;
    # prometheus-node-exporter: registry, repository, tag, digest), which the parent's values.yaml
    # does not show: tests/kubernetes/test_chart_images.py checks what they render.
    "kube-state-metrics.image",
    "prometheus-node-exporter.image",
    "grafana.image",
    "grafana.sidecar.image",
    "alertmanager.config",
    "alertmanager.alertmanagerSpec.storage",
    "prometheus.prometheusSpec.storageSpec",
    "prometheus.prometheusSpec.externalLabels",
}


SLO_GROUPS = [GROUP_RECORDING, GROUP_ALERTS]


def values(run: Run) -> dict[str, Any]:
    return dict(monitoring_release(run).plain["values"])


def chart_key_problems(ours: dict[str, Any], chart: dict[str, Any]) -> list[str]:
    """Key paths the chart does not have, the free-form maps left out."""

    def strip(node: Any, path: str) -> Any:
        if not isinstance(node, dict):
            return node
        return {
            k: strip(v, f"{path}.{k}" if path else k)
            for k, v in node.items()
            if (f"{path}.{k}" if path else k) not in FREE_FORM
        }

    return unknown_key_paths(strip(ours, ""), chart)


# --------------------------------------------------------------------------- the release


def test_one_pinned_monitoring_release_on_the_stack_cluster(stack_run: Run) -> None:
    config = stack_config(stack_run.stack)
    release = monitoring_release(stack_run)
    assert "repositoryOpts" not in release.inputs
    assert release.inputs["chart"] == chart_reference(
        "oci://ghcr.io/prometheus-community/charts", "kube-prometheus-stack", config.monitoring.chart_digest
    )
    assert release.inputs["version"] == config.monitoring.chart_version == "88.5.3"
    assert release.inputs["name"] == RELEASE_NAME
    assert release.inputs["namespace"] == config.monitoring.namespace
    assert (
        release.inputs["atomic"] is True
        and release.inputs["timeout"] == config.monitoring.helm_timeout_seconds
    )
    [provider] = [r.name for r in stack_run.resources if r.type == "pulumi:providers:kubernetes"]
    assert release.provider == provider


def test_monitoring_values_use_only_chart_keys(stack_run: Run) -> None:
    release = monitoring_release(stack_run)
    chart = chart_values("kube-prometheus-stack", release.inputs["version"])
    assert chart_key_problems(release.plain["values"], chart) == []


def test_chart_key_check_catches_typos() -> None:
    chart = chart_values("kube-prometheus-stack", "88.5.3")
    bad = {
        "prometheus": {"prometheusSpec": {"retentionTime": "10d", "storageSpec": {"anything": 1}}},
        "alertmanager": {"alertmanagerSpec": {"configSecret": "x"}},
        "grafana": False,
    }
    assert sorted(chart_key_problems(bad, chart)) == [
        "alertmanager.alertmanagerSpec.configSecret",
        "grafana (bool where the chart has dict)",
        "prometheus.prometheusSpec.retentionTime",
    ]


def test_sized_from_config(stack_run: Run) -> None:
    config = stack_config(stack_run.stack).monitoring
    spec = values(stack_run)["prometheus"]["prometheusSpec"]
    assert spec["replicas"] == config.prometheus.replicas
    assert spec["retention"] == config.prometheus.retention
    claim = spec["storageSpec"]["volumeClaimTemplate"]["spec"]
    assert claim["resources"]["requests"]["storage"] == f"{config.prometheus.storage_gi}Gi"
    # Size-based retention stays inside the volume.
    assert int(spec["retentionSize"].removesuffix("GiB")) < config.prometheus.storage_gi
    am = values(stack_run)["alertmanager"]["alertmanagerSpec"]
    assert am["replicas"] == config.alertmanager.replicas
    storage = am["storage"]["volumeClaimTemplate"]["spec"]["resources"]["requests"]["storage"]
    assert storage == f"{config.alertmanager.storage_gi}Gi"
    assert spec["externalLabels"] == {"environment": stack_run.stack}


def test_production_monitoring_is_highly_available(runs: dict[str, Run]) -> None:
    production = values(runs["production"])
    for component, spec in (("prometheus", "prometheusSpec"), ("alertmanager", "alertmanagerSpec")):
        assert production[component][spec]["replicas"] >= 2, component
        assert production[component][spec]["podAntiAffinity"] == "hard", component
        assert production[component]["podDisruptionBudget"]["enabled"] is True, component
    development = values(runs["development"])
    assert development["prometheus"]["prometheusSpec"]["replicas"] == 1
    assert "podAntiAffinity" not in development["prometheus"]["prometheusSpec"]


def test_grafana_is_on_without_a_chart_default_password_and_unscrapable_control_plane_left_alone(
    stack_run: Run,
) -> None:
    chosen = values(stack_run)
    grafana = chosen["grafana"]
    # No adminPassword: the grafana chart generates a random one (seeds 002/004 run Grafana).
    assert grafana["enabled"] is True and "adminPassword" not in grafana and "admin" not in grafana
    assert grafana["sidecar"]["dashboards"]["provider"] == {"allowUiUpdates": False}
    for component in ("kubeEtcd", "kubeControllerManager", "kubeScheduler"):
        assert chosen[component] == {"enabled": False}, component


# --------------------------------------------------------------------------- scraping the Argo charts


def test_argo_cd_metrics_are_scraped_by_this_prometheus(stack_run: Run) -> None:
    argocd = argocd_release(stack_run).plain["values"]
    for component in ("controller", "server", "repoServer", "applicationSet"):
        metrics = argocd[component]["metrics"]
        assert metrics["enabled"] is True, component
        assert metrics["serviceMonitor"] == {"enabled": True, "additionalLabels": SELECTOR_LABELS}, component


def test_rollouts_metrics_are_scraped_where_rollouts_run(stack_run: Run) -> None:
    releases = [
        r for r in stack_run.recorder.of_type(RELEASE) if chart_name(r.inputs["chart"]) == "argo-rollouts"
    ]
    for release in releases:
        metrics = release.plain["values"]["controller"]["metrics"]
        assert metrics == {
            "enabled": True,
            "serviceMonitor": {"enabled": True, "additionalLabels": SELECTOR_LABELS},
        }


def test_argo_releases_wait_for_the_servicemonitor_crd(stack_run: Run) -> None:
    """They declare ServiceMonitors; on destroy Pulumi removes them before the monitoring stack."""
    monitoring = monitoring_release(stack_run).name
    argo = [
        r
        for r in stack_run.recorder.of_type(RELEASE)
        if chart_name(r.inputs["chart"]) in ("argo-cd", "argo-rollouts")
    ]
    assert argo
    for release in argo:
        assert monitoring in release.depends_on, release.name


# --------------------------------------------------------------------------- alert rules


@cache
def rule_validator() -> jsonschema.Draft7Validator:
    schema = json.loads((SCHEMAS / "monitoring.coreos.com" / "prometheusrule_v1.json").read_text())
    return jsonschema.Draft7Validator(schema)


def test_every_stack_declares_its_alert_rules(stack_run: Run) -> None:
    config = stack_config(stack_run.stack)
    [rule] = stack_run.recorder.of_type(PROMETHEUS_RULE)
    doc = rule.plain
    assert doc["metadata"]["name"] == RULE_NAME
    assert doc["metadata"]["namespace"] == config.monitoring.namespace
    # Picked up by the chart's default rule selector.
    assert doc["metadata"]["labels"]["release"] == RELEASE_NAME
    assert [e.message for e in rule_validator().iter_errors(doc)] == []
    assert set(doc) == {"apiVersion", "kind", "metadata", "spec"}
    assert monitoring_release(stack_run).name in rule.depends_on
    # The deployment and credential alerts, then every service's SLO rules (slo.py).
    assert [g["name"] for g in doc["spec"]["groups"]] == [GROUP_NAME, CREDENTIALS_GROUP, *SLO_GROUPS]
    names = [r["alert"] for group in doc["spec"]["groups"][:2] for r in group["rules"]]
    assert names == [a.name for a in alerts(config.monitoring.alerts, rule_inputs(config))]
    services = {name: config.service_namespace(name) for name in config.services}
    assert doc["spec"]["groups"][2:] == slo_rule_groups(config.environment, config.monitoring.slo, services)


def rule_inputs(config: Any) -> RuleInputs:
    """What the program renders a stack's rules from, read from its config."""
    return RuleInputs(
        environment=config.environment,
        platform_namespaces=config.platform_namespaces,
        ci_credentials_expire_on=config.pipeline.credentials.expires_on,
        kubeconfig_rotate_by=config.cluster.kubeconfig_rotate_by,
    )


def test_rule_schema_check_rejects_typos() -> None:
    doc = prometheus_rule(
        "monitoring", stack_config("staging").monitoring.alerts, rule_inputs(stack_config("staging"))
    )
    doc["spec"]["groups"][0]["rules"][0]["fore"] = "10m"
    assert any("fore" in e.message for e in rule_validator().iter_errors(doc))


def test_crash_loop_alert_watches_every_platform_namespace(stack_run: Run) -> None:
    config = stack_config(stack_run.stack)
    [rule] = stack_run.recorder.of_type(PROMETHEUS_RULE)
    [crash] = [r for r in rule.plain["spec"]["groups"][0]["rules"] if r["alert"] == "PlatformPodCrashLooping"]
    [pattern] = re.findall(r'namespace=~"([^"]+)"', crash["expr"])
    watched = set(pattern.split("|"))
    expected = {config.argocd.namespace, config.monitoring.namespace}
    expected |= {config.service_namespace(s) for s in config.services}
    if config.rollouts_enabled:
        expected.add(config.argocd.rollouts.namespace)
    assert watched == expected


def test_image_pull_failures_page_in_production_and_warn_elsewhere(stack_run: Run) -> None:
    """An expired pull token (ghcrPullToken) stops every new pod of every namespace the
    Applications deploy to: the alert watches the same namespaces as the crash-loop alert."""
    [rule] = stack_run.recorder.of_type(PROMETHEUS_RULE)
    rules = {r["alert"]: r for r in rule.plain["spec"]["groups"][0]["rules"]}
    pulls = rules["PlatformImagePullFailing"]
    assert 'reason=~"ErrImagePull|ImagePullBackOff"' in pulls["expr"]
    [crash_namespaces] = re.findall(r'namespace=~"([^"]+)"', rules["PlatformPodCrashLooping"]["expr"])
    assert re.findall(r'namespace=~"([^"]+)"', pulls["expr"]) == [crash_namespaces]
    assert pulls["labels"]["severity"] == ("critical" if stack_run.stack == "production" else "warning")
    assert ROUTES[pulls["labels"]["severity"]] == (
        "pagerduty" if stack_run.stack == "production" else "slack"
    )


def test_the_credentials_alert_warns_ahead_of_the_expiry_the_stack_mints(stack_run: Run) -> None:
    """The date comes from `pipeline.credentials` (the one the Linode tokens are minted with)."""
    config = stack_config(stack_run.stack)
    [rule] = stack_run.recorder.of_type(PROMETHEUS_RULE)
    [group] = [g for g in rule.plain["spec"]["groups"] if g["name"] == CREDENTIALS_GROUP]
    [expiring] = [r for r in group["rules"] if r["alert"] == "CiCredentialsExpiring"]
    match = re.fullmatch(r"vector\(time\(\)\) >= (\d+)", expiring["expr"])
    assert match, expiring["expr"]
    threshold = match.group(1)
    expires = datetime.fromisoformat(config.pipeline.credentials.expiry.replace("Z", "+00:00"))
    lead = timedelta(days=config.monitoring.alerts.credentials_expiry_warning_days)
    assert datetime.fromtimestamp(int(threshold), tz=UTC) == expires - lead
    assert expiring["labels"]["severity"] == "warning"
    assert expires.date().isoformat() in expiring["annotations"]["summary"]
    assert "for" not in expiring, "a date needs no `for`"


# --------------------------------------------------------------------------- alertmanager


def route_for(labels: dict[str, str]) -> str:
    """Alertmanager's routing for these configs: the first child route whose matchers all hold."""
    route = alertmanager_config()["route"]
    for child in route["routes"]:
        matchers = [re.fullmatch(r'(\w+)="([^"]*)"', m) for m in child["matchers"]]
        if all(m and labels.get(m.group(1)) == m.group(2) for m in matchers):
            return str(child["receiver"])
    return str(route["receiver"])


def test_critical_pages_warning_goes_to_slack_and_the_rest_nowhere() -> None:
    assert route_for({"alertname": "ArgoCdApplicationDegraded", "severity": "critical"}) == "pagerduty"
    assert route_for({"alertname": "ArgoCdApplicationOutOfSync", "severity": "warning"}) == "slack"
    assert route_for({"alertname": "Watchdog", "severity": "none"}) == "null"
    assert route_for({"alertname": "KubeCPUOvercommit", "severity": "info"}) == "null"
    receivers = {r["name"] for r in alertmanager_config()["receivers"]}
    assert set(ROUTES.values()) | {"null"} == receivers


@pytest.fixture(scope="module")
def amtool() -> Path:
    if not AMTOOL.is_file():
        pytest.skip(f"amtool absent at {AMTOOL}: build it with `make amtool`")
    return AMTOOL


def routes_test(amtool: Path, config_file: Path, receiver: str, labels: dict[str, str]) -> bool:
    """Whether Alertmanager's own router sends an alert with `labels` to exactly `receiver`."""
    done = subprocess.run(
        [
            str(amtool),
            "config",
            "routes",
            "test",
            f"--config.file={config_file}",
            f"--verify.receivers={receiver}",
            *(f"{k}={v}" for k, v in labels.items()),
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    return done.returncode == 0


@pytest.mark.go
def test_alertmanager_itself_accepts_the_config_and_routes_every_alert(
    amtool: Path, tmp_path: Path, stack_run: Run
) -> None:
    config_file = tmp_path / "alertmanager.yaml"
    config_file.write_text(yaml.safe_dump(values(stack_run)["alertmanager"]["config"]))
    checked = subprocess.run(
        [str(amtool), "check-config", str(config_file)],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    config = stack_config(stack_run.stack)
    for alert in alerts(config.monitoring.alerts, rule_inputs(config)):
        labels = {"alertname": alert.name, "severity": alert.severity, "namespace": "argocd"}
        assert routes_test(amtool, config_file, ROUTES[alert.severity], labels), alert.name
    # The SLO burn-rate alerts too: fast burn pages in production, everything else reaches Slack.
    for slo_alert in slo_alerts(config.environment, config.monitoring.slo):
        labels = {"alertname": slo_alert.name, "severity": slo_alert.severity, "namespace": "platform"}
        assert routes_test(amtool, config_file, ROUTES[slo_alert.severity], labels), slo_alert.name
    assert routes_test(amtool, config_file, "null", {"alertname": "Watchdog", "severity": "none"})
    # The check can fail: a critical alert does not reach Slack.
    assert not routes_test(amtool, config_file, "slack", {"alertname": "X", "severity": "critical"})


@pytest.mark.go
def test_amtool_is_the_pinned_alertmanager(amtool: Path) -> None:
    """A binary built before tools/amtool/go.mod changed would check another Alertmanager."""
    go = shutil.which("go")
    if go is None:
        pytest.skip("go absent: cannot read the module versions built into amtool")
    [pinned] = re.findall(
        r"^\s*github\.com/prometheus/alertmanager (v\S+)",
        (ROOT / "tools" / "amtool" / "go.mod").read_text(),
        flags=re.MULTILINE,
    )
    built = subprocess.run([go, "version", "-m", str(amtool)], capture_output=True, text=True, check=True)
    pattern = rf"^\s*mod\s+github\.com/prometheus/alertmanager\s+{re.escape(pinned)}\s"
    assert re.search(pattern, built.stdout, re.M), f"amtool is not Alertmanager {pinned}: `make amtool`"


def test_receivers_read_their_credentials_from_the_mounted_secret(stack_run: Run) -> None:
    config = values(stack_run)["alertmanager"]
    assert config["alertmanagerSpec"]["secrets"] == [RECEIVERS_SECRET]
    receivers = {r["name"]: r for r in config["config"]["receivers"]}
    [pagerduty] = receivers["pagerduty"]["pagerduty_configs"]
    assert pagerduty["routing_key_file"] == f"{SECRETS_DIR}/{PAGERDUTY_ROUTING_KEY}"
    assert "routing_key" not in pagerduty and "service_key" not in pagerduty
    [slack] = receivers["slack"]["slack_configs"]
    assert slack["api_url_file"] == f"{SECRETS_DIR}/{SLACK_WEBHOOK_KEY}"
    assert "api_url" not in slack
    assert "slack_api_url" not in config["config"]["global"]


def test_receiver_secrets_stay_in_a_kubernetes_secret(stack_run: Run) -> None:
    config = stack_config(stack_run.stack)
    [secret] = [
        r for r in stack_run.recorder.of_type(SECRET) if r.inputs["metadata"]["name"] == RECEIVERS_SECRET
    ]
    assert secret.inputs["metadata"]["namespace"] == config.monitoring.namespace
    assert secret.plain["stringData"] == {
        PAGERDUTY_ROUTING_KEY: TEST_SECRETS["pagerdutyRoutingKey"],
        SLACK_WEBHOOK_KEY: TEST_SECRETS["slackWebhookUrl"],
    }
    leaves = list(walk(secret.inputs["stringData"]))
    assert leaves and all(is_secret for _, _, is_secret in leaves), (
        "the receivers' credentials must stay secret"
    )
    assert secret.name in monitoring_release(stack_run).depends_on, "Alertmanager mounts it at start"
    # The routing key reaches nothing else, and neither credential reaches Helm.
    # Besides Alertmanager, only production's main-only observer environment holds it, as an
    # environment secret: promote.yml's production-health job pages with it when production
    # is unhealthy after a sync (tests/github/workflows/test_production_health.py). A routing key can only
    # open incidents on its one PagerDuty service.
    paging = [
        r
        for r in stack_run.resources
        if r.type == "github:index/actionsEnvironmentSecret:ActionsEnvironmentSecret"
        and r.plain["secretName"] == "PAGERDUTY_ROUTING_KEY"
    ]
    assert [r.plain["environment"] for r in paging] == (
        ["production-observer"] if stack_run.stack == "production" else []
    )
    assert all(is_secret for r in paging for _, _, is_secret in walk(r.inputs["value"]))
    others = json.dumps([r.plain for r in stack_run.resources if r is not secret and r not in paging])
    assert TEST_SECRETS["pagerdutyRoutingKey"] not in others
    for key in ("pagerdutyRoutingKey", "slackWebhookUrl"):
        assert TEST_SECRETS[key] not in json.dumps(monitoring_release(stack_run).plain), key
