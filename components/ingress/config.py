"""Config model of the ingress add-ons (``delivery:ingress``): ingress-nginx and cert-manager
from pinned charts and the ACME ClusterIssuers. Which issuer each environment may use is a
cross-field rule in ``StackConfig``."""

from __future__ import annotations

from typing import Annotated, Literal, get_args

from pydantic import Field

from components.config.base import ChartVersion, DnsLabel, Environment, Model
from components.contracts.ingress import LETSENCRYPT_PROD, LETSENCRYPT_STAGING, ClusterIssuerName
from components.kubernetes.config import ChartDigest, PinnedChartImage

# The images the two charts deploy with this program's values, by config key (ingress-nginx's
# default backend and cert-manager's startup API check are off; tests/kubernetes/test_chart_images.py holds
# the cert-manager list to its chart's values.yaml).
IngressImage = Literal[
    "nginxController",
    "nginxWebhookPatch",
    "certManagerController",
    "certManagerWebhook",
    "certManagerCainjector",
    "certManagerAcmesolver",
]
INGRESS_IMAGES: tuple[IngressImage, ...] = get_args(IngressImage)
# cert-manager's release sets the chart's version to the git tag, `v` included (make/manifests.mk),
# so a plain ChartVersion would refuse every real one (https://artifacthub.io/packages/helm/cert-manager/cert-manager).
CertManagerChartVersion = Annotated[str, Field(pattern=r"^v\d+\.\d+\.\d+$")]
NGINX_IMAGES: tuple[IngressImage, ...] = ("nginxController", "nginxWebhookPatch")


class IngressConfig(Model):
    enabled: bool = Field(
        default=True,
        description=(
            "Install ingress-nginx and cert-manager with the ACME ClusterIssuers; the services' "
            "charts then serve `ingress.host` over TLS."
        ),
    )
    install_nginx: bool = Field(
        default=True,
        description=(
            "Install ingress-nginx. `false`: the cluster already runs a controller for the `nginx` "
            "IngressClass (an existing cluster that brought its own), and only cert-manager with the "
            "ClusterIssuers is installed. Only with `cluster.source: kubeconfig`: a cluster this "
            "program creates has no other controller."
        ),
    )
    nginx_chart_version: ChartVersion = Field(
        default="4.14.2", description="Pinned version of the ingress-nginx Helm chart."
    )
    nginx_namespace: DnsLabel = Field(default="ingress-nginx", description="Namespace of ingress-nginx.")
    cert_manager_chart_version: CertManagerChartVersion = Field(
        default="v1.21.2",
        description="Pinned version of the cert-manager Helm chart (its versions are its tags: `v1.21.2`).",
    )
    cert_manager_namespace: DnsLabel = Field(default="cert-manager", description="Namespace of cert-manager.")
    nginx_chart_digest: ChartDigest | None = Field(
        default=None,
        description=(
            "Digest of the ingress-nginx chart at nginxChartVersion in oci://registry.k8s.io/ingress-nginx/charts "
            "(`oras resolve registry.k8s.io/ingress-nginx/charts/ingress-nginx:<nginxChartVersion>`). "
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
            "The charts' images by tag and digest: nginxController, nginxWebhookPatch "
            "(kube-webhook-certgen), certManagerController, certManagerWebhook, certManagerCainjector, "
            "certManagerAcmesolver. Unset: the charts' tags. Required in staging and production."
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
        """The images the installed charts deploy: cert-manager's, and ingress-nginx's when installed."""
        if not self.enabled:
            return ()
        return tuple(i for i in INGRESS_IMAGES if self.install_nginx or i not in NGINX_IMAGES)
