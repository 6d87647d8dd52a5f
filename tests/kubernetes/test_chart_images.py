"""Charts by digest, and every image they deploy by digest, where the stack requires it.

Staging and production install argo-cd, argo-rollouts and kube-prometheus-stack as
`oci://…/<chart>@sha256:…` (components/kubernetes/helm.py: Helm 3.18+ pulls by digest and
refuses a version tag that resolves elsewhere, helm/helm#12690) and set every image those charts
run, by tag and digest, in the values. The policy checks read what the program declares: the
releases' `chart` inputs and the rendered values merged over each chart's own values.yaml, whose
every image block is accounted for (pinned, inherited from the pinned global image, or switched
off), so a chart upgrade that adds an image fails here until it is pinned or switched off.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import yaml

from components.config.base import ConfigError
from components.config.loader import parse_namespace
from components.kubernetes.helm import chart_name, chart_reference, image_ref
from tests.support.paths import ROOT
from tests.support.stacks import TEST_SECRETS, assert_refused, with_changes
from tests.support.types import RELEASE
from tools.offline import (
    OFFLINE_CHART_IMAGES,
    OFFLINE_INGRESS_DIGESTS,
    STACKS,
    Recorder,
    Run,
    run_program,
    stack_file,
)

CHARTS = ROOT / "components" / "schemas" / "charts"
PINNED_STACKS = ("staging", "production")
DIGEST_REF = re.compile(r"^[^@]+:[^@:/]+@sha256:[0-9a-f]{64}$")


def releases(run: Run) -> dict[str, Any]:
    return {chart_name(r.inputs["chart"]): r for r in run.recorder.of_type(RELEASE)}


def merged(default: Any, ours: Any) -> Any:
    """Helm's coalescing of user values over a chart's defaults (maps merge, the rest replaces)."""
    if isinstance(default, dict) and isinstance(ours, dict):
        return {k: merged(default.get(k), ours[k]) if k in ours else default[k] for k in {*default, *ours}}
    return ours


def lookup(values: dict[str, Any], path: str) -> Any:
    node: Any = values
    for part in path.split("."):
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node


def image_blocks(values: Any, path: str = "") -> Iterator[tuple[str, dict[str, Any]]]:
    """Every image map in a values tree: a key `image` or `*Image` holding a `repository`."""
    if not isinstance(values, dict):
        return
    for key, value in values.items():
        here = f"{path}.{key}" if path else key
        if isinstance(value, dict):
            if (key == "image" or key.endswith("Image")) and "repository" in value:
                yield here, value
            else:
                yield from image_blocks(value, here)


def reference(image: dict[str, Any]) -> str:
    """The image a chart renders from one image map: `registry/repository:tag`, then the digest
    from `sha` (kube-prometheus-stack, kube-state-metrics) or `digest` (node-exporter); charts
    without either carry it in `tag` (argo-cd, argo-rollouts, redis-ha)."""
    # Traefik's cloud-marketplace maps name the repository `image` (beside `registry`), every
    # other map `repository`.
    name = "/".join(
        str(p) for p in (image.get("registry"), image.get("repository") or image.get("image")) if p
    )
    ref = f"{name}:{image.get('tag') or ''}"
    if image.get("sha"):
        ref += f"@sha256:{image['sha']}"
    if image.get("digest"):
        ref += f"@{image['digest']}"
    return ref


# How each image block of a chart's values.yaml is accounted for, given the merged values:
# "pinned" (its reference must carry a digest), "inherits" (empty repository: the component runs
# global.image, pinned itself) or "off: <why>" (its component does not run).
Account = Callable[[dict[str, Any]], str]


def _switch(path: str, running: object = True) -> Account:
    return lambda v: "pinned" if lookup(v, path) == running else f"off: {path} is {lookup(v, path)!r}"


def _inherits(v: dict[str, Any]) -> str:
    return "inherits"


ARGO_CD: dict[str, Account] = {
    "global.image": lambda v: "pinned",
    **{
        f"{c}.image": _inherits
        for c in ("controller", "server", "repoServer", "applicationSet", "notifications", "redisSecretInit")
    },
    "commitServer.image": lambda v: "inherits" if lookup(v, "commitServer.enabled") else "off",
    "dex.image": _switch("dex.enabled"),
    "dex.initImage": lambda v: "inherits" if lookup(v, "dex.enabled") else "off",
    # The chart runs its own Redis unless redis-ha does (templates/redis: `not redis-ha.enabled`).
    "redis.image": lambda v: (
        "pinned" if lookup(v, "redis.enabled") and not lookup(v, "redis-ha.enabled") else "off"
    ),
    "redis.exporter.image": _switch("redis.exporter.enabled"),
    "redis-ha.image": _switch("redis-ha.enabled"),
    "redis-ha.haproxy.image": lambda v: (
        "pinned" if lookup(v, "redis-ha.enabled") and lookup(v, "redis-ha.haproxy.enabled") else "off"
    ),
    "server.extensions.image": _switch("server.extensions.enabled"),
}
ARGO_ROLLOUTS: dict[str, Account] = {
    "controller.image": lambda v: "pinned",
    "dashboard.image": _switch("dashboard.enabled"),
}
KUBE_PROMETHEUS_STACK: dict[str, Account] = {
    "crds.upgradeJob.image.busybox": _switch("crds.upgradeJob.enabled"),
    "crds.upgradeJob.image.kubectl": _switch("crds.upgradeJob.enabled"),
    "alertmanager.alertmanagerSpec.image": _switch("alertmanager.enabled"),
    "prometheusOperator.image": _switch("prometheusOperator.enabled"),
    "prometheusOperator.prometheusConfigReloader.image": _switch("prometheusOperator.enabled"),
    "prometheusOperator.admissionWebhooks.patch.image": lambda v: (
        "pinned"
        if lookup(v, "prometheusOperator.admissionWebhooks.enabled")
        and lookup(v, "prometheusOperator.admissionWebhooks.patch.enabled")
        and not lookup(v, "prometheusOperator.admissionWebhooks.certManager.enabled")
        else "off"
    ),
    "prometheusOperator.admissionWebhooks.deployment.image": _switch(
        "prometheusOperator.admissionWebhooks.deployment.enabled"
    ),
    # Thanos runs only as a sidecar the program never configures (prometheusSpec.thanos is {}).
    "prometheusOperator.thanosImage": lambda v: (
        "pinned" if lookup(v, "prometheus.prometheusSpec.thanos") else "off"
    ),
    "prometheus.prometheusSpec.image": _switch("prometheus.enabled"),
    "thanosRuler.thanosRulerSpec.image": _switch("thanosRuler.enabled"),
    # The subcharts' image maps are theirs (their values.yaml is not copied here): accounted for
    # by their switches, the rendered map checked like the others.
    "kube-state-metrics.image": _switch("kubeStateMetrics.enabled"),
    "prometheus-node-exporter.image": _switch("nodeExporter.enabled"),
    "grafana.image": _switch("grafana.enabled"),
    "grafana.sidecar.image": _switch("grafana.enabled"),
}
OPENTELEMETRY_COLLECTOR: dict[str, Account] = {"image": lambda v: "pinned"}
CERT_MANAGER: dict[str, Account] = {
    **{
        path: lambda v: "pinned"
        for path in ("image", "webhook.image", "cainjector.image", "acmesolver.image")
    },
    "startupapicheck.image": _switch("startupapicheck.enabled"),
}
# Traefik runs one image; the Azure and Oracle Cloud marketplace maps replace it only when
# their switch is on (the chart's `traefik.image-name` in templates/_helpers.tpl).
TRAEFIK: dict[str, Account] = {
    "image": lambda v: "pinned",
    "global.azure.images.proxy": _switch("global.azure.enabled"),
    "global.azure.images.hub": _switch("global.azure.enabled"),
    "oci_meta.images.proxy": _switch("oci_meta.enabled"),
    "oci_meta.images.hub": _switch("oci_meta.enabled"),
}
ACCOUNTS = {
    "argo-cd": ARGO_CD,
    "argo-rollouts": ARGO_ROLLOUTS,
    "kube-prometheus-stack": KUBE_PROMETHEUS_STACK,
    "opentelemetry-collector": OPENTELEMETRY_COLLECTOR,
    "cert-manager": CERT_MANAGER,
    "traefik": TRAEFIK,
}
# Image maps of subcharts, which the parent's values.yaml shows only partly or not at all, and
# image maps image_blocks cannot recognise.
SUBCHART_IMAGES = {
    # Not subcharts: Traefik's marketplace image maps, which hold `image` where others hold
    # `repository`, so image_blocks does not find them.
    "traefik": (
        "global.azure.images.proxy",
        "global.azure.images.hub",
        "oci_meta.images.proxy",
        "oci_meta.images.hub",
    ),
    "argo-cd": ("redis-ha.haproxy.image",),
    "kube-prometheus-stack": (
        "kube-state-metrics.image",
        "prometheus-node-exporter.image",
        "grafana.image",
        "grafana.sidecar.image",
    ),
}


def chart_defaults(chart: str, version: str) -> dict[str, Any]:
    return yaml.safe_load((CHARTS / chart / version / "values.yaml").read_text())


def image_accounts(release: Any, ours: dict[str, Any] | None = None) -> dict[str, tuple[str, str]]:
    """Each image block of the release's chart: how it is accounted for, and what it renders
    with the release's values (or `ours`)."""
    chart = chart_name(release.inputs["chart"])
    defaults = chart_defaults(chart, release.inputs["version"])
    values = merged(defaults, release.plain["values"] if ours is None else ours)
    paths = {path for path, _ in image_blocks(defaults)} | set(SUBCHART_IMAGES.get(chart, ()))
    unaccounted = sorted(paths - set(ACCOUNTS[chart]))
    assert unaccounted == [], (
        f"{chart}: image maps nobody accounted for (pin them or switch them off): {unaccounted}"
    )
    result: dict[str, tuple[str, str]] = {}
    for path in sorted(paths):
        how = ACCOUNTS[chart][path](values)
        block = lookup(values, path) or {}
        result[path] = (how, reference(block) if block.get("repository") or block.get("image") else "")
    return result


