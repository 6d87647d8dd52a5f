"""The service chart (charts/delivery-service and the service charts over it), rendered by
the real Helm (`make helm`, helm.sh/helm/v3 pinned in tools/helm/go.mod) for every service of
every committed stack exactly as Argo CD renders the Application: the chart, the
environment's values file, the image file, then the Application's `valuesObject`.

Every render is checked against the Argo Rollouts and prometheus-operator JSON schemas and
`kubernetes-validate`, its pod template is put through the stack's own admission policies by
the Kubernetes API server's admission plugin (the CEL harness), and it must match the golden
file under tests/golden/charts/ (rewrite them with `make chart-golden`).
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml

from components.config.adapters import gitops_spec
from components.contracts.ingress import INGRESS_CLASS, LETSENCRYPT_PROD
from components.contracts.monitoring import SELECTOR_LABELS
from components.gitops.analysis import TEMPLATES
from components.gitops.gitops_manifests import applications
from components.gitops.service_chart import (
    CANARY_STEPS,
    LIBRARY,
    LIBRARY_DIR,
    LIBRARY_VERSION,
    library_reference,
    service_chart_files,
)
from tests.support.cel_harness import evaluate, request
from tests.support.rollouts import problems as rollout_problems
from tests.support.stacks import run_stack
from tools.offline import STACKS
from tools.service_chart import (
    ROOT,
    RenderError,
    golden_path,
    helm_binary,
    inputs,
    render,
    render_all,
    stack_config,
)

pytestmark = pytest.mark.go

SCHEMAS = ROOT / "components" / "schemas"
TEMPLATE_TYPE = "kubernetes:argoproj.io/v1alpha1:ClusterAnalysisTemplate"
ISSUER_TYPE = "kubernetes:cert-manager.io/v1:ClusterIssuer"
POLICY = "kubernetes:admissionregistration.k8s.io/v1:ValidatingAdmissionPolicy"
BINDING = "kubernetes:admissionregistration.k8s.io/v1:ValidatingAdmissionPolicyBinding"
ABSENT = "helm absent: build it with `make helm` (needs Go); the service charts were NOT rendered"


@pytest.fixture(scope="module")
def helm() -> Path:
    path = helm_binary()
    if path is None:
        pytest.skip(ABSENT)
    return path


@pytest.fixture(scope="module")
def rendered(helm: Path) -> dict[tuple[str, str], list[dict[str, Any]]]:
    """(stack, service) -> the rendered documents."""
    return {key: [d for d in yaml.safe_load_all(text) if d] for key, text in render_all(helm).items()}


@pytest.fixture(scope="module")
def texts(helm: Path) -> dict[tuple[str, str], str]:
    return render_all(helm)


def by_kind(docs: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for doc in docs:
        out.setdefault(doc["kind"], []).append(doc)
    return out


def one(docs: list[dict[str, Any]], kind: str) -> dict[str, Any]:
    [doc] = by_kind(docs)[kind]
    return doc


def workload(docs: list[dict[str, Any]]) -> dict[str, Any]:
    [doc] = [d for d in docs if d["kind"] in ("Rollout", "Deployment")]
    return doc


# --------------------------------------------------------------------------- the contract (pure)


@pytest.mark.parametrize(
    ("stack", "strategy", "issuer"),
    [
        ("development", "direct", "letsencrypt-staging"),
        ("staging", "canary", LETSENCRYPT_PROD),
        ("production", "blueGreen", LETSENCRYPT_PROD),
    ],
)
def test_every_application_hands_its_chart_the_environments_platform_values(
    stack: str, strategy: str, issuer: str
) -> None:
    """Seed 003: direct deployment in development, without analysis (unit tests only, manual
    rollback); seed 004: canary in staging, blue-green in production."""
    config = stack_config(stack)
    spec = gitops_spec(config)
    for name, app in applications(spec).items():
        if name == "infrastructure":
            continue
        [chart] = [s for s in app["spec"]["sources"] if "path" in s]
        platform = chart["helm"]["valuesObject"]["platform"]
        assert platform["strategy"] == strategy, name
        assert platform["environment"] == stack
        assert platform["ingress"] == {"className": INGRESS_CLASS, "clusterIssuer": issuer}
        assert platform["serviceMonitor"]["labels"] == SELECTOR_LABELS
        if strategy == "direct":
            assert platform["analysis"]["templates"] == []
        else:
            assert platform["analysis"]["templates"] == list(TEMPLATES)


def test_the_library_version_is_the_one_service_charts_depend_on() -> None:
    chart = yaml.safe_load((ROOT / LIBRARY_DIR / "Chart.yaml").read_text())
    assert (chart["name"], chart["type"], chart["version"]) == (LIBRARY, "library", LIBRARY_VERSION)


def test_a_service_chart_finds_the_library_inside_the_program_directory() -> None:
    """Platform repository layout: the charts under infra/helm/charts, this program under
    infra/pulumi; Helm resolves a `file://` dependency relative to the chart's directory."""
    assert library_reference("infra/helm/charts", "web-portal", "infra/pulumi") == (
        "file://../../../pulumi/charts/delivery-service"
    )
    files = service_chart_files("web-portal", library="file://x")
    [dependency] = yaml.safe_load(files["Chart.yaml"])["dependencies"]
    assert dependency == {"name": LIBRARY, "version": LIBRARY_VERSION, "repository": "file://x"}
    assert files["templates/service.yaml"] == '{{ include "delivery-service.all" . }}\n'


