"""Config models of Argo CD, Argo Rollouts, the GitOps source and the services (``delivery:argocd``,
``delivery:gitops``, ``delivery:services``)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, model_validator

from components.config.base import ChartVersion, DnsLabel, Duration, Environment, GithubLogin, Model
from components.contracts import gitops_layout
from components.kubernetes.config import ChartDigest, PinnedChartImage

# The images the argo-cd chart deploys with this program's values, by config key: `argocd`
# (every Argo CD component), `redis` (Redis, or in HA redis-ha's Redis and Sentinel) and, in
# HA, redis-ha's `haproxy`. Dex, the Redis exporters, the extension installer and the commit
# server are off (tests/kubernetes/test_chart_images.py holds this list to the chart's values.yaml).
ArgoCdImage = Literal["argocd", "redis", "haproxy"]
RolloutsImage = Literal["controller"]

# Seed 003's quality gates: production health is availability above 99.9 % (auto rollback),
# the performance gate an error rate below 1 %.
PRODUCTION_AVAILABILITY = 0.999
DEFAULT_SUCCESS_RATE = 0.99
# Seed 004's blue-green: the previous version stays up this long after a promotion is final.
SCALE_DOWN_DELAY_SECONDS = 30


class AnalysisConfig(Model):
    """The ClusterAnalysisTemplates the services' Rollouts reference (where Rollouts are enabled)."""

    min_success_rate: float | None = Field(
        default=None,
        gt=0,
        le=1,
        description=(
            "Lowest share of non-5xx responses a new version may serve. Production's is tied to "
            "the availability target (seed 003: above 99.9 %) and may not be lower; elsewhere the "
            "performance gate's error rate (seed 003: below 1 %)."
        ),
        json_schema_extra={"defaultText": "0.999 in production, else 0.99"},
    )
    max_p95_latency_ms: int = Field(
        default=1000,
        ge=1,
        le=60000,
        description="A new version's P95 request latency must stay below this many milliseconds (seed 003).",
    )
    interval: Duration = Field(default="1m", description="Time between two measurements of a metric.")
    count: int = Field(default=5, ge=1, le=100, description="Measurements per analysis run.")
    failure_limit: int = Field(
        default=1,
        ge=0,
        le=99,
        description="Failed measurements tolerated; one more fails the analysis and aborts the rollout.",
    )
    rate_window: Duration = Field(
        default="2m", description="Range of the `rate()` each measurement's query averages over."
    )

    def for_environment(self, environment: Environment) -> AnalysisConfig:
        """These thresholds with the environment's default success rate filled in."""
        if self.min_success_rate is not None:
            return self
        rate = PRODUCTION_AVAILABILITY if environment == "production" else DEFAULT_SUCCESS_RATE
        return self.model_copy(update={"min_success_rate": rate})

    @model_validator(mode="after")
    def _failure_limit_below_count(self) -> AnalysisConfig:
        if self.failure_limit >= self.count:
            raise ValueError(
                f"failureLimit ({self.failure_limit}) must be below count ({self.count}), "
                "or a run can never fail"
            )
        return self


class RolloutsConfig(Model):
    enabled: bool = Field(
        default=True,
        description=(
            "Install Argo Rollouts. On in every environment, so every service deploys as a Rollout "
            "(development's direct deployment is a canary without steps); off, services deploy "
            "as Deployments."
        ),
    )
    chart_version: ChartVersion = Field(
        default="2.41.0", description="Pinned version of the argo-rollouts Helm chart."
    )
    chart_digest: ChartDigest | None = Field(
        default=None,
        description=(
            "Digest of the argo-rollouts chart at chartVersion in oci://ghcr.io/argoproj/argo-helm "
            "(`oras resolve ghcr.io/argoproj/argo-helm/argo-rollouts:<chartVersion>`); Helm installs "
            "that manifest and nothing else. Required in staging and production."
        ),
    )
    images: dict[RolloutsImage, PinnedChartImage] = Field(
        default_factory=dict,
        description=(
            "The chart's images by tag and digest: `controller` (quay.io/argoproj/argo-rollouts at the "
            "chart's appVersion). Unset: the chart's tag. Required in staging and production."
        ),
    )
    namespace: DnsLabel = Field(default="argo-rollouts", description="Namespace of Argo Rollouts.")
    analysis: AnalysisConfig = Field(
        default_factory=AnalysisConfig,
        description="The ClusterAnalysisTemplates the services' Rollouts reference (declared where Rollouts run).",
    )
    scale_down_delay_seconds: int = Field(
        default=SCALE_DOWN_DELAY_SECONDS,
        ge=0,
        le=3600,
        description=(
            "Blue-green (production): seconds the previous version keeps running after a promotion "
            "has passed its post-promotion analysis, so an abort in that time switches back at once "
            "(seed 004: 30)."
        ),
    )


class NotificationsConfig(Model):
    enabled: bool = Field(
        default=True,
        description=(
            "Send Argo CD deployed, sync-failed and health-degraded notifications of every "
            "Application to the Slack incoming webhook `slackWebhookUrl` (the webhook fixes the channel)."
        ),
    )
    github_dispatch: bool = Field(
        default=False,
        description=(
            "Staging only: when an Application has synced and is healthy, send the GitHub "
            "repository a `staging-deployed` repository_dispatch (Application, revisions, images), "
            "which starts staging validation. Authenticates with the secret `argocdDispatchToken`."
        ),
    )


