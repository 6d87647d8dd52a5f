"""Typed stack configuration: the only module that reads ``pulumi.Config``.

Every key of the ``delivery`` namespace is parsed once, here, into ``StackConfig``
(pydantic v2, ``extra="forbid"``). Bad input raises one ``ConfigError`` that lists every
problem with its full config key path (``delivery:cluster.pools.default.count``), the bad
value and what is allowed, before the program declares any resource.

Keys in YAML are camelCase (Pulumi's convention); Python attributes are snake_case.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Annotated, Any, Literal

import pulumi
from pulumi.runtime import config as runtime_config
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    model_validator,
)
from pydantic.alias_generators import to_camel

NAMESPACE = "delivery"

Environment = Literal["development", "staging", "production"]
ENVIRONMENTS: tuple[Environment, ...] = ("development", "staging", "production")

# Secrets the program reads; each is declared in Pulumi.yaml with `secret: true`, so the
# engine refuses a stack whose value is missing or stored in plain text.
SECRET_KEYS: tuple[str, ...] = (
    "ciPulumiPassphrase",
    "slackWebhookUrl",
    "ciGithubToken",
    "ciGithubReadToken",
)

_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_K8S_VERSION = re.compile(r"^1\.\d{2}$")
_CHART_VERSION = re.compile(r"^\d+\.\d+\.\d+$")
_IPV4_CIDR = re.compile(r"^((25[0-5]|2[0-4]\d|1?\d?\d)\.){3}(25[0-5]|2[0-4]\d|1?\d?\d)/(3[0-2]|[12]?\d)$")
_GITHUB_NAME = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9._-]{0,99})$")


def _dns_label(value: str) -> str:
    if len(value) > 63 or not _DNS_LABEL.fullmatch(value):
        raise ValueError(
            "must be a DNS label: lowercase letters, digits and '-', "
            "starting and ending with a letter or digit, at most 63 characters"
        )
    return value


def _ipv4_cidr(value: str) -> str:
    if not _IPV4_CIDR.fullmatch(value):
        raise ValueError("must be an IPv4 CIDR such as 203.0.113.0/24")
    return value


def _github_name(value: str) -> str:
    if not _GITHUB_NAME.fullmatch(value):
        raise ValueError("must be a GitHub account or repository name (letters, digits, '.', '_', '-')")
    return value


DnsLabel = Annotated[str, AfterValidator(_dns_label)]
Ipv4Cidr = Annotated[str, AfterValidator(_ipv4_cidr)]
GithubName = Annotated[str, AfterValidator(_github_name)]
K8sVersion = Annotated[str, Field(pattern=_K8S_VERSION.pattern)]
ChartVersion = Annotated[str, Field(pattern=_CHART_VERSION.pattern)]
LinodeRegion = Annotated[str, Field(pattern=r"^[a-z]{2}-[a-z]+(-\d)?$", examples=["us-ord", "eu-central"])]


class Model(BaseModel):
    """Base of every config model: camelCase keys, unknown keys refused, frozen."""

    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        extra="forbid",
        frozen=True,
        strict=True,
    )


# --------------------------------------------------------------------------- cluster


class Autoscaler(Model):
    min: int = Field(ge=1, le=100, description="Fewest nodes the LKE autoscaler keeps in the pool.")
    max: int = Field(ge=1, le=100, description="Most nodes the LKE autoscaler grows the pool to.")

    @model_validator(mode="after")
    def _min_not_above_max(self) -> Autoscaler:
        if self.min > self.max:
            raise ValueError(f"min ({self.min}) must not exceed max ({self.max})")
        return self


class NodePool(Model):
    type: str = Field(
        default="g6-standard-2",
        pattern=r"^g\d+-[a-z0-9-]+$",
        examples=["g6-standard-4", "g6-dedicated-16"],
        description="Linode instance type of the pool's nodes (e.g. g6-standard-4).",
    )
    count: int | None = Field(
        default=None,
        ge=1,
        le=100,
        description=(
            "Fixed node count. Leave it out when `autoscaler` is set: the autoscaler owns "
            "the count and a fixed one would fight it on every `pulumi up`."
        ),
    )
    autoscaler: Autoscaler | None = Field(
        default=None, description="Autoscaler bounds; when set the pool scales between them."
    )
    labels: dict[str, str] = Field(
        default_factory=dict, description="Kubernetes node labels applied to every node."
    )

    @model_validator(mode="after")
    def _count_xor_autoscaler(self) -> NodePool:
        if self.count is None and self.autoscaler is None:
            raise ValueError("set either `count` or `autoscaler`")
        if self.count is not None and self.autoscaler is not None:
            raise ValueError("set `count` or `autoscaler`, not both: the autoscaler owns the node count")
        return self

    @property
    def min_nodes(self) -> int:
        """Nodes the pool is guaranteed to have."""
        return self.autoscaler.min if self.autoscaler else (self.count or 0)


class ClusterConfig(Model):
    kubernetes_version: K8sVersion = Field(
        default="1.33", description="LKE Kubernetes version, pinned as `major.minor`."
    )
    high_availability: bool = Field(
        default=False,
        description="HA control plane. Irreversible once on; required in production.",
    )
    control_plane_acl: list[Ipv4Cidr] = Field(
        default_factory=list,
        description=(
            "IPv4 CIDRs allowed to reach the Kubernetes API. Empty: no ACL (API open to "
            "the internet, authenticated)."
        ),
    )
    pools: dict[DnsLabel, NodePool] = Field(
        default_factory=lambda: {"default": NodePool(count=1)},
        min_length=1,
        description="Node pools keyed by name; reordering replaces nothing.",
    )
    tags: list[str] = Field(
        default_factory=list, description="Extra Linode tags (environment and project are always added)."
    )

    @property
    def min_nodes(self) -> int:
        return sum(pool.min_nodes for pool in self.pools.values())


# --------------------------------------------------------------------------- argo cd


class RolloutsConfig(Model):
    enabled: bool | None = Field(
        default=None,
        description="Install Argo Rollouts. Default: on in staging and production.",
    )
    chart_version: ChartVersion = Field(
        default="2.41.0", description="Pinned version of the argo-rollouts Helm chart."
    )
    namespace: DnsLabel = Field(default="argo-rollouts", description="Namespace of Argo Rollouts.")


class NotificationsConfig(Model):
    enabled: bool = Field(
        default=True,
        description=(
            "Send Argo CD deployed, sync-failed and health-degraded notifications of every "
            "Application to the Slack incoming webhook `slackWebhookUrl` (the webhook fixes the channel)."
        ),
    )


class ArgoCdConfig(Model):
    chart_version: ChartVersion = Field(
        default="10.1.1", description="Pinned version of the argo-cd Helm chart."
    )
    namespace: DnsLabel = Field(default="argocd", description="Namespace Argo CD is installed in.")
    high_availability: bool = Field(
        default=False,
        description="Replicated controller, server, repo server, ApplicationSet controller and redis-ha. Needs >= 3 nodes.",
    )
    rbac_default_policy: Literal["role:readonly", ""] = Field(
        default="role:readonly",
        description='Role of an authenticated user without a matching RBAC rule (`""`: none).',
    )
    helm_timeout_seconds: int = Field(
        default=900,
        ge=60,
        le=3600,
        description="How long `pulumi up` waits for the Argo CD (and Argo Rollouts) release to become ready.",
    )
    notifications: NotificationsConfig = Field(
        default_factory=NotificationsConfig, description="Argo CD notifications."
    )
    rollouts: RolloutsConfig = Field(default_factory=RolloutsConfig, description="Argo Rollouts.")


# --------------------------------------------------------------------------- gitops


# A Kubernetes kind with its API group (`rbac.authorization.k8s.io/ClusterRole`), or a core kind alone.
ClusterKind = Annotated[str, Field(pattern=r"^([a-z0-9]([-a-z0-9.]*[a-z0-9])?/)?[A-Z][A-Za-z0-9]*$")]


class GitOpsConfig(Model):
    repo_url: str | None = Field(
        default=None,
        pattern=r"^git@github\.com:[A-Za-z0-9._-]+/[A-Za-z0-9._-]+\.git$",
        description="SSH URL Argo CD pulls from. Default: the `github` repository's SSH URL.",
    )
    target_revision: str = Field(
        default="main", min_length=1, description="Branch, tag or commit Argo CD tracks."
    )
    clusters_path: str = Field(
        default="gitops/clusters",
        pattern=r"^[A-Za-z0-9._-]+(/[A-Za-z0-9._-]+)*$",
        description="Directory holding one manifest directory per environment.",
    )
    charts_path: str = Field(
        default="infra/helm/charts",
        pattern=r"^[A-Za-z0-9._-]+(/[A-Za-z0-9._-]+)*$",
        description="Directory holding one Helm chart per service.",
    )
    cluster_resources: list[ClusterKind] = Field(
        default_factory=lambda: ["Namespace"],
        min_length=1,
        description=(
            "Cluster-scoped kinds the environment's AppProject lets Applications manage, as "
            "`Kind` (core group) or `group/Kind`; no wildcards. `Namespace` is needed for "
            "the Applications' `CreateNamespace=true`."
        ),
    )


# --------------------------------------------------------------------------- services


class ServiceConfig(Model):
    namespace: DnsLabel | None = Field(
        default=None, description="Namespace the service deploys to. Default: `platform-<env>`."
    )
    chart: DnsLabel | None = Field(
        default=None, description="Chart directory under `gitops.chartsPath`. Default: the service name."
    )


# --------------------------------------------------------------------------- github


# GitHub logins: letters, digits and single inner hyphens, at most 39 characters (no '_' or '.').
_GITHUB_LOGIN = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9]|-(?=[A-Za-z0-9])){0,38}$")
# Branch name patterns of deployment policies (fnmatch, as GitHub matches them).
_BRANCH_PATTERN = re.compile(r"^[A-Za-z0-9._/*-]+$")
# GitHub lets an environment name up to six required reviewers, users and teams together.
MAX_ENVIRONMENT_REVIEWERS = 6
MAIN_BRANCH = "main"


def _github_login(value: str) -> str:
    if not _GITHUB_LOGIN.fullmatch(value):
        raise ValueError(
            "must be a GitHub login: letters, digits and single hyphens, not starting or ending "
            "with a hyphen, at most 39 characters"
        )
    return value


def _branch_pattern(value: str) -> str:
    if not _BRANCH_PATTERN.fullmatch(value) or value.startswith(("/", "refs/")) or "//" in value:
        raise ValueError("must be a branch name or fnmatch pattern such as main or release/*")
    return value


GithubLogin = Annotated[str, AfterValidator(_github_login)]
BranchPattern = Annotated[str, AfterValidator(_branch_pattern)]


class Reviewers(Model):
    users: list[GithubLogin] = Field(
        default_factory=list, description="GitHub logins allowed to approve (resolved to user ids)."
    )
    teams: list[DnsLabel] = Field(
        default_factory=list, description="Team slugs of the owner organisation allowed to approve."
    )

    @model_validator(mode="after")
    def _unique_and_within_limit(self) -> Reviewers:
        for kind, names in (("users", self.users), ("teams", self.teams)):
            seen = {n.lower() for n in names}
            if len(seen) != len(names):
                raise ValueError(f"{kind} lists a reviewer twice")
        if self.count > MAX_ENVIRONMENT_REVIEWERS:
            raise ValueError(
                f"GitHub allows at most {MAX_ENVIRONMENT_REVIEWERS} required reviewers (users and "
                f"teams together); {self.count} given"
            )
        return self

    @property
    def count(self) -> int:
        return len(self.users) + len(self.teams)


class Deployer(Model):
    """The identity that runs `pulumi up` in CI and commits to `main` without a pull request."""

    user: GithubLogin = Field(
        description=(
            "Machine user owning `ciGithubToken`: it commits the workflow files and the GitOps "
            "image-tag updates to `main`. It may not approve deployments."
        )
    )
    team: DnsLabel = Field(
        description=(
            "Slug of a team whose only member is `user`: the one bypass actor of `main`'s ruleset "
            "(a ruleset can name a team or an app as bypass actor, so the user gets its own team)."
        )
    )


_REPO_PATH = r"^[A-Za-z0-9._-]+(/[A-Za-z0-9._-]+)*$"
ImagePlatform = Literal["linux/amd64", "linux/arm64"]


def _all_platforms() -> list[ImagePlatform]:
    return ["linux/amd64", "linux/arm64"]


_SEMVER_V = r"^v\d+\.\d+\.\d+$"


class WorkflowsConfig(Model):
    """The generated GitHub Actions workflows (declared by the stack with manageRepository)."""

    go_version: str = Field(
        default="1.26",
        pattern=r"^1\.\d+(\.\d+)?$",
        description="Go version CI builds, tests, lints and scans with (`go-version` of the reusable build).",
    )
    python_version: str = Field(
        default="3.11",
        pattern=r"^3\.\d+$",
        description="Python version the infrastructure workflow runs this Pulumi program with.",
    )
    pulumi_version: str = Field(
        default="3.274.1",
        pattern=r"^\d+\.\d+\.\d+$",
        description=(
            "Pulumi CLI version of the infrastructure workflow: the one `make preview` is tested with, "
            "at or above the `pulumi` SDK pin in requirements.txt (a CLI runs older SDKs)."
        ),
    )
    golangci_lint_version: str = Field(
        default="v2.15.0", pattern=_SEMVER_V, description="golangci-lint release the lint job runs."
    )
    gitleaks_version: str = Field(
        default="v8.30.1",
        pattern=_SEMVER_V,
        description="gitleaks release, installed with `go install` (checksum-verified by the Go module mirror).",
    )
    services_path: str = Field(
        default="services",
        pattern=_REPO_PATH,
        description="Directory with one directory (and Makefile) per service; CI discovers services here.",
    )
    pulumi_path: str = Field(
        default="infra/pulumi",
        pattern=_REPO_PATH,
        description="Directory of this Pulumi program in the repository; the infrastructure workflow runs it.",
    )
    migrations_path: str = Field(
        default="db/migrations",
        pattern=_REPO_PATH,
        description="Directory of the numbered SQL migrations that db-guardrails checks.",
    )
    image_registry: str | None = Field(
        default=None,
        pattern=r"^ghcr\.io/[a-z0-9._-]+(/[a-z0-9._-]+)*$",
        description="GHCR prefix images are pushed under (`<prefix>/<service>`). Default: `ghcr.io/<owner>`.",
    )
    image_platforms: list[ImagePlatform] = Field(
        default_factory=_all_platforms,
        min_length=1,
        description="Platforms of every pushed image (multi-arch manifest).",
    )
    commit_author: str = Field(
        default="delivery-bot",
        min_length=1,
        pattern=r"^[^<>\n]+$",
        description="Author name of the workflow-file commits and of the GitOps image-tag commits.",
    )
    commit_email: str = Field(
        default="delivery-bot@users.noreply.github.com",
        pattern=r"^[^@\s<>]+@[^@\s<>]+\.[^@\s<>]+$",
        description="Author email of those commits.",
    )

    def registry_for(self, owner: str) -> str:
        """Image prefix: `imageRegistry`, or GHCR under the (lowercased) repository owner."""
        return self.image_registry or f"ghcr.io/{owner.lower()}"


class GithubConfig(Model):
    owner: GithubName = Field(description="GitHub organisation or user that owns the repository.")
    repository: GithubName = Field(
        description="Repository holding services, charts, GitOps manifests and this program."
    )
    manage_repository: bool = Field(
        default=False,
        description=(
            "This stack declares the repository-wide objects (branch protection, repository "
            "secrets and variables, OIDC template, workflow files, metrics bucket). Exactly "
            "one stack sets it: the one named by `managingStack`."
        ),
    )
    managing_stack: Environment = Field(
        default="production",
        description=(
            "The one stack that declares the repository-wide objects. Every stack file names the "
            "same stack, and only that stack sets `manageRepository: true`, so two stacks never "
            "overwrite each other's objects."
        ),
    )
    deployer: Deployer | None = Field(
        default=None,
        description="The deploying identity; required in the stack that manages the repository.",
    )
    production_reviewers: Reviewers = Field(
        default_factory=Reviewers,
        description=(
            "Who approves deployments to the production environment (required in production, "
            "refused elsewhere: development and staging deploy on merge without approval)."
        ),
    )
    deployment_branches: list[BranchPattern] = Field(
        default_factory=lambda: [MAIN_BRANCH],
        min_length=1,
        description=(
            "Branches (fnmatch patterns) allowed to deploy to this stack's environment. Staging "
            "and production: only `main`."
        ),
    )
    workflows: WorkflowsConfig = Field(
        default_factory=WorkflowsConfig, description="The generated GitHub Actions workflows."
    )

    @property
    def ssh_url(self) -> str:
        return f"git@github.com:{self.owner}/{self.repository}.git"


# --------------------------------------------------------------------------- metrics


class MetricsConfig(Model):
    bucket: DnsLabel = Field(
        default="ai-aas-build-metrics", description="Object Storage bucket for CI build metrics."
    )
    region: LinodeRegion = Field(
        default="us-ord",
        description="Object Storage region of the bucket.",
    )
    retention_days: int = Field(default=90, ge=1, le=3650, description="Days a metrics object is kept.")
    noncurrent_version_days: int = Field(
        default=7,
        ge=1,
        le=365,
        description="Days an overwritten or deleted metrics object's old version is kept (versioning is on).",
    )
    abort_incomplete_upload_days: int = Field(
        default=1,
        ge=1,
        le=30,
        description="Days after which an unfinished multipart upload is aborted and its parts freed.",
    )


# --------------------------------------------------------------------------- pipeline


class StateBackendConfig(Model):
    """The Object Storage bucket holding this stack's Pulumi state (created by hand at bootstrap)."""

    bucket: DnsLabel = Field(
        description=(
            "State bucket of this stack. One bucket per stack, so one environment's CI keys "
            "cannot read or overwrite another environment's state."
        )
    )
    region: LinodeRegion = Field(
        default="us-ord",
        description="Object Storage region of the state bucket.",
    )
    endpoint: str | None = Field(
        default=None,
        pattern=r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)+$",
        examples=["us-ord-1.linodeobjects.com"],
        description="S3 endpoint host of the bucket's region (a host name, no scheme).",
        json_schema_extra={"defaultText": "`<region>-1.linodeobjects.com`"},
    )

    @property
    def endpoint_host(self) -> str:
        return self.endpoint or f"{self.region}-1.linodeobjects.com"


