"""Composition root: load the stack config once, build the components, export outputs."""

import pulumi
import pulumi_github as github

from components.cluster.cluster import Cluster, ClusterArgs
from components.cluster.existing_cluster import ExistingCluster, ExistingClusterArgs
from components.config import adapters
from components.config.base import ENVIRONMENTS
from components.config.loader import load_config
from components.contracts.gitops_layout import environment_dir
from components.github.actions_settings import ActionsSettings, ActionsSettingsArgs
from components.github.code_owners import CodeOwners, CodeOwnersArgs
from components.github.deployment_environment import (
    DeploymentEnvironment,
    DeploymentEnvironmentArgs,
    EnvironmentSecrets,
)
from components.github.observer_environment import ObserverEnvironment, ObserverEnvironmentArgs
from components.github.repository_governance import (
    MetricsCredentials,
    RepositoryGovernance,
    RepositoryGovernanceArgs,
)
from components.github.risk_acceptance import RiskAcceptanceEnvironment, RiskAcceptanceEnvironmentArgs
from components.github.runner_groups import RunnerGroups, RunnerGroupsArgs
from components.github.workflow_files import WorkflowFiles, WorkflowFilesArgs
from components.github.workflows import required_code_scanning_tools, required_status_checks, used_actions
from components.gitops.analysis_templates import AnalysisTemplates, AnalysisTemplatesArgs
from components.gitops.argocd import ArgoCd, ArgoCdArgs
from components.gitops.argocd_repository import ArgoCdRepository, ArgoCdRepositoryArgs
from components.gitops.argocd_values import metrics_endpoints
from components.gitops.gitops_apps import GitOpsApps
from components.gitops.gitops_manifests import applications
from components.gitops.image_pull import ImagePullSecrets, ImagePullSecretsArgs
from components.gitops.rollouts import Rollouts, RolloutsArgs
from components.gitops.validation_observer import ValidationObserver, ValidationObserverArgs
from components.ingress.ingress import Ingress, IngressArgs
from components.kubernetes.admission_policies import PodPolicies, PodPoliciesArgs
from components.kubernetes.network_isolation import NetworkIsolation, NetworkIsolationArgs
from components.kubernetes.network_policies import Isolation, TracingIsolation
from components.monitoring.jaeger import METRICS_PORT as JAEGER_METRICS_PORT
from components.monitoring.jaeger import QUERY_HTTP_PORT as JAEGER_QUERY_PORT
from components.monitoring.jaeger import SELECTOR as JAEGER_PODS
from components.monitoring.jaeger import query_url as jaeger_query_url
from components.monitoring.monitoring import Monitoring, MonitoringArgs
from components.monitoring.stack_values import (
    OPERATOR_WEBHOOK_PORT,
    PROMETHEUS_PODS,
    PROMETHEUS_PORT,
    prometheus_url,
)
from components.monitoring.tracing import (
    COLLECTOR_PODS,
    OTLP_GRPC_PORT,
    OTLP_HTTP_PORT,
    Tracing,
    TracingArgs,
)
from components.monitoring.tracing import endpoint as otlp_endpoint
from components.storage.metrics_bucket import MetricsBucket, MetricsBucketArgs


