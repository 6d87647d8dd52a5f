"""Ingress and TLS on every cluster: Traefik (serving the `nginx` IngressClass through its
Kubernetes Ingress NGINX provider) and cert-manager from pinned charts, the Let's Encrypt
ClusterIssuers (production: only `letsencrypt-prod`), the AppProject allowing exactly what the
services' charts need and nothing of the add-ons, and cert-manager's HTTP-01 solver pods and
Traefik's own pods admitted by the pod policies."""

from __future__ import annotations

import copy
import fnmatch
import json
from typing import Any

import jsonschema
import pytest
import yaml

from components.config.adapters import gitops_spec
from components.contracts.ingress import ACME_SERVERS, INGRESS_CLASS, LETSENCRYPT_PROD, LETSENCRYPT_STAGING
from components.contracts.monitoring import SELECTOR_LABELS
from components.gitops.gitops_manifests import app_project
from components.ingress.manifests import (
    NGINX_CONTROLLER_CLASS,
    cert_manager_values,
    nginx_ingress_class,
    traefik_values,
)
from components.kubernetes.helm import chart_name
from components.kubernetes.pod_policies import pod_policies
from tests.support.cel_harness import evaluate, request
from tests.support.paths import ROOT
from tests.support.stacks import assert_refused, stack_config
from tools.offline import Run

RELEASE = "kubernetes:helm.sh/v3:Release"
ISSUER = "kubernetes:cert-manager.io/v1:ClusterIssuer"
APPLICATION = "kubernetes:argoproj.io/v1alpha1:Application"
CHARTS = ROOT / "components" / "schemas" / "charts"


def releases(run: Run) -> dict[str, Any]:
    return {chart_name(r.inputs["chart"]): r for r in run.recorder.of_type(RELEASE)}


def test_every_cluster_installs_both_add_ons_from_their_pinned_charts(stack_run: Run) -> None:
    config = stack_config(stack_run.stack).ingress
    found = releases(stack_run)
    for chart, version, repo, namespace in (
        (
            "traefik",
            config.traefik_chart_version,
            "oci://ghcr.io/traefik/helm",
            config.traefik_namespace,
        ),
        (
            "cert-manager",
            config.cert_manager_chart_version,
            "oci://quay.io/jetstack/charts",
            config.cert_manager_namespace,
        ),
    ):
        release = found[chart]
        assert release.inputs["version"] == version
        # From the OCI registry, by digest where the stack pins its charts (test_chart_images.py).
        assert release.inputs["chart"].startswith(f"{repo}/{chart}")
        assert "repositoryOpts" not in release.inputs
        assert release.inputs["namespace"] == namespace
        # pinned_release: a failed install is rolled back, Helm never owns the namespace.
        assert release.inputs["atomic"] is True and release.inputs["createNamespace"] is False
        # Both charts declare ServiceMonitors: the monitoring release (their CRD) goes first.
        monitoring = found["kube-prometheus-stack"].name
        assert monitoring in release.depends_on, chart


def test_traefik_takes_over_ingress_nginxs_release_after_it_is_gone(stack_run: Run) -> None:
    """A cluster that ran ingress-nginx: its release is Traefik's by alias, so `pulumi up`
    replaces one with the other, and deletes the old first, since both own the `nginx`
    IngressClass and Helm would refuse Traefik's while ingress-nginx's exists. Traefik skips
    its chart's CRDs (IngressRoute, Traefik Hub), which nothing here uses."""
    release = releases(stack_run)["traefik"]
    [alias] = release.aliases
    assert alias.endswith(f"::{stack_run.stack}-ingress-ingress-nginx")
    assert release.delete_before_replace is True
    assert release.inputs["skipCrds"] is True
    assert "skipCrds" not in releases(stack_run)["cert-manager"].inputs, (
        "cert-manager installs its CRDs by value"
    )