class CredentialsConfig(Model):
    """Lifetime of the Linode credentials the program mints for CI."""

    issued_on: str = Field(
        pattern=r"^\d{4}-\d{2}-\d{2}$",
        description=(
            "Date (YYYY-MM-DD) the current CI Linode tokens and state keys were minted. Changing "
            "it rotates them: `pulumi up` mints new ones and replaces the Actions secrets."
        ),
    )
    lifetime_days: int = Field(
        default=90,
        ge=1,
        le=365,
        description="Days a minted CI Linode token stays valid after `issuedOn`.",
    )

    @model_validator(mode="after")
    def _issued_on_is_a_date(self) -> CredentialsConfig:
        try:
            issued = date.fromisoformat(self.issued_on)
        except ValueError as error:
            raise ValueError(f"issuedOn {self.issued_on!r} is not a calendar date: {error}") from None
        if not 2000 <= issued.year <= 2999:
            raise ValueError(f"issuedOn {self.issued_on!r}: allowed: a date from 2000-01-01 to 2999-12-31")
        return self

    @property
    def expiry(self) -> str:
        """When the minted tokens expire, as the Linode API takes it (UTC, ISO 8601)."""
        expires = date.fromisoformat(self.issued_on) + timedelta(days=self.lifetime_days)
        return f"{expires.isoformat()}T00:00:00Z"