def main() -> None:
    # Validates everything first: bad config raises ConfigError before any resource exists.
    config, secrets, providers = load_config()
    env = config.environment
    project = pulumi.get_project()

    # --- cluster -------------------------------------------------------------------
    # The LKE cluster this program creates, or (cluster.source: kubeconfig) an existing one.
    cluster: Cluster | ExistingCluster
    if config.cluster.source == "kubeconfig":
        if secrets.kubeconfig is None:  # load_config refuses the stack first
            raise ValueError("cluster.source is kubeconfig and delivery:kubeconfig is not set")
        cluster = ExistingCluster(
            env,
            ExistingClusterArgs(
                environment=env, kubeconfig=secrets.kubeconfig, context=config.cluster.context
            ),
        )
    else:
        cluster = Cluster(
            env,
            ClusterArgs(environment=env, region=config.region, project=project, cluster=config.cluster),
        )
        pulumi.export("clusterId", cluster.cluster.id)
        pulumi.export("clusterLabel", cluster.cluster.label)
        pulumi.export("apiEndpoints", cluster.cluster.api_endpoints)
    pulumi.export("kubeconfig", cluster.kubeconfig)

    # Every GitHub object lives in the one configured repository's owner. The token and base
    # URL: `github:token` and `github:baseUrl` when the stack sets them, else GITHUB_TOKEN and
    # GITHUB_BASE_URL (the deployer identity's token in CI). github.enabled: false declares no
    # GitHub object at all (the Kubernetes half alone).
    github_provider = (
        github.Provider(
            "github",
            owner=config.github.owner,
            token=providers.github_token,
            base_url=providers.github_base_url,
        )
        if config.github.enabled
        else None
    )

    # --- monitoring ----------------------------------------------------------------
    # Prometheus, Alertmanager and the deployment alerts. First on the cluster: the Argo
    # releases declare ServiceMonitors, whose CRD this release installs.
    monitoring = Monitoring(
        f"{env}-monitoring",
        MonitoringArgs(
            environment=env,
            monitoring=config.monitoring,
            platform_namespaces=config.platform_namespaces,
            ci_credentials_expire_on=config.pipeline.credentials.expires_on,
            pagerduty_routing_key=secrets.pagerduty_routing_key,
            slack_webhook_url=secrets.slack_webhook_url,
            kubeconfig_rotate_by=config.cluster.kubeconfig_rotate_by,
            services={name: config.service_namespace(name) for name in sorted(config.services)},
            charts=config.charts,
        ),
        opts=pulumi.ResourceOptions(providers={"kubernetes": cluster.provider}),
    )
    pulumi.export("monitoringNamespace", config.monitoring.namespace)
    # Seed 002's tracing: an OpenTelemetry collector exporting to an in-cluster Jaeger (or
    # where the config names).
    tracing = None
    if config.monitoring.tracing.enabled:
        tracing = Tracing(
            f"{env}-tracing",
            TracingArgs(
                environment=env,
                tracing=config.monitoring.tracing,
                timeout_seconds=config.monitoring.helm_timeout_seconds,
                charts=config.charts,
            ),
            # Jaeger's ServiceMonitor needs the CRD the monitoring release installs.
            opts=pulumi.ResourceOptions(
                providers={"kubernetes": cluster.provider}, depends_on=[monitoring.release]
            ),
        )
        pulumi.export("otlpEndpoint", otlp_endpoint(config.monitoring.tracing))
        if config.monitoring.tracing.in_cluster_jaeger:
            pulumi.export("jaegerQueryUrl", jaeger_query_url(config.monitoring.tracing))
    pulumi.export("prometheusUrl", prometheus_url(config.monitoring))

    # --- gitops --------------------------------------------------------------------
    # Argo CD on this cluster, its read-only deploy key, Argo Rollouts where enabled (with the
    # analysis templates its Rollouts reference), the environment's AppProject and Applications.
    gitops_providers: dict[str, pulumi.ProviderResource] = {"kubernetes": cluster.provider}
    if github_provider is not None:
        gitops_providers["github"] = github_provider
    argocd = ArgoCd(
        f"{env}-argocd",
        ArgoCdArgs(
            environment=env,
            argocd=config.argocd,
            dispatch_repository=(
                f"{config.github.owner}/{config.github.repository}"
                if config.argocd.notifications.github_dispatch
                else None
            ),
            slack_webhook_url=secrets.slack_webhook_url,
            # Only the stack that sends the staging-deployed dispatch gets the token.
            dispatch_token=(
                secrets.argocd_dispatch_token if config.argocd.notifications.github_dispatch else None
            ),
            charts=config.charts,
        ),
        opts=pulumi.ResourceOptions(providers=gitops_providers, depends_on=[monitoring.release]),
    )
    gitops_spec = adapters.gitops_spec(config)
    app_dependencies: list[pulumi.Resource] = [argocd.release]
    # Argo CD reads the GitOps repository with a read-only deploy key; without GitHub
    # (github.enabled: false) it reads a public repository anonymously.
    if github_provider is not None:
        repository = ArgoCdRepository(
            f"{env}-gitops-repository",
            ArgoCdRepositoryArgs(
                environment=env,
                repository=config.github.repository,
                repo_url=gitops_spec.repo_url,
                namespace=config.argocd.namespace,
                project=gitops_spec.project,
            ),
            opts=pulumi.ResourceOptions(providers=gitops_providers, depends_on=[argocd.namespace]),
        )
        app_dependencies.append(repository.secret)
    if config.rollouts_enabled:
        rollouts = Rollouts(
            f"{env}-rollouts",
            RolloutsArgs(
                environment=env,
                rollouts=config.argocd.rollouts,
                high_availability=config.argocd.high_availability,
                timeout_seconds=config.argocd.helm_timeout_seconds,
                charts=config.charts,
            ),
            opts=pulumi.ResourceOptions(providers=gitops_providers, depends_on=[monitoring.release]),
        )
        analysis = AnalysisTemplates(
            f"{env}-analysis",
            AnalysisTemplatesArgs(
                analysis=config.analysis,
                prometheus_address=prometheus_url(config.monitoring),
            ),
            opts=pulumi.ResourceOptions(providers=gitops_providers, depends_on=[rollouts.release]),
        )
        # Rollout resources live in the Applications and reference the templates: they go
        # before the templates and the controller on destroy.
        app_dependencies.extend([rollouts.release, *analysis.templates.values()])
    # Traefik (serving the `nginx` IngressClass) and cert-manager from pinned charts, with the
    # Let's Encrypt ClusterIssuers the services' Ingresses name (docs/service-chart.md): before
    # the first sync.
    if config.ingress.enabled:
        ingress = Ingress(
            f"{env}-ingress",
            IngressArgs(
                environment=env,
                ingress=config.ingress,
                high_availability=config.argocd.high_availability,
                timeout_seconds=config.argocd.helm_timeout_seconds,
                charts=config.charts,
            ),
            opts=pulumi.ResourceOptions(
                providers={"kubernetes": cluster.provider}, depends_on=[monitoring.release]
            ),
        )
        app_dependencies.extend([*ingress.releases.values(), *ingress.issuers.values()])
    # Default-deny ingress in Argo CD's, monitoring's and the tracing namespaces: no service
    # workload reaches Alertmanager, Prometheus, Argo CD's repo server and Redis, or Jaeger;
    # the services reach the collector's OTLP ports.
    tracing_isolation = (
        TracingIsolation(
            namespace=config.monitoring.tracing.namespace,
            collector_pods=COLLECTOR_PODS,
            otlp_ports=(OTLP_GRPC_PORT, OTLP_HTTP_PORT),
            trace_sources=tuple(sorted(gitops_spec.namespaces)),
            jaeger_pods=JAEGER_PODS if config.monitoring.tracing.in_cluster_jaeger else None,
            jaeger_monitoring_ports=(JAEGER_QUERY_PORT, JAEGER_METRICS_PORT),
        )
        if tracing is not None
        else None
    )
    NetworkIsolation(
        f"{env}-network",
        NetworkIsolationArgs(
            isolation=Isolation(
                argocd_namespace=config.argocd.namespace,
                monitoring_namespace=config.monitoring.namespace,
                rollouts_namespace=config.argocd.rollouts.namespace if config.rollouts_enabled else None,
                argocd_metrics=metrics_endpoints(config.argocd),
                prometheus_pods=PROMETHEUS_PODS,
                prometheus_port=PROMETHEUS_PORT,
                webhook_port=OPERATOR_WEBHOOK_PORT,
                tracing=tracing_isolation,
            )
        ),
        opts=pulumi.ResourceOptions(
            providers={"kubernetes": cluster.provider},
            depends_on=[
                argocd.namespace,
                monitoring.namespace,
                *([tracing.namespace] if tracing is not None else []),
            ],
        ),
    )
    # GHCR pull credentials in every namespace the Applications deploy to: before the first
    # sync pulls an image, and deleted after the Applications (and their workloads).
    image_pull = ImagePullSecrets(
        f"{env}-image-pull",
        ImagePullSecretsArgs(
            environment=env,
            namespaces=gitops_spec.namespaces,
            registry=config.github.workflows.registry_for(config.github.owner).split("/", 1)[0],
            user=config.image_pull.user,
            secret_name=config.image_pull.secret_name,
            token=secrets.ghcr_pull_token,
        ),
        opts=pulumi.ResourceOptions(providers=gitops_providers),
    )
    app_dependencies.extend(image_pull.secrets.values())
    # Admission policies on the Pods of the same namespaces (docs/gitops.md, "Pod admission policies"):
    # in force before the first sync creates a Pod, removed only after the workloads.
    if config.pod_policies.enabled:
        pod_policies = PodPolicies(
            f"{env}-pod-policies",
            PodPoliciesArgs(
                environment=env,
                registry_prefix=config.github.workflows.registry_for(config.github.owner) + "/",
                namespaces=gitops_spec.namespaces,
                image_digest_actions=config.pod_policies.image_digest_actions,
                pod_security_actions=config.pod_policies.pod_security_actions,
            ),
            opts=pulumi.ResourceOptions(providers={"kubernetes": cluster.provider}),
        )
        app_dependencies.extend([*pod_policies.policies.values(), *pod_policies.bindings.values()])
    GitOpsApps(
        f"{env}-gitops",
        gitops_spec,
        opts=pulumi.ResourceOptions(providers=gitops_providers, depends_on=app_dependencies),
    )
    pulumi.export("argocdNamespace", config.argocd.namespace)
    pulumi.export(
        "argocdApplications", sorted(a["metadata"]["name"] for a in applications(gitops_spec).values())
    )

    # --- observers --------------------------------------------------------------------
    # Staging validation reads what staging runs (its Applications' revision, health and
    # images) with a read-only identity, from a main-only GitHub environment: what it
    # validates comes from staging itself, never from the dispatch that woke it. The
    # promotion's production-health job reads production the same way after each sync, and
    # pages through PagerDuty when production does not come up healthy.
    if env in ("staging", "production"):
        observer = ValidationObserver(
            f"{env}-validation-observer",
            ValidationObserverArgs(
                environment=env,
                namespace=config.argocd.namespace,
                admin_kubeconfig=cluster.kubeconfig,
                issued_on=config.cluster.kubeconfig_issued_on,
                context=config.cluster.context,
            ),
            opts=pulumi.ResourceOptions(providers=gitops_providers, depends_on=[argocd.namespace]),
        )
        if github_provider is not None:
            ObserverEnvironment(
                f"{env}-observer",
                ObserverEnvironmentArgs(
                    repository=config.github.repository,
                    environment=env,
                    kubeconfig=observer.kubeconfig,
                    pagerduty_routing_key=secrets.pagerduty_routing_key if env == "production" else None,
                ),
                opts=pulumi.ResourceOptions(providers=[github_provider]),
            )

    # --- deployment environment ----------------------------------------------------
    # Every stack: its own `<env>` and `<env>-preview` environments and CI credentials.
    if github_provider is not None:
        deployment = DeploymentEnvironment(
            f"{env}-deployment",
            DeploymentEnvironmentArgs(
                environment=env,
                project=project,
                repository=config.github.repository,
                manages_repository=config.github.manage_repository,
                reviewers=config.github.production_reviewers,
                deployment_branches=config.github.deployment_branches,
                state_backend=config.pipeline.state_backend,
                credentials=config.pipeline.credentials,
                secrets=EnvironmentSecrets(
                    pulumi_passphrase=secrets.ci_pulumi_passphrase,
                    github_token=secrets.ci_github_token,
                    github_read_token=secrets.ci_github_read_token,
                ),
            ),
            opts=pulumi.ResourceOptions(providers=[github_provider]),
        )
        # The production approvers accept an image's high findings here (delivery.yml).
        if env == "production":
            RiskAcceptanceEnvironment(
                f"{env}-image-risk",
                RiskAcceptanceEnvironmentArgs(
                    repository=config.github.repository, reviewers=config.github.production_reviewers
                ),
                opts=pulumi.ResourceOptions(providers=[github_provider]),
            )
        pulumi.export("deploymentEnvironments", [e.environment for e in deployment.environments.values()])
        pulumi.export("ciCredentialsExpire", config.pipeline.credentials.expiry)

    # --- repository-wide objects ----------------------------------------------------
    # Only the stack named by github.managingStack (config validation guarantees it names a
    # deployer): the workflow files, then the metrics bucket, main's ruleset, repository
    # secrets and variables, the OIDC subject template and the Actions settings.
    deployer = config.github.deployer
    # Config validation refuses manageRepository without GitHub (github.enabled: false).
    if config.github.manage_repository and deployer is not None and github_provider is not None:
        workflow_args = WorkflowFilesArgs(
            repository=config.github.repository,
            workflows=config.github.workflows,
            image_registry=config.github.workflows.registry_for(config.github.owner),
            clusters_path=config.gitops.clusters_path,
            metrics_region=config.metrics.region,
            environments=ENVIRONMENTS,
            runners=config.pipeline.runners,
            code_scanning=config.github.plan.code_scanning,
            languages=tuple(sorted({service.language for service in config.services.values()})),
        )
        workflow_files = WorkflowFiles(
            "workflows", workflow_args, opts=pulumi.ResourceOptions(provider=github_provider)
        )
        # Who must review changes to production's GitOps directory, the workflows, this program.
        code_owners = CodeOwners(
            "code-owners",
            CodeOwnersArgs(
                repository=config.github.repository,
                organisation=config.github.owner,
                owners=config.github.owners_of_code,
                production_dir=environment_dir(config.gitops.clusters_path, "production"),
                pulumi_path=config.github.workflows.pulumi_path,
                commit_author=config.github.workflows.commit_author,
                commit_email=config.github.workflows.commit_email,
            ),
            opts=pulumi.ResourceOptions(providers=[github_provider]),
        )
        # Only the actions the workflows run, each pinned by SHA; the token reads by default.
        ActionsSettings(
            "actions-settings",
            ActionsSettingsArgs(
                repository=config.github.repository,
                actions=used_actions(workflow_args.settings()),
            ),
            opts=pulumi.ResourceOptions(providers=[github_provider]),
        )
        # The self-hosted groups the infrastructure jobs run on, each open to this repository's
        # infrastructure workflow on main alone.
        if config.pipeline.runners:
            RunnerGroups(
                "runner-groups",
                RunnerGroupsArgs(
                    owner=config.github.owner,
                    repository=config.github.repository,
                    groups={env: runner.group for env, runner in config.pipeline.runners.items()},
                    observers=frozenset(
                        env for env, runner in config.pipeline.runners.items() if runner.validation_observer
                    ),
                    health_observers=frozenset(
                        env for env, runner in config.pipeline.runners.items() if runner.health_observer
                    ),
                ),
                opts=pulumi.ResourceOptions(providers=[github_provider]),
            )
        metrics = MetricsBucket(
            "metrics",
            MetricsBucketArgs(
                project=project,
                metrics=config.metrics,
                linode_token=providers.linode_token,
                linode_url=providers.linode_url,
            ),
        )
        RepositoryGovernance(
            "repository",
            RepositoryGovernanceArgs(
                repository=config.github.repository,
                deployer=deployer,
                required_status_checks=required_status_checks(),
                merge_queue=config.github.plan.merge_queue,
                code_scanning_tools=required_code_scanning_tools(workflow_args.settings()),
                metrics=MetricsCredentials(
                    bucket=metrics.bucket.label,
                    endpoint=metrics.endpoint,
                    access_key_id=metrics.access_key_id,
                    secret_access_key=metrics.secret_access_key,
                    report_access_key_id=metrics.report_access_key_id,
                    report_secret_access_key=metrics.report_secret_access_key,
                ),
                slack_webhook_url=secrets.slack_webhook_url,
            ),
            # Once main is protected only the deployer may commit to it: the workflow files and
            # CODEOWNERS go first, while the first `pulumi up` still may.
            opts=pulumi.ResourceOptions(
                providers=[github_provider], depends_on=[workflow_files, code_owners]
            ),
        )
        pulumi.export("workflowFiles", sorted(workflow_files.files))
        pulumi.export("metricsBucket", metrics.bucket.label)
        pulumi.export("metricsEndpoint", metrics.endpoint)


main()
