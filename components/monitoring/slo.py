"""Service level objectives of the platform's services, as multi-window multi-burn-rate alerts
(pure: no Pulumi).

Two SLOs per service, thresholds from ``monitoring.slo`` (seed 003's defaults):

- availability: at most ``100 - availability`` percent of requests fail (5xx); 99.9 % by
  default ("Production Health: Availability > 99.9 %");
- latency: at least ``latencyPercentile`` percent of requests finish within
  ``latencyThresholdSeconds``, i.e. P95 under 1 s by default ("Response time P95 < 1000ms").

Each SLO's error budget burns at ``bad ratio / budget``. As the Google SRE workbook's
"Alerting on SLOs" (multiwindow, multi-burn-rate) recommends, an alert needs the burn rate
above its factor over a long window *and* a short one (the short one makes it stop soon
after the burning stops):

- fast: 14.4x over 1h and 5m, or 6x over 6h and 30m (2 % and 5 % of a 30-day budget):
  severity ``critical`` in production (PagerDuty), ``warning`` elsewhere;
- slow: 3x over 1d and 2h, or 1x over 3d and 6h: severity ``warning`` (Slack).

Alertmanager routes by severity (stack_values.py). The metrics are the services' own
contract (analysis.py of the gitops domain): ``http_requests_total{code}`` and the histogram
``http_request_duration_seconds``, with the ``namespace`` and ``service`` target labels.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from components.config.base import Environment
from components.monitoring.config import SloConfig

GROUP_RECORDING = "delivery.slo.recording"
GROUP_ALERTS = "delivery.slo.alerts"
WINDOWS = ("5m", "30m", "1h", "2h", "6h", "1d", "3d")
ERRORS_RECORD = "slo:http_errors:ratio_rate{window}"
SLOW_RECORD = "slo:http_slow:ratio_rate{window}"


@dataclass(frozen=True)
class BurnRule:
    """Burn above ``factor`` over both windows."""

    factor: float
    long: str
    short: str


FAST = (BurnRule(14.4, "1h", "5m"), BurnRule(6, "6h", "30m"))
SLOW = (BurnRule(3, "1d", "2h"), BurnRule(1, "3d", "6h"))
FAST_FOR = "2m"
SLOW_FOR = "15m"


def _selector(services: Mapping[str, str]) -> str:
    names = "|".join(sorted(services))
    namespaces = "|".join(sorted(set(services.values())))
    return f'namespace=~"{namespaces}", service=~"{names}"'


def _le(seconds: float) -> str:
    """The bucket's ``le`` label as client libraries write it ("1" from Go, "1.0" from Python;
    Prometheus 3 normalises to the latter)."""
    text = f"{seconds:g}"
    forms = {text, f"{float(seconds)!r}"}
    return "|".join(sorted(f.replace(".", "\\\\.") for f in forms))


def recording_rules(slo: SloConfig, services: Mapping[str, str]) -> list[dict[str, Any]]:
    selector = _selector(services)
    by = "sum by (namespace, service)"
    rules: list[dict[str, Any]] = []
    for window in WINDOWS:
        rules.append(
            {
                "record": ERRORS_RECORD.format(window=window),
                "expr": (
                    f'{by} (rate(http_requests_total{{{selector}, code=~"5.."}}[{window}]))\n'
                    f"/\n{by} (rate(http_requests_total{{{selector}}}[{window}]))"
                ),
            }
        )
        rules.append(
            {
                "record": SLOW_RECORD.format(window=window),
                "expr": (
                    f"1 - (\n  {by} (rate(http_request_duration_seconds_bucket"
                    f'{{{selector}, le=~"{_le(slo.latency_threshold_seconds)}"}}[{window}]))\n'
                    f"  /\n  {by} (rate(http_request_duration_seconds_count{{{selector}}}[{window}]))\n)"
                ),
            }
        )
    return rules


def _burning(record: str, budget: float, rules: tuple[BurnRule, ...]) -> str:
    parts = [
        f"({record.format(window=r.long)} > ({r.factor:g} * {budget:g})"
        f" and {record.format(window=r.short)} > ({r.factor:g} * {budget:g}))"
        for r in rules
    ]
    return "\nor\n".join(parts)


@dataclass(frozen=True)
class SloAlert:
    name: str
    expr: str
    for_: str
    severity: str
    summary: str
    description: str

    def rule(self) -> dict[str, Any]:
        return {
            "alert": self.name,
            "expr": self.expr,
            "for": self.for_,
            "labels": {"severity": self.severity},
            "annotations": {"summary": self.summary, "description": self.description},
        }


def slo_alerts(environment: Environment, slo: SloConfig) -> list[SloAlert]:
    fast_severity = "critical" if environment == "production" else "warning"
    error_budget = slo.error_budget
    latency_budget = slo.latency_budget
    target = f"{slo.availability_percent:g} %"
    latency = f"P{slo.latency_percentile:g} under {slo.latency_threshold_seconds:g} s"
    alerts = []
    for speed, rules, severity, for_ in (
        ("Fast", FAST, fast_severity, FAST_FOR),
        ("Slow", SLOW, "warning", SLOW_FOR),
    ):
        pace = (
            "fast: 14.4x over 1h and 5m, or 6x over 6h and 30m"
            if speed == "Fast"
            else ("slow: 3x over 1d and 2h, or 1x over 3d and 6h")
        )
        alerts.append(
            SloAlert(
                name=f"ServiceErrorBudgetBurn{speed}",
                expr=_burning(ERRORS_RECORD, error_budget, rules),
                for_=for_,
                severity=severity,
                summary="{{ $labels.service }} in {{ $labels.namespace }} burns its availability budget",
                description=(
                    f"More than the {target} availability objective allows of the requests to "
                    f"{{{{ $labels.service }}}} fail (5xx), at a burn rate that is {pace}."
                ),
            )
        )
        alerts.append(
            SloAlert(
                name=f"ServiceLatencyBudgetBurn{speed}",
                expr=_burning(SLOW_RECORD, latency_budget, rules),
                for_=for_,
                severity=severity,
                summary="{{ $labels.service }} in {{ $labels.namespace }} burns its latency budget",
                description=(
                    f"Too many requests to {{{{ $labels.service }}}} are slower than the objective "
                    f"({latency}), at a burn rate that is {pace}."
                ),
            )
        )
    return alerts


def slo_rule_groups(
    environment: Environment, slo: SloConfig, services: Mapping[str, str]
) -> list[dict[str, Any]]:
    """The recording rules and the burn-rate alerts; none without services."""
    if not services:
        return []
    return [
        {"name": GROUP_RECORDING, "rules": recording_rules(slo, services)},
        {"name": GROUP_ALERTS, "rules": [a.rule() for a in slo_alerts(environment, slo)]},
    ]