class PipelineConfig(Model):
    """What CI needs from this stack: where its state lives and how long its credentials last."""

    state_backend: StateBackendConfig = Field(description="This stack's Pulumi state bucket.")
    credentials: CredentialsConfig = Field(description="The CI Linode credentials the program mints.")


# --------------------------------------------------------------------------- stack


class StackConfig(Model):
    environment: Environment = Field(
        description="Environment of this stack.",
        json_schema_extra={"defaultText": "the stack name"},
    )
    region: LinodeRegion = Field(
        default="us-ord",
        description="Linode region of the cluster (e.g. us-ord, eu-central).",
    )
    cluster: ClusterConfig = Field(default_factory=ClusterConfig, description="The LKE cluster.")
    argocd: ArgoCdConfig = Field(default_factory=ArgoCdConfig, description="Argo CD and Argo Rollouts.")
    gitops: GitOpsConfig = Field(
        default_factory=GitOpsConfig, description="Where Argo CD reads desired state."
    )
    services: dict[DnsLabel, ServiceConfig] = Field(
        min_length=1, description="The platform's services, keyed by name (one Argo CD Application each)."
    )
    github: GithubConfig = Field(description="The GitHub repository and its governance.")
    metrics: MetricsConfig = Field(default_factory=MetricsConfig, description="CI build metrics bucket.")
    pipeline: PipelineConfig = Field(
        description="CI of this stack: its state bucket and the lifetime of the credentials minted for CI."
    )

    @model_validator(mode="after")
    def _cross_field_rules(self) -> StackConfig:
        problems: list[Problem] = []
        env = self.environment
        nodes = self.cluster.min_nodes
        if env == "production":
            if not self.cluster.high_availability:
                problems.append(
                    Problem(
                        "cluster.highAvailability",
                        False,
                        "production needs an HA control plane; allowed: true",
                    )
                )
            if nodes < 3:
                problems.append(
                    Problem(
                        "cluster.pools",
                        nodes,
                        "production needs at least 3 nodes in total (count, or autoscaler min); allowed: 3 or more",
                    )
                )
            if not self.argocd.high_availability:
                problems.append(
                    Problem(
                        "argocd.highAvailability",
                        False,
                        "production runs Argo CD highly available (replicated server, repo server, "
                        "ApplicationSet controller, redis-ha); allowed: true",
                    )
                )
            if self.github.production_reviewers.count == 0:
                problems.append(
                    Problem(
                        "github.productionReviewers",
                        self.github.production_reviewers.model_dump(by_alias=True),
                        "production deployments need at least one reviewer; allowed: one or more users or teams",
                    )
                )
        if self.argocd.high_availability and nodes < 3:
            problems.append(
                Problem(
                    "argocd.highAvailability",
                    True,
                    f"HA Argo CD runs redis-ha, which needs at least 3 nodes and the cluster guarantees {nodes}; "
                    "allowed: false, or pools with 3 or more nodes",
                )
            )
        problems.extend(self._gitops_problems())
        problems.extend(self._governance_problems())
        if problems:
            raise ConfigError(problems)
        return self

    def _governance_problems(self) -> list[Problem]:
        """One owner of the repository-wide objects; seed 001's promotion rules per environment."""
        problems: list[Problem] = []
        env = self.environment
        gh = self.github
        owner = gh.managing_stack
        if gh.manage_repository != (env == owner):
            problems.append(
                Problem(
                    "github.manageRepository",
                    gh.manage_repository,
                    f"`github.managingStack` names {owner!r} as the one stack declaring the repository-wide "
                    f"objects, so this {env!r} stack must not declare them too; allowed: {str(env == owner).lower()}",
                )
            )
        if gh.manage_repository and gh.deployer is None:
            problems.append(
                Problem(
                    "github.deployer",
                    _MISSING,
                    "the stack that manages the repository needs the deploying identity (user and team) "
                    "that alone may push to main; allowed: {user: <login>, team: <team slug>}",
                )
            )
        if env in ("staging", "production") and gh.deployment_branches != [MAIN_BRANCH]:
            problems.append(
                Problem(
                    "github.deploymentBranches",
                    gh.deployment_branches,
                    f"{env} deploys only what was merged to {MAIN_BRANCH}; allowed: [{MAIN_BRANCH}]",
                )
            )
        if env != "production" and gh.production_reviewers.count:
            problems.append(
                Problem(
                    "github.productionReviewers",
                    gh.production_reviewers.model_dump(by_alias=True),
                    f"only the production stack's environment has required reviewers; {env} deploys on "
                    "merge without approval (seed 001); allowed: none",
                )
            )
        if gh.deployer is not None:
            reviewers = gh.production_reviewers
            if gh.deployer.user.lower() in {u.lower() for u in reviewers.users}:
                problems.append(
                    Problem(
                        "github.productionReviewers.users",
                        reviewers.users,
                        f"the deploying identity {gh.deployer.user!r} must not approve the deployments it "
                        "runs; allowed: people other than the deployer",
                    )
                )
            if gh.deployer.team in reviewers.teams:
                problems.append(
                    Problem(
                        "github.productionReviewers.teams",
                        reviewers.teams,
                        f"the deployer's team {gh.deployer.team!r} must not approve the deployments it "
                        "runs; allowed: teams other than the deployer's",
                    )
                )
        metrics = self.metrics
        if metrics.noncurrent_version_days > metrics.retention_days:
            problems.append(
                Problem(
                    "metrics.noncurrentVersionDays",
                    metrics.noncurrent_version_days,
                    f"old versions would outlive the metrics themselves (retentionDays {metrics.retention_days}); "
                    f"allowed: 1 to {metrics.retention_days}",
                )
            )
        return problems

    def _gitops_problems(self) -> list[Problem]:
        """Argo CD's and Kubernetes' own namespaces stay out of the Applications' reach (they are
        the AppProject's destinations), Application names stay unique, and the AppProject allows
        the Namespaces the Applications create."""
        problems: list[Problem] = []
        reserved = {
            self.argocd.namespace: "argocd.namespace",
            self.argocd.rollouts.namespace: "argocd.rollouts.namespace",
            "kube-system": "",
            "kube-public": "",
            "kube-node-lease": "",
            "default": "",
        }
        default_namespace = f"platform-{self.environment}"
        if reserved.get(default_namespace):
            problems.append(
                Problem(
                    reserved[default_namespace],
                    default_namespace,
                    f"{default_namespace} is where the platform's Applications deploy; allowed: any other DNS label",
                )
            )
        for name in sorted(self.services):
            namespace = self.services[name].namespace
            if namespace is not None and namespace in reserved:
                problems.append(
                    Problem(
                        f"services.{name}.namespace",
                        namespace,
                        "Applications may not deploy into Argo CD's, Argo Rollouts' or Kubernetes' own "
                        f"namespaces ({', '.join(sorted(reserved))}); allowed: any other DNS label",
                    )
                )
        if "infrastructure" in self.services:
            problems.append(
                Problem(
                    "services.infrastructure",
                    _MISSING,
                    f"`infrastructure` names the Application platform-{self.environment}-infrastructure; "
                    "allowed: any other service name",
                )
            )
        if "Namespace" not in self.gitops.cluster_resources:
            problems.append(
                Problem(
                    "gitops.clusterResources",
                    list(self.gitops.cluster_resources),
                    "Applications create their namespaces (CreateNamespace=true), which the AppProject "
                    "must allow; allowed: a list that includes Namespace",
                )
            )
        return problems

    # Derived settings, computed here so every component agrees on them.
    @property
    def rollouts_enabled(self) -> bool:
        enabled = self.argocd.rollouts.enabled
        return self.environment != "development" if enabled is None else enabled

    @property
    def gitops_repo_url(self) -> str:
        return self.gitops.repo_url or self.github.ssh_url

    def service_namespace(self, name: str) -> str:
        return self.services[name].namespace or f"platform-{self.environment}"


