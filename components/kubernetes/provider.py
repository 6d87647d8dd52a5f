"""The provider check every in-cluster component makes."""

from __future__ import annotations

import pulumi


def require_provider(component: pulumi.ComponentResource, package: str) -> pulumi.ProviderResource:
    """The provider for `package` handed to `component` through `opts.providers`.

    Children name it explicitly: a component missing it fails here instead of silently
    using the ambient default provider (the operator's kubeconfig or GitHub token).
    """
    provider = component.get_provider(f"{package}::")
    if provider is None:
        raise ValueError(f"{type(component).__name__} needs a {package} provider in opts.providers")
    return provider