def test_cert_manager_values_are_valid_against_the_charts_own_schema() -> None:
    """cert-manager ships values.schema.json (copied from the pinned chart, README there):
    a misspelt or misplaced key fails here instead of at `helm install`."""
    version = stack_config("production").ingress.cert_manager_chart_version
    schema = json.loads((CHARTS / "cert-manager" / version / "values.schema.json").read_text())
    validator = jsonschema.Draft7Validator(schema)
    pinned = stack_config("production").ingress.images
    assert pinned, "production pins the charts' images (offline stand-ins here)"
    for ha, images in ((False, {}), (True, pinned)):
        values = cert_manager_values(ha, SELECTOR_LABELS, images)
        assert [e.message for e in validator.iter_errors(values)] == [], ha
    broken = cert_manager_values(True, SELECTOR_LABELS)
    broken["prometheus"]["serviceMonitor"] = broken["prometheus"].pop("servicemonitor")
    assert list(validator.iter_errors(broken)), "the schema check can fail"


def test_ha_clusters_run_two_of_each_with_disruption_budgets() -> None:
    traefik = traefik_values(True, SELECTOR_LABELS)
    assert traefik["deployment"]["replicas"] == 2
    assert traefik["podDisruptionBudget"] == {"enabled": True, "minAvailable": 1}
    # One replica under a budget of one would block every node drain.
    assert traefik_values(False, SELECTOR_LABELS)["podDisruptionBudget"] == {"enabled": False}
    values = cert_manager_values(True, SELECTOR_LABELS)
    for part in (values, values["webhook"], values["cainjector"]):
        assert part["replicaCount"] == 2 and part["podDisruptionBudget"]["enabled"] is True


# --------------------------------------------------------------------------- Traefik


def traefik_chart(stack: str = "production") -> tuple[str, dict[str, Any]]:
    version = stack_config(stack).ingress.traefik_chart_version
    return version, yaml.safe_load((CHARTS / "traefik" / version / "values.yaml").read_text())


def merged(default: Any, ours: Any) -> Any:
    """Helm's coalescing of user values over a chart's defaults (maps merge, the rest replaces)."""
    if isinstance(default, dict) and isinstance(ours, dict):
        return {k: merged(default.get(k), ours[k]) if k in ours else default[k] for k in {*default, *ours}}
    return ours


def test_traefik_values_are_valid_against_the_charts_own_schema() -> None:
    """Traefik's chart ships values.schema.json (copied from the pinned chart, README there),
    `additionalProperties: false` from the root down: a misspelt or misplaced key fails here
    instead of at `helm install`."""
    version, _ = traefik_chart()
    schema = json.loads((CHARTS / "traefik" / version / "values.schema.json").read_text())
    validator = jsonschema.Draft202012Validator(schema)
    pinned = stack_config("production").ingress.images
    assert "traefik" in pinned, "production pins Traefik's image (an offline stand-in here)"
    for ha, images in ((False, {}), (True, pinned)):
        values = traefik_values(ha, SELECTOR_LABELS, images)
        assert [e.message for e in validator.iter_errors(values)] == [], ha
    broken = traefik_values(True, SELECTOR_LABELS)
    broken["providers"]["kubernetesIngressNginx"] = broken["providers"].pop("kubernetesIngressNGINX")
    assert list(validator.iter_errors(broken)), "the schema check can fail"


def test_traefik_watches_ingresses_only_through_the_nginx_provider() -> None:
    """Merged over the chart's defaults (which turn the CRD and plain Ingress providers on):
    one Kubernetes provider, so each Ingress becomes one router, and only Ingresses of the
    `nginx` class, whose IngressClass the release itself declares with ingress-nginx's
    controller value (what the provider selects classes by)."""
    _, defaults = traefik_chart()
    values = merged(defaults, traefik_values(False, SELECTOR_LABELS))
    providers = values["providers"]
    kubernetes = {name for name, p in providers.items() if isinstance(p, dict) and p.get("enabled")}
    assert kubernetes == {"kubernetesIngressNGINX", "file"}
    nginx = providers["kubernetesIngressNGINX"]
    assert (nginx["ingressClass"], nginx["controllerClass"]) == (INGRESS_CLASS, NGINX_CONTROLLER_CLASS)
    assert nginx["watchIngressWithoutClass"] is False and nginx["ingressClassByName"] is False
    assert nginx["allowSnippetAnnotations"] is False
    # The file provider holds only the HSTS headers middleware the HTTPS entry point applies.
    assert list(providers["file"]["content"]["http"]["middlewares"]) == ["hsts"]
    assert values["ports"]["websecure"]["http"]["middlewares"] == ["hsts@file"]
    # The chart's own `traefik` class would be the cluster default and nothing serves it.
    assert values["ingressClass"]["enabled"] is False
    [ingress_class] = values["extraObjects"]
    assert ingress_class == nginx_ingress_class()
    assert ingress_class["metadata"]["name"] == INGRESS_CLASS
    assert ingress_class["spec"]["controller"] == NGINX_CONTROLLER_CLASS
    assert ingress_class["metadata"]["annotations"]["ingressclass.kubernetes.io/is-default-class"] == "false"