# --------------------------------------------------------------------------- errors


@dataclass(frozen=True)
class Problem:
    """One bad config value: where (key path below the namespace), what, and why."""

    path: str
    value: Any
    message: str
    namespace: str = NAMESPACE

    def render(self) -> str:
        key = f"{self.namespace}:{self.path}" if self.path else self.namespace
        shown = "" if self.value is _MISSING else f" = {json.dumps(self.value, default=str)}"
        return f"{key}{shown}: {self.message}"


_MISSING: Any = object()


class ConfigError(pulumi.RunError):
    """The stack configuration is invalid; the message lists every problem.

    A `RunError`, so `pulumi up` prints the message without a Python traceback.
    """

    def __init__(self, problems: list[Problem]):
        self.problems = problems
        count = f"{len(problems)} problem" + ("s" if len(problems) != 1 else "")
        lines = "\n".join(f"  - {p.render()}" for p in problems)
        super().__init__(f"invalid stack configuration ({count}); nothing was declared:\n{lines}")


def _key_path(loc: tuple[str | int, ...]) -> str:
    """`("cluster", "controlPlaneAcl", 0)` -> `cluster.controlPlaneAcl[0]`."""
    path = ""
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        elif part != "[key]":
            # Keys from user input may hold anything: quote the odd ones so the path stays one line.
            shown = part if re.fullmatch(r"[A-Za-z0-9_-]+", part) else json.dumps(part)
            path += f".{shown}" if path else shown
    return path


