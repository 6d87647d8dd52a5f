"""The whole stack configuration, ``StackConfig``: the domain models under one root, the
rules that span domains (production requirements, one repository owner, reserved
namespaces), and the translation of pydantic's errors into ``Problem``s with full config
key paths (``delivery:cluster.pools.default.count``), the bad value and what is allowed.
"""

from __future__ import annotations

import ipaddress
import json
import re
from typing import Any

from pydantic import BaseModel, Field, ValidationError, model_validator

from components.cluster.config import ClusterConfig
from components.config.base import (
    _MISSING,
    MAIN_BRANCH,
    ConfigError,
    DnsLabel,
    Environment,
    FieldError,
    LinodeRegion,
    Model,
    Problem,
)
from components.contracts.gitops_layout import RELEASE_BRANCH_PREFIX, release_branch
from components.contracts.ingress import LETSENCRYPT_PROD
from components.github.config import (
    PULUMI_PLUGIN_VERSIONS,
    PULUMI_RELEASES,
    GithubConfig,
    PipelineConfig,
    plugin_archive,
    pulumi_cli_archive,
)
from components.gitops.config import (
    PRODUCTION_AVAILABILITY,
    AnalysisConfig,
    ArgoCdConfig,
    GitOpsConfig,
    ImagePullConfig,
    ServiceConfig,
)
from components.ingress.config import INGRESS_IMAGES, IngressConfig
from components.kubernetes.config import ChartsConfig, PodPoliciesConfig
from components.monitoring.config import MONITORING_IMAGES, MonitoringConfig
from components.storage.config import MetricsConfig

