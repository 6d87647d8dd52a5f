"""Argo CD AppProject and Applications of one environment, as plain manifests (pure: no Pulumi).

Names follow the seeds: project `platform-<env>`, Applications `platform-<env>-infrastructure`
(the directory `<clustersPath>/<env>`) and `platform-<env>-<service>` (the service's Helm
chart under `<chartsPath>`, with `values-<env>.yaml` and then the image file the delivery
workflows commit, `<clustersPath>/<env>/images/<service>.yaml`, see `gitops_layout`).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict

from components.config.base import Environment
from components.contracts.gitops_layout import LABEL_ENVIRONMENT, environment_dir, image_file
from components.gitops.config import GitOpsConfig

API_VERSION = "argoproj.io/v1alpha1"
IN_CLUSTER = "https://kubernetes.default.svc"
# Application: deleting it first deletes what it deployed. AppProject: deletion waits until
# no Application refers to it.
RESOURCES_FINALIZER = "resources-finalizer.argocd.argoproj.io"
SYNC_OPTIONS = ("CreateNamespace=true", "PrunePropagationPolicy=foreground", "PruneLast=true")
# Exponential backoff as in seed 004: 5s, 10s, 20s, ... capped at 3m, five attempts.
RETRY = {"limit": 5, "backoff": {"duration": "5s", "factor": 2, "maxDuration": "3m"}}
INFRASTRUCTURE = "infrastructure"
# Name of the values-only source: a value file `$gitops/<path>` is `<path>` in the GitOps repository.
GITOPS_REF = "gitops"


def project_name(environment: Environment) -> str:
    """The environment's AppProject, `platform-<env>` (Argo CD's RBAC scopes the operators to it)."""
    return f"platform-{environment}"


class ServiceApp(BaseModel):
    """One service's deployment: its namespace and its chart directory."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    namespace: str
    chart: str