def test_traefik_exposes_no_dashboard_no_api_and_redirects_http_to_https() -> None:
    _, defaults = traefik_chart()
    values = merged(defaults, traefik_values(True, SELECTOR_LABELS))
    assert values["api"]["dashboard"] is False and values["api"]["insecure"] is False
    assert values["ingressRoute"]["dashboard"]["enabled"] is False
    # Only web and websecure reach the LoadBalancer; Traefik's own port and metrics stay inside.
    exposed = {name for name, port in values["ports"].items() if port and port["expose"]["default"]}
    assert exposed == {"web", "websecure"}
    redirect = values["ports"]["web"]["http"]["redirections"]["entryPoint"]
    assert (redirect["to"], redirect["scheme"], redirect["permanent"]) == ("websecure", "https", True)
    # Below every Ingress router: cert-manager's HTTP-01 solver still answers on port 80.
    assert redirect["priority"] == 1
    assert values["global"]["checkNewVersion"] is False


def test_traefik_metrics_are_scraped_by_the_monitoring_stack() -> None:
    metrics = traefik_values(False, SELECTOR_LABELS)["metrics"]["prometheus"]
    # The ServiceMonitor selects the metrics Service: the LoadBalancer one has no metrics port.
    assert metrics["service"]["enabled"] is True
    assert metrics["serviceMonitor"] == {"enabled": True, "additionalLabels": SELECTOR_LABELS}


def traefik_pod(values: dict[str, Any], namespace: str) -> dict[str, Any]:
    """Traefik's Pod as the chart's templates/_podtemplate.tpl builds it from the merged
    values: `podSecurityContext` as the pod's, `securityContext` as the container's, the image
    from `image.registry`/`repository`/`tag` (`traefik.image-name` in templates/_helpers.tpl)."""
    image = values["image"]
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"generateName": "traefik-", "namespace": namespace},
        "spec": {
            "securityContext": values["podSecurityContext"],
            "containers": [
                {
                    "name": "traefik",
                    "image": f"{image['registry']}/{image['repository']}:{image['tag']}",
                    "securityContext": values["securityContext"],
                    "volumeMounts": [{"name": "tmp", "mountPath": "/tmp"}],
                }
            ],
            "volumes": [{"name": "tmp", "emptyDir": {}}],
        },
    }


@pytest.mark.parametrize("stack", ["staging", "production"])
def test_traefik_pods_pass_the_pod_policies(stack: str) -> None:
    """The policies are bound to the services' namespaces, not Traefik's; judged there, its
    pod is admitted (non-root, read-only root filesystem) and a root variant is not."""
    config = stack_config(stack)
    spec = gitops_spec(config)
    declared = pod_policies(
        config.github.workflows.registry_for(config.github.owner) + "/",
        spec.namespaces,
        config.pod_policies.image_digest_actions,
        config.pod_policies.pod_security_actions,
    )
    _, defaults = traefik_chart(stack)
    values = merged(defaults, traefik_values(True, SELECTOR_LABELS, config.ingress.images))
    namespace = spec.platform_namespace
    pod = traefik_pod(values, namespace)
    assert "@sha256:" in pod["spec"]["containers"][0]["image"]
    root = copy.deepcopy(pod)
    root["spec"]["securityContext"]["runAsNonRoot"] = False
    root["spec"]["securityContext"]["runAsUser"] = 0
    evaluation = evaluate(
        [p for p, _ in declared.values()],
        [b for _, b in declared.values()],
        [request("traefik", pod, namespace), request("traefik-as-root", root, namespace)],
        config.cluster.kubernetes_version,
    )
    assert evaluation.of("traefik").allowed, evaluation.of("traefik").status_message
    assert not evaluation.of("traefik-as-root").allowed, "the policy judged the Traefik pod"


