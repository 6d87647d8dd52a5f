"""Argo CD and its Applications: how Argo CD reads the GitOps repository, who can log in, the
namespaces and revisions the Applications may use, and the staging-deployed dispatch."""

from __future__ import annotations

from typing import TYPE_CHECKING

from components.config.base import _MISSING, Problem
from components.contracts.gitops_layout import RELEASE_BRANCH_PREFIX, release_branch

if TYPE_CHECKING:
    from components.config.stack import StackConfig


def repository_access_problems(config: StackConfig) -> list[Problem]:
    """Argo CD reads the GitOps repository over SSH with its deploy key when GitHub is on, anonymously
    over https when it is off; and a stack without GitHub can neither manage the repository nor be
    production, unless production adopts an existing cluster (both said explicitly)."""
    problems: list[Problem] = []
    gh = config.github
    if gh.enabled and not config.gitops_repo_url.startswith("git@"):
        problems.append(
            Problem(
                "gitops.repoUrl",
                config.gitops_repo_url,
                "Argo CD reads the GitOps repository with its SSH deploy key (github.enabled: true); "
                "allowed: the repository's SSH URL, git@github.com:<owner>/<name>.git",
            )
        )
    if not gh.enabled:
        if config.environment == "production" and not config.cluster.existing_in_production:
            problems.append(
                Problem(
                    "github.enabled",
                    False,
                    "production's deployment environment (its required reviewers) is the approval of every "
                    "production deployment; allowed: true (false only on an adopted cluster, "
                    "cluster.existingInProduction: true, whose GitHub half no stack of this program declares)",
                )
            )
        if not config.gitops_repo_url.startswith("https://"):
            problems.append(
                Problem(
                    "gitops.repoUrl",
                    config.gitops_repo_url,
                    "without GitHub (github.enabled: false) Argo CD gets no deploy key and reads the GitOps "
                    "repository anonymously; allowed: the https URL of a public repository",
                )
            )
        if gh.manage_repository:
            problems.append(
                Problem(
                    "github.enabled",
                    False,
                    "this stack manages the repository-wide GitHub objects (github.manageRepository: true); "
                    "allowed: true, or move github.managingStack to a stack with GitHub",
                )
            )
    return problems


def argocd_login_problems(config: StackConfig) -> list[Problem]:
    """Someone can always log in to Argo CD: the built-in admin, or an operator account."""
    problems: list[Problem] = []
    argocd = config.argocd
    if "admin" in argocd.accounts:
        problems.append(
            Problem(
                "argocd.accounts.admin",
                argocd.accounts["admin"].model_dump(by_alias=True),
                "admin is Argo CD's built-in account, switched by delivery:argocd.adminEnabled; "
                "allowed: any other account name",
            )
        )
    operators = sorted(name for name, account in argocd.accounts.items() if account.role == "operator")
    if not argocd.admin_on(config.environment) and not operators:
        default = argocd.admin_enabled is None
        problems.append(
            Problem(
                "argocd.adminEnabled",
                _MISSING if default else False,
                f"the built-in admin is off{f' (the default in {config.environment})' if default else ''} "
                "and no account in delivery:argocd.accounts has role operator, so nobody could log in "
                "to sync, roll back or abort a release; allowed: true (the bootstrap's first login, "
                'docs/operations.md, "After pulumi up"), or an account with role: operator in delivery:argocd.accounts',
            )
        )
    return problems


def gitops_problems(config: StackConfig) -> list[Problem]:
    """Argo CD's and Kubernetes' own namespaces stay out of the Applications' reach (they are
    the AppProject's destinations), Application names stay unique, and the AppProject allows
    the Namespaces the Applications create."""
    problems: list[Problem] = []
    reserved = {
        config.argocd.namespace: "argocd.namespace",
        config.argocd.rollouts.namespace: "argocd.rollouts.namespace",
        config.monitoring.namespace: "monitoring.namespace",
        config.ingress.traefik_namespace: "ingress.traefikNamespace",
        config.ingress.cert_manager_namespace: "ingress.certManagerNamespace",
        "kube-system": "",
        "kube-public": "",
        "kube-node-lease": "",
        "default": "",
    }
    default_namespace = f"platform-{config.environment}"
    if reserved.get(default_namespace):
        problems.append(
            Problem(
                reserved[default_namespace],
                default_namespace,
                f"{default_namespace} is where the platform's Applications deploy; allowed: any other DNS label",
            )
        )
    for name in sorted(config.services):
        namespace = config.services[name].namespace
        if namespace is not None and namespace in reserved:
            problems.append(
                Problem(
                    f"services.{name}.namespace",
                    namespace,
                    "Applications may not deploy into Argo CD's, Argo Rollouts', monitoring's, the ingress "
                    "add-ons' or Kubernetes' own "
                    f"namespaces ({', '.join(sorted(reserved))}); allowed: any other DNS label",
                )
            )
    if "infrastructure" in config.services:
        problems.append(
            Problem(
                "services.infrastructure",
                _MISSING,
                f"`infrastructure` names the Application platform-{config.environment}-infrastructure; "
                "allowed: any other service name",
            )
        )
    release = release_branch("production")
    revision = config.gitops.target_revision
    if config.environment == "production" and revision != release:
        problems.append(
            Problem(
                "gitops.targetRevision",
                revision,
                f"production runs only what promote.yml moved to {release} after staging validated it "
                f"and production's reviewers approved it; allowed: {release}",
            )
        )
    elif config.environment != "production" and revision.startswith(RELEASE_BRANCH_PREFIX):
        problems.append(
            Problem(
                "gitops.targetRevision",
                revision,
                f"{RELEASE_BRANCH_PREFIX}* branches are production's, moved only by promotion; "
                "allowed: main or another branch, tag or commit",
            )
        )
    if "Namespace" not in config.gitops.cluster_resources:
        problems.append(
            Problem(
                "gitops.clusterResources",
                list(config.gitops.cluster_resources),
                "Applications create their namespaces (CreateNamespace=true), which the AppProject "
                "must allow; allowed: a list that includes Namespace",
            )
        )
    return problems


def dispatch_problems(config: StackConfig) -> list[Problem]:
    """Only staging tells GitHub it runs a release, and only through notifications that are on."""
    problems: list[Problem] = []
    env = config.environment
    notifications = config.argocd.notifications
    if notifications.github_dispatch and env != "staging":
        problems.append(
            Problem(
                "argocd.notifications.githubDispatch",
                True,
                f"the dispatch tells GitHub that staging runs a release (event staging-deployed); {env} "
                "must not send it; allowed: false",
            )
        )
    if notifications.github_dispatch and not notifications.enabled:
        problems.append(
            Problem(
                "argocd.notifications.githubDispatch",
                True,
                "the dispatch is an Argo CD notification and notifications are off "
                "(argocd.notifications.enabled: false); allowed: false, or enable notifications",
            )
        )
    return problems
