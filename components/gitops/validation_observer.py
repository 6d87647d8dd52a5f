"""Staging's read-only observer: the identity staging validation reads what staging runs with.

Staging validation decides what it validated from staging itself, not from the dispatch that
woke it (anyone who can push a branch can send one). It reads staging's Argo CD Applications
(sync and health status, the revision, ``status.summary.images``) through this identity: a
ServiceAccount in Argo CD's namespace whose Role can only get, list and watch Applications,
and a long-lived token for it. ``kubeconfig`` (a secret Output) points at the cluster's API
with that token and Argo CD's namespace as its default; the program hands it to the observer
environment of GitHub (main only). It can read no Secret, no other kind and no other
namespace.

The token Secret is of type ``kubernetes.io/service-account-token``: Kubernetes fills in its
``token``, and pulumi-kubernetes waits for it (pulumi/pulumi-kubernetes#2048). Rotation: the
Secret's name carries ``cluster.kubeconfigIssuedOn`` (the cluster's credentials rotate
together, docs/rotation.md), so a new date creates a new token Secret, updates the environment
secret from it, and deletes the old token last, in one ``pulumi up``; ``pulumi up --replace``
of the token Secret re-mints it between rotations.
"""

from __future__ import annotations

import base64

import pulumi
import pulumi_kubernetes as k8s
import yaml
from pydantic import BaseModel, ConfigDict

from components.config.base import DnsLabel, Environment
from components.contracts.gitops_layout import LABEL_ENVIRONMENT
from components.kubernetes.providers import require_provider

OBSERVER = "validation-observer"
# What validation reads, and nothing else.
RULES = [{"apiGroups": ["argoproj.io"], "resources": ["applications"], "verbs": ["get", "list", "watch"]}]


class ValidationObserverArgs(BaseModel):
    """Where the observer lives (the environment and its Argo CD namespace), and the cluster's
    admin kubeconfig (secret) its own kubeconfig takes the API server and CA from."""

    model_config = ConfigDict(frozen=True, extra="forbid", arbitrary_types_allowed=True)

    environment: Environment
    namespace: DnsLabel
    admin_kubeconfig: pulumi.Output[str]
    # cluster.kubeconfigIssuedOn: part of the token Secret's name, so a new date re-mints it.
    issued_on: str | None = None
    # The admin kubeconfig's context naming the cluster (an existing cluster's
    # `cluster.context`); None: its current context.
    context: str | None = None


def token_name(issued_on: str | None) -> str:
    """The token Secret's name; its date names the rotation it belongs to."""
    return f"{OBSERVER}-token" + (f"-{issued_on}" if issued_on else "")


def observer_kubeconfig(
    admin_kubeconfig: str, token: str, namespace: str, environment: str, context: str | None = None
) -> str:
    """A kubeconfig for the cluster of `admin_kubeconfig` (its API server and CA only) that
    authenticates with `token` and defaults to `namespace`. The cluster is the one `context`
    (else the current context) names, or the only one (LKE's kubeconfig)."""
    admin = yaml.safe_load(admin_kubeconfig)
    chosen = context or admin.get("current-context")
    contexts = {c["name"]: c["context"] for c in admin.get("contexts") or []}
    clusters = {c["name"]: c["cluster"] for c in admin["clusters"]}
    if chosen in contexts:
        cluster = clusters[contexts[chosen]["cluster"]]
    elif len(clusters) == 1:
        [cluster] = clusters.values()
    else:
        raise ValueError(f"the admin kubeconfig has no context {chosen!r} naming one of its clusters")
    name = f"{environment}-observer"
    return yaml.safe_dump(
        {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [
                {
                    "name": environment,
                    "cluster": {
                        "server": cluster["server"],
                        "certificate-authority-data": cluster["certificate-authority-data"],
                    },
                }
            ],
            "users": [{"name": name, "user": {"token": token}}],
            "contexts": [
                {"name": name, "context": {"cluster": environment, "user": name, "namespace": namespace}}
            ],
            "current-context": name,
        },
        sort_keys=False,
    )


class ValidationObserver(pulumi.ComponentResource):
    """ServiceAccount, Role, RoleBinding and token of the observer. Pass the cluster's Kubernetes
    provider in `opts.providers`."""

    kubeconfig: pulumi.Output[str]

    def __init__(
        self,
        name: str,
        args: ValidationObserverArgs,
        opts: pulumi.ResourceOptions | None = None,
    ):
        super().__init__("delivery:validation_observer:ValidationObserver", name, None, opts)
        provider = require_provider(self, "kubernetes")
        # A component's depends_on does not hold back its children (Argo CD's namespace): hand it on.
        after = opts.depends_on if opts is not None else None
        child = pulumi.ResourceOptions(parent=self, provider=provider, depends_on=after)
        metadata = k8s.meta.v1.ObjectMetaArgs(
            name=OBSERVER, namespace=args.namespace, labels={LABEL_ENVIRONMENT: args.environment}
        )
        account = k8s.core.v1.ServiceAccount(
            f"{name}-service-account",
            metadata=metadata,
            automount_service_account_token=False,
            opts=child,
        )
        role = k8s.rbac.v1.Role(
            f"{name}-role",
            metadata=metadata,
            rules=[
                k8s.rbac.v1.PolicyRuleArgs(
                    api_groups=r["apiGroups"], resources=r["resources"], verbs=r["verbs"]
                )
                for r in RULES
            ],
            opts=child,
        )
        k8s.rbac.v1.RoleBinding(
            f"{name}-role-binding",
            metadata=metadata,
            role_ref=k8s.rbac.v1.RoleRefArgs(
                api_group="rbac.authorization.k8s.io", kind="Role", name=role.metadata.name
            ),
            subjects=[
                k8s.rbac.v1.SubjectArgs(
                    kind="ServiceAccount", name=account.metadata.name, namespace=args.namespace
                )
            ],
            opts=child,
        )
        token_secret = k8s.core.v1.Secret(
            f"{name}-token",
            metadata={
                "name": token_name(args.issued_on),
                "namespace": args.namespace,
                "labels": {LABEL_ENVIRONMENT: args.environment},
                "annotations": {"kubernetes.io/service-account.name": account.metadata.name},
            },
            type="kubernetes.io/service-account-token",
            opts=pulumi.ResourceOptions(
                parent=self, provider=provider, depends_on=after, additional_secret_outputs=["data"]
            ),
        )
        token: pulumi.Output[str] = token_secret.data.apply(
            lambda data: base64.b64decode((data or {}).get("token", "")).decode()
        )
        built = pulumi.Output.all(pulumi.Output.from_input(args.admin_kubeconfig), token).apply(
            lambda values: observer_kubeconfig(
                values[0], values[1], args.namespace, args.environment, args.context
            )
        )
        self.kubeconfig = pulumi.Output.secret(built)
        self.register_outputs({"serviceAccount": OBSERVER})
