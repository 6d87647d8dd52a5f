"""The deployment alerts, run by the real Prometheus rule engine: `promtool check rules` and
`promtool test rules` against synthetic series of the exporters' own metric names.

Every alert has a firing case and non-firing cases, and fires exactly when it should: not
one evaluation before its `for` has run out (or its date has come), and at the first one
after. The durations, dates and severities are each committed stack's own. promtool is built
by `make promtool` (see tools/promtool/).
"""

from __future__ import annotations

import re
import shutil
import subprocess
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from components.monitoring.config import AlertsConfig
from components.monitoring.rules import CREDENTIALS_GROUP, RuleInputs, alerts, credential_alerts, rule_groups
from tests.support.paths import ROOT
from tests.support.promtool import PROMTOOL, render
from tests.support.stacks import stack_config
from tools.offline import STACKS

_UNITS = {"s": 1 / 60, "m": 1, "h": 60, "d": 24 * 60, "w": 7 * 24 * 60}


def minutes(duration: str) -> int:
    """A one-unit Prometheus duration in whole minutes (rounded up)."""
    value, unit = int(duration[:-1]), duration[-1]
    return max(1, -(-int(value * _UNITS[unit] * 60) // 60))


@pytest.fixture(scope="module")
def promtool() -> Path:
    if not PROMTOOL.is_file():
        pytest.skip(f"promtool absent at {PROMTOOL}: build it with `make promtool`")
    return PROMTOOL


def inputs_for(
    environment: Any,
    namespaces: list[str],
    expire_on: date = date(2027, 5, 22),
    kubeconfig_rotate_by: date | None = None,
) -> RuleInputs:
    return RuleInputs(
        environment=environment,
        platform_namespaces=namespaces,
        ci_credentials_expire_on=expire_on,
        kubeconfig_rotate_by=kubeconfig_rotate_by,
    )


def stack_inputs(stack: str) -> RuleInputs:
    """What the program renders the stack's rules from (see __main__.py)."""
    config = stack_config(stack)
    return inputs_for(
        config.environment,
        list(config.platform_namespaces),
        config.pipeline.credentials.expires_on,
        config.cluster.kubeconfig_rotate_by,
    )


def expected(alert_name: str, config: AlertsConfig, inputs: RuleInputs, labels: dict[str, str]) -> Any:
    [alert] = [a for a in alerts(config, inputs) if a.name == alert_name]
    full = {**labels, "severity": alert.severity}
    return {
        "exp_labels": full,
        "exp_annotations": {
            "summary": render(alert.summary, full),
            "description": render(alert.description, full),
        },
    }


def app_info(name: str, sync: str, health: str) -> str:
    """`argocd_app_info` as Prometheus stores it after scraping Argo CD's controller."""
    return (
        f'argocd_app_info{{job="argocd-application-controller-metrics", namespace="argocd", '
        f'exported_namespace="argocd", name="{name}", project="platform", dest_namespace="platform-x", '
        f'dest_server="https://kubernetes.default.svc", repo="git@github.com:ai-aas/platform.git", '
        f'autosync_enabled="true", sync_status="{sync}", health_status="{health}", operation=""}}'
    )


def sync_total(name: str, phase: str) -> str:
    return (
        f'argocd_app_sync_total{{job="argocd-application-controller-metrics", namespace="argocd", '
        f'exported_namespace="argocd", name="{name}", project="platform", '
        f'dest_server="https://kubernetes.default.svc", phase="{phase}", dry_run="false"}}'
    )


def rollout_phase(name: str, phase: str, strategy: str = "canary") -> str:
    return (
        f'rollout_phase{{job="argo-rollouts-metrics", namespace="argo-rollouts", '
        f'exported_namespace="platform-x", name="{name}", strategy="{strategy}", phase="{phase}"}}'
    )


def waiting(namespace: str, pod: str, reason: str) -> str:
    return (
        f'kube_pod_container_status_waiting_reason{{job="kube-state-metrics", namespace="{namespace}", '
        f'pod="{pod}", container="app", uid="u-{pod}", reason="{reason}"}}'
    )


def app_labels(name: str) -> dict[str, str]:
    return {"name": name, "project": "platform", "dest_namespace": "platform-x"}


def rule_tests(config: AlertsConfig, inputs: RuleInputs) -> list[dict[str, Any]]:
    """One promtool test group per deployment alert, each with firing and non-firing evaluations
    (at one-minute evaluations)."""
    tests: list[dict[str, Any]] = []
    namespaces = list(inputs.platform_namespaces)

    def case(alert: str, series: dict[str, str], evals: list[tuple[int, list[dict[str, str]]]]) -> None:
        tests.append(
            {
                "name": alert,
                "interval": "1m",
                "input_series": [{"series": s, "values": v} for s, v in series.items()],
                "alert_rule_test": [
                    {
                        "eval_time": f"{t}m",
                        "alertname": alert,
                        "exp_alerts": [expected(alert, config, inputs, labels) for labels in fired],
                    }
                    for t, fired in evals
                ],
            }
        )

    for alert, status_label, bad, good, hold in (
        ("ArgoCdApplicationOutOfSync", "sync", "OutOfSync", "Synced", minutes(config.out_of_sync_for)),
        ("ArgoCdApplicationDegraded", "health", "Degraded", "Healthy", minutes(config.degraded_for)),
    ):
        run = hold + 10

        def info(name: str, status: str, label: str = status_label) -> str:
            sync, health = (status, "Healthy") if label == "sync" else ("Synced", status)
            return app_info(name, sync, health)

        series = {info("api", bad): f"1x{run}", info("web", good): f"1x{run}"}
        if hold >= 3:
            # `billing` is bad for one minute less than the hold, then recovers: its bad series
            # goes stale (Argo CD stops exporting that label set) and a good one starts.
            series[info("billing", bad)] = f"1x{hold - 2} stale"
            series[info("billing", good)] = f"_x{hold - 1} 1x{run - hold + 1}"
        case(
            alert,
            # `api` stays bad from 0m; `web` is fine throughout.
            series,
            [
                (hold - 1, []),
                (hold, [app_labels("api")]),
                (run, [app_labels("api")]),
            ],
        )

    # promtool's `_xN` is N missing samples; `VxN` is N+1 samples of V.
    window = minutes(config.sync_failed_window)
    # The test starts with `web`'s counter already there: not before one window has passed
    # can the rule tell it from a counter that appeared at 0m, so the events come later.
    first = window + 10  # `api` fails for the first time: its series appears.
    again = first + window + 5  # `web`, which had failed before, fails once more.
    end = again + window + 10
    api = {"name": "api", "project": "platform"}
    web = {"name": "web", "project": "platform"}
    case(
        "ArgoCdApplicationSyncFailed",
        {
            sync_total("api", "Failed"): f"_x{first} 1x{end - first}",
            sync_total("web", "Error"): f"3x{again - 1} 4x{end - again}",
            # `billing` only ever succeeds.
            sync_total("billing", "Succeeded"): f"0+1x{end}",
        },
        [
            (first - 1, []),
            (first, [api]),
            (first + window - 1, [api]),
            (first + window, []),
            (again - 1, []),
            (again, [web]),
            # Ranges are left-open (Prometheus 3): the last sample before the increase leaves
            # the window one scrape interval before the window has passed since the increase.
            (again + window - 2, [web]),
            (again + window - 1, []),
        ],
    )

    case(
        "ArgoRolloutAborted",
        {
            # `api` aborts at 10m; `web` completed its update.
            rollout_phase("api", "Completed"): "1x9 0x30",
            rollout_phase("api", "Abort"): "0x9 1x30",
            rollout_phase("web", "Completed"): "1x40",
            rollout_phase("web", "Abort"): "0x40",
        },
        [
            (10, []),
            (11, [{"exported_namespace": "platform-x", "name": "api", "strategy": "canary"}]),
        ],
    )

    hold = minutes(config.rollout_degraded_for)
    case(
        "ArgoRolloutDegraded",
        {
            rollout_phase("api", "Timeout", "blueGreen"): f"1x{hold + 10}",
            # A paused rollout (waiting for promotion) is not degraded.
            rollout_phase("web", "Paused", "blueGreen"): f"1x{hold + 10}",
            rollout_phase("web", "Timeout", "blueGreen"): f"0x{hold + 10}",
        },
        [
            (hold - 1, []),
            (hold, [{"exported_namespace": "platform-x", "name": "api", "strategy": "blueGreen"}]),
        ],
    )

    hold = minutes(config.crash_looping_for)
    platform = namespaces[0]
    case(
        "PlatformPodCrashLooping",
        {
            waiting(platform, "server-1", "CrashLoopBackOff"): f"1x{hold + 10}",
            # Outside the platform namespaces, and a container merely starting: no alert.
            waiting("team-sandbox", "toy-1", "CrashLoopBackOff"): f"1x{hold + 10}",
            waiting(platform, "server-2", "ContainerCreating"): f"1x{hold + 10}",
        },
        [
            (hold - 1, []),
            (hold, [{"namespace": platform, "pod": "server-1", "container": "app"}]),
        ],
    )

    hold = minutes(config.image_pull_failing_for)
    case(
        "PlatformImagePullFailing",
        {
            # `server-1` fails its first pull (ErrImagePull), then waits in ImagePullBackOff:
            # one series per reason, one alert for the pod.
            waiting(platform, "server-1", "ErrImagePull"): "1x1 stale",
            waiting(platform, "server-1", "ImagePullBackOff"): f"_x2 1x{hold + 8}",
            # Outside the platform namespaces, a crash loop and a container merely starting: no alert.
            waiting("team-sandbox", "toy-1", "ImagePullBackOff"): f"1x{hold + 10}",
            waiting(platform, "server-2", "CrashLoopBackOff"): f"1x{hold + 10}",
            waiting(platform, "server-3", "ContainerCreating"): f"1x{hold + 10}",
        },
        [
            (hold - 1, []),
            (hold, [{"namespace": platform, "pod": "server-1", "container": "app"}]),
        ],
    )
    return tests


DAY = 24 * 60 * 60


def credential_tests(config: AlertsConfig, inputs: RuleInputs) -> list[dict[str, Any]]:
    """The credential alerts at daily evaluations (promtool evaluates every step from the Unix
    epoch to the last eval_time, so minutes would take years of steps): silent the day before
    its date, firing on it, and still firing once the token has expired (or the kubeconfig is
    past its rotation date)."""
    return [_credential_test(alert, config, inputs) for alert in credential_alerts(config, inputs)]


def _credential_test(alert: Any, config: AlertsConfig, inputs: RuleInputs) -> dict[str, Any]:
    match = re.fullmatch(r"vector\(time\(\)\) >= (\d+)", alert.expr)
    assert match, alert.expr
    threshold = int(match.group(1))
    assert threshold % DAY == 0, "expiry dates are midnights UTC"
    warn_day = threshold // DAY
    return {
        "name": alert.name,
        "interval": "1d",
        "input_series": [],
        "alert_rule_test": [
            {
                "eval_time": f"{day}d",
                "alertname": alert.name,
                "exp_alerts": [expected(alert.name, config, inputs, {})] if fires else [],
            }
            for day, fires in (
                (warn_day - 1, False),
                (warn_day, True),
                (warn_day + config.credentials_expiry_warning_days + 30, True),
            )
        ],
    }


def run_promtool(promtool: Path, *args: str, cwd: Path) -> str:
    done = subprocess.run(
        [str(promtool), *args], cwd=cwd, capture_output=True, text=True, check=False, timeout=60
    )
    assert done.returncode == 0, f"promtool {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}"
    return done.stdout


@pytest.mark.parametrize("stack", STACKS)
@pytest.mark.go
def test_every_alert_fires_exactly_when_it_should(promtool: Path, tmp_path: Path, stack: str) -> None:
    alerts_config = stack_config(stack).monitoring.alerts
    inputs = stack_inputs(stack)
    groups = rule_groups(alerts_config, inputs)
    (tmp_path / "rules.yaml").write_text(yaml.safe_dump({"groups": groups}))
    run_promtool(promtool, "check", "rules", "rules.yaml", cwd=tmp_path)
    # The credentials group alone, for the tests that step through the days since 1970.
    credentials = [g for g in groups if g["name"] == CREDENTIALS_GROUP]
    (tmp_path / "credentials.yaml").write_text(yaml.safe_dump({"groups": credentials}))
    by_minute, by_day = rule_tests(alerts_config, inputs), credential_tests(alerts_config, inputs)
    assert {t["name"] for t in by_minute + by_day} == {a.name for a in alerts(alerts_config, inputs)}, (
        "every alert needs its promtool test"
    )
    for test in by_minute + by_day:
        fired = [e for e in test["alert_rule_test"] if e["exp_alerts"]]
        quiet = [e for e in test["alert_rule_test"] if not e["exp_alerts"]]
        assert fired and quiet, f"{test['name']} needs a firing and a non-firing evaluation"
    for name, rule_file, interval, tests in (
        ("tests.yaml", "rules.yaml", "1m", by_minute),
        ("credential-tests.yaml", "credentials.yaml", "1d", by_day),
    ):
        spec = {"rule_files": [rule_file], "evaluation_interval": interval, "tests": tests}
        (tmp_path / name).write_text(yaml.safe_dump(spec, sort_keys=False, width=1000))
        out = run_promtool(promtool, "test", "rules", name, cwd=tmp_path)
        assert "SUCCESS" in out


@pytest.mark.go
def test_promtool_catches_an_alert_that_fires_too_early(promtool: Path, tmp_path: Path) -> None:
    """The harness can fail: a rule with `for` one minute short fails the same cases."""
    config = AlertsConfig()
    inputs = inputs_for("staging", ["argocd", "monitoring"])
    groups = rule_groups(config, inputs)
    for rule in groups[0]["rules"]:
        if rule["alert"] == "ArgoCdApplicationDegraded":
            rule["for"] = f"{minutes(config.degraded_for) - 1}m"
    (tmp_path / "rules.yaml").write_text(yaml.safe_dump({"groups": groups}))
    tests = [t for t in rule_tests(config, inputs) if t["name"] == "ArgoCdApplicationDegraded"]
    spec = {"rule_files": ["rules.yaml"], "evaluation_interval": "1m", "tests": tests}
    (tmp_path / "tests.yaml").write_text(yaml.safe_dump(spec, sort_keys=False, width=1000))
    done = subprocess.run(
        [str(promtool), "test", "rules", "tests.yaml"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode != 0 and "ArgoCdApplicationDegraded" in done.stdout + done.stderr


@pytest.mark.go
def test_promtool_is_the_pinned_prometheus(promtool: Path) -> None:
    """A binary built before tools/promtool/go.mod changed would test another rule engine."""
    go = shutil.which("go")
    if go is None:
        pytest.skip("go absent: cannot read the module versions built into promtool")
    [pinned] = re.findall(
        r"^\s*github\.com/prometheus/prometheus (v\S+)",
        (ROOT / "tools" / "promtool" / "go.mod").read_text(),
        flags=re.MULTILINE,
    )
    built = subprocess.run([go, "version", "-m", str(promtool)], capture_output=True, text=True, check=True)
    assert re.search(
        rf"^\s*mod\s+github\.com/prometheus/prometheus\s+{re.escape(pinned)}\s", built.stdout, re.M
    ), f"promtool is not Prometheus {pinned}: rebuild it with `make promtool`"


@pytest.mark.parametrize("environment", STACKS)
def test_every_alert_has_a_routed_severity(environment: Any) -> None:
    for alert in alerts(AlertsConfig(), inputs_for(environment, ["argocd"])):
        assert alert.severity in ("critical", "warning"), alert.name


@pytest.mark.go
def test_promtool_catches_a_credentials_alert_a_day_early(promtool: Path, tmp_path: Path) -> None:
    """The daily harness can fail too: a rule warning one day earlier fails the same cases."""
    config = AlertsConfig()
    inputs = inputs_for("production", ["argocd"])
    [group] = [g for g in rule_groups(config, inputs) if g["name"] == CREDENTIALS_GROUP]
    [rule] = group["rules"]
    threshold = int(rule["expr"].rsplit(" ", 1)[1])
    rule["expr"] = f"vector(time()) >= {threshold - DAY}"
    (tmp_path / "credentials.yaml").write_text(yaml.safe_dump({"groups": [group]}))
    spec = {
        "rule_files": ["credentials.yaml"],
        "evaluation_interval": "1d",
        "tests": credential_tests(config, inputs),
    }
    (tmp_path / "tests.yaml").write_text(yaml.safe_dump(spec, sort_keys=False, width=1000))
    done = subprocess.run(
        [str(promtool), "test", "rules", "tests.yaml"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode != 0 and "CiCredentialsExpiring" in done.stdout + done.stderr


def test_the_credential_test_cases_are_the_rules_date() -> None:
    """Without promtool, at least the cases' days: the warning day is expiry minus the lead."""
    config = AlertsConfig(credentials_expiry_warning_days=14)
    inputs = inputs_for("staging", ["argocd"], date(2027, 5, 22))
    [test] = credential_tests(config, inputs)
    days = [int(e["eval_time"].removesuffix("d")) for e in test["alert_rule_test"]]
    assert date(1970, 1, 1) + timedelta(days=days[1]) == date(2027, 5, 8)
    assert [bool(e["exp_alerts"]) for e in test["alert_rule_test"]] == [False, True, True]