class ArgoCdAccount(Model):
    """A local Argo CD account: logs in to the UI and CLI with a password, never with API keys."""

    role: Literal["operator", "readonly"] = Field(
        default="readonly",
        description=(
            "`operator`: sees, syncs and runs resource actions (a Rollout's promote or abort) on the "
            "environment's Applications and reads their logs; `readonly`: Argo CD's built-in read-only role."
        ),
    )


class ArgoCdConfig(Model):
    chart_version: ChartVersion = Field(
        default="10.1.1", description="Pinned version of the argo-cd Helm chart."
    )
    chart_digest: ChartDigest | None = Field(
        default=None,
        description=(
            "Digest of the argo-cd chart at chartVersion in oci://ghcr.io/argoproj/argo-helm "
            "(`oras resolve ghcr.io/argoproj/argo-helm/argo-cd:<chartVersion>`); Helm installs that "
            "manifest and nothing else. Unset: by version. Required in staging and production."
        ),
    )
    images: dict[ArgoCdImage, PinnedChartImage] = Field(
        default_factory=dict,
        description=(
            "The chart's images by tag and digest: `argocd` (quay.io/argoproj/argocd at the chart's "
            "appVersion), `redis` and, with highAvailability, `haproxy` (redis-ha's). Unset: the "
            "chart's tags. Staging and production set every image their chart deploys."
        ),
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
    admin_enabled: bool | None = Field(
        default=None,
        description=(
            "Argo CD's built-in `admin` account. Default: on in development, off in staging and "
            "production, where it is on only for the bootstrap's first login, in which admin sets "
            "the accounts' passwords (docs/operations.md, After `pulumi up`). Off needs an `operator` account."
        ),
        json_schema_extra={"defaultText": "true in development, else false"},
    )
    accounts: dict[DnsLabel, ArgoCdAccount] = Field(
        default_factory=dict,
        description=(
            "Local accounts operators log in with, keyed by user name (`argocd login --username <name>`); "
            "passwords are set in Argo CD, never in config."
        ),
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

    @property
    def deployed_images(self) -> tuple[ArgoCdImage, ...]:
        """The images the chart runs with these settings (HA adds redis-ha's HAProxy)."""
        return ("argocd", "redis", "haproxy") if self.high_availability else ("argocd", "redis")

    def admin_on(self, environment: Environment) -> bool:
        """Whether the built-in admin can log in: `adminEnabled`, by default only in development."""
        return environment == "development" if self.admin_enabled is None else self.admin_enabled


# A Kubernetes kind with its API group (`rbac.authorization.k8s.io/ClusterRole`), or a core kind alone.
ClusterKind = Annotated[str, Field(pattern=r"^([a-z0-9]([-a-z0-9.]*[a-z0-9])?/)?[A-Z][A-Za-z0-9]*$")]


class GitOpsConfig(Model):
    repo_url: str | None = Field(
        default=None,
        pattern=r"^(git@github\.com:|https://github\.com/)[A-Za-z0-9._-]+/[A-Za-z0-9._-]+\.git$",
        description=(
            "URL Argo CD pulls from: SSH (with its deploy key), or https for a public repository "
            "read anonymously when `github.enabled` is false. Default: the `github` repository's SSH URL."
        ),
    )
    target_revision: str = Field(
        default="main",
        min_length=1,
        description=(
            "Branch, tag or commit Argo CD tracks. Production must track `release/production`, "
            "the branch only promotion moves."
        ),
    )
    clusters_path: str = Field(
        default=gitops_layout.CLUSTERS_PATH,
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


# CodeQL's language names (github/codeql-action `languages`): Go services, Python
# services and the Node/TypeScript web portal (seeds 001, 002 and 004).
SourceLanguage = Literal["go", "python", "javascript-typescript"]


class ServiceConfig(Model):
    namespace: DnsLabel | None = Field(
        default=None, description="Namespace the service deploys to. Default: `platform-<env>`."
    )
    chart: DnsLabel | None = Field(
        default=None, description="Chart directory under `gitops.chartsPath`. Default: the service name."
    )
    language: SourceLanguage = Field(
        default="go",
        description=(
            "Language of the service's source, as CodeQL names it: security.yml analyses every "
            "language a service of the managing stack uses (and Semgrep scans them all)."
        ),
    )


class ImagePullConfig(Model):
    user: GithubLogin = Field(
        description=(
            "Machine user owning `ghcrPullToken`, the clusters' identity towards GHCR (the image "
            "puller in docs/reference/identities.md), with read access to the "
            "repository the images are published from."
        )
    )
    secret_name: DnsLabel = Field(
        default="ghcr-pull",
        description=(
            "Name of the `kubernetes.io/dockerconfigjson` Secret the program keeps in every namespace "
            "an Application deploys to; service Applications pass it to their chart as "
            "`imagePullSecrets`."
        ),
    )
