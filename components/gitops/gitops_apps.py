"""The environment's AppProject and Applications, declared as Kubernetes custom resources."""

from __future__ import annotations

import pulumi
import pulumi_kubernetes as k8s

from components.gitops.gitops_manifests import GitOpsSpec, app_project, applications, default_project
from components.kubernetes.providers import dependencies, require_provider


class GitOpsApps(pulumi.ComponentResource):
    """AppProject `platform-<env>` and its Applications, and Argo CD's `default` AppProject
    emptied so that no Application can use it.

    `opts.depends_on` must hold the Argo CD release (it installs the CRDs and the controller that
    processes the Applications' finalizers) and anything else the Applications need first
    (the repository Secret, the Argo Rollouts release). Every Application and the AppProject
    depend on them directly: Pulumi deletes dependents first, so on destroy the Applications
    go while Argo CD still runs to clear their finalizers, and the release goes last.
    Pass the cluster's Kubernetes provider in `opts.providers`.
    """

    project: k8s.apiextensions.CustomResource
    default_project: k8s.apiextensions.CustomResourcePatch
    applications: dict[str, k8s.apiextensions.CustomResource]

    def __init__(
        self,
        name: str,
        args: GitOpsSpec,
        opts: pulumi.ResourceOptions | None = None,
    ):
        super().__init__("delivery:gitops_apps:GitOpsApps", name, None, opts)
        spec = args
        depends_on = dependencies(opts)
        provider = require_provider(self, "kubernetes")
        # An Application deleted with the resources finalizer deletes everything it deployed:
        # in production a config slip (a renamed service) must not take workloads down, so
        # removing one there needs an explicit unprotect.
        protect = spec.environment == "production"

        manifest = app_project(spec)
        self.project = k8s.apiextensions.CustomResource(
            f"{name}-project",
            api_version=manifest["apiVersion"],
            kind=manifest["kind"],
            metadata=manifest["metadata"],
            spec=manifest["spec"],
            opts=pulumi.ResourceOptions(parent=self, provider=provider, depends_on=list(depends_on)),
        )
        # argocd-server created `default` when it started, so a CustomResource of that name
        # would fail with AlreadyExists: pulumi-kubernetes creates client-side unless the
        # provider's `upsertExistingObjects` is on, which would let every resource of the
        # cluster silently adopt a same-named object
        # (https://github.com/pulumi/pulumi-kubernetes/pull/4278). A Patch resource manages
        # fields of one existing object by server-side apply. Deleting it leaves the project as
        # patched, with nothing allowed.
        manifest = default_project(spec.argocd_namespace)
        self.default_project = k8s.apiextensions.CustomResourcePatch(
            f"{name}-default-project",
            api_version=manifest["apiVersion"],
            kind=manifest["kind"],
            metadata=manifest["metadata"],
            spec=manifest["spec"],
            # The release waits until argocd-server serves, and argocd-server creates the project.
            # retain_on_delete: the provider refuses to delete a Patch that manages a required field
            # (`spec`: "set the `retainOnDelete` resource option, or transfer ownership", seen by
            # tests/system/test_local_up.py's destroy); the project stays, and goes with its namespace.
            opts=pulumi.ResourceOptions(
                parent=self, provider=provider, depends_on=list(depends_on), retain_on_delete=True
            ),
        )
        self.applications = {}
        for app, manifest in applications(spec).items():
            self.applications[app] = k8s.apiextensions.CustomResource(
                f"{name}-{app}",
                api_version=manifest["apiVersion"],
                kind=manifest["kind"],
                metadata=manifest["metadata"],
                spec=manifest["spec"],
                opts=pulumi.ResourceOptions(
                    parent=self,
                    provider=provider,
                    protect=protect,
                    # The project before its Applications (and after them on destroy).
                    depends_on=[*depends_on, self.project],
                ),
            )
        self.register_outputs(
            {
                "project": spec.project,
                "applications": [spec.application_name(app) for app in self.applications],
            }
        )