def _allowed_keys(model: type[BaseModel]) -> list[str]:
    return sorted(f.alias or name for name, f in model.model_fields.items())


def _owner_model(loc: tuple[str | int, ...]) -> type[BaseModel] | None:
    model: Any = StackConfig
    i = 0
    while i < len(loc):
        part = loc[i]
        if isinstance(part, int):  # a list index: the item model was resolved already
            i += 1
            continue
        if not (isinstance(model, type) and issubclass(model, BaseModel)):
            return None
        field = next((f for n, f in model.model_fields.items() if part in (n, f.alias)), None)
        if field is None:
            return None
        annotation = field.annotation
        if getattr(annotation, "__origin__", None) is dict:
            model = annotation.__args__[1]  # type: ignore[union-attr]
            i += 2  # the next part is the collection key
            continue
        model = next(
            (
                a
                for a in (annotation, *getattr(annotation, "__args__", ()))
                if isinstance(a, type) and issubclass(a, BaseModel)
            ),
            None,
        )
        i += 1
    return model if isinstance(model, type) and issubclass(model, BaseModel) else None


def _pattern_message(loc: tuple[str | int, ...], pattern: str) -> str:
    """A pattern mismatch, with the field's examples where it declares them."""
    owner = _owner_model(loc[:-1])
    field = (
        next((f for n, f in owner.model_fields.items() if loc[-1] in (n, f.alias)), None) if owner else None
    )
    examples = ", ".join(str(e) for e in (field.examples or [])) if field else ""
    allowed = f"values like {examples}" if examples else f"values matching {pattern}"
    return f"not a valid value here; allowed: {allowed}"