# --------------------------------------------------------------------------- rendered by Helm


def test_renders_match_the_golden_files(texts: dict[tuple[str, str], str]) -> None:
    """Rewrite them with `make chart-golden`."""
    for (stack, service), text in texts.items():
        path = golden_path(stack, service)
        assert path.exists() and path.read_text() == text, f"{path.relative_to(ROOT)} drifted"
    committed = {(p.parent.name, p.stem) for p in (ROOT / "tests" / "golden" / "charts").glob("*/*.yaml")}
    assert committed == set(texts), "a golden render belongs to no service"


def test_every_service_renders_every_kind_the_contract_promises(
    rendered: dict[tuple[str, str], list[dict[str, Any]]],
) -> None:
    for (stack, service), docs in rendered.items():
        kinds = sorted(by_kind(docs))
        expected = {
            "ServiceAccount",
            "Service",
            "PodDisruptionBudget",
            "HorizontalPodAutoscaler",
            "ServiceMonitor",
            "Rollout",
        }
        if "ingress" in yaml.safe_dump(inputs(stack_config(stack), service).values_files[0][1]):
            expected.add("Ingress")
        assert set(kinds) == expected, (stack, service, kinds)


def test_development_deploys_directly_as_a_rollout_without_steps_or_analysis(
    rendered: dict[tuple[str, str], list[dict[str, Any]]],
) -> None:
    """Seed 003's direct deployment: a canary without steps mimics a rolling update
    (https://argo-rollouts.readthedocs.io/en/stable/features/canary/#mimicking-rolling-update),
    never below the desired replicas (maxUnavailable 0); no analysis can hold it back."""
    checked = 0
    for (stack, service), docs in rendered.items():
        if stack != "development":
            continue
        strategy = one(docs, "Rollout")["spec"]["strategy"]
        assert strategy == {"canary": {"maxSurge": 1, "maxUnavailable": 0}}, service
        assert {s["metadata"]["name"] for s in by_kind(docs)["Service"]} == {service}
        checked += 1
    assert checked == 5


def test_staging_rolls_out_as_a_canary_of_10_20_50_100_with_analysis(
    rendered: dict[tuple[str, str], list[dict[str, Any]]],
) -> None:
    for (stack, service), docs in rendered.items():
        if stack != "staging":
            continue
        canary = one(docs, "Rollout")["spec"]["strategy"]["canary"]
        weights = [s["setWeight"] for s in canary["steps"] if "setWeight" in s]
        assert weights == [10, 20, 50, 100], service
        assert canary["steps"] == list(CANARY_STEPS)
        analysis = canary["analysis"]
        assert [t["templateName"] for t in analysis["templates"]] == list(TEMPLATES)
        assert all(t["clusterScope"] for t in analysis["templates"])
        args = {a["name"]: a for a in analysis["args"]}
        # The analysis measures the new version's pods alone: the canary Service.
        assert args["service-name"]["value"] == canary["canaryService"] == f"{service}-canary"
        assert args["namespace"]["valueFrom"] == {"fieldRef": {"fieldPath": "metadata.namespace"}}
        services = {s["metadata"]["name"] for s in by_kind(docs)["Service"]}
        assert {canary["canaryService"], canary["stableService"], service} == services


