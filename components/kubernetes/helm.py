"""The one way this program installs a Helm chart: pinned, atomic, bounded history."""

from __future__ import annotations

from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from components.kubernetes.config import ChartsConfig

ARGO_HELM_REPOSITORY = "https://argoproj.github.io/argo-helm"


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
) -> k8s.helm.v3.Release:
    """A Helm release of `chart` at exactly `version` into an existing `namespace`, from its
    upstream Helm `repository` or the one `charts.repository` names for every chart."""
    # Atomic implies waiting (Helm's --atomic sets --wait; the provider drops skipAwait with it).
    waits = not charts.skip_await
    return k8s.helm.v3.Release(
        resource_name,
        name=release_name,
        chart=chart,
        version=version,
        repository_opts=k8s.helm.v3.RepositoryOptsArgs(repo=charts.repository or repository),
        namespace=namespace,
        # The namespace is a declared Namespace resource, so Helm never owns (or deletes) it.
        create_namespace=False,
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
