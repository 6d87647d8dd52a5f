"""The explicit providers components are handed: every in-cluster domain's children name them."""

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


def dependencies(opts: pulumi.ResourceOptions | None) -> list[pulumi.Resource]:
    """What a component was told to wait for (`opts.depends_on`), for its children to wait for.

    A component's own `depends_on` does not hold back its children (pulumi/pulumi#8721): a
    component hands the list on to every child that must wait.
    """
    after = opts.depends_on if opts is not None else None
    if after is None:
        return []
    if isinstance(after, pulumi.Resource):
        return [after]
    if not isinstance(after, list | tuple):
        raise TypeError("components take opts.depends_on as a list of resources")
    return list(after)