def _problems_from(error: ValidationError) -> list[Problem]:
    problems: list[Problem] = []
    for item in error.errors(include_url=False):
        loc = tuple(item["loc"])
        path = _key_path(loc)
        kind = item["type"]
        if kind == "extra_forbidden":
            owner = _owner_model(loc[:-1])
            allowed = ", ".join(_allowed_keys(owner)) if owner else "none"
            problems.append(Problem(path, item["input"], f"unknown key; allowed keys here: {allowed}"))
        elif kind == "missing":
            problems.append(Problem(path, _MISSING, "required key is missing"))
        else:
            message = str(item["msg"]).removeprefix("Value error, ")
            if kind == "string_pattern_mismatch":
                message = _pattern_message(loc, str(item.get("ctx", {}).get("pattern", "")))
            if loc and loc[-1] == "[key]":
                message = f"invalid name: {message}"
            problems.append(Problem(path, item["input"], message))
    return problems


def parse_config(raw: dict[str, Any]) -> StackConfig:
    """Validate raw config values (top-level keys without namespace) into a StackConfig."""
    try:
        return StackConfig.model_validate(raw)
    except ValidationError as error:
        raise ConfigError(_problems_from(error)) from None


# --------------------------------------------------------------------------- loading


@dataclass(frozen=True)
class StackSecrets:
    """Secret config values, kept as secret Outputs end to end."""

    ci_pulumi_passphrase: pulumi.Output[str]
    slack_webhook_url: pulumi.Output[str]
    ci_github_token: pulumi.Output[str]
    ci_github_read_token: pulumi.Output[str]


