"""The stack configuration: shared types (`base`), the whole-stack model (`stack`), the loader.

Every name the former single module `components.config` offered is importable from here.
The shared types load eagerly; the rest load on first use (PEP 562), because the domain
config modules (`components.<domain>.config`) import `components.config.base`, which runs
this file first, and `StackConfig` in turn imports those domain modules.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from components.config.base import (
    ENVIRONMENTS,
    MAIN_BRANCH,
    NAMESPACE,
    SECRET_KEYS,
    BranchPattern,
    ChartVersion,
    ConfigError,
    DnsLabel,
    Environment,
    GithubLogin,
    GithubName,
    Ipv4Cidr,
    K8sVersion,
    LinodeRegion,
    Model,
    Problem,
)

if TYPE_CHECKING:
    from components.cluster.config import Autoscaler, ClusterConfig, NodePool
    from components.config.loader import StackSecrets, load_config, parse_namespace
    from components.config.stack import StackConfig, parse_config
    from components.github.config import (
        MAX_ENVIRONMENT_REVIEWERS,
        CredentialsConfig,
        Deployer,
        GithubConfig,
        ImagePlatform,
        LoadTestConfig,
        PipelineConfig,
        Reviewers,
        StateBackendConfig,
        ValidationConfig,
        WorkflowsConfig,
    )
    from components.gitops.config import (
        ArgoCdConfig,
        ClusterKind,
        GitOpsConfig,
        NotificationsConfig,
        RolloutsConfig,
        ServiceConfig,
    )
    from components.storage.config import MetricsConfig

_LAZY: dict[str, str] = {
    **dict.fromkeys(("Autoscaler", "ClusterConfig", "NodePool"), "components.cluster.config"),
    **dict.fromkeys(("StackSecrets", "load_config", "parse_namespace"), "components.config.loader"),
    **dict.fromkeys(("StackConfig", "parse_config"), "components.config.stack"),
    **dict.fromkeys(
        (
            "MAX_ENVIRONMENT_REVIEWERS",
            "CredentialsConfig",
            "Deployer",
            "GithubConfig",
            "ImagePlatform",
            "LoadTestConfig",
            "PipelineConfig",
            "Reviewers",
            "StateBackendConfig",
            "ValidationConfig",
            "WorkflowsConfig",
        ),
        "components.github.config",
    ),
    **dict.fromkeys(
        (
            "ArgoCdConfig",
            "ClusterKind",
            "GitOpsConfig",
            "NotificationsConfig",
            "RolloutsConfig",
            "ServiceConfig",
        ),
        "components.gitops.config",
    ),
    "MetricsConfig": "components.storage.config",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)


__all__ = [
    "ENVIRONMENTS",
    "MAIN_BRANCH",
    "MAX_ENVIRONMENT_REVIEWERS",
    "NAMESPACE",
    "SECRET_KEYS",
    "ArgoCdConfig",
    "Autoscaler",
    "BranchPattern",
    "ChartVersion",
    "ClusterConfig",
    "ClusterKind",
    "ConfigError",
    "CredentialsConfig",
    "Deployer",
    "DnsLabel",
    "Environment",
    "GitOpsConfig",
    "GithubConfig",
    "GithubLogin",
    "GithubName",
    "ImagePlatform",
    "Ipv4Cidr",
    "K8sVersion",
    "LinodeRegion",
    "LoadTestConfig",
    "MetricsConfig",
    "Model",
    "NodePool",
    "NotificationsConfig",
    "PipelineConfig",
    "Problem",
    "Reviewers",
    "RolloutsConfig",
    "ServiceConfig",
    "StackConfig",
    "StackSecrets",
    "StateBackendConfig",
    "ValidationConfig",
    "WorkflowsConfig",
    "load_config",
    "parse_config",
    "parse_namespace",
]