def test_a_stack_file_with_ingress_nginx_keys_is_told_the_new_ones() -> None:
    assert_refused(
        "staging",
        {
            "delivery:ingress.nginxChartVersion": "4.14.2",
            "delivery:ingress.nginxNamespace": "ingress-nginx",
            "delivery:ingress.images.nginxWebhookPatch": "registry.k8s.io/ingress-nginx/kube-webhook-certgen:v1.6.5",
        },
        [
            "delivery:ingress.nginxChartVersion",
            "delivery:ingress.nginxNamespace",
            "set delivery:ingress.traefikChartVersion instead",
            "set delivery:ingress.traefikNamespace instead",
            "delivery:ingress.images.nginxWebhookPatch: removed",
            "ingress-nginx is retired",
        ],
    )


@pytest.mark.parametrize(
    ("stack", "issuers"),
    [
        ("development", {LETSENCRYPT_PROD, LETSENCRYPT_STAGING}),
        ("staging", {LETSENCRYPT_PROD, LETSENCRYPT_STAGING}),
        ("production", {LETSENCRYPT_PROD}),
    ],
)
def test_cluster_issuers_per_environment(runs: dict[str, Run], stack: str, issuers: set[str]) -> None:
    run = runs[stack]
    declared = {r.plain["metadata"]["name"]: r for r in run.recorder.of_type(ISSUER)}
    assert set(declared) == issuers
    cert_manager = releases(run)["cert-manager"].name
    for name, resource in declared.items():
        acme = resource.plain["spec"]["acme"]
        assert acme["server"] == ACME_SERVERS[name]
        assert acme["solvers"] == [{"http01": {"ingress": {"ingressClassName": INGRESS_CLASS}}}]
        assert cert_manager in resource.depends_on, "the release installs the CRD and its webhook"


def test_services_sync_only_once_ingress_and_issuers_exist(stack_run: Run) -> None:
    needed = {releases(stack_run)[c].name for c in ("traefik", "cert-manager")}
    needed |= {r.name for r in stack_run.recorder.of_type(ISSUER)}
    for app in stack_run.recorder.of_type(APPLICATION):
        assert needed <= set(app.depends_on), app.name


def test_production_refuses_the_staging_issuer() -> None:
    assert_refused(
        "production",
        {"delivery:ingress.clusterIssuer": LETSENCRYPT_STAGING},
        ['delivery:ingress.clusterIssuer = "letsencrypt-staging"', f"allowed: {LETSENCRYPT_PROD}"],
    )


def test_applications_may_not_deploy_into_the_add_ons_namespaces() -> None:
    assert_refused(
        "staging",
        {"delivery:services.web-portal.namespace": "cert-manager"},
        ['delivery:services.web-portal.namespace = "cert-manager"', "allowed: any other DNS label"],
    )


# --------------------------------------------------------------------------- the AppProject


def permits(project: dict[str, Any], group: str, kind: str, namespace: str | None) -> bool:
    """Argo CD's AppProject rules for one resource of an Application
    (https://argo-cd.readthedocs.io/en/stable/user-guide/projects/): a namespaced resource
    needs a destination matching its namespace and must pass the namespaced allow and deny
    lists (absent allow list: every kind); a cluster-scoped one must be in
    clusterResourceWhitelist (absent or empty: none)."""
    spec = project["spec"]

    def listed(entries: list[dict[str, str]]) -> bool:
        return any(fnmatch.fnmatch(group, e["group"]) and fnmatch.fnmatch(kind, e["kind"]) for e in entries)

    if namespace is None:
        return listed(spec.get("clusterResourceWhitelist", []))
    if not any(fnmatch.fnmatch(namespace, d["namespace"]) for d in spec["destinations"]):
        return False
    if "namespaceResourceWhitelist" in spec and not listed(spec["namespaceResourceWhitelist"]):
        return False
    return not listed(spec.get("namespaceResourceBlacklist", []))