@dataclass(frozen=True)
class GithubProviderSettings:
    """The github provider's own stack config, handed to the program's explicit provider.

    An explicitly created provider takes only the arguments the program passes (stack config
    `github:*` reaches the default provider alone), so the loader reads `github:token` and
    `github:baseUrl` here. Unset, the provider falls back to GITHUB_TOKEN and GITHUB_BASE_URL.
    """

    token: pulumi.Output[str] | None
    base_url: str | None


GITHUB_PROVIDER_KEYS = ("token", "baseUrl")


def _github_provider_settings() -> tuple[GithubProviderSettings, list[Problem]]:
    values = _raw_namespace_values("github")
    problems = [
        Problem(
            key,
            _MISSING,
            "the program creates its github provider itself and passes it only the owner "
            "(`delivery:github.owner`), the token and the base URL; "
            "allowed keys here: github:token (secret), github:baseUrl",
            namespace="github",
        )
        for key in sorted(values)
        if key not in GITHUB_PROVIDER_KEYS
    ]
    token: pulumi.Output[str] | None = None
    if "token" in values:
        if runtime_config.is_config_secret("github:token"):
            token = pulumi.Config("github").require_secret("token")
        else:
            problems.append(
                Problem(
                    "token",
                    _MISSING,
                    "stored in plain text; allowed: a secret, `pulumi config set --secret github:token`",
                    namespace="github",
                )
            )
    base_url = values.get("baseUrl")
    if base_url is not None and not re.fullmatch(r"https?://[^\s]+/", str(base_url)):
        problems.append(
            Problem(
                "baseUrl",
                base_url,
                "allowed: an http(s) URL ending in `/` (GitHub Enterprise: https://<host>/)",
                namespace="github",
            )
        )
    return GithubProviderSettings(token=token, base_url=base_url), problems