# The environment staging validation observes (staging-validation.yml reads its Applications).
VALIDATED: Environment = "staging"
# The environment promote.yml promotes to, whose health its production-health job reports.
PROMOTED: Environment = "production"


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
    image_pull: ImagePullConfig = Field(
        description="How the clusters pull the platform's images from GHCR (packages of a private repository are private)."
    )
    github: GithubConfig = Field(description="The GitHub repository and its governance.")
    metrics: MetricsConfig = Field(default_factory=MetricsConfig, description="CI build metrics bucket.")
    monitoring: MonitoringConfig = Field(
        default_factory=MonitoringConfig,
        description="Prometheus, Alertmanager and the deployment alerts on the stack's cluster.",
    )
    pipeline: PipelineConfig = Field(
        description="CI of this stack: its state bucket and the lifetime of the credentials minted for CI."
    )
    ingress: IngressConfig = Field(
        default_factory=IngressConfig,
        description="ingress-nginx, cert-manager and the Let's Encrypt ClusterIssuers on the stack's cluster.",
    )
    charts: ChartsConfig = Field(
        default_factory=ChartsConfig,
        description="Where the pinned Helm charts (Argo CD, Argo Rollouts, kube-prometheus-stack) come from.",
    )
    pod_policies: PodPoliciesConfig = Field(
        default_factory=PodPoliciesConfig,
        description=(
            "Admission policies on the cluster: the platform's images pinned by digest, no root "
            "and a read-only root filesystem in every container of the Applications' namespaces."
        ),
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
        rate = self.argocd.rollouts.analysis.min_success_rate
        if env == "production" and rate is not None and rate < PRODUCTION_AVAILABILITY:
            problems.append(
                Problem(
                    "argocd.rollouts.analysis.minSuccessRate",
                    rate,
                    f"production's analysis holds a new version to the availability target (seed 003: "
                    f"above {PRODUCTION_AVAILABILITY:.1%}), and a failed post-promotion analysis rolls it "
                    f"back; allowed: {PRODUCTION_AVAILABILITY} to 1",
                )
            )
        issuer = self.ingress.cluster_issuer
        if env == "production" and issuer is not None and issuer != LETSENCRYPT_PROD:
            problems.append(
                Problem(
                    "ingress.clusterIssuer",
                    issuer,
                    "production serves certificates browsers trust and declares no other issuer; "
                    f"allowed: {LETSENCRYPT_PROD}",
                )
            )
        problems.extend(self._cluster_source_problems())
        problems.extend(self._monitoring_problems())
        problems.extend(self._pod_policy_problems())
        problems.extend(self._chart_pin_problems())
        if self.environment != "development" and self.cluster.kubeconfig_issued_on is None:
            problems.append(
                Problem(
                    "cluster.kubeconfigIssuedOn",
                    _MISSING,
                    f"{self.environment}'s admin kubeconfig rotates on a schedule and its rotation alert "
                    "counts from this date; allowed: the date (YYYY-MM-DD) the cluster was created or its "
                    "kubeconfig last regenerated (docs/rotation.md)",
                )
            )
        problems.extend(self._argocd_login_problems())
        problems.extend(self._gitops_problems())
        problems.extend(self._governance_problems())
        problems.extend(self._reachability_problems())
        if problems:
            raise ConfigError(problems)
        return self

    def _cluster_source_problems(self) -> list[Problem]:
        """An existing cluster (kubeconfig) is a deliberate choice, never production's by accident;
        the keys that only mean something for one kind of cluster are refused with the other."""
        problems: list[Problem] = []
        cluster = self.cluster
        existing = cluster.source == "kubeconfig"
        if existing and self.environment == "production" and not cluster.existing_in_production:
            problems.append(
                Problem(
                    "cluster.source",
                    "kubeconfig",
                    "production runs on the LKE cluster this program creates and protects; allowed: lke, "
                    "or kubeconfig together with delivery:cluster.existingInProduction: true to adopt an "
                    "existing production cluster",
                )
            )
        if cluster.existing_in_production and not (existing and self.environment == "production"):
            problems.append(
                Problem(
                    "cluster.existingInProduction",
                    True,
                    "it allows production on an existing cluster and this is "
                    + (
                        "not production"
                        if self.environment != "production"
                        else "an LKE stack (cluster.source: lke)"
                    )
                    + "; allowed: false",
                )
            )
        if not existing:
            if cluster.context is not None:
                problems.append(
                    Problem(
                        "cluster.context",
                        cluster.context,
                        "a kubeconfig context, and the program creates this stack's LKE cluster (cluster.source: lke); "
                        "allowed: unset, or cluster.source: kubeconfig",
                    )
                )
            if self.charts.repository is not None and self.environment != "development":
                problems.append(
                    Problem(
                        "charts.repository",
                        self.charts.repository,
                        f"{self.environment}'s LKE cluster installs every chart from its OCI registry by digest, "
                        "and a mirror serves charts by version alone; allowed: unset (a mirror only with "
                        "cluster.source: kubeconfig, or in development)",
                    )
                )
            if self.charts.skip_await:
                problems.append(
                    Problem(
                        "charts.skipAwait",
                        True,
                        "an LKE cluster has nodes: its releases are installed atomically, waiting for their "
                        "workloads; allowed: false (true only with cluster.source: kubeconfig)",
                    )
                )
        elif cluster.control_plane_acl:
            problems.append(
                Problem(
                    "cluster.controlPlaneAcl",
                    cluster.control_plane_acl,
                    "the control-plane ACL is a setting of the LKE cluster the program creates, and this stack "
                    "targets an existing cluster (cluster.source: kubeconfig); allowed: []",
                )
            )
        gh = self.github
        if gh.enabled and not self.gitops_repo_url.startswith("git@"):
            problems.append(
                Problem(
                    "gitops.repoUrl",
                    self.gitops_repo_url,
                    "Argo CD reads the GitOps repository with its SSH deploy key (github.enabled: true); "
                    "allowed: the repository's SSH URL, git@github.com:<owner>/<name>.git",
                )
            )
        if not gh.enabled:
            if self.environment == "production":
                problems.append(
                    Problem(
                        "github.enabled",
                        False,
                        "production's deployment environment (its required reviewers) is the approval of every "
                        "production deployment; allowed: true",
                    )
                )
            if not self.gitops_repo_url.startswith("https://"):
                problems.append(
                    Problem(
                        "gitops.repoUrl",
                        self.gitops_repo_url,
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

    def _monitoring_problems(self) -> list[Problem]:
        """Production alerts survive a lost pod or node; replicated pods fit one per node."""
        problems: list[Problem] = []
        nodes = self.cluster.min_nodes
        for key, replicas, role in (
            ("prometheus", self.monitoring.prometheus.replicas, "scrapes and alerts"),
            ("alertmanager", self.monitoring.alertmanager.replicas, "notifies"),
        ):
            path = f"monitoring.{key}.replicas"
            name = "Prometheus" if key == "prometheus" else "Alertmanager"
            if self.environment == "production" and replicas < 2:
                problems.append(
                    Problem(
                        path,
                        replicas,
                        f"production runs {name} highly available (a second replica {role} while one "
                        "is down); allowed: 2 or more",
                    )
                )
            if replicas >= 2 and replicas > nodes:
                problems.append(
                    Problem(
                        path,
                        replicas,
                        "two or more replicas run one per node (hard anti-affinity) and the cluster "
                        f"guarantees {nodes} nodes; allowed: 1 to {max(nodes, 1)}",
                    )
                )
        return problems

    def _pod_policy_problems(self) -> list[Problem]:
        """Staging and production never run a platform image that is not pinned by digest:
        what staging validated is what production runs, byte for byte."""
        if self.environment == "development":
            return []
        policies = self.pod_policies
        why = f"{self.environment} refuses Pods whose platform images are not pinned by digest"
        if not policies.enabled:
            return [Problem("podPolicies.enabled", False, f"{why}; allowed: true")]
        if "Deny" not in policies.image_digest_actions:
            return [
                Problem(
                    "podPolicies.imageDigestActions",
                    list(policies.image_digest_actions),
                    f"{why}; allowed: [Deny] or [Deny, Audit]",
                )
            ]
        return []

    def _chart_pin_problems(self) -> list[Problem]:
        """Staging and production install every chart by digest and run every image the charts
        deploy by digest: a chart or image tag can be moved to other content, a digest cannot.
        No default exists for either; only the registry gives them (docs/supply-chain.md)."""
        env = self.environment
        rollouts = self.argocd.rollouts
        tracing = self.monitoring.tracing
        deployed: list[tuple[str, list[str], list[str]]] = [
            ("argocd", list(self.argocd.deployed_images), list(self.argocd.images)),
            ("monitoring", list(MONITORING_IMAGES), list(self.monitoring.images)),
            ("argocd.rollouts", ["controller"] if self.rollouts_enabled else [], list(rollouts.images)),
            ("monitoring.tracing", ["collector"] if tracing.enabled else [], list(tracing.images)),
            ("ingress", list(INGRESS_IMAGES) if self.ingress.enabled else [], list(self.ingress.images)),
        ]
        if env == "development":
            return []
        why = f"{env} installs its Helm charts by digest only"
        charts: list[tuple[str, str | None, str, str]] = [
            (
                "argocd",
                self.argocd.chart_digest,
                "ghcr.io/argoproj/argo-helm/argo-cd",
                self.argocd.chart_version,
            ),
            (
                "monitoring",
                self.monitoring.chart_digest,
                "ghcr.io/prometheus-community/charts/kube-prometheus-stack",
                self.monitoring.chart_version,
            ),
        ]
        if self.rollouts_enabled:
            charts.append(
                (
                    "argocd.rollouts",
                    rollouts.chart_digest,
                    "ghcr.io/argoproj/argo-helm/argo-rollouts",
                    rollouts.chart_version,
                )
            )
        if tracing.enabled:
            charts.append(
                (
                    "monitoring.tracing",
                    tracing.chart_digest,
                    "ghcr.io/open-telemetry/opentelemetry-helm-charts/opentelemetry-collector",
                    tracing.chart_version,
                )
            )
        ingress_charts = (
            (
                "ingress.nginxChartDigest",
                self.ingress.nginx_chart_digest,
                "registry.k8s.io/ingress-nginx/charts/ingress-nginx",
                self.ingress.nginx_chart_version,
            ),
            (
                "ingress.certManagerChartDigest",
                self.ingress.cert_manager_chart_digest,
                "quay.io/jetstack/charts/cert-manager",
                self.ingress.cert_manager_chart_version,
            ),
        )
        problems = [
            Problem(
                key,
                _MISSING,
                f"{why}; allowed: the sha256 digest of {ref}:{version} "
                f"(`oras resolve {ref}:{version}` or `crane digest {ref}:{version}`)",
            )
            for key, digest, ref, version in ingress_charts
            if self.ingress.enabled and digest is None
        ]
        problems += [
            Problem(
                f"{key}.chartDigest",
                _MISSING,
                f"{why}; allowed: the sha256 digest of {ref}:{version} "
                f"(`oras resolve {ref}:{version}` or `crane digest {ref}:{version}`)",
            )
            for key, digest, ref, version in charts
            if digest is None
        ]
        problems += [
            Problem(
                f"{key}.images.{image}",
                _MISSING,
                f"{env} runs every image its charts deploy by digest, never by a tag alone; allowed: "
                "<registry>/<repository>:<tag>@sha256:<64 hex> of the image the chart's version runs "
                "(`crane digest <registry>/<repository>:<tag>`)",
            )
            for key, runs, configured in deployed
            for image in runs
            if image not in configured
        ]
        return problems

    def _argocd_login_problems(self) -> list[Problem]:
        """Someone can always log in to Argo CD: the built-in admin, or an operator account."""
        problems: list[Problem] = []
        argocd = self.argocd
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
        if not argocd.admin_on(self.environment) and not operators:
            default = argocd.admin_enabled is None
            problems.append(
                Problem(
                    "argocd.adminEnabled",
                    _MISSING if default else False,
                    f"the built-in admin is off{f' (the default in {self.environment})' if default else ''} "
                    "and no account in delivery:argocd.accounts has role operator, so nobody could log in "
                    "to sync, roll back or abort a release; allowed: true (the bootstrap's first login, "
                    'docs/operations.md, "After pulumi up"), or an account with role: operator in delivery:argocd.accounts',
                )
            )
        return problems

    def _reachability_problems(self) -> list[Problem]:
        """The runners of the jobs that reach this stack's Kubernetes API must get through its
        control-plane ACL (docs/security.md, "Reachability"): an ACL admits addresses, and only a
        self-hosted group has fixed ones. Staging's API is read by its infrastructure jobs and
        by staging validation's observer jobs (its Argo CD Applications)."""
        problems: list[Problem] = []
        runners = self.pipeline.runners
        for name in sorted(runners):
            if runners[name].validation_observer and name != VALIDATED:
                problems.append(
                    Problem(
                        f"pipeline.runners.{name}.validationObserver",
                        True,
                        f"staging validation observes {VALIDATED} only, so the {name} group runs no observer "
                        "job; allowed: false",
                    )
                )
        for name in sorted(runners):
            if runners[name].health_observer and name != PROMOTED:
                problems.append(
                    Problem(
                        f"pipeline.runners.{name}.healthObserver",
                        True,
                        f"promote.yml's health job observes {PROMOTED} only, so the {name} group runs no "
                        "health job; allowed: false",
                    )
                )
        acl = self.cluster.control_plane_acl
        # An existing cluster has no ACL here (_cluster_source_problems refuses one).
        if not acl or self.cluster.source == "kubeconfig":
            return problems
        env = self.environment
        observed = env == VALIDATED
        runner = runners.get(env)
        jobs = f"the {env} infrastructure jobs" + (
            " and staging validation's observer jobs (which read its Argo CD Applications)"
            if observed
            else ""
        )
        if runner is None:
            problems.append(
                Problem(
                    "cluster.controlPlaneAcl",
                    acl,
                    f"{jobs} run on GitHub-hosted runners (delivery:pipeline.runners.{env} "
                    "is not set), which have no fixed egress addresses, so the ACL would lock them out of the "
                    f"Kubernetes API; allowed: [], or a self-hosted group in delivery:pipeline.runners.{env} "
                    + ("with validationObserver: true " if observed else "")
                    + "whose egressCidrs lie inside the ACL",
                )
            )
            return problems
        networks = [ipaddress.IPv4Network(cidr, strict=False) for cidr in acl]
        outside = [
            cidr
            for cidr in runner.egress_cidrs
            if not any(ipaddress.IPv4Network(cidr, strict=False).subnet_of(net) for net in networks)
        ]
        if outside:
            problems.append(
                Problem(
                    f"pipeline.runners.{env}.egressCidrs",
                    outside,
                    f"outside delivery:cluster.controlPlaneAcl {json.dumps(acl)}: the {env} infrastructure runner could not "
                    "reach its Kubernetes API; allowed: CIDRs inside the ACL (or widen the ACL)",
                )
            )
        if env == PROMOTED and not runner.health_observer:
            problems.append(
                Problem(
                    f"pipeline.runners.{env}.healthObserver",
                    False,
                    "promote.yml's production-health job reads production's Argo CD Applications through "
                    f"its Kubernetes API after each sync, and on GitHub-hosted runners delivery:cluster.controlPlaneAcl "
                    f"{json.dumps(acl)} would refuse it: no promotion could report production's health; "
                    "allowed: true (this group runs it too, and must admit promote.yml on main), or an "
                    "empty controlPlaneAcl",
                )
            )
        if observed and not runner.validation_observer:
            problems.append(
                Problem(
                    f"pipeline.runners.{env}.validationObserver",
                    False,
                    "staging validation's observer jobs (target and gate of staging-validation.yml) read "
                    f"{env}'s Argo CD Applications through its Kubernetes API, and on GitHub-hosted runners, "
                    f"which have no fixed addresses, delivery:cluster.controlPlaneAcl {json.dumps(acl)} would "
                    "refuse them: validation, and with it every promotion to production, would fail; allowed: "
                    "true (this group runs them too, and must admit staging-validation.yml on main), or an "
                    "empty controlPlaneAcl",
                )
            )
        return problems

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
        problems.extend(self._code_owner_problems())
        problems.extend(self._organisation_problems())
        problems.extend(self._runner_group_problems())
        if gh.manage_repository and env == owner and gh.workflows.validation.base_url is None:
            problems.append(
                Problem(
                    "github.workflows.validation.baseUrl",
                    _MISSING,
                    "the stack that manages the repository commits staging-validation.yml, which tests "
                    "staging at this URL; allowed: an https URL such as https://api.staging.example.com",
                )
            )
        if gh.manage_repository and env == owner:
            problems.extend(self._toolchain_problems())
        notifications = self.argocd.notifications
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
        problems.extend(self._plan_problems())
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

    def _runner_group_problems(self) -> list[Problem]:
        """One group per stack: a shared group's runners would run both stacks' `up`."""
        problems: list[Problem] = []
        seen: dict[str, str] = {}
        for env in sorted(self.pipeline.runners):
            group = self.pipeline.runners[env].group
            if group in seen:
                problems.append(
                    Problem(
                        f"pipeline.runners.{env}.group",
                        group,
                        f"already the group of {seen[group]}, whose runners would then run both stacks' "
                        "infrastructure jobs; allowed: a group name no other stack uses",
                    )
                )
            seen.setdefault(group, env)
        return problems

    def _organisation_problems(self) -> list[Problem]:
        """Teams and runner groups belong to organisations: a user account has neither."""
        gh = self.github
        if gh.owner_type == "organization":
            return []
        why = f"github.owner {gh.owner!r} is a user account (github.ownerType: user), which has no "
        problems = [
            Problem(
                f"pipeline.runners.{env}",
                self.pipeline.runners[env].group,
                why + "self-hosted runner groups; allowed: none, or an organisation as owner",
            )
            for env in sorted(self.pipeline.runners)
        ]
        teams: list[tuple[str, Any]] = [
            ("github.deployer.team", gh.deployer.team if gh.deployer is not None else None),
            ("github.productionReviewers.teams", gh.production_reviewers.teams),
            ("github.codeOwners.teams", gh.code_owners.teams if gh.code_owners is not None else None),
        ]
        problems += [
            Problem(key, value, why + "teams; allowed: an organisation as owner")
            for key, value in teams
            if value
        ]
        return problems

    def _code_owner_problems(self) -> list[Problem]:
        """The managing stack commits `.github/CODEOWNERS`, and main's ruleset requires a code
        owner's review: someone must own the paths, and never the deployer, whose token could
        then approve what it is about to deploy."""
        gh = self.github
        if not gh.manage_repository:
            if gh.code_owners is not None:
                return [
                    Problem(
                        "github.codeOwners",
                        gh.code_owners.model_dump(by_alias=True),
                        f"only the managing stack ({gh.managing_stack}) commits .github/CODEOWNERS; "
                        "allowed: none in this stack",
                    )
                ]
            return []
        if self.environment != gh.managing_stack:
            return []  # a stray manageRepository: reported as such
        owners = gh.owners_of_code
        if owners.count == 0:
            if gh.code_owners is None and self.environment == "production":
                return []  # production's missing reviewers are reported as such
            return [
                Problem(
                    "github.codeOwners",
                    _MISSING,
                    "the stack that manages the repository commits .github/CODEOWNERS and main requires "
                    "a code owner's review; allowed: {users: [<login>], teams: [<team slug>]}, or "
                    "github.productionReviewers in this stack",
                )
            ]
        problems: list[Problem] = []
        # The production reviewers, when they own the code, are checked as reviewers already.
        if gh.deployer is not None and gh.code_owners is not None:
            if gh.deployer.user.lower() in {u.lower() for u in owners.users}:
                problems.append(
                    Problem(
                        "github.codeOwners.users",
                        owners.users,
                        f"the deploying identity {gh.deployer.user!r} must not approve changes as a code "
                        "owner; allowed: people other than the deployer",
                    )
                )
            if gh.deployer.team in owners.teams:
                problems.append(
                    Problem(
                        "github.codeOwners.teams",
                        owners.teams,
                        f"the deployer's team {gh.deployer.team!r} must not approve changes as a code "
                        "owner; allowed: teams other than the deployer's",
                    )
                )
        return problems

    def _toolchain_problems(self) -> list[Problem]:
        """The checksums the rendered workflows verify their downloads against: no default
        exists for them, only the files the releases publish."""
        workflows = self.github.workflows
        toolchain = workflows.toolchain
        key = "github.workflows.toolchain"
        problems: list[Problem] = []
        if toolchain.pulumi_cli_sha256 is None:
            version = workflows.pulumi_version
            problems.append(
                Problem(
                    f"{key}.pulumiCliSha256",
                    _MISSING,
                    f"the infrastructure jobs install the Pulumi CLI from {pulumi_cli_archive(version)} "
                    f"only if it matches this checksum; allowed: the 64 hex digits listed for that file in "
                    f"pulumi-{version}-checksums.txt of {PULUMI_RELEASES}/tag/v{version}",
                )
            )
        for name, version in PULUMI_PLUGIN_VERSIONS.items():
            pin = toolchain.pulumi_plugins.get(name)
            where = f"https://github.com/pulumi/pulumi-{name}/releases/tag/v{version}"
            if pin is None:
                problems.append(
                    Problem(
                        f"{key}.pulumiPlugins.{name}",
                        _MISSING,
                        f"the infrastructure jobs install the {name} plugin by checksum and download no "
                        f"other; allowed: {{version: {version}, sha256: <the 64 hex digits listed for "
                        f"{plugin_archive(name, version)} in the checksums file of {where}>}}",
                    )
                )
            elif pin.version != version:
                problems.append(
                    Problem(
                        f"{key}.pulumiPlugins.{name}.version",
                        pin.version,
                        f"requirements.txt pins the pulumi-{name} SDK {version}, which asks for plugin "
                        f"{version}; allowed: {version}, with the sha256 of {plugin_archive(name, version)} "
                        f"from {where}",
                    )
                )
        return problems

    def _plan_problems(self) -> list[Problem]:
        """Features the delivery system cannot do without, against what the plan offers."""
        plan = self.github.plan
        where = f"a {plan.visibility} repository on GitHub {plan.tier.capitalize()}"
        problems: list[Problem] = []
        if not plan.environments:
            problems.append(
                Problem(
                    "github.plan.tier",
                    plan.tier,
                    f"{where} has no deployment environments, which hold every stack's CI credentials; "
                    "allowed: pro, team or enterprise, or visibility public",
                )
            )
        elif self.environment == "production" and not plan.environment_reviewers:
            problems.append(
                Problem(
                    "github.plan.tier",
                    plan.tier,
                    f"production deploys only after a required reviewer approves, and {where} has no "
                    "required reviewers on environments; allowed: enterprise, or visibility public",
                )
            )
        if self.github.manage_repository and not plan.rulesets:
            problems.append(
                Problem(
                    "github.plan.tier",
                    plan.tier,
                    f"{where} has no rulesets, which protect main; allowed: pro, team or enterprise, "
                    "or visibility public",
                )
            )
        if plan.code_security and not plan.public and plan.tier in ("free", "pro"):
            problems.append(
                Problem(
                    "github.plan.codeSecurity",
                    True,
                    f"GitHub Code Security is sold for organisations on Team or Enterprise, not {where}; "
                    "allowed: false, or tier team or enterprise",
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
            self.monitoring.namespace: "monitoring.namespace",
            self.ingress.nginx_namespace: "ingress.nginxNamespace",
            self.ingress.cert_manager_namespace: "ingress.certManagerNamespace",
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
                        "Applications may not deploy into Argo CD's, Argo Rollouts', monitoring's, the ingress "
                        "add-ons' or Kubernetes' own "
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
        release = release_branch("production")
        revision = self.gitops.target_revision
        if self.environment == "production" and revision != release:
            problems.append(
                Problem(
                    "gitops.targetRevision",
                    revision,
                    f"production runs only what promote.yml moved to {release} after staging validated it "
                    f"and production's reviewers approved it; allowed: {release}",
                )
            )
        elif self.environment != "production" and revision.startswith(RELEASE_BRANCH_PREFIX):
            problems.append(
                Problem(
                    "gitops.targetRevision",
                    revision,
                    f"{RELEASE_BRANCH_PREFIX}* branches are production's, moved only by promotion; "
                    "allowed: main or another branch, tag or commit",
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
    def analysis(self) -> AnalysisConfig:
        """The analysis thresholds with this environment's default success rate filled in."""
        return self.argocd.rollouts.analysis.for_environment(self.environment)

    @property
    def gitops_repo_url(self) -> str:
        return self.gitops.repo_url or self.github.ssh_url

    def service_namespace(self, name: str) -> str:
        return self.services[name].namespace or f"platform-{self.environment}"

    @property
    def platform_namespaces(self) -> tuple[str, ...]:
        """Namespaces of the platform's own workloads: Argo CD, Argo Rollouts where it runs,
        monitoring and the services (the crash-loop alert watches these)."""
        namespaces = {self.argocd.namespace, self.monitoring.namespace}
        namespaces.update(self.service_namespace(name) for name in self.services)
        if self.rollouts_enabled:
            namespaces.add(self.argocd.rollouts.namespace)
        return tuple(sorted(namespaces))


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
        elif isinstance(cause := item.get("ctx", {}).get("error"), FieldError):
            given = item["input"]
            value = given.get(cause.key, _MISSING) if isinstance(given, dict) else _MISSING
            problems.append(Problem(_key_path((*loc, cause.key)), value, str(cause)))
        elif (
            kind == "string_type"
            and isinstance(item["input"], int | float)
            and not isinstance(item["input"], bool)
        ):
            # `kubernetesVersion: 1.30` is the YAML number 1.3 by the time it reaches the program.
            problems.append(
                Problem(
                    path,
                    item["input"],
                    "YAML read this as a number, not text (an unquoted 1.30 becomes 1.3); "
                    'allowed: the value in quotes, e.g. "1.30"',
                )
            )
        elif loc == ("services",) and not item["input"]:
            # `services: {}`, or `services:` with no value, which the engine passes as "".
            problems.append(
                Problem(
                    path,
                    item["input"],
                    "at least one service is needed (one Argo CD Application each); allowed: a map of "
                    "service names to their settings, e.g. api-router-service: {}",
                )
            )
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
