"""Staging and production run nothing that can change under them: charts installed by digest,
every image the charts deploy and the platform's own images pinned by digest."""

from __future__ import annotations

from typing import TYPE_CHECKING

from components.config.base import _MISSING, Problem
from components.monitoring.config import MONITORING_IMAGES

if TYPE_CHECKING:
    from components.config.stack import StackConfig


def pod_policy_problems(config: StackConfig) -> list[Problem]:
    """Staging and production never run a platform image that is not pinned by digest:
    what staging validated is what production runs, byte for byte."""
    if config.environment == "development":
        return []
    policies = config.pod_policies
    why = f"{config.environment} refuses Pods whose platform images are not pinned by digest"
    if not policies.enabled:
        return [Problem("podPolicies.enabled", False, f"{why}; allowed: true")]
    if "Deny" not in policies.image_digest_actions:
        return [
            Problem(
                "podPolicies.imageDigestActions",
                list(policies.image_digest_actions),
                f"{why}; allowed: [Deny] or [Deny, Audit]",
            )
        ]
    return []


def chart_pin_problems(config: StackConfig) -> list[Problem]:
    """Staging and production install every chart by digest and run every image the charts
    deploy by digest: a chart or image tag can be moved to other content, a digest cannot.
    No default exists for either; only the registry gives them (docs/supply-chain.md)."""
    env = config.environment
    rollouts = config.argocd.rollouts
    tracing = config.monitoring.tracing
    deployed: list[tuple[str, list[str], list[str]]] = [
        ("argocd", list(config.argocd.deployed_images), list(config.argocd.images)),
        ("monitoring", list(MONITORING_IMAGES), list(config.monitoring.images)),
        ("argocd.rollouts", ["controller"] if config.rollouts_enabled else [], list(rollouts.images)),
        (
            "monitoring.tracing",
            (["collector"] if tracing.enabled else []) + (["jaeger"] if tracing.in_cluster_jaeger else []),
            list(tracing.images),
        ),
        ("ingress", list(config.ingress.deployed_images()), list(config.ingress.images)),
    ]
    if env == "development":
        return []
    why = f"{env} installs its Helm charts by digest only"
    charts: list[tuple[str, str | None, str, str]] = [
        (
            "argocd",
            config.argocd.chart_digest,
            "ghcr.io/argoproj/argo-helm/argo-cd",
            config.argocd.chart_version,
        ),
        (
            "monitoring",
            config.monitoring.chart_digest,
            "ghcr.io/prometheus-community/charts/kube-prometheus-stack",
            config.monitoring.chart_version,
        ),
    ]
    if config.rollouts_enabled:
        charts.append(
            (
                "argocd.rollouts",
                rollouts.chart_digest,
                "ghcr.io/argoproj/argo-helm/argo-rollouts",
                rollouts.chart_version,
            )
        )
    if tracing.enabled:
        charts.append(
            (
                "monitoring.tracing",
                tracing.chart_digest,
                "ghcr.io/open-telemetry/opentelemetry-helm-charts/opentelemetry-collector",
                tracing.chart_version,
            )
        )
    ingress_charts = (
        (
            "ingress.traefikChartDigest",
            config.ingress.install_controller,
            config.ingress.traefik_chart_digest,
            "ghcr.io/traefik/helm/traefik",
            config.ingress.traefik_chart_version,
        ),
        (
            "ingress.certManagerChartDigest",
            True,
            config.ingress.cert_manager_chart_digest,
            "quay.io/jetstack/charts/cert-manager",
            config.ingress.cert_manager_chart_version,
        ),
    )
    problems = [
        Problem(
            key,
            _MISSING,
            f"{why}; allowed: the sha256 digest of {ref}:{version} "
            f"(`oras resolve {ref}:{version}` or `crane digest {ref}:{version}`)",
        )
        for key, installed, digest, ref, version in ingress_charts
        if config.ingress.enabled and installed and digest is None
    ]
    problems += [
        Problem(
            f"{key}.chartDigest",
            _MISSING,
            f"{why}; allowed: the sha256 digest of {ref}:{version} "
            f"(`oras resolve {ref}:{version}` or `crane digest {ref}:{version}`)",
        )
        for key, digest, ref, version in charts
        if digest is None
    ]
    problems += [
        Problem(
            f"{key}.images.{image}",
            _MISSING,
            f"{env} runs every image its charts deploy by digest, never by a tag alone; allowed: "
            "<registry>/<repository>:<tag>@sha256:<64 hex> of the image the chart's version runs "
            "(`crane digest <registry>/<repository>:<tag>`)",
        )
        for key, runs, configured in deployed
        for image in runs
        if image not in configured
    ]
    return problems