class GitOpsSpec(BaseModel):
    """Everything the AppProject and Applications of one environment are built from."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    environment: Environment
    argocd_namespace: str
    repo_url: str
    gitops: GitOpsConfig
    services: dict[str, ServiceApp]
    automated_sync: bool
    # Whether a service may sync without its image file (then with its chart's default image).
    tolerate_missing_image: bool
    # The pull Secret (components.gitops.image_pull) in every namespace of `namespaces`.
    image_pull_secret: str
    # What every service chart gets under `platform:` (components.gitops.service_chart).
    platform: dict[str, Any]

    @property
    def project(self) -> str:
        return project_name(self.environment)

    @property
    def platform_namespace(self) -> str:
        """Where the infrastructure Application (and, by default, every service) deploys."""
        return f"platform-{self.environment}"

    @property
    def namespaces(self) -> list[str]:
        """Every namespace an Application of this environment may deploy to."""
        return sorted({self.platform_namespace, *(s.namespace for s in self.services.values())})

    def application_name(self, app: str) -> str:
        return f"{self.project}-{app}"


def _group_kind(entry: str) -> dict[str, str]:
    group, _, kind = entry.rpartition("/")
    return {"group": group, "kind": kind}


def _metadata(spec: GitOpsSpec, name: str) -> dict[str, Any]:
    return {
        "name": name,
        "namespace": spec.argocd_namespace,
        "labels": {LABEL_ENVIRONMENT: spec.environment},
        "finalizers": [RESOURCES_FINALIZER],
    }


def app_project(spec: GitOpsSpec) -> dict[str, Any]:
    """The environment's AppProject: one repository, this cluster, the platform's namespaces."""
    return {
        "apiVersion": API_VERSION,
        "kind": "AppProject",
        "metadata": _metadata(spec, spec.project),
        "spec": {
            "description": f"The platform's {spec.environment} Applications (managed by Pulumi).",
            "sourceRepos": [spec.repo_url],
            "destinations": [{"server": IN_CLUSTER, "namespace": ns} for ns in spec.namespaces],
            # Cluster-scoped kinds are denied unless listed; namespaced kinds are allowed in
            # the destinations above (which exclude Argo CD's own namespaces).
            "clusterResourceWhitelist": [
                _group_kind(entry) for entry in sorted(set(spec.gitops.cluster_resources))
            ],
        },
    }


# Argo CD's own project: argocd-server creates it at start, allowing every repository,
# destination and kind, and recreates it when it is deleted. Emptying it is how Argo CD
# documents restricting it:
# https://argo-cd.readthedocs.io/en/stable/user-guide/projects/#the-default-project
DEFAULT_PROJECT = "default"
# The default project exists before Pulumi declares it, and argocd-server owns its fields: a
# Patch resource applies ours with server-side apply, and this annotation lets it take them
# over instead of failing on the conflict
# (https://www.pulumi.com/registry/packages/kubernetes/how-to-guides/managing-resources-with-server-side-apply/).
PATCH_FORCE = "pulumi.com/patchForce"


def default_project(argocd_namespace: str) -> dict[str, Any]:
    """Argo CD's `default` AppProject with nothing allowed: no source repository, no source
    namespace, no destination, no cluster-scoped kind and every namespaced kind denied, so no
    Application can deploy through it, whoever creates one."""
    return {
        "apiVersion": API_VERSION,
        "kind": "AppProject",
        "metadata": {
            "name": DEFAULT_PROJECT,
            "namespace": argocd_namespace,
            "annotations": {PATCH_FORCE: "true"},
        },
        "spec": {
            "description": "Argo CD's default project, emptied by Pulumi: no Application can use it.",
            "sourceRepos": [],
            "sourceNamespaces": [],
            "destinations": [],
            "clusterResourceWhitelist": [],
            "namespaceResourceBlacklist": [{"group": "*", "kind": "*"}],
        },
    }


def _sync_policy(spec: GitOpsSpec) -> dict[str, Any]:
    policy: dict[str, Any] = {"syncOptions": list(SYNC_OPTIONS), "retry": RETRY}
    if spec.automated_sync:
        policy = {"automated": {"prune": True, "selfHeal": True}, **policy}
    return policy


def _source(spec: GitOpsSpec, **fields: Any) -> dict[str, Any]:
    """A source in the GitOps repository (the one the AppProject allows) at the tracked revision."""
    return {"repoURL": spec.repo_url, "targetRevision": spec.gitops.target_revision, **fields}


def _application(spec: GitOpsSpec, app: str, sources: list[dict[str, Any]], namespace: str) -> dict[str, Any]:
    # One source stays `source`: a one-element `sources` would make Argo CD treat the
    # Application as multi-source for nothing.
    source: dict[str, Any] = {"source": sources[0]} if len(sources) == 1 else {"sources": sources}
    return {
        "apiVersion": API_VERSION,
        "kind": "Application",
        "metadata": _metadata(spec, spec.application_name(app)),
        "spec": {
            "project": spec.project,
            **source,
            "destination": {"server": IN_CLUSTER, "namespace": namespace},
            "syncPolicy": _sync_policy(spec),
            "revisionHistoryLimit": 10,
        },
    }


def infrastructure_application(spec: GitOpsSpec) -> dict[str, Any]:
    """`platform-<env>-infrastructure`: the environment's manifest directory.

    No `directory` block: Argo CD detects plain manifests or a kustomization there itself,
    and does not recurse, so the image files in `images/` below it are not read as manifests.
    """
    path = environment_dir(spec.gitops.clusters_path, spec.environment)
    return _application(spec, INFRASTRUCTURE, [_source(spec, path=path)], spec.platform_namespace)


def service_application(spec: GitOpsSpec, service: str) -> dict[str, Any]:
    """`platform-<env>-<service>`: the service's chart with the environment's values file and
    the image the delivery workflows committed for it (multi-source, Argo CD >= 2.6)."""
    app = spec.services[service]
    image = image_file(environment_dir(spec.gitops.clusters_path, spec.environment), service)
    chart = _source(
        spec,
        path=f"{spec.gitops.charts_path}/{app.chart}",
        helm={
            "releaseName": service,
            # Later files win: the committed image overrides the chart's and the values file's.
            "valueFiles": [f"values-{spec.environment}.yaml", f"${GITOPS_REF}/{image}"],
            # Off, a missing image (or values) file is a ComparisonError and nothing syncs until
            # the delivery workflow writes it; on (development only), the service runs its
            # chart's default image until then. Argo CD has one switch per source, so it
            # covers the values file too.
            "ignoreMissingValueFiles": spec.tolerate_missing_image,
            # The namespace's GHCR pull Secret, under the key `helm create` charts read, and the
            # environment's part of the service chart contract (strategy, analysis, ingress:
            # docs/service-chart.md). Argo CD ranks valuesObject above valueFiles: no values
            # file can drop or change them.
            "valuesObject": {
                "imagePullSecrets": [{"name": spec.image_pull_secret}],
                "platform": spec.platform,
            },
        },
    )
    # Values only: a source with `ref` and no `path` renders nothing itself.
    return _application(spec, service, [chart, _source(spec, ref=GITOPS_REF)], app.namespace)


def applications(spec: GitOpsSpec) -> dict[str, dict[str, Any]]:
    """Every Application of the environment, keyed by app (`infrastructure` or service name)."""
    apps = {INFRASTRUCTURE: infrastructure_application(spec)}
    for service in sorted(spec.services):
        apps[service] = service_application(spec, service)
    return apps
