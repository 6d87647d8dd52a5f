"""Config model of the ingress add-ons (``delivery:ingress``): Traefik (serving the `nginx`
IngressClass through its Kubernetes Ingress NGINX provider) and cert-manager from pinned charts,
and the ACME ClusterIssuers. Which issuer each environment may use is a cross-field rule in
``StackConfig``."""

from __future__ import annotations

from typing import Annotated, ClassVar, Literal, get_args

from pydantic import Field

from components.config.base import ChartVersion, DnsLabel, Environment, Model
from components.contracts.ingress import LETSENCRYPT_PROD, LETSENCRYPT_STAGING, ClusterIssuerName
from components.kubernetes.config import ChartDigest, PinnedChartImage

# The images the two charts deploy with this program's values, by config key (cert-manager's
# startup API check is off; tests/kubernetes/test_chart_images.py holds both lists to the
# charts' values.yaml).
IngressImage = Literal[
    "traefik",
    "certManagerController",
    "certManagerWebhook",
    "certManagerCainjector",
    "certManagerAcmesolver",
]
INGRESS_IMAGES: tuple[IngressImage, ...] = get_args(IngressImage)
# cert-manager's release sets the chart's version to the git tag, `v` included (make/manifests.mk),
# so a plain ChartVersion would refuse every real one (https://artifacthub.io/packages/helm/cert-manager/cert-manager).
CertManagerChartVersion = Annotated[str, Field(pattern=r"^v\d+\.\d+\.\d+$")]
CONTROLLER_IMAGES: tuple[IngressImage, ...] = ("traefik",)

# ingress-nginx was retired in March 2026 (no releases or security patches since:
# https://kubernetes.io/blog/2025/11/11/ingress-nginx-retirement/); Traefik took its place. A
# stack file still setting its keys is refused with the key that replaced each (None: no
# successor), not with a bare "unknown key" (components/config/errors.py reads this map).
_RETIRED = "ingress-nginx is retired, without security patches since March 2026, and Traefik replaced it"
RENAMED_KEYS: dict[str, tuple[str | None, str]] = {
    "nginxChartVersion": (
        "traefikChartVersion",
        f"{_RETIRED}; the value is a traefik chart version, e.g. 41.3.0",
    ),
    "nginxChartDigest": (
        "traefikChartDigest",
        f"{_RETIRED}; the value is the digest of oci://ghcr.io/traefik/helm/traefik at traefikChartVersion",
    ),
    "nginxNamespace": ("traefikNamespace", _RETIRED),
    "images.nginxController": (
        "images.traefik",
        f"{_RETIRED}; the value is a traefik image, e.g. docker.io/traefik:v3.7.11@sha256:…",
    ),
    "images.nginxWebhookPatch": (
        None,
        f"{_RETIRED}; Traefik's chart runs no admission webhook, so the key has no successor: remove it",
    ),
}


class IngressConfig(Model):
    renamed_keys: ClassVar[dict[str, tuple[str | None, str]]] = RENAMED_KEYS

    enabled: bool = Field(
        default=True,
        description=(
            "Install Traefik (serving the `nginx` IngressClass) and cert-manager with the ACME "
            "ClusterIssuers; the services' charts then serve `ingress.host` over TLS."
        ),
    )
    install_controller: bool = Field(
        default=True,
        description=(
            "Install Traefik. `false`: the cluster already runs a controller for the `nginx` "
            "IngressClass (an existing cluster that brought its own), and only cert-manager with the "
            "ClusterIssuers is installed. Only with `cluster.source: kubeconfig`: a cluster this "
            "program creates has no other controller."
        ),
    )
    traefik_chart_version: ChartVersion = Field(
        default="41.3.0", description="Pinned version of the traefik Helm chart (Traefik v3.7.11)."
    )
    traefik_namespace: DnsLabel = Field(default="traefik", description="Namespace of Traefik.")
    cert_manager_chart_version: CertManagerChartVersion = Field(
        default="v1.21.2",
        description="Pinned version of the cert-manager Helm chart (its versions are its tags: `v1.21.2`).",
    )
    cert_manager_namespace: DnsLabel = Field(default="cert-manager", description="Namespace of cert-manager.")
    traefik_chart_digest: ChartDigest | None = Field(
        default=None,
        description=(
            "Digest of the traefik chart at traefikChartVersion in oci://ghcr.io/traefik/helm "
            "(`oras resolve ghcr.io/traefik/helm/traefik:<traefikChartVersion>`). "
            "Unset: by version. Required in staging and production."
        ),
    )
    cert_manager_chart_digest: ChartDigest | None = Field(
        default=None,
        description=(
            "Digest of the cert-manager chart at certManagerChartVersion in oci://quay.io/jetstack/charts "
            "(`oras resolve quay.io/jetstack/charts/cert-manager:<certManagerChartVersion>`). "
            "Unset: by version. Required in staging and production."
        ),
    )
    images: dict[IngressImage, PinnedChartImage] = Field(
        default_factory=dict,
        description=(
            "The charts' images by tag and digest: traefik, certManagerController, certManagerWebhook, "
            "certManagerCainjector, certManagerAcmesolver. Unset: the charts' tags. Required in staging "
            "and production."
        ),
    )
    acme_email: str | None = Field(
        default=None,
        pattern=r"^[^@\s]+@[^@\s]+\.[a-z]{2,}$",
        description="Contact address of the ACME account the ClusterIssuers register with Let's Encrypt (optional).",
    )
    cluster_issuer: ClusterIssuerName | None = Field(
        default=None,
        description=(
            "The ClusterIssuer the services' Ingresses ask for certificates. Production must use "
            "`letsencrypt-prod` and declares no other; elsewhere both issuers exist and "
            "`letsencrypt-staging` (untrusted certificates) spares Let's Encrypt's rate limits."
        ),
        json_schema_extra={"defaultText": "letsencrypt-staging in development, else letsencrypt-prod"},
    )

    def issuer_for(self, environment: Environment) -> str:
        """The ClusterIssuer this environment's Ingresses use."""
        if self.cluster_issuer is not None:
            return self.cluster_issuer
        return LETSENCRYPT_STAGING if environment == "development" else LETSENCRYPT_PROD

    def issuers_for(self, environment: Environment) -> tuple[str, ...]:
        """The ClusterIssuers declared on the environment's cluster: production only Let's
        Encrypt's production CA, other clusters its staging CA too."""
        if environment == "production":
            return (LETSENCRYPT_PROD,)
        return (LETSENCRYPT_PROD, LETSENCRYPT_STAGING)

    def deployed_images(self) -> tuple[IngressImage, ...]:
        """The images the installed charts deploy: cert-manager's, and Traefik's when installed."""
        if not self.enabled:
            return ()
        return tuple(i for i in INGRESS_IMAGES if self.install_controller or i not in CONTROLLER_IMAGES)