# --------------------------------------------------------------------------- the policy


@pytest.mark.parametrize("stack", PINNED_STACKS)
def test_staging_and_production_install_every_chart_by_digest(stack: str, runs: dict[str, Run]) -> None:
    found = releases(runs[stack])
    assert set(found) >= {"argo-cd", "kube-prometheus-stack", "argo-rollouts"}
    for chart, release in found.items():
        assert re.fullmatch(rf"oci://[a-z0-9./-]+/{chart}@sha256:[0-9a-f]{{64}}", release.inputs["chart"]), (
            chart
        )
        assert "repositoryOpts" not in release.inputs
        # cert-manager's chart versions carry a `v` (v1.21.2), as its OCI tags do.
        assert re.fullmatch(r"v?\d+\.\d+\.\d+", release.inputs["version"]), (
            "the version's tag is checked against the digest"
        )


@pytest.mark.parametrize("stack", PINNED_STACKS)
def test_no_chart_image_is_tag_only_where_the_stack_requires_digests(
    stack: str, runs: dict[str, Run]
) -> None:
    tag_only: list[str] = []
    pinned: list[str] = []
    for chart, release in sorted(releases(runs[stack]).items()):
        for path, (how, ref) in image_accounts(release).items():
            if how == "pinned":
                pinned.append(f"{chart}:{path}")
                if not DIGEST_REF.fullmatch(ref):
                    tag_only.append(f"{chart}:{path} -> {ref or '(chart default)'}")
            elif how == "inherits":
                assert ref == "", f"{chart}:{path} sets its own image instead of the pinned global one"
    assert tag_only == [], "chart images by tag alone:\n" + "\n".join(tag_only)
    # Every chart runs some image: an empty list would mean the accounting switched all off.
    assert {p.split(":")[0] for p in pinned} == set(releases(runs[stack]))


