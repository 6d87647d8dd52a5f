"""The one way this program installs a Helm chart: pinned, atomic, bounded history.

A chart published in an OCI registry is installed by digest: `oci://<registry>/<chart>@sha256:…`
with `version` beside it. Helm (v3.18 and later: https://github.com/helm/helm/pull/12690; the
kubernetes plugin 4.32.0 embeds helm.sh/helm/v3 v3.20.2, provider/go.mod) pulls the manifest
by that digest, and when the version's tag also resolves, refuses the install if the two differ
("chart reference digest mismatch", `ValidateReference` in pkg/registry/client.go of v3.20.2).
Every chart this program installs is published so (argo-helm at oci://ghcr.io/argoproj/argo-helm,
kube-prometheus-stack at oci://ghcr.io/prometheus-community/charts), so none needs Helm's other
check, a provenance file verified against a keyring (`verify`/`keyring` of helm.v3.Release),
which a classic (HTTP) repository would. A classic repository is still taken, by version only,
for a chart served without a registry. Which environments must pin by digest is a config rule
(StackConfig), not this helper's choice.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from components.kubernetes.config import ChartsConfig

# The Argo charts' OCI registry (https://github.com/argoproj/argo-helm, "Helm OCI").
ARGO_HELM_REPOSITORY = "oci://ghcr.io/argoproj/argo-helm"
OCI_SCHEME = "oci://"

_IMAGE = re.compile(
    r"^(?P<registry>[a-z0-9.-]+(:[0-9]+)?)/(?P<repository>[a-z0-9._-]+(/[a-z0-9._-]+)*)"
    r":(?P<tag>[A-Za-z0-9._-]+)(@(?P<digest>sha256:[0-9a-f]{64}))?$"
)


@dataclass(frozen=True)
class ImageRef:
    """An image reference split the way charts' values take it."""

    registry: str
    repository: str
    tag: str
    digest: str | None

    @property
    def name(self) -> str:
        """`<registry>/<repository>`: what charts call `image.repository` when they have no `registry`."""
        return f"{self.registry}/{self.repository}"

    @property
    def tag_at_digest(self) -> str:
        """`<tag>@sha256:…`: what charts that only concatenate `repository:tag` take as `tag`."""
        return f"{self.tag}@{self.digest}" if self.digest else self.tag

    @property
    def hex_digest(self) -> str:
        """The digest without `sha256:`, as charts with an `image.sha` key take it."""
        return self.digest.removeprefix("sha256:") if self.digest else ""

    def __str__(self) -> str:
        return f"{self.name}:{self.tag_at_digest}"


def image_ref(reference: str) -> ImageRef:
    """`registry/repository:tag[@sha256:…]` split into its parts (config validated the form)."""
    match = _IMAGE.fullmatch(reference)
    if match is None:
        raise ValueError(f"not an image reference registry/repository:tag[@sha256:<64 hex>]: {reference!r}")
    return ImageRef(match["registry"], match["repository"], match["tag"], match["digest"])


def chart_reference(repository: str, chart: str, digest: str | None) -> str:
    """What helm.v3.Release takes as `chart`: the OCI reference (by digest when one is given),
    or the bare chart name for a classic repository."""
    if repository.startswith(OCI_SCHEME):
        return f"{repository.rstrip('/')}/{chart}" + (f"@{digest}" if digest else "")
    if digest is not None:
        raise ValueError(f"{chart}: a digest pins only a chart from an OCI registry, not from {repository}")
    return chart


def chart_name(reference: str) -> str:
    """The chart's name in a helm.v3.Release `chart` input (bare name or OCI reference)."""
    return reference.rsplit("/", 1)[-1].split("@", 1)[0]


def pinned_release(
    resource_name: str,
    *,
    release_name: str,
    chart: str,
    version: str,
    repository: str,
    charts: ChartsConfig,
    namespace: str,
    values: dict[str, Any],
    timeout_seconds: int,
    opts: pulumi.ResourceOptions,
    digest: str | None = None,
    skip_crds: bool = False,
) -> k8s.helm.v3.Release:
    """A Helm release of `chart` at exactly `version` into an existing `namespace`.

    `repository` is an OCI registry prefix (`oci://…`; `digest` then pins the chart's manifest)
    or a classic repository URL (by version only: such a chart has no digest). `charts.repository`
    (a mirror, allowed only for clusters from a kubeconfig) replaces every chart's source: by
    version, as a classic repository serves it. `skip_crds` leaves out the chart's `crds/`
    directory (CRDs of features the values switch off).
    """
    mirror = charts.repository
    oci = mirror is None and repository.startswith(OCI_SCHEME)
    # Atomic implies waiting (Helm's --atomic sets --wait; the provider drops skipAwait with it).
    waits = not charts.skip_await
    return k8s.helm.v3.Release(
        resource_name,
        name=release_name,
        chart=chart if mirror else chart_reference(repository, chart, digest),
        version=version,
        # An OCI chart is addressed by its reference alone; repository_opts would make the
        # provider look the chart up in a classic repository's index.
        repository_opts=None if oci else k8s.helm.v3.RepositoryOptsArgs(repo=mirror or repository),
        namespace=namespace,
        # The namespace is a declared Namespace resource, so Helm never owns (or deletes) it.
        create_namespace=False,
        # Unset unless asked: the other releases' recorded inputs stay as they were.
        skip_crds=True if skip_crds else None,
        values=values,
        # A failed install is uninstalled and a failed upgrade rolled back, so a retry starts
        # from a clean release instead of "cannot re-use a name that is still in use"
        # (https://github.com/pulumi/pulumi-kubernetes/issues/1697,
        # https://github.com/pulumi/pulumi-kubernetes/issues/1727). Atomic implies waiting
        # for every workload: what depends on the release starts once it serves.
        # charts.skipAwait (a cluster without nodes) installs without waiting and so without it.
        atomic=waits,
        cleanup_on_fail=True,
        skip_await=not waits,
        timeout=timeout_seconds,
        # Bounded release history: each revision is a Secret in the namespace.
        max_history=10,
        opts=opts,
    )
