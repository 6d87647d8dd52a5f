"""Argo CD's read access to the GitOps repository: a per-environment deploy key.

An ED25519 key generated in Pulumi state, its public half registered as a read-only deploy
key titled for the environment, its private half handed to Argo CD as a repository Secret.
The private key exists only in Pulumi's encrypted state and that Secret.
"""

from __future__ import annotations

import pulumi
import pulumi_github as github
import pulumi_kubernetes as k8s
import pulumi_tls as tls
from pydantic import BaseModel, ConfigDict, Field

from components.config.base import DnsLabel, Environment, GithubName
from components.gitops.argocd import PART_OF
from components.kubernetes.providers import dependencies, require_provider

# Argo CD picks up repositories from Secrets carrying this label.
SECRET_TYPE_LABEL = "argocd.argoproj.io/secret-type"


class ArgoCdRepositoryArgs(BaseModel):
    """The environment, the GitHub repository (name and SSH URL), where Argo CD runs, its project."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    environment: Environment
    repository: GithubName = Field(description="Repository name (the provider is bound to its owner).")
    repo_url: str = Field(description="SSH URL Argo CD clones.")
    namespace: DnsLabel = Field(description="Argo CD's namespace.")
    project: DnsLabel = Field(description="AppProject the repository is scoped to.")


def deploy_key_title(environment: Environment) -> str:
    return f"argocd-{environment} (read-only, managed by Pulumi)"


def repository_secret_name(repository: str) -> str:
    return f"repo-{repository.lower()}"


def repository_secret_metadata(args: ArgoCdRepositoryArgs) -> k8s.meta.v1.ObjectMetaArgsDict:
    return {
        "name": repository_secret_name(args.repository),
        "namespace": args.namespace,
        "labels": {SECRET_TYPE_LABEL: "repository", **PART_OF},
    }


def repository_secret_data(
    args: ArgoCdRepositoryArgs, ssh_private_key: pulumi.Input[str]
) -> dict[str, pulumi.Input[str]]:
    """Argo CD's declarative repository fields.

    `project` scopes the credentials to the environment's AppProject: no Application of
    another project can use them.
    """
    return {
        "type": "git",
        "url": args.repo_url,
        "project": args.project,
        "sshPrivateKey": ssh_private_key,
    }


class ArgoCdRepository(pulumi.ComponentResource):
    """Deploy key + repository Secret. Pass the Kubernetes and GitHub providers in `opts.providers`."""

    private_key: tls.PrivateKey
    deploy_key: github.RepositoryDeployKey
    secret: k8s.core.v1.Secret

    def __init__(
        self,
        name: str,
        args: ArgoCdRepositoryArgs,
        opts: pulumi.ResourceOptions | None = None,
    ):
        super().__init__("delivery:argocd_repository:ArgoCdRepository", name, None, opts)
        after = dependencies(opts)
        self.private_key = tls.PrivateKey(
            f"{name}-key",
            algorithm="ED25519",
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.deploy_key = github.RepositoryDeployKey(
            f"{name}-deploy-key",
            repository=args.repository,
            title=deploy_key_title(args.environment),
            key=self.private_key.public_key_openssh,
            # Argo CD only reads: a leaked key cannot push to the repository.
            read_only=True,
            opts=pulumi.ResourceOptions(parent=self, provider=require_provider(self, "github")),
        )
        # The tls provider marks the private key secret through additional_secret_outputs;
        # wrapping it again makes that hold wherever the value flows, mocks included.
        private_key: pulumi.Output[str] = pulumi.Output.secret(self.private_key.private_key_openssh)
        self.secret = k8s.core.v1.Secret(
            f"{name}-secret",
            metadata=repository_secret_metadata(args),
            type="Opaque",
            string_data=repository_secret_data(args, private_key),
            opts=pulumi.ResourceOptions(
                parent=self,
                provider=require_provider(self, "kubernetes"),
                # The key must be registered before Argo CD tries it; the namespace must exist.
                depends_on=[self.deploy_key, *after],
            ),
        )
        self.register_outputs(
            {"deployKeyTitle": self.deploy_key.title, "secretName": self.secret.metadata.name}
        )
