"""Values of the ingress-nginx and cert-manager charts and the ACME ClusterIssuers (pure)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from components.contracts.ingress import ACME_SERVERS, INGRESS_CLASS
from components.ingress.config import IngressImage
from components.kubernetes.helm import image_ref

# Both charts are published as OCI artifacts and installed by digest there
# (components/kubernetes/helm.py): cert-manager at quay.io/jetstack/charts (cert-manager/website#1779),
# ingress-nginx at registry.k8s.io/ingress-nginx/charts (kubernetes/ingress-nginx#13680).
JETSTACK_HELM_REPOSITORY = "oci://quay.io/jetstack/charts"
INGRESS_NGINX_HELM_REPOSITORY = "oci://registry.k8s.io/ingress-nginx/charts"


def _nginx_image(reference: str | None) -> dict[str, str]:
    """ingress-nginx's image map: `registry`, `image`, `tag` and `digest` (its values.yaml)."""
    if reference is None:
        return {}
    ref = image_ref(reference)
    return {"registry": ref.registry, "image": ref.repository, "tag": ref.tag, "digest": ref.digest or ""}


def _cert_manager_image(reference: str | None) -> dict[str, str]:
    """cert-manager's image map: the full `repository`, `tag` and `digest` (its values.yaml)."""
    if reference is None:
        return {}
    ref = image_ref(reference)
    return {"repository": f"{ref.registry}/{ref.repository}", "tag": ref.tag, "digest": ref.digest or ""}


def nginx_values(
    high_availability: bool,
    monitor_labels: Mapping[str, str],
    images: Mapping[IngressImage, str] | None = None,
) -> dict[str, Any]:
    """ingress-nginx: the `nginx` IngressClass (not the cluster default: an Ingress names it),
    no snippet annotations (an Ingress author could otherwise inject NGINX configuration into
    the shared controller), HTTPS enforced, metrics scraped by the monitoring stack."""
    images = images or {}
    controller: dict[str, Any] = {
        # Two replicas and a PDB keep HA clusters' ingress up through a node drain.
        "replicaCount": 2 if high_availability else 1,
        "minAvailable": 1,
        "ingressClass": INGRESS_CLASS,
        "ingressClassResource": {
            "name": INGRESS_CLASS,
            "enabled": True,
            "default": False,
            "controllerValue": "k8s.io/ingress-nginx",
        },
        "allowSnippetAnnotations": False,
        "config": {"ssl-redirect": "true", "hsts": "true"},
        # Local: the client's address reaches the pods (no SNAT through another node).
        "service": {"externalTrafficPolicy": "Local"},
        "metrics": {
            "enabled": True,
            "serviceMonitor": {"enabled": True, "additionalLabels": dict(monitor_labels)},
        },
    }
    if "nginxController" in images:
        controller["image"] = _nginx_image(images["nginxController"])
    if "nginxWebhookPatch" in images:
        controller["admissionWebhooks"] = {"patch": {"image": _nginx_image(images["nginxWebhookPatch"])}}
    return {"controller": controller}


def cert_manager_values(
    high_availability: bool,
    monitor_labels: Mapping[str, str],
    images: Mapping[IngressImage, str] | None = None,
) -> dict[str, Any]:
    """cert-manager with its CRDs (kept when the release goes, so certificates survive), a
    replicated controller and webhook with PDBs in HA clusters, metrics scraped."""
    replicas = 2 if high_availability else 1
    values: dict[str, Any] = {
        "crds": {"enabled": True, "keep": True},
        "replicaCount": replicas,
        "webhook": {"replicaCount": replicas},
        "cainjector": {"replicaCount": replicas},
        "prometheus": {
            "enabled": True,
            "servicemonitor": {"enabled": True, "labels": dict(monitor_labels)},
        },
    }
    images = images or {}
    # The startup API check is a post-install hook Job that only waits for the webhook.
    values["startupapicheck"] = {"enabled": False}
    slots: tuple[tuple[IngressImage, str | None], ...] = (
        ("certManagerController", None),
        ("certManagerWebhook", "webhook"),
        ("certManagerCainjector", "cainjector"),
        ("certManagerAcmesolver", "acmesolver"),
    )
    for key, component in slots:
        if key in images:
            node: dict[str, Any] = values if component is None else values.setdefault(component, {})
            node["image"] = _cert_manager_image(images[key])
    if high_availability:
        for replicated in (values, values["webhook"], values["cainjector"]):
            replicated["podDisruptionBudget"] = {"enabled": True, "minAvailable": 1}
    return values


def cluster_issuer(name: str, email: str | None) -> dict[str, Any]:
    """An ACME ClusterIssuer of Let's Encrypt (`name` picks the CA) solving HTTP-01 through
    the `nginx` IngressClass. cert-manager's solver pods run non-root with a read-only root
    filesystem, so the services' namespaces' pod policies admit them (tests/ingress/test_ingress.py)."""
    acme: dict[str, Any] = {
        "server": ACME_SERVERS[name],
        "privateKeySecretRef": {"name": f"{name}-account-key"},
        "solvers": [{"http01": {"ingress": {"ingressClassName": INGRESS_CLASS}}}],
    }
    if email is not None:
        acme["email"] = email
    return {
        "apiVersion": "cert-manager.io/v1",
        "kind": "ClusterIssuer",
        "metadata": {"name": name, "labels": {"app.kubernetes.io/part-of": "delivery"}},
        "spec": {"acme": acme},
    }