# What a service chart renders (tests/gitops/test_service_chart.py renders them all).
CHART_KINDS = (
    ("", "ServiceAccount"),
    ("", "Service"),
    ("argoproj.io", "Rollout"),
    ("apps", "Deployment"),
    ("policy", "PodDisruptionBudget"),
    ("autoscaling", "HorizontalPodAutoscaler"),
    ("monitoring.coreos.com", "ServiceMonitor"),
    ("networking.k8s.io", "Ingress"),
)
# What only the Pulumi-declared add-ons may hold: cluster-scoped kinds an Application could
# use to take over TLS or routing for every namespace.
ADD_ON_CLUSTER_KINDS = (
    ("cert-manager.io", "ClusterIssuer"),
    ("networking.k8s.io", "IngressClass"),
    ("admissionregistration.k8s.io", "ValidatingWebhookConfiguration"),
    ("apiextensions.k8s.io", "CustomResourceDefinition"),
    ("rbac.authorization.k8s.io", "ClusterRole"),
)


@pytest.mark.parametrize("stack", ["development", "staging", "production"])
def test_the_appproject_allows_the_charts_ingresses_and_nothing_of_the_add_ons(stack: str) -> None:
    """The add-ons and issuers are Pulumi's, not an Application's: the project is not widened
    for them. A service's Ingress (and the rest of its chart) is a namespaced kind in the
    services' namespaces, which the project already allows."""
    config = stack_config(stack)
    spec = gitops_spec(config)
    project = app_project(spec)
    for namespace in spec.namespaces:
        for group, kind in CHART_KINDS:
            assert permits(project, group, kind, namespace), (stack, kind, namespace)
    for namespace in (config.ingress.traefik_namespace, config.ingress.cert_manager_namespace):
        for group, kind in CHART_KINDS:
            assert not permits(project, group, kind, namespace), (stack, kind, namespace)
    for group, kind in ADD_ON_CLUSTER_KINDS:
        assert not permits(project, group, kind, None), (stack, kind)
    assert permits(project, "", "Namespace", None), "CreateNamespace=true needs it"


# --------------------------------------------------------------------------- solver pods


def solver_pod(namespace: str) -> dict[str, Any]:
    """An HTTP-01 solver pod as cert-manager v1.21.2 builds it (pkg/issuer/acme/http/pod.go,
    `buildDefaultPod`: pod runAsNonRoot from the controller's default, true; the container
    with a read-only root filesystem, no privilege escalation, no capabilities)."""
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"generateName": "cm-acme-http-solver-", "namespace": namespace},
        "spec": {
            "automountServiceAccountToken": False,
            "restartPolicy": "OnFailure",
            "securityContext": {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}},
            "containers": [
                {
                    "name": "acmesolver",
                    "image": "quay.io/jetstack/cert-manager-acmesolver:v1.21.2",
                    "args": ["--listen-port=8089", "--domain=app.ai-aas.example", "--token=t", "--key=k"],
                    "ports": [{"name": "http", "containerPort": 8089}],
                    "securityContext": {
                        "readOnlyRootFilesystem": True,
                        "allowPrivilegeEscalation": False,
                        "capabilities": {"drop": ["ALL"]},
                    },
                }
            ],
        },
    }


@pytest.mark.parametrize("stack", ["staging", "production"])
def test_certificate_solver_pods_are_admitted_in_the_services_namespaces(stack: str) -> None:
    config = stack_config(stack)
    spec = gitops_spec(config)
    declared = pod_policies(
        config.github.workflows.registry_for(config.github.owner) + "/",
        spec.namespaces,
        config.pod_policies.image_digest_actions,
        config.pod_policies.pod_security_actions,
    )
    policies = [p for p, _ in declared.values()]
    bindings = [b for _, b in declared.values()]
    namespace = spec.platform_namespace
    root = solver_pod(namespace)
    root["spec"]["securityContext"]["runAsNonRoot"] = False
    evaluation = evaluate(
        policies,
        bindings,
        [request("solver", solver_pod(namespace), namespace), request("solver-as-root", root, namespace)],
        config.cluster.kubernetes_version,
    )
    assert evaluation.of("solver").allowed, evaluation.of("solver").status_message
    assert not evaluation.of("solver-as-root").allowed, "the policy judged the solver pod"