def test_production_is_blue_green_promoted_by_hand_with_pre_and_post_promotion_analysis(
    rendered: dict[tuple[str, str], list[dict[str, Any]]],
) -> None:
    """A failed post-promotion analysis aborts the Rollout and Argo Rollouts switches the
    active Service back to the previous ReplicaSet, which it keeps until that analysis has
    passed (https://argoproj.github.io/argo-rollouts/features/analysis/, "BlueGreen Pre
    Promotion Analysis" and "BlueGreen Post Promotion Analysis")."""
    delay = stack_config("production").argocd.rollouts.scale_down_delay_seconds
    for (stack, service), docs in rendered.items():
        if stack != "production":
            continue
        rollout = one(docs, "Rollout")
        assert rollout["spec"]["progressDeadlineAbort"] is True
        blue_green = rollout["spec"]["strategy"]["blueGreen"]
        assert blue_green["autoPromotionEnabled"] is False
        assert blue_green["scaleDownDelaySeconds"] == delay == 30
        assert (blue_green["activeService"], blue_green["previewService"]) == (service, f"{service}-preview")
        for key, measured in (
            ("prePromotionAnalysis", f"{service}-preview"),
            ("postPromotionAnalysis", service),
        ):
            analysis = blue_green[key]
            assert [t["templateName"] for t in analysis["templates"]] == list(TEMPLATES), key
            assert {a["name"]: a.get("value") for a in analysis["args"]}["service-name"] == measured, key


def test_every_template_a_rollout_names_is_declared_on_its_cluster(
    rendered: dict[tuple[str, str], list[dict[str, Any]]],
) -> None:
    for stack in ("staging", "production"):
        declared = {r.plain["metadata"]["name"] for r in run_stack(stack).recorder.of_type(TEMPLATE_TYPE)}
        for (rendered_stack, service), docs in rendered.items():
            if rendered_stack != stack:
                continue
            text = json.dumps(one(docs, "Rollout")["spec"]["strategy"])
            named = {t for t in TEMPLATES if f'"templateName": "{t}"' in text}
            assert named and named <= declared, (stack, service)


def test_the_image_is_the_image_files_digest(rendered: dict[tuple[str, str], list[dict[str, Any]]]) -> None:
    for (stack, service), docs in rendered.items():
        image = dict(inputs(stack_config(stack), service).values_files)["image.yaml"]["image"]
        [container] = workload(docs)["spec"]["template"]["spec"]["containers"]
        assert container["image"] == image["reference"], (stack, service)
        assert "@sha256:" in container["image"]


def test_the_hpa_owns_the_replica_count_and_everything_selects_the_services_pods(
    rendered: dict[tuple[str, str], list[dict[str, Any]]],
) -> None:
    for key, docs in rendered.items():
        work = workload(docs)
        pod_labels = work["spec"]["template"]["metadata"]["labels"]
        assert "replicas" not in work["spec"], f"{key}: Argo CD would undo the HPA's scaling"
        hpa = one(docs, "HorizontalPodAutoscaler")["spec"]["scaleTargetRef"]
        assert (hpa["kind"], hpa["name"]) == (work["kind"], work["metadata"]["name"])
        assert hpa["apiVersion"] == work["apiVersion"]
        selectors = [one(docs, "PodDisruptionBudget")["spec"]["selector"]["matchLabels"]]
        selectors += [s["spec"]["selector"] for s in by_kind(docs)["Service"]]
        selectors.append(work["spec"]["selector"]["matchLabels"])
        for selector in selectors:
            assert selector.items() <= pod_labels.items(), key
        monitor = one(docs, "ServiceMonitor")
        assert SELECTOR_LABELS.items() <= monitor["metadata"]["labels"].items(), "Prometheus picks it up"
        for service in by_kind(docs)["Service"]:
            assert monitor["spec"]["selector"]["matchLabels"].items() <= service["metadata"]["labels"].items()