def test_the_policy_catches_a_tag_only_image_and_an_unaccounted_one(runs: dict[str, Run]) -> None:
    release = releases(runs["production"])["kube-prometheus-stack"]
    values = copy.deepcopy(release.plain["values"])
    del values["prometheus"]["prometheusSpec"]["image"]["sha"]
    how, ref = image_accounts(release, values)["prometheus.prometheusSpec.image"]
    assert how == "pinned" and ref == "quay.io/prometheus/prometheus:v3.14.0-distroless"
    assert not DIGEST_REF.fullmatch(ref)
    original = KUBE_PROMETHEUS_STACK.pop("prometheus.prometheusSpec.image")
    try:
        with pytest.raises(AssertionError, match=re.escape("prometheus.prometheusSpec.image")):
            image_accounts(release)
    finally:
        KUBE_PROMETHEUS_STACK["prometheus.prometheusSpec.image"] = original


def test_development_may_run_the_charts_by_version_and_tag(runs: dict[str, Run]) -> None:
    """Development sets no digests: its charts come from the same OCI registries by version."""
    for chart, release in releases(runs["development"]).items():
        assert "@" not in release.inputs["chart"], chart
        assert release.inputs["chart"].startswith("oci://")


# --------------------------------------------------------------------------- config


@pytest.mark.parametrize("stack", PINNED_STACKS)
def test_staging_and_production_refuse_charts_and_images_without_digests(stack: str) -> None:
    raw = yaml.safe_load(stack_file(stack).read_text())["config"]
    values = {k.split(":", 1)[1]: v for k, v in raw.items() if k.startswith("delivery:")}
    with pytest.raises(ConfigError) as caught:
        parse_namespace(values, stack)
    # The toolchain checksums the managing stack must set are tested in test_supply_chain.py.
    keys = {p.path for p in caught.value.problems if not p.path.startswith("github.workflows.toolchain")}
    expected = {"argocd.chartDigest", "argocd.rollouts.chartDigest", "monitoring.chartDigest"}
    expected |= {key for key in OFFLINE_CHART_IMAGES if not key.endswith(".haproxy")}
    expected.add("monitoring.tracing.chartDigest")  # the stack files run the collector
    expected |= set(OFFLINE_INGRESS_DIGESTS)  # Traefik and cert-manager
    if stack == "production":
        expected.add("argocd.images.haproxy")  # HA: redis-ha's HAProxy
    assert keys == expected
    message = str(caught.value)
    assert "delivery:argocd.images.argocd" in message and "@sha256:<64 hex>" in message