def _raw_namespace_values(namespace: str = NAMESPACE) -> dict[str, Any]:
    """Every `<namespace>:*` key set for this stack (stack file and Pulumi.yaml defaults)."""
    keys = set(runtime_config.CONFIG.get()) | set(runtime_config.get_config_env())
    prefix = f"{namespace}:"
    return {k[len(prefix) :]: runtime_config.get_config(k) for k in sorted(keys) if k.startswith(prefix)}


def _decode(value: Any) -> Any:
    """Structured config values (objects, lists) arrive as JSON strings; scalars stay as set."""
    if isinstance(value, str) and value[:1] in ("{", "["):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def parse_namespace(values: dict[str, Any], stack: str) -> StackConfig:
    """Validate the `delivery:*` values as the engine passes them (without the prefix)."""
    raw = {k: _decode(v) for k, v in values.items() if k not in SECRET_KEYS}
    raw.setdefault("environment", stack)
    return parse_config(raw)


def load_config() -> tuple[StackConfig, StackSecrets, GithubProviderSettings]:
    """Read and validate the whole stack configuration; raise ConfigError on bad input."""
    github_provider, provider_problems = _github_provider_settings()
    try:
        config = parse_namespace(_raw_namespace_values(), pulumi.get_stack())
    except ConfigError as error:
        raise ConfigError([*error.problems, *provider_problems]) from None
    if provider_problems:
        raise ConfigError(provider_problems)
    cfg = pulumi.Config(NAMESPACE)
    secrets = StackSecrets(
        ci_pulumi_passphrase=cfg.require_secret("ciPulumiPassphrase"),
        slack_webhook_url=cfg.require_secret("slackWebhookUrl"),
        ci_github_token=cfg.require_secret("ciGithubToken"),
        ci_github_read_token=cfg.require_secret("ciGithubReadToken"),
    )
    return config, secrets, github_provider