def test_probes_and_pod_security_are_set(rendered: dict[tuple[str, str], list[dict[str, Any]]]) -> None:
    for key, docs in rendered.items():
        pod = workload(docs)["spec"]["template"]["spec"]
        assert pod["automountServiceAccountToken"] is False
        assert pod["securityContext"]["runAsNonRoot"] is True
        assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
        [container] = pod["containers"]
        for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
            assert container[probe]["httpGet"]["port"] == "http", (key, probe)
        context = container["securityContext"]
        assert context["readOnlyRootFilesystem"] is True and context["allowPrivilegeEscalation"] is False
        assert context["capabilities"] == {"drop": ["ALL"]}


# ingress-nginx annotations Traefik's Kubernetes Ingress NGINX provider (the controller of the
# `nginx` class, components/ingress/) translates, of those seed 004's Ingresses use: listed under
# "SSL/TLS" and "Routing" of
# https://doc.traefik.io/traefik/reference/routing-configuration/kubernetes/ingress-nginx/ .
# An annotation outside the list would be silently ignored.
NGINX_ANNOTATION = "nginx.ingress.kubernetes.io/"
TRAEFIK_TRANSLATES = {
    "nginx.ingress.kubernetes.io/ssl-redirect",
    "nginx.ingress.kubernetes.io/force-ssl-redirect",
    "nginx.ingress.kubernetes.io/rewrite-target",
}


def test_ingresses_serve_tls_from_the_stacks_cluster_issuer(
    rendered: dict[tuple[str, str], list[dict[str, Any]]],
) -> None:
    seen = set()
    for (stack, service), docs in rendered.items():
        for ingress in by_kind(docs).get("Ingress", []):
            seen.add(stack)
            issuer = ingress["metadata"]["annotations"]["cert-manager.io/cluster-issuer"]
            declared = {r.plain["metadata"]["name"] for r in run_stack(stack).recorder.of_type(ISSUER_TYPE)}
            assert issuer in declared, f"{stack}/{service}: no ClusterIssuer {issuer}"
            if stack != "development":
                assert issuer == LETSENCRYPT_PROD, (
                    "browsers and staging validation trust only Let's Encrypt's production CA"
                )
            assert ingress["spec"]["ingressClassName"] == INGRESS_CLASS
            [tls] = ingress["spec"]["tls"]
            [rule] = ingress["spec"]["rules"]
            assert tls["hosts"] == [rule["host"]] and tls["secretName"] == f"{service}-tls"
            assert ingress["metadata"]["annotations"]["nginx.ingress.kubernetes.io/ssl-redirect"] == "true"
            nginx = {a for a in ingress["metadata"]["annotations"] if a.startswith(NGINX_ANNOTATION)}
            assert nginx <= TRAEFIK_TRANSLATES, (
                f"{stack}/{service}: Traefik ignores {nginx - TRAEFIK_TRANSLATES}"
            )
            [path] = rule["http"]["paths"]
            assert path["backend"]["service"]["name"] == service, "users reach every pod of the service"
    assert seen == set(STACKS)


# --------------------------------------------------------------------------- validators


@cache
def _schema(path: str) -> jsonschema.Draft7Validator:
    return jsonschema.Draft7Validator(json.loads((SCHEMAS / path).read_text()))


def test_renders_are_valid_against_the_argo_prometheus_and_kubernetes_schemas(
    rendered: dict[tuple[str, str], list[dict[str, Any]]],
) -> None:
    for (stack, service), docs in rendered.items():
        version = stack_config(stack).cluster.kubernetes_version
        for doc in docs:
            where = f"{stack}/{service} {doc['kind']}"
            if doc["kind"] == "Rollout":
                assert rollout_problems(doc) == [], where
            elif doc["kind"] == "ServiceMonitor":
                errors = [
                    e.message
                    for e in _schema("monitoring.coreos.com/servicemonitor_v1.json").iter_errors(doc)
                ]
                assert errors == [], where
            else:
                kubernetes_validate.validate(doc, version, strict=True)