def test_a_tag_only_image_is_refused_by_its_key() -> None:
    assert_refused(
        "staging",
        {"delivery:argocd.images.argocd": "quay.io/argoproj/argocd:v3.4.4"},
        ["delivery:argocd.images.argocd"],
    )


def test_development_needs_no_digests() -> None:
    raw = yaml.safe_load(stack_file("development").read_text())["config"]
    values = {k.split(":", 1)[1]: v for k, v in raw.items() if k.startswith("delivery:")}
    config = parse_namespace(values, "development")
    assert config.argocd.chart_digest is None and config.argocd.images == {}


def test_a_configured_digest_reaches_the_release_and_the_values() -> None:
    digest = "sha256:" + "ab" * 32
    image = "quay.io/argoproj/argocd:v3.4.4@sha256:" + "cd" * 32
    run = run_program(
        "development",
        TEST_SECRETS,
        with_changes(
            "development", {"delivery:argocd.chartDigest": digest, "delivery:argocd.images.argocd": image}
        ),
        recorder=Recorder(),
    )
    release = releases(run)["argo-cd"]
    assert release.inputs["chart"] == f"oci://ghcr.io/argoproj/argo-helm/argo-cd@{digest}"
    assert release.plain["values"]["global"]["image"] == {
        "repository": "quay.io/argoproj/argocd",
        "tag": "v3.4.4@sha256:" + "cd" * 32,
    }


# --------------------------------------------------------------------------- the helpers


def test_chart_references() -> None:
    assert (
        chart_reference("oci://ghcr.io/argoproj/argo-helm", "argo-cd", None)
        == "oci://ghcr.io/argoproj/argo-helm/argo-cd"
    )
    digest = "sha256:" + "0" * 64
    assert chart_reference("oci://r.example/c/", "x", digest) == f"oci://r.example/c/x@{digest}"
    assert chart_reference("https://argoproj.github.io/argo-helm", "argo-cd", None) == "argo-cd"
    with pytest.raises(ValueError, match="only a chart from an OCI registry"):
        chart_reference("https://argoproj.github.io/argo-helm", "argo-cd", digest)
    assert chart_name(f"oci://ghcr.io/argoproj/argo-helm/argo-cd@{digest}") == "argo-cd"


def test_image_references_split_as_the_charts_take_them() -> None:
    ref = image_ref("registry.k8s.io/kube-state-metrics/kube-state-metrics:v2.20.0@sha256:" + "1" * 64)
    assert (ref.registry, ref.repository, ref.tag) == (
        "registry.k8s.io",
        "kube-state-metrics/kube-state-metrics",
        "v2.20.0",
    )
    assert ref.hex_digest == "1" * 64 and ref.tag_at_digest == "v2.20.0@sha256:" + "1" * 64
    assert str(image_ref("localhost:5000/a/b:1")) == "localhost:5000/a/b:1"
    with pytest.raises(ValueError):
        image_ref("argocd:v3")


@pytest.mark.parametrize("stack", STACKS)
def test_offline_stand_in_images_run_their_charts_default_tags(stack: str, runs: dict[str, Run]) -> None:
    """The stand-ins' tags are the ones the charts' values.yaml (or appVersion) name, so the
    golden files show the real tag beside the stand-in digest."""
    for chart, release in releases(runs[stack]).items():
        defaults = chart_defaults(chart, release.inputs["version"])
        for path, (how, ref) in image_accounts(release).items():
            default = lookup(defaults, path) or {}
            if how == "pinned" and ref and default.get("tag"):
                assert f":{default['tag']}@" in ref or ref.endswith(f":{default['tag']}"), (chart, path, ref)
