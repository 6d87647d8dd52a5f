"""Values of the Traefik and cert-manager charts and the ACME ClusterIssuers (pure)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from components.contracts.ingress import ACME_SERVERS, INGRESS_CLASS
from components.ingress.config import IngressImage
from components.kubernetes.helm import image_ref

# Both charts are published as OCI artifacts and installed by digest there
# (components/kubernetes/helm.py): cert-manager at quay.io/jetstack/charts (cert-manager/website#1779),
# Traefik at ghcr.io/traefik/helm (https://github.com/traefik/traefik-helm-chart, README "OCI").
JETSTACK_HELM_REPOSITORY = "oci://quay.io/jetstack/charts"
TRAEFIK_HELM_REPOSITORY = "oci://ghcr.io/traefik/helm"

# The controller value of ingress-nginx's IngressClass: Traefik's Kubernetes Ingress NGINX
# provider picks up every IngressClass whose spec.controller is its `controllerClass` (default
# this value) and every Ingress naming one of them; it serves nothing without such a class
# (https://doc.traefik.io/traefik/reference/install-configuration/providers/kubernetes/kubernetes-ingress-nginx/,
# "IngressClass Selection Logic").
NGINX_CONTROLLER_CLASS = "k8s.io/ingress-nginx"
# What ingress-nginx sent by default (its ConfigMap's hsts, hsts-max-age, hsts-include-subdomains):
# HTTPS responses keep telling browsers to use HTTPS only.
HSTS_MIDDLEWARE = "hsts"
HSTS_MAX_AGE_SECONDS = 31536000


def nginx_ingress_class() -> dict[str, Any]:
    """The `nginx` IngressClass with ingress-nginx's controller value, which Traefik's provider
    serves. Not the cluster default: an Ingress names its class."""
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "IngressClass",
        "metadata": {
            "name": INGRESS_CLASS,
            "annotations": {"ingressclass.kubernetes.io/is-default-class": "false"},
            "labels": {"app.kubernetes.io/part-of": "traefik"},
        },
        "spec": {"controller": NGINX_CONTROLLER_CLASS},
    }


def _cert_manager_image(reference: str | None) -> dict[str, str]:
    """cert-manager's image map: the full `repository`, `tag` and `digest` (its values.yaml)."""
    if reference is None:
        return {}
    ref = image_ref(reference)
    return {"repository": f"{ref.registry}/{ref.repository}", "tag": ref.tag, "digest": ref.digest or ""}