def test_the_schema_checks_catch_a_misspelt_field(
    rendered: dict[tuple[str, str], list[dict[str, Any]]],
) -> None:
    docs = rendered[("production", "web-portal")]
    rollout = json.loads(json.dumps(one(docs, "Rollout")))
    rollout["spec"]["strategy"]["blueGreen"]["postPromotionAnalyis"] = rollout["spec"]["strategy"][
        "blueGreen"
    ].pop("postPromotionAnalysis")
    assert rollout_problems(rollout)
    hpa = json.loads(json.dumps(one(docs, "HorizontalPodAutoscaler")))
    hpa["spec"]["maxReplica"] = hpa["spec"].pop("maxReplicas")
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(hpa, "1.33", strict=True)


def test_every_pod_template_is_admitted_by_its_stacks_pod_policies(
    rendered: dict[tuple[str, str], list[dict[str, Any]]],
) -> None:
    """The ValidatingAdmissionPolicies and bindings the stack declares (digest-pinned platform
    images, no root, read-only root filesystem) judge each rendered pod in its namespace."""
    for stack in STACKS:
        config = stack_config(stack)
        spec = gitops_spec(config)
        run = run_stack(stack)
        policies = [r.plain for r in run.recorder.of_type(POLICY)]
        bindings = [r.plain for r in run.recorder.of_type(BINDING)]
        assert len(policies) == len(bindings) == 2, f"{stack} declares both pod policies"
        requests = []
        for (rendered_stack, service), docs in rendered.items():
            if rendered_stack != stack:
                continue
            template = workload(docs)["spec"]["template"]
            pod = {
                "apiVersion": "v1",
                "kind": "Pod",
                "metadata": template["metadata"],
                "spec": template["spec"],
            }
            requests.append(request(service, pod, spec.services[service].namespace))
        # The same pod with a tag instead of the digest: the harness does refuse.
        tagged = json.loads(json.dumps(requests[0]))
        image = tagged["object"]["spec"]["containers"][0]["image"]
        tagged["object"]["spec"]["containers"][0]["image"] = image.split("@", 1)[0] + ":latest"
        tagged["name"] = "tagged"
        evaluation = evaluate(policies, bindings, [*requests, tagged], config.cluster.kubernetes_version)
        for result in evaluation.results:
            judged = [p for p in result.policies if p.bindings]
            assert len(judged) == 2, f"{stack}/{result.request}: both policies must judge it"
            if result.request == "tagged":
                denies = "Deny" in config.pod_policies.image_digest_actions
                assert result.allowed is not denies, f"{stack}: a tag got through"
                continue
            assert result.allowed, f"{stack}/{result.request}: {result.status_message}"


# --------------------------------------------------------------------------- refusals


def _render_with(helm: Path, tmp_path: Path, override: dict[str, Any]) -> str:
    chart = inputs(stack_config("production"), "web-portal")
    return render(helm, chart, tmp_path, override=override)


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ({"image": {"reference": "ghcr.io/ai-aas/web-portal:1.0.0"}}, "image.reference"),
        ({"image": {"reference": "ghcr.io/ai-aas/web-portal@sha256:abc"}}, "image.reference"),
        ({"ingress": {"enabled": True, "host": ""}}, "ingress.host"),
        ({"platform": {"strategy": "recreate"}}, "platform.strategy"),
        ({"platform": {"analysis": {"templates": []}}}, "platform.analysis.templates"),
        ({"autoscaling": {"minReplicas": 5, "maxReplicas": 2}}, "autoscaling.maxReplicas"),
    ],
)
def test_the_chart_refuses_what_the_platform_cannot_deploy(
    helm: Path, tmp_path: Path, override: dict[str, Any], message: str
) -> None:
    with pytest.raises(RenderError, match=message.replace(".", r"\.")):
        _render_with(helm, tmp_path, override)
