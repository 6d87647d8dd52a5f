"""The clusters' pull credentials for the platform's images in GHCR.

Images pushed to GHCR by a repository's workflows are linked to the repository and inherit
its visibility: a private repository's images are private, and a kubelet without
credentials gets 401/403 from ghcr.io. So every namespace an Application of the
environment deploys to holds a ``kubernetes.io/dockerconfigjson`` Secret with the token of
a machine user that can only read packages (``ghcrPullToken``), and the service
Applications hand its name to their chart as ``imagePullSecrets`` (see
``gitops_manifests.service_application``).

The program declares those Namespaces itself: a Secret needs its namespace to exist
before Argo CD's first sync (``CreateNamespace=true`` stays, and finds the namespace
there). Rotation is a config change: ``pulumi config set --secret ghcrPullToken`` and
``pulumi up`` update every Secret in place.
"""

from __future__ import annotations

import base64
import json

import pulumi
import pulumi_kubernetes as k8s
from pydantic import BaseModel, ConfigDict, Field

from components.config.base import DnsLabel, Environment, GithubLogin
from components.contracts.gitops_layout import LABEL_ENVIRONMENT
from components.kubernetes.providers import require_provider

SECRET_TYPE = "kubernetes.io/dockerconfigjson"
SECRET_KEY = ".dockerconfigjson"


class ImagePullSecretsArgs(BaseModel):
    """Where the pull secret goes and what it holds (the token itself is a secret Output)."""

    model_config = ConfigDict(frozen=True, extra="forbid", arbitrary_types_allowed=True)

    environment: Environment
    namespaces: list[DnsLabel] = Field(min_length=1, description="Every namespace an Application deploys to.")
    registry: str = Field(pattern=r"^[a-z0-9.-]+$", description="Registry host, e.g. ghcr.io.")
    user: GithubLogin = Field(description="Login the token belongs to.")
    secret_name: DnsLabel = Field(description="Name of the Secret in each namespace.")
    token: pulumi.Output[str] = Field(description="The puller's token (secret).")


def dockerconfigjson(registry: str, user: str, token: str) -> str:
    """The `.dockerconfigjson` document kubelet reads: one registry, basic auth."""
    auth = base64.b64encode(f"{user}:{token}".encode()).decode()
    return json.dumps(
        {"auths": {registry: {"username": user, "password": token, "auth": auth}}}, sort_keys=True
    )


class ImagePullSecrets(pulumi.ComponentResource):
    """One Namespace and one pull Secret per namespace. Pass the cluster's Kubernetes
    provider in `opts.providers`."""

    namespaces: dict[str, k8s.core.v1.Namespace]
    secrets: dict[str, k8s.core.v1.Secret]

    def __init__(
        self,
        name: str,
        args: ImagePullSecretsArgs,
        opts: pulumi.ResourceOptions | None = None,
    ):
        super().__init__("delivery:image_pull:ImagePullSecrets", name, None, opts)
        provider = require_provider(self, "kubernetes")
        # Deleting a Namespace deletes every workload in it: production's need an unprotect.
        protect = args.environment == "production"
        # Built inside the apply and kept secret: the token never appears in plain text.
        built: pulumi.Output[str] = pulumi.Output.from_input(args.token).apply(
            lambda t: dockerconfigjson(args.registry, args.user, t)
        )
        document: pulumi.Output[str] = pulumi.Output.secret(built)
        self.namespaces = {}
        self.secrets = {}
        for namespace in sorted(set(args.namespaces)):
            self.namespaces[namespace] = k8s.core.v1.Namespace(
                f"{name}-namespace-{namespace}",
                metadata={"name": namespace, "labels": {LABEL_ENVIRONMENT: args.environment}},
                opts=pulumi.ResourceOptions(parent=self, provider=provider, protect=protect),
            )
            self.secrets[namespace] = k8s.core.v1.Secret(
                f"{name}-secret-{namespace}",
                metadata={
                    "name": args.secret_name,
                    "namespace": self.namespaces[namespace].metadata.name,
                    "labels": {LABEL_ENVIRONMENT: args.environment},
                },
                type=SECRET_TYPE,
                string_data={SECRET_KEY: document},
                opts=pulumi.ResourceOptions(parent=self, provider=provider),
            )
        self.register_outputs({"namespaces": sorted(self.namespaces), "secretName": args.secret_name})