def traefik_values(
    high_availability: bool,
    monitor_labels: Mapping[str, str],
    images: Mapping[IngressImage, str] | None = None,
) -> dict[str, Any]:
    """Traefik v3 serving the `nginx` IngressClass through its Kubernetes Ingress NGINX provider
    alone, so the services' Ingresses (class `nginx`, ingress-nginx annotations) work unchanged:
    the provider translates `nginx.ingress.kubernetes.io/ssl-redirect` and `rewrite-target`
    (https://doc.traefik.io/traefik/reference/routing-configuration/kubernetes/ingress-nginx/,
    "SSL/TLS" and "Routing"). Option names and defaults: the chart's values.yaml
    (components/schemas/charts/traefik/)."""
    images = images or {}
    replicas = 2 if high_availability else 1
    values: dict[str, Any] = {
        "deployment": {"replicas": replicas},
        # A budget over one replica would block every node drain; over two it keeps one serving.
        "podDisruptionBudget": {"enabled": True, "minAvailable": 1}
        if high_availability
        else {"enabled": False},
        # The chart's own IngressClass (`traefik`, the cluster default) belongs to the plain
        # kubernetesIngress provider, which is off: the `nginx` class below is the only one.
        "ingressClass": {"enabled": False},
        "providers": {
            # One provider for Ingresses: the plain Ingress provider would build a second router
            # for each (the provider page's "Ingress Discovery"); IngressRoute CRDs are unused.
            "kubernetesCRD": {"enabled": False},
            "kubernetesIngress": {"enabled": False},
            "kubernetesIngressNGINX": {
                "enabled": True,
                "ingressClass": INGRESS_CLASS,
                "controllerClass": NGINX_CONTROLLER_CLASS,
                "ingressClassByName": False,
                "watchIngressWithoutClass": False,
                # Snippets would let any Ingress author inject configuration into the
                # controller every namespace shares (as ingress-nginx's allowSnippetAnnotations).
                "allowSnippetAnnotations": False,
                "allowCrossNamespaceResources": False,
                # The Service's load-balancer address on each Ingress's status, as ingress-nginx did.
                "publishService": {"enabled": True},
            },
            # Routing configuration from the chart's ConfigMap: only the HSTS middleware the HTTPS
            # entry point applies (no Middleware CRDs: the kubernetesCRD provider is off).
            "file": {
                "enabled": True,
                "content": {
                    "http": {
                        "middlewares": {
                            HSTS_MIDDLEWARE: {
                                # https://doc.traefik.io/traefik/reference/routing-configuration/http/middlewares/headers/
                                "headers": {"stsSeconds": HSTS_MAX_AGE_SECONDS, "stsIncludeSubdomains": True}
                            }
                        }
                    }
                },
            },
        },
        # No dashboard and no insecure API: nothing of Traefik's own API is served.
        "api": {"dashboard": False, "insecure": False, "debug": False},
        "ingressRoute": {"dashboard": {"enabled": False}, "healthcheck": {"enabled": False}},
        # No calls home from the cluster.
        "global": {"checkNewVersion": False, "sendAnonymousUsage": False},
        "ports": {
            "web": {
                # HTTP to HTTPS for every request no Ingress route matches. An entry-point
                # redirection outranks every router by default (priority MaxInt32-1,
                # https://doc.traefik.io/traefik/reference/install-configuration/entrypoints/);
                # at priority 1 cert-manager's HTTP-01 solver Ingress still answers on port 80,
                # while the services' Ingresses redirect by their ssl-redirect annotation.
                "http": {
                    "redirections": {
                        "entryPoint": {"to": "websecure", "scheme": "https", "permanent": True, "priority": 1}
                    }
                },
            },
            "websecure": {"http": {"middlewares": [f"{HSTS_MIDDLEWARE}@file"]}},
        },
        # Local: the client's address reaches the pods (no SNAT through another node).
        "service": {"spec": {"type": "LoadBalancer", "externalTrafficPolicy": "Local"}},
        "metrics": {
            "prometheus": {
                # The LoadBalancer Service does not expose the metrics port; the ServiceMonitor
                # scrapes this ClusterIP one.
                "service": {"enabled": True},
                "serviceMonitor": {"enabled": True, "additionalLabels": dict(monitor_labels)},
            }
        },
        # What the pod policies ask of the services' pods (components/kubernetes/pod_policies.py),
        # set here so a chart upgrade cannot relax it: non-root, read-only root filesystem.
        "securityContext": {
            "allowPrivilegeEscalation": False,
            "capabilities": {"drop": ["ALL"]},
            "readOnlyRootFilesystem": True,
        },
        "podSecurityContext": {
            "runAsNonRoot": True,
            "runAsUser": 65532,
            "runAsGroup": 65532,
            "seccompProfile": {"type": "RuntimeDefault"},
        },
        # Owned by the release: it goes with Traefik.
        "extraObjects": [nginx_ingress_class()],
    }
    if "traefik" in images:
        ref = image_ref(images["traefik"])
        # `<tag>@<digest>` in `tag`: the chart reads Traefik's version from the part before the
        # `@` (values.yaml, image.tag) and the kubelet pulls by the digest.
        values["image"] = {"registry": ref.registry, "repository": ref.repository, "tag": ref.tag_at_digest}
    return values


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
    the `nginx` IngressClass (Traefik). cert-manager's solver pods run non-root with a read-only root
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
